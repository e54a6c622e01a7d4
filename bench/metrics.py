"""Benchmark: megapixels per second and peak memory of every full-reference metric, evalkit
beside the reference package called directly on the same images and the same weights.

    .venv/bin/python bench/metrics.py [--images DIR] [--limit N] [--threads T] [--device cpu]

Images: ``../shared/datasets/kodak`` when present, else scikit-image's bundled photos.  Each
reference image is paired with its JPEG (quality 30, Pillow) as the reconstruction.

Weights: the ImageNet backbones cannot be downloaded here, so unless ``--installed-weights`` is
given, *randomly initialised* AlexNet/VGG16 state dicts (seeded) are saved under the official
file names in a temporary directory used by both sides (``EVALKIT_WEIGHTS_DIR`` and
``TORCH_HOME``); LPIPS linear layers and DISTS alpha/beta are the official files.  Speed and
memory do not depend on the weight values.

Each (metric, implementation) runs in its own subprocess, so "peak MB" is that process's peak
resident memory (``VmHWM``, reset after imports) minus its resident memory after imports, i.e. what building
the metric and scoring the images added.  Timing excludes decoding, building the model and
one warm-up pair; it includes the uint8 -> tensor conversion on both sides.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
KODAK = HERE.parent.parent / "shared" / "datasets" / "kodak"
METRICS = ("psnr", "ssim", "ms_ssim", "lpips", "lpips_vgg", "dists")
REFERENCE = {
    "psnr": "torchmetrics.functional.peak_signal_noise_ratio(data_range=255)",
    "ssim": "pytorch_msssim.ssim(data_range=255)",
    "ms_ssim": "pytorch_msssim.ms_ssim(data_range=255)",
    "lpips": "lpips.LPIPS(net='alex')",
    "lpips_vgg": "lpips.LPIPS(net='vgg')",
    "dists": "DISTS_pytorch.DISTS + official weights.pt",
}


# --- data ------------------------------------------------------------------------------------

def load_images(folder: str | None, limit: int) -> tuple[list[np.ndarray], str]:
    from evalkit.images import load_image

    src = Path(folder) if folder else KODAK
    if src.is_dir():
        files = sorted(p for p in src.iterdir() if p.suffix.lower() in (".png", ".jpg", ".jpeg"))
        return [load_image(p) for p in files[:limit]], str(src)
    from skimage import data

    photos = [data.astronaut(), data.coffee(), data.chelsea(), data.rocket(), data.immunohistochemistry()]
    return [np.ascontiguousarray(p) for p in photos[:limit]], "scikit-image photos"


def jpeg(img: np.ndarray, quality: int = 30) -> np.ndarray:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="JPEG", quality=quality)
    buf.seek(0)
    return np.asarray(Image.open(buf).convert("RGB"))


def make_random_weights(root: Path) -> None:
    import torch
    from torchvision import models

    hub = root / "hub" / "checkpoints"
    hub.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    torch.save(models.alexnet(weights=None).state_dict(), hub / "alexnet-owt-7be5be79.pth")
    torch.save(models.vgg16(weights=None).state_dict(), hub / "vgg16-397923af.pth")


# --- implementations (run inside the worker) --------------------------------------------------

def _t01(img, device):
    import torch

    return torch.from_numpy(img).to(device).permute(2, 0, 1)[None].float() / 255.0


def build(metric: str, impl: str, device: str):
    """A function ``f(ref_uint8, dist_uint8) -> float``."""
    import torch

    if impl == "evalkit":
        from evalkit.metrics import build_metric, compute_batch

        build_metric(metric, device)
        return lambda r, d: float(compute_batch(r, d, metric, device)[0])

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if metric == "psnr":
            from torchmetrics.functional import peak_signal_noise_ratio as psnr

            return lambda r, d: psnr(torch.from_numpy(d).to(device).double(),
                                     torch.from_numpy(r).to(device).double(), data_range=255.0).item()
        if metric in ("ssim", "ms_ssim"):
            import pytorch_msssim

            fn = getattr(pytorch_msssim, metric)
            return lambda r, d: fn(_t01(r, device) * 255, _t01(d, device) * 255, data_range=255).item()
        if metric in ("lpips", "lpips_vgg"):
            import lpips

            net = lpips.LPIPS(net="alex" if metric == "lpips" else "vgg", verbose=False).eval().to(device)

            def f(r, d):
                with torch.no_grad():
                    return net(_t01(r, device), _t01(d, device), normalize=True).item()
            return f
        if metric == "dists":
            from DISTS_pytorch import DISTS

            from evalkit.weights import resolve

            model = DISTS(load_weights=False)
            w = torch.load(str(resolve("dists_alpha_beta")), map_location="cpu", weights_only=True)
            model.alpha.data, model.beta.data = w["alpha"], w["beta"]
            model = model.eval().to(device)
            return lambda r, d: model(_t01(r, device), _t01(d, device)).item()
    raise ValueError(metric)


def _status_mb(field: str) -> float:
    """``VmRSS`` / ``VmHWM`` (peak) of this process from /proc, in MB (Linux)."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"{field} not in /proc/self/status")


def _reset_peak() -> None:
    """Reset VmHWM to the current RSS (Linux >= 4.0), so the peak counts only what follows."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
    except OSError:
        pass


def worker(args: argparse.Namespace) -> None:
    import torch

    torch.set_num_threads(args.threads)
    import lpips  # noqa: F401
    import pytorch_msssim  # noqa: F401

    import evalkit.metrics  # noqa: F401  (same imports on both sides)

    images, _ = load_images(args.images, args.limit)
    pairs = [(im, jpeg(im)) for im in images]
    _reset_peak()
    base = _status_mb("VmRSS")
    t0 = time.perf_counter()
    f = build(args.metric, args.impl, args.device)
    f(*pairs[0])  # warm-up
    build_s = time.perf_counter() - t0
    values = []
    t0 = time.perf_counter()
    for r, d in pairs:
        values.append(f(r, d))
    if args.device.startswith("cuda"):
        torch.cuda.synchronize()
    secs = time.perf_counter() - t0
    peak = _status_mb("VmHWM")
    mp = sum(r.shape[0] * r.shape[1] for r, _ in pairs) / 1e6
    print(json.dumps({"seconds": secs, "megapixels": mp, "build_s": build_s,
                      "peak_mb": peak - base, "values": values}))


# --- driver ------------------------------------------------------------------------------------

def run_one(metric: str, impl: str, args: argparse.Namespace, env: dict) -> dict:
    cmd = [sys.executable, __file__, "--worker", "--metric", metric, "--impl", impl,
           "--limit", str(args.limit), "--threads", str(args.threads), "--device", args.device]
    if args.images:
        cmd += ["--images", args.images]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"{metric}/{impl} failed:\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--images", default=None, help="folder of reference images (default: Kodak)")
    ap.add_argument("--limit", type=int, default=6, help="number of images (default 6)")
    ap.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--metrics", default=",".join(METRICS))
    ap.add_argument("--installed-weights", action="store_true",
                    help="use the weights evalkit resolves normally instead of random ones")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--metric", help=argparse.SUPPRESS)
    ap.add_argument("--impl", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        worker(args)
        return

    images, source = load_images(args.images, args.limit)
    mp = sum(i.shape[0] * i.shape[1] for i in images) / 1e6
    env = dict(os.environ)
    tmp = None
    if not args.installed_weights:
        tmp = tempfile.TemporaryDirectory(prefix="evalkit-bench-weights-")
        make_random_weights(Path(tmp.name))
        hub = str(Path(tmp.name) / "hub" / "checkpoints")
        env.update(EVALKIT_WEIGHTS_DIR=hub, TORCH_HOME=tmp.name, EVALKIT_SKIP_WEIGHT_HASH="1")
    print(f"images: {len(images)} from {source} ({mp:.2f} MP), reconstructions: JPEG q30; "
          f"device {args.device}, {args.threads} torch threads; weights: "
          + ("installed" if args.installed_weights
             else "RANDOM backbones (temp dir) + official LPIPS/DISTS heads"))
    head = (f"{'metric':<10} {'evalkit MP/s':>12} {'ref MP/s':>9} {'speed x':>8} "
            f"{'evalkit MB':>10} {'ref MB':>7} {'mem x':>6} {'build s':>8} {'max |diff|':>10}  reference")
    print(head)
    print("-" * len(head))
    try:
        for metric in args.metrics.split(","):
            ours = run_one(metric, "evalkit", args, env)
            ref = run_one(metric, "reference", args, env)
            sp_o = ours["megapixels"] / ours["seconds"]
            sp_r = ref["megapixels"] / ref["seconds"]
            diff = max(abs(a - b) for a, b in zip(ours["values"], ref["values"]))
            mem_ratio = ours["peak_mb"] / ref["peak_mb"] if ref["peak_mb"] > 1 else float("nan")
            print(f"{metric:<10} {sp_o:>12.2f} {sp_r:>9.2f} {sp_o / sp_r:>8.2f} "
                  f"{ours['peak_mb']:>10.0f} {ref['peak_mb']:>7.0f} {mem_ratio:>6.2f} "
                  f"{ours['build_s']:>8.2f} {diff:>10.2e}  {REFERENCE[metric]}", flush=True)
    finally:
        if tmp is not None:
            tmp.cleanup()
    print("speed x / mem x = evalkit / reference (speed > 1: evalkit faster; mem < 1: evalkit "
          "smaller). MB = peak RSS added after imports. build s = evalkit model build + warm-up.")


if __name__ == "__main__":
    main()
