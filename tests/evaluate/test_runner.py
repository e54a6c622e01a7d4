"""The evaluation runner: columns, bpp arithmetic, values, cache reuse, resume, CLI outputs."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from _evaluate_runs import encode_setting
from PIL import Image

from evalkit.cli import main
from evalkit.evaluate import evaluate, read_results, read_table, write_evaluation
from evalkit.evaluate.results import RESULT_COLUMNS
from evalkit.images import load_pair
from evalkit.metrics import REGISTRY, compute_pair

METRICS = ["psnr", "ms_ssim"]


def test_columns_bpp_and_values_match_direct_computation(layout, tmp_path):
    refs_dir, runs_dir, refs = layout
    ev = evaluate(refs_dir, runs_dir, METRICS, cache=tmp_path / "c.sqlite", progress=False)
    df = ev.results
    assert list(df.columns) == [*RESULT_COLUMNS, *METRICS]
    assert len(df) == 9 and ev.computed == 9 and ev.reused == 0
    for row in df.itertuples():
        recon = runs_dir / row.codec / row.setting / f"{row.image}.jpg"
        assert (row.width, row.height) == (192, 176)
        assert row.bytes == recon.stat().st_size
        assert row.bpp == pytest.approx(recon.stat().st_size * 8 / (192 * 176), rel=1e-12)
        ref, dist = load_pair(refs_dir / f"{row.image}.png", recon)
        direct = compute_pair(ref, dist, METRICS)
        assert row.psnr == pytest.approx(direct["psnr"], rel=1e-12)
        assert row.ms_ssim == pytest.approx(direct["ms_ssim"], rel=1e-9)
    # higher quality setting -> more bytes and higher PSNR for every image
    wide = df.pivot(index="image", columns="setting", values="psnr")
    assert (wide["q85"] > wide["q50"]).all() and (wide["q50"] > wide["q15"]).all()


def test_png_reconstruction_with_manifest_bytes_and_bpp(layout, tmp_path):
    refs_dir, runs_dir, refs = layout
    d = runs_dir / "learned" / "lambda1"
    d.mkdir(parents=True)
    for name, arr in refs.items():
        Image.fromarray(arr // 2 * 2).save(d / f"{name}.png")
    (d / "manifest.csv").write_text("image,bytes,bpp\nastronaut,1000,\nchelsea.png,,0.25\n"
                                    "coffee,2112,\n")
    ev = evaluate(refs_dir, runs_dir, ["psnr"], cache=False, progress=False, codecs=["learned"])
    df = ev.results.set_index("image")
    assert df.loc["astronaut", "bytes"] == 1000
    assert df.loc["astronaut", "bpp"] == pytest.approx(1000 * 8 / (192 * 176))
    assert pd.isna(df.loc["chelsea", "bytes"]) and df.loc["chelsea", "bpp"] == 0.25
    assert df.loc["coffee", "bpp"] == pytest.approx(0.5)
    assert pd.isna(ev.summary.loc[0, "bytes"])  # total unknown when one image has only bpp


def test_incremental_rerun_reuses_rows_and_recomputes_changed_files(layout, tmp_path):
    refs_dir, runs_dir, refs = layout
    cache = tmp_path / "c.sqlite"
    first = evaluate(refs_dir, runs_dir, METRICS, cache=cache, progress=False)
    encode_setting(runs_dir, refs, "webp", 40)                     # add a codec
    second = evaluate(refs_dir, runs_dir, METRICS, cache=cache, progress=False)
    assert (second.reused, second.computed) == (9, 3)
    pd.testing.assert_frame_equal(second.results[second.results.codec == "jpeg"]
                                  .reset_index(drop=True), first.results)
    # a changed reconstruction (new content) is recomputed, everything else reused
    Image.fromarray(refs["coffee"]).save(runs_dir / "webp" / "q40" / "coffee.webp", "WEBP",
                                         quality=90)
    third = evaluate(refs_dir, runs_dir, METRICS, cache=cache, progress=False)
    assert (third.reused, third.computed) == (11, 1)
    # a new metric computes only that metric; a metric version bump invalidates its values
    fourth = evaluate(refs_dir, runs_dir, ["psnr"], cache=cache, progress=False)
    assert fourth.reused == 12


def test_metric_version_is_part_of_the_key(layout, tmp_path, monkeypatch):
    refs_dir, runs_dir, _ = layout
    cache = tmp_path / "c.sqlite"
    evaluate(refs_dir, runs_dir, ["psnr"], cache=cache, progress=False)
    monkeypatch.setitem(REGISTRY, "psnr", dataclasses.replace(REGISTRY["psnr"], version="new"))
    again = evaluate(refs_dir, runs_dir, ["psnr"], cache=cache, progress=False)
    assert again.reused == 0 and again.computed == 9


def test_no_cache_computes_everything(layout, tmp_path):
    refs_dir, runs_dir, _ = layout
    for _ in range(2):
        ev = evaluate(refs_dir, runs_dir, ["psnr"], cache=False, progress=False)
        assert ev.reused == 0


def test_resume_after_killed_run(layout, tmp_path):
    """A process killed (os._exit, no clean-up) mid-run keeps every finished row."""
    refs_dir, runs_dir, _ = layout
    cache = tmp_path / "c.sqlite"
    script = textwrap.dedent(f"""
        import os
        from evalkit.metrics import compute_batch
        from evalkit.metrics.registry import MetricSpec, register
        from evalkit.evaluate import evaluate
        calls = [0]
        def build(device="cpu", **_):
            from evalkit.metrics.psnr import psnr
            def metric(ref, dist):
                calls[0] += 1
                if calls[0] == 5:
                    os._exit(17)   # killed while computing the 5th image
                return psnr(ref, dist)
            return metric
        register(MetricSpec("crashy", True, (), "1", "pair", build))
        evaluate({str(refs_dir)!r}, {str(runs_dir)!r}, ["crashy"], cache={str(cache)!r},
                 progress=False, workers=1, batch_size=1)  # one call per image
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert proc.returncode == 17, proc.stderr
    from evalkit.metrics.psnr import psnr
    from evalkit.metrics.registry import MetricSpec, register

    if "crashy" not in REGISTRY:
        register(MetricSpec("crashy", True, (), "1", "pair", lambda device="cpu", **_: psnr))
    resumed = evaluate(refs_dir, runs_dir, ["crashy"], cache=cache, progress=False)
    assert (resumed.reused, resumed.computed) == (4, 5)
    fresh = evaluate(refs_dir, runs_dir, ["psnr"], cache=False, progress=False)
    np.testing.assert_allclose(resumed.results["crashy"], fresh.results["psnr"], rtol=1e-12)


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_cli_writes_tables_and_sidecars(layout, tmp_path, capsys, suffix):
    refs_dir, runs_dir, _ = layout
    out = tmp_path / f"res{suffix}"
    argv = ["evaluate", "--refs", str(refs_dir), "--runs", str(runs_dir), "--out", str(out),
            "--metrics", "psnr,ms_ssim", "--cache", str(tmp_path / "c.sqlite")]
    assert main(argv) == 0
    assert "9 computed, 0 reused" in capsys.readouterr().out
    df = read_results(out)
    assert list(df.columns) == [*RESULT_COLUMNS, "psnr", "ms_ssim"]
    assert df["bytes"].dtype == "Int64"
    summary = read_table(tmp_path / f"res.summary{suffix}")
    assert {"psnr_agg", "ms_ssim_agg", "bpp_agg"} <= set(summary.columns)
    side = json.loads((tmp_path / f"res{suffix}.json").read_text())
    assert side["packages"]["torch"] and side["settings"]["metrics"]["psnr"]["version"] == "1"
    assert side["settings"]["rows"] == 9
    assert main(argv) == 0
    assert "0 computed, 9 reused" in capsys.readouterr().out


def test_cli_rejects_bad_output_suffix_before_work(layout, tmp_path, capsys):
    refs_dir, runs_dir, _ = layout
    rc = main(["evaluate", "--refs", str(refs_dir), "--runs", str(runs_dir),
               "--out", str(tmp_path / "res.xlsx"), "--no-cache"])
    assert rc == 1 and "must end in .csv or .parquet" in capsys.readouterr().err


def test_workers_zero_and_two_give_identical_results(layout, tmp_path):
    refs_dir, runs_dir, _ = layout
    a = evaluate(refs_dir, runs_dir, ["psnr"], cache=False, progress=False, workers=0)
    b = evaluate(refs_dir, runs_dir, ["psnr"], cache=False, progress=False, workers=2)
    pd.testing.assert_frame_equal(a.results, b.results)


def test_write_evaluation_is_atomic_on_bad_summary_path(layout, tmp_path):
    refs_dir, runs_dir, _ = layout
    ev = evaluate(refs_dir, runs_dir, ["psnr"], cache=False, progress=False)
    from evalkit.errors import ResultsError

    with pytest.raises(ResultsError):
        write_evaluation(ev, tmp_path / "r.csv", tmp_path / "s.txt")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["refs", "runs"]  # nothing written
    paths = write_evaluation(ev, tmp_path / "r.csv")
    assert all(Path(p).is_file() for p in paths) and os.path.exists(tmp_path / "r.summary.csv")
