"""Database URLs and engine setup of the vote store (SQLite file or PostgreSQL via psycopg 3).

SQLite runs in WAL mode with a 30 s busy timeout; write transactions start with ``BEGIN IMMEDIATE``
(execution option ``immediate=True``) so concurrent writers queue instead of failing with
"database is locked".
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine, make_url

from evalkit.errors import StudyError


class StoreUnavailable(StudyError):
    """The database cannot be reached or read right now (server down, disk gone, not a DB)."""


def normalize_url(url: str | Path) -> str:
    """``postgresql://``/``postgres://`` -> psycopg 3 driver; a bare path -> SQLite file."""
    url = str(url)
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    if url.startswith(("postgresql+", "sqlite:///")):
        return url
    if "://" in url or url.startswith("sqlite:"):
        raise StudyError(f"database URL must be sqlite:///FILE, postgresql://... or a file path, "
                         f"got {redact(url)!r}")
    return "sqlite:///" + str(Path(url).resolve())


def redact(url: str) -> str:
    """The URL with any password hidden (for messages and provenance)."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:   # not a URL at all: show it only when no credentials can hide in it
        return url if "@" not in url else "<database URL>"


def sqlite_path(url: str) -> Path | None:
    """The file behind a normalised SQLite URL, None for other databases."""
    return Path(url[len("sqlite:///"):]) if url.startswith("sqlite:///") else None


def make_engine(url: str, *, pool_size: int = 10, create: bool = True) -> Engine:
    """Engine for a normalised URL. ``create=False``: a missing SQLite file is an error (and no
    file or folder is made)."""
    path = sqlite_path(url)
    if url.startswith("sqlite"):
        if path is None or str(path) in ("", ":memory:"):
            raise StudyError("database must be a file for SQLite (several processes share it), got :memory:")
        if create:
            path.parent.mkdir(parents=True, exist_ok=True)
        elif not path.is_file():
            raise StudyError(f"vote database {path} does not exist (check --db)")
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False},
                               pool_size=pool_size, max_overflow=100, pool_timeout=60)

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn, _record):
            dbapi_conn.isolation_level = None   # we issue BEGIN ourselves (below)
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA busy_timeout=30000")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn):
            immediate = conn.get_execution_options().get("immediate", False)
            conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")
        return engine
    return create_engine(url, pool_size=pool_size, max_overflow=100, pool_pre_ping=True,
                         pool_timeout=60, connect_args={"connect_timeout": 10})
