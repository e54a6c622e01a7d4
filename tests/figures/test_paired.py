"""evalkit compare: paired statistics against scipy and a hand count, figures, bad input."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy.stats import wilcoxon

from evalkit.cli import main
from evalkit.errors import FigureError
from evalkit.evaluate.results import write_table
from evalkit.figures.paired import paired_figure, paired_stats


def _results(tmp_path=None):
    rng = np.random.default_rng(5)
    rows = []
    images = [f"img{i:02d}" for i in range(14)]
    for codec, setting, shift in (("hific", "mi", 0.0), ("anf", "low", 0.01)):
        for i, name in enumerate(images):
            if codec == "anf" and name == "img13":
                continue  # only hific has it
            rows.append({"codec": codec, "setting": setting, "image": name, "width": 64,
                         "height": 48, "bytes": 100 + i, "bpp": 0.2,
                         "psnr": 30 + rng.normal(), "lpips": 0.1 + shift + 0.02 * rng.normal()})
    rows.append({"codec": "anf", "setting": "low", "image": "extra", "width": 64, "height": 48,
                 "bytes": 10, "bpp": 0.2, "psnr": 31.0, "lpips": 0.2})
    df = pd.DataFrame(rows)
    if tmp_path is not None:
        write_table(df, tmp_path / "results.csv")
    return df


def test_stats_match_scipy_and_a_hand_count():
    df = _results()
    # a tie on one image
    tie = df[(df.codec == "hific") & (df.image == "img04")].index[0]
    df.loc[tie, "lpips"] = df[(df.codec == "anf") & (df.image == "img04")]["lpips"].iloc[0]
    for metric, higher in (("lpips", False), ("psnr", True)):
        stats, table = paired_stats(df, metric, "hific/mi", "anf/low")
        a = df[df.codec == "hific"].set_index("image")[metric]
        b = df[df.codec == "anf"].set_index("image")[metric]
        common = sorted(set(a.index) & set(b.index))
        assert stats.n == len(common) == 13 and list(table["image"].sort_values()) == common
        d = np.array([a[i] - b[i] for i in common])
        wins_a = sum(1 for x in d if (x > 0 if higher else x < 0))
        wins_b = sum(1 for x in d if (x < 0 if higher else x > 0))
        assert (stats.wins_a, stats.wins_b, stats.ties) == (wins_a, wins_b, int((d == 0).sum()))
        assert stats.mean_diff == pytest.approx(d.mean(), rel=1e-12)
        ref = wilcoxon([a[i] for i in common], [b[i] for i in common])
        assert stats.wilcoxon_statistic == ref.statistic and stats.p_value == ref.pvalue
        assert stats.dropped == {"hific/mi": ["img13"], "anf/low": ["extra"]}
        assert list(table["diff"]) == sorted(table["diff"])
    assert stats.higher_is_better and "better on" in stats.caption()
    lp, _ = paired_stats(df, "lpips", "hific/mi", "anf/low")
    assert lp.ties == 1 and not lp.higher_is_better and lp.wins_a > lp.wins_b  # hific lower LPIPS
    assert f"p = {lp.p_value:.3g}" in lp.caption() and "13 images" in lp.caption()


def test_no_test_without_differences():
    df = _results()
    same = df.copy()
    same.loc[same.codec == "anf", "psnr"] = same.loc[same.codec == "anf", "image"].map(
        df[df.codec == "hific"].set_index("image")["psnr"])
    stats, _ = paired_stats(same, "psnr", "hific/mi", "anf/low")
    assert stats.ties == 13 and np.isnan(stats.p_value) and "no test" in stats.caption()


def test_cli_figures_csv_and_warnings(tmp_path, capsys):
    _results(tmp_path)
    res = str(tmp_path / "results.csv")
    for kind in ("bars", "scatter"):
        out = tmp_path / f"{kind}.pdf"
        assert main(["compare", res, "--metric", "lpips", "--a", "hific/mi", "--b", "anf/low",
                     "--kind", kind, "--out", str(out), "--format", "pdf", "--format", "png",
                     "--csv", str(tmp_path / f"{kind}.csv")]) == 0
        assert out.read_bytes()[:5] == b"%PDF-" and out.with_suffix(".png").is_file()
        captured = capsys.readouterr()
        assert "left out 1 images only hific/mi has: img13" in captured.err
        assert "left out 1 images only anf/low has: extra" in captured.err
        sidecar = json.loads((tmp_path / f"{kind}.pdf.json").read_text())
        assert sidecar["stats"]["n"] == 13
    table = pd.read_csv(tmp_path / "bars.csv")
    assert list(table.columns) == ["image", "hific/mi", "anf/low", "diff"] and len(table) == 13


def test_figure_labels_every_image():
    stats, table = paired_stats(_results(), "psnr", "hific/mi", "anf/low")
    fig = paired_figure(stats, table, kind="bars")
    labels = [t.get_text() for t in fig.axes[0].get_xticklabels()]
    assert labels == list(table["image"])
    fig = paired_figure(stats, table, kind="scatter")
    texts = {t.get_text() for t in fig.axes[0].texts}
    assert set(table["image"]) <= texts


def test_many_images_keep_a_page_wide_figure():
    """430 images (CLIC test): the bar figure stays page-wide; names move to the table."""
    rng = np.random.default_rng(0)
    rows = [{"codec": c, "setting": "s", "image": f"i{i:03d}", "width": 8, "height": 8,
             "bytes": 10, "bpp": 1.25, "psnr": 30 + rng.normal()}
            for c in ("a", "b") for i in range(430)]
    stats, table = paired_stats(pd.DataFrame(rows), "psnr", "a/s", "b/s")
    fig = paired_figure(stats, table, kind="bars")
    assert fig.get_size_inches()[0] <= 10.0
    ax = fig.axes[0]
    assert not [t.get_text() for t in ax.get_xticklabels() if t.get_text()]
    assert "430 images" in ax.get_xlabel()
    assert len(ax.patches) == 2 * 430


@pytest.mark.parametrize("argv,message", [
    (["--metric", "lpips", "--a", "hific/mi", "--b", "vtm/q1"], "'vtm/q1' is not in the results"),
    (["--metric", "lpips", "--a", "hific", "--b", "anf/low"], "codec/setting"),
    (["--metric", "dists", "--a", "hific/mi", "--b", "anf/low"], "dists"),
    (["--metric", "lpips", "--a", "anf/low", "--b", "anf/low"], "two different methods"),
    (["--metric", "bpp", "--a", "hific/mi", "--b", "anf/low"], "no quality metric"),
    (["--metric", "psnr", "--a", "hific/mi", "--b", "anf/low", "--format", "png"], "needs --out"),
])
def test_bad_input_is_one_line(tmp_path, capsys, argv, message):
    _results(tmp_path)
    assert main(["compare", str(tmp_path / "results.csv"), *argv]) == 1
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and message in err and err.startswith("evalkit compare: error:")


def test_no_common_image(tmp_path):
    df = _results()
    df = df[~((df.codec == "anf") & (df.image != "extra"))]
    with pytest.raises(FigureError, match="no image"):
        paired_stats(df, "psnr", "hific/mi", "anf/low")


def test_stand_in_weights_are_named_in_the_caption():
    df = _results()
    stats, _ = paired_stats(df, "lpips", "hific/mi", "anf/low")
    assert "stand-in" not in stats.caption()
    df["weights_verified"] = True
    df.loc[df.index[0], "weights_verified"] = False
    stats, _ = paired_stats(df, "lpips", "hific/mi", "anf/low")
    assert "stand-in weights" in stats.caption()
