"""evalkit crops: exact pixels in the panels, the PNG and the PDF; titles; bad input."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from evalkit.cli import main
from evalkit.errors import FigureError, LayoutError
from evalkit.figures.crop_regions import Box, parse_box
from evalkit.figures.crops import build_crops, crop_panel, crops_figure, png_crop_rects, write_crops_figure

METHODS = ["jpeg/q10", "jpeg/q50", "webp/q30"]


def test_crop_panel_is_the_source_pixels_repeated():
    rng = np.random.default_rng(1)
    px = rng.integers(0, 256, (30, 40, 3), dtype=np.uint8)
    box = Box(7, 5, 11, 9)
    for s in (1, 2, 3):
        panel = crop_panel(px, box, s)
        assert panel.shape == (9 * s, 11 * s, 3) and panel.dtype == np.uint8
        for i in range(panel.shape[0]):
            for j in range(panel.shape[1]):
                assert (panel[i, j] == px[5 + i // s, 7 + j // s]).all()
    with pytest.raises(FigureError, match="must lie inside"):
        crop_panel(px, Box(35, 0, 10, 5), 2)


def _crop_set(layout, **kw):
    refs_dir, runs_dir, _, _ = layout
    kw.setdefault("boxes", [Box(10, 8, 16, 12), Box(40, 30, 16, 12)])
    return build_crops(refs_dir, runs_dir, "dots", METHODS, metrics=[], scale=3, **kw)


def test_png_figure_holds_the_exact_pixels(layout, tmp_path):
    _, _, refs, recons = layout
    cs = _crop_set(layout)
    out = tmp_path / "crops.png"
    write_crops_figure(cs, out)
    png = np.asarray(Image.open(out).convert("RGB"))
    rects = png_crop_rects(cs, png.shape[0])
    assert len(rects) == 2 * (1 + len(METHODS))
    for (r, c), (top, left, h, w) in rects.items():
        source = refs["dots"] if c == 0 else recons[(METHODS[c - 1], "dots")]
        box = cs.boxes[r]
        k = w // box.w  # crop scale x PNG pixels per figure pixel
        assert k % cs.scale == 0 and h == box.h * k
        expected = np.repeat(np.repeat(source[box.y:box.y + box.h, box.x:box.x + box.w], k, 0), k, 1)
        np.testing.assert_array_equal(png[top:top + h, left:left + w], expected)


def test_pdf_embeds_the_enlarged_crops_unsmoothed(layout, tmp_path):
    cs = _crop_set(layout)
    fig, _, shown = crops_figure(cs, vector=True)
    images = [im for ax in fig.axes for im in ax.images]
    crops = [im for im in images if im.get_interpolation() == "none"]
    assert len(crops) == len(shown) == 2 * (1 + len(METHODS))
    for (r, c), panel in shown.items():
        source = cs.reference if c == 0 else cs.methods[c - 1].pixels
        np.testing.assert_array_equal(panel, crop_panel(source, cs.boxes[r], cs.scale))
    assert any(np.array_equal(im.get_array(), shown[(0, 1)]) for im in crops)
    out = tmp_path / "crops.pdf"
    write_crops_figure(cs, out)
    pdf = out.read_bytes()
    assert b"/Interpolate true" not in pdf
    # each crop is one image XObject of exactly the enlarged size (not resampled to a dpi)
    sizes = re.findall(rb"/Subtype /Image /Width (\d+) /Height (\d+)", pdf)
    assert sizes.count((b"48", b"36")) == 2 * (1 + len(METHODS))


def test_titles_come_from_the_results_table(layout, tmp_path):
    refs_dir, runs_dir, _, _ = layout
    rows = [{"codec": m.split("/")[0], "setting": m.split("/")[1], "image": "dots", "width": 72,
             "height": 56, "bytes": 100, "bpp": 0.1234 + i, "psnr": 30.0 + i, "lpips": 0.05 * i}
            for i, m in enumerate(METHODS)]
    results = pd.DataFrame(rows)
    cs = build_crops(refs_dir, runs_dir, "dots", METHODS, boxes=[Box(0, 0, 8, 8)],
                     results=results)
    assert [dict(m.values) for m in cs.methods][1] == {"bpp": 1.1234, "psnr": 31.0, "lpips": 0.05}
    caption = cs.caption(cs.methods[2])
    assert caption.startswith("2.123 bpp · 32.00 dB · LPIPS 0.1000")
    with pytest.raises(FigureError, match="columns of the results"):
        build_crops(refs_dir, runs_dir, "dots", METHODS, boxes=[Box(0, 0, 8, 8)],
                    results=results, metrics=["dists"])
    with pytest.raises(FigureError, match="exactly one row"):
        build_crops(refs_dir, runs_dir, "ramp", METHODS, boxes=[Box(0, 0, 8, 8)], results=results)


def test_without_results_bpp_from_layout_and_psnr_computed(layout):
    refs_dir, runs_dir, refs, recons = layout
    cs = build_crops(refs_dir, runs_dir, "ramp", ["webp/q30"], boxes=[Box(0, 0, 8, 8)])
    values = dict(cs.methods[0].values)
    nbytes = (runs_dir / "webp" / "q30" / "ramp.bin").stat().st_size
    assert values["bpp"] == pytest.approx(nbytes * 8 / (72 * 56))
    mse = np.mean((refs["ramp"].astype(float) - recons[("webp/q30", "ramp")]) ** 2)
    assert values["psnr"] == pytest.approx(10 * np.log10(255 ** 2 / mse), rel=1e-6)


def test_cli_writes_pdf_png_html_and_sidecars(layout, tmp_path, capsys):
    refs_dir, runs_dir, _, _ = layout
    out = tmp_path / "fig" / "crops.pdf"
    assert main(["crops", "--refs", str(refs_dir), "--runs", str(runs_dir), "--image", "dots",
                 "--methods", ",".join(METHODS), "--auto", "2", "--size", "12x10",
                 "--metrics", "", "--out", str(out), "--format", "pdf", "--format", "png",
                 "--format", "html"]) == 0
    text = capsys.readouterr().out
    boxes = re.findall(r"--box (\S+)", text)
    assert len(boxes) == 2 and all(parse_box(b).w == 12 for b in boxes)
    for suffix in ("pdf", "png", "html"):
        assert (out.with_suffix("." + suffix)).is_file()
        assert (tmp_path / "fig" / f"crops.{suffix}.json").is_file()
    assert out.read_bytes()[:5] == b"%PDF-"


def _one_line_error(capsys, argv):
    assert main(argv) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("evalkit crops: error:") and "\n" not in err
    return err


def test_bad_input_is_one_line(layout, tmp_path, capsys):
    refs_dir, runs_dir, _, _ = layout
    base = ["crops", "--refs", str(refs_dir), "--runs", str(runs_dir), "--metrics", "",
            "--out", str(tmp_path / "x.pdf")]
    assert "must lie inside" in _one_line_error(
        capsys, base + ["--image", "dots", "--methods", "jpeg/q10", "--box", "60,50,20,20"])
    assert "x,y,w,h" in _one_line_error(
        capsys, base + ["--image", "dots", "--methods", "jpeg/q10", "--box", "1,2,3"])
    assert "'nope'" in _one_line_error(
        capsys, base + ["--image", "nope", "--methods", "jpeg/q10", "--box", "0,0,8,8"])
    assert "jpeg/q99" in _one_line_error(
        capsys, base + ["--image", "dots", "--methods", "jpeg/q99", "--box", "0,0,8,8"])
    assert "codec/setting" in _one_line_error(
        capsys, base + ["--image", "dots", "--methods", "jpeg", "--box", "0,0,8,8"])
    assert "non-overlapping" in _one_line_error(
        capsys, base + ["--image", "dots", "--methods", "jpeg/q10,webp/q30", "--auto", "5",
                        "--size", "40"])
    assert "same width and height" in _one_line_error(
        capsys, base + ["--image", "dots", "--methods", "jpeg/q10", "--box", "0,0,8,8",
                        "--box", "10,10,9,8"])
    assert ".pdf, .png, .svg or .html" in _one_line_error(
        capsys, base[:-1] + [str(tmp_path / "x.gif"), "--image", "dots", "--methods",
                             "jpeg/q10", "--box", "0,0,8,8"])
    assert not list(tmp_path.glob("x.*"))
    with pytest.raises(LayoutError, match="no such codec"):
        build_crops(refs_dir, runs_dir, "dots", ["avif/q1"], boxes=[Box(0, 0, 4, 4)], metrics=[])


def test_stand_in_weights_are_noted(layout, tmp_path, capsys):
    refs_dir, runs_dir, _, _ = layout
    rows = [{"codec": "jpeg", "setting": "q10", "image": "dots", "width": 72, "height": 56,
             "bytes": 100, "bpp": 0.2, "psnr": 30.0, "weights_verified": False}]
    res = tmp_path / "r.csv"
    pd.DataFrame(rows).to_csv(res, index=False)
    out = tmp_path / "c.pdf"
    assert main(["crops", "--refs", str(refs_dir), "--runs", str(runs_dir), "--image", "dots",
                 "--methods", "jpeg/q10", "--box", "0,0,8,8", "--results", str(res),
                 "--out", str(out)]) == 0
    assert "stand-in weights" in capsys.readouterr().err
    assert "stand-in weights" in (tmp_path / "c.pdf.json").read_text()
