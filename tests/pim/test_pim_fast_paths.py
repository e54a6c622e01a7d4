"""The speed paths against the direct ones: NNPACK's C API with precomputed kernel transforms
and fused ReLU, parallel tile jobs, parallel reconstruction jobs and PIM-5's reference-side
memo."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from test_pim_streaming import small_net

import evalkit.pim.conv as pim_conv
import evalkit.pim.metric as pim_metric
import evalkit.pim.model as pim_model
import evalkit.pim.pyramid as pim_pyramid
from evalkit.pim import nnpack
from evalkit.pim.distance import sampled_mixture_distance
from evalkit.pim.metric import PIMMetric
from evalkit.pim.stream import sampled_distance_features
from evalkit.pim.tiles import map_jobs

needs_nnpack = pytest.mark.skipif(not nnpack.available(), reason="NNPACK's C API is not usable here")


def photo(photo_pair, h, w, which=0):
    return torch.from_numpy(photo_pair[which][:h, :w]).permute(2, 0, 1)[None].float()


@needs_nnpack
@pytest.mark.parametrize("cin,cout,relu", [(3, 64, True), (64, 64, True), (64, 3, False), (8, 5, True)])
@pytest.mark.parametrize("size", [(1, 1), (13, 29), (40, 33)])
def test_nnpack_conv_is_pytorchs_nnpack(cin, cout, relu, size):
    g = torch.Generator().manual_seed(cin * cout)
    x = torch.randn(1, cin, *size, generator=g)
    w, b = torch.randn(cout, cin, 5, 5, generator=g) * 0.1, torch.randn(cout, generator=g)
    ours = nnpack.Conv(w, b, relu)
    torch.backends.nnpack.is_available()  # initialises PyTorch's own NNPACK entry point
    want = torch._nnpack_spatial_convolution(x, w, b, [2, 2], [1, 1])
    want = want.relu_() if relu else want
    if min(size) > 8:  # PyTorch's call then picks NNPACK's ft16x16 too (ft8x8 for tiny images)
        assert torch.equal(ours(x), want)
    torch.testing.assert_close(ours(x), want, rtol=1e-6, atol=1e-6)
    assert torch.equal(ours(x, threaded=False), ours(x))
    direct = F.conv2d(x, w, b, padding=2)
    torch.testing.assert_close(ours(x), direct.relu_() if relu else direct, rtol=1e-4, atol=1e-5)


@needs_nnpack
@torch.no_grad()
def test_cnn_plan_follows_weight_changes(photo_pair):
    net = small_net(1)
    x = photo(photo_pair, 20, 24) / 255
    before = net.cnns[7](x)
    plan = net.cnns[7].plan(x)
    assert plan is not None and net.cnns[7].plan(x) is plan  # built once
    net.cnns[7][0].weight.mul_(2)
    after = net.cnns[7](x)
    assert net.cnns[7].plan(x) is not plan and not torch.equal(before, after)
    net.cnns[7][0].weight.div_(2)
    assert torch.equal(net.cnns[7](x), before)


@needs_nnpack
@torch.inference_mode()
def test_parallel_tile_jobs_equal_sequential_levels(photo_pair, monkeypatch):
    net = small_net(5)
    x = photo(photo_pair, 45, 61) / 255
    monkeypatch.setattr(torch, "get_num_threads", lambda: 2)
    for tile in (7, 20, 10_000):
        parallel = net.features(x, tile)
        monkeypatch.setattr(pim_model, "PARALLEL", False)
        sequential = net.features(x, tile)
        monkeypatch.setattr(pim_model, "PARALLEL", True)
        assert all(torch.equal(a, b) for a, b in zip(parallel, sequential))
    monkeypatch.setattr(pim_conv, "BACKEND", "direct")
    for a, b in zip(net.features(x), parallel):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)


def test_map_jobs_keeps_order_threads_and_autograd_mode():
    threads = torch.get_num_threads()
    with torch.inference_mode():
        out = map_jobs(lambda k: (k, torch.get_num_threads(), torch.is_inference_mode_enabled()),
                       list(range(7)), 2, prepare=lambda k: 10 * k)
    assert [o[0] for o in out] == [10 * k for k in range(7)]
    assert all(o[1] == 1 and o[2] for o in out)  # single-threaded jobs, caller's mode
    assert torch.get_num_threads() == threads


@pytest.mark.parametrize("nmix,big", [(1, False), (5, False), (5, True)])
def test_parallel_reconstructions_equal_sequential(photo_pair, monkeypatch, nmix, big):
    ref = photo(photo_pair, 29, 35)
    dists = torch.cat([photo(photo_pair, 29, 35, 1), ref.flip(-1), ref, (ref + 9).clamp(0, 255)])
    metric = PIMMetric(small_net(nmix), {}, "cpu", tile=16)
    monkeypatch.setattr(torch, "get_num_threads", lambda: 2)
    if big:  # the one-reconstruction-at-a-time path of large images
        monkeypatch.setattr(pim_metric, "PARALLEL_RECON_PIXELS", 0)
    parallel = metric.score_batch(metric.prepare_reference(ref), dists)
    monkeypatch.setattr(pim_model, "PARALLEL", False)
    sequential = metric.score_batch(metric.prepare_reference(ref), dists)
    assert parallel[2].item() == 0.0 and sequential[2].item() == 0.0
    if nmix == 1:
        torch.testing.assert_close(parallel, sequential, rtol=1e-6, atol=0)
    else:  # float32 log-densities (single- vs multi-threaded round-off): far below the spread
        other = PIMMetric(metric.model, {}, "cpu", tile=16, seed=1)
        spread = (other.score_batch(other.prepare_reference(ref), dists) - sequential).abs()
        assert ((parallel - sequential).abs() <= 1e-3 * spread).all()


@torch.no_grad()
@pytest.mark.parametrize("budget", [0, 1, 30_000, 10**9])
def test_pim5_memo_gives_the_unmemoised_values(photo_pair, budget):
    """The reference side memoised for none, the smallest, some or all levels: every later
    reconstruction gets the values of the plain computation (the same random numbers)."""
    net = small_net(5, seed=2)
    x = photo(photo_pair, 37, 30) / 255
    ys = [photo(photo_pair, 37, 30, 1) / 255, x.flip(-1), x.flip(-2), x]
    fx = net.features(x)
    memo: dict = {}
    for k, y in enumerate(ys):
        fy = net.features(y)
        got = sampled_distance_features(net.encoders, fx, fy, seed=4, memo=memo, memo_bytes=budget)
        plain = sampled_distance_features(net.encoders, fx, fy, seed=4)
        whole = sampled_mixture_distance([enc(f) for enc, f in zip(net.encoders, fx)],
                                         [enc(f) for enc, f in zip(net.encoders, fy)], seed=4)
        torch.testing.assert_close(got, plain, rtol=1e-9, atol=1e-12)
        assert abs(got.item() - whole.item()) < 1e-5 * max(abs(whole.item()), 1e-3)
    assert got.item() == 0.0  # the reference itself
    levels = len(memo["levels"])
    assert levels == {0: 0, 1: 0, 30_000: levels, 10**9: 8}[budget]
    if budget == 30_000:
        assert 0 < levels < 8 and memo["bytes"] <= budget


@torch.no_grad()
@pytest.mark.parametrize("strip", [1, 50, 700])
def test_pyramid_in_strips_equals_whole_image(photo_pair, monkeypatch, strip):
    pyramid = small_net(1).pyramid
    x = photo(photo_pair, 45, 61) / 255
    whole = pyramid(x)
    monkeypatch.setattr(pim_pyramid, "STRIP_PIXELS", strip)
    strips = pyramid(x)
    assert [t.shape for t in strips] == [t.shape for t in whole]
    for a, b in zip(strips, whole):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-7)
