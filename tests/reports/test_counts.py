import numpy as np
import pandas as pd
import pytest
from scipy import stats

from evalkit.errors import VoteDataError
from reports.counts import comparison_table, sign_test, wilson_interval
from reports.exclusion import ExclusionPolicy, apply_policy
from reports.votes import ColumnMapping, canonical_votes


@pytest.mark.parametrize("k,n", [(0, 5), (3, 10), (7, 7), (74, 100), (1, 1), (500, 1013)])
@pytest.mark.parametrize("level", [0.9, 0.95, 0.99])
def test_wilson_and_binomial_match_scipy(k, n, level):
    ref = stats.binomtest(k, n).proportion_ci(confidence_level=level, method="wilson")
    lo, hi = wilson_interval(k, n, level)
    assert lo == pytest.approx(ref.low, abs=1e-12)
    assert hi == pytest.approx(ref.high, abs=1e-12)
    assert sign_test(k, n) == pytest.approx(stats.binomtest(k, n, 0.5).pvalue)


@pytest.mark.parametrize("n", [1, 3, 8, 16, 37, 1000])
@pytest.mark.parametrize("level", [0.9, 0.95, 0.99])
def test_wilson_interval_holds_the_estimate_at_the_extremes(n, level):
    lo, hi = wilson_interval(0, n, level)
    assert lo == 0.0 and 0.0 < hi < 1.0
    lo, hi = wilson_interval(n, n, level)
    assert hi == 1.0 and 0.0 < lo < 1.0


def _votes(answers, a="x/1", b="y/1"):
    df = pd.DataFrame({"methodA": a, "methodB": b, "originalName": "im",
                       "answerValue": answers})
    return apply_policy(canonical_votes(df), ExclusionPolicy())


def test_tie_policies():
    v = _votes(["A"] * 6 + ["B"] * 2 + ["tie"] * 4)
    ex = comparison_table(v, "exclude").iloc[0]
    assert (ex.decided, ex.ties, ex.wins_a, ex.wins_b) == (8, 4, 6, 2)
    assert ex.win_rate == pytest.approx(6 / 8)
    assert ex.p_value == pytest.approx(stats.binomtest(6, 8).pvalue)
    sp = comparison_table(v, "split").iloc[0]
    assert sp.win_rate == pytest.approx(8 / 12)
    assert sp.ci_low < 8 / 12 < sp.ci_high
    assert "half" in sp.sentence and "x/1" in sp.sentence
    with pytest.raises(VoteDataError, match="tie policy"):
        comparison_table(v, "coinflip")


def test_orientation_is_canonical():
    df = pd.DataFrame({"methodA": ["y/1", "x/1"], "methodB": ["x/1", "y/1"],
                       "originalName": "im", "answerValue": ["A", "A"]})
    c = comparison_table(apply_policy(canonical_votes(df), ExclusionPolicy())).iloc[0]
    assert (c.method_a, c.method_b, c.wins_a, c.wins_b) == ("x/1", "y/1", 1, 1)


def test_all_tie_and_empty_comparisons_are_reported():
    v = _votes(["tie"] * 3)
    row = comparison_table(v, "exclude").iloc[0]
    assert row.decided == 0 and np.isnan(row.win_rate) and np.isnan(row.p_value)
    assert "all votes were ties" in row.sentence
    assert comparison_table(v, "split").iloc[0].win_rate == pytest.approx(0.5)
    assert comparison_table(v.iloc[:0]).empty


def test_mapping_errors():
    df = pd.DataFrame({"methodA": ["x"], "methodB": ["y"], "originalName": ["im"],
                       "answerValue": ["C"]})
    with pytest.raises(VoteDataError, match=r"'answerValue'.*'C'"):
        canonical_votes(df)
    with pytest.raises(VoteDataError, match="'who'"):
        canonical_votes(df, ColumnMapping(rater="who"))
    with pytest.raises(VoteDataError, match="'left_method'"):
        canonical_votes(df, ColumnMapping(a="left_method"))
    with pytest.raises(VoteDataError, match="mean one thing"):
        canonical_votes(df, ColumnMapping(answer_a="A", answer_b="A"))
    same = df.assign(methodB="x", answerValue="A")
    with pytest.raises(VoteDataError, match="must differ"):
        canonical_votes(same)


def test_inverted_answer_meaning():
    df = pd.DataFrame({"methodA": ["x"], "methodB": ["y"], "originalName": ["im"],
                       "answerValue": ["A"]})
    v = canonical_votes(df, ColumnMapping(answer_a="B", answer_b="A"))
    assert v.winner.iloc[0] == "b"


def test_study_export_detected_and_policy(study_export):
    canon = canonical_votes(study_export)
    assert canon.is_golden.sum() == 12 and canon.golden_failed.sum() == 1
    pol = apply_policy(canon, ExclusionPolicy())
    assert set(pol.loc[pol.excluded, "rater"]) == {"rater3"}
    assert set(pol.loc[pol.excluded, "exclusion_reason"]) == {"rater failed golden questions"}
    lenient = apply_policy(canon, ExclusionPolicy(max_golden_failures=None))
    assert not lenient.excluded.any()
    bad = study_export.copy()
    bad.loc[0, "choice"] = "webp/q3"
    with pytest.raises(VoteDataError, match="'choice'"):
        canonical_votes(bad)


def test_holm_adjustment_matches_the_step_down_definition():
    from reports.counts import holm_adjust

    p = np.array([0.01, np.nan, 0.04, 0.03, 0.005])
    adj = holm_adjust(p)
    # sorted valid p: 0.005, 0.01, 0.03, 0.04 with multipliers 4, 3, 2, 1, then running max
    assert np.isnan(adj[1])
    assert adj[4] == pytest.approx(0.02)
    assert adj[0] == pytest.approx(0.03)
    assert adj[3] == pytest.approx(0.06)
    assert adj[2] == pytest.approx(0.06)  # 1 * 0.04 raised to the running maximum
    assert np.all(adj[~np.isnan(adj)] >= p[~np.isnan(p)])
    assert holm_adjust([0.9, 0.8]).max() == 1.0


def test_comparison_table_has_holm_p_values():
    v = pd.concat([_votes(["A"] * 9 + ["B"]), _votes(["A"] * 5 + ["B"] * 5, a="x/1", b="z/1")])
    table = comparison_table(v)
    assert len(table) == 2
    assert np.all(table["p_holm"] >= table["p_value"])
    assert table["p_holm"].max() <= 1.0
