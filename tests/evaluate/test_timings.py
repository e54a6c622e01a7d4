"""Per-image encode/decode times: run.json and manifest -> results -> summary -> per-method table."""

from __future__ import annotations

import json
import math

import pytest
from _evaluate_runs import make_layout

from evalkit.cli import main
from evalkit.errors import LayoutError, ResultsError
from evalkit.evaluate import evaluate, read_table, summarize
from evalkit.evaluate.results import metric_columns
from evalkit.method_table import method_table, method_table_frame

TIMES = {"astronaut": (0.5, 0.25), "chelsea": (1.0, 0.5), "coffee": (0.75, 0.125)}


def _write_run_json(folder, times):
    images = {n: {"encode_seconds": e, "decode_seconds": d, "bytes": 1} for n, (e, d) in times.items()}
    (folder / "run.json").write_text(json.dumps({"kind": "sweep", "images": images}))


def test_times_from_run_json_and_manifest_reach_results_and_summary(tmp_path):
    refs, runs, _ = make_layout(tmp_path)
    _write_run_json(runs / "jpeg" / "q50", TIMES)
    # q85: a hand-made manifest; its decode_s wins over run.json, coffee has no time at all
    _write_run_json(runs / "jpeg" / "q85", {"astronaut": (9.0, 9.0)})
    (runs / "jpeg" / "q85" / "manifest.csv").write_text(
        "image,bytes,encode_s,decode_s\nastronaut.jpg,1,,2.0\nchelsea,1,3.0,4.0\n")
    ev = evaluate(refs, runs, ["psnr"], cache=False, progress=False)
    res = ev.results.set_index(["setting", "image"])
    assert list(ev.results.columns[:9]) == ["codec", "setting", "image", "width", "height",
                                            "bytes", "bpp", "encode_s", "decode_s"]
    assert metric_columns(ev.results) == ["psnr"]
    for name, (enc, dec) in TIMES.items():
        assert res.loc[("q50", name), "encode_s"] == enc and res.loc[("q50", name), "decode_s"] == dec
    assert res.loc[("q85", "astronaut"), "encode_s"] == 9.0       # run.json kept where no override
    assert res.loc[("q85", "astronaut"), "decode_s"] == 2.0       # manifest wins
    assert res.loc[("q85", "chelsea"), "decode_s"] == 4.0
    assert math.isnan(res.loc[("q85", "coffee"), "decode_s"])
    assert math.isnan(res.loc[("q15", "coffee"), "encode_s"])

    summ = ev.summary.set_index("setting")
    assert summ.loc["q50", "decode_s_total"] == pytest.approx(0.875)
    assert summ.loc["q50", "decode_s"] == pytest.approx(0.875 / 3)
    assert summ.loc["q50", "encode_s_total"] == pytest.approx(2.25)
    assert math.isnan(summ.loc["q85", "decode_s_total"])  # one image without a time: no total
    assert "encode_s" not in [c for c in summ.columns if c.endswith("_agg")]


def test_no_times_no_columns(tmp_path):
    refs, runs, _ = make_layout(tmp_path, codecs=(("jpeg", (50,)),))
    ev = evaluate(refs, runs, ["psnr"], cache=False, progress=False)
    assert "encode_s" not in ev.results.columns and "decode_s_total" not in ev.summary.columns


def test_times_do_not_touch_the_metric_cache(tmp_path):
    refs, runs, _ = make_layout(tmp_path, codecs=(("jpeg", (50,)),))
    cache = tmp_path / "c.sqlite"
    first = evaluate(refs, runs, ["psnr"], cache=cache, progress=False)
    _write_run_json(runs / "jpeg" / "q50", TIMES)
    second = evaluate(refs, runs, ["psnr"], cache=cache, progress=False)
    assert second.computed == 0 and second.reused == 3
    assert list(second.results["psnr"]) == list(first.results["psnr"])
    assert second.results["decode_s"].sum() == pytest.approx(0.875)


@pytest.mark.parametrize("bad", ['{"images": {"coffee": {"decode_seconds": -1}}}',
                                 '{"images": {"coffee": {"decode_seconds": "fast"}}}',
                                 '{"images": '])
def test_bad_times_are_one_line_errors(tmp_path, bad):
    refs, runs, _ = make_layout(tmp_path, codecs=(("jpeg", (50,)),))
    (runs / "jpeg" / "q50" / "run.json").write_text(bad)
    with pytest.raises(LayoutError, match="run.json") as err:
        evaluate(refs, runs, ["psnr"], cache=False, progress=False)
    assert "\n" not in str(err.value)


def test_baseline_run_json_times_reach_the_clic_table(tmp_path, capsys):
    refs, _, _ = make_layout(tmp_path, codecs=())
    runs = tmp_path / "bruns"
    assert main(["baseline", "--refs", str(refs), "--runs", str(runs), "--codec", "jpeg",
                 "--quality", "30,70", "--no-progress"]) == 0
    recorded = json.loads((runs / "jpeg" / "q30" / "run.json").read_text())["images"]
    out = tmp_path / "results.csv"
    assert main(["evaluate", "--refs", str(refs), "--runs", str(runs), "--out", str(out),
                 "--metrics", "psnr,ms_ssim", "--no-progress", "--no-cache"]) == 0
    res = read_table(out).set_index(["setting", "image"])
    for name, info in recorded.items():
        assert res.loc[("q30", name), "decode_s"] == pytest.approx(info["decode_seconds"], rel=1e-9)
        assert res.loc[("q30", name), "encode_s"] == pytest.approx(info["encode_seconds"], rel=1e-9)
    summary = read_table(tmp_path / "results.summary.csv").set_index("setting")
    total = sum(i["decode_seconds"] for i in recorded.values())
    assert summary.loc["q30", "decode_s_total"] == pytest.approx(total, rel=1e-9)
    capsys.readouterr()
    assert main(["table", str(out), "--per-method", "--format", "csv"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "method,psnr_agg,ms_ssim_agg,bytes,bpp_agg,decode_s_total"
    row = dict(zip(lines[0].split(","), lines[1].split(",")))
    assert row["method"] == "jpeg/q30" and float(row["decode_s_total"]) == pytest.approx(total)
    assert main(["table", str(out), "--per-method"]) == 0
    assert "| Method | PSNR [dB] | MS-SSIM | Bytes | bpp |" in capsys.readouterr().out


def test_method_table_uses_common_images_and_names_the_dropped(tmp_path):
    refs, runs, _ = make_layout(tmp_path, codecs=(("jpeg", (15, 50)),))
    ev = evaluate(refs, runs, ["psnr"], cache=False, progress=False)
    res = ev.results[~((ev.results.setting == "q15") & (ev.results.image == "coffee"))]
    table = method_table_frame(res, codecs=["jpeg/q50", "jpeg/q15"], columns=["psnr_agg", "bytes"])
    assert list(table.frame["method"]) == ["jpeg/q50", "jpeg/q15"]   # the order given
    assert table.images == ("astronaut", "chelsea") and table.dropped == {"jpeg/q50": ["coffee"]}
    expected = summarize(res[(res.setting == "q50") & (res.image != "coffee")])
    assert table.frame.loc[0, "psnr_agg"] == pytest.approx(expected.loc[0, "psnr_agg"])
    assert table.frame.loc[0, "bytes"] == expected.loc[0, "bytes"]
    assert table.bold == {"psnr_agg": {0}}                          # bytes never bold
    text, _ = method_table(res, columns=["psnr_agg", "bpp", "bpp_agg"], fmt="latex")
    assert "\\textbf{" in text and "\\toprule" in text
    with pytest.raises(ResultsError, match="columns must be summary columns"):
        method_table_frame(res, columns=["nope"])
    with pytest.raises(ResultsError, match="codecs must name"):
        method_table_frame(res, codecs=["webp"])


def test_import_run_carries_manifest_and_timings_file(tmp_path):
    from baselines.import_run import import_run

    refs, runs, _ = make_layout(tmp_path, codecs=(("jpeg", (50,)),))
    recon = runs / "jpeg" / "q50"
    manifest = tmp_path / "bpp.csv"
    manifest.write_text("image,bpp,encode_s,decode_s\nastronaut,0.5,1.5,0.25\nchelsea,0.5,,0.5\n"
                        "coffee,0.5,,\n")
    out = tmp_path / "imported"
    import_run(recon, out, "mine", "a", manifest=manifest)
    images = json.loads((out / "mine" / "a" / "run.json").read_text())["images"]
    assert images["astronaut"]["encode_seconds"] == 1.5 and images["chelsea"]["decode_seconds"] == 0.5
    assert "encode_seconds" not in images["chelsea"] and "decode_seconds" not in images["coffee"]
    ev = evaluate(refs, out, ["psnr"], cache=False, progress=False)
    assert ev.results.set_index("image")["decode_s"].loc["astronaut"] == 0.25

    streams = tmp_path / "streams"
    streams.mkdir()
    for name in TIMES:
        (streams / f"{name}.bin").write_bytes(b"x" * 100)
    timings = tmp_path / "times.csv"
    timings.write_text("image,decode_s\n" + "".join(f"{n},{d}\n" for n, (_, d) in TIMES.items()))
    import_run(recon, out, "mine", "b", bitstreams_dir=streams, timings=timings)
    ev = evaluate(refs, out, ["psnr"], cache=False, progress=False)
    assert ev.summary.set_index("setting").loc["b", "decode_s_total"] == pytest.approx(0.875)
    with pytest.raises(LayoutError, match="timings file"):
        import_run(recon, out, "mine", "c", bitstreams_dir=streams, timings=tmp_path / "nope.csv")
    timings.write_text("image,decode_s\nastronaut,-3\n")
    with pytest.raises(LayoutError, match="non-negative"):
        import_run(recon, out, "mine", "d", bitstreams_dir=streams, timings=timings)
    assert not (out / "mine" / "d").exists()


def test_method_table_marks_stand_in_weights(tmp_path):
    refs, runs, _ = make_layout(tmp_path, codecs=(("jpeg", (50,)),))
    res = evaluate(refs, runs, ["psnr"], cache=False, progress=False).results
    assert "stand-in" not in method_table(res)[0]
    res["weights_verified"] = False
    assert "stand-in weights" in method_table(res, fmt="latex")[0]
