"""LPIPS / DISTS scored crop by crop (exact halos) equal the whole-image computation, through
the pair API and the reference-major engine, on odd sizes with small crops forced."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from evalkit.evaluate.engine import Engine
from evalkit.evaluate.plan import plan_groups
from evalkit.layout import discover_runs
from evalkit.metrics import build_metric, compute_batch
from evalkit.metrics.tiling import Geometry, level_sizes, plan_tiles, trunk_geometry

NETS = ["lpips", "lpips_vgg", "dists"]
WHOLE = 10 ** 9  # a crop budget no test image exceeds


@pytest.fixture(scope="module")
def odd_pairs():
    """A 331x277 photo crop (odd sizes) and two reconstructions: JPEG q15 and noise."""
    import io

    from skimage import data

    ref = np.ascontiguousarray(data.astronaut()[60:391, 150:427])
    buf = io.BytesIO()
    Image.fromarray(ref).save(buf, "JPEG", quality=15)
    jpeg = np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))
    noisy = np.clip(ref.astype(int) + np.random.default_rng(3).integers(-25, 26, ref.shape),
                    0, 255).astype(np.uint8)
    return ref, [jpeg, noisy]


def _budget(metric, h: int, w: int) -> int:
    """The smallest crop budget giving a 2x2 grid whose crops have interior edges on both axes
    (so halos on every side of some crop are exercised)."""
    for budget in range(20_000, h * w, 2_000):
        tiles = plan_tiles(h, w, metric.geometry, budget)
        if len(tiles) == 4:
            assert any(t.y0 > 0 for t in tiles) and any(t.x0 > 0 for t in tiles)
            assert any(not t.last_y for t in tiles) and any(not t.last_x for t in tiles)
            return budget
    raise AssertionError("no 2x2 plan")


@pytest.mark.parametrize("name", NETS)
def test_tiled_equals_whole_pair_api(random_weights_dir, odd_pairs, monkeypatch, name):
    ref, dists = odd_pairs
    metric = build_metric(name)
    h, w = ref.shape[:2]
    monkeypatch.setattr(metric, "tile_pixels", WHOLE)
    whole = compute_batch(np.stack([ref, ref]), np.stack(dists), name)
    monkeypatch.setattr(metric, "tile_pixels", _budget(metric, h, w))
    monkeypatch.setattr(metric, "batch_pixels", 1)  # one reconstruction per forward
    tiled = compute_batch(np.stack([ref, ref]), np.stack(dists), name)
    assert (whole > 0).all()
    np.testing.assert_allclose(tiled, whole, rtol=1e-6, atol=0)


def test_a_halo_too_small_changes_the_value(random_weights_dir, odd_pairs, monkeypatch):
    """The equality above is not automatic: crops whose halo misses most of the receptive
    field give a different LPIPS (crop edges see zero padding where the image goes on)."""
    ref, dists = odd_pairs
    metric = build_metric("lpips")
    h, w = ref.shape[:2]
    monkeypatch.setattr(metric, "tile_pixels", WHOLE)
    whole = compute_batch(ref, dists[0], "lpips")[0]
    budget = _budget(metric, h, w)
    g = metric.geometry
    monkeypatch.setattr(metric, "geometry", Geometry(g.align, g.align, g.strides))
    monkeypatch.setattr(metric, "tile_pixels", budget)
    short = compute_batch(ref, dists[0], "lpips")[0]
    assert abs(short - whole) > 1e-4 * whole


def test_tiled_equals_whole_in_the_engine(random_weights_dir, odd_pairs, tmp_path, monkeypatch):
    """The engine passes several reconstructions per call; each reference crop is computed
    once per call and every reconstruction scored against it."""
    ref, dists = odd_pairs
    refs, runs = tmp_path / "refs", tmp_path / "runs"
    refs.mkdir()
    Image.fromarray(ref).save(refs / "img.png")
    for k, d in enumerate(dists):
        (runs / "codec" / f"s{k}").mkdir(parents=True)
        Image.fromarray(d).save(runs / "codec" / f"s{k}" / "img.png")
        (runs / "codec" / f"s{k}" / "manifest.csv").write_text("image,bytes\nimg,1000\n")
    entries, _ = discover_runs(refs, runs)
    groups = plan_groups(entries, {i: NETS for i in range(len(entries))})

    def run() -> dict:
        return {r.index: r.values for g in groups for r in Engine("cpu", workers=0).score_group(g)}

    for name in NETS:
        monkeypatch.setattr(build_metric(name), "tile_pixels", WHOLE)
    whole = run()
    h, w = ref.shape[:2]
    for name in NETS:
        metric = build_metric(name)
        monkeypatch.setattr(metric, "tile_pixels", _budget(metric, h, w))
        monkeypatch.setattr(metric, "batch_pixels", 1)
    tiled = run()
    assert sorted(tiled) == sorted(whole) == [0, 1]
    for i in whole:
        for name in NETS:
            assert tiled[i][name] == pytest.approx(whole[i][name], rel=1e-6, abs=0), (name, i)


# --- the geometry itself --------------------------------------------------------------------

def test_vgg16_geometry_matches_its_known_receptive_field():
    """VGG16's conv5_3 sees 196 px with 90 px of padding at stride 16, so a core needs 90 px
    of context on each side: the halo is 96 (the next multiple of 16)."""
    from torchvision import models

    with torch.device("meta"):
        features = models.vgg16(weights=None).features
    stages = [features[a:b] for a, b in ((0, 4), (4, 9), (9, 16), (16, 23), (23, 30))]
    g = trunk_geometry(stages)
    assert (g.align, g.halo, g.strides) == (16, 96, (1, 2, 4, 8, 16))
    assert level_sizes(stages, 331, 277)[-1] == (20, 17)


@pytest.mark.parametrize("h, w, budget", [(331, 277, 60_000), (2048, 1365, 400_000),
                                          (1365, 2048, 400_000), (517, 4001, 400_000)])
def test_crop_cores_partition_every_level(h, w, budget):
    """Every position of every feature level lies in exactly one crop's core, crops start on
    the alignment grid and stay within the budget."""
    g = Geometry(16, 96, (1, 2, 4, 8, 16))
    tiles = plan_tiles(h, w, g, budget)
    assert len(tiles) > 1 and all(t.pixels <= budget for t in tiles)
    assert all(t.y0 % 16 == 0 and t.x0 % 16 == 0 for t in tiles)
    for s in g.strides:
        size = (h // s, w // s)
        seen = np.zeros(size, int)
        for t in tiles:
            ys, xs = t.core(s, *size)
            oy, ox = t.y0 // s, t.x0 // s
            seen[ys.start + oy:ys.stop + oy, xs.start + ox:xs.stop + ox] += 1
        assert (seen == 1).all(), s


def test_an_image_within_the_budget_is_one_crop():
    g = Geometry(16, 96, (1,))
    assert plan_tiles(512, 768, g, 512 * 768) == plan_tiles(512, 768, g, 10 ** 7)
    (tile,) = plan_tiles(512, 768, g, 512 * 768)
    assert (tile.y0, tile.y1, tile.x0, tile.x1) == (0, 512, 0, 768)
