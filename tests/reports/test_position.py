import numpy as np
import pandas as pd
import pytest
from scipy import stats

from reports.exclusion import ExclusionPolicy, apply_policy
from reports.position import position_bias
from reports.votes import ColumnMapping, canonical_votes


def _study_export(sides: list[str]) -> pd.DataFrame:
    """One decided vote per entry of ``sides`` ('left'/'right'/'tie'), method x always left."""
    rows = []
    for i, side in enumerate(sides):
        choice = {"left": "x/1", "right": "y/1", "tie": "tie"}[side]
        rows.append({"study": "s", "rater": f"r{i % 3}", "session": "", "trial": i,
                     "image": f"im{i % 4}", "crop": "", "method_a": "x/1", "method_b": "y/1",
                     "left": "x/1", "right": "y/1", "choice": choice, "is_golden": False,
                     "golden_failed": False, "shown_at": "", "answered_at": "",
                     "duration_s": 1.0})
    return pd.DataFrame(rows)


def test_left_rate_counts_decided_votes_by_the_side_shown():
    sides = ["left"] * 14 + ["right"] * 6 + ["tie"] * 5
    votes = apply_policy(canonical_votes(_study_export(sides)), ExclusionPolicy())
    pb = position_bias(votes)
    assert (pb.votes, pb.left) == (20, 14)
    assert pb.left_rate == pytest.approx(0.7)
    assert pb.p_value == pytest.approx(stats.binomtest(14, 20, 0.5).pvalue)
    ci = stats.binomtest(14, 20).proportion_ci(method="wilson")
    assert (pb.ci_low, pb.ci_high) == (pytest.approx(ci.low), pytest.approx(ci.high))
    assert "left was chosen in 70.0% of 20" in pb.sentence()


def test_side_follows_the_image_not_the_method():
    df = _study_export(["left"] * 4)
    df.loc[:1, ["left", "right"]] = ["y/1", "x/1"]  # x shown right in two trials, still chosen
    votes = apply_policy(canonical_votes(df), ExclusionPolicy())
    assert position_bias(votes).left == 2
    assert set(votes["winner"]) == {"a"}


def test_sources_without_sides_give_no_position_check():
    df = pd.DataFrame({"methodA": ["x"] * 4, "methodB": ["y"] * 4, "originalName": "im",
                       "answerValue": ["A", "B", "A", "A"]})
    votes = apply_policy(canonical_votes(df, ColumnMapping()), ExclusionPolicy())
    assert position_bias(votes) is None
    assert np.all(votes["chosen_side"] == "")
