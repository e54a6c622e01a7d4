"""Which votes count: the exclusion policy and its application.

Golden (attention-check) questions never enter a comparison; they only judge raters.  A rater is
dropped entirely (all votes excluded) when they failed more golden questions than allowed, or when
they gave fewer real votes than required ("incomplete rater"), or when named explicitly.
Unanswered trials are excluded too.  Every excluded vote carries its reason, so reports can count
them per comparison.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from evalkit.errors import VoteDataError


@dataclass(frozen=True)
class ExclusionPolicy:
    """``max_golden_failures``: a rater failing more golden questions is excluded (None: never).
    ``min_votes``: a rater with fewer non-golden votes is excluded as incomplete (0: never).
    ``exclude_raters``: rater ids excluded by hand."""

    max_golden_failures: int | None = 0
    min_votes: int = 0
    exclude_raters: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.max_golden_failures is not None and self.max_golden_failures < 0:
            raise VoteDataError(f"max_golden_failures must be >= 0 or None, got "
                                f"{self.max_golden_failures}")
        if self.min_votes < 0:
            raise VoteDataError(f"min_votes must be >= 0, got {self.min_votes}")

    def describe(self) -> str:
        parts = ["golden questions never count as votes", "unanswered trials are excluded"]
        if self.max_golden_failures is None:
            parts.append("raters are kept whatever their golden-question failures")
        else:
            parts.append(f"raters failing more than {self.max_golden_failures} golden "
                         f"question(s) are excluded entirely")
        if self.min_votes > 0:
            parts.append(f"raters with fewer than {self.min_votes} votes are excluded as "
                         f"incomplete")
        if self.exclude_raters:
            parts.append(f"raters excluded by hand: {', '.join(self.exclude_raters)}")
        return "; ".join(parts) + "."

    def as_dict(self) -> dict:
        d = asdict(self)
        d["exclude_raters"] = list(self.exclude_raters)
        return d


def rater_exclusions(votes: pd.DataFrame, policy: ExclusionPolicy) -> dict[str, str]:
    """``{rater: reason}`` for every rater the policy drops."""
    reasons: dict[str, str] = {}
    real = votes[~votes["is_golden"]]
    n_real = real.groupby("rater").size()
    fails = votes[votes["is_golden"]].groupby("rater")["golden_failed"].sum()
    for rater in votes["rater"].unique():
        if rater in policy.exclude_raters:
            reasons[rater] = "rater excluded by hand"
        elif policy.max_golden_failures is not None and \
                int(fails.get(rater, 0)) > policy.max_golden_failures:
            reasons[rater] = "rater failed golden questions"
        elif int(n_real.get(rater, 0)) < policy.min_votes:
            reasons[rater] = "incomplete rater"
    return reasons


def apply_policy(votes: pd.DataFrame, policy: ExclusionPolicy) -> pd.DataFrame:
    """The non-golden votes with two added columns: ``excluded`` (bool) and ``exclusion_reason``
    (empty string when kept)."""
    by_rater = rater_exclusions(votes, policy)
    out = votes[~votes["is_golden"]].copy()
    reason = np.array([by_rater.get(r, "") for r in out["rater"]], dtype=object)
    unanswered = (out["winner"] == "none").to_numpy()
    reason = np.where((reason == "") & unanswered, "unanswered trial", reason)
    out["exclusion_reason"] = reason
    out["excluded"] = reason != ""
    return out.reset_index(drop=True)
