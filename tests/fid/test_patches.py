"""HiFiC patch extraction: counts, positions, content, and an independent unfold-based check."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from evalkit.errors import MetricError
from evalkit.metrics.patches import (
    count_patches,
    extract_patches,
    extract_set_patches,
    has_shifted_grid,
    patch_positions,
)

GRID_512x768 = [(0, 0), (0, 256), (0, 512), (256, 0), (256, 256), (256, 512)]


@pytest.mark.parametrize("h, w, expected", [
    (256, 256, [(0, 0)]),                                   # one patch, too small to shift
    (383, 500, [(0, 0)]),                                   # height < 384: no shifted grid
    (500, 383, [(0, 0)]),                                   # width < 384: no shifted grid
    (384, 384, [(0, 0), (128, 128)]),                       # smallest size with a shift
    (512, 768, GRID_512x768 + [(128, 128), (128, 384)]),    # Kodak landscape: 6 + 2
    (768, 512, [(0, 0), (0, 256), (256, 0), (256, 256), (512, 0), (512, 256),
                (128, 128), (384, 128)]),                   # Kodak portrait: 6 + 2
    (1000, 700, [(y, x) for y in (0, 256, 512) for x in (0, 256)]
     + [(y, x) for y in (128, 384, 640) for x in (128, 384)]),   # 6 + 6
    (255, 1000, []),                                        # shorter than a patch
])
def test_positions(h, w, expected):
    assert patch_positions(h, w) == expected
    assert count_patches(h, w) == len(expected)


def test_shift_condition_is_both_sides_at_least_one_and_a_half_patches():
    assert has_shifted_grid(384, 384) and not has_shifted_grid(383, 1000)
    assert not has_shifted_grid(1000, 383)
    assert patch_positions(96, 96, patch_size=64) == [(0, 0), (32, 32)]


def _unfold_reference(image: np.ndarray, p: int) -> np.ndarray:
    """Independent computation (the NeuralCompression formulation): F.unfold with stride p on
    the image, then on image[p//2:, p//2:] when both sides >= 1.5 p."""
    t = torch.from_numpy(image).permute(2, 0, 1)[None].float()

    def grid(x):
        return F.unfold(x, kernel_size=p, stride=p).permute(0, 2, 1).reshape(-1, 3, p, p)

    parts = [grid(t)]
    if t.shape[2] >= 1.5 * p and t.shape[3] >= 1.5 * p:
        parts.append(grid(t[:, :, p // 2:, p // 2:]))
    return torch.cat(parts).permute(0, 2, 3, 1).to(torch.uint8).numpy()


@pytest.mark.parametrize("h, w", [(64, 64), (95, 130), (96, 96), (128, 192), (250, 175)])
def test_patches_equal_unfold_reference(h, w):
    rng = np.random.default_rng(h * w)
    image = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    got = extract_patches(image, patch_size=64)
    np.testing.assert_array_equal(got, _unfold_reference(image, 64))


def test_patch_content_is_the_slice_at_its_position(astronaut):
    image = astronaut[:400, :500]
    patches = extract_patches(image)
    pos = patch_positions(400, 500)
    assert patches.shape == (len(pos), 256, 256, 3) and patches.dtype == np.uint8
    for (y, x), patch in zip(pos, patches):
        np.testing.assert_array_equal(patch, image[y:y + 256, x:x + 256])


def test_set_patches_concatenate_in_image_order(astronaut):
    a, b = astronaut[:256, :256], astronaut[:384, :384]
    got = extract_set_patches([a, b])
    assert len(got) == 3
    np.testing.assert_array_equal(got[0], a)
    np.testing.assert_array_equal(got[2], b[128:384, 128:384])
    assert extract_set_patches([]).shape == (0, 256, 256, 3)


@pytest.mark.parametrize("bad", [0, 3, 255, -2, 2.0, True])
def test_bad_patch_size(bad):
    with pytest.raises(MetricError, match="patch_size must be"):
        patch_positions(512, 512, patch_size=bad)


def test_bad_images():
    with pytest.raises(MetricError, match="uint8"):
        extract_patches(np.zeros((300, 300, 3), np.float32))
    with pytest.raises(MetricError, match=r"\(H, W, 3\)"):
        extract_patches(np.zeros((300, 300), np.uint8))
