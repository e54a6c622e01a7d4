"""The vote store: SQLAlchemy models and the few transactions the app needs.

Guarantees (tested against SQLite and PostgreSQL, threads and processes):

* one vote per (study, rater, trial), enforced by a unique constraint; a resubmitted vote is an
  ``INSERT ... ON CONFLICT DO NOTHING`` that stores nothing and reports ``stored=False``;
* every vote is committed before :meth:`VoteStore.submit` returns (the app shows the next trial
  only afterwards), so a refresh or a server restart resumes at the first trial missing from
  :meth:`VoteStore.answered`;
* a rater's trial plan and seed are stored at enrolment: exports and replays need only the DB.

SQLite runs in WAL mode with a 30 s busy timeout; write transactions start with
``BEGIN IMMEDIATE`` so concurrent writers queue instead of failing with "database is locked".
PostgreSQL URLs (``postgresql://`` or ``postgres://``) are driven by psycopg 3.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Float,
    Integer,
    String,
    Text,
    UniqueConstraint,
    create_engine,
    event,
    func,
    select,
    update,
)
from sqlalchemy.dialects import postgresql as pg_dialect
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from evalkit.errors import StudyError
from study_app.design import PlannedTrial, format_crop, golden_failed, parse_crop, resolve_choice


class Base(DeclarativeBase):
    pass


class StudyRow(Base):
    __tablename__ = "studies"
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    seed: Mapped[int] = mapped_column(BigInteger)
    definition: Mapped[str] = mapped_column(Text)          # the study file's content (JSON)
    provenance: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class RaterRow(Base):
    __tablename__ = "raters"
    __table_args__ = (UniqueConstraint("study", "rater"), UniqueConstraint("study", "slot"))
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    study: Mapped[str] = mapped_column(String(64))
    rater: Mapped[str] = mapped_column(String(128))
    slot: Mapped[int] = mapped_column(Integer)             # arrival order: picks the plan window
    seed: Mapped[int] = mapped_column(BigInteger)          # seed of this rater's plan
    source: Mapped[str] = mapped_column(String(16))        # prolific | entered | generated
    platform_study: Mapped[str] = mapped_column(String(128), default="")   # STUDY_ID
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class TrialRow(Base):
    __tablename__ = "trials"
    __table_args__ = (UniqueConstraint("study", "rater", "idx"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    study: Mapped[str] = mapped_column(String(64))
    rater: Mapped[str] = mapped_column(String(128))
    idx: Mapped[int] = mapped_column(Integer)
    image: Mapped[str] = mapped_column(String(256))
    crop: Mapped[str] = mapped_column(String(64))          # "x,y,w,h" or ""
    method_a: Mapped[str] = mapped_column(String(256))
    method_b: Mapped[str] = mapped_column(String(256))
    a_left: Mapped[bool] = mapped_column(Boolean)
    is_golden: Mapped[bool] = mapped_column(Boolean)


class VoteRow(Base):
    __tablename__ = "votes"
    __table_args__ = (UniqueConstraint("study", "rater", "trial", name="one_vote_per_trial"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    study: Mapped[str] = mapped_column(String(64))
    rater: Mapped[str] = mapped_column(String(128))
    trial: Mapped[int] = mapped_column(Integer)
    session: Mapped[str] = mapped_column(String(128))
    side: Mapped[str] = mapped_column(String(8))           # left | right | tie
    choice: Mapped[str] = mapped_column(String(256))       # chosen method or "tie"
    golden_failed: Mapped[bool] = mapped_column(Boolean)
    shown_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    answered_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    duration_s: Mapped[float] = mapped_column(Float)


@dataclass(frozen=True)
class RaterRecord:
    study: str
    rater: str
    slot: int
    seed: int
    source: str
    completed: bool


@dataclass(frozen=True)
class SubmitResult:
    """``stored`` is False when this (rater, trial) already had a vote (nothing changed)."""

    stored: bool
    choice: str


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def as_utc(value: datetime) -> datetime:
    """SQLite returns naive datetimes: they were written as UTC."""
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


def normalize_url(url: str | Path) -> str:
    """``postgresql://``/``postgres://`` -> psycopg 3 driver; a bare path -> SQLite file."""
    url = str(url)
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    if url.startswith(("postgresql+", "sqlite:///")):
        return url
    if "://" in url or url.startswith("sqlite:"):
        raise StudyError(f"database URL must be sqlite:///FILE, postgresql://... or a file path, got {url!r}")
    return "sqlite:///" + str(Path(url).resolve())


def make_engine(url: str | Path, *, pool_size: int = 10) -> Engine:
    url = normalize_url(url)
    if url.startswith("sqlite"):
        if url in ("sqlite://", "sqlite:///:memory:"):
            raise StudyError("database must be a file for SQLite (several processes share it), got :memory:")
        Path(url[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
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
                         pool_timeout=60)


class VoteStore:
    """All reads and writes of the study database. Safe to share between threads."""

    def __init__(self, url: str | Path, *, pool_size: int = 10):
        self.url = normalize_url(url)
        self.engine = make_engine(self.url, pool_size=pool_size)
        self._write_lock = (threading.Lock() if self.engine.dialect.name == "sqlite"
                            else nullcontext())
        self._insert = (sqlite_dialect.insert if self.engine.dialect.name == "sqlite"
                        else pg_dialect.insert)

    # ---- plumbing --------------------------------------------------------------------------
    @contextmanager
    def _write(self):
        # SQLite: queue this process's writers on a lock. SQLite's own busy handler polls with
        # growing sleeps, which starves unlucky writers (seconds of p99 with 50 raters);
        # the lock keeps waits short and fair. Other processes still queue via busy_timeout.
        with self._write_lock:
            with self.engine.connect().execution_options(immediate=True) as conn, conn.begin():
                yield conn

    @contextmanager
    def _read(self):
        with self.engine.connect() as conn, conn.begin():
            yield conn

    # public transaction API for modules with their own tables (study_app.adaptive_store)
    write = _write
    read = _read

    def create_schema(self) -> None:
        """Create missing tables (several processes may call this at once)."""
        for attempt in range(5):
            try:
                with self._write() as conn:
                    Base.metadata.create_all(conn)
                return
            except (IntegrityError, OperationalError):   # a concurrent CREATE won the race
                if attempt == 4:
                    raise
                time.sleep(0.2 * (attempt + 1))

    def dispose(self) -> None:
        self.engine.dispose()

    # ---- studies ---------------------------------------------------------------------------
    def register_study(self, name: str, seed: int, definition: dict, provenance: dict) -> None:
        """Record the study once; refuse a different seed for a study already holding data."""
        stmt = self._insert(StudyRow).values(
            name=name, seed=seed, definition=json.dumps(definition, sort_keys=True, default=str),
            provenance=json.dumps(provenance, sort_keys=True, default=str), created_at=utcnow())
        with self._write() as conn:
            conn.execute(stmt.on_conflict_do_nothing(index_elements=["name"]))
            stored = conn.execute(select(StudyRow.seed).where(StudyRow.name == name)).scalar_one()
        if stored != seed:
            raise StudyError(f"study.seed must stay {stored} for study {name!r} (the database "
                             f"already holds its plans), got {seed}; rename the study to start anew")

    # ---- raters ----------------------------------------------------------------------------
    def get_rater(self, study: str, rater: str) -> RaterRecord | None:
        with self._read() as conn:
            row = conn.execute(select(RaterRow).where(RaterRow.study == study,
                                                      RaterRow.rater == rater)).first()
        if row is None:
            return None
        return RaterRecord(row.study, row.rater, row.slot, row.seed, row.source,
                           row.completed_at is not None)

    def enroll(self, study: str, rater: str, planner: Callable[[int], tuple[int, list[PlannedTrial]]],
               *, source: str = "generated", platform_study: str = "") -> RaterRecord:
        """Return the rater's record, creating it (next free slot, plan from ``planner(slot)``)
        on first sight. Concurrent enrolments retry on a slot clash."""
        if not rater or len(rater) > 128:
            raise StudyError(f"rater id must be 1-128 characters, got {rater!r}")
        for _ in range(50):
            existing = self.get_rater(study, rater)
            if existing is not None:
                return existing
            try:
                with self._write() as conn:
                    slot = conn.execute(select(func.coalesce(func.max(RaterRow.slot) + 1, 0))
                                        .where(RaterRow.study == study)).scalar_one()
                    seed, trials = planner(int(slot))
                    conn.execute(self._insert(RaterRow).values(
                        study=study, rater=rater, slot=slot, seed=seed, source=source,
                        platform_study=platform_study, created_at=utcnow()))
                    conn.execute(self._insert(TrialRow), [
                        dict(study=study, rater=rater, idx=t.index, image=t.image,
                             crop=format_crop(t.crop), method_a=t.method_a, method_b=t.method_b,
                             a_left=t.a_left, is_golden=t.is_golden) for t in trials])
            except IntegrityError:
                time.sleep(0.01)
                continue
            return RaterRecord(study, rater, int(slot), seed, source, False)
        raise StudyError(f"could not enrol rater {rater!r}: too many concurrent enrolments")

    def trials(self, study: str, rater: str) -> list[PlannedTrial]:
        with self._read() as conn:
            rows = conn.execute(select(TrialRow).where(TrialRow.study == study, TrialRow.rater == rater)
                                .order_by(TrialRow.idx)).all()
        return [PlannedTrial(r.idx, r.image, parse_crop(r.crop), r.method_a, r.method_b,
                             bool(r.a_left), bool(r.is_golden)) for r in rows]

    def answered(self, study: str, rater: str) -> set[int]:
        with self._read() as conn:
            return set(conn.execute(select(VoteRow.trial).where(VoteRow.study == study,
                                                                VoteRow.rater == rater)).scalars())

    def next_trial(self, study: str, rater: str, n_trials: int) -> int | None:
        """Index of the first unanswered trial, or None when all ``n_trials`` are answered."""
        done = self.answered(study, rater)
        return next((i for i in range(n_trials) if i not in done), None)

    def mark_completed(self, study: str, rater: str) -> None:
        with self._write() as conn:
            conn.execute(update(RaterRow).where(RaterRow.study == study, RaterRow.rater == rater,
                                                RaterRow.completed_at.is_(None))
                         .values(completed_at=utcnow()))

    # ---- votes -----------------------------------------------------------------------------
    def submit(self, study: str, rater: str, trial: int, side: str, *, session: str = "",
               shown_at: datetime | None = None, answered_at: datetime | None = None) -> SubmitResult:
        """Store one answer (``left``/``right``/``tie``) and commit; idempotent per (rater, trial).

        Raises:
            StudyError: unknown trial or choice.
        """
        answered_at = answered_at or utcnow()
        shown_at = shown_at or answered_at
        with self._write() as conn:
            row = conn.execute(select(TrialRow).where(TrialRow.study == study, TrialRow.rater == rater,
                                                      TrialRow.idx == trial)).first()
            if row is None:
                raise StudyError(f"trial must be one of rater {rater!r}'s planned trials, got {trial}")
            planned = PlannedTrial(row.idx, row.image, parse_crop(row.crop), row.method_a,
                                   row.method_b, bool(row.a_left), bool(row.is_golden))
            choice = resolve_choice(planned, side)
            res = conn.execute(self._insert(VoteRow).values(
                study=study, rater=rater, trial=trial, session=session[:128], side=side,
                choice=choice, golden_failed=golden_failed(planned, choice), shown_at=shown_at,
                answered_at=answered_at,
                duration_s=max(0.0, (answered_at - shown_at).total_seconds()),
            ).on_conflict_do_nothing(index_elements=["study", "rater", "trial"]).returning(VoteRow.id))
            stored = res.first() is not None   # rowcount is unreliable across drivers
            if not stored:
                choice = conn.execute(select(VoteRow.choice).where(
                    VoteRow.study == study, VoteRow.rater == rater, VoteRow.trial == trial)).scalar_one()
        return SubmitResult(stored, choice)

    def count_votes(self, study: str | None = None) -> int:
        stmt = select(func.count()).select_from(VoteRow)
        if study is not None:
            stmt = stmt.where(VoteRow.study == study)
        with self._read() as conn:
            return int(conn.execute(stmt).scalar_one())

    # ---- tables for export / experimenter --------------------------------------------------
    def frame(self, table: str, study: str | None = None):
        """A whole table (``studies``, ``raters``, ``trials``, ``votes``) as a DataFrame."""
        import pandas as pd

        model = {"studies": StudyRow, "raters": RaterRow, "trials": TrialRow, "votes": VoteRow}.get(table)
        if model is None:
            raise StudyError(f"table must be studies, raters, trials or votes, got {table!r}")
        stmt = select(model.__table__)
        if study is not None:
            col = model.__table__.c.name if model is StudyRow else model.__table__.c.study
            stmt = stmt.where(col == study)
        with self._read() as conn:
            result = conn.execute(stmt)
            return pd.DataFrame(result.all(), columns=list(result.keys()))
