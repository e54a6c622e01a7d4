"""Every layout problem gives a clear error (naming the file) or a reported warning."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from PIL import Image

from evalkit.cli import main
from evalkit.errors import ImagePairError, LayoutError
from evalkit.evaluate import evaluate


def _eval(refs, runs, **kw):
    return evaluate(refs, runs, ["psnr"], cache=False, progress=False, **kw)


def test_missing_and_empty_folders(layout, tmp_path):
    refs_dir, runs_dir, _ = layout
    with pytest.raises(LayoutError, match="references folder .*nope does not exist"):
        _eval(tmp_path / "nope", runs_dir)
    with pytest.raises(LayoutError, match="runs folder .*nope does not exist"):
        _eval(refs_dir, tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(LayoutError, match="holds no images"):
        _eval(tmp_path / "empty", runs_dir)
    with pytest.raises(LayoutError, match="no reconstructions matching"):
        _eval(refs_dir, tmp_path / "empty")


def test_duplicate_reference_names(layout):
    refs_dir, runs_dir, refs = layout
    Image.fromarray(refs["coffee"]).save(refs_dir / "coffee.bmp")
    with pytest.raises(LayoutError, match="two references named 'coffee'"):
        _eval(refs_dir, runs_dir)


def test_reconstruction_without_rate_names_the_file(layout):
    refs_dir, runs_dir, refs = layout
    d = runs_dir / "learned" / "l1"
    d.mkdir(parents=True)
    Image.fromarray(refs["coffee"]).save(d / "coffee.png")
    with pytest.raises(LayoutError, match=r"coffee\.png: no bitstream and no manifest\.csv entry"):
        _eval(refs_dir, runs_dir)


def test_ambiguous_and_multiple_bitstreams(layout):
    refs_dir, runs_dir, refs = layout
    d = runs_dir / "jpeg" / "q15"
    Image.fromarray(refs["coffee"]).save(d / "coffee.webp", "WEBP")
    with pytest.raises(LayoutError, match="cannot tell the reconstruction of 'coffee'"):
        _eval(refs_dir, runs_dir)
    Image.fromarray(refs["coffee"]).save(d / "coffee.png")
    with pytest.raises(LayoutError, match="several bitstreams for 'coffee'"):
        _eval(refs_dir, runs_dir)


@pytest.mark.parametrize("manifest, message", [
    ("name,bytes\ncoffee,10\n", "needs a header line with columns image and bytes"),
    ("image,bytes\ncoffee,ten\n", r"manifest\.csv:2: column bytes must be a whole number"),
    ("image,bytes\ncoffee,-5\n", "column bytes must be a positive rate"),
    ("image,bytes\ncoffee,0\n", "column bytes must be a positive rate, got '0'"),
    ("image,bpp\ncoffee,nan\n", "column bpp must be a positive rate, got 'nan'"),
    ("image,bytes\ncoffee,10\ncoffee.png,12\n", r"manifest\.csv:3: image 'coffee' is listed "
                                                 "twice \\(also on line 2\\)"),
    ("image,bytes,bpp\ncoffee,,\n", "no bytes or bpp"),
])
def test_bad_manifests(layout, manifest, message):
    refs_dir, runs_dir, refs = layout
    d = runs_dir / "learned" / "l1"
    d.mkdir(parents=True)
    Image.fromarray(refs["coffee"]).save(d / "coffee.png")
    (d / "manifest.csv").write_text(manifest)
    with pytest.raises(LayoutError, match=message):
        _eval(refs_dir, runs_dir)


def test_missing_unmatched_and_stray_are_reported(layout):
    refs_dir, runs_dir, refs = layout
    d = runs_dir / "jpeg" / "q15"
    (d / "chelsea.jpg").unlink()                                       # missing
    Image.fromarray(refs["coffee"]).save(d / "mystery.jpg")           # unmatched stem
    (d / "subdir").mkdir()                                             # stray folder
    (runs_dir / "notes.txt").write_text("hi")                          # stray file
    ev = _eval(refs_dir, runs_dir)
    assert len(ev.results) == 8
    warnings = "\n".join(ev.layout.warnings())
    assert "missing reconstruction: jpeg/q15: chelsea" in warnings
    assert "no reference named like:" in warnings and "mystery.jpg" in warnings
    assert "subdir" in warnings and "notes.txt" in warnings
    assert ev.provenance["layout_warnings"] == ev.layout.warnings()


def test_unknown_codec_filter(layout):
    refs_dir, runs_dir, _ = layout
    with pytest.raises(LayoutError, match="no such codec folder .*: vtm"):
        _eval(refs_dir, runs_dir, codecs=["vtm"])


def test_size_mismatch_names_both_files(layout):
    refs_dir, runs_dir, refs = layout
    d = runs_dir / "bad" / "s"
    d.mkdir(parents=True)
    Image.fromarray(np.ascontiguousarray(refs["coffee"][:, :100])).save(d / "coffee.jpg")
    with pytest.raises(ImagePairError, match="size mismatch: reference .*coffee.png is 192x176"):
        _eval(refs_dir, runs_dir, codecs=["bad"])


def test_cli_prints_warnings_and_one_line_errors(layout, tmp_path, capsys):
    refs_dir, runs_dir, refs = layout
    (runs_dir / "jpeg" / "q15" / "chelsea.jpg").unlink()
    out = tmp_path / "r.csv"
    base = ["evaluate", "--refs", str(refs_dir), "--runs", str(runs_dir), "--out", str(out),
            "--metrics", "psnr", "--no-cache", "--no-progress"]
    assert main(base) == 0
    assert "warning: missing reconstruction: jpeg/q15: chelsea" in capsys.readouterr().err
    shutil.rmtree(runs_dir / "jpeg")
    d = runs_dir / "learned" / "l1"
    d.mkdir(parents=True)
    Image.fromarray(refs["coffee"]).save(d / "coffee.png")
    assert main(base) == 1
    err = capsys.readouterr().err
    assert err.startswith("evalkit evaluate: error: ") and "coffee.png: no bitstream" in err
    assert len(err.strip().splitlines()) == 1


def test_negative_workers(layout):
    from evalkit.errors import EvaluationError

    refs_dir, runs_dir, _ = layout
    with pytest.raises(EvaluationError, match="workers must be >= 0, got -1"):
        _eval(refs_dir, runs_dir, workers=-1)
