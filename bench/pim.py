"""PIM: converter check on the random official-layout archives, then CPU speed on Kodak.

    .venv/bin/python bench/pim.py [--images 2] [--threads N] [--skip-speed]

1. Converts ``../shared/datasets/pim-random-checkpoints/pim-{1,5}.zip`` (official layout,
   RANDOM weights, so with EVALKIT_SKIP_WEIGHT_HASH=1) into a temporary directory and prints,
   per archive, how many checkpoint variables were read, mapped onto the PyTorch model and
   ignored (by prefix), and whether every model parameter was set and no variable under the
   used prefixes was left over.
2. Times ``pim`` and ``pim5`` (registry path, [0, 255] tensors) on Kodak images against a
   JPEG-quality-30 version of themselves and prints megapixels per second.  The random
   weights say nothing about metric values; only the speed is meaningful.

Skips what needs ``../shared`` when it is absent.  Prints only; writes nothing outside a
temporary directory.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np

SHARED = Path(__file__).resolve().parents[2] / "shared" / "datasets"
ARCHIVES = SHARED / "pim-random-checkpoints"
KODAK = SHARED / "kodak"


def check_archives(out_dir: Path) -> bool:
    from evalkit.pim.convert import convert_archive, load_converted, map_checkpoint, read_official_archive
    from evalkit.pim.model import PIMConfig, PIMNet

    ok = True
    for name in ("pim-1", "pim-5"):
        path = ARCHIVES / f"{name}.zip"
        if not path.is_file():
            print(f"{path}: absent, skipped")
            ok = False
            continue
        arc = read_official_archive(path)
        cfg = PIMConfig.from_official(arc.config)
        state, ignored = map_checkpoint(cfg, arc.tensors)
        n_params = len(PIMNet(cfg).state_dict())
        by_prefix = Counter(k.split("/", 1)[0] for k in ignored)
        mapped = len(arc.tensors) - len(ignored)
        print(f"{name}: {len(arc.tensors)} checkpoint entries read, {mapped} mapped onto "
              f"{len(state)}/{n_params} model parameters, ignored: {dict(by_prefix)}")
        converted = convert_archive(path, out_dir)
        model, meta = load_converted(converted, expect_name=name)
        params = sum(p.numel() for p in model.parameters())
        print(f"  -> {converted.name}: {params} parameters, official={meta['source']['official']}, "
              f"sha512={meta['source']['sha512'][:16]}...")
        ok &= len(state) == n_params == mapped
    return ok


def jpeg_version(img: np.ndarray, quality: int = 30) -> np.ndarray:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="JPEG", quality=quality)
    return np.array(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))


def bench_speed(n_images: int) -> None:
    import torch

    from evalkit.images import load_image
    from evalkit.metrics.api import build_metric
    from evalkit.metrics.tensors import to_tensor

    files = sorted(KODAK.glob("kodim*.png"))[:n_images]
    if not files:
        print(f"{KODAK}: no Kodak images, speed benchmark skipped")
        return
    pairs = [(im, jpeg_version(im)) for im in map(load_image, files)]
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {len(pairs)} Kodak images")
    for metric in ("pim", "pim5"):
        fn = build_metric(metric, "cpu")
        fn(to_tensor(pairs[0][0][:64, :64]), to_tensor(pairs[0][1][:64, :64]))  # warm-up
        mpix, seconds, cpu, values = 0.0, 0.0, 0.0, []
        for ref, dist in pairs:
            t0, c0 = time.perf_counter(), time.process_time()
            values.append(float(fn(to_tensor(ref), to_tensor(dist))[0]))
            seconds += time.perf_counter() - t0
            cpu += time.process_time() - c0
            mpix += ref.shape[0] * ref.shape[1] / 1e6
        print(f"{metric}: {mpix / seconds:.4f} MP/s wall ({seconds / len(pairs):.1f} s per "
              f"{pairs[0][0].shape[1]}x{pairs[0][0].shape[0]} pair), {mpix / cpu:.4f} MP per "
              f"CPU-second; values with random weights: {', '.join(f'{v:.4g}' for v in values)}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=2, help="Kodak images to time (default 2)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--skip-speed", action="store_true", help="only check the archives")
    args = parser.parse_args(argv)
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    os.environ["EVALKIT_SKIP_WEIGHT_HASH"] = "1"  # random archives: not the official digests
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["EVALKIT_WEIGHTS_DIR"] = tmp
        ok = check_archives(Path(tmp))
        print("archives: every variable mapped, none left over" if ok else "archives: CHECK FAILED")
        if not args.skip_speed and ok:
            bench_speed(args.images)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
