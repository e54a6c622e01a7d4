"""The vote store: the few transactions the app needs (tables in :mod:`study_app.store_schema`,
engine setup in :mod:`study_app.store_engine`).

Guarantees (tested against SQLite and PostgreSQL, threads, processes and two app servers):

* one vote per (study, rater, trial), enforced by a unique constraint; a resubmitted vote is an
  ``INSERT ... ON CONFLICT DO NOTHING`` that stores nothing and reports ``stored=False``;
* every vote is committed before :meth:`VoteStore.submit` returns (the app shows the next trial
  only afterwards), so a refresh or a server restart resumes at the first unanswered trial;
* a rater takes a design slot (and gets a stored plan and seed) with the first stored vote, in
  the same transaction; the slot is unique per study, concurrent first votes retry on a clash;
* a rater is enrolled with a resume secret (192 random bits); only its SHA-256 is stored.

Database faults (server down, unreadable file) raise :class:`StoreUnavailable`.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

from sqlalchemy import func, select, update
from sqlalchemy.dialects import postgresql as pg_dialect
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from evalkit.errors import StudyError
from study_app.design import PlannedTrial, format_crop, golden_failed, parse_crop, resolve_choice
from study_app.store_engine import StoreUnavailable, make_engine, normalize_url, redact
from study_app.store_schema import TABLES, Base, RaterRow, StudyRow, TrialRow, VoteRow, utcnow

Planner = Callable[[int], tuple[int, list[PlannedTrial]]]


class RaterExists(StudyError):
    """The rater key is already enrolled (resuming needs its secret)."""


@dataclass(frozen=True)
class RaterRecord:
    study: str
    rater: str
    slot: int | None
    seed: int | None
    source: str
    completed: bool


@dataclass(frozen=True)
class SubmitResult:
    """``stored`` is False when this (rater, trial) already had a vote (nothing changed)."""

    stored: bool
    choice: str


def secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def new_secret() -> str:
    """A resume secret: 192 random bits, URL-safe (matches ``[A-Za-z0-9_-]{32}``)."""
    return secrets.token_urlsafe(24)


def _stimulus(t: PlannedTrial) -> tuple:
    return (t.image, t.crop, t.method_a, t.method_b)


def with_first_trial(plan: list[PlannedTrial], shown: PlannedTrial) -> list[PlannedTrial]:
    """``plan`` reordered so that its trial 0 is ``shown`` (the trial the rater answered before
    owning a slot).  ``shown`` in the plan: swapped to the front (same stimuli, balance intact);
    else it takes the place of the first plan trial of its kind (regular/golden)."""
    if plan and _stimulus(plan[0]) == _stimulus(shown) and plan[0].a_left == shown.a_left:
        return plan
    out = list(plan)
    j = next((i for i, t in enumerate(out) if _stimulus(t) == _stimulus(shown)), None)
    if j is None:
        j = next((i for i, t in enumerate(out) if t.is_golden == shown.is_golden), 0)
    out[j] = out[0]
    out[0] = shown    # (j == 0: same stimulus, the side shown wins)
    return [replace(t, index=i) for i, t in enumerate(out)]


class _Retry(Exception):
    pass


class VoteStore:
    """All reads and writes of the study database. Safe to share between threads."""

    def __init__(self, url: str | Path, *, pool_size: int = 10, create: bool = True):
        self.url = normalize_url(url)
        self.engine = make_engine(self.url, pool_size=pool_size, create=create)
        sqlite = self.engine.dialect.name == "sqlite"
        self._write_lock = threading.Lock() if sqlite else nullcontext()
        self._insert = sqlite_dialect.insert if sqlite else pg_dialect.insert

    # ---- plumbing --------------------------------------------------------------------------
    @contextmanager
    def _faults(self) -> Iterator[None]:
        try:
            yield
        except IntegrityError:
            raise
        except (DBAPIError, PoolTimeout) as exc:
            detail = str(getattr(exc, "orig", exc) or exc).strip().splitlines()
            raise StoreUnavailable(f"vote database {redact(self.url)} cannot be used: "
                                   f"{detail[0] if detail else type(exc).__name__}") from exc

    @contextmanager
    def _write(self):
        # SQLite: queue this process's writers on a lock. SQLite's own busy handler polls with
        # growing sleeps, which starves unlucky writers (seconds of p99 with 50 raters);
        # the lock keeps waits short and fair. Other processes still queue via busy_timeout.
        with self._faults(), self._write_lock:
            with self.engine.connect().execution_options(immediate=True) as conn, conn.begin():
                yield conn

    @contextmanager
    def _read(self):
        with self._faults(), self.engine.connect() as conn, conn.begin():
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
                    self._check_columns(conn)
                return
            except (IntegrityError, StoreUnavailable):   # a concurrent CREATE won the race
                if attempt == 4:
                    raise
                time.sleep(0.2 * (attempt + 1))

    def _check_columns(self, conn) -> None:
        from sqlalchemy import inspect

        have = {c["name"] for c in inspect(conn).get_columns("raters")}
        if "secret_hash" not in have:
            raise StudyError(f"vote database {redact(self.url)} was made by an older evalkit "
                             "(no resume secrets): export it, then serve with a new --db")

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
    @staticmethod
    def _record(row) -> RaterRecord:
        return RaterRecord(row.study, row.rater, row.slot, row.seed, row.source,
                           row.completed_at is not None)

    @staticmethod
    def _rater_row(conn, study: str, rater: str):
        return conn.execute(select(RaterRow).where(RaterRow.study == study,
                                                   RaterRow.rater == rater)).first()

    def _enrolled(self, conn, study: str, rater: str):
        """The rater's row; a rater who never enrolled is a :class:`StudyError`."""
        row = self._rater_row(conn, study, rater)
        if row is None:
            raise StudyError(f"rater must be enrolled in study {study!r}, got {rater!r}")
        return row

    def get_rater(self, study: str, rater: str) -> RaterRecord | None:
        with self._read() as conn:
            row = self._rater_row(conn, study, rater)
        return None if row is None else self._record(row)

    def rater_by_secret(self, study: str, secret: str) -> RaterRecord | None:
        """The rater a resume secret belongs to (None for an unknown secret)."""
        with self._read() as conn:
            row = conn.execute(select(RaterRow).where(
                RaterRow.study == study, RaterRow.secret_hash == secret_hash(secret))).first()
        return None if row is None else self._record(row)

    def enroll(self, study: str, rater: str, *, source: str = "generated",
               platform_study: str = "") -> tuple[RaterRecord, str]:
        """Create the rater (no slot yet) and return it with its new resume secret.

        Raises:
            RaterExists: the key is taken (a second session must resume with the secret).
        """
        if not rater or len(rater) > 80:
            raise StudyError(f"rater key must be 1-80 characters, got {len(rater or '')}")
        secret = new_secret()
        try:
            with self._write() as conn:
                conn.execute(self._insert(RaterRow).values(
                    study=study, rater=rater, secret_hash=secret_hash(secret), source=source,
                    platform_study=platform_study, created_at=utcnow()))
        except IntegrityError:
            raise RaterExists(f"rater {rater!r} is already enrolled in study {study!r}") from None
        return RaterRecord(study, rater, None, None, source, False), secret

    def next_slot(self, study: str) -> int:
        """The slot the next first vote will take (when nobody else takes it first)."""
        with self._read() as conn:
            return int(conn.execute(select(func.coalesce(func.max(RaterRow.slot) + 1, 0))
                                    .where(RaterRow.study == study)).scalar_one())

    def trials(self, study: str, rater: str) -> list[PlannedTrial]:
        """The rater's stored plan ([] before the first vote)."""
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
    def assign_slot(self, study: str, rater: str, planner: Planner) -> RaterRecord:
        """Give an enrolled rater the next free slot and store its plan now, without a vote (for
        scripts, simulations and tests; the app takes the slot with the first vote)."""
        for _ in range(100):
            try:
                with self._write() as conn:
                    row = self._enrolled(conn, study, rater)
                    if row.slot is None:
                        self._take_slot(conn, row, 0, None, planner)
                return self.get_rater(study, rater)
            except (IntegrityError, _Retry):
                time.sleep(0.005 + secrets.randbelow(20) / 1000)
        raise StoreUnavailable(f"could not give {rater!r} a slot: too many concurrent first votes")

    def _take_slot(self, conn, row, trial: int, first: tuple[int, PlannedTrial] | None,
                   planner: Planner | None) -> None:
        """First vote of a rater without a slot (``first``: the slot trial 0 was planned for and
        the trial shown; None from :meth:`assign_slot`): take the next free slot and store its
        plan, with the trial the rater answered as trial 0."""
        if planner is None or trial != 0:
            raise StudyError(f"trial must be one of rater {row.rater!r}'s planned trials, got {trial}")
        first_slot, shown = first if first is not None else (None, None)
        if self.engine.dialect.name == "postgresql":   # queue first votes (all servers) per study
            conn.execute(select(func.pg_advisory_xact_lock(zlib.crc32(row.study.encode()))))
        slot = int(conn.execute(select(func.coalesce(func.max(RaterRow.slot) + 1, 0))
                                .where(RaterRow.study == row.study)).scalar_one())
        seed, plan = planner(slot)
        if shown is not None:
            plan = with_first_trial(plan, shown)
        res = conn.execute(update(RaterRow).where(RaterRow.id == row.id, RaterRow.slot.is_(None))
                           .values(slot=slot, seed=seed, first_slot=first_slot))
        if res.rowcount != 1:   # another tab of this rater took a slot meanwhile
            raise _Retry
        conn.execute(self._insert(TrialRow), [
            dict(study=row.study, rater=row.rater, idx=t.index, image=t.image,
                 crop=format_crop(t.crop), method_a=t.method_a, method_b=t.method_b,
                 a_left=t.a_left, is_golden=t.is_golden) for t in plan])

    def submit(self, study: str, rater: str, trial: int, side: str, *, session: str = "",
               shown_at: datetime | None = None, answered_at: datetime | None = None,
               first: tuple[int, PlannedTrial] | None = None,
               planner: Planner | None = None) -> SubmitResult:
        """Store one answer (``left``/``right``/``tie``) and commit; idempotent per (rater, trial).

        A rater without a slot must answer trial 0 and pass ``first = (slot it was planned
        for, the trial shown)`` and ``planner``: the slot is taken in the same transaction.

        Raises:
            StudyError: unknown rater, trial or choice.
        """
        answered_at = answered_at or utcnow()
        shown_at = shown_at or answered_at
        for _ in range(100):
            try:
                return self._submit_once(study, rater, trial, side, session, shown_at,
                                         answered_at, first, planner)
            except (IntegrityError, _Retry):   # slot clash with a concurrent first vote
                time.sleep(0.005 + secrets.randbelow(20) / 1000)
        raise StoreUnavailable(f"could not store the vote of {rater!r}: too many concurrent first votes")

    def _submit_once(self, study, rater, trial, side, session, shown_at, answered_at, first,
                     planner) -> SubmitResult:
        with self._write() as conn:
            r = self._enrolled(conn, study, rater)
            if r.slot is None:
                if first is None:
                    raise StudyError(f"trial must be one of rater {rater!r}'s planned trials, got {trial}")
                self._take_slot(conn, r, trial, first, planner)
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
        """A whole table (``studies``, ``raters``, ``trials``, ``votes``) as a DataFrame
        (``raters`` without the secret hashes)."""
        import pandas as pd

        model = TABLES.get(table)
        if model is None:
            raise StudyError(f"table must be studies, raters, trials or votes, got {table!r}")
        cols = [c for c in model.__table__.c if c.name != "secret_hash"]
        stmt = select(*cols)
        if study is not None:
            col = model.__table__.c.name if model is StudyRow else model.__table__.c.study
            stmt = stmt.where(col == study)
        with self._read() as conn:
            result = conn.execute(stmt)
            return pd.DataFrame(result.all(), columns=list(result.keys()))
