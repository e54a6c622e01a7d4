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
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

import numpy as np
from sqlalchemy import (BigInteger, DateTime, Float, Integer, String, Text, UniqueConstraint,
                        and_, func, select, update)
from sqlalchemy.dialects import postgresql as pg_dialect
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.orm import Mapped, mapped_column

from evalkit.errors import StudyError
from study_app.adaptive import PRIOR_PRECISION, choose_trial
from study_app.definition import StudyDefinition
from study_app.design import (PENDING, Box, PlannedTrial, format_crop, name_key, parse_crop,
                              stimulus_items)
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


def _inputs(conn, space: AdaptiveSpace, rater: str, now: datetime) -> ChoiceInputs:
    P, S = len(space.pairs), len(space.items)
    pair_pos = {p: k for k, p in enumerate(space.pairs)}
    item_pos = {(im, format_crop(box)): k for k, (im, box) in enumerate(space.items)}
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
    seen = np.zeros((P, S), dtype=bool)
    for a, b, im, crop in conn.execute(
            select(TrialRow.method_a, TrialRow.method_b, TrialRow.image, TrialRow.crop)
            .where(TrialRow.study == space.study, TrialRow.rater == rater)
            .union(select(c.method_a, c.method_b, c.image, c.crop)
                   .where(c.study == space.study, c.rater == rater))):
        k, s = pair_pos.get((a, b)), item_pos.get((im, crop))
        if k is not None and s is not None:
            seen[k, s] = True
    return ChoiceInputs(counts, pending, shown, seen)


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


def _stored(conn, study: str, rater: str, trial: int):
    c = AdaptiveChoiceRow
    return conn.execute(select(c).where(c.study == study, c.rater == rater, c.trial == trial)).first()


def decide(store: VoteStore, space: AdaptiveSpace, rater: str, trial: PlannedTrial, *,
           now: datetime | None = None) -> PlannedTrial:
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
            inputs = _inputs(conn, space, rater, now)
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


def choices_frame(store: VoteStore, study: str | None = None):
    """All stored adaptive choices as a DataFrame (``state`` as JSON text)."""
    import pandas as pd

    stmt = select(AdaptiveChoiceRow.__table__)
    if study is not None:
        stmt = stmt.where(AdaptiveChoiceRow.study == study)
    with store.read() as conn:
        result = conn.execute(stmt)
        return pd.DataFrame(result.all(), columns=list(result.keys()))
