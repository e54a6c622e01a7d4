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
changed file (new content) is always recomputed.  Every file is hashed again on every run
(:func:`content_hashes`): a memo keyed on path, size and mtime would hand back a stale value for
a file whose pixels changed while ``cp -p`` or ``rsync -t`` kept its size and mtime.  SHA-256
(rather than a faster non-cryptographic hash such as xxh3) because the inputs may be hostile: a
reconstruction crafted to collide with another file's hash must not inherit its cached scores.
``bench/evaluate.py`` measures the cost: ~26 ms for Kodak-24's 72 files of a warm run (18 MB),
barely more than reading them (22 ms; xxh3-128: 21 ms).

Faults (all :class:`~evalkit.errors.CacheError`, one line naming the file, except the first):
  * a file that is not an SQLite database, or a damaged one, found when the cache is opened: it is
    moved aside to ``<name>.corrupt-<UTC time>`` with a :class:`CacheWarning` and a new cache is
    built (values are recomputed, nothing is lost that the cache could still give);
  * a folder that cannot be created or written, a read-only database: refused when the cache is
    opened, i.e. *before* anything is computed (use ``--cache PATH`` or ``--no-cache``);
  * a full disk or damage found later, while the run is going.

Default location: ``$EVALKIT_CACHE_DIR/evaluate.sqlite`` (default ``~/.cache/evalkit``).  Keys
are content-based, so one cache is safely shared by every project on the machine.
"""

from __future__ import annotations

import errno
import functools
import hashlib
import math
import os
import sqlite3
import warnings
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterable

from evalkit.cache_paths import cache_dir
from evalkit.errors import CacheError

SCHEMA_VERSION = "1"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
DROP TABLE IF EXISTS file_hash;
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
    return cache_dir("evaluate.sqlite")


class CacheWarning(UserWarning):
    """The cache file was damaged and has been moved aside (a new one is built)."""


def content_hashes(paths: Iterable[Path], workers: int = 0) -> dict[Path, str]:
    """``{path: sha256 of its bytes}``, read in ``workers`` threads (0: in this thread).

    Raises:
        CacheError: a file cannot be read (named).
    """
    from evalkit.provenance import file_sha256

    def one(p: Path) -> str:
        try:
            return file_sha256(p)
        except OSError as exc:
            raise CacheError(f"{p}: cannot read it to hash its content ({exc.strerror or exc})") from None

    paths = list(paths)
    if workers > 0 and len(paths) > 1:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            return dict(zip(paths, pool.map(one, paths)))
    return {p: one(p) for p in paths}


def _is_corrupt(exc: sqlite3.DatabaseError) -> bool:
    """Damage (not a database, malformed image), as opposed to a busy/locked/read-only cache."""
    return not isinstance(exc, sqlite3.OperationalError) or "malformed" in str(exc)


def _fault(path: Path, exc: Exception) -> CacheError:
    """One-line :class:`CacheError` for an SQLite or OS error on the cache at ``path``."""
    text = str(exc).lower()
    err = getattr(exc, "errno", None)
    fix = "choose another file with --cache PATH, or run with --no-cache"
    if err in (errno.ENOSPC, errno.EDQUOT) or "disk is full" in text:
        return CacheError(f"{path}: no space left for the evaluation cache; free some space, "
                          f"or {fix}")
    if err in (errno.EACCES, errno.EPERM, errno.EROFS) or "readonly" in text \
            or "unable to open" in text or "read-only" in text:
        return CacheError(f"{path}: the evaluation cache cannot be written ({exc}); {fix}")
    if "locked" in text or "busy" in text:
        return CacheError(f"{path}: the evaluation cache is locked by another process for too "
                          f"long; wait for it to finish, or {fix}")
    if isinstance(exc, sqlite3.DatabaseError) and _is_corrupt(exc):
        return CacheError(f"{path}: the evaluation cache is damaged ({exc}); delete it "
                          f"(rm '{path}'; values are recomputed), or {fix}")
    return CacheError(f"{path}: evaluation cache error ({exc}); {fix}")


def _guarded(method):
    """Turn SQLite/OS faults of a cache method into a :class:`CacheError` naming the file."""
    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except (sqlite3.DatabaseError, OSError) as exc:
            raise _fault(self.path, exc) from None
    return wrapper


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
        if self.path.is_dir():
            raise CacheError(f"{self.path}: is a folder; --cache takes the database file, e.g. "
                             f"{self.path / 'evaluate.sqlite'}")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise CacheError(f"{self.path.parent}: cannot create the cache folder "
                             f"({exc.strerror or exc}); choose another file with --cache PATH, "
                             "or run with --no-cache") from None
        try:
            self._open()
        except sqlite3.DatabaseError as exc:
            if not _is_corrupt(exc):
                raise _fault(self.path, exc) from None
            self._move_aside(exc)
            try:
                self._open()
            except (sqlite3.DatabaseError, OSError) as exc2:
                raise _fault(self.path, exc2) from None
        except OSError as exc:
            raise _fault(self.path, exc) from None

    def _open(self) -> None:
        self._db = sqlite3.connect(self.path, timeout=60.0, isolation_level=None)
        try:
            self._db.execute("PRAGMA journal_mode=WAL")
            # NORMAL in WAL mode: a committed row survives a crash of this process (not
            # necessarily a power cut), which is what resuming a killed run needs.
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
            # A real write now, so a cache that cannot be written fails before any work.
            with self._db:
                self._db.execute("BEGIN IMMEDIATE")
                self._db.execute("INSERT OR IGNORE INTO meta VALUES ('schema', ?)",
                                 (SCHEMA_VERSION,))
                self._db.execute("INSERT OR REPLACE INTO meta VALUES ('opened', ?)",
                                 (datetime.now(timezone.utc).isoformat(timespec="seconds"),))
        except BaseException:
            self._db.close()
            raise

    def _move_aside(self, exc: Exception) -> None:
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        aside = self.path.with_name(f"{self.path.name}.corrupt-{stamp}")
        try:
            os.replace(self.path, aside)
            for extra in ("-wal", "-shm"):  # SQLite's side files belong to the damaged database
                side = self.path.with_name(self.path.name + extra)
                if side.exists():
                    os.replace(side, aside.with_name(aside.name + extra))
        except OSError as exc2:
            raise CacheError(f"{self.path}: the evaluation cache is damaged ({exc}) and cannot be "
                             f"moved aside ({exc2.strerror or exc2}); delete it (rm "
                             f"'{self.path}'), or run with --no-cache") from None
        warnings.warn(f"{self.path}: the evaluation cache was damaged ({exc}); moved it to "
                      f"{aside.name} and started a new one (values are recomputed)",
                      CacheWarning, stacklevel=3)

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> "ResultCache":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # image sizes -----------------------------------------------------------------------
    @_guarded
    def image_size(self, sha: str) -> tuple[int, int] | None:
        row = self._db.execute("SELECT width, height FROM image_size WHERE sha256=?",
                               (sha,)).fetchone()
        return (int(row[0]), int(row[1])) if row else None

    # pair values -----------------------------------------------------------------------
    @_guarded
    def get_pair(self, ref: str, dist: str, metric: str, version: str,
                 weights: str) -> float | None:
        """Cached value, or None when absent (a stored NaN comes back as ``nan``)."""
        row = self._db.execute(
            "SELECT value FROM pair_value WHERE ref=? AND dist=? AND metric=? AND version=? "
            "AND weights=?", (ref, dist, metric, version, weights)).fetchone()
        return None if row is None else _from_db(row[0])

    @_guarded
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
    @_guarded
    def get_set(self, key: str) -> float | None:
        row = self._db.execute("SELECT value FROM set_value WHERE key=?", (key,)).fetchone()
        return None if row is None else _from_db(row[0])

    @_guarded
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
