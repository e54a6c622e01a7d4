"""Reports compare like with like: explicit answer conventions, results that match the votes,
per-method bpp over the same (voted) images or from a ``--bpp`` file, empty outputs that say why."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from evalkit.cli import main
from evalkit.errors import VoteDataError
from reports.bitrate import method_bpp, read_bpp_file
from reports.build import build_report
from reports.votes import ColumnMapping

ELO = {"q30": 1300.0, "q50": 1450.0, "q70": 1600.0, "q90": 1750.0}


def mucped_like(rng) -> pd.DataFrame:
    """mucped23's shape and convention: the letter names the option NOT chosen."""
    rows = []
    names = list(ELO)
    for i in range(600):
        a, b = rng.choice(len(names), 2, replace=False)
        ma, mb = names[a], names[b]
        p_a = 1 / (1 + 10 ** ((ELO[mb] - ELO[ma]) / 400))
        a_wins = rng.random() < p_a
        rows.append({"methodA": ma, "methodB": mb, "originalName": f"img{i % 7}",
                     "answerValue": "B" if a_wins else "A"})
    return pd.DataFrame(rows)


def test_mucped23_shape_needs_a_convention_and_then_ranks_right(tmp_path, capsys):
    p = tmp_path / "answers.csv"
    mucped_like(np.random.default_rng(0)).to_csv(p, index=False)
    assert main(["report", str(p), "--out", str(tmp_path / "bad"), "--bootstrap", "5"]) == 1
    err = capsys.readouterr().err
    assert "answer convention must be explicit" in err and "--answer-a B --answer-b A" in err
    assert not (tmp_path / "bad").exists()
    # README's example, as written
    assert main(["report", str(p), "--a", "methodA", "--b", "methodB", "--item", "originalName",
                 "--answer", "answerValue", "--answer-a", "B", "--answer-b", "A",
                 "--out", str(tmp_path / "rep"), "--bootstrap", "20"]) == 0
    ranking = pd.read_csv(tmp_path / "rep" / "ranking.csv")
    assert list(ranking["method"]) == ["q90", "q70", "q50", "q30"]


def results_for(methods, images, bpp_of, missing=()):
    rows = []
    for m in methods:
        codec, setting = m.split("/")
        for k, img in enumerate(images):
            if (m, img) in missing:
                continue
            rows.append({"codec": codec, "setting": setting, "image": img, "width": 8,
                         "height": 8, "bytes": 10, "bpp": bpp_of[m] * (1 + 0.5 * k),
                         "psnr": 30.0 + bpp_of[m] + k})
    return pd.DataFrame(rows)


def test_method_bpp_over_common_voted_images():
    bpp_of = {"a/1": 0.2, "b/1": 0.4}
    res = results_for(bpp_of, ["i0", "i1", "i2"], bpp_of, missing={("b/1", "i2")})
    table = res.assign(method=res["codec"] + "/" + res["setting"])
    mb = method_bpp(table, ["a/1", "b/1"])
    assert mb.images == 2 and mb.dropped == {"i2": ["b/1"]}
    # independent: mean over i0, i1 only
    assert mb.bpp["a/1"] == pytest.approx(np.mean([0.2, 0.3]))
    assert mb.bpp["b/1"] == pytest.approx(np.mean([0.4, 0.6]))
    assert "left out 1: i2" in mb.note()
    only_voted = method_bpp(table, ["a/1", "b/1"], items={"i1"})
    assert only_voted.images == 1 and only_voted.bpp["a/1"] == pytest.approx(0.3)


def votes_for(methods, items, rng, n=120):
    rows = []
    for i in range(n):
        a, b = rng.choice(len(methods), 2, replace=False)
        rows.append({"methodA": methods[a], "methodB": methods[b],
                     "originalName": items[i % len(items)],
                     "answerValue": "A" if rng.random() < 0.5 + 0.1 * (a - b) else "B"})
    return pd.DataFrame(rows)


def test_results_matching_no_voted_method_is_an_error(tmp_path):
    votes = tmp_path / "votes.csv"
    votes_for(["x/1", "y/1"], ["i0"], np.random.default_rng(1)).to_csv(votes, index=False)
    res = tmp_path / "results.csv"
    results_for(["a/1"], ["i0"], {"a/1": 0.3}).to_csv(res, index=False)
    with pytest.raises(VoteDataError, match=r"results\.csv must name the voted methods of "
                                            r".*votes\.csv.*votes have x/1, y/1; results have a/1"):
        build_report(votes, tmp_path / "o", results=res, n_boot=5,
                     mapping=ColumnMapping())


def test_bpp_file_feeds_figure_and_savings_and_empty_savings_say_why(tmp_path):
    methods = ["jpeg/q30", "jpeg/q70", "webp/q30", "webp/q70"]
    votes = tmp_path / "votes.csv"
    votes_for(methods, ["i0", "i1", "i2"], np.random.default_rng(2), n=400).to_csv(votes,
                                                                                  index=False)
    bppf = tmp_path / "bpp.csv"
    pd.DataFrame({"method": methods, "bpp": [0.3, 0.9, 0.25, 0.7],
                  "elo": [1, 2, 3, 4]}).to_csv(bppf, index=False)
    assert read_bpp_file(bppf).bpp["webp/q70"] == pytest.approx(0.7)
    r = build_report(votes, tmp_path / "rep", bpp=bppf, n_boot=20, mapping=ColumnMapping())
    assert "ranking_vs_bpp.png" in r.files
    assert r.summary["bitrate"]["images"] is None and "bpp.csv" in r.summary["bitrate"]["bpp"]
    sav = pd.read_csv(tmp_path / "rep" / "bitrate_savings.csv")
    assert list(zip(sav["reference"], sav["test"])) == [("jpeg", "webp")]
    # one method per family: nothing to compare, and every output says so
    r = build_report(votes, tmp_path / "rep2", bpp=bppf, n_boot=20, mapping=ColumnMapping(),
                     families={m: m for m in methods})
    sav = pd.read_csv(tmp_path / "rep2" / "bitrate_savings.csv")
    assert sav.empty
    note = json.loads((tmp_path / "rep2" / "bitrate_savings.csv.json").read_text())["note"]
    assert "two codec families with at least 2 ranked methods" in note
    assert "No bitrate saving table: a saving needs" in (tmp_path / "rep2" / "report.md").read_text()
    assert r.summary["bitrate"]["savings_note"] == note


def test_bpp_file_errors(tmp_path):
    bad = tmp_path / "b.csv"
    pd.DataFrame({"name": ["a"], "bpp": [0.1]}).to_csv(bad, index=False)
    with pytest.raises(VoteDataError, match="must have columns method and bpp; missing method"):
        read_bpp_file(bad)
    pd.DataFrame({"method": ["a", "b"], "bpp": [0.1, -1]}).to_csv(bad, index=False)
    with pytest.raises(VoteDataError, match="bpp must be a positive number.*b"):
        read_bpp_file(bad)


def test_stand_in_results_are_flagged_in_the_report(tmp_path):
    methods = ["a/1", "b/1"]
    votes = tmp_path / "votes.csv"
    votes_for(methods, ["i0", "i1"], np.random.default_rng(3), n=60).to_csv(votes, index=False)
    res = results_for(methods, ["i0", "i1"], {"a/1": 0.2, "b/1": 0.4})
    res["weights_verified"] = False
    path = tmp_path / "results.csv"
    res.to_csv(path, index=False)
    r = build_report(votes, tmp_path / "rep", results=path, n_boot=5, mapping=ColumnMapping())
    assert r.summary["stand_in_weights"] is True
    assert "WARNING: the metric values were computed with stand-in weights" in \
        (tmp_path / "rep" / "report.md").read_text()
    side = json.loads((tmp_path / "rep" / "metric_agreement.csv.json").read_text())
    assert "stand-in weights" in side["note"]
