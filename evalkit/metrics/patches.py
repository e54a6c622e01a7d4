"""HiFiC's patch scheme for FID/KID on a few high-resolution images ("FID/256").

FID and KID need many samples; a test set of a few dozen large images has too few.  Following
HiFiC (Mentzer et al., "High-Fidelity Generative Image Compression", NeurIPS 2020) each image is
split into patches that are then treated as the samples:

1. the non-overlapping ``p x p`` grid anchored at the top-left corner (rows ``0, p, 2p, ...``
   while the patch fits; the right/bottom remainder narrower than ``p`` is dropped);
2. only when **both** sides are at least ``1.5 p`` (384 px for ``p = 256``): the same grid again
   on the image shifted by ``p / 2`` (128 px) in both directions, i.e. on
   ``image[p/2:, p/2:]`` -- rows ``p/2, 3p/2, ...`` and the same for columns.

Patches are returned grid first, then shifted grid, each in row-major order.  Images with a side
shorter than ``p`` contribute no patch.

Source checked: facebookresearch/NeuralCompression (``neuralcompression/metrics/
_update_patch_fid.py``, by the MS-ILLM authors, documented as HiFiC's FID/256) implements exactly
the scheme above (``F.unfold`` with stride ``p`` on the image, then on
``image[:, :, p//2:, p//2:]`` when ``H >= 1.5 p and W >= 1.5 p``).  The HiFiC paper text itself
was not retrievable from the reference corpora available while writing this.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from evalkit.errors import MetricError
from evalkit.pixels import check_rgb_uint8

#: HiFiC's patch size (FID/256, KID/256).
PATCH_SIZE = 256


def _check_patch_size(patch_size: int) -> None:
    if isinstance(patch_size, bool) or not isinstance(patch_size, (int, np.integer)) \
            or patch_size < 2 or patch_size % 2:
        raise MetricError(f"patch_size must be an even integer >= 2, got {patch_size!r}")


def _grid(start: int, length: int, patch_size: int) -> range:
    return range(start, length - patch_size + 1, patch_size)


def has_shifted_grid(height: int, width: int, patch_size: int = PATCH_SIZE) -> bool:
    """True when both sides are at least ``1.5 * patch_size`` (HiFiC's condition)."""
    return 2 * height >= 3 * patch_size and 2 * width >= 3 * patch_size


def patch_positions(height: int, width: int, patch_size: int = PATCH_SIZE) -> list[tuple[int, int]]:
    """Top-left corners ``(y, x)`` of the patches of an ``height x width`` image, in extraction
    order (grid row-major, then the shifted grid row-major)."""
    _check_patch_size(patch_size)
    if height < 0 or width < 0:
        raise MetricError(f"image size must be non-negative, got {height}x{width}")
    out = [(y, x) for y in _grid(0, height, patch_size) for x in _grid(0, width, patch_size)]
    if has_shifted_grid(height, width, patch_size):
        half = patch_size // 2
        out += [(y, x) for y in _grid(half, height, patch_size)
                for x in _grid(half, width, patch_size)]
    return out


def count_patches(height: int, width: int, patch_size: int = PATCH_SIZE) -> int:
    """Number of patches :func:`extract_patches` yields for an ``height x width`` image."""
    return len(patch_positions(height, width, patch_size))


def extract_patches(image: np.ndarray, patch_size: int = PATCH_SIZE) -> np.ndarray:
    """The HiFiC patches of one uint8 ``(H, W, 3)`` image as a ``(P, p, p, 3)`` uint8 array
    (``P`` may be 0 for images smaller than the patch)."""
    check_rgb_uint8(image)
    pos = patch_positions(image.shape[0], image.shape[1], patch_size)
    out = np.empty((len(pos), patch_size, patch_size, 3), dtype=np.uint8)
    for i, (y, x) in enumerate(pos):
        out[i] = image[y:y + patch_size, x:x + patch_size]
    return out


def extract_set_patches(images: Sequence[np.ndarray], patch_size: int = PATCH_SIZE) -> np.ndarray:
    """Patches of every image of a set, concatenated in image order: ``(sum P_i, p, p, 3)``."""
    parts = [extract_patches(im, patch_size) for im in images]
    if not parts:
        return np.empty((0, patch_size, patch_size, 3), dtype=np.uint8)
    return np.concatenate(parts, axis=0)
