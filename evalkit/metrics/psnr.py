"""PSNR in CompressAI's convention.

RGB, 8-bit: the MSE is taken over all pixels and all three channels of the image, then
``PSNR = 20 * log10(255) - 10 * log10(MSE)``.  Identical images have MSE 0 and PSNR ``inf``
(returned as ``float('inf')``, never clipped to an arbitrary cap).  The MSE is exact for 8-bit
values however large the image (see :func:`mse_per_image`).
"""

from __future__ import annotations

import math

import torch

from evalkit.metrics.tensors import check_same_shape, chunked_sum64

#: Squared differences of 8-bit values are integers below 2**16, so float32 sums of this many
#: of them stay below 2**24 and are exact in any order.
_EXACT_CHUNK = 256


def _flat(x: torch.Tensor) -> torch.Tensor:
    """``(N, C, H, W)`` -> ``(N, C*H*W)`` in memory order, without a copy where possible (the
    values are only summed, so the element order does not matter)."""
    n = x.shape[0]
    if x.is_contiguous():
        return x.view(n, -1)
    if x.is_contiguous(memory_format=torch.channels_last):  # what to_tensor's permute gives
        return x.permute(0, 2, 3, 1).reshape(n, -1)
    return x.reshape(n, -1)


def mse_per_image(ref: torch.Tensor, dist: torch.Tensor) -> torch.Tensor:
    """Mean squared error of each image of a ``(N, 3, H, W)`` batch (values in [0, 255]), float64.

    Exact for 8-bit values: differences and squares are exact in float32 (|d| <= 255,
    d^2 < 2^16), chunks of 256 squares are summed in float32 (exact, < 2^24), and only the
    chunk sums are accumulated in float64.  This avoids a float64 reduction over the whole
    (non-contiguous, permuted) image, which was the slow part.
    """
    check_same_shape(ref, dist)
    return _mean_square(_flat(ref - dist))


def _mean_square(diff: torch.Tensor) -> torch.Tensor:
    """Mean of the squares of each row of a ``(N, M)`` float32 tensor of 8-bit differences
    (overwritten), exact (see :func:`mse_per_image`), float64."""
    sq = diff.mul_(diff)
    return chunked_sum64(sq, _EXACT_CHUNK) / sq.shape[1]


def psnr_from_mse(mse: torch.Tensor | float, peak: float = 255.0) -> torch.Tensor:
    """``20*log10(peak) - 10*log10(mse)``; ``inf`` where ``mse == 0``."""
    mse = torch.as_tensor(mse, dtype=torch.float64)
    return 20.0 * math.log10(peak) - 10.0 * torch.log10(mse)


def psnr(ref: torch.Tensor, dist: torch.Tensor) -> torch.Tensor:
    """PSNR (dB) of each image pair of a ``(N, 3, H, W)`` batch with values in [0, 255]."""
    return psnr_from_mse(mse_per_image(ref, dist))


class PSNR:
    """The ``psnr`` metric: ``metric(ref, dist)`` on float tensors like every pair metric, and
    :meth:`from_uint8` for callers that still hold the decoded 8-bit images (the pair API and
    the engine), which skips both float conversions: the difference is taken straight from
    the uint8 pixels (one pass instead of three), so PSNR costs about what reading the two
    images costs.  Same arithmetic, same values."""

    def __call__(self, ref: torch.Tensor, dist: torch.Tensor) -> torch.Tensor:
        return psnr(ref, dist)

    def from_uint8(self, refs: torch.Tensor, dists: torch.Tensor) -> torch.Tensor:
        """PSNR of uint8 ``(N, H, W, 3)`` reconstructions against references of the same shape
        (or one reference, batch 1, for all of them)."""
        check_same_shape(refs[:1], dists[:1])
        if refs.shape[0] not in (1, dists.shape[0]):
            check_same_shape(refs, dists)  # raises, naming both shapes
        # both sides to float32 (fast same-type casts), then an in-place subtraction: measured
        # faster than a mixed float32 - uint8 subtraction or int16 differences
        diff = dists.to(torch.float32)
        if refs.shape[0] == dists.shape[0]:
            diff = diff.sub_(refs.to(torch.float32))
        else:
            diff = diff.sub_(refs.to(torch.float32).expand_as(diff))
        return psnr_from_mse(_mean_square(diff.view(diff.shape[0], -1)))


def build_psnr(device: str | torch.device = "cpu") -> PSNR:
    """The ``psnr`` registry entry's builder (nothing to build)."""
    return PSNR()
