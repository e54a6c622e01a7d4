"""PSNR in CompressAI's convention.

RGB, 8-bit: the MSE is taken over all pixels and all three channels of the image, then
``PSNR = 20 * log10(255) - 10 * log10(MSE)``.  Identical images have MSE 0 and PSNR ``inf``
(returned as ``float('inf')``, never clipped to an arbitrary cap).  The MSE is exact for 8-bit
values however large the image (see :func:`mse_per_image`).
"""

from __future__ import annotations

import math

import torch

from evalkit.metrics.tensors import check_same_shape

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
    sq = _flat(ref - dist)
    sq = sq.mul_(sq)
    n, m = sq.shape
    k = m // _EXACT_CHUNK
    total = sq[:, :k * _EXACT_CHUNK].view(n, k, _EXACT_CHUNK).sum(-1).to(torch.float64).sum(1)
    if m > k * _EXACT_CHUNK:
        total = total + sq[:, k * _EXACT_CHUNK:].to(torch.float64).sum(1)
    return total / m


def psnr_from_mse(mse: torch.Tensor | float, peak: float = 255.0) -> torch.Tensor:
    """``20*log10(peak) - 10*log10(mse)``; ``inf`` where ``mse == 0``."""
    mse = torch.as_tensor(mse, dtype=torch.float64)
    return 20.0 * math.log10(peak) - 10.0 * torch.log10(mse)


def psnr(ref: torch.Tensor, dist: torch.Tensor) -> torch.Tensor:
    """PSNR (dB) of each image pair of a ``(N, 3, H, W)`` batch with values in [0, 255]."""
    return psnr_from_mse(mse_per_image(ref, dist))


def build_psnr(device: str | torch.device = "cpu") -> object:
    """The ``psnr`` registry entry's builder (a plain function: nothing to build)."""
    return psnr
