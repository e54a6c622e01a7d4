"""RD plots (files written, references overlaid) and CompressAI JSON reading/writing."""

from __future__ import annotations

import json

import numpy as np
import pytest

from evalkit.cli import main
from evalkit.errors import RDError
from evalkit.rd import (
    curve_from_table,
    load_reference,
    plot_rd,
    rd_points,
    read_compressai_json,
    write_compressai_json,
)
from evalkit.rd.plot import axis_label


@pytest.fixture
def reference_json(tmp_path):
    doc = {"name": "Published", "description": "test curve",
           "results": {"bpp": [0.3, 0.6, 1.2], "psnr-rgb": [29.0, 32.0, 35.0],
                       "lpips": [0.2, 0.12, 0.07], "fid": [30, 20, 10],
                       "encoding_time": [1, 2], "notes": "extra"}}
    path = tmp_path / "pub.json"
    path.write_text(json.dumps(doc))
    return path


def test_read_tolerates_extra_and_missing_keys(reference_json):
    c = read_compressai_json(reference_json)
    assert c.name == "Published" and c.bpp == (0.3, 0.6, 1.2)
    assert set(c.metrics) == {"psnr", "lpips", "fid"}        # wrong-length/non-list ignored
    assert "ms_ssim" not in c.metrics


def test_bad_json_files(tmp_path):
    (tmp_path / "a.json").write_text("{not json")
    with pytest.raises(RDError, match="cannot read CompressAI JSON"):
        read_compressai_json(tmp_path / "a.json")
    (tmp_path / "b.json").write_text('{"results": {"psnr-rgb": [1]}}')
    with pytest.raises(RDError, match="must hold"):
        read_compressai_json(tmp_path / "b.json")


def test_write_round_trip(table, tmp_path):
    path = write_compressai_json(table, "better", tmp_path / "better.json", metrics=["psnr", "ms_ssim"])
    doc = json.loads(path.read_text())
    assert set(doc["results"]) == {"bpp", "psnr-rgb", "ms-ssim-rgb"}
    back = read_compressai_json(path)
    pts = rd_points(table, "psnr", codecs=["better"])
    np.testing.assert_allclose(back.bpp, pts["bpp"])
    np.testing.assert_allclose(back.metrics["psnr"], pts["value"])
    assert list(back.bpp) == sorted(back.bpp)
    with pytest.raises(RDError, match="codec must be in the table"):
        curve_from_table(table, "nope")


def test_named_reference_is_the_shipped_curve():
    """A name resolves to the JSON file the core ships (no baselines import needed)."""
    from evalkit.rd.reference_curves import DATA_DIR

    path = DATA_DIR / "compressai-kodak" / "jpeg.json"
    raw = json.loads(path.read_text())
    curve = load_reference("compressai-kodak/jpeg")
    assert curve.name == raw["name"]
    order = np.argsort(raw["results"]["bpp"])
    np.testing.assert_array_equal(curve.bpp, np.asarray(raw["results"]["bpp"])[order])
    np.testing.assert_array_equal(curve.metrics["psnr"],
                                  np.asarray(raw["results"]["psnr-rgb"])[order])
    import baselines.published

    assert baselines.published.resolve_reference("compressai-kodak/jpeg") == path


def test_unknown_named_reference_lists_the_shipped_ones():
    with pytest.raises(RDError, match="published curve name, got 'pub/x'.*compressai-kodak/jpeg"):
        load_reference("pub/x")


def test_points_pooling_and_ms_ssim_db(table):
    mean = rd_points(table, "ms_ssim", ms_ssim_db=True)
    raw = rd_points(table, "ms_ssim")
    np.testing.assert_allclose(mean["value"], -10 * np.log10(1 - raw["value"]))
    clic = rd_points(table, "psnr", pooling="clic")
    assert (clic["bpp"] != rd_points(table, "psnr")["bpp"]).any()   # bpp_agg vs mean bpp
    assert list(clic.groupby("codec")["bpp"].apply(lambda s: s.is_monotonic_increasing)) == [True] * 3
    with pytest.raises(RDError, match="metric must be a column"):
        rd_points(table, "dists")


def test_labels():
    assert axis_label("lpips") == "LPIPS ↓"
    assert axis_label("psnr") == "PSNR [dB] ↑"
    assert axis_label("ms_ssim") == "MS-SSIM ↑"
    assert axis_label("ms_ssim", ms_ssim_db=True) == "MS-SSIM [dB] ↑"
    assert axis_label("niqe") == "NIQE"   # not a registered metric: no direction claimed


def test_plot_files(table, tmp_path, reference_json):
    paths = plot_rd(table, ["psnr", "lpips"], tmp_path / "rd.png", references=[reference_json],
                    formats=("png", "pdf"))
    assert [p.rsplit(".", 1)[1] for p in paths] == ["png", "pdf"]
    assert (tmp_path / "rd.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (tmp_path / "rd.pdf").read_bytes()[:5] == b"%PDF-"
    fig = plot_rd(table, ["psnr", "ms_ssim"], None, references=[reference_json], ms_ssim_db=True)
    left, right = fig.axes
    assert [t.get_text() for t in left.get_legend().get_texts()] == \
        ["anchor", "better", "worse", "Published (pub.json)"]
    assert len(right.get_lines()) == 3            # the reference has no MS-SSIM: skipped there
    assert right.get_ylabel() == "MS-SSIM [dB] ↑"


def test_cli(results_csv, tmp_path, reference_json, capsys):
    assert main(["rd", str(results_csv), "--metric", "psnr", "--metric", "ms_ssim",
                 "--ms-ssim-db", "--out", str(tmp_path / "rd.pdf"), "--reference",
                 str(reference_json), "--export-compressai", str(tmp_path / "json")]) == 0
    assert (tmp_path / "rd.pdf").stat().st_size > 1000 and (tmp_path / "rd.pdf.json").is_file()
    assert sorted(p.name for p in (tmp_path / "json").iterdir()) == \
        ["anchor.json", "better.json", "worse.json"]
    capsys.readouterr()
    assert main(["rd", str(results_csv), "--out", str(tmp_path / "x.png"),
                 "--reference", str(tmp_path / "missing.json")]) == 1
    assert "missing.json" in capsys.readouterr().err
