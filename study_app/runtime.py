"""Everything the running app shares between sessions: definition, files, store, pixel cache.

The Streamlit script reads the study file and database URL from the environment variables
``EVALKIT_STUDY_FILE`` and ``EVALKIT_STUDY_DB`` (set by ``evalkit study serve``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from evalkit.errors import StudyError
from evalkit.provenance import provenance
from study_app.definition import StudyDefinition, load_study
from study_app.design import PlannedTrial, Stimulus, plan_trials, stimulus_cycle
from study_app.stimuli import StimulusSource
from study_app.store import VoteStore
from study_app.study_check import StudyCheck, check_capacity, check_study

STUDY_ENV = "EVALKIT_STUDY_FILE"
DB_ENV = "EVALKIT_STUDY_DB"


def default_db_url(study_path: str | Path) -> str:
    """SQLite file beside the study: ``<study>.votes.sqlite``."""
    p = Path(study_path).resolve()
    return "sqlite:///" + str(p.with_name(p.stem + ".votes.sqlite"))


@dataclass
class StudyContext:
    defn: StudyDefinition
    check: StudyCheck
    store: VoteStore
    source: StimulusSource
    cycle: list[Stimulus]
    _adaptive: object = None   # adaptive_store.InputsCache, built on first use

    def plan(self, slot: int) -> tuple[int, list[PlannedTrial]]:
        """The plan of design slot ``slot``: ``(rater seed, trials)``.  The one place the app
        asks which trials a rater gets (the store calls it when the first vote takes a slot)."""
        return plan_trials(self.defn, self.check.sizes, slot, self.cycle)

    def first_trial(self, slot: int) -> PlannedTrial:
        """The trial shown before a rater owns a slot: trial 0 of the next free slot's plan."""
        return self.plan(slot)[1][0]

    def shown_trial(self, rater: str, trial: PlannedTrial) -> PlannedTrial:
        """The trial as it is shown: a pending adaptive trial gets its comparison chosen (and
        stored) now; every other trial is returned unchanged."""
        if not trial.pending:
            return trial
        from study_app.adaptive_store import AdaptiveSpace, InputsCache, decide

        if self._adaptive is None:
            self._adaptive = InputsCache(AdaptiveSpace.from_study(self.defn, self.check.sizes),
                                         self.store.engine.dialect.name)
        return decide(self.store, self._adaptive.space, rater, trial, cache=self._adaptive)


def open_context(study_path: str | Path, db_url: str | None = None) -> StudyContext:
    """Load + check the study, open the store (creating tables) and record the study in it."""
    defn = load_study(study_path)
    check = check_study(defn)
    cycle = stimulus_cycle(defn, check.sizes)
    check_capacity(defn, len(cycle))
    store = VoteStore(db_url or default_db_url(study_path))
    if defn.design == "adaptive":
        import study_app.adaptive_store  # noqa: F401  (its table is created with the others)
    store.create_schema()
    recorded = {**defn.raw, "study": {k: v for k, v in defn.raw.get("study", {}).items()
                                      if k != "experimenter_token"}}   # no secret in the DB
    store.register_study(defn.name, defn.seed, recorded, provenance({"study_file": str(defn.path)}))
    ctx = StudyContext(defn, check, store, StimulusSource(check, defn.seed), cycle)
    if defn.design == "adaptive":
        from study_app.adaptive_store import AdaptiveSpace, InputsCache

        ctx._adaptive = InputsCache(AdaptiveSpace.from_study(defn, check.sizes),
                                    store.engine.dialect.name)
        ctx._adaptive.warm(store)
    return ctx


def context_from_env() -> tuple[str, str]:
    study = os.environ.get(STUDY_ENV)
    if not study:
        raise StudyError(f"environment variable {STUDY_ENV} must name the study file, got nothing")
    return study, os.environ.get(DB_ENV) or default_db_url(study)
