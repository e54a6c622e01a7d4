"""SSIM and MS-SSIM through pytorch-msssim, in CompressAI's convention (RGB, ``data_range=255``).

Gaussian window of 11 px, sigma 1.5, K = (0.01, 0.03); MS-SSIM uses the five standard scale
weights.  Small images: MS-SSIM downsamples four times and needs the short side to be larger
than ``(11 - 1) * 2**4 = 160`` px; SSIM needs at least 11 px.  Smaller images raise a
:class:`~evalkit.errors.MetricError` that says so (pytorch-msssim itself only has an ``assert``,
which ``python -O`` removes), rather than silently computing a different, fewer-scale metric.
"""

from __future__ import annotations

import pytorch_msssim
import torch

from evalkit.errors import MetricError
from evalkit.metrics.tensors import check_same_shape

WIN_SIZE = 11
MS_SSIM_MIN_SIDE = (WIN_SIZE - 1) * 2 ** 4 + 1  # 161 px


def _check_size(x: torch.Tensor, minimum: int, name: str) -> None:
    h, w = x.shape[-2:]
    if min(h, w) < minimum:
        raise MetricError(f"{name} needs images whose short side is at least {minimum} px, "
                          f"got {w}x{h}")


def ssim(ref: torch.Tensor, dist: torch.Tensor) -> torch.Tensor:
    """SSIM of each pair of a ``(N, 3, H, W)`` batch with values in [0, 255]."""
    check_same_shape(ref, dist)
    _check_size(ref, WIN_SIZE, "ssim")
    with torch.no_grad():
        return pytorch_msssim.ssim(ref, dist, data_range=255, size_average=False).to(torch.float64)


def ms_ssim(ref: torch.Tensor, dist: torch.Tensor) -> torch.Tensor:
    """MS-SSIM of each pair of a ``(N, 3, H, W)`` batch with values in [0, 255]."""
    check_same_shape(ref, dist)
    _check_size(ref, MS_SSIM_MIN_SIDE, "ms_ssim")
    with torch.no_grad():
        return pytorch_msssim.ms_ssim(ref, dist, data_range=255, size_average=False).to(torch.float64)


def build_ssim(device: str | torch.device = "cpu") -> object:
    """The ``ssim`` registry entry's builder."""
    return ssim


def build_ms_ssim(device: str | torch.device = "cpu") -> object:
    """The ``ms_ssim`` registry entry's builder."""
    return ms_ssim
