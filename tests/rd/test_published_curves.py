"""Published curves as BD anchors/tests and RD overlays; common image sets; readable headers.

BD-rates are checked against a Bjontegaard integration written here with scipy's PCHIP
(log-rate as a function of quality, averaged over the overlapping quality range), not the
``bjontegaard`` package evalkit calls.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.interpolate import PchipInterpolator

from evalkit.cli import main
from evalkit.errors import RDError
from evalkit.rd import bd_table, format_bd_table, load_reference, plot_rd
from evalkit.rd.imageset import ImageSetWarning, common_images
from evalkit.rd.labels import bd_headers, reference_label


def bd_rate_pchip(r_a, q_a, r_t, q_t) -> float:
    """Classic Bjontegaard BD-rate (%) with PCHIP of log10(rate) over quality."""
    oa, ot = np.argsort(q_a), np.argsort(q_t)
    fa = PchipInterpolator(np.asarray(q_a)[oa], np.log10(np.asarray(r_a))[oa])
    ft = PchipInterpolator(np.asarray(q_t)[ot], np.log10(np.asarray(r_t))[ot])
    lo, hi = max(min(q_a), min(q_t)), min(max(q_a), max(q_t))
    ia = fa.integrate(lo, hi)
    it = ft.integrate(lo, hi)
    return float((10 ** ((it - ia) / (hi - lo)) - 1) * 100)


def table_of(curve, codec="mine", images=("img_a", "img_b")) -> pd.DataFrame:
    """A results table whose per-image values equal the curve's points (so its mean is them)."""
    rows = []
    for k, (b, q) in enumerate(zip(curve.bpp, curve.metrics["psnr"])):
        for image in images:
            rows.append({"codec": codec, "setting": f"s{k}", "image": image, "width": 64,
                         "height": 64, "bytes": pd.NA, "bpp": b, "psnr": q,
                         "ms_ssim": curve.metrics["ms_ssim"][k]})
    df = pd.DataFrame(rows)
    df["bytes"] = df["bytes"].astype("Int64")
    return df


def test_published_anchor_matches_independent_pchip():
    jpeg = load_reference("compressai-kodak/jpeg")
    vtm = load_reference("compressai-kodak/vtm")
    df = bd_table(None, "compressai-kodak/jpeg", ["psnr"], references=["compressai-kodak/vtm"])
    want = bd_rate_pchip(jpeg.bpp, jpeg.metrics["psnr"], vtm.bpp, vtm.metrics["psnr"])
    assert df["bd_rate"].iloc[0] == pytest.approx(want, abs=0.05)
    assert -80 < want < -40          # VTM needs far fewer bits than JPEG (sanity, not the test)


def test_table_codec_against_published_anchor():
    vtm = load_reference("compressai-kodak/vtm")
    table = table_of(vtm, "mine")
    df = bd_table(table, "compressai-kodak/vtm", ["psnr", "ms_ssim"])
    # the same points as the anchor: no difference at all
    assert df["bd_rate"].abs().max() < 1e-6 and df["bd_metric"].abs().max() < 1e-6
    assert list(df["images"]) == [2, 2]
    # and as test against a table anchor, the published curve enters with its own name
    jpeg = load_reference("compressai-kodak/jpeg")
    df = bd_table(table_of(jpeg, "jpeg-compressai"), "jpeg-compressai", ["psnr"],
                  references=["compressai-kodak/vtm"])
    assert list(df["codec"]) == ["compressai-kodak/vtm"] and np.isnan(df["images"].iloc[0])
    want = bd_rate_pchip(jpeg.bpp, jpeg.metrics["psnr"], vtm.bpp, vtm.metrics["psnr"])
    assert df["bd_rate"].iloc[0] == pytest.approx(want, abs=0.05)


def test_published_curves_need_mean_pooling_and_known_names(table):
    with pytest.raises(RDError, match="published curves are means.*--pooling mean"):
        bd_table(table, "compressai-kodak/vtm", pooling="clic")
    with pytest.raises(RDError, match=r"anchor must be .*compressai-kodak/vtm.*got 'vtm'"):
        bd_table(table, "vtm")
    with pytest.raises(RDError, match="has no 'lpips' values"):
        bd_table(table, "compressai-kodak/vtm", ["lpips"])


def test_common_images_only_and_warned(table):
    part = table[~((table["codec"] == "worse") & (table["setting"] == "s1")
                   & (table["image"] == "img_b"))]
    with pytest.warns(ImageSetWarning, match=r"over the 1 image.*img_b \(missing from worse/s1\)"):
        got = bd_table(part, "anchor", ["psnr"])
    want = bd_table(table[table["image"] == "img_a"], "anchor", ["psnr"])
    pd.testing.assert_series_equal(got["bd_rate"], want["bd_rate"])
    assert list(got["images"]) == [1, 1]
    res = common_images(part, ["anchor", "better"])   # worse not compared: nothing dropped
    assert res.images == 2 and res.dropped == {}


def test_headers_name_metric_unit_anchor_direction(table):
    assert bd_headers("psnr", "jpeg") == ("BD-rate PSNR vs jpeg [%] ↓", "BD-PSNR vs jpeg [dB] ↑")
    assert bd_headers("ms_ssim", "jpeg", ms_ssim_db=True)[0] == "BD-rate MS-SSIM [dB] vs jpeg [%] ↓"
    assert bd_headers("lpips", "jpeg")[1] == "BD-LPIPS vs jpeg ↓"
    lin = bd_table(table, "anchor", ["ms_ssim"])
    db = bd_table(table, "anchor", ["ms_ssim"], ms_ssim_db=True)
    assert "BD-rate MS-SSIM vs anchor [%] ↓" in format_bd_table(lin)
    assert "BD-rate MS-SSIM [dB] vs anchor [%] ↓" in format_bd_table(db)


def test_reference_labels_name_source_and_objective():
    assert reference_label("compressai-kodak/compressai-mbt2018-mean_mse") == \
        "mbt2018-mean (CompressAI, MSE)"
    assert reference_label("compressai-kodak/compressai-mbt2018-mean_ms-ssim") == \
        "mbt2018-mean (CompressAI, MS-SSIM)"
    assert reference_label("compressai-kodak/vtm", "VTM") == "VTM (CompressAI)"
    assert reference_label("hific-kodak", "HiFiC").startswith("HiFiC (Mentzer et al. 2020")


def test_plot_labels_styles_limits(table):
    fig = plot_rd(table, ["psnr"], None, codecs=["better", "anchor"],
                  references=["compressai-kodak/compressai-mbt2018-mean_mse",
                              "compressai-kodak/compressai-mbt2018-mean_ms-ssim"],
                  labels={"better": "Ours"}, styles={"better": "black,s"},
                  xlim=(0.1, 1.0), ylim={"psnr": (20, 40)}, log_bpp=True)
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["Ours", "anchor", "mbt2018-mean (CompressAI, MSE)",
                      "mbt2018-mean (CompressAI, MS-SSIM)"]
    assert ax.get_legend().get_title().get_text() == "over 2 images"
    ours = ax.get_lines()[0]
    assert ours.get_color() == "black" and ours.get_marker() == "s"
    assert ax.get_xscale() == "log" and ax.get_xlim() == pytest.approx((0.1, 1.0))
    assert ax.get_ylim() == pytest.approx((20, 40))
    assert ax.get_ylabel() == "PSNR [dB] ↑"
    with pytest.raises(RDError, match="labels must name drawn codecs or references, got unknown x"):
        plot_rd(table, ["psnr"], None, labels={"x": "y"})
    with pytest.raises(RDError, match="style marker must be a matplotlib marker"):
        plot_rd(table, ["psnr"], None, styles={"better": "red,notamarker"})


def test_cli_bd_and_rd_with_published(results_csv, tmp_path, capsys):
    assert main(["bd", str(results_csv), "--anchor", "compressai-kodak/vtm",
                 "--codecs", "worse,anchor"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].startswith("| Codec | BD-rate PSNR vs compressai-kodak/vtm [%] ↓")
    assert lines[2].startswith("| worse |") and lines[3].startswith("| anchor |")
    assert main(["bd", "--anchor", "compressai-kodak/jpeg", "--reference",
                 "compressai-kodak/vtm", "--format", "csv", "--out", str(tmp_path / "b.csv")]) == 0
    assert (tmp_path / "b.csv.json").is_file()
    assert main(["rd", str(results_csv), "--out", str(tmp_path / "rd.png"), "--reference",
                 "compressai-kodak/vtm", "--label", "anchor=JPEG (ours)", "--style",
                 "anchor=C3,^", "--xlim", "0.1,2", "--ylim", "psnr=20,40", "--log-bpp"]) == 0
    assert (tmp_path / "rd.png").is_file()
    assert main(["rd", str(results_csv), "--out", str(tmp_path / "x.png"), "--xlim", "2,1"]) == 1
    assert "--xlim must have LO < HI" in capsys.readouterr().err
    assert main(["rd", str(results_csv), "--out", str(tmp_path / "x.png"), "--label", "a"]) == 1
    assert "--label must look like CODEC=VALUE" in capsys.readouterr().err
