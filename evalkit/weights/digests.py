"""Digests of weight files, computed once per file version and remembered across runs.

Hashing VGG16 (553 MB) takes seconds, so every digest is stored in
``$EVALKIT_CACHE_DIR/weight-digests.json`` (default ``~/.cache/evalkit``) keyed by the file's
resolved path, size, mtime (ns) and inode: a replaced or rewritten file gets a new key and is
hashed again; an unchanged one never is.  The file is rewritten atomically; an unreadable or
corrupt memo is ignored (the digests are recomputed).  Concurrent runs may each add entries;
the last writer wins, which at worst costs a recomputation.
"""

from __future__ import annotations

import json
from pathlib import Path

from evalkit.cache_paths import cache_dir
from evalkit.provenance import atomic_write_text, file_digest

_memo: dict[str, str] = {}
_loaded_from: Path | None = None


def memo_path() -> Path:
    return cache_dir("weight-digests.json")


def _key(path: Path, algorithm: str) -> str:
    st = path.stat()
    return f"{algorithm}:{path.resolve()}:{st.st_size}:{st.st_mtime_ns}:{st.st_ino}"


def _load(store: Path) -> None:
    global _loaded_from
    if _loaded_from == store:
        return
    _memo.clear()
    _loaded_from = store
    try:
        data = json.loads(store.read_text())
    except (OSError, ValueError):
        return
    if isinstance(data, dict):
        _memo.update({k: v for k, v in data.items() if isinstance(k, str) and isinstance(v, str)})


def remembered_digest(path: str | Path, algorithm: str = "sha256") -> str:
    """Hex digest of ``path``, read from the memo when this file version was hashed before."""
    path = Path(path)
    store = memo_path()
    _load(store)
    key = _key(path, algorithm)
    digest = _memo.get(key)
    if digest is None:
        digest = file_digest(path, algorithm)
        _memo[key] = digest
        try:
            store.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_text(store, json.dumps(_memo, indent=1, sort_keys=True) + "\n")
        except OSError:
            pass  # a read-only cache folder only costs the next run a recomputation
    return digest
