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

Peers: for psnr torchmetrics and piq, for ms_ssim pytorch-msssim, piq and torchmetrics (each
called as a user would: float ``(1, 3, H, W)`` tensors in [0, 255]); one reference package for
the others.  Speed: all implementations of a metric in one process, timed in 5 interleaved
rounds of >= 1.2 s each (median MP/s), so load changes on a shared machine hit them alike.

For memory, each (metric, implementation) runs in its own subprocess, so "peak MB" is that process's peak
resident memory (``VmHWM``, reset after imports) minus its resident memory after imports, i.e. what building
the metric and scoring the images added.  Timing excludes decoding, building the model and
one warm-up pair; it includes the uint8 -> tensor conversion on every side.
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
from proc_memory import reset_peak, status_mb

HERE = Path(__file__).resolve().parent
KODAK = HERE.parent.parent / "shared" / "datasets" / "kodak"
if not KODAK.is_dir():
    KODAK = Path("/work/shared/datasets/kodak")
METRICS = ("psnr", "ssim", "ms_ssim", "lpips", "lpips_vgg", "dists")
#: metric -> {peer: what is called}; the first peer is the reference evalkit must equal.
PEERS = {
    "psnr": {"torchmetrics": "torchmetrics.functional.peak_signal_noise_ratio(data_range=255)",
             "piq": "piq.psnr(data_range=255, reduction='none')"},
    "ssim": {"pytorch_msssim": "pytorch_msssim.ssim(data_range=255)"},
    "ms_ssim": {"pytorch_msssim": "pytorch_msssim.ms_ssim(data_range=255)",
                "piq": "piq.multi_scale_ssim(data_range=255, reduction='none')",
                "torchmetrics": "torchmetrics...multiscale_structural_similarity_index_measure"
                                "(data_range=255)"},
    "lpips": {"lpips": "lpips.LPIPS(net='alex')"},
    "lpips_vgg": {"lpips": "lpips.LPIPS(net='vgg')"},
    "dists": {"DISTS_pytorch": "DISTS_pytorch.DISTS + official weights.pt"},
}
#: seconds of timed work per implementation: cheap metrics loop over the images again until
#: this much time has passed, so their rates are not a few milliseconds of noise.
MIN_SECONDS = 6.0
#: interleaved timing rounds per implementation (the median is reported).
ROUNDS = 5


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


def _t255(img, device):
    """uint8 HWC -> float (1, 3, H, W) in [0, 255], as a user of the peer would write it."""
    import torch

    return torch.from_numpy(img).to(device).permute(2, 0, 1)[None].float()


def _pixel_peer(metric: str, impl: str, device: str):
    """PSNR / SSIM / MS-SSIM of a peer package on [0, 255] float tensors."""
    if impl == "torchmetrics":
        from torchmetrics.functional import image as tmi

        if metric == "psnr":
            return lambda r, d: tmi.peak_signal_noise_ratio(
                _t255(d, device), _t255(r, device), data_range=255.0).item()
        return lambda r, d: tmi.multiscale_structural_similarity_index_measure(
            _t255(d, device), _t255(r, device), data_range=255.0).item()
    if impl == "piq":
        import piq

        fn = piq.psnr if metric == "psnr" else piq.multi_scale_ssim
        return lambda r, d: fn(_t255(d, device), _t255(r, device), data_range=255.0,
                               reduction="none").item()
    import pytorch_msssim

    fn = getattr(pytorch_msssim, metric)
    return lambda r, d: fn(_t255(r, device), _t255(d, device), data_range=255).item()


def build(metric: str, impl: str, device: str):
    """A function ``f(ref_uint8, dist_uint8) -> float``."""
    import torch

    if impl == "evalkit":
        from evalkit.metrics import build_metric, compute_batch

        build_metric(metric, device)
        return lambda r, d: float(compute_batch(r, d, metric, device)[0])

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if metric in ("psnr", "ssim", "ms_ssim"):
            return _pixel_peer(metric, impl, device)
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


def _imports() -> None:
    import lpips  # noqa: F401
    import piq  # noqa: F401
    import pytorch_msssim  # noqa: F401
    import torchmetrics  # noqa: F401

    import evalkit.metrics  # noqa: F401  (same imports on every side)


def worker(args: argparse.Namespace) -> None:
    """Memory, build time and values of one implementation (own process: its peak RSS)."""
    import torch

    torch.set_num_threads(args.threads)
    _imports()
    images, _ = load_images(args.images, args.limit)
    pairs = [(im, jpeg(im)) for im in images]
    reset_peak()
    base = status_mb("VmRSS")
    t0 = time.perf_counter()
    f = build(args.metric, args.impl, args.device)
    f(*pairs[0])  # warm-up
    build_s = time.perf_counter() - t0
    values = [f(r, d) for r, d in pairs]
    peak = status_mb("VmHWM")
    print(json.dumps({"build_s": build_s, "peak_mb": peak - base, "values": values}))


def speed_worker(args: argparse.Namespace) -> None:
    """Megapixels/s of every implementation of a metric, measured in one process in
    interleaved rounds (evalkit, peer 1, peer 2, evalkit, ...), median over rounds: on a shared
    machine the load changes from second to second, so separate processes timed one after
    another are not comparable."""
    import statistics

    import torch

    torch.set_num_threads(args.threads)
    _imports()
    images, _ = load_images(args.images, args.limit)
    pairs = [(im, jpeg(im)) for im in images]
    mp = sum(r.shape[0] * r.shape[1] for r, _ in pairs) / 1e6
    impls = args.impl.split(",")
    fns = {impl: build(args.metric, impl, args.device) for impl in impls}
    for f in fns.values():
        f(*pairs[0])  # warm-up
    rates: dict[str, list[float]] = {impl: [] for impl in impls}
    per_round = MIN_SECONDS / ROUNDS
    for _ in range(ROUNDS):
        for impl, f in fns.items():
            passes, t0 = 0, time.perf_counter()
            while passes == 0 or time.perf_counter() - t0 < per_round:
                for r, d in pairs:
                    f(r, d)
                passes += 1
            if args.device.startswith("cuda"):
                torch.cuda.synchronize()
            rates[impl].append(passes * mp / (time.perf_counter() - t0))
    print(json.dumps({impl: statistics.median(v) for impl, v in rates.items()}))


# --- driver ------------------------------------------------------------------------------------

def run_one(metric: str, impl: str, args: argparse.Namespace, env: dict,
            mode: str = "--worker") -> dict:
    cmd = [sys.executable, __file__, mode, "--metric", metric, "--impl", impl,
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
    ap.add_argument("--speed-worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--metric", help=argparse.SUPPRESS)
    ap.add_argument("--impl", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        worker(args)
        return
    if args.speed_worker:
        speed_worker(args)
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
    head = (f"{'metric':<10} {'implementation':<15} {'MP/s':>8} {'evalkit x':>9} {'peak MB':>8} "
            f"{'build s':>8} {'max |diff|':>10}  called")
    print(head)
    print("-" * len(head))
    try:
        for metric in args.metrics.split(","):
            speed = run_one(metric, ",".join(["evalkit", *PEERS[metric]]), args, env,
                            "--speed-worker")
            ours = run_one(metric, "evalkit", args, env)
            sp_o = speed["evalkit"]
            print(f"{metric:<10} {'evalkit':<15} {sp_o:>8.2f} {'':>9} {ours['peak_mb']:>8.0f} "
                  f"{ours['build_s']:>8.2f} {'':>10}  evalkit.metrics.compute_batch", flush=True)
            for impl, called in PEERS[metric].items():
                peer = run_one(metric, impl, args, env)
                sp = speed[impl]
                diff = max(abs(a - b) for a, b in zip(ours["values"], peer["values"]))
                print(f"{'':<10} {impl:<15} {sp:>8.2f} {sp_o / sp:>9.2f} {peer['peak_mb']:>8.0f} "
                      f"{peer['build_s']:>8.2f} {diff:>10.2e}  {called}", flush=True)
    finally:
        if tmp is not None:
            tmp.cleanup()
    print("evalkit x = evalkit MP/s / the peer's (> 1: evalkit faster). MB = peak RSS added after "
          "imports. build s = model build + warm-up. max |diff| = largest difference from "
          "evalkit's value (peers with other conventions, e.g. piq's MS-SSIM, differ by design).")


if __name__ == "__main__":
    main()
