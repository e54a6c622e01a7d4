"""The report's numbers against independent computations from the raw inputs.

Each test recomputes a reported figure from the vote CSV and the results table with plain
pandas/numpy/scipy (not through the report's own helpers) and compares it with what
``build_report`` wrote.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import binomtest

from reports.build import build_report
from reports.votes import ColumnMapping

ELO = {"a/1": 1400.0, "a/2": 1520.0, "b/1": 1440.0, "b/2": 1600.0}
BPP = {"a/1": 0.20, "a/2": 0.50, "b/1": 0.15, "b/2": 0.40}
IMAGES = [f"img{i:02d}" for i in range(6)]


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    import importlib.util
    from pathlib import Path

    # by file path: another folder's conftest may already be sys.modules["conftest"]
    spec = importlib.util.spec_from_file_location("reports_conftest",
                                                  Path(__file__).parent / "conftest.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    simulate_bt = mod.simulate_bt
    rng = np.random.default_rng(11)
    votes = simulate_bt(ELO, 3, len(IMAGES), 12, rng, tie_rate=0.1)
    rows = []
    for m in ELO:
        codec, setting = m.split("/")
        for i, image in enumerate(IMAGES):
            rows.append({"codec": codec, "setting": setting, "image": image, "width": 64,
                         "height": 64, "bytes": 100, "bpp": BPP[m] * (1 + 0.05 * i),
                         "psnr": 25 + (ELO[m] - 1400) / 40 + rng.normal(0, 1.5),
                         "lpips": 0.4 - (ELO[m] - 1400) / 1000 + rng.normal(0, 0.05)})
    results = pd.DataFrame(rows)
    out = tmp_path_factory.mktemp("oracle") / "rep"
    mapping = ColumnMapping(rater="who", answer_tie="tie")
    build_report(votes, out, mapping=mapping, results=results, n_boot=40, seed=2)
    return votes, results, out


def _human_wins(votes: pd.DataFrame) -> pd.DataFrame:
    """Votes per (pair, image): wins of the alphabetically first / second method (ties count
    for neither; a unit with ties only has no majority)."""
    rows = []
    for r in votes.itertuples():
        a, b = sorted((r.methodA, r.methodB))
        chosen = {"A": r.methodA, "B": r.methodB}.get(r.answerValue)
        rows.append({"a": a, "b": b, "image": r.originalName, "win_a": chosen == a,
                     "win_b": chosen == b})
    return (pd.DataFrame(rows).groupby(["a", "b", "image"])
            .agg(wins_a=("win_a", "sum"), wins_b=("win_b", "sum")).reset_index())


def _majority(wins_a, wins_b):
    return np.where(wins_a > wins_b, "a", np.where(wins_b > wins_a, "b", ""))


@pytest.mark.parametrize("metric,higher", [("psnr", True), ("lpips", False)])
def test_metric_vs_human_agreement_equals_a_direct_count(report, metric, higher):
    votes, results, out = report
    results = results.assign(method=results["codec"] + "/" + results["setting"])
    value = results.set_index(["method", "image"])[metric]
    table = pd.read_csv(out / "metric_agreement.csv")

    # image level: one unit per (pair, image)
    w = _human_wins(votes)
    va = np.array([value[(a, i)] for a, i in zip(w["a"], w["image"])])
    vb = np.array([value[(b, i)] for b, i in zip(w["b"], w["image"])])
    human = _majority(w["wins_a"], w["wins_b"])
    pick = np.where(va > vb, "a", "b") if higher else np.where(va < vb, "a", "b")
    judged = human != ""
    agree = int((pick[judged] == human[judged]).sum())
    row = table[(table["metric"] == metric) & (table["level"] == "image")].iloc[0]
    assert (row["judged"], row["agree"]) == (int(judged.sum()), agree)
    assert row["human_ties"] == int((~judged).sum())
    ci = binomtest(agree, int(judged.sum())).proportion_ci(0.95, method="wilson")
    assert (row["ci_low"], row["ci_high"]) == pytest.approx((ci.low, ci.high), abs=1e-12)

    # comparison level: votes pooled over images, metric averaged over the images voted on
    pooled = w.groupby(["a", "b"]).agg(wins_a=("wins_a", "sum"), wins_b=("wins_b", "sum"))
    judged_n = agree_n = 0
    for (a, b), r in pooled.iterrows():
        imgs = w.loc[(w["a"] == a) & (w["b"] == b), "image"]
        ma = np.mean([value[(a, i)] for i in imgs])
        mb = np.mean([value[(b, i)] for i in imgs])
        h = _majority(np.array([r["wins_a"]]), np.array([r["wins_b"]]))[0]
        if h:
            judged_n += 1
            agree_n += int(h == ("a" if (ma > mb) == higher else "b"))
    row = table[(table["metric"] == metric) & (table["level"] == "comparison")].iloc[0]
    assert (row["judged"], row["agree"]) == (judged_n, agree_n)


def test_bitrate_saving_equals_an_exact_integral(report):
    """Saving of family b against a at equal human score: exp(average over the common score
    range of log bpp_b(s) - log bpp_a(s)) - 1, each family's log bpp linear between its
    points.  Computed here exactly (trapezoid over the union of breakpoints is exact for
    piecewise-linear functions); the report averages 100 equally spaced samples, which differs
    from the exact average by at most (max f - min f) / 99 plus h^2 * sum|slope jumps| / (8 L)
    (h the grid step, L the range) -- the bound the test allows."""
    votes, results, out = report
    ranking = pd.read_csv(out / "ranking.csv").set_index("method")["score"]
    savings = pd.read_csv(out / "bitrate_savings.csv")
    assert len(savings) == 1
    row = savings.iloc[0]
    assert (row["reference"], row["test"]) == ("a", "b")
    results = results.assign(method=results["codec"] + "/" + results["setting"])
    bpp = results.groupby("method")["bpp"].mean()      # every method has every image

    def curve(fam):
        ms = [m for m in ranking.index if m.startswith(fam + "/")]
        s = ranking[ms].to_numpy()
        o = np.argsort(s)
        return s[o], np.log(bpp[ms].to_numpy())[o]

    sa, la = curve("a")
    sb, lb = curve("b")
    lo, hi = max(sa.min(), sb.min()), min(sa.max(), sb.max())
    assert (row["score_low"], row["score_high"]) == pytest.approx((lo, hi), rel=1e-12)
    knots = np.unique(np.concatenate([[lo, hi], sa[(sa > lo) & (sa < hi)],
                                      sb[(sb > lo) & (sb < hi)]]))
    f = np.interp(knots, sb, lb) - np.interp(knots, sa, la)
    exact = np.trapezoid(f, knots) / (hi - lo)
    slopes = np.diff(f) / np.diff(knots)
    h = (hi - lo) / 99
    bound = (f.max() - f.min()) / 99 + h * h * np.abs(np.diff(slopes)).sum() / (8 * (hi - lo))
    assert abs(np.log1p(row["saving_pct"] / 100) - exact) <= bound + 1e-12
    assert row["ci_low"] <= row["saving_pct"] <= row["ci_high"]
