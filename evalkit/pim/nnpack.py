"""NNPACK's inference convolution called directly (ctypes), with the kernel transforms computed
once per model and the ReLU fused into the output transform.

PyTorch bundles NNPACK in ``libtorch_cpu.so`` and exports its C API, but its own entry point
``torch._nnpack_spatial_convolution`` (what :mod:`evalkit.pim.conv` used before) has to
re-transform the kernel on every call (``nnp_convolution_transform_strategy_compute``: 4096
16x16 FFTs for a 64 -> 64 layer, more work than the image itself on PIM's small pyramid levels
and tiles) and cannot fuse the ReLU, so every hidden activation took one more full pass.
Here, per convolution layer, the FFT of the kernel is computed once
(``..._precompute``) and reused (``..._reuse``) on every image and tile; the output transform
applies bias and ReLU (``nnp_activation_relu``); the workspace is kept between calls.  The
arithmetic is NNPACK's own ft16x16 algorithm (what PyTorch's call selects for 5x5 kernels), so
outputs are bit-identical to ``torch._nnpack_spatial_convolution(...).relu_()``
(``tests/pim/test_pim_nnpack.py``).  Measured on the 2-core benchmark machine: ~1.05-1.2x per
64 -> 64 layer on 136-272 pixel tiles, 1.2-3.5x on the 36-72 pixel levels, and no separate
ReLU pass (``bench/pim.py`` has the end-to-end figures).

The structs and enums follow NNPACK's public header (``include/nnpack.h``).  If the library
or a symbol is missing, or a call fails, :func:`available` is False / :class:`NNPACKError` is
raised and :mod:`evalkit.pim.conv` uses the PyTorch operators instead.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import os
import threading

import torch

_FT16X16 = 2  # nnp_convolution_algorithm_ft16x16
_PRECOMPUTE, _REUSE = 2, 3  # nnp_convolution_transform_strategy_{precompute,reuse}
_IDENTITY, _RELU = 0, 1  # nnp_activation_{identity,relu}


class NNPACKError(RuntimeError):
    """An NNPACK call returned a non-success status."""


class _Size(ctypes.Structure):
    _fields_ = [("width", ctypes.c_size_t), ("height", ctypes.c_size_t)]


class _Padding(ctypes.Structure):
    _fields_ = [("top", ctypes.c_size_t), ("right", ctypes.c_size_t),
                ("bottom", ctypes.c_size_t), ("left", ctypes.c_size_t)]


@functools.cache
def _library():
    """(nnp_convolution_inference, pthreadpool_create) from PyTorch's own library, or None."""
    try:
        lib = ctypes.CDLL(os.path.join(os.path.dirname(torch.__file__), "lib", "libtorch_cpu.so"))
        conv, create, init = lib.nnp_convolution_inference, lib.pthreadpool_create, lib.nnp_initialize
    except (OSError, AttributeError):
        return None
    ptr = ctypes.c_void_p
    conv.restype = ctypes.c_int
    conv.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_size_t, ctypes.c_size_t, _Size, _Padding,
                     _Size, _Size, ptr, ptr, ptr, ptr, ptr, ctypes.POINTER(ctypes.c_size_t),
                     ctypes.c_int, ptr, ptr, ptr]
    create.restype, create.argtypes = ptr, [ctypes.c_size_t]
    init.restype = ctypes.c_int
    if init() != 0:  # e.g. a CPU without AVX2
        return None
    return conv, create


def available() -> bool:
    """True when NNPACK's C API can be called (and works: one tiny convolution is checked
    against PyTorch's ``conv2d``)."""
    return _self_check()


@functools.cache
def _self_check() -> bool:
    if _library() is None:
        return False
    try:
        g = torch.Generator().manual_seed(0)
        x, w = torch.randn(1, 4, 9, 7, generator=g), torch.randn(5, 4, 5, 5, generator=g)
        b = torch.randn(5, generator=g)
        got = Conv(w, b, relu=True)(x)
    except NNPACKError:
        return False
    want = torch.nn.functional.conv2d(x, w, b, padding=2).relu_()
    return bool(torch.allclose(got, want, rtol=1e-4, atol=1e-4))


_pools: dict[tuple[int, int], int] = {}
_local = threading.local()


#: Threads of NNPACK's pool; None = ``torch.get_num_threads()``.
THREADS: int | None = None


def in_job() -> bool:
    """True inside :func:`single_threaded` (a job run in parallel with others)."""
    return getattr(_local, "single", False)


@contextlib.contextmanager
def single_threaded(restore: int):
    """Run this thread's PyTorch operators and NNPACK calls on this thread only (jobs that run
    in parallel with each other); on exit the thread count goes back to ``restore`` (the
    caller's count: ``torch.set_num_threads`` also sets the default of threads started later)."""
    torch.set_num_threads(1)
    _local.single = True
    try:
        yield
    finally:
        _local.single = False
        torch.set_num_threads(restore)


def _pool() -> int | None:
    """A pthreadpool with :data:`THREADS` threads (None = the calling thread only); one per
    process and thread count (a pool does not survive ``fork``)."""
    if in_job():
        return None
    n = THREADS or torch.get_num_threads()
    if n <= 1:
        return None
    key = (os.getpid(), n)
    if key not in _pools:
        _pools[key] = _library()[1](n)
    return _pools[key]


def _buffer(key, numel: int, dtype: torch.dtype, bufs: dict | None) -> torch.Tensor:
    """Buffer ``key`` of at least ``numel`` elements from ``bufs`` (a caller's dict, released
    with it) or, without one, this thread's own (grown, never shrunk)."""
    if bufs is None:
        bufs = _local.__dict__.setdefault("bufs", {})
    if key not in bufs or bufs[key].numel() < numel:
        bufs[key] = torch.empty(max(numel, 1), dtype=dtype)
    return bufs[key]


class Conv:
    """A stride-1 'same' convolution (odd square kernel, zero padding ``k // 2``) with its
    kernel transform precomputed: ``Conv(weight, bias, relu)(x)`` for float32 CPU ``x``
    ``(1, C, H, W)`` -> ``(1, O, H, W)``, ``relu(conv(x) + bias)`` when ``relu``."""

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor, relu: bool) -> None:
        self.out_channels, self.in_channels, self.k, _ = weight.shape
        self.bias = bias.detach().to(torch.float32).contiguous()
        self.activation = _RELU if relu else _IDENTITY
        w = weight.detach().to(torch.float32).contiguous()
        size = ctypes.c_size_t(0)
        self._call(_PRECOMPUTE, (64, 64), 0, w.data_ptr(), 0, 0, None, size)
        self.transform = torch.empty(size.value, dtype=torch.uint8)
        self._call(_PRECOMPUTE, (64, 64), 0, w.data_ptr(), 0, 0, self.transform.data_ptr(), size,
                   _pool())

    def _call(self, strategy, hw, x_ptr, kernel_ptr, bias_ptr, out_ptr, workspace, size,
              pool: int | None = None) -> None:
        pad = self.k // 2
        status = _library()[0](_FT16X16, strategy, self.in_channels, self.out_channels,
                               _Size(hw[1], hw[0]), _Padding(pad, pad, pad, pad), _Size(self.k, self.k),
                               _Size(1, 1), x_ptr or None, kernel_ptr or None, bias_ptr or None,
                               out_ptr or None, workspace, ctypes.byref(size), self.activation, None,
                               pool, None)
        if status != 0:
            raise NNPACKError(f"nnp_convolution_inference failed with status {status}")

    def __call__(self, x: torch.Tensor, threaded: bool = True, out: torch.Tensor | None = None,
                 bufs: dict | None = None) -> torch.Tensor:
        """``threaded``: use NNPACK's thread pool (:data:`THREADS`); False = only the calling
        thread (for callers that run several convolutions in parallel themselves).  ``out``:
        a contiguous float32 buffer of at least O * H * W elements to write into (not ``x``'s).
        ``bufs``: where the workspace is kept (see :func:`_buffer`)."""
        if x.ndim != 4 or x.shape[0] != 1 or x.shape[1] != self.in_channels or x.dtype != torch.float32:
            raise ValueError(f"NNPACK Conv expects float32 (1, {self.in_channels}, H, W), got "
                             f"{x.dtype} {tuple(x.shape)}")
        x = x.contiguous()
        h, w = x.shape[-2:]
        shape = (1, self.out_channels, h, w)
        out = x.new_empty(shape) if out is None else out.view(-1)[:shape[1] * h * w].view(shape)
        size = ctypes.c_size_t(0)
        args = ((h, w), x.data_ptr(), self.transform.data_ptr(), self.bias.data_ptr(), out.data_ptr())
        with torch.profiler.record_function("pim::nnpack_conv"):  # visible to torch.profiler
            pool = _pool() if threaded else None
            self._call(_REUSE, *args, None, size, pool)  # workspace size query
            workspace = _buffer("workspace", size.value, torch.uint8, bufs)
            self._call(_REUSE, *args, workspace.data_ptr(), size, pool)
        return out


def run_plan(plan: list[Conv], x: torch.Tensor, threaded: bool = True, bufs: dict | None = None
             ) -> torch.Tensor:
    """``x`` (1, C, H, W) through the layers of ``plan``; the hidden activations go to two
    buffers used in turn (:func:`_buffer`; a fresh 64-channel tensor per layer and thread made
    the allocator keep hundreds of MB of freed blocks).  Returns a new tensor."""
    h, w = x.shape[-2:]
    for k, conv in enumerate(plan):
        last = k == len(plan) - 1
        out = None if last else _buffer(k % 2, conv.out_channels * h * w, torch.float32, bufs)
        x = conv(x, threaded=threaded, out=out, bufs=bufs)
    return x
