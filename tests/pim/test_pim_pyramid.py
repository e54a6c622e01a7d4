"""The steerable pyramid against an independent float64 SciPy computation of the spec."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from pim_reference import reference_pyramid

from evalkit.pim.pyramid import SteerablePyramid, level_shapes, sp1_filters


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


def test_filter_tables_are_the_published_sp1_numbers():
    """Spot checks against the sp1 tables as printed in the official PIM repository
    (third_party/pyrtools/spfilters.py, ``sp_filters1``; its band table is negated there)."""
    f = sp1_filters()
    np.testing.assert_allclose(f["lo0filt"][0, :5], [-8.701e-05, -1.35428e-03, -1.60126e-03,
                                                     -5.0337e-04, 2.52401e-03], rtol=1e-6)
    np.testing.assert_allclose(f["lofilt"][0, :5], [-4.35e-05, 1.2078e-04, -6.7714e-04,
                                                    -1.2434e-04, -8.0064e-04], rtol=1e-6)
    np.testing.assert_allclose(f["hi0filt"][8, :5], [-9.57e-04, -2.4241e-04, -1.42472e-03,
                                                     -8.7426e-04, -1.16681e-03], rtol=1e-6)
    # bands[k] = bfilts[:, k].reshape(9, 9).T, so bfilts[:5, k] is the first column of bands[k].
    np.testing.assert_allclose(f["bands"][0][:5, 0], [-6.12588e-03, 8.0526e-03, 2.103714e-02,
                                                      1.53689e-02, 1.851466e-02], rtol=1e-6)
    np.testing.assert_allclose(f["bands"][1][:5, 0], [6.12588e-03, -1.287416e-02, -5.64153e-03,
                                                      -8.95726e-03, 0.0], rtol=1e-6, atol=1e-12)
