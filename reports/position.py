"""Position (left/right) bias: do raters pick the image shown on one side more often?

Only sources that record where each image was shown (the study app's export) can answer this;
the study randomises sides, so a win rate of the left side far from 50% points at raters who
click without looking, or at a layout problem, not at the codecs.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import pandas as pd

from reports.counts import sign_test, wilson_interval


@dataclass(frozen=True)
class PositionBias:
    """Decided, included, non-golden votes with a known side: how often the left one won."""

    votes: int
    left: int
    left_rate: float
    ci_low: float
    ci_high: float
    p_value: float
    level: float

    def as_dict(self) -> dict:
        return asdict(self)

    def sentence(self) -> str:
        pct = f"{round(self.level * 100, 2):g}%"
        return (f"Position check: the image shown on the left was chosen in "
                f"{100 * self.left_rate:.1f}% of {self.votes} decided votes ({pct} Wilson CI "
                f"{100 * self.ci_low:.1f}-{100 * self.ci_high:.1f}%; two-sided sign test "
                f"p = {self.p_value:.3g}); sides were randomised, so 50% is expected.")


def position_bias(votes: pd.DataFrame, level: float = 0.95) -> PositionBias | None:
    """Left-side win rate over ``votes`` (output of :func:`reports.exclusion.apply_policy`);
    None when no vote records its side."""
    known = votes[~votes["excluded"] & ~votes["is_golden"]
                  & votes["chosen_side"].isin(["left", "right"])]
    if known.empty:
        return None
    n = int(len(known))
    left = int((known["chosen_side"] == "left").sum())
    lo, hi = wilson_interval(left, n, level)
    return PositionBias(n, left, left / n, lo, hi, sign_test(left, n), level)
