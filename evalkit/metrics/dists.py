"""DISTS (Ding et al. 2020): deep image structure and texture similarity, ``dists``.

Follows the official ``DISTS_pytorch`` code: VGG16 (torchvision ImageNet weights) with its
max-pools replaced by L2 pooling, ImageNet mean/std normalisation of [0, 1] inputs, and the
official alpha/beta weights (``weights.pt``).  Convention: images in [0, 255] are divided by
255 inside; one value per image, lower is better (0 for identical images).

**No hidden resizing**: the official demo script (and piq) shrink images whose short side
exceeds 256 px before scoring; evalkit scores the pixels it is given, at full resolution.
Resize yourself beforehand if you need to reproduce numbers computed that way.

Written here rather than wrapping a package because the reference implementations
(``DISTS_pytorch``, torchmetrics, piq) all fetch the VGG16 backbone inside their constructors,
so none of them can be pointed at a file resolved by :mod:`evalkit.weights`; the tests check
this module against them given the same weights.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F

from evalkit.errors import WeightsError
from evalkit.metrics.backbones import backbone_features, load_weight_file
from evalkit.metrics.tiled import TiledMetric
from evalkit.metrics.tiling import Tile, level_sizes, trunk_geometry
from evalkit.weights import resolve

#: channels of the six feature sets (input image + relu1_2 ... relu5_3).
CHANNELS = (3, 64, 128, 256, 512, 512)
#: indices of the max-pool layers of torchvision's ``vgg16().features`` (replaced by L2 pooling).
_POOL_INDICES = (4, 9, 16, 23)
_STAGE_ENDS = (4, 9, 16, 23, 30)
_IMAGENET_MEAN = (0.485, 0.456, 0.406)
_IMAGENET_STD = (0.229, 0.224, 0.225)
_C1 = _C2 = 1e-6


class L2Pooling(torch.nn.Module):
    """sqrt of a 3x3 Hann-weighted blur of x**2 with stride 2 (DISTS's anti-aliased pooling)."""

    #: its geometry, read by :func:`evalkit.metrics.tiling.trunk_geometry`.
    kernel_size, stride, padding = 3, 2, 1

    def __init__(self, channels: int) -> None:
        super().__init__()
        a = np.hanning(5)[1:-1]
        g = torch.tensor(a[:, None] * a[None, :], dtype=torch.float32)
        g = g / g.sum()
        self.register_buffer("filter", g[None, None].repeat(channels, 1, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.conv2d(x * x, self.filter, stride=self.stride, padding=self.padding,
                       groups=x.shape[1])
        return (out + 1e-12).sqrt()


class _RefLevel(NamedTuple):
    """One feature level of a reference crop's core: the features minus ``shift`` (their crop
    mean rounded to float32, per channel), and the crop's per-channel count, mean, sum of
    squared deviations and sum of ``centred`` (float64)."""

    centred: torch.Tensor
    count: int
    mean: torch.Tensor
    m2: torch.Tensor
    dev_sum: torch.Tensor
    shift: torch.Tensor


class DISTSMetric(TiledMetric):
    """Callable ``metric(ref, dist) -> Tensor[N]`` on ``(N, 3, H, W)`` tensors in [0, 255], with
    the two-stage interface of :mod:`evalkit.metrics.two_stage`.

    Scored crop by crop (:mod:`evalkit.metrics.tiled`): each crop's core contributes, per
    feature level and channel, its count, means, sums of squared deviations of both images and
    their co-moment (float64, :func:`_shifted_sums`); the whole-image means,
    variances and covariance follow exactly from them (:func:`_combine`).  The reference state of
    a crop is its centred features and statistics.
    """

    def __init__(self, features: torch.nn.Sequential, alpha: torch.Tensor,
                 beta: torch.Tensor) -> None:
        super().__init__()
        layers = list(features.children())
        stages, start = [], 0
        pool_channels = iter(CHANNELS[1:5])
        for end in _STAGE_ENDS:
            stage = []
            for i in range(start, end):
                stage.append(L2Pooling(next(pool_channels)) if i in _POOL_INDICES else layers[i])
            stages.append(torch.nn.Sequential(*stage))
            start = end
        self.stages = torch.nn.ModuleList(stages)
        self.geometry = trunk_geometry(self.stages, feature_after_input=True)
        self.register_buffer("mean", torch.tensor(_IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(_IMAGENET_STD).view(1, 3, 1, 1))
        self.register_buffer("alpha", alpha.detach().clone().float())
        self.register_buffer("beta", beta.detach().clone().float())
        self.requires_grad_(False)
        self.eval()

    def _features(self, x: torch.Tensor):
        """Yield the six feature sets (the input in [0, 1], then each stage's output)."""
        yield x
        h = (x - self.mean) / self.std
        for stage in self.stages:
            h = stage(h)
            yield h

    def _sizes(self, height: int, width: int) -> list[tuple[int, int]]:
        return level_sizes(self.stages, height, width, feature_after_input=True)

    def _cores(self, x: torch.Tensor, tile: Tile, sizes):
        for k, f in enumerate(self._features(x / 255.0)):
            ys, xs = tile.core(self.geometry.strides[k], *sizes[k])
            yield f[:, :, ys, xs]

    def _reference_crop(self, x: torch.Tensor, tile: Tile, sizes) -> list[_RefLevel]:
        levels = []
        for core in self._cores(x, tile, sizes):
            count = core.shape[2] * core.shape[3]
            if count == 0:  # the last crop's core can be empty at a deep level
                blank = core.new_zeros(core.shape[:2], dtype=torch.float64)
                levels.append(_RefLevel(core, 0, blank, blank, blank, blank.float()))
                continue
            shift = (_shifted_sums(core, None, None)[0] / count).float()
            centred = core - shift[:, :, None, None]
            dev_sum, sq, _ = _shifted_sums(centred, None, None)
            levels.append(_RefLevel(centred, count, shift.double() + dev_sum / count,
                                    sq - dev_sum * dev_sum / count, dev_sum, shift))
        return levels

    def _new_totals(self, n: int, device: torch.device) -> list[list]:
        return [[] for _ in CHANNELS]

    def _begin_tile(self, totals, ref_state, n) -> None:
        for k, r in enumerate(ref_state):
            blank = r.mean.new_zeros((n, r.mean.shape[1]))
            totals[k].append((r.count, r.mean, r.m2, blank, blank.clone(), blank.clone()))

    def _score_crop(self, ref_state, y, tile, sizes, totals, rows) -> None:
        for k, (core, r) in enumerate(zip(self._cores(y, tile, sizes), ref_state)):
            if r.count == 0:
                continue
            # about the reference crop's mean: d = y - shift, small, so no cancellation below
            s1, s2, s3 = _shifted_sums(core, r.shift, r.centred)
            d_mean = s1 / r.count
            _, _, _, y_mean, y_m2, co = totals[k][-1]
            y_mean[rows] = r.shift.double() + d_mean
            y_m2[rows] = s2 - s1 * d_mean
            # sum (x - mx)(y - my) = sum xc (y - my) = sum xc d + (shift - my) sum xc
            co[rows] = s3 - d_mean * r.dev_sum

    def _finish(self, totals) -> torch.Tensor:
        alpha, beta = self._weights()
        structure = texture = 0.0
        for level, a, b in zip(totals, alpha, beta):
            mx, vx, my, vy, cov = _combine(level)
            s1 = (2 * mx * my + _C1) / (mx ** 2 + my ** 2 + _C1)
            s2 = (2 * cov + _C2) / (vx + vy + _C2)
            structure = structure + (a * s1).sum(1)
            texture = texture + (b * s2).sum(1)
        return 1 - (structure + texture)

    def _weights(self) -> tuple[tuple[torch.Tensor, ...], tuple[torch.Tensor, ...]]:
        alpha, beta = self.alpha.double().flatten(1), self.beta.double().flatten(1)
        w_sum = alpha.sum() + beta.sum()
        return (torch.split(alpha / w_sum, CHANNELS, dim=1),
                torch.split(beta / w_sum, CHANNELS, dim=1))


#: Elements of one block in :func:`_shifted_sums` (4 MB as float64: a block and its products
#: stay in the CPU cache between the passes over it).
_BLOCK = 1 << 19


def _shifted_sums(y: torch.Tensor, shift: torch.Tensor | None, xc: torch.Tensor | None):
    """Per (image, channel) of ``y`` (n, C, h, w), float64 ``(n, C)`` each: the sums of
    ``d = y - shift``, of ``d * d`` and of ``d * xc`` (``xc``: the reference's centred features,
    (1, C, h, w); ``shift``: (1, C) float32).  ``shift`` None means d = y; ``xc`` None gives
    None for the third sum.

    In float64 throughout, on blocks of about ``_BLOCK`` elements converted one at a time: the
    difference of two float32 numbers and the products of such differences with float32
    numbers are exact in float64, so each sum is as exact as a float64 sum (float32 partial
    sums moved DISTS by 2e-9 absolute -- 2e-6 relative on a 0.001 score -- between a whole
    image and its crops).  Written here because no library call gives several moments in one
    pass: ``torch.var_mean`` (a float64 Welford loop) took 20 % of DISTS's time on Kodak and
    the product ``y * xc`` over the whole level another allocation and pass.  Here ``y`` and
    ``xc`` are read from memory once and every intermediate stays in cache.  The trunk's
    features are channels-last when its input is (the engine's uint8 images are): blocks are
    then runs of pixels (all channels), else runs of channels (all pixels), never a
    transposing copy."""
    n, c = y.shape[:2]
    # a crop of channels-last features (tiled images) is taken in the reference's layout
    last = _pixels_last(y) or (not y.is_contiguous() and xc is not None and _pixels_last(xc))
    if last:  # (n, pixels, C): reduce over pixels (axis 0 of a block), blocks of pixels
        flat = y.contiguous(memory_format=torch.channels_last).permute(0, 2, 3, 1).reshape(n, -1, c)
        ref = None if xc is None else xc.permute(0, 2, 3, 1).reshape(1, -1, c)
        step, axis = max(1, _BLOCK // c), 0
        blocks = [slice(r, r + step) for r in range(0, flat.shape[1], step)]
        buf_shape = (min(step, flat.shape[1]), c)
    else:  # (n, C, pixels): reduce over pixels (axis 1 of a block), blocks of channels
        flat = y.reshape(n, c, -1)
        ref = None if xc is None else xc.reshape(1, c, -1)
        step, axis = max(1, _BLOCK // max(1, flat.shape[-1])), 1
        blocks = [slice(c0, c0 + step) for c0 in range(0, c, step)]
        buf_shape = (min(step, c), flat.shape[-1])
    sh = None if shift is None else (shift[0].double() if last else shift[0].double()[:, None])
    out = [torch.zeros((n, c), dtype=torch.float64, device=y.device) for _ in range(3)]
    dev = torch.empty(buf_shape, dtype=torch.float64, device=y.device)
    prod = torch.empty_like(dev) if xc is not None else None
    for i in range(n):
        for rows in blocks:
            block = flat[i, rows]
            d = dev[: block.shape[0]]
            where = (i, slice(None)) if last else (i, rows)
            d.copy_(block)
            if sh is not None:
                d.sub_(sh if last else sh[rows])
            out[0][where] += d.sum(axis)
            if xc is not None:
                p = prod[: block.shape[0]]
                p.copy_(ref[0, rows])
                out[2][where] += p.mul_(d).sum(axis)
            out[1][where] += d.mul_(d).sum(axis)
    return out[0], out[1], (out[2] if xc is not None else None)


def _pixels_last(t: torch.Tensor) -> bool:
    """True when ``t`` (n, C, h, w) is stored channels-last (and not also plain contiguous)."""
    return (t.dim() == 4 and t.is_contiguous(memory_format=torch.channels_last)
            and not t.is_contiguous())


def _combine(crops: list) -> tuple[torch.Tensor, ...]:
    """Whole-image per-channel means, variances and covariance from per-crop statistics
    ``(count, x mean, x m2, y mean, y m2, co-moment)`` (the parallel-axis theorem, float64):
    ``m2 = sum(m2_t + n_t (mean_t - mean)^2)``, ``co = sum(co_t + n_t dx_t dy_t)``."""
    crops = [c for c in crops if c[0] > 0]
    n = sum(c[0] for c in crops)
    mx = sum(c[0] * c[1] for c in crops) / n
    my = sum(c[0] * c[3] for c in crops) / n
    vx = sum(c[2] + c[0] * (c[1] - mx) ** 2 for c in crops) / n
    vy = sum(c[4] + c[0] * (c[3] - my) ** 2 for c in crops) / n
    cov = sum(c[5] + c[0] * (c[1] - mx) * (c[3] - my) for c in crops) / n
    return mx, vx, my, vy, cov


def load_alpha_beta(path: str | Path | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """The official DISTS ``alpha`` and ``beta`` tensors, each ``(1, 1475, 1, 1)``."""
    file = resolve("dists_alpha_beta", path)
    state = load_weight_file(file)
    shape = (1, sum(CHANNELS), 1, 1)
    for key in ("alpha", "beta"):
        if key not in state or tuple(state[key].shape) != shape:
            got = tuple(state[key].shape) if key in state else "missing"
            raise WeightsError(f"{file}: DISTS weights must hold {key!r} of shape {shape}, "
                               f"got {got}")
    return state["alpha"], state["beta"]


def build_dists(device: str | torch.device = "cpu", backbone_path: str | Path | None = None,
                weights_path: str | Path | None = None) -> DISTSMetric:
    """Ready DISTS metric on ``device`` (weights resolved through :mod:`evalkit.weights`)."""
    alpha, beta = load_alpha_beta(weights_path)
    features = backbone_features("vgg16", backbone_path)
    return DISTSMetric(features, alpha, beta).to(device)
