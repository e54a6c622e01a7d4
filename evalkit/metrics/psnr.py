"""PSNR in CompressAI's convention.

RGB, 8-bit: the MSE is taken over all pixels and all three channels of the image, then
``PSNR = 20 * log10(255) - 10 * log10(MSE)``.  Identical images have MSE 0 and PSNR ``inf``
(returned as ``float('inf')``, never clipped to an arbitrary cap).  The MSE is accumulated in
float64 so large images lose no precision.
"""

from __future__ import annotations

import math

import torch

from evalkit.metrics.tensors import check_same_shape


def mse_per_image(ref: torch.Tensor, dist: torch.Tensor) -> torch.Tensor:
    """Mean squared error of each image of a ``(N, 3, H, W)`` batch (values in [0, 255]), float64."""
    check_same_shape(ref, dist)
    # Differences and squares of 8-bit values are exact in float32 (|d| <= 255, d^2 < 2^24);
    # only the sum over millions of pixels needs float64.
    diff = ref - dist
    n = diff[0].numel()
    return torch.sum(diff * diff, dim=(1, 2, 3), dtype=torch.float64) / n


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
