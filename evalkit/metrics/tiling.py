"""Exact tiling of a convolutional trunk: crops with halos whose cores partition every layer.

A 2048x1365 pair through VGG16 holds gigabytes of activations (the first stage alone is
64 channels at full resolution, 0.7 GB per image).  The learned metrics only need, per layer,
sums over all positions (LPIPS: spatial mean of a per-position term; DISTS: per-channel
means, variances and covariances), so the image can be run through the trunk crop by crop and
those sums accumulated over the crops' *cores* -- exactly, if every core position of every
layer is computed from the same inputs as in the whole-image forward.  That holds when:

* every crop starts at a multiple of the trunk's total stride (all layers' grids line up with
  the whole image's grids, and the last crop's layer sizes are the whole image's minus an
  integer offset, whatever floor/ceil the layers use);
* the halo around a core covers the receptive field of every core position of every layer,
  so no core position sees the crop's zero padding where the image goes on.  Crops touching
  the image border keep the true zero padding there.

:func:`trunk_geometry` derives the alignment and halo from the layers themselves (kernel,
stride, padding of each convolution / pooling); :func:`plan_tiles` picks the crop grid with
the least total area under a pixel budget.  The tests check tiled == whole-image values on odd
sizes with small forced tiles.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Geometry:
    """``align``: crop starts are multiples of it (the trunk's total stride); ``halo``: pixels
    of context needed around a core (a multiple of ``align``); ``strides``: cumulative stride
    of each feature level the metric reads."""

    align: int
    halo: int
    strides: tuple[int, ...]


def _pair(v) -> int:
    v = v if isinstance(v, int) else v[0]
    return int(v)


def _geometric_layers(stage: Iterable):
    """(kernel, stride, padding) of the layers of ``stage`` that change the geometry."""
    for layer in stage:
        if not hasattr(layer, "kernel_size"):
            continue
        if _pair(getattr(layer, "dilation", 1)) != 1 or getattr(layer, "ceil_mode", False):
            raise ValueError(f"{type(layer).__name__}: dilation / ceil_mode are not supported")
        k = _pair(layer.kernel_size)
        yield k, _pair(layer.stride or k), _pair(getattr(layer, "padding", 0))


def level_sizes(stages: Iterable[Iterable], height: int, width: int,
                feature_after_input: bool = False) -> list[tuple[int, int]]:
    """Whole-image ``(height, width)`` of each feature level (see :func:`trunk_geometry`)."""
    sizes = [(height, width)] if feature_after_input else []
    for stage in stages:
        for k, s, p in _geometric_layers(stage):
            height = (height + 2 * p - k) // s + 1
            width = (width + 2 * p - k) // s + 1
        sizes.append((height, width))
    return sizes


def trunk_geometry(stages: Iterable[Iterable], feature_after_input: bool = False) -> Geometry:
    """Geometry of a trunk given as stages (iterables of layers); a feature level is read after
    each stage (and before the first one when ``feature_after_input``).  Layers with a
    ``kernel_size`` (convolutions, max/avg pooling, L2 pooling) change the geometry, the others
    (ReLU, normalisation) are pointwise.

    Receptive-field arithmetic, in input pixels: a unit ``j`` of a layer with cumulative stride
    ``S``, padding ``P`` and field size ``R`` reads inputs ``j*S - P .. j*S - P + R - 1``; a core
    ending at pixel ``e`` (a multiple of ``S``) therefore needs ``P`` pixels of context before
    its start and ``R - S - P`` after its end.
    """
    stride, pad, field = 1, 0, 1
    need = 0
    strides = [1] if feature_after_input else []
    for stage in stages:
        for k, s, p in _geometric_layers(stage):
            field += (k - 1) * stride
            pad += p * stride
            stride *= s
            need = max(need, pad, field - stride - pad)
        strides.append(stride)
    align = stride
    return Geometry(align, align * math.ceil(need / align), tuple(strides))


@dataclass(frozen=True)
class Tile:
    """One crop ``[y0:y1, x0:x1]`` of the image and its core ``[cy0:cy1, cx0:cx1]`` (image
    coordinates).  Core edges are multiples of the alignment except at the image's end
    (``last_y`` / ``last_x``: the core runs to the end of every level, whatever its size)."""

    y0: int
    y1: int
    x0: int
    x1: int
    cy0: int
    cy1: int
    cx0: int
    cx1: int
    last_y: bool = True
    last_x: bool = True

    @property
    def pixels(self) -> int:
        return (self.y1 - self.y0) * (self.x1 - self.x0)

    def core(self, stride: int, height: int, width: int) -> tuple[slice, slice]:
        """The core of a feature level of cumulative ``stride`` whose whole-image size is
        ``height x width``, as slices of the crop's feature map."""
        oy, ox = self.y0 // stride, self.x0 // stride
        y1 = height if self.last_y else self.cy1 // stride
        x1 = width if self.last_x else self.cx1 // stride
        return slice(self.cy0 // stride - oy, y1 - oy), slice(self.cx0 // stride - ox, x1 - ox)


def _cuts(length: int, parts: int, align: int) -> list[int]:
    """``parts`` core boundaries over ``[0, length)``, interior ones multiples of ``align``."""
    cuts = [0]
    for i in range(1, parts):
        c = int(round(i * length / parts / align)) * align
        if c <= cuts[-1] or c >= length:
            return []
        cuts.append(c)
    return cuts + [length]


def _spans(cuts: list[int], halo: int, length: int) -> list[tuple[int, int, int, int]]:
    return [(max(0, a - halo), min(length, b + halo), a, b) for a, b in zip(cuts, cuts[1:])]


def _axis_splits(length: int, align: int, halo: int) -> list[tuple[int, list, int, int]]:
    """Every way to split one axis: ``(parts, spans, longest span, total span length)`` for
    1, 2, ... parts, as long as the aligned cuts stay distinct."""
    out = []
    for parts in range(1, max(1, length // align) + 1):
        cuts = _cuts(length, parts, align)
        if not cuts:
            break
        spans = _spans(cuts, halo, length)
        lengths = [b - a for a, b, _, _ in spans]
        out.append((parts, spans, max(lengths), sum(lengths)))
    return out


def plan_tiles(height: int, width: int, geometry: Geometry, max_pixels: int) -> list[Tile]:
    """Crops covering a ``height x width`` image, each at most ``max_pixels`` (when possible),
    with the least total area; one crop (the whole image) when it fits."""
    if height * width <= max_pixels:
        return [Tile(0, height, 0, width, 0, height, 0, width)]
    a, h = geometry.align, geometry.halo
    columns = _axis_splits(width, a, h)
    best = None
    for rows, ry, tallest, total_y in _axis_splits(height, a, h):
        for cols, rx, widest, total_x in columns:
            fits = tallest * widest <= max_pixels
            key = (not fits, total_y * total_x if fits else tallest * widest, rows * cols)
            if best is None or key < best[0]:
                best = (key, ry, rx)
            if fits:
                break  # more columns only add halo area
    _, ry, rx = best
    return [Tile(y0, y1, x0, x1, cy0, cy1, cx0, cx1, cy1 == height, cx1 == width)
            for y0, y1, cy0, cy1 in ry for x0, x1, cx0, cx1 in rx]
