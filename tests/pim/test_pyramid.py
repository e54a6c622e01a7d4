"""The steerable pyramid against an independent float64 SciPy computation of the spec."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import ndimage

from evalkit.pim.pyramid import SteerablePyramid, level_shapes, sp1_filters


def _official_tables():
    import pyrtools

    f = pyrtools.pyramids.filters.steerable_filters("sp1_filters")
    # Column-major reshape == the official row-major reshape followed by a transpose.
    bands = [np.asarray(f["bfilts"])[:, k].reshape(9, 9, order="F") for k in range(2)]
    return f["lo0filt"], f["hi0filt"], f["lofilt"], bands


def _corr(img, kernel):
    """'same' cross-correlation with zero padding (odd kernels: centred)."""
    return ndimage.correlate(img, np.asarray(kernel, np.float64), mode="constant", cval=0.0)


def reference_pyramid(img: np.ndarray, nscales: int = 3) -> list[np.ndarray]:
    """(C, H, W) float64 -> the levels in PIM's reversed order, one channel at a time."""
    lo0, hi0, lofilt, bands = _official_tables()
    per_channel = []
    for ch in img:
        levels = [_corr(ch, hi0)]
        lo = _corr(ch, lo0)
        for _ in range(nscales):
            levels += [_corr(lo, bands[0]), _corr(lo, bands[1])]
            lo = _corr(lo, lofilt)[::2, ::2]
        levels.append(lo)
        per_channel.append(levels[::-1])
    return [np.stack([c[i] for c in per_channel]) for i in range(len(per_channel[0]))]


@pytest.mark.parametrize("size", [(37, 50), (32, 48)])
def test_pyramid_matches_independent_scipy_computation(size):
    rng = np.random.default_rng(7)
    img = rng.random((3, *size))
    ours = SteerablePyramid()(torch.from_numpy(img).float()[None])
    ref = reference_pyramid(img)
    assert len(ours) == len(ref) == 8
    for i, (a, b) in enumerate(zip(ours, ref)):
        assert a.shape[1:] == b.shape, i
        np.testing.assert_allclose(a[0].numpy(), b, atol=2e-5, rtol=1e-5, err_msg=f"level {i}")


def test_level_shapes_match_the_spec_tables():
    assert level_shapes(512, 512) == [(64, 64), (128, 128), (128, 128), (256, 256), (256, 256),
                                      (512, 512), (512, 512), (512, 512)]
    assert level_shapes(300, 451) == [(38, 57), (75, 113), (75, 113), (150, 226), (150, 226),
                                      (300, 451), (300, 451), (300, 451)]


def test_pyramid_output_shapes_for_odd_sizes():
    x = torch.rand(2, 3, 21, 35)
    levels = SteerablePyramid()(x)
    assert [tuple(t.shape[-2:]) for t in levels] == level_shapes(21, 35)
    assert all(t.shape[:2] == (2, 3) for t in levels)


def test_band_orientation_and_dc_gains():
    f = sp1_filters()
    assert f["lo0filt"].sum() == pytest.approx(1.0, abs=1e-6)
    assert f["hi0filt"].sum() == pytest.approx(0.0, abs=1e-6)
    assert f["lofilt"].sum() == pytest.approx(2.0, abs=1e-5)
    # Intensity changing along x (a vertical edge): band 0 responds, band 1 does not.
    x = torch.zeros(1, 3, 40, 40)
    x[..., 20:] = 1.0
    levels = SteerablePyramid()(x)
    b0, b1 = levels[6], levels[5]  # scale 0, band 0 / band 1
    inner = (slice(None), slice(None), slice(10, 30), slice(10, 30))
    assert b0[inner].abs().max() > 0.1
    assert b1[inner].abs().max() < 1e-6
    # Constant image: the low-pass residual carries 8x the mean away from the borders.
    const = torch.full((1, 3, 160, 160), 0.5)
    lo = SteerablePyramid()(const)[0]
    assert lo[0, :, 10, 10] == pytest.approx(torch.full((3,), 4.0), abs=1e-3)
