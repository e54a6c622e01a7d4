"""Benchmark: paper-scale evaluation -- the reference-major engine beside pair-by-pair scoring.

    .venv/bin/python bench/evaluate_scale.py [--images K] [--settings 1,4,8]
        [--metrics psnr,ms_ssim,lpips,lpips_vgg,dists,pim] [--parts kodak,ray,large]
        [--ray-settings 8] [--no-ray] [--no-large]

A short full run (every row, ~15 min on a loaded 2-core machine):
``--images 2 --settings 1,4,8``; ``--parts large`` alone gives the 2048x1365 rows.

Data: Kodak (``../shared/datasets/kodak``; else scikit-image's bundled photos), the first K
images, each with N Pillow-JPEG reconstructions (qualities spread over 10..85), written to a
temporary refs/runs layout.  Large pair: one 2048x1365 photo (``hific-samples/originals``;
else an upscaled bundled photo) and its JPEG q30.

Weights: the learned metrics' weights are not on this machine, so (like the tests) randomly
initialised AlexNet/VGG16 and the random-weight PIM checkpoints (``pim-random-checkpoints``;
else generated like the tests do) go to a temporary weights folder, with
``EVALKIT_SKIP_WEIGHT_HASH=1``.  Speed and memory do not depend on the weight values.

Per metric and N (one subprocess per metric, so peak RSS is that metric's):

* ``pairs/s`` of the engine (decode + score, reference-major, default batch size) and of
  pair-by-pair scoring (``load_pair`` + ``compute_batch`` per pair, what evaluate did before);
* ``cost x``: engine seconds per pair / pair-by-pair seconds per pair (lower is better; with
  reference reuse the ideal for a backbone metric is (N+1)/(2N));
* ``% backbone``: the bare backbone's time for the forwards the engine needs ((N+1) per
  reference: the reference once, every reconstruction once; AlexNet for lpips, VGG16 features
  for lpips_vgg, DISTS's VGG for dists, the PIM network for pim) / the engine's time;
* ``peak MB``: the process's peak RSS (VmHWM) while timing, imports included (the engine's
  batches are the largest thing alive).

The three are timed interleaved, reference group by reference group, so load changes on a
shared machine hit them alike.

Then, for the N of ``--ray-settings`` (default: the largest), the same layout through Ray with
2 local CPU actors beside the local engine (end-to-end ``evaluate`` of all metrics without
cache, in a process of its own), and one 2048x1365 pair per metric, each metric in its own
process: the pair API (seconds, peak RSS) and the engine scoring two reconstructions of that
reference (JPEG q30 and q60; seconds, peak RSS).  Timings on a shared machine are noisy:
compare ratios within one run.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from proc_memory import reset_peak, status_mb

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
SHARED = REPO.parent.parent / "shared" / "datasets"
if not SHARED.is_dir():
    SHARED = Path("/work/shared/datasets")
KODAK = SHARED / "kodak"
LARGE = SHARED / "hific-samples" / "originals" / "CLIC2020_3.png"
PIM_ZIPS = SHARED / "pim-random-checkpoints"
METRICS = ("psnr", "ms_ssim", "lpips", "lpips_vgg", "dists", "pim")


# --- data and weights -------------------------------------------------------------------------

def reference_images(k: int) -> tuple[list[tuple[str, np.ndarray]], str]:
    from evalkit.images import load_image

    if KODAK.is_dir():
        files = sorted(p for p in KODAK.iterdir() if p.suffix.lower() == ".png")[:k]
        return [(p.stem, load_image(p)) for p in files], str(KODAK)
    from skimage import data

    photos = [("astronaut", data.astronaut()), ("coffee", data.coffee()),
              ("chelsea", data.chelsea()), ("rocket", data.rocket())]
    return [(n, np.ascontiguousarray(p)) for n, p in photos[:k]], "scikit-image photos"


def qualities(n: int) -> list[int]:
    return [50] if n == 1 else [int(q) for q in np.linspace(10, 85, n).round()]


def make_layout(root: Path, images, n: int) -> tuple[Path, Path]:
    from PIL import Image

    refs, runs = root / f"n{n}" / "refs", root / f"n{n}" / "runs"
    refs.mkdir(parents=True)
    for name, img in images:
        Image.fromarray(img).save(refs / f"{name}.png")
        for q in qualities(n):
            d = runs / "jpeg" / f"q{q:02d}"
            d.mkdir(parents=True, exist_ok=True)
            Image.fromarray(img).save(d / f"{name}.jpg", "JPEG", quality=q)
    return refs, runs


def make_weights(root: Path) -> None:
    import torch
    from torchvision import models

    from evalkit.pim.convert import convert_archive

    torch.manual_seed(0)
    torch.save(models.alexnet(weights=None).state_dict(), root / "alexnet-owt-7be5be79.pth")
    torch.save(models.vgg16(weights=None).state_dict(), root / "vgg16-397923af.pth")
    for n, name in ((1, "pim-1"), (5, "pim-5")):
        archive = PIM_ZIPS / f"{name}.zip"
        if not archive.is_file():
            sys.path.insert(0, str(REPO / "tests" / "pim"))
            from pim_layout import official_config, official_variables, write_official_zip

            archive = write_official_zip(root / f"{name}.zip", name,
                                         official_variables(n, seed=n), official_config(n))
        convert_archive(archive, root)


# --- measurements (inside one worker process per metric) -------------------------------------

def backbone_forward(metric: str):
    """``f(uint8 image) -> None``: one forward of the metric's bare backbone, or None."""
    import torch

    from evalkit.metrics import build_metric
    from evalkit.metrics.tensors import to_tensor

    if metric not in ("lpips", "lpips_vgg", "dists", "pim", "pim5"):
        return None
    m = build_metric(metric, "cpu")
    if metric in ("lpips", "lpips_vgg"):
        net, scale = m.model.net, m.model.scaling_layer
        return lambda im: net(scale(to_tensor(im) / 127.5 - 1.0))
    if metric == "dists":
        return lambda im: list(m._features(to_tensor(im) / 255.0))
    return lambda im: m.model(to_tensor(im).div(255.0).contiguous(
        memory_format=torch.channels_last))


def worker(args: argparse.Namespace) -> None:
    import torch

    torch.set_num_threads(args.threads)
    from evalkit.evaluate.engine import Engine
    from evalkit.evaluate.plan import plan_groups
    from evalkit.images import load_image, load_pair
    from evalkit.layout import discover_runs
    from evalkit.metrics import build_metric, compute_batch

    metric = args.metric
    out: dict = {"metric": metric, "by_n": {}}
    build_metric(metric, "cpu")
    fwd = backbone_forward(metric)
    with torch.no_grad():
        for n in args.settings:
            refs, runs = Path(args.root) / f"n{n}" / "refs", Path(args.root) / f"n{n}" / "runs"
            entries, _ = discover_runs(refs, runs)
            pairs = len(entries)
            engine = Engine("cpu", workers=1)
            groups = plan_groups(entries, {i: [metric] for i in range(pairs)})
            # Interleaved per reference group -- pair-by-pair (decode both files and score, one
            # pair at a time), the engine, the bare backbone ((N+1) forwards) -- so load changes
            # on a shared machine hit all three alike.
            t_pair = t_engine = t_backbone = 0.0
            pair_vals, rows = {}, {}
            reset_peak()
            for g in groups:
                t0 = time.perf_counter()
                for j in g.jobs:
                    e = entries[j.index]
                    pair_vals[j.index] = float(compute_batch(
                        *load_pair(e.reference, e.reconstruction), metric)[0])
                t_pair += time.perf_counter() - t0
                t0 = time.perf_counter()
                rows.update({r.index: r.values[metric] for r in engine.score_group(g)})
                t_engine += time.perf_counter() - t0
                if fwd is not None:
                    t0 = time.perf_counter()
                    fwd(load_image(g.reference))
                    for j in g.jobs:
                        fwd(load_image(j.reconstruction))
                    t_backbone += time.perf_counter() - t0
            peak = status_mb("VmHWM")
            diff = max(abs(rows[i] - v) / max(abs(v), 1e-12) for i, v in pair_vals.items())
            rec = {"pairs": pairs, "t_pair": t_pair, "t_engine": t_engine, "peak_mb": peak,
                   "max_rel_diff": diff}
            if fwd is not None:
                rec["t_backbone"] = t_backbone
            out["by_n"][n] = rec
    print(json.dumps(out))


def large_worker(args: argparse.Namespace) -> None:
    import torch

    torch.set_num_threads(args.threads)
    from evalkit.evaluate.engine import Engine
    from evalkit.evaluate.plan import plan_groups
    from evalkit.layout import discover_runs
    from evalkit.metrics import build_metric, compute_batch

    root = Path(args.root)
    ref, dist = np.load(root / "large_ref.npy"), np.load(root / "large_dist.npy")
    build_metric(args.metric, "cpu")
    base = status_mb("VmRSS")
    reset_peak()
    t0 = time.perf_counter()
    value = float(compute_batch(ref, dist, args.metric)[0])
    secs = time.perf_counter() - t0
    out = {"seconds": secs, "peak_mb": status_mb("VmHWM"), "base_mb": base, "value": value}
    if not args.pair_only:
        entries, _ = discover_runs(root / "large" / "refs", root / "large" / "runs")
        groups = plan_groups(entries, {i: [args.metric] for i in range(len(entries))})
        reset_peak()
        t0 = time.perf_counter()
        rows = {r.index: r.values[args.metric]
                for g in groups for r in Engine("cpu", workers=1).score_group(g)}
        out.update(engine_seconds=time.perf_counter() - t0, engine_pairs=len(rows),
                   engine_peak_mb=status_mb("VmHWM"))
    print(json.dumps(out))


# --- driver -------------------------------------------------------------------------------------

def _run(extra: list[str], env: dict, timeout: float) -> dict:
    cmd = [sys.executable, __file__, *extra]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout,
                          check=False)
    if proc.returncode != 0:
        return {"error": proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else "?"}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def large_pair(tmp: Path) -> str:
    """Write the large reference (``large_ref.npy``), its JPEG q30 (``large_dist.npy``) and a
    layout ``large/`` with the reference and its JPEG q30 and q60."""
    from PIL import Image

    if LARGE.is_file():
        img = np.asarray(Image.open(LARGE).convert("RGB"))
        src = str(LARGE)
    else:
        from skimage import data

        img = np.asarray(Image.fromarray(data.astronaut()).resize((2048, 1365)))
        src = "astronaut upscaled to 2048x1365"
    img = np.ascontiguousarray(img)
    refs = tmp / "large" / "refs"
    refs.mkdir(parents=True)
    Image.fromarray(img).save(refs / "large.png")
    for q in (30, 60):
        d = tmp / "large" / "runs" / "jpeg" / f"q{q}"
        d.mkdir(parents=True)
        Image.fromarray(img).save(d / "large.jpg", "JPEG", quality=q)
    dist = np.asarray(Image.open(tmp / "large" / "runs" / "jpeg" / "q30" / "large.jpg")
                      .convert("RGB"))
    np.save(tmp / "large_ref.npy", img)
    np.save(tmp / "large_dist.npy", np.ascontiguousarray(dist))
    return f"{src} ({img.shape[1]}x{img.shape[0]})"


def ray_worker(args: argparse.Namespace) -> None:
    """End-to-end ``evaluate`` of the N-settings layout, local engine then Ray (2 actors)."""
    import torch

    torch.set_num_threads(args.threads)
    from evalkit.evaluate import evaluate

    n = args.settings[0]
    refs, runs = Path(args.root) / f"n{n}" / "refs", Path(args.root) / f"n{n}" / "runs"
    metrics = args.metrics.split(",")
    out = {}
    t0 = time.perf_counter()
    local = evaluate(refs, runs, metrics, cache=False, progress=False, device="cpu")
    out["local_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    remote = evaluate(refs, runs, metrics, cache=False, progress=False, device="cpu",
                      ray="local", ray_actors=2)
    out["ray_s"] = time.perf_counter() - t0
    out["pairs"] = len(local.results)
    a = local.results[metrics].to_numpy(float)
    b = remote.results[metrics].to_numpy(float)
    out["same"] = bool(np.allclose(a, b, rtol=1e-9, equal_nan=True))
    print(json.dumps(out))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--images", type=int, default=24, help="first K Kodak images (default 24)")
    ap.add_argument("--settings", default="1,4,8", help="numbers N of JPEG settings")
    ap.add_argument("--metrics", default=",".join(METRICS))
    ap.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    ap.add_argument("--parts", default="kodak,ray,large",
                    help="which tables: kodak (engine vs pair-by-pair), ray, large")
    ap.add_argument("--ray-settings", default=None,
                    help="N values for the Ray rows (default: the largest of --settings)")
    ap.add_argument("--no-ray", action="store_true", help="skip the Ray comparison")
    ap.add_argument("--no-large", action="store_true", help="skip the 2048x1365 pair")
    ap.add_argument("--pair-only", action="store_true",
                    help="large pair: the pair API only, not the engine")
    ap.add_argument("--timeout", type=float, default=3600, help="seconds per worker")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--large-worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--ray-worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--metric", help=argparse.SUPPRESS)
    ap.add_argument("--root", help=argparse.SUPPRESS)
    args = ap.parse_args()
    args.settings = [int(s) for s in str(args.settings).split(",")]
    if args.worker:
        return worker(args)
    if args.large_worker:
        return large_worker(args)
    if args.ray_worker:
        return ray_worker(args)
    parts = set(args.parts.split(","))
    if args.no_ray:
        parts.discard("ray")
    if args.no_large:
        parts.discard("large")
    ray_settings = [int(s) for s in (args.ray_settings or str(max(args.settings))).split(",")]

    metrics = args.metrics.split(",")
    images, source = reference_images(args.images)
    with tempfile.TemporaryDirectory(prefix="evalkit-bench-scale-") as tmpname:
        tmp = Path(tmpname)
        wdir = tmp / "weights"
        wdir.mkdir()
        os.environ.update(EVALKIT_WEIGHTS_DIR=str(wdir), TORCH_HOME=str(tmp / "torch"),
                          EVALKIT_SKIP_WEIGHT_HASH="1", EVALKIT_CACHE_DIR=str(tmp / "cache"),
                          PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
        make_weights(wdir)
        for n in sorted(set(args.settings) | (set(ray_settings) if "ray" in parts else set())):
            make_layout(tmp, images, n)
        print(f"{len(images)} reference images from {source}; N JPEG settings per image: "
              f"{', '.join(f'{n} ({qualities(n)})' for n in args.settings)}; "
              f"{args.threads} torch threads, CPU; weights: RANDOM (temp dir)", flush=True)
        if "kodak" in parts:
            kodak_table(tmp, metrics, args)
        if "ray" in parts:
            ray_table(tmp, metrics, ray_settings, args)
        if "large" in parts:
            large_table(tmp, metrics, args)


def _print_head(head: str) -> None:
    print(head)
    print("-" * len(head), flush=True)


def _row_run(label: str, argv: list[str], args: argparse.Namespace) -> dict | None:
    """One table row's worker process (:func:`_run`); on failure prints ``label failed: ...``
    and returns None."""
    res = _run(argv, dict(os.environ), args.timeout)
    if "error" in res:
        print(f"{label} failed: {res['error']}", flush=True)
        return None
    return res


def kodak_table(tmp: Path, metrics: list[str], args: argparse.Namespace) -> None:
    head = (f"{'metric':<10} {'N':>2} {'pairs':>5} {'engine p/s':>10} {'pairwise p/s':>12} "
            f"{'cost x':>7} {'ideal':>6} {'% backbone':>10} {'peak MB':>8} {'max rel diff':>12}")
    _print_head(head)
    for m in metrics:
        res = _row_run(f"{m:<10}", ["--worker", "--metric", m, "--root", str(tmp), "--threads",
                                    str(args.threads), "--settings", ",".join(map(str, args.settings))],
                       args)
        if res is None:
            continue
        for n, r in res["by_n"].items():
            n = int(n)
            pe, pp = r["pairs"] / r["t_engine"], r["pairs"] / r["t_pair"]
            bb = f"{100 * r['t_backbone'] / r['t_engine']:>9.0f}%" if "t_backbone" in r \
                else f"{'-':>10}"
            print(f"{m:<10} {n:>2} {r['pairs']:>5} {pe:>10.2f} {pp:>12.2f} "
                  f"{r['t_engine'] / r['t_pair']:>7.2f} {(n + 1) / (2 * n):>6.2f} {bb} "
                  f"{r['peak_mb']:>8.0f} {r['max_rel_diff']:>12.1e}", flush=True)
    print("cost x = engine s/pair / pair-by-pair s/pair; ideal = (N+1)/(2N) for a backbone "
          "metric; % backbone = bare backbone time for the (N+1) forwards per reference / "
          "engine time; peak MB = peak RSS of the metric's process (imports included).")


def ray_table(tmp: Path, metrics: list[str], ray_settings: list[int],
              args: argparse.Namespace) -> None:
    print(f"\nEnd-to-end evaluate (no cache) of {','.join(metrics)}: local engine vs Ray with 2 "
          f"local CPU actors (own process; Ray time includes starting the local cluster)")
    head = (f"{'N':>2} {'pairs':>5} {'local p/s':>9} {'local s':>8} {'Ray p/s':>8} "
            f"{'Ray s':>6} {'same values':>11}")
    _print_head(head)
    for n in ray_settings:
        r = _row_run(f"{n:>2}", ["--ray-worker", "--root", str(tmp), "--threads", str(args.threads),
                                 "--settings", str(n), "--metrics", ",".join(metrics)], args)
        if r is None:
            continue
        print(f"{n:>2} {r['pairs']:>5} {r['pairs'] / r['local_s']:>9.2f} {r['local_s']:>8.0f} "
              f"{r['pairs'] / r['ray_s']:>8.2f} {r['ray_s']:>6.0f} {str(r['same']):>11}",
              flush=True)


def large_table(tmp: Path, metrics: list[str], args: argparse.Namespace) -> None:
    what = large_pair(tmp)
    print(f"\nOne large reference: {what}; pair API: vs its JPEG q30; engine: its JPEG q30 and "
          f"q60 (decode + score, one reference group).  Own process per metric.")
    head = (f"{'metric':<10} {'pair s':>7} {'pair peak MB':>12} {'engine s/pair':>13} "
            f"{'engine peak MB':>14} {'base MB':>8}")
    _print_head(head)
    for m in metrics:
        extra = ["--pair-only"] if args.pair_only else []
        r = _row_run(f"{m:<10}", ["--large-worker", "--metric", m, "--root", str(tmp), "--threads",
                                  str(args.threads), *extra], args)
        if r is None:
            continue
        eng = (f"{r['engine_seconds'] / r['engine_pairs']:>13.1f} {r['engine_peak_mb']:>14.0f}"
               if "engine_seconds" in r else f"{'-':>13} {'-':>14}")
        print(f"{m:<10} {r['seconds']:>7.1f} {r['peak_mb']:>12.0f} {eng} {r['base_mb']:>8.0f}",
              flush=True)
    print("peak MB = peak RSS of the whole process (imports, model, images included); base MB = "
          "RSS after building the metric, before scoring.")


if __name__ == "__main__":
    main()
