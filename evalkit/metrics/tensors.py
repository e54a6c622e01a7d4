"""Conversions between uint8 images and the float tensors metrics take."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from evalkit.errors import ImagePairError, MetricError
from evalkit.pixels import check_rgb_uint8


def to_uint8(images: np.ndarray | Sequence[np.ndarray],
             device: str | torch.device = "cpu") -> torch.Tensor:
    """uint8 ``(H, W, 3)`` array, a list of them (same size) or an ``(N, H, W, 3)`` array ->
    checked uint8 ``(N, H, W, 3)`` tensor on ``device`` (no copy on the CPU when contiguous)."""
    if isinstance(images, np.ndarray):
        arr = images[None] if images.ndim == 3 else images
    else:
        shapes = {im.shape for im in images}
        if len(shapes) != 1:
            raise ImagePairError(f"a batch must hold images of one size, got {sorted(shapes)}")
        arr = np.stack(list(images))
    check_rgb_uint8(arr, "images", batch=True)
    if not arr.flags.writeable:  # torch warns on read-only arrays (it never writes here)
        arr = arr.copy()
    return torch.from_numpy(np.ascontiguousarray(arr)).to(device)


def to_tensor(images: np.ndarray | Sequence[np.ndarray] | torch.Tensor,
              device: str | torch.device = "cpu") -> torch.Tensor:
    """uint8 ``(H, W, 3)`` array, a list of them (same size) or an ``(N, H, W, 3)`` array ->
    float32 ``(N, 3, H, W)`` tensor with values in ``[0, 255]`` on ``device``.

    Tensors already in ``(N, 3, H, W)`` layout are moved to ``device`` and cast to float32.
    """
    if isinstance(images, torch.Tensor):
        t = images
        if t.ndim == 3:
            t = t.unsqueeze(0)
        if t.ndim != 4 or t.shape[1] != 3:
            raise MetricError(f"tensor images must be (N, 3, H, W), got {tuple(images.shape)}")
        return t.to(device=device, dtype=torch.float32)
    return uint8_to_float(to_uint8(images, device))


def uint8_to_float(images: torch.Tensor) -> torch.Tensor:
    """uint8 ``(N, H, W, 3)`` tensor -> float32 ``(N, 3, H, W)`` in [0, 255]: the layout every
    pair metric takes (the float copy keeps the channels-last strides the permute gives)."""
    return images.permute(0, 3, 1, 2).to(torch.float32)


def chunked_sum64(x: torch.Tensor, chunk: int) -> torch.Tensor:
    """Sum of ``x`` over its last axis, float64: float32 sums of ``chunk`` consecutive elements
    (fast, vectorised), and only those partial sums (and the tail) accumulated in float64.

    Far faster than a float64 reduction of the whole axis and, for a small enough ``chunk``, as
    exact (PSNR: sums of 256 squared 8-bit differences are exact in float32)."""
    full = x.shape[-1] - x.shape[-1] % chunk
    total = x[..., :full].unflatten(-1, (-1, chunk)).sum(-1).sum(-1, dtype=torch.float64)
    if full < x.shape[-1]:
        total = total + x[..., full:].sum(-1, dtype=torch.float64)
    return total


def check_same_shape(ref: torch.Tensor, dist: torch.Tensor) -> None:
    if ref.shape != dist.shape:
        raise ImagePairError(f"reference and reconstruction shapes differ: "
                             f"{tuple(ref.shape)} vs {tuple(dist.shape)}")
