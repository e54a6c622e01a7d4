"""Benchmark: patches per second of FID Inception feature extraction on CPU (HiFiC patches),
evalkit beside torchmetrics' Inception (torch-fidelity) on the same patches and weights, plus the
time of the FID / KID mathematics and of a cached reference set.

    .venv/bin/python bench/fid.py [--images DIR] [--limit 2] [--batch-size 16] [--threads T]

Images: ``../shared/datasets/kodak`` when present, else scikit-image's bundled photos.  The
official Inception file cannot be downloaded here, so *randomly initialised* weights (seeded)
are saved under the official file name in a temporary ``EVALKIT_WEIGHTS_DIR``; speed does not
depend on the weight values.  Timings exclude model loading and one warm-up batch.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
KODAK = HERE.parent.parent / "shared" / "datasets" / "kodak"


def load_images(folder: str | None, limit: int) -> tuple[list[np.ndarray], str]:
    from evalkit.images import load_image

    src = Path(folder) if folder else KODAK
    if src.is_dir():
        files = sorted(p for p in src.iterdir() if p.suffix.lower() in (".png", ".jpg", ".jpeg"))
        return [load_image(p) for p in files[:limit]], str(src)
    from skimage import data

    return [np.ascontiguousarray(data.astronaut()), np.ascontiguousarray(data.chelsea())][:limit], \
        "skimage.data (astronaut, chelsea)"


def timed(fn, repeat: int = 1) -> float:
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--images", help="folder of images (default: ../shared/datasets/kodak)")
    ap.add_argument("--limit", type=int, default=2, help="number of images (default 2)")
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch default)")
    args = ap.parse_args(argv)

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    tmp = tempfile.TemporaryDirectory()
    os.environ["EVALKIT_WEIGHTS_DIR"] = tmp.name
    os.environ["EVALKIT_CACHE_DIR"] = tmp.name
    os.environ["EVALKIT_SKIP_WEIGHT_HASH"] = "1"

    from evalkit.metrics.fid import build_fid
    from evalkit.metrics.fid_math import fid_from_features, kid_from_features
    from evalkit.metrics.inception import FIDInceptionV3, patch_features
    from evalkit.metrics.patches import extract_set_patches

    torch.manual_seed(0)
    weights = Path(tmp.name) / "pt_inception-2015-12-05-6726825d.pth"
    torch.save(FIDInceptionV3().state_dict(), weights)

    refs, source = load_images(args.images, args.limit)
    rng = np.random.default_rng(0)
    dists = [np.clip(r + rng.normal(0, 8, r.shape), 0, 255).astype(np.uint8) for r in refs]
    patches = extract_set_patches(refs)
    n = len(patches)
    print(f"images: {len(refs)} from {source}, sizes {sorted({r.shape[:2] for r in refs})}, "
          f"{n} patches of 256x256; torch threads {torch.get_num_threads()}, "
          f"batch {args.batch_size}", file=sys.stderr)

    metric = build_fid(progress=False, batch_size=args.batch_size)
    model = metric.extractor.model
    warm = patches[:min(n, args.batch_size)]
    patch_features(warm, model, batch_size=args.batch_size)
    t_ours = timed(lambda: patch_features(patches, model, batch_size=args.batch_size))

    from torchmetrics.image.fid import NoTrainInceptionV3

    tm = NoTrainInceptionV3(name="inception-v3-compat", features_list=["2048"],
                            feature_extractor_weights_path=str(weights), antialias=False)
    nchw = torch.from_numpy(patches).permute(0, 3, 1, 2).contiguous()

    def run_tm():
        with torch.no_grad():
            for i in range(0, n, args.batch_size):
                tm(nchw[i:i + args.batch_size])

    run_tm()  # warm-up (also the first batch only would do; the set is small)
    t_tm = timed(run_tm)

    fr = patch_features(patches, model, batch_size=args.batch_size)
    fd = patch_features(extract_set_patches(dists), model, batch_size=args.batch_size)
    t_fid = timed(lambda: fid_from_features(fr, fd), repeat=3)
    t_kid = timed(lambda: kid_from_features(fr, fd), repeat=3)
    metric(refs, dists)                       # computes and caches the reference features
    from evalkit.metrics import fid as fid_mod
    fid_mod._MEMORY.clear()
    t_cached = timed(lambda: metric.extractor.features(refs, reference=True))

    print(f"{'step':<44} {'seconds':>8} {'patches/s':>10}")
    print(f"{'evalkit FIDInceptionV3 (tf1 resize)':<44} {t_ours:8.2f} {n / t_ours:10.2f}")
    print(f"{'torchmetrics NoTrainInceptionV3 (tf1 resize)':<44} {t_tm:8.2f} {n / t_tm:10.2f}")
    print(f"{'FID from features (' + str(n) + ' x 2048)':<44} {t_fid:8.3f}")
    print(f"{'KID from features (100 subsets)':<44} {t_kid:8.3f}")
    print(f"{'reference features from the disk cache':<44} {t_cached:8.3f}")
    tmp.cleanup()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
