"""PSNR (CompressAI convention) by hand, SSIM / MS-SSIM equal pytorch-msssim called directly."""

from __future__ import annotations

import math

import numpy as np
import pytest
import pytorch_msssim
import torch

from evalkit.errors import ImagePairError, MetricError
from evalkit.metrics import compute_batch, compute_pair, get_spec


def _nchw(img: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(img).permute(2, 0, 1)[None].float()


def test_psnr_equals_hand_computation(photo_pair):
    ref, dist = photo_pair
    mse = np.mean((ref.astype(np.float64) - dist.astype(np.float64)) ** 2)
    expected = 20 * math.log10(255) - 10 * math.log10(mse)
    assert compute_pair(ref, dist, ["psnr"])["psnr"] == pytest.approx(expected, rel=1e-12)


def test_psnr_known_value():
    ref = np.zeros((4, 4, 3), np.uint8)
    dist = ref.copy()
    dist[0, 0, 0] = 48  # MSE = 48**2 / 48 = 48
    expected = 20 * math.log10(255) - 10 * math.log10(48.0)
    assert compute_pair(ref, dist, ["psnr"])["psnr"] == pytest.approx(expected, abs=1e-12)


def test_psnr_of_identical_images_is_inf(photo):
    assert compute_pair(photo, photo, ["psnr"])["psnr"] == math.inf


def test_psnr_batch_is_per_image_not_pooled(photo_pair, photo):
    ref, dist = photo_pair
    values = compute_batch(np.stack([ref, ref]), np.stack([dist, photo]), "psnr")
    assert values[0] == pytest.approx(compute_pair(ref, dist, ["psnr"])["psnr"])
    assert values[1] == math.inf


def test_psnr_uint8_path_equals_float_path_exactly():
    """compute_batch on uint8 arrays takes PSNR's uint8 route (no float copies); it equals the
    float-tensor call bit for bit, also for one reference against a batch and for an image
    large enough that a plain float32 sum would round (an odd number of values)."""
    from evalkit.metrics import build_metric

    rng = np.random.default_rng(5)
    ref = rng.integers(0, 256, (2, 1023, 1531, 3), dtype=np.uint8)
    dist = rng.integers(0, 256, (2, 1023, 1531, 3), dtype=np.uint8)
    metric = build_metric("psnr")
    as_float = metric(_nchw(ref[0]).expand(2, -1, -1, -1).contiguous(),
                      torch.from_numpy(dist).permute(0, 3, 1, 2).float())
    via_uint8 = metric.from_uint8(torch.from_numpy(ref[:1]), torch.from_numpy(dist))
    assert torch.equal(as_float, via_uint8)
    sse = ((ref.astype(np.int64) - dist) ** 2).reshape(2, -1).sum(1)
    expected = 20 * np.log10(255) - 10 * np.log10(sse / ref[0].size)
    np.testing.assert_allclose(compute_batch(ref, dist, "psnr"), expected, rtol=1e-14)


def test_ssim_equals_pytorch_msssim(large_pair):
    ref, dist = large_pair
    expected = pytorch_msssim.ssim(_nchw(ref), _nchw(dist), data_range=255).item()
    ours = compute_pair(ref, dist, ["ssim"])["ssim"]
    assert 0.2 < ours < 0.99
    assert ours == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize("noise", [3.0, 12.0, 40.0])
def test_ssim_equals_scikit_image(large_pair, noise):
    """Oracle: scikit-image's own SSIM with the same definition (11-tap Gaussian window,
    sigma 1.5 -- skimage's truncate 3.5 gives radius 5 --, population covariances,
    data_range 255, per channel, mean over the valid region since skimage crops the 5 px
    border).  skimage works in float64, pytorch-msssim in float32: the difference measured
    here is <= 4e-6, so 2e-5 leaves room for other inputs while catching a real change
    (sample instead of population covariance moves SSIM by >= 2e-4 on these pairs, a uniform
    window or another K1 by more)."""
    from skimage.metrics import structural_similarity

    ref = large_pair[0]
    rng = np.random.default_rng(int(noise))
    dist = np.clip(np.rint(ref + rng.normal(0, noise, ref.shape)), 0, 255).astype(np.uint8)
    expected = structural_similarity(ref, dist, gaussian_weights=True, sigma=1.5,
                                     use_sample_covariance=False, data_range=255, channel_axis=-1)
    assert compute_pair(ref, dist, ["ssim"])["ssim"] == pytest.approx(expected, abs=2e-5)


def test_ms_ssim_equals_pytorch_msssim(large_pair):
    ref, dist = large_pair
    expected = pytorch_msssim.ms_ssim(_nchw(ref), _nchw(dist), data_range=255).item()
    ours = compute_pair(ref, dist, ["ms_ssim"])["ms_ssim"]
    assert 0.5 < ours < 0.999
    assert ours == pytest.approx(expected, rel=1e-6)


def test_ms_ssim_small_image_is_a_clear_error(large_pair):
    ref, dist = large_pair
    small_ref, small_dist = ref[:160], dist[:160]  # 200x160: short side 160
    with pytest.raises(MetricError, match="at least 161 px, got 200x160"):
        compute_pair(small_ref, small_dist, ["ms_ssim"])
    # 161 px works and SSIM still works on the 160 px image
    assert 0 < compute_pair(ref[:161], dist[:161], ["ms_ssim"])["ms_ssim"] < 1
    assert 0 < compute_pair(small_ref, small_dist, ["ssim"])["ssim"] < 1


def test_ssim_tiny_image_is_a_clear_error():
    tiny = np.zeros((10, 30, 3), np.uint8)
    with pytest.raises(MetricError, match="at least 11 px, got 30x10"):
        compute_pair(tiny, tiny, ["ssim"])


def test_shape_mismatch_is_a_pair_error(photo):
    with pytest.raises(ImagePairError):
        compute_pair(photo, photo[:, :-1].copy(), ["psnr"])


def test_unknown_metric_is_a_clear_error():
    with pytest.raises(MetricError, match="unknown metric 'psnrr'"):
        get_spec("psnrr")


def test_direction_of_results_columns_comes_from_the_registry():
    from evalkit.metrics import REGISTRY, higher_is_better

    for name, spec in REGISTRY.items():
        assert higher_is_better(name) is spec.higher_is_better
    assert higher_is_better("psnr") and not higher_is_better("lpips")
    assert higher_is_better("my_own_score") is True
    assert higher_is_better("my_own_score", default=False) is False
