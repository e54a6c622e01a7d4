"""The adaptive design against the vote store: the choices table and the transaction making one.

When a rater reaches a *pending* trial (``design = "adaptive"``, see :mod:`study_app.design`),
:func:`decide` runs one write transaction that

1. reads the inputs from the store: regular votes per comparison (a chosen, b chosen, ties), the
   comparisons handed out in the last :data:`PENDING_WINDOW` and not answered yet, and the
   stimuli this rater already has;
2. chooses with :func:`study_app.adaptive.choose_trial` (comparison by expected information gain,
   then the least-shown image/crop of that comparison), seeded by :func:`choice_seed`;
3. stores the choice in ``adaptive_choices`` -- with the state behind it (posterior means and
   variances, a SHA-256 digest of the inputs, the seed, the EIG) -- and fills the trial row.

A second call for the same (rater, trial) returns the stored choice (refresh, second tab, second
server: the first choice wins by a unique constraint), so a rater sees one comparison per trial
and votes once on it.  Nothing here reaches the browser: it receives the trial's pixels only.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone

import numpy as np
from sqlalchemy import (
    BigInteger,
    DateTime,
    Float,
    Integer,
    String,
    Text,
    UniqueConstraint,
    and_,
    bindparam,
    func,
    select,
    update,
)
from sqlalchemy.dialects import postgresql as pg_dialect
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.orm import Mapped, mapped_column

from evalkit.errors import StudyError
from study_app.adaptive import PRIOR_PRECISION, choose_trial
from study_app.definition import StudyDefinition
from study_app.design import PENDING, Box, PlannedTrial, format_crop, name_key, parse_crop, stimulus_items
from study_app.store import Base, TrialRow, VoteRow, VoteStore, utcnow

#: Handed-out trials older than this without a vote no longer count as pending (rater gone).
PENDING_WINDOW = timedelta(minutes=30)
STATE_VERSION = 1


class AdaptiveChoiceRow(Base):
    """One adaptive choice: what rater ``rater`` gets as trial ``trial``, and why."""

    __tablename__ = "adaptive_choices"
    __table_args__ = (UniqueConstraint("study", "rater", "trial", name="one_choice_per_trial"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    study: Mapped[str] = mapped_column(String(64))
    rater: Mapped[str] = mapped_column(String(128))
    trial: Mapped[int] = mapped_column(Integer)
    image: Mapped[str] = mapped_column(String(256))
    crop: Mapped[str] = mapped_column(String(64))          # "x,y,w,h" or ""
    method_a: Mapped[str] = mapped_column(String(256))
    method_b: Mapped[str] = mapped_column(String(256))
    seed: Mapped[int] = mapped_column(BigInteger)          # choice_seed(...)
    eig: Mapped[float] = mapped_column(Float)              # nats, of the chosen comparison
    state: Mapped[str] = mapped_column(Text)               # JSON, see decide()
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


@dataclass(frozen=True)
class AdaptiveSpace:
    """Everything :func:`decide` needs from the study: methods, candidate comparisons, stimuli."""

    study: str
    study_seed: int
    methods: tuple[str, ...]
    pairs: tuple[tuple[str, str], ...]
    cand_i: np.ndarray
    cand_j: np.ndarray
    items: tuple[tuple[str, Box | None], ...]
    prior: float = PRIOR_PRECISION

    @classmethod
    def from_study(cls, defn: StudyDefinition, sizes: dict[str, tuple[int, int]]) -> AdaptiveSpace:
        methods = defn.methods
        pos = {m: k for k, m in enumerate(methods)}
        return cls(defn.name, defn.seed, methods, tuple(defn.comparisons),
                   np.array([pos[a] for a, _ in defn.comparisons], dtype=np.int64),
                   np.array([pos[b] for _, b in defn.comparisons], dtype=np.int64),
                   tuple(stimulus_items(defn, sizes)))


@dataclass(frozen=True)
class ChoiceInputs:
    """What a choice depends on (besides the seed); all arrays indexed like the space."""

    counts: np.ndarray    # (P, 3) float: a chosen, b chosen, ties
    pending: np.ndarray   # (P,) int
    shown: np.ndarray     # (P, S) int: handed out so far (all raters)
    seen: np.ndarray      # (P, S) bool: already in this rater's plan

    def digest(self) -> str:
        h = hashlib.sha256()
        for arr in (self.counts.astype(np.float64), self.pending.astype(np.int64),
                    self.shown.astype(np.int64), self.seen.astype(np.uint8)):
            h.update(np.ascontiguousarray(arr).tobytes())
        return h.hexdigest()


def choice_seed(study_seed: int, rater: str, trial: int) -> int:
    """The 63-bit seed of one choice (tie-breaks only): study seed, rater key, trial index."""
    state = np.random.SeedSequence([study_seed, name_key(rater), trial]).generate_state(1, np.uint64)[0]
    return int(state >> np.uint64(1))


def _positions(space: AdaptiveSpace) -> tuple[dict, dict]:
    pair_pos = {p: k for k, p in enumerate(space.pairs)}
    item_pos = {(im, format_crop(box)): k for k, (im, box) in enumerate(space.items)}
    return pair_pos, item_pos


_SEEN = (select(TrialRow.method_a, TrialRow.method_b, TrialRow.image, TrialRow.crop)
         .where(TrialRow.study == bindparam("study"), TrialRow.rater == bindparam("rater"))
         .union(select(AdaptiveChoiceRow.method_a, AdaptiveChoiceRow.method_b,
                       AdaptiveChoiceRow.image, AdaptiveChoiceRow.crop)
                .where(AdaptiveChoiceRow.study == bindparam("study"),
                       AdaptiveChoiceRow.rater == bindparam("rater"))))


def _seen(conn, space: AdaptiveSpace, rater: str) -> np.ndarray:
    """``(P, S)``: stimuli already in ``rater``'s plan (stored trials and choices)."""
    pair_pos, item_pos = _positions(space)
    seen = np.zeros((len(space.pairs), len(space.items)), dtype=bool)
    for a, b, im, crop in conn.execute(_SEEN, {"study": space.study, "rater": rater}):
        k, s = pair_pos.get((a, b)), item_pos.get((im, crop))
        if k is not None and s is not None:
            seen[k, s] = True
    return seen


def read_inputs(conn, space: AdaptiveSpace, rater: str, now: datetime) -> ChoiceInputs:
    """The inputs of a choice, aggregated from the whole store by SQL (reference version of
    :class:`InputsCache`; fine for small studies, ~1 s for 10,000 votes on a loaded machine)."""
    P, S = len(space.pairs), len(space.items)
    pair_pos, item_pos = _positions(space)
    counts = np.zeros((P, 3))
    votes = conn.execute(
        select(TrialRow.method_a, TrialRow.method_b, VoteRow.choice, func.count())
        .join(VoteRow, and_(VoteRow.study == TrialRow.study, VoteRow.rater == TrialRow.rater,
                            VoteRow.trial == TrialRow.idx))
        .where(TrialRow.study == space.study, TrialRow.is_golden.is_(False))
        .group_by(TrialRow.method_a, TrialRow.method_b, VoteRow.choice))
    for a, b, choice, n in votes:
        k = pair_pos.get((a, b))
        if k is not None:   # comparisons no longer in the study file are ignored
            counts[k, 0 if choice == a else 1 if choice == b else 2] += n
    c = AdaptiveChoiceRow
    pending = np.zeros(P, dtype=np.int64)
    open_rows = conn.execute(
        select(c.method_a, c.method_b, func.count())
        .outerjoin(VoteRow, and_(VoteRow.study == c.study, VoteRow.rater == c.rater,
                                 VoteRow.trial == c.trial))
        .where(c.study == space.study, VoteRow.id.is_(None), c.created_at >= now - PENDING_WINDOW)
        .group_by(c.method_a, c.method_b))
    for a, b, n in open_rows:
        k = pair_pos.get((a, b))
        if k is not None:
            pending[k] += n
    shown = np.zeros((P, S), dtype=np.int64)
    for a, b, im, crop, n in conn.execute(
            select(c.method_a, c.method_b, c.image, c.crop, func.count())
            .where(c.study == space.study).group_by(c.method_a, c.method_b, c.image, c.crop)):
        k, s = pair_pos.get((a, b)), item_pos.get((im, crop))
        if k is not None and s is not None:
            shown[k, s] += n
    return ChoiceInputs(counts, pending, shown, _seen(conn, space, rater))


def _aware(value: datetime) -> datetime:
    """SQLite returns naive datetimes (written as UTC)."""
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value


class InputsCache:
    """Running per-process aggregates of the store, read incrementally by row id.

    Equal to :func:`read_inputs` (tested) but reads only the rows added since the last choice,
    which keeps a choice within its 50 ms budget however many votes the study holds.  SQLite
    commits writes one at a time, so ids arrive in order.  PostgreSQL can commit ids out of order;
    there each read re-scans the last :attr:`LAG` ids (skipping rows already counted) and the
    aggregates are rebuilt from scratch every :attr:`RESYNC_S` seconds.
    """

    LAG = 256
    RESYNC_S = 600.0

    def __init__(self, space: AdaptiveSpace, dialect: str = "sqlite"):
        self.space = space
        self.lag = 0 if dialect == "sqlite" else self.LAG
        self.resync_s = float("inf") if dialect == "sqlite" else self.RESYNC_S
        self._lock = threading.Lock()
        self._pair_pos, self._item_pos = _positions(space)
        self._reset()

    def _reset(self) -> None:
        P, S = len(self.space.pairs), len(self.space.items)
        self.counts = np.zeros((P, 3))
        self.shown = np.zeros((P, S), dtype=np.int64)
        self._vote_ids: set[int] = set()
        self._choice_ids: set[int] = set()
        self._voted: set[tuple[str, int]] = set()
        self._open: dict[tuple[str, int], tuple[int, datetime]] = {}
        self._vote_wm = self._choice_wm = 0
        self._synced = time.monotonic()

    # statements built once (bind parameters): expression building costs more than the query.
    # Only the id range is filtered in SQL, so SQLite walks the primary key from the watermark
    # instead of every row of the study; the study is checked here.
    _NEW_CHOICES = (select(AdaptiveChoiceRow.id, AdaptiveChoiceRow.study, AdaptiveChoiceRow.rater,
                           AdaptiveChoiceRow.trial, AdaptiveChoiceRow.method_a,
                           AdaptiveChoiceRow.method_b, AdaptiveChoiceRow.image,
                           AdaptiveChoiceRow.crop, AdaptiveChoiceRow.created_at)
                    .where(AdaptiveChoiceRow.id > bindparam("after")))
    _NEW_VOTES = (select(VoteRow.id, VoteRow.study, VoteRow.rater, VoteRow.trial, VoteRow.choice,
                         TrialRow.method_a, TrialRow.method_b, TrialRow.is_golden)
                  .join(TrialRow, and_(TrialRow.study == VoteRow.study,
                                       TrialRow.rater == VoteRow.rater,
                                       TrialRow.idx == VoteRow.trial))
                  .where(VoteRow.id > bindparam("after")))

    def _refresh(self, conn) -> None:
        if time.monotonic() - self._synced > self.resync_s:
            self._reset()
        study = self.space.study
        for cid, st, rater, trial, a, b, im, crop, created in conn.execute(
                self._NEW_CHOICES, {"after": self._choice_wm - self.lag}):
            if st != study or cid in self._choice_ids:
                continue
            self._choice_ids.add(cid)
            self._choice_wm = max(self._choice_wm, cid)
            k, s = self._pair_pos.get((a, b)), self._item_pos.get((im, crop))
            if k is None or s is None:
                continue
            self.shown[k, s] += 1
            if (rater, trial) not in self._voted:
                self._open[(rater, trial)] = (k, _aware(created))
        for vid, st, rater, trial, choice, a, b, golden in conn.execute(
                self._NEW_VOTES, {"after": self._vote_wm - self.lag}):
            if st != study or vid in self._vote_ids:
                continue
            self._vote_ids.add(vid)
            self._vote_wm = max(self._vote_wm, vid)
            self._voted.add((rater, trial))
            self._open.pop((rater, trial), None)
            k = self._pair_pos.get((a, b))
            if not golden and k is not None:
                self.counts[k, 0 if choice == a else 1 if choice == b else 2] += 1

    def warm(self, store: VoteStore) -> None:
        """Read everything once (at server start) so the first rater's choice is quick too."""
        with self._lock, store.read() as conn:
            self._refresh(conn)

    def inputs(self, conn, rater: str, now: datetime) -> ChoiceInputs:
        with self._lock:
            self._refresh(conn)
            pending = np.zeros(len(self.space.pairs), dtype=np.int64)
            since = now - PENDING_WINDOW
            for k, created in self._open.values():
                if created >= since:
                    pending[k] += 1
            return ChoiceInputs(self.counts.copy(), pending, self.shown.copy(),
                                _seen(conn, self.space, rater))


def choose(space: AdaptiveSpace, inputs: ChoiceInputs, seed: int) -> tuple[PlannedTrial, dict]:
    """The pure part of :func:`decide`: ``(trial fields, state to store)``; ``index``/``a_left``
    of the returned trial are placeholders the caller replaces."""
    pick = choose_trial(len(space.methods), space.cand_i, space.cand_j, inputs.counts,
                        inputs.pending, inputs.shown, inputs.seen, seed, prior=space.prior)
    a, b = space.pairs[pick.pair]
    image, box = space.items[pick.item]
    post = pick.choice.posterior
    state = {
        "version": STATE_VERSION, "model": "thurstone-laplace", "prior_precision": space.prior,
        "methods": list(space.methods), "mean": [round(float(v), 6) for v in post.mean],
        "var": [round(float(v), 6) for v in post.var], "inputs_sha256": inputs.digest(),
        "n_votes": float(inputs.counts.sum()), "n_pending": int(inputs.pending.sum()),
        "pair": [a, b], "eig": float(pick.choice.eig),
        "eig_runner_up": float(np.sort(pick.choice.eigs)[-2]) if len(space.pairs) > 1 else None,
        "stimulus_shown_before": int(inputs.shown[pick.pair, pick.item]), "seed": int(seed),
    }
    return PlannedTrial(0, image, box, a, b, True, False), state


def _insert(store: VoteStore):
    return sqlite_dialect.insert if store.engine.dialect.name == "sqlite" else pg_dialect.insert


_STORED = select(AdaptiveChoiceRow).where(AdaptiveChoiceRow.study == bindparam("study"),
                                          AdaptiveChoiceRow.rater == bindparam("rater"),
                                          AdaptiveChoiceRow.trial == bindparam("trial"))


def _stored(conn, study: str, rater: str, trial: int):
    return conn.execute(_STORED, {"study": study, "rater": rater, "trial": trial}).first()


def decide(store: VoteStore, space: AdaptiveSpace, rater: str, trial: PlannedTrial, *,
           now: datetime | None = None, cache: InputsCache | None = None) -> PlannedTrial:
    """The trial to show for a pending adaptive ``trial`` of ``rater`` (other trials unchanged).

    Chooses, stores the choice and its state and fills the rater's trial row (when the plan is
    stored already) in one write transaction; a choice stored before is returned as it is.
    """
    if not trial.pending:
        return trial
    now = now or utcnow()
    with store.write() as conn:
        row = _stored(conn, space.study, rater, trial.index)
        if row is None:
            seed = choice_seed(space.study_seed, rater, trial.index)
            inputs = (cache.inputs(conn, rater, now) if cache is not None
                      else read_inputs(conn, space, rater, now))
            if not (~inputs.seen).any():
                raise StudyError(f"rater {rater!r} has seen every stimulus of every comparison")
            chosen, state = choose(space, inputs, seed)
            conn.execute(_insert(store)(AdaptiveChoiceRow).values(
                study=space.study, rater=rater, trial=trial.index, image=chosen.image,
                crop=format_crop(chosen.crop), method_a=chosen.method_a, method_b=chosen.method_b,
                seed=seed, eig=state["eig"], state=json.dumps(state, sort_keys=True),
                created_at=now).on_conflict_do_nothing(index_elements=["study", "rater", "trial"]))
            row = _stored(conn, space.study, rater, trial.index)
        conn.execute(update(TrialRow).where(
            TrialRow.study == space.study, TrialRow.rater == rater, TrialRow.idx == trial.index,
            TrialRow.method_a == PENDING, TrialRow.is_golden.is_(False)).values(
            image=row.image, crop=row.crop, method_a=row.method_a, method_b=row.method_b))
    return replace(trial, image=row.image, crop=parse_crop(row.crop), method_a=row.method_a,
                   method_b=row.method_b)


CHOICE_COLUMNS = ("study", "rater", "trial", "image", "crop", "method_a", "method_b", "seed", "eig",
                  "state", "created_at")


def choices_frame(store: VoteStore, study: str | None = None):
    """All stored adaptive choices (columns :data:`CHOICE_COLUMNS`, ``state`` as JSON text),
    sorted by study, rater, trial; empty for a database without adaptive studies."""
    import pandas as pd
    from sqlalchemy import inspect

    with store.read() as conn:
        if not inspect(conn).has_table(AdaptiveChoiceRow.__tablename__):
            return pd.DataFrame(columns=list(CHOICE_COLUMNS))
        stmt = select(*(AdaptiveChoiceRow.__table__.c[c] for c in CHOICE_COLUMNS))
        if study is not None:
            stmt = stmt.where(AdaptiveChoiceRow.study == study)
        result = conn.execute(stmt)
        df = pd.DataFrame(result.all(), columns=list(result.keys()))
    return df.sort_values(["study", "rater", "trial"]).reset_index(drop=True)


def export_choices(db_url: str, out, study: str | None = None):
    """Write the adaptive choices as CSV (formula-safe text cells) plus a provenance sidecar."""
    from evalkit.provenance import atomic_write_text, provenance, write_sidecar
    from evalkit.textsafe import csv_safe_frame

    store = VoteStore(db_url, pool_size=1)
    try:
        df = choices_frame(store, study)
    finally:
        store.dispose()
    atomic_write_text(out, csv_safe_frame(df).to_csv(index=False))
    write_sidecar(out, provenance({"study": study, "state_version": STATE_VERSION},
                                  n_choices=len(df), columns=list(CHOICE_COLUMNS)))
    return df
