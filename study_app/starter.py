"""The starter study file `evalkit study init` writes, sized to the stimuli it finds."""

from __future__ import annotations

import itertools
import secrets
from typing import Any

from evalkit.errors import StudyError
from study_app import defaults


def golden_count(trials: int, share: float) -> int:
    """Golden questions among ``trials``: ``round(share * trials)``, at least 1 when share > 0
    (the rule :attr:`StudyDefinition.n_golden` applies)."""
    return 0 if share <= 0 else max(1, round(share * trials))


def sized_trials(n_stimuli: int) -> tuple[int, float]:
    """``(trials_per_rater, golden_share)`` for a study with ``n_stimuli`` distinct stimuli.

    The defaults (20 trials, 10 % golden) when there are enough stimuli; otherwise every stimulus
    once plus the golden questions, with the share written so that it gives exactly that many.
    """
    if n_stimuli < 1:
        raise StudyError(f"a study needs at least 1 stimulus, got {n_stimuli}")
    for trials in range(defaults.TRIALS_PER_RATER, 1, -1):
        n_gold = golden_count(trials, defaults.GOLDEN_SHARE)
        if trials - n_gold <= n_stimuli:
            share = defaults.GOLDEN_SHARE if trials == defaults.TRIALS_PER_RATER \
                else round(n_gold / trials, 4)
            return trials, share
    return 2, 0.5   # one stimulus: one regular and one golden trial


def starter_study(name: str, refs: str, runs: str, methods: list[str], *, n_images: int,
                  seed: int | None = None) -> dict[str, Any]:
    """The TOML content of a starter study: every pair among ``methods`` on ``n_images`` images."""
    if len(methods) < 2:
        raise StudyError(f"a study needs at least 2 methods, got {methods}")
    n_pairs = len(list(itertools.combinations(methods, 2)))
    trials, share = sized_trials(n_pairs * n_images)
    return {
        "study": {
            "name": name, "refs": refs, "runs": runs, "images": [],
            "trials_per_rater": trials, "golden_share": share,
            "golden_degradations": list(defaults.GOLDEN_DEGRADATIONS),
            "seed": seed if seed is not None else secrets.randbelow(2**31),
            "instructions": defaults.INSTRUCTIONS,
            "consent": defaults.CONSENT,
            "completion_code": secrets.token_hex(4).upper(),
            "redirect_url": "",
            "experimenter_token": secrets.token_urlsafe(16),
        },
        "comparisons": [{"all_pairs": list(methods)}],
    }
