"""SSIM and MS-SSIM in CompressAI's convention (RGB, ``data_range=255``): SSIM through
pytorch-msssim, MS-SSIM with its arithmetic in :mod:`evalkit.metrics.msssim_two_stage` (faster,
reference reusable; the tests check it against pytorch-msssim to 1e-6).

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
from evalkit.metrics.msssim_two_stage import MSSSIM
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


class _CheckedMSSSIM(MSSSIM):
    """:class:`~evalkit.metrics.msssim_two_stage.MSSSIM` refusing images too small for 5 scales."""

    def prepare_reference(self, ref: torch.Tensor):
        _check_size(ref, MS_SSIM_MIN_SIDE, "ms_ssim")
        return super().prepare_reference(ref)

    def __call__(self, ref: torch.Tensor, dist: torch.Tensor) -> torch.Tensor:
        check_same_shape(ref, dist)
        _check_size(ref, MS_SSIM_MIN_SIDE, "ms_ssim")
        return super().__call__(ref, dist)


_MS_SSIM = _CheckedMSSSIM()


def ms_ssim(ref: torch.Tensor, dist: torch.Tensor) -> torch.Tensor:
    """MS-SSIM of each pair of a ``(N, 3, H, W)`` batch with values in [0, 255] (pytorch-msssim's
    arithmetic, faster; see :mod:`evalkit.metrics.msssim_two_stage`)."""
    return _MS_SSIM(ref, dist)


def build_ssim(device: str | torch.device = "cpu") -> object:
    """The ``ssim`` registry entry's builder."""
    return ssim


def build_ms_ssim(device: str | torch.device = "cpu") -> object:
    """The ``ms_ssim`` registry entry's builder (with the two-stage interface)."""
    return _MS_SSIM
