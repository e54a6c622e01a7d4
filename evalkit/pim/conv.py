"""The 5x5 'same' convolutions of PIM's per-level CNNs, on the fastest exact backend.

First choice on CPU (float32, inference): :mod:`evalkit.pim.nnpack`, NNPACK's C API with the
kernel transforms computed once per model and the ReLU fused (:func:`cnn_plan`).  Otherwise, on
CPU, float32, PyTorch's bundled NNPACK computes a 64 -> 64 5x5 convolution with its FFT
algorithm (16x16 tiles) in about a third of the CPU time of oneDNN's direct convolution
(one thread, 256x256: ~0.65-1.1 vs ~1.8 us per output pixel; the 5x5 convolutions were
80-98 % of PIM's time), and more accurately (max. relative error ~3e-7 against float64,
oneDNN ~1.5e-6).  PyTorch itself only routes ``conv2d`` to NNPACK for batches of 16 or more
with oneDNN disabled, so PIM calls the operator ``torch._nnpack_spatial_convolution``
directly -- a private but long-standing ATen operator -- and falls back to
``torch.nn.functional.conv2d`` wherever NNPACK is not usable (other devices, other dtypes, a
PyTorch build without NNPACK, or ``BACKEND = "direct"``).
Both compute the same cross-correlation with zero padding (TensorFlow 'SAME' for odd kernels).
"""

from __future__ import annotations

import functools

import torch
import torch.nn.functional as F

#: "auto" (NNPACK's C API where usable, else PyTorch's NNPACK operator, else ``conv2d``),
#: "torch" (PyTorch's NNPACK operator or ``conv2d``, no precomputed transforms) or "direct"
#: (always ``conv2d``).
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
    return (BACKEND in ("auto", "torch") and x.device.type == "cpu" and x.dtype == torch.float32
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


def cnn_plan(convs: list[torch.nn.Conv2d], x: torch.Tensor, cache: dict) -> list | None:
    """The layers ``convs`` (ReLU after all but the last) as :class:`evalkit.pim.nnpack.Conv`
    objects (kernel transforms precomputed, ReLU fused), or None where that path does not
    apply (``BACKEND`` not "auto", not float32 on CPU, gradients wanted, no usable NNPACK).

    ``cache`` (owned by the caller, e.g. the CNN module) keeps the plan while the weights are
    unchanged (same storage and version counter)."""
    if (BACKEND != "auto" or x.device.type != "cpu" or x.dtype != torch.float32
            or torch.is_grad_enabled() or any(c.weight.device.type != "cpu" for c in convs)):
        return None
    from evalkit.pim import nnpack

    if not nnpack.available():
        return None
    key = tuple((t.data_ptr(), _version(t)) for c in convs for t in (c.weight, c.bias))
    if cache.get("key") != key:
        try:
            cache["plan"] = [nnpack.Conv(c.weight, c.bias, relu=k < len(convs) - 1)
                             for k, c in enumerate(convs)]
        except nnpack.NNPACKError:
            return None
        cache["key"] = key
    return cache["plan"]


def _version(t: torch.Tensor) -> int:
    """In-place modification counter (-1 for inference tensors, which do not track it)."""
    try:
        return t._version
    except RuntimeError:
        return -1
