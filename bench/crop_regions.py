"""Benchmark: ``evalkit crops --auto K`` region search (integral image) beside the direct
search (every window summed with numpy slicing), same input, same answer, in one run.

    .venv/bin/python bench/crop_regions.py [--size 2048x1365] [--methods 4] [--window 128] [--k 3]

Input: synthetic reconstructions of a random 8-bit image (each method adds its own noise), so the
figures do not depend on a dataset; the cost depends only on sizes.  Prints seconds for the
disagreement map, the window sums (integral image vs direct) and the greedy pick, and checks both
searches return the same regions.  The direct search is measured on a cropped image when the full
one would take too long (its cost grows with pixels x window area); the ratio is reported per
window position.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from evalkit.figures.crop_regions import disagreement_map, pick_regions, window_sums


def direct_window_sums(values: np.ndarray, w: int, h: int) -> np.ndarray:
    H, W = values.shape
    out = np.empty((H - h + 1, W - w + 1), dtype=np.int64)
    for y in range(H - h + 1):
        for x in range(W - w + 1):
            out[y, x] = values[y:y + h, x:x + w].sum()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", default="2048x1365")
    ap.add_argument("--methods", type=int, default=4)
    ap.add_argument("--window", type=int, default=128)
    ap.add_argument("--k", type=int, default=3)
    ap.add_argument("--direct-size", default="400x300",
                    help="crop used to time the direct search (full size is too slow)")
    a = ap.parse_args()
    W, H = (int(v) for v in a.size.split("x"))
    rng = np.random.default_rng(0)
    ref = rng.integers(0, 256, (H, W, 3), dtype=np.uint8)
    recs = [np.clip(ref.astype(np.int16) + rng.integers(-20, 21, ref.shape), 0, 255).astype(np.uint8)
            for _ in range(a.methods)]
    w = h = a.window

    t0 = time.perf_counter()
    d = disagreement_map(ref, recs)
    t1 = time.perf_counter()
    sums = window_sums(d, w, h)
    t2 = time.perf_counter()
    boxes = pick_regions(sums, w, h, a.k)
    t3 = time.perf_counter()
    print(f"image {W}x{H}, {a.methods} methods, window {w}x{h}, K={a.k}")
    print(f"  disagreement map   {t1 - t0:8.3f} s")
    print(f"  window sums (integral image) {t2 - t1:8.3f} s  ({sums.size} windows)")
    print(f"  greedy pick        {t3 - t2:8.3f} s  -> {', '.join(str(b) for b in boxes)}")

    dw, dh = (int(v) for v in a.direct_size.split("x"))
    crop = d[:dh, :dw]
    t4 = time.perf_counter()
    fast = window_sums(crop, w, h)
    t5 = time.perf_counter()
    slow = direct_window_sums(crop, w, h)
    t6 = time.perf_counter()
    assert np.array_equal(fast, slow), "integral image and direct sums differ"
    assert pick_regions(fast, w, h, 1) == pick_regions(slow, w, h, 1)
    print(f"  on a {dw}x{dh} crop ({fast.size} windows): integral image {t5 - t4:.4f} s, direct "
          f"{t6 - t5:.3f} s -> {(t6 - t5) / max(t5 - t4, 1e-9):.0f}x; same sums, same pick")


if __name__ == "__main__":
    main()
