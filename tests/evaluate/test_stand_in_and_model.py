"""Stand-in weights mark every output they touch; a per-image ``model`` column survives import."""

from __future__ import annotations

import json

import pandas as pd
from _evaluate_runs import make_layout
from PIL import Image

from evalkit.cli import main
from evalkit.evaluate import evaluate
from evalkit.evaluate.annotations import STAND_IN_NOTE, stand_in_used
from evalkit.evaluate.results import metric_columns
from evalkit.paper_table import paper_table
from evalkit.rd import bd_table, format_bd_table, plot_rd


def test_stand_in_weights_are_marked_everywhere(tmp_path, random_weights_dir):
    refs, runs, _ = make_layout(tmp_path, codecs=(("jpeg", (20, 60)), ("webp", (20, 60))))
    out = tmp_path / "results.csv"
    assert main(["evaluate", "--refs", str(refs), "--runs", str(runs), "--metrics",
                 "psnr,lpips", "--out", str(out), "--no-cache"]) == 0
    res = pd.read_csv(out)
    assert "weights_verified" in res.columns and not res["weights_verified"].any()
    assert "weights_verified" not in metric_columns(res)
    summary = pd.read_csv(out.with_name("results.summary.csv"))
    assert not summary["weights_verified"].any()
    side = json.loads(out.with_name("results.csv.json").read_text())
    assert side["settings"]["weights_verified"] is False
    assert side["settings"]["note"] == STAND_IN_NOTE
    assert stand_in_used(res)
    # every derived output shows it
    assert "stand-in weights" in paper_table(res, metrics=["psnr", "lpips"])
    tex = paper_table(res, metrics=["psnr"], fmt="latex")
    assert "\\footnotesize Note: metric values computed with stand-in weights" in tex
    assert "stand-in weights" in format_bd_table(bd_table(res, "jpeg", ["lpips"]))
    fig = plot_rd(res, ["lpips"], None)
    assert any("stand-in weights" in t.get_text() for t in fig.texts)
    assert main(["table", str(out), "--out", str(tmp_path / "t.md")]) == 0
    assert "stand-in" in json.loads((tmp_path / "t.md.json").read_text())["settings"]["note"]


def test_no_weights_no_column(tmp_path):
    refs, runs, _ = make_layout(tmp_path, codecs=(("jpeg", (30,)),))
    ev = evaluate(refs, runs, ["psnr"], cache=False, progress=False)
    assert "weights_verified" not in ev.results.columns
    assert not stand_in_used(ev.results)
    assert "stand-in" not in paper_table(ev.results)


def test_import_run_keeps_the_per_image_model(tmp_path, capsys):
    refs, runs, photos = make_layout(tmp_path, codecs=())
    recon = tmp_path / "hific_out"
    recon.mkdir()
    for name, arr in photos.items():
        Image.fromarray(arr[::-1].copy()).save(recon / f"{name}.png")
    models = {"astronaut": "hific-lo", "chelsea": "hific-mi", "coffee": "hific-hi"}
    manifest = tmp_path / "bpp.csv"
    pd.DataFrame({"image": list(models), "bpp": [0.2, 0.3, 0.4],
                  "model": list(models.values())}).to_csv(manifest, index=False)
    assert main(["import-run", "--runs", str(runs), "--codec", "hific", "--setting", "mixed",
                 "--recon", str(recon), "--manifest", str(manifest)]) == 0
    meta = json.loads((runs / "hific" / "mixed" / "run.json").read_text())
    assert meta["images"]["chelsea"]["model"] == "hific-mi"
    ev = evaluate(refs, runs, ["psnr"], cache=False, progress=False)
    got = dict(zip(ev.results["image"], ev.results["model"]))
    assert got == models
    assert "model" not in metric_columns(ev.results) and "model" not in ev.summary.columns
    out = tmp_path / "r.csv"
    ev.results.to_csv(out, index=False)
    capsys.readouterr()
    assert main(["table", str(out), "--columns", "model", "--metrics", "psnr"]) == 0
    text = capsys.readouterr().out
    assert text.splitlines()[0].startswith("| Image | Codec | Setting | model | bpp | PSNR [dB] ↑")
    assert "| chelsea | hific | mixed | hific-mi |" in text


def test_summary_compares_settings_over_common_images(tmp_path):
    import pytest

    from evalkit.rd.imageset import ImageSetWarning

    refs, runs, _ = make_layout(tmp_path, codecs=(("jpeg", (20, 60)),))
    (runs / "jpeg" / "q60" / "chelsea.jpg").unlink()
    with pytest.warns(ImageSetWarning, match=r"chelsea \(missing from jpeg/q60\)"):
        ev = evaluate(refs, runs, ["psnr"], cache=False, progress=False)
    assert len(ev.results) == 5                       # the results keep every image
    assert list(ev.summary["images"]) == [2, 2]       # the summary compares like with like
    q20 = ev.results[(ev.results["setting"] == "q20") & (ev.results["image"] != "chelsea")]
    assert ev.summary.set_index("setting").loc["q20", "psnr"] == pytest.approx(q20["psnr"].mean())
    assert ev.provenance["summary_dropped_images"] == {"chelsea": ["jpeg/q60"]}
