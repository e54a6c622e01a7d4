import json

import numpy as np
import pandas as pd
import pytest

from evalkit.cli import main
from evalkit.errors import VoteDataError
from reports.agreement import circular_triads, krippendorff_alpha, rater_table
from reports.build import build_report
from reports.exclusion import ExclusionPolicy, apply_policy
from reports.votes import ColumnMapping, canonical_votes


def test_krippendorff_alpha_matches_package_on_small_example():
    import krippendorff

    # 3 raters x 4 units (item, pair); rater r3 misses one unit
    rows = [("r1", "i1", "A"), ("r2", "i1", "A"), ("r3", "i1", "B"),
            ("r1", "i2", "B"), ("r2", "i2", "B"), ("r3", "i2", "B"),
            ("r1", "i3", "A"), ("r2", "i3", "tie"),
            ("r1", "i4", "A"), ("r2", "i4", "B"), ("r3", "i4", "A")]
    df = pd.DataFrame(rows, columns=["who", "originalName", "answerValue"]).assign(
        methodA="x/1", methodB="y/1")
    v = apply_policy(canonical_votes(df, ColumnMapping(rater="who")), ExclusionPolicy())
    nan = np.nan
    data = np.array([[0, 1, 0, 0], [0, 1, 2, 1], [1, 1, nan, 0]], float)
    expected = krippendorff.alpha(reliability_data=data, level_of_measurement="nominal")
    got = krippendorff_alpha(v)
    assert got["alpha"] == pytest.approx(expected)
    assert got["raters"] == 3 and got["pairable_units"] == 4


def test_alpha_not_applicable_with_one_rater():
    df = pd.DataFrame({"methodA": ["x", "x"], "methodB": ["y", "y"],
                       "originalName": ["i", "j"], "answerValue": ["A", "B"]})
    got = krippendorff_alpha(apply_policy(canonical_votes(df), ExclusionPolicy()))
    assert np.isnan(got["alpha"]) and "not applicable" in got["note"]


def test_circular_triads():
    cyc = pd.DataFrame({"item": "i", "method_a": ["a", "b", "a"], "method_b": ["b", "c", "c"],
                        "winner": ["a", "a", "b"]})   # a>b, b>c, c>a
    assert circular_triads(cyc) == (1, 1)
    trans = cyc.assign(winner=["a", "a", "a"])
    assert circular_triads(trans) == (1, 0)


def test_rater_table(study_export):
    canon = canonical_votes(study_export)
    t = rater_table(canon, apply_policy(canon, ExclusionPolicy())).set_index("rater")
    assert t.loc["rater3", "golden_failed"] == 1
    assert t.loc["rater3", "excluded_reason"] == "rater failed golden questions"
    assert t.loc["rater0", "votes"] == 40 and t.loc["rater0", "golden"] == 3
    assert 2 < t.loc["rater0", "median_duration_s"] < 9


def test_full_report_files(tmp_path, study_export, results_table):
    votes = tmp_path / "votes.csv"
    res = tmp_path / "results.parquet"
    study_export.to_csv(votes, index=False)
    results_table.to_parquet(res)
    out = tmp_path / "rep"
    r = build_report(votes, out, results=res, n_boot=100, seed=3)
    names = set(r.files)
    for f in ["report.md", "report.html", "summary.json", "ranking.csv", "comparisons.csv",
              "raters.csv", "per_image.csv", "metric_agreement.csv", "bitrate_savings.csv",
              "table_ranking.tex", "table_comparisons.tex", "table_metric_agreement.tex",
              "ranking.png", "ranking.pdf", "per_image.png", "per_image.pdf",
              "metric_agreement.png", "ranking_vs_bpp.pdf", "ranking.csv.json"]:
        assert f in names, f
        assert (out / f).stat().st_size > 0
    assert not [p for p in out.iterdir() if p.name.startswith(".report-tmp")]
    rank = pd.read_csv(out / "ranking.csv")
    assert list(rank.columns) == ["method", "score", "ci_low", "ci_high", "n_votes"]
    s = json.loads((out / "summary.json").read_text())
    assert len(s["comparisons"]) == 3
    for c in s["comparisons"]:
        assert {"votes", "decided", "ties", "excluded", "excluded_reasons", "win_rate", "ci_low",
                "ci_high", "p_value", "tie_policy", "sentence"} <= set(c)
        assert c["excluded_reasons"] == {"rater failed golden questions": c["excluded"]}
    assert s["inputs"][0]["sha256"] and s["provenance"]["packages"]["numpy"]
    assert s["ignored_result_columns"] == ["mystery"]
    html = (out / "report.html").read_text()
    assert "data:image/png;base64," in html and "<img" in html
    tex = (out / "table_ranking.tex").read_text()
    assert r"\toprule" in tex and r"\bottomrule" in tex and "hific/q1" in tex
    agr = pd.read_csv(out / "metric_agreement.csv")
    assert set(agr.metric) == {"psnr", "ssim"} and set(agr.level) == {"image", "comparison"}
    assert ((agr.agree <= agr.judged) & (agr.judged > 0)).all()
    md = (out / "report.md").read_text()
    assert "95% bootstrap CI" in md and "sha256" in md


def test_all_tie_study_is_reported_not_crash(tmp_path):
    df = pd.DataFrame({"methodA": ["x/1"] * 4, "methodB": ["y/1"] * 4,
                       "originalName": ["i1", "i2"] * 2, "answerValue": ["tie"] * 4})
    r = build_report(df, tmp_path / "o", n_boot=10)
    assert r.ranking is None
    assert "no preference" in r.summary["comparisons"][0]["sentence"]
    assert "No ranking" in (tmp_path / "o" / "report.md").read_text()


def test_bad_input_writes_nothing(tmp_path):
    df = pd.DataFrame({"methodA": ["x"], "methodB": ["y"], "originalName": ["i"],
                       "answerValue": ["maybe"]})
    with pytest.raises(VoteDataError, match="maybe"):
        build_report(df, tmp_path / "o", n_boot=10)
    assert not (tmp_path / "o").exists() or not list((tmp_path / "o").iterdir())


def test_cli(tmp_path, capsys, simulate):
    df = simulate({"a/1": 1400.0, "b/1": 1600.0, "c/1": 1500.0}, 2, 4, 10,
                  np.random.default_rng(0), tie_rate=0.1)
    df["answerValue"] = df["answerValue"].map({"A": "left", "B": "right", "tie": "same"})
    p = tmp_path / "v.csv"
    df.to_csv(p, index=False)
    rc = main(["report", str(p), "--out", str(tmp_path / "o"), "--rater", "who",
               "--answer-a", "left", "--answer-b", "right", "--answer-tie", "same",
               "--tie-policy", "split", "--bootstrap", "20", "--model", "thurstone"])
    assert rc == 0
    assert pd.read_csv(tmp_path / "o" / "ranking.csv").method.iloc[0] == "b/1"
    rc = main(["report", str(p), "--out", str(tmp_path / "o2"), "--bootstrap", "5"])
    assert rc == 1   # a generic CSV has no safe default answer convention
    assert "answer convention must be explicit" in capsys.readouterr().err
    rc = main(["report", str(p), "--out", str(tmp_path / "o2"), "--bootstrap", "5",
               "--answer-a", "A", "--answer-b", "B"])
    assert rc == 1
    assert "answerValue" in capsys.readouterr().err
