"""The per-image paper table: rows, bold best per image, markdown / booktabs LaTeX / CSV."""

from __future__ import annotations

import io

import pandas as pd
import pytest

from evalkit.cli import main
from evalkit.errors import ResultsError
from evalkit.paper_table import paper_table, paper_table_frame


def test_frame_and_bold_cells(table):
    df, bold = paper_table_frame(table, codecs=["better/s2", "anchor/s1", "worse/s0"],
                                 metrics=["psnr", "lpips"])
    assert list(df.columns) == ["image", "codec", "setting", "bpp", "psnr", "lpips"]
    assert len(df) == 6 and list(df["image"]) == ["img_a"] * 3 + ["img_b"] * 3
    # rows follow the order --codecs gave, not the alphabet
    assert list(df["codec"]) == ["better", "anchor", "worse"] * 2
    for image, g in df.groupby("image"):
        assert set(g.index) & bold["psnr"] == {g["psnr"].idxmax()}
        assert set(g.index) & bold["lpips"] == {g["lpips"].idxmin()}   # lower is better
    assert "bpp" not in bold


def test_markdown(table):
    md = paper_table(table, images=["img_b"], codecs=["anchor/s0", "better/s0"],
                     metrics=["psnr", "ms_ssim", "lpips"])
    lines = md.splitlines()
    assert lines[0] == "| Image | Codec | Setting | bpp | PSNR [dB] ↑ | MS-SSIM ↑ | LPIPS ↓ |"
    assert lines[1] == "| :--- | :--- | :--- | ---: | ---: | ---: | ---: |"
    assert len(lines) == 4
    # equal quality at these settings: ties are all bold
    assert lines[2].count("**") == 6 and lines[3].count("**") == 6


def test_latex_booktabs(table):
    tex = paper_table(table, codecs=["anchor/s2", "worse/s1"], metrics=["psnr"], fmt="latex")
    lines = tex.splitlines()
    assert lines[0] == "\\begin{tabular}{lllrr}" and lines[1] == "\\toprule"
    assert lines[2] == "Image & Codec & Setting & bpp & PSNR [dB] $\\uparrow$ \\\\"
    assert lines[-2:] == ["\\bottomrule", "\\end{tabular}"]
    assert tex.count("\\midrule") == 2           # after the header and between the two images
    assert "img\\_a" in tex and tex.count("\\textbf{") == 2


def test_csv_is_plain_numbers(table):
    out = paper_table(table, metrics=["psnr"], fmt="csv")
    df = pd.read_csv(io.StringIO(out))
    assert len(df) == len(table) and "**" not in out
    assert df["psnr"].max() == pytest.approx(table["psnr"].max())


def test_errors(table):
    with pytest.raises(ResultsError, match="images must be in the results, got unknown nope"):
        paper_table(table, images=["nope"])
    with pytest.raises(ResultsError, match="got 'zz/s0'"):
        paper_table(table, codecs=["zz/s0"])
    with pytest.raises(ResultsError, match="format must be one of"):
        paper_table(table, fmt="html")
    with pytest.raises(ResultsError, match="must have columns dists"):
        paper_table(table, metrics=["dists"])


def test_cli(results_csv, tmp_path, capsys):
    assert main(["table", str(results_csv), "--images", "img_a", "--codecs", "anchor",
                 "--metrics", "psnr", "--format", "latex"]) == 0
    assert "\\toprule" in capsys.readouterr().out
    assert main(["table", str(results_csv), "--out", str(tmp_path / "t.md")]) == 0
    assert (tmp_path / "t.md").read_text().startswith("| Image |")
    assert main(["table", str(tmp_path / "missing.csv")]) == 1
    assert "no such results file" in capsys.readouterr().err


def test_codec_order_and_extra_columns(table):
    t = table.assign(model=table["codec"].map({"anchor": "m0", "better": "m1", "worse": "m2"}))
    df, _ = paper_table_frame(t, images=["img_b", "img_a"], codecs=["worse", "anchor/s1"],
                              metrics=["psnr"], columns=["model"])
    assert list(df.columns) == ["image", "codec", "setting", "model", "bpp", "psnr"]
    assert list(df["image"]) == ["img_b"] * 5 + ["img_a"] * 5
    assert list(df["codec"][:5]) == ["worse"] * 4 + ["anchor"]
    assert list(df["bpp"][:4]) == sorted(df["bpp"][:4])
    # a text column is never taken for a metric
    md = paper_table(t, codecs=["worse/s0"], images=["img_a"], columns=["model"])
    assert md.splitlines()[0].startswith("| Image | Codec | Setting | model | bpp | PSNR [dB] ↑")
    with pytest.raises(ResultsError, match="columns must be columns of the results table, got nope"):
        paper_table(t, columns=["nope"])
