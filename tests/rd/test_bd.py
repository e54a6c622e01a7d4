"""BD-rate / BD-metric: identical to the bjontegaard package, with reader-expected signs."""

from __future__ import annotations

import math
import warnings

import bjontegaard
import pytest

from evalkit.cli import main
from evalkit.errors import RDError
from evalkit.rd import BDOverlapWarning, bd_pair, bd_table, format_bd_table, rd_points


@pytest.mark.parametrize("method", ["pchip", "akima", "cubic"])
def test_matches_bjontegaard_package_exactly(table, method):
    df = bd_table(table, "anchor", ["psnr", "ms_ssim"], method=method)
    for metric in ("psnr", "ms_ssim"):
        pts = rd_points(table, metric)
        a, t = pts[pts.codec == "anchor"], pts[pts.codec == "better"]
        row = df[(df.codec == "better") & (df.metric == metric)].iloc[0]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ref_rate = bjontegaard.bd_rate(a.bpp, a.value, t.bpp, t.value, method=method,
                                           require_matching_points=False)
            ref_metric = bjontegaard.bd_psnr(a.bpp, a.value, t.bpp, t.value, method=method,
                                             require_matching_points=False)
        assert row.bd_rate == ref_rate
        assert row.bd_metric == ref_metric


def test_known_rate_ratio_and_signs(table):
    df = bd_table(table, "anchor", ["psnr", "lpips"]).set_index(["codec", "metric"])
    # 'better' needs 80% of the bits at equal quality: BD-rate -20%, whatever the metric
    for metric in ("psnr", "lpips"):
        assert df.loc[("better", metric), "bd_rate"] == pytest.approx(-20.0, abs=0.6)
        assert df.loc[("worse", metric), "bd_rate"] == pytest.approx(50.0, abs=1.0)
    # BD-metric in the metric's own units: better codec -> higher PSNR, LOWER LPIPS
    assert df.loc[("better", "psnr"), "bd_metric"] > 0
    assert df.loc[("better", "lpips"), "bd_metric"] < 0
    assert df.loc[("worse", "lpips"), "bd_metric"] > 0


def test_lower_is_better_equals_package_on_negated_metric(table):
    pts = rd_points(table, "lpips")
    a, t = pts[pts.codec == "anchor"], pts[pts.codec == "better"]
    rate, delta = bd_pair(a.bpp, a.value, t.bpp, t.value, higher_is_better=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert rate == bjontegaard.bd_rate(a.bpp, -a.value, t.bpp, -t.value, method="pchip",
                                           require_matching_points=False)
        assert delta == -bjontegaard.bd_psnr(a.bpp, -a.value, t.bpp, -t.value, method="pchip",
                                             require_matching_points=False)


def test_self_comparison_is_zero():
    r, q = [0.2, 0.4, 0.8, 1.6], [28.0, 31.0, 34.5, 38.0]
    rate, delta = bd_pair(r, q, r, q)
    assert rate == pytest.approx(0.0, abs=1e-10) and delta == pytest.approx(0.0, abs=1e-10)


def test_small_and_no_overlap_warn_and_nan():
    ar, aq = [0.1, 0.2, 0.4, 0.8], [25.0, 28.0, 31.0, 34.0]
    import pandas as pd

    def tbl(test_q):
        rows = [{"codec": c, "setting": f"s{i}", "bpp": r, "psnr": q}
                for c, qs in (("a", aq), ("t", test_q)) for i, (r, q) in enumerate(zip(ar, qs))]
        return pd.DataFrame(rows)

    with pytest.warns(BDOverlapWarning, match="overlap only"):
        row = bd_table(tbl([32.0, 33.0, 35.0, 37.0]), "a").iloc[0]
    assert row.overlap_quality == pytest.approx(2 / 12) and not math.isnan(row.bd_rate)
    with pytest.warns(BDOverlapWarning):
        row = bd_table(tbl([40.0, 41.0, 42.0, 43.0]), "a").iloc[0]
    assert math.isnan(row.bd_rate) and not math.isnan(row.bd_metric)


def test_errors():
    with pytest.raises(RDError, match="method must be one of"):
        bd_pair([1, 2], [1, 2], [1, 2], [1, 2], method="linear")
    with pytest.raises(RDError, match="at least 2 points"):
        bd_pair([1], [1], [1, 2], [1, 2])
    with pytest.raises(RDError, match="increase strictly"):
        bd_pair([1, 2, 3], [30, 29, 31], [1, 2], [1, 2])


def test_unknown_anchor(table):
    with pytest.raises(RDError, match=r"anchor must be a codec of the results table "
                       r"\(anchor, .*\), a published curve .*compressai-kodak/vtm.*got .vtm."):
        bd_table(table, "vtm")


def test_formats_and_cli(table, results_csv, tmp_path, capsys):
    df = bd_table(table, "anchor", ["psnr"])
    md = format_bd_table(df, "markdown")
    assert md.splitlines()[0] == ("| Codec | BD-rate PSNR vs anchor [%] ↓ | "
                                  "BD-PSNR vs anchor [dB] ↑ | images |")
    assert "| better | -" in md
    tex = format_bd_table(df, "latex")
    assert "\\toprule" in tex and "BD-rate PSNR vs anchor [\\%] $\\downarrow$" in tex
    assert main(["bd", str(results_csv), "--anchor", "anchor", "--metric", "psnr",
                 "--metric", "lpips", "--format", "csv"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == ("codec,BD-rate PSNR vs anchor [%] ↓,BD-PSNR vs anchor [dB] ↑,"
                                   "BD-rate LPIPS vs anchor [%] ↓,BD-LPIPS vs anchor ↓,images")
    assert main(["bd", str(results_csv), "--anchor", "nope"]) == 1
    assert "anchor must be a codec" in capsys.readouterr().err
    assert main(["bd", str(results_csv), "--anchor", "anchor", "--out",
                 str(tmp_path / "bd.md")]) == 0
    assert (tmp_path / "bd.md").read_text() == format_bd_table(df, "markdown")
    assert (tmp_path / "bd.md.json").is_file()
