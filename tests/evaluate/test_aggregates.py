"""CLIC aggregates against hand computation from the pixels, and the set-level metric contract."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd
import pytest
from _evaluate_runs import photos
from PIL import Image

from evalkit.evaluate import evaluate, summarize
from evalkit.images import load_pair
from evalkit.metrics import REGISTRY
from evalkit.metrics.registry import MetricSpec


def _two_size_layout(root):
    """Two references of different sizes (so pixel weighting matters), two JPEG settings."""
    pics = photos()
    refs = {"astronaut": pics["astronaut"], "chelsea": np.ascontiguousarray(
        np.concatenate([pics["chelsea"], pics["chelsea"][:, :64]], axis=1))}  # 256x176
    (root / "refs").mkdir()
    for n, a in refs.items():
        Image.fromarray(a).save(root / "refs" / f"{n}.png")
    for q in (20, 70):
        d = root / "runs" / "jpeg" / f"q{q}"
        d.mkdir(parents=True)
        for n, a in refs.items():
            Image.fromarray(a).save(d / f"{n}.jpg", quality=q)
    return root / "refs", root / "runs"


def test_aggregates_match_hand_computation(tmp_path):
    refs_dir, runs_dir = _two_size_layout(tmp_path)
    ev = evaluate(refs_dir, runs_dir, ["psnr", "ms_ssim"], cache=False, progress=False)
    for setting in ("q20", "q70"):
        sse = pixels = bits = 0.0
        ms_weighted = 0.0
        psnrs = []
        rows = ev.results[ev.results.setting == setting]
        for row in rows.itertuples():
            path = runs_dir / "jpeg" / setting / f"{row.image}.jpg"
            ref, dist = load_pair(refs_dir / f"{row.image}.png", path)
            err = (ref.astype(np.float64) - dist.astype(np.float64)) ** 2
            sse += err.sum() / 3.0          # per pixel, averaged over the 3 channels
            n = ref.shape[0] * ref.shape[1]
            pixels += n
            bits += path.stat().st_size * 8
            ms_weighted += row.ms_ssim * n
            psnrs.append(10 * math.log10(255 ** 2 / err.mean()))
        s = ev.summary.set_index("setting").loc[setting]
        assert s["psnr_agg"] == pytest.approx(10 * math.log10(255 ** 2 / (sse / pixels)), abs=1e-9)
        assert s["ms_ssim_agg"] == pytest.approx(ms_weighted / pixels, abs=1e-12)
        assert s["bpp_agg"] == pytest.approx(bits / pixels, rel=1e-12)
        assert s["psnr"] == pytest.approx(np.mean(psnrs), abs=1e-9)
        assert s["bpp"] == pytest.approx(rows["bpp"].mean())
        assert s["pixels"] == pixels and s["images"] == 2
        # pooling differs from the mean when images differ in size and quality
        assert s["psnr_agg"] != pytest.approx(s["psnr"], abs=1e-6)


def test_summarize_handles_identical_images_and_missing_aggregates():
    df = pd.DataFrame({"codec": ["c", "c"], "setting": ["s", "s"], "image": ["a", "b"],
                       "width": [10, 30], "height": [10, 10], "bytes": [5, 15],
                       "bpp": [0.4, 0.4], "psnr": [math.inf, 30.0]})
    df["bytes"] = df["bytes"].astype("Int64")
    s = summarize(df).iloc[0]
    mse = 255 ** 2 * 10 ** (-3.0) * 300 / 400
    assert s["psnr_agg"] == pytest.approx(10 * math.log10(255 ** 2 / mse))
    assert "ms_ssim_agg" not in s.index and s["bytes"] == 20


_SET_CALLS = []


def _build_set_metric(device="cpu", **_):
    def metric(refs, dists):
        _SET_CALLS.append(len(refs))
        assert all(r.dtype == np.uint8 and r.shape == d.shape for r, d in zip(refs, dists))
        return float(np.mean([np.abs(r.astype(float) - d.astype(float)).mean()
                              for r, d in zip(refs, dists)]))
    return metric


@pytest.fixture
def set_metric(monkeypatch):
    spec = MetricSpec("test_set_mad", False, (), "1", "set", _build_set_metric,
                      description="test-only set metric: mean absolute difference")
    # registered for this test only: test_registry checks every registered metric's facts
    monkeypatch.setitem(REGISTRY, "test_set_mad", spec)
    _SET_CALLS.clear()
    return spec


def test_set_level_metric_goes_to_summary_and_is_cached(layout, tmp_path, set_metric,
                                                        monkeypatch):
    refs_dir, runs_dir, refs = layout
    cache = tmp_path / "c.sqlite"
    ev = evaluate(refs_dir, runs_dir, ["psnr", "test_set_mad"], cache=cache, progress=False)
    assert "test_set_mad" not in ev.results.columns
    assert _SET_CALLS == [3, 3, 3]
    for row in ev.summary.itertuples():
        expect = np.mean([np.abs(load_pair(refs_dir / f"{n}.png", runs_dir / "jpeg" / row.setting
                                           / f"{n}.jpg")[0].astype(float) -
                                 load_pair(refs_dir / f"{n}.png", runs_dir / "jpeg" / row.setting
                                           / f"{n}.jpg")[1].astype(float)).mean()
                          for n in sorted(refs)])
        assert row.test_set_mad == pytest.approx(expect)
    evaluate(refs_dir, runs_dir, ["psnr", "test_set_mad"], cache=cache, progress=False)
    assert _SET_CALLS == [3, 3, 3]                                   # all cached
    Image.fromarray(refs["coffee"]).save(runs_dir / "jpeg" / "q50" / "coffee.jpg", quality=95)
    evaluate(refs_dir, runs_dir, ["psnr", "test_set_mad"], cache=cache, progress=False)
    assert _SET_CALLS == [3, 3, 3, 3]                                # one setting changed
    monkeypatch.setitem(REGISTRY, "test_set_mad", dataclasses.replace(set_metric, version="2"))
    evaluate(refs_dir, runs_dir, ["test_set_mad"], cache=cache, progress=False)
    assert len(_SET_CALLS) == 7                                      # version bump: all again
