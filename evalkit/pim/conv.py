"""The 5x5 'same' convolutions of PIM's per-level CNNs, on the fastest exact backend.

On CPU, float32, PyTorch's bundled NNPACK computes a 64 -> 64 5x5 convolution with its FFT
algorithm (16x16 tiles) in about a quarter of the CPU time of oneDNN's direct convolution
(measured in ``bench/pim.py``: the 5x5 convolutions are ~80 % of PIM's time), and more
accurately (max. relative error ~3e-7 against float64, oneDNN ~1.5e-6).  PyTorch itself only
routes ``conv2d`` to NNPACK for batches of 16 or more with oneDNN disabled, so PIM calls the
operator ``torch._nnpack_spatial_convolution`` directly -- a private but long-standing ATen
operator -- and falls back to ``torch.nn.functional.conv2d`` wherever NNPACK is not usable
(other devices, other dtypes, a PyTorch build without NNPACK, or ``BACKEND = "direct"``).
Both compute the same cross-correlation with zero padding (TensorFlow 'SAME' for odd kernels).
"""

from __future__ import annotations

import functools

import torch
import torch.nn.functional as F

#: "auto" (NNPACK where usable, else ``conv2d``) or "direct" (always ``conv2d``).
BACKEND = "auto"


@functools.cache
def nnpack_usable() -> bool:
    """True when this PyTorch build has a working NNPACK (the check also initialises it;
    NNPACK calls fail until it is initialised)."""
    op = getattr(torch, "_nnpack_spatial_convolution", None)
    if op is None or not torch.backends.nnpack.is_available():
        return False
    try:  # one tiny call: some builds report NNPACK but cannot run it (e.g. no AVX2)
        op(torch.zeros(1, 2, 6, 6), torch.zeros(2, 2, 5, 5), torch.zeros(2), [2, 2], [1, 1])
    except RuntimeError:
        return False
    return True


def _use_nnpack(x: torch.Tensor, weight: torch.Tensor) -> bool:
    return (BACKEND == "auto" and x.device.type == "cpu" and x.dtype == torch.float32
            and weight.dtype == torch.float32 and x.ndim == 4 and max(weight.shape[-2:]) <= 16
            and nnpack_usable())


def conv2d_same(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    """Cross-correlation of ``x`` (N, C, H, W) with ``weight`` (O, C, k, k), odd k, stride 1,
    zero padding k // 2 on every side (output (N, O, H, W)), plus ``bias``."""
    pad = weight.shape[-1] // 2
    if _use_nnpack(x, weight):
        return torch._nnpack_spatial_convolution(x.contiguous(), weight.contiguous(), bias,
                                                 [pad, pad], [1, 1])
    return F.conv2d(x, weight, bias, padding=pad)
