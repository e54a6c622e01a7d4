"""PIM-1 / PIM-5 distances: symmetry, zero for identical images, outside oracles
(torch.distributions), determinism of the sampled PIM-5 given a seed."""

from __future__ import annotations

import math

import pytest
import torch
from torch.distributions import Categorical, Independent, MixtureSameFamily, Normal, kl_divergence

from evalkit.errors import MetricError
from evalkit.pim.distance import (
    _flatten_pixels,
    _mixture_log_prob,
    gaussian_distance,
    pim_distance,
    sampled_mixture_distance,
)
from evalkit.pim.model import PIMConfig, PIMNet


def small_net(nmix: int, seed: int = 0) -> PIMNet:
    torch.manual_seed(seed)
    return PIMNet(PIMConfig(num_filters=(8, 8, 8, 3), num_mixtures=nmix)).eval()


@pytest.fixture(scope="module")
def images(photo_pair):
    ref, dist = photo_pair
    to = lambda a: torch.from_numpy(a).permute(2, 0, 1)[None].float() / 255  # noqa: E731
    return to(ref[:32, :48]), to(dist[:32, :48])


@torch.no_grad()
def test_pim1_symmetric_zero_for_identical_and_positive(images):
    net = small_net(1)
    x, y = images
    ex, ey = net(x), net(y)
    d_xy, d_yx = pim_distance(ex, ey), pim_distance(ey, ex)
    assert d_xy.dtype == torch.float64 and d_xy.shape == (1,)
    assert torch.equal(d_xy, d_yx)
    assert pim_distance(ex, net(x.clone())).item() == 0.0
    assert d_xy.item() > 0


@torch.no_grad()
def test_pim1_is_the_symmetrised_gaussian_kl_per_dimension():
    """Outside oracle: torch.distributions' KL of unit-variance Gaussians, /nz, averaged over
    pixels per level, then levels weighted equally."""
    g = torch.Generator().manual_seed(3)
    shapes = [(4, 6), (8, 12), (8, 12)]
    enc_x = [(torch.rand(2, 1, 10, *s, generator=g), None) for s in shapes]
    enc_y = [(torch.rand(2, 1, 10, *s, generator=g), None) for s in shapes]
    ours = gaussian_distance(enc_x, enc_y)
    expected = []
    for n in range(2):
        per_level = []
        for (mx, _), (my, _) in zip(enc_x, enc_y):
            qx = Independent(Normal(mx[n, 0].double().permute(1, 2, 0), 1.0), 1)
            qy = Independent(Normal(my[n, 0].double().permute(1, 2, 0), 1.0), 1)
            sym = kl_divergence(qx, qy) + kl_divergence(qy, qx)  # (H, W)
            per_level.append((sym / 10).mean())
        expected.append(torch.stack(per_level).mean())
    torch.testing.assert_close(ours, torch.stack(expected))


def test_mixture_log_prob_matches_torch_distributions():
    g = torch.Generator().manual_seed(4)
    means = torch.randn(5, 10, 3, 4, generator=g, dtype=torch.float64)
    logits = torch.randn(5, 3, 4, generator=g, dtype=torch.float64)
    z = torch.randn(2, 10, 3, 4, generator=g, dtype=torch.float64)
    mu, lw = _flatten_pixels(means, logits)
    ours = _mixture_log_prob(z.reshape(2, 10, 12), mu, lw)
    mix = MixtureSameFamily(Categorical(logits=logits.permute(1, 2, 0)),
                            Independent(Normal(means.permute(2, 3, 0, 1), 1.0), 1))
    expected = mix.log_prob(z.permute(0, 2, 3, 1)) + 5 * math.log(2 * math.pi)
    torch.testing.assert_close(ours, expected.reshape(2, 12))


def test_sampled_kl_of_degenerate_mixtures_estimates_the_gaussian_kl():
    """Five identical components = one Gaussian, whose symmetric KL (summed over nz) is nz times
    PIM-1's per-dimension value: the Monte-Carlo estimate must agree within its noise."""
    g = torch.Generator().manual_seed(5)
    shapes = [(3, 4), (6, 8)]
    mx = [torch.rand(1, 1, 10, *s, generator=g) for s in shapes]
    my = [m + 0.3 * torch.rand(m.shape, generator=g) for m in mx]
    logits = [torch.randn(1, 5, *s, generator=g) for s in shapes]
    mix = lambda ms: [(m.expand(-1, 5, -1, -1, -1), lg) for m, lg in zip(ms, logits)]  # noqa: E731
    exact = 10 * gaussian_distance([(m, None) for m in mx], [(m, None) for m in my])
    est = sampled_mixture_distance(mix(mx), mix(my), seed=0, samples=400)
    assert est.item() == pytest.approx(exact.item(), rel=0.05)


@torch.no_grad()
def test_pim5_deterministic_given_seed_and_batch_independent(images):
    net = small_net(5, seed=1)
    x, y = images
    xb, yb = torch.cat([x, y]), torch.cat([y, x])
    ex, ey = net(x), net(y)
    d1 = pim_distance(ex, ey, seed=11)
    d2 = pim_distance(ex, ey, seed=11)
    assert torch.equal(d1, d2)
    batch = pim_distance(net(xb), net(yb), seed=11)
    # batched convolutions may differ in the last float32 bits; float32 log-densities then
    # move the (tiny, random-net) value by ~1e-8
    assert batch[0].item() == pytest.approx(d1.item(), rel=1e-4, abs=1e-7)
    assert pim_distance(ex, ey, seed=12).item() != d1.item()
    assert pim_distance(ex, net(x.clone()), seed=11).item() == 0.0
    assert d1.item() != 0.0  # a Monte-Carlo estimate: may be slightly negative


def test_sampled_distance_validates_input():
    enc = [(torch.zeros(1, 5, 10, 2, 2), torch.zeros(1, 5, 2, 2))]
    with pytest.raises(MetricError, match="samples must be >= 1"):
        sampled_mixture_distance(enc, enc, samples=0)
    with pytest.raises(MetricError, match="equal shapes"):
        gaussian_distance([(torch.zeros(1, 1, 10, 2, 2), None)], [(torch.zeros(1, 1, 10, 2, 3), None)])
