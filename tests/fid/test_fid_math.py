"""FID/KID mathematics against torchmetrics, given the same (small, random) feature extractor."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torchmetrics.image.fid import FrechetInceptionDistance, _compute_fid
from torchmetrics.image.kid import KernelInceptionDistance

from evalkit.errors import MetricError
from evalkit.metrics.fid_math import feature_stats, fid_from_features, frechet_distance, kid_from_features


class TinyFeatures(torch.nn.Module):
    """A small random CNN: uint8 (N, 3, H, W) -> float64 (N, 24) features."""

    num_features = 24

    def __init__(self, seed: int = 0):
        super().__init__()
        gen = torch.Generator().manual_seed(seed)
        self.w1 = torch.randn(12, 3, 5, 5, generator=gen) * 0.1
        self.w2 = torch.randn(24, 12, 3, 3, generator=gen) * 0.2

    def forward(self, x):
        x = x.to(torch.float64) / 255
        x = torch.relu(torch.nn.functional.conv2d(x, self.w1.double(), stride=2))
        x = torch.tanh(torch.nn.functional.conv2d(x, self.w2.double(), stride=2))
        return x.mean(dim=(2, 3))


@pytest.fixture(scope="module")
def image_sets():
    rng = np.random.default_rng(3)
    real = torch.from_numpy(rng.integers(0, 256, (40, 3, 32, 32), dtype=np.uint8))
    fake = torch.clamp(real.int() + torch.from_numpy(rng.integers(-60, 60, (40, 3, 32, 32))),
                       0, 255).to(torch.uint8)[:33]
    return real, fake


def test_frechet_distance_matches_torchmetrics_formula():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(200, 16)), rng.normal(size=(150, 16)) * 1.5 + 0.3
    (mu1, s1), (mu2, s2) = feature_stats(a), feature_stats(b)
    ref = _compute_fid(*(torch.from_numpy(v) for v in (mu1, s1, mu2, s2))).item()
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(ref, rel=1e-9)
    assert frechet_distance(mu1, s1, mu1, s1) == pytest.approx(0.0, abs=1e-9)


def test_fid_equals_torchmetrics_with_same_extractor(image_sets):
    real, fake = image_sets
    net = TinyFeatures()
    tm = FrechetInceptionDistance(feature=net)
    tm.update(real, real=True)
    tm.update(fake, real=False)
    expected = tm.compute().item()
    with torch.no_grad():
        ours = fid_from_features(net(real), net(fake))
    assert expected > 0
    assert ours == pytest.approx(expected, rel=1e-7)


def test_fid_low_sample_path_equals_covariance_path():
    """n < D uses the n1 x n2 singular-value route; it must equal the D x D route."""
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(7, 50)), rng.normal(size=(9, 50)) * 0.7 + 0.1
    fast = fid_from_features(a, b)
    slow = frechet_distance(*feature_stats(a), *feature_stats(b))
    assert fast == pytest.approx(slow, rel=1e-6)
    ref = _compute_fid(*(torch.from_numpy(v) for v in (*feature_stats(a), *feature_stats(b))))
    assert fast == pytest.approx(ref.item(), rel=1e-6)


@pytest.mark.parametrize("subset_size, seed", [(10, 0), (25, 123)])
def test_kid_equals_torchmetrics_with_same_extractor_and_seed(image_sets, subset_size, seed):
    real, fake = image_sets
    net = TinyFeatures(seed=1)
    tm = KernelInceptionDistance(feature=net, subsets=7, subset_size=subset_size)
    tm.update(real, real=True)
    tm.update(fake, real=False)
    torch.manual_seed(seed)  # torchmetrics draws subsets from the global generator
    tm_mean, tm_std = (v.item() for v in tm.compute())
    with torch.no_grad():
        got = kid_from_features(net(real), net(fake), subsets=7, subset_size=subset_size,
                                seed=seed)
    assert got.mean == pytest.approx(tm_mean, rel=1e-9, abs=1e-15)
    assert got.std == pytest.approx(tm_std, rel=1e-9, abs=1e-15)
    assert (got.subsets, got.subset_size, got.seed, got.n_ref, got.n_dist) == \
        (7, subset_size, seed, 40, 33)


def test_kid_subset_size_adapts_to_small_sets(image_sets):
    real, fake = image_sets
    net = TinyFeatures(seed=2)
    with torch.no_grad():
        fr, fd = net(real[:6]), net(fake[:5])
    got = kid_from_features(fr, fd)  # default subset_size=1000 > 5 samples
    assert got.subset_size == 5
    tm = KernelInceptionDistance(feature=net, subsets=100, subset_size=5)
    tm.update(real[:6], real=True)
    tm.update(fake[:5], real=False)
    torch.manual_seed(0)
    assert got.mean == pytest.approx(tm.compute()[0].item(), rel=1e-9)


def test_kid_is_seeded_and_recorded():
    rng = np.random.default_rng(4)
    a, b = rng.normal(size=(30, 8)), rng.normal(size=(30, 8)) + 0.2
    r1, r2 = kid_from_features(a, b, subsets=5, subset_size=10, seed=9), \
        kid_from_features(a, b, subsets=5, subset_size=10, seed=9)
    r3 = kid_from_features(a, b, subsets=5, subset_size=10, seed=10)
    assert r1 == r2 and r1.seed == 9
    assert r1.mean != r3.mean


def test_kid_large_set_path_equals_gram_path(monkeypatch):
    from evalkit.metrics import fid_math

    rng = np.random.default_rng(6)
    a, b = rng.normal(size=(40, 6)), rng.normal(size=(35, 6)) * 1.2
    gram = kid_from_features(a, b, subsets=4, subset_size=20, seed=3)
    monkeypatch.setattr(fid_math, "_GRAM_LIMIT", 10)
    direct = kid_from_features(a, b, subsets=4, subset_size=20, seed=3)
    assert direct.mean == pytest.approx(gram.mean, rel=1e-12)


def test_errors():
    one = np.zeros((1, 4))
    two = np.ones((2, 4))
    with pytest.raises(MetricError, match="at least 2"):
        fid_from_features(one, two)
    with pytest.raises(MetricError, match="at least 2"):
        kid_from_features(one, two)
    with pytest.raises(MetricError, match="dimensions differ"):
        fid_from_features(two, np.ones((3, 5)))
    with pytest.raises(MetricError, match="finite"):
        fid_from_features(np.full((3, 4), np.nan), two)
    with pytest.raises(MetricError, match="subsets must be"):
        kid_from_features(two, two, subsets=0)
    with pytest.raises(MetricError, match=r"\(N, D\)"):
        fid_from_features(np.zeros(4), two)


def test_memory_lru_evicts_oldest_by_count_and_bytes():
    from evalkit.metrics.fid_cache import MemoryLRU

    lru = MemoryLRU(size=2, max_bytes=100)
    small = np.zeros(4)          # 32 bytes
    lru.put("a", small)
    lru.put("b", small)
    assert lru.get("a") is small          # touch a: b is now the oldest
    lru.put("c", small)
    assert lru.get("b") is None and lru.get("a") is small and lru.get("c") is small
    big = np.zeros(20)           # 160 bytes > budget: kept alone
    lru.put("d", big)
    assert lru.get("d") is big and lru.get("a") is None and lru.get("c") is None
