"""--auto K: integral-image window sums and the greedy choice against a brute-force search."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from evalkit.errors import FigureError
from evalkit.figures.crop_regions import (
    Box,
    auto_regions,
    disagreement_map,
    parse_box,
    parse_size,
    pick_regions,
    window_sums,
)


def _brute_force(ref, recs, k, w, h):
    """Straight from the definition, with Python loops: per-pixel variance across methods
    (times M^2; squared error for one method), every window's sum, then greedily the largest
    window not overlapping the chosen ones, ties to the smallest (y, x)."""
    H, W = ref.shape[:2]
    M = len(recs)
    d = np.zeros((H, W))
    for y, x, c in itertools.product(range(H), range(W), range(3)):
        vals = [int(r[y, x, c]) for r in recs]
        if M == 1:
            d[y, x] += (vals[0] - int(ref[y, x, c])) ** 2
        else:
            mean = sum(vals) / M
            d[y, x] += M * M * sum((v - mean) ** 2 for v in vals) / M
    sums = {(y, x): d[y:y + h, x:x + w].sum() for y in range(H - h + 1) for x in range(W - w + 1)}
    chosen: list[Box] = []
    for _ in range(k):
        best = None
        for (y, x), s in sorted(sums.items()):  # row-major order: first maximum wins ties
            cand = Box(x, y, w, h)
            if any(cand.overlaps(c) for c in chosen):
                continue
            if best is None or s > best[0]:
                best = (s, cand)
        chosen.append(best[1])
    return chosen


@pytest.mark.parametrize("methods", [1, 2, 3])
def test_auto_regions_match_brute_force(methods):
    rng = np.random.default_rng(methods)
    ref = rng.integers(0, 256, (17, 23, 3), dtype=np.uint8)
    recs = []
    for m in range(methods):
        rec = ref.astype(int) + rng.integers(-3, 4, ref.shape)
        rec[2 + 5 * m: 6 + 5 * m, 3 + 4 * m: 9 + 4 * m] += 40 * (m + 1)  # a patch where m differs
        recs.append(np.clip(rec, 0, 255).astype(np.uint8))
    for k, (w, h) in ((1, (4, 3)), (3, (4, 3)), (4, (5, 5)), (2, (23, 5))):
        assert auto_regions(ref, recs, k, (w, h)) == _brute_force(ref, recs, k, w, h), (k, w, h)


def test_window_sums_exact_and_ties_row_major():
    rng = np.random.default_rng(7)
    v = rng.integers(0, 10**9, (9, 11)).astype(np.int64)
    s = window_sums(v, 3, 2)
    assert s.shape == (8, 9) and s.dtype == np.int64
    assert all(s[y, x] == v[y:y + 2, x:x + 3].sum() for y in range(8) for x in range(9))
    flat = np.zeros((6, 6), dtype=np.int64)  # every window ties: row-major packing
    assert pick_regions(window_sums(flat, 2, 2), 2, 2, 4) == [Box(0, 0, 2, 2), Box(2, 0, 2, 2),
                                                             Box(4, 0, 2, 2), Box(0, 2, 2, 2)]


def test_regions_never_overlap_and_reproducible():
    rng = np.random.default_rng(3)
    ref = rng.integers(0, 256, (64, 80, 3), dtype=np.uint8)
    recs = [rng.integers(0, 256, ref.shape, dtype=np.uint8) for _ in range(3)]
    boxes = auto_regions(ref, recs, 6, (16, 12))
    assert boxes == auto_regions(ref, recs, 6, (16, 12))
    assert not any(a.overlaps(b) for a, b in itertools.combinations(boxes, 2))
    d = disagreement_map(ref, recs)
    assert d.dtype == np.int64 and d.shape == (64, 80)


def test_bad_requests():
    ref = np.zeros((10, 10, 3), np.uint8)
    with pytest.raises(FigureError, match="only 4 non-overlapping"):
        auto_regions(ref, [ref], 5, (5, 5))
    with pytest.raises(FigureError, match="must fit"):
        auto_regions(ref, [ref], 1, (11, 5))
    with pytest.raises(FigureError, match="K >= 1"):
        auto_regions(ref, [ref], 0, (5, 5))
    for bad in ("1,2,3", "a,b,c,d", "0,0,0,5", "-1,0,4,4", "1,2,3,4,5"):
        with pytest.raises(FigureError):
            parse_box(bad)
    assert parse_box(" 3, 4, 5, 6 ") == Box(3, 4, 5, 6)
    assert parse_size("32") == (32, 32) and parse_size("48x16") == (48, 16)
    with pytest.raises(FigureError):
        parse_size("0x3")
