"""The fast paths: tiled CNNs with halos, chunked (streaming) distances, the NNPACK convolution
and the two-stage interface, each against the plain whole-image computation."""

from __future__ import annotations

import pytest
import torch

import evalkit.pim.conv as pim_conv
import evalkit.pim.stream as pim_stream
from evalkit.errors import MetricError
from evalkit.pim.distance import gaussian_distance, sampled_mixture_distance
from evalkit.pim.metric import PIMMetric
from evalkit.pim.model import PIMConfig, PIMNet
from evalkit.pim.stream import gaussian_distance_features, sampled_distance_features


def small_net(nmix: int, seed: int = 0) -> PIMNet:
    torch.manual_seed(seed)
    net = PIMNet(PIMConfig(num_filters=(8, 8, 8, 3), num_mixtures=nmix)).eval().requires_grad_(False)
    with torch.no_grad():  # positive biases: the ReLUs pass a real signal through every level
        for name, p in net.named_parameters():
            if name.endswith("bias"):
                p.abs_().add_(0.05)
    return net


@pytest.fixture(scope="module")
def odd_pair(photo_pair):
    ref, dist = photo_pair
    to = lambda a: torch.from_numpy(a[:45, :61]).permute(2, 0, 1)[None].float()  # noqa: E731
    return to(ref), to(dist)


@torch.no_grad()
def test_tiled_cnn_equals_whole_level(odd_pair):
    net = small_net(1)
    x = odd_pair[0][..., :29, :37] / 255
    whole = net.features(x, tile=10_000)
    for tile in (7, 20):  # 7: tiles smaller than the 8-pixel halo
        tiled = net.features(x, tile=tile)
        for a, b in zip(tiled, whole):
            torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
    assert whole[-1].abs().max() > 0.1


@torch.no_grad()
def test_nnpack_and_direct_convolutions_agree(odd_pair, monkeypatch):
    net = small_net(1)
    x = odd_pair[0] / 255
    auto = net.features(x)
    monkeypatch.setattr(pim_conv, "BACKEND", "direct")
    direct = net.features(x)
    for a, b in zip(auto, direct):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


@torch.no_grad()
@pytest.mark.parametrize("chunk", [500, 1 << 18])
def test_streaming_distances_equal_full_encodings(odd_pair, monkeypatch, chunk):
    """Chunked encoders + distances from CNN features = the distances of whole encodings; for
    PIM-5 the same random numbers in the same order (all levels of qx, then of qy)."""
    monkeypatch.setattr(pim_stream, "CHUNK_PIXELS", chunk)
    x, y = (t / 255 for t in odd_pair)
    net1 = small_net(1)
    fx, fy = net1.features(x), net1.features(y)
    ex, ey = ([enc(f) for enc, f in zip(net1.encoders, fs)] for fs in (fx, fy))
    torch.testing.assert_close(gaussian_distance_features(net1.encoders, fx, fy),
                               gaussian_distance(ex, ey), rtol=1e-6, atol=0)
    net5 = small_net(5)
    y = x.flip(-1)  # far from x: a large value, so float32 log-density round-off stays relative
    fx, fy = net5.features(x), net5.features(y)
    ex, ey = ([enc(f) for enc, f in zip(net5.encoders, fs)] for fs in (fx, fy))
    for seed, samples in ((0, 1), (3, 2)):
        ours = sampled_distance_features(net5.encoders, fx, fy, seed=seed, samples=samples)
        full = sampled_mixture_distance(ex, ey, seed=seed, samples=samples)
        # the same random numbers: equal up to float32 round-off, 1000x below the spread that
        # other random numbers cause
        other = sampled_mixture_distance(ex, ey, seed=seed + 1, samples=samples)
        assert abs(ours.item() - full.item()) < 1e-3 * abs(other.item() - full.item())


@pytest.mark.parametrize("nmix", [1, 5])
@pytest.mark.parametrize("size", [(23, 37), (40, 33)])
def test_two_stage_equals_pair_calls(photo_pair, nmix, size):
    h, w = size
    ref_np, dist_np = photo_pair
    to = lambda a: torch.from_numpy(a[:h, :w]).permute(2, 0, 1)[None].float()  # noqa: E731
    ref, dist = to(ref_np), to(dist_np)
    dists = torch.cat([dist, ref.flip(-1), (ref + 7).clamp(0, 255), ref])
    metric = PIMMetric(small_net(nmix), {}, "cpu", tile=16)
    state = metric.prepare_reference(ref)
    batch = metric.score_batch(state, dists)
    assert batch.shape == (4,) and batch.dtype == torch.float64
    pairs = torch.cat([metric(ref, d[None]) for d in dists])
    torch.testing.assert_close(batch, pairs, rtol=1e-6, atol=0)
    assert batch[3].item() == 0.0 and (batch[:3] != 0).all()
    # the pair call on a batch is pair by pair
    torch.testing.assert_close(metric(ref.expand(4, -1, -1, -1), dists), pairs, rtol=1e-6, atol=0)


def test_two_stage_rejects_bad_shapes(photo_pair):
    metric = PIMMetric(small_net(1), {}, "cpu")
    ref = torch.from_numpy(photo_pair[0][:20, :24]).permute(2, 0, 1)[None].float()
    state = metric.prepare_reference(ref)
    with pytest.raises(MetricError, match="reference's size 24x20"):
        metric.score_batch(state, ref[..., :-1])
    with pytest.raises(MetricError, match="one image"):
        metric.prepare_reference(ref.expand(2, -1, -1, -1))
    with pytest.raises(MetricError, match=r"\(N, 3, H, W\)"):
        metric.score_batch(state, ref[0])
