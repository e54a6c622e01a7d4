"""Crop boxes: parsing and checking ``x,y,w,h``, and ``--auto K`` -- the K regions where the
methods' reconstructions differ most.

Disagreement map (one value per pixel, exact integers):

* two or more methods: ``D = sum_c (M * sum_m R_mc**2 - (sum_m R_mc)**2)`` over the colour
  channels ``c`` -- ``M**2`` times the variance across the ``M`` reconstructions, i.e.
  proportional to the mean squared difference between every pair of methods at that pixel;
* one method: its squared error against the original, ``sum_c (R_c - X_c)**2``.

Every ``w x h`` window's sum of ``D`` comes from an integral image (summed-area table) in int64,
so all window sums cost ``O(H*W)`` and are exact.  Regions are chosen greedily: the window with the
largest sum, then the largest among those not overlapping any chosen one, and so on.  Ties go
to the smallest ``y`` then the smallest ``x`` (row-major first), so the choice is reproducible.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from evalkit.errors import FigureError


@dataclass(frozen=True)
class Box:
    """A crop rectangle in pixels of the original: left ``x``, top ``y``, width ``w``, height ``h``."""

    x: int
    y: int
    w: int
    h: int

    def __str__(self) -> str:
        return f"{self.x},{self.y},{self.w},{self.h}"

    def overlaps(self, other: Box) -> bool:
        return (self.x < other.x + other.w and other.x < self.x + self.w
                and self.y < other.y + other.h and other.y < self.y + self.h)


def parse_box(text: str) -> Box:
    """``"x,y,w,h"`` -> :class:`Box` (integers, ``w`` and ``h`` positive)."""
    parts = [p.strip() for p in str(text).split(",")]
    try:
        if len(parts) != 4:
            raise ValueError
        x, y, w, h = (int(p) for p in parts)
    except ValueError:
        raise FigureError(f"box must be x,y,w,h in whole pixels, got {text!r}") from None
    if w <= 0 or h <= 0 or x < 0 or y < 0:
        raise FigureError(f"box must have x, y >= 0 and w, h > 0, got {text!r}")
    return Box(x, y, w, h)


def parse_size(text: str) -> tuple[int, int]:
    """``"96"`` or ``"128x96"`` (width x height) -> ``(w, h)``."""
    parts = str(text).lower().split("x")
    try:
        if len(parts) not in (1, 2):
            raise ValueError
        w, h = int(parts[0]), int(parts[-1])
    except ValueError:
        raise FigureError(f"size must be N or WxH in whole pixels, got {text!r}") from None
    if w <= 0 or h <= 0:
        raise FigureError(f"size must be positive, got {text!r}")
    return w, h


def check_box(box: Box, width: int, height: int, image: str = "the image") -> Box:
    """Raise :class:`FigureError` unless ``box`` lies inside a ``width x height`` image."""
    if box.x + box.w > width or box.y + box.h > height:
        raise FigureError(f"box {box} (x,y,w,h) must lie inside {image}, which is "
                          f"{width}x{height}")
    return box


def disagreement_map(reference: np.ndarray, reconstructions: Sequence[np.ndarray]) -> np.ndarray:
    """Per-pixel ``(H, W)`` int64 disagreement of the reconstructions (see the module docstring)."""
    if not reconstructions:
        raise FigureError("need at least one reconstruction to find regions")
    m = len(reconstructions)
    # int32 is exact while 3 * M^2 * 255^2 < 2^31 (M <= 104 methods); int64 beyond
    dtype = np.int32 if m <= 104 else np.int64
    if m == 1:
        diff = np.asarray(reconstructions[0], dtype=dtype) - np.asarray(reference, dtype=dtype)
        d = diff * diff
    else:
        s = np.zeros(np.shape(reconstructions[0]), dtype=dtype)
        s2 = np.zeros_like(s)
        for r in reconstructions:
            r = np.asarray(r, dtype=dtype)
            s += r
            s2 += r * r
        s2 *= m
        s *= s
        d = s2 - s
    return (d.sum(axis=2, dtype=np.int64) if d.ndim == 3 else d.astype(np.int64))


def window_sums(values: np.ndarray, w: int, h: int) -> np.ndarray:
    """``out[y, x] = values[y:y+h, x:x+w].sum()`` for every window inside the array, from an
    integral image (exact for integer input)."""
    values = np.asarray(values)
    H, W = values.shape
    if w > W or h > H:
        raise FigureError(f"region size {w}x{h} must fit in the image, which is {W}x{H}")
    acc = np.zeros((H + 1, W + 1), dtype=np.int64 if values.dtype.kind in "iub" else np.float64)
    acc[1:, 1:] = values.cumsum(axis=0).cumsum(axis=1)
    return acc[h:, w:] - acc[:-h, w:] - acc[h:, :-w] + acc[:-h, :-w]


def pick_regions(sums: np.ndarray, w: int, h: int, k: int) -> list[Box]:
    """Greedy K non-overlapping ``w x h`` windows with the largest sums (ties row-major first).

    Raises:
        FigureError: ``k < 1``, or fewer than ``k`` non-overlapping windows fit.
    """
    if k < 1:
        raise FigureError(f"--auto needs K >= 1 regions, got {k}")
    avail = np.ones(sums.shape, dtype=bool)
    masked = sums.astype(np.float64) if sums.dtype.kind == "f" else sums.copy()
    low = np.iinfo(np.int64).min if masked.dtype.kind == "i" else -np.inf
    boxes: list[Box] = []
    for _ in range(k):
        if not avail.any():
            raise FigureError(f"only {len(boxes)} non-overlapping {w}x{h} regions fit in the "
                              f"image; ask for fewer (--auto) or smaller (--size) regions")
        flat = int(np.argmax(np.where(avail, masked, low)))  # first maximum: row-major tie-break
        y, x = divmod(flat, sums.shape[1])
        boxes.append(Box(int(x), int(y), w, h))
        # every window starting within (h-1, w-1) of this one overlaps it
        avail[max(0, y - h + 1): y + h, max(0, x - w + 1): x + w] = False
    return boxes


def auto_regions(reference: np.ndarray, reconstructions: Sequence[np.ndarray], k: int,
                 size: tuple[int, int]) -> list[Box]:
    """The ``k`` regions of ``size = (w, h)`` where the reconstructions differ most."""
    w, h = size
    return pick_regions(window_sums(disagreement_map(reference, reconstructions), w, h), w, h, k)
