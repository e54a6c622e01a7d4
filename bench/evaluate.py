"""Benchmark the evaluation runner on Kodak: cold vs warm (fully cached) vs adding one codec.

Usage::

    .venv/bin/python bench/evaluate.py [--kodak ../shared/datasets/kodak] [--metrics psnr,ms_ssim]

Encodes the Kodak images with Pillow (JPEG q40/q80 first, then WebP q50/q80 as the added codec)
into a temporary runs folder, and times :func:`evalkit.evaluate.evaluate`:

1. cold run (empty cache) with ``workers`` = 0, 1 and 2 (decode threads; 2-core machine);
2. warm run (everything cached);
3. adding one codec (only its rows are computed).

Prints a table of wall-clock seconds and images/second, then the cost of keying the cache on
content: every run hashes every reference and reconstruction (SHA-256, see
:mod:`evalkit.evaluate.cache`); the hashing time of one warm run's files is shown beside the warm
run itself and beside xxh3-128 (the fast non-cryptographic alternative, when ``xxhash`` is
installed).  Skips with a message when the Kodak folder is absent.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

DEFAULT_KODAK = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "kodak"


def encode(refs: dict, runs: Path, codec: str, qualities: tuple[int, ...]) -> None:

    fmt, ext = {"jpeg": ("JPEG", "jpg"), "webp": ("WEBP", "webp")}[codec]
    for q in qualities:
        d = runs / codec / f"q{q}"
        d.mkdir(parents=True, exist_ok=True)
        for name, im in refs.items():
            im.save(d / f"{name}.{ext}", fmt, quality=q)


def timed(label: str, **kwargs) -> tuple[str, float, int, int]:
    from evalkit.evaluate import evaluate

    t0 = time.perf_counter()
    ev = evaluate(progress=False, **kwargs)
    dt = time.perf_counter() - t0
    return label, dt, ev.computed, ev.reused


def hash_cost(paths: list[Path], repeats: int = 5) -> dict[str, float]:
    """Best-of-``repeats`` seconds to hash ``paths``: evalkit's content hash in 0 and 1 worker
    threads, and xxh3-128 for comparison (files read from the page cache in every case)."""
    from evalkit.evaluate.cache import content_hashes

    def best(fn) -> float:
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
        return min(times)

    out = {"sha256, workers=0": best(lambda: content_hashes(paths, 0)),
           "sha256, workers=1": best(lambda: content_hashes(paths, 1))}
    try:
        import xxhash

        out["xxh3-128 (comparison)"] = best(
            lambda: [xxhash.xxh3_128_hexdigest(p.read_bytes()) for p in paths])
    except ImportError:
        pass
    out["read only (comparison)"] = best(lambda: [p.read_bytes() for p in paths])
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kodak", type=Path, default=DEFAULT_KODAK)
    ap.add_argument("--metrics", default="psnr,ssim,ms_ssim")
    args = ap.parse_args()
    pngs = sorted(args.kodak.glob("*.png")) if args.kodak.is_dir() else []
    if not pngs:
        print(f"skipped: no Kodak PNGs in {args.kodak}")
        return 0
    import torch
    from PIL import Image

    rows = []
    with tempfile.TemporaryDirectory(prefix="evalkit-bench-") as tmp:
        tmp = Path(tmp)
        refs_dir, runs = tmp / "refs", tmp / "runs"
        refs_dir.mkdir()
        refs = {}
        for p in pngs:
            refs[p.stem] = Image.open(p).convert("RGB")
            os.symlink(p.resolve(), refs_dir / p.name)
        encode(refs, runs, "jpeg", (40, 80))
        common = dict(refs=refs_dir, runs=runs, metrics=args.metrics)
        for w in (0, 1, 2):
            rows.append(timed(f"cold, workers={w}", cache=tmp / f"cold{w}.sqlite", workers=w,
                              **common))
        cache = tmp / "cold1.sqlite"
        rows.append(timed("warm (all cached), workers=1", cache=cache, workers=1, **common))
        warm_files = sorted([*refs_dir.glob("*.png"), *runs.rglob("*.jpg")])
        size = sum(p.stat().st_size for p in warm_files) / 1e6
        hashing = hash_cost(warm_files)
        encode(refs, runs, "webp", (50, 80))
        rows.append(timed("add codec webp, workers=1", cache=cache, workers=1, **common))
        rows.append(timed("warm again, workers=1", cache=cache, workers=1, **common))
    print(f"evalkit evaluate on {len(pngs)} Kodak images, metrics {args.metrics}, "
          f"torch threads {torch.get_num_threads()}, cpus {os.cpu_count()}")
    print(f"{'run':<32} {'seconds':>8} {'computed':>9} {'reused':>7} {'img/s':>7}")
    for label, dt, comp, reused in rows:
        rate = (comp or reused) / dt
        print(f"{label:<32} {dt:8.2f} {comp:9d} {reused:7d} {rate:7.1f}")
    warm = next(dt for label, dt, _, _ in rows if label.startswith("warm (all cached)"))
    print(f"\ncontent hashing of the warm run's {len(warm_files)} files ({size:.1f} MB; every run "
          "hashes every file, nothing trusts size+mtime):")
    print(f"{'hash':<32} {'ms':>8} {'MB/s':>8} {'% of warm run':>14}")
    for label, dt in hashing.items():
        print(f"{label:<32} {1000 * dt:8.1f} {size / dt:8.0f} {100 * dt / warm:13.1f}%")
    return 0


if __name__ == "__main__":
    sys.exit(main())
