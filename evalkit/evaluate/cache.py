"""The evaluation cache: metric values keyed by file *content*, committed one row at a time.

Storage is one SQLite database in WAL mode.  Every finished ``(codec, setting, image)`` row is
committed in its own transaction, so a run that is killed (Ctrl-C, ``kill -9``, out of memory)
loses at most the rows in flight and the next run resumes from there.  SQLite was chosen over an
append-only text file because it gives atomic commits, concurrent readers and indexed look-ups
without hand-written recovery code.

Keys
  * pair metrics: ``(sha256 of reference, sha256 of reconstruction, metric, metric version,
    weight hashes)``;
  * set metrics (FID/KID): sha256 over the ordered list of ``ref_sha:dist_sha`` of every pair of
    the setting, plus metric, version and weight hashes.

File names never enter a key, so renaming or moving runs keeps their cached values, and a
changed file (new content) is always recomputed.  File hashes themselves are memoised per
``(absolute path, size, mtime_ns)`` so warm runs do not re-read every image.

Default location: ``$EVALKIT_CACHE_DIR/evaluate.sqlite`` (default ``~/.cache/evalkit``).  Keys
are content-based, so one cache is safely shared by every project on the machine.
"""

from __future__ import annotations

import hashlib
import math
import os
import sqlite3
from pathlib import Path
from typing import Iterable

CACHE_DIR_ENV = "EVALKIT_CACHE_DIR"
SCHEMA_VERSION = "1"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS file_hash (
    path TEXT NOT NULL, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL, sha256 TEXT NOT NULL,
    PRIMARY KEY (path, size, mtime_ns));
CREATE TABLE IF NOT EXISTS image_size (
    sha256 TEXT PRIMARY KEY, width INTEGER NOT NULL, height INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS pair_value (
    ref TEXT NOT NULL, dist TEXT NOT NULL, metric TEXT NOT NULL, version TEXT NOT NULL,
    weights TEXT NOT NULL, value REAL,
    PRIMARY KEY (ref, dist, metric, version, weights));
CREATE TABLE IF NOT EXISTS set_value (
    key TEXT PRIMARY KEY, metric TEXT NOT NULL, value REAL);
"""


def default_cache_path() -> Path:
    """``$EVALKIT_CACHE_DIR/evaluate.sqlite`` or ``~/.cache/evalkit/evaluate.sqlite``."""
    env = os.environ.get(CACHE_DIR_ENV)
    base = Path(env).expanduser() if env else Path.home() / ".cache" / "evalkit"
    return base / "evaluate.sqlite"


def _to_db(value: float) -> float | None:
    return None if math.isnan(value) else float(value)


def _from_db(value: float | None) -> float:
    return float("nan") if value is None else float(value)


def set_key(pairs: Iterable[tuple[str, str]], metric: str, version: str, weights: str) -> str:
    """Cache key of a set-level metric over ``pairs`` of (ref sha256, dist sha256), in order."""
    h = hashlib.sha256()
    for ref, dist in pairs:
        h.update(f"{ref}:{dist}\n".encode())
    h.update(f"{metric}\0{version}\0{weights}".encode())
    return h.hexdigest()


class ResultCache:
    """Content-keyed store of metric values.  Use from one thread; see the module docstring."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, timeout=60.0, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        # NORMAL in WAL mode: a committed row survives a crash of this process (not
        # necessarily a power cut), which is what resuming a killed run needs.
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        self._db.execute("INSERT OR IGNORE INTO meta VALUES ('schema', ?)", (SCHEMA_VERSION,))

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> "ResultCache":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # file hashes -----------------------------------------------------------------------
    def known_hash(self, path: Path) -> str | None:
        st = path.stat()
        row = self._db.execute(
            "SELECT sha256 FROM file_hash WHERE path=? AND size=? AND mtime_ns=?",
            (str(path.resolve()), st.st_size, st.st_mtime_ns)).fetchone()
        return row[0] if row else None

    def remember_hashes(self, items: Iterable[tuple[Path, str]]) -> None:
        rows = []
        for path, digest in items:
            st = path.stat()
            rows.append((str(path.resolve()), st.st_size, st.st_mtime_ns, digest))
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.executemany("INSERT OR REPLACE INTO file_hash VALUES (?, ?, ?, ?)", rows)

    # image sizes -----------------------------------------------------------------------
    def image_size(self, sha: str) -> tuple[int, int] | None:
        row = self._db.execute("SELECT width, height FROM image_size WHERE sha256=?",
                               (sha,)).fetchone()
        return (int(row[0]), int(row[1])) if row else None

    # pair values -----------------------------------------------------------------------
    def get_pair(self, ref: str, dist: str, metric: str, version: str,
                 weights: str) -> float | None:
        """Cached value, or None when absent (a stored NaN comes back as ``nan``)."""
        row = self._db.execute(
            "SELECT value FROM pair_value WHERE ref=? AND dist=? AND metric=? AND version=? "
            "AND weights=?", (ref, dist, metric, version, weights)).fetchone()
        return None if row is None else _from_db(row[0])

    def put_row(self, ref: str, dist: str, size: tuple[int, int],
                values: dict[str, tuple[float, str, str]]) -> None:
        """Commit one image's values ``{metric: (value, version, weights)}`` in one transaction."""
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute("INSERT OR REPLACE INTO image_size VALUES (?, ?, ?)",
                             (ref, int(size[0]), int(size[1])))
            self._db.executemany(
                "INSERT OR REPLACE INTO pair_value VALUES (?, ?, ?, ?, ?, ?)",
                [(ref, dist, m, ver, w, _to_db(v)) for m, (v, ver, w) in values.items()])

    # set values ------------------------------------------------------------------------
    def get_set(self, key: str) -> float | None:
        row = self._db.execute("SELECT value FROM set_value WHERE key=?", (key,)).fetchone()
        return None if row is None else _from_db(row[0])

    def put_set(self, key: str, metric: str, value: float) -> None:
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute("INSERT OR REPLACE INTO set_value VALUES (?, ?, ?)",
                             (key, metric, _to_db(value)))


class NullCache(ResultCache):
    """A cache that remembers nothing (``--no-cache``)."""

    def __init__(self):  # noqa: D107 - no database
        self.path = None

    def close(self) -> None:
        pass

    def known_hash(self, path: Path) -> str | None:
        return None

    def remember_hashes(self, items) -> None:
        pass

    def image_size(self, sha: str) -> tuple[int, int] | None:
        return None

    def get_pair(self, *args) -> float | None:
        return None

    def put_row(self, *args) -> None:
        pass

    def get_set(self, key: str) -> float | None:
        return None

    def put_set(self, *args) -> None:
        pass
