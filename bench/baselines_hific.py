"""HiFiC vs bpp-matched JPEG / WebP / AVIF / JPEG XL on the six HiFiC sample images.

Uses ``../shared/datasets/hific-samples/`` (originals/, hific/, manifest.csv with HiFiC's bpp);
skips with a message when it is absent.  Steps: import the HiFiC reconstructions with their
manifest bpp (``import_run``), encode every original with each traditional codec at the highest
setting whose bpp does not exceed HiFiC's on that image (``run_matched``), then compute PSNR and
MS-SSIM (evalkit.metrics; LPIPS is skipped: its weights are not available offline here) and
print one row per image and codec.  ``--parallel`` also times a small sweep with 1/2 thread and
process workers (``--parallel-only`` skips the rest; ``--parallel-refs DIR`` picks the images).

    .venv/bin/python bench/baselines_hific.py [--data DIR] [--out DIR] [--parallel]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "datasets" / "hific-samples"
CODECS = ["jpeg", "webp", "avif", "jxl"]


def evaluate(refs: Path, runs: Path) -> list[dict]:
    from evalkit.images import load_pair
    from evalkit.layout import discover_runs
    from evalkit.metrics.api import compute_pair

    entries, _ = discover_runs(refs, runs)
    rows = []
    for e in entries:
        ref, dist = load_pair(e.reference, e.reconstruction)
        vals = compute_pair(ref, dist, ("psnr", "ms_ssim"))
        rows.append({"image": e.image, "codec": e.codec, "setting": e.setting,
                     "bpp": e.bpp(ref.shape[1], ref.shape[0]), **vals})
    return rows


def time_parallel(refs: Path, out: Path) -> None:
    from baselines.sweep import run_sweep

    n = len([p for p in refs.iterdir() if p.suffix == ".png"])
    print(f"\nparallel sweep timing (jpeg,webp,avif,jxl at 2 settings each, {n} images in {refs}):")
    for executor, workers in (("thread", 1), ("thread", 2), ("process", 2)):
        t0 = time.perf_counter()
        run_sweep(refs, out / f"par-{executor}{workers}", CODECS, [30, 70], workers=workers,
                  executor=executor, progress=False)
        print(f"  {executor:7s} workers={workers}: {time.perf_counter() - t0:6.1f} s wall")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--out", type=Path, help="keep the runs here (default: a temporary folder)")
    ap.add_argument("--workers", type=int, default=None)
    ap.add_argument("--parallel", action="store_true", help="also time thread vs process workers")
    ap.add_argument("--parallel-refs", type=Path, help="originals for --parallel (default: the samples)")
    ap.add_argument("--parallel-only", action="store_true", help="only the --parallel timing")
    args = ap.parse_args(argv)
    if not (args.data / "manifest.csv").is_file():
        print(f"skipped: {args.data} (HiFiC samples) is not available")
        return 0
    from baselines.import_run import import_run
    from baselines.matched import run_matched

    refs = args.data / "originals"
    if args.parallel_only:
        with tempfile.TemporaryDirectory() as tmp:
            time_parallel(args.parallel_refs or refs, Path(tmp))
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        out = args.out or Path(tmp)
        runs = out / "runs"
        import_run(args.data / "hific", runs, "hific", "samples", manifest=args.data / "manifest.csv",
                   refs_dir=refs, overwrite=True)
        t0 = time.perf_counter()
        matched = run_matched(refs, runs, CODECS, match=runs / "hific" / "samples",
                              workers=args.workers, progress=True, overwrite=True)
        elapsed = time.perf_counter() - t0
        rows = evaluate(refs, runs)
        order = {c: i for i, c in enumerate(["hific", *CODECS])}
        rows.sort(key=lambda r: (r["image"], order[r["codec"]]))
        print(f"{'image':12s} {'codec':6s} {'bpp':>7s} {'psnr':>7s} {'ms_ssim':>8s}")
        for r in rows:
            print(f"{r['image']:12s} {r['codec']:6s} {r['bpp']:7.4f} {r['psnr']:7.2f} {r['ms_ssim']:8.4f}")
        print("\nmean over the images each codec could match:")
        for c in ["hific", *CODECS]:
            mine = [r for r in rows if r["codec"] == c]
            if mine:
                n = len(mine)
                print(f"  {c:6s} n={n}  bpp {sum(r['bpp'] for r in mine) / n:.4f}  "
                      f"psnr {sum(r['psnr'] for r in mine) / n:.2f}  "
                      f"ms_ssim {sum(r['ms_ssim'] for r in mine) / n:.4f}")
        bad = matched[matched["status"] != "matched"]
        for r in bad.itertuples():
            print(f"  not reachable: {r.codec} on {r.image}: target {r.target_bpp:.4f} bpp, "
                  f"lowest setting {r.lowest_bpp:.4f} bpp")
        ok = matched[matched["status"] == "matched"]
        print(f"\nbpp matching: {len(ok)} encodes kept in {elapsed:.1f} s wall, "
              f"{int(matched['encodes'].sum())} trial encodes, "
              f"non-monotone rate seen in {int(matched['non_monotone'].sum())} searches")
        if args.parallel:
            time_parallel(args.parallel_refs or refs, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
