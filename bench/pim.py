"""PIM: converter check, today-vs-new CPU speed side by side, peak memory for a 2048x1365 pair.

    .venv/bin/python bench/pim.py [--images 2] [--size 512] [--threads N] [--recon 8]
                                  [--repeat 1] [--skip-speed] [--skip-rss] [--profile]

1. Converts ``../shared/datasets/pim-random-checkpoints/pim-{1,5}.zip`` (official layout,
   RANDOM weights, so with EVALKIT_SKIP_WEIGHT_HASH=1) into a temporary directory and prints,
   per archive, how many checkpoint variables were read, mapped onto the PyTorch model and
   ignored, and whether every model parameter was set and no used variable was left over.
   Without the archives, random checkpoints in the same layout are written the way
   ``tests/pim`` does it.
2. Speed in ONE process, for ``pim`` and ``pim5``: "today" is the implementation when issue 12
   was filed (commit ``OLD_COMMIT``, its ``model.py``/``pyramid.py``/``distance.py``/
   ``metric.py`` extracted with ``git show`` into a temporary package), scoring pair by pair as
   ``evaluate`` did then; "new, pair by pair" is the current pair call; "new, reference-major"
   is ``prepare_reference`` once + ``score_batch`` of the reference's N reconstructions (JPEG
   qualities, ``--recon``, default 8), per pair.  All with the same converted weights, on the
   same Kodak images (or synthetic ones without Kodak); within each round (``--repeat``) the
   three timings alternate, so they see the same machine load.  Prints seconds per pair (wall
   and CPU), the speed-ups over today, whether each meets the 5x target, and the largest
   relative difference of the values (today vs new; reference-major vs pair calls).
   ``--profile`` adds a torch-profiler table (top operators) of one pair per implementation.
   Then the floor: the single-thread time of the 5x5 convolutions alone of one image, each
   layer on the fastest of NNPACK (precomputed kernel transforms), oneDNN NCHW and oneDNN
   channels-last, divided by the thread count -- what one reconstruction costs at least, so
   the best speed-up over today any implementation with these convolutions can reach.
3. Peak RSS of ONE 2048x1365 pair for ``pim`` and ``pim5`` (new implementation), each in a
   fresh subprocess: ru_maxrss after imports + weights, after decoding the images and after
   the pair.  Uses the first ``../shared/datasets/hific-samples`` original/reconstruction
   cropped to 1365x2048 when present, else a synthetic image and a noisy copy.

The random weights say nothing about metric values; only speed, memory and today/new agreement
are meaningful.  Prints only; writes nothing outside a temporary directory.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SHARED = next((p / "shared" / "datasets" for p in ROOT.parents if (p / "shared" / "datasets").is_dir()),
              ROOT.parent / "shared" / "datasets")
ARCHIVES = SHARED / "pim-random-checkpoints"
KODAK = SHARED / "kodak"
HIFIC = SHARED / "hific-samples"
#: "Today": the last commit with the implementation as it was when issue 12 was filed (oneDNN
#: convolutions on whole levels, channels_last, a fresh buffer per ReLU).
OLD_COMMIT = "242fdd1f6dd1eae24340c6cb3b3a47b3f2d542f7"
OLD_FILES = ("pyramid.py", "model.py", "distance.py", "metric.py")


def check_archives(out_dir: Path) -> bool:
    from evalkit.pim.convert import convert_archive, load_converted, map_checkpoint, read_official_archive
    from evalkit.pim.model import PIMConfig, PIMNet

    ok = True
    for name in ("pim-1", "pim-5"):
        path = ARCHIVES / f"{name}.zip"
        if not path.is_file():
            print(f"{path}: absent; writing a random archive in the official layout instead")
            path = random_archive(out_dir, name)
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


def random_archive(out_dir: Path, name: str) -> Path:
    sys.path.insert(0, str(ROOT / "tests" / "pim"))
    from pim_layout import official_config, official_variables, write_official_zip

    nmix = int(name.split("-")[1])
    src = out_dir / "archives"
    src.mkdir(exist_ok=True)
    return write_official_zip(src / f"{name}.zip", name, official_variables(nmix, seed=nmix),
                              official_config(nmix))


def old_package(tmp: Path):
    """The pre-speed-up modules as package ``pim_old`` (imports of each other rewritten)."""
    pkg = tmp / "pim_old"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    for name in OLD_FILES:
        text = subprocess.run(["git", "-C", str(ROOT), "show", f"{OLD_COMMIT}:evalkit/pim/{name}"],
                              check=True, capture_output=True, text=True).stdout
        for mod in OLD_FILES:
            text = text.replace(f"evalkit.pim.{mod[:-3]} ", f"pim_old.{mod[:-3]} ")
        (pkg / name).write_text(text)
    sys.path.insert(0, str(tmp))
    import pim_old.metric

    return pim_old


def jpeg_version(img: np.ndarray, quality: int = 30) -> np.ndarray:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="JPEG", quality=quality)
    return np.array(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))


def bench_pairs(n_images: int, size: int | None) -> list[tuple[np.ndarray, np.ndarray]]:
    from evalkit.images import load_image

    files = sorted(KODAK.glob("kodim*.png"))[:n_images]
    if files:
        imgs = [load_image(f) for f in files]
        print(f"{len(imgs)} Kodak images", end="")
    else:
        rng = np.random.default_rng(0)
        imgs = [rng.integers(0, 256, (512, 768, 3), dtype=np.uint8) for _ in range(n_images)]
        print(f"{KODAK} absent: {n_images} synthetic images", end="")
    if size:
        imgs = [im[:size, :size] for im in imgs]
    print(f", {imgs[0].shape[1]}x{imgs[0].shape[0]}, vs their JPEG q30 versions")
    return [(im, jpeg_version(im)) for im in imgs]


def bench_speed(tmp: Path, weights: Path, n_images: int, size: int | None, profile: bool,
                n_recon: int, repeat: int) -> None:
    import torch

    from evalkit.metrics.tensors import to_tensor
    from evalkit.pim.convert import load_converted
    from evalkit.pim.metric import PIMMetric

    old = old_package(tmp)
    pairs = bench_pairs(n_images, size)
    qualities = [30, 10, 50, 75, 90, 20, 40, 60, 15, 25, 35, 45, 55, 65, 70, 80][:n_recon]
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, load average "
          f"{os.getloadavg()[0]:.1f}; today = {OLD_COMMIT[:10]} (the implementation when issue 12 "
          f"was filed), pair by pair as `evaluate` scored then; {repeat} round(s), the three "
          f"timings alternate within each round")
    print(f"reference-major: 1 reference + its JPEG q{qualities} (N = {len(qualities)}), "
          f"prepare_reference once + score_batch of all N")
    rows = []
    for metric, name in (("pim", "pim-1"), ("pim5", "pim-5")):
        model, meta = load_converted(weights / f"{name}.pt", expect_name=name)
        old_model = old.model.PIMNet(model.cfg).eval().requires_grad_(False)
        old_model.load_state_dict(model.state_dict())
        impls = {"today": old.metric.PIMMetric(old_model, meta, "cpu"), "new": PIMMetric(model, meta, "cpu")}
        for fn in impls.values():  # warm-up
            fn(to_tensor(pairs[0][0][:64, :64]), to_tensor(pairs[0][1][:64, :64]))
        stats = {k: {"wall": 0.0, "cpu": 0.0, "values": [], "pairs": 0, "mpix": 0.0}
                 for k in ("today", "new", "refmajor")}
        engine_vs_pair = 0.0
        for _ in range(repeat):
            for ref, _dist in pairs:
                r = to_tensor(ref)
                dists = torch.cat([to_tensor(jpeg_version(ref, q)) for q in qualities])
                mp = ref.shape[0] * ref.shape[1] / 1e6
                for key, fn in impls.items():  # the first pair (q30), both see the same load
                    with timed(stats[key], mp, 1):
                        stats[key]["values"].append(float(fn(r, dists[:1])[0]))
                with timed(stats["refmajor"], mp * len(qualities), len(qualities)):
                    state = impls["new"].prepare_reference(r)
                    batch = impls["new"].score_batch(state, dists)
                    del state
                stats["refmajor"]["values"].append(float(batch[0]))
                k = min(2, len(qualities))  # untimed check: reference-major = pair calls
                pair_vals = impls["new"](r.expand(k, -1, -1, -1), dists[:k])
                engine_vs_pair = max(engine_vs_pair, rel_diff(batch[:k].numpy(), pair_vals.numpy()))
        vo, vn = (np.array(stats[k]["values"]) for k in ("today", "new"))
        row = {"metric": metric, "rel_diff": rel_diff(vn, vo), "rel_engine": engine_vs_pair}
        for key, st in stats.items():
            row[f"{key}_spp"] = st["wall"] / st["pairs"]  # seconds per pair
            row[f"{key}_cpu"] = st["cpu"] / st["pairs"]
            row[f"{key}_mps"] = st["mpix"] / st["wall"]
        row["floor"] = conv_floor(model, to_tensor(pairs[0][0]))
        rows.append(row)
        print(f"{metric}: first-pair values today {', '.join(f'{v:.6g}' for v in vo)} | new "
              f"{', '.join(f'{v:.6g}' for v in vn)} (max rel. diff {row['rel_diff']:.1e}); "
              f"reference-major vs pair calls: max rel. diff {engine_vs_pair:.1e}")
        if profile:
            profile_pair(impls, pairs[0], metric)
    print_speed_table(rows, len(qualities))


def rel_diff(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-30)))


def print_speed_table(rows: list[dict], n: int) -> None:
    print("\nSeconds per pair (wall; CPU seconds in brackets) and speed-up over today (same pairs, "
          "same weights, one process, timings interleaved):")
    print(f"| metric | today, pair by pair | new, pair by pair | x today | new, reference-major "
          f"N={n} | x today | MP/s today / pair / ref-major |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['metric']} | {r['today_spp']:.3f} ({r['today_cpu']:.3f}) | {r['new_spp']:.3f} "
              f"({r['new_cpu']:.3f}) | {r['today_spp'] / r['new_spp']:.2f}x | {r['refmajor_spp']:.3f} "
              f"({r['refmajor_cpu']:.3f}) | {r['today_spp'] / r['refmajor_spp']:.2f}x | "
              f"{r['today_mps']:.3f} / {r['new_mps']:.3f} / {r['refmajor_mps']:.3f} |")
    print("Target of issue 12: >= 5x today for pim and pim5.")
    for r in rows:
        pair, engine = r["today_spp"] / r["new_spp"], r["today_spp"] / r["refmajor_spp"]
        print(f"  {r['metric']}: pair by pair {pair:.2f}x ({'met' if pair >= 5 else 'NOT met'}); "
              f"reference-major N={n} {engine:.2f}x ({'met' if engine >= 5 else 'NOT met'})")
    print("\nFloor: the 5x5 convolutions alone of ONE image (a reconstruction must go through all "
          "eight CNNs), each layer on its fastest backend, one thread, then divided by the thread "
          "count (perfect parallelism); a pair costs at least this even with the reference free:")
    print("| metric | conv s/image, 1 thread | ideal on T threads | best possible x today "
          "| fastest backend per layer (count) |")
    print("|---|---|---|---|---|")
    for r in rows:
        f = r["floor"]
        print(f"| {r['metric']} | {f['seconds']:.3f} | {f['ideal']:.3f} (T={f['threads']}) | "
              f"{r['today_spp'] / f['ideal']:.2f}x | "
              f"{', '.join(f'{k} {v}' for k, v in sorted(f['best'].items()))} |")


def conv_floor(model, image) -> dict:
    """Single-thread seconds of every 5x5 convolution of ``model`` on the pyramid of ``image``
    (uint8-valued float (1, 3, H, W)), each layer timed on three backends -- NNPACK ft16x16 with
    its kernel transform precomputed (what PIM uses), oneDNN on NCHW and on channels-last
    input -- and the fastest kept; plus that total divided by the torch thread count."""
    import torch
    import torch.nn.functional as F

    from evalkit.pim import nnpack

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    total, best = 0.0, Counter()
    try:
        with torch.no_grad():
            levels = model.pyramid(image / 255.0)
            for cnn, x in zip(model.cnns, levels):
                for conv in (m for m in cnn if isinstance(m, torch.nn.Conv2d)):
                    w, b = conv.weight, conv.bias
                    backends = {"oneDNN NCHW": (x, lambda t: F.conv2d(t, w, b, padding=2)),
                                "oneDNN NHWC": (x.contiguous(memory_format=torch.channels_last),
                                                lambda t: F.conv2d(t, w, b, padding=2))}
                    if nnpack.available():
                        plan = nnpack.Conv(w, b, relu=False)
                        backends["NNPACK"] = (x, lambda t, plan=plan: plan(t, threaded=False))
                    times = {k: _best_time(fn, inp) for k, (inp, fn) in backends.items()}
                    name = min(times, key=times.get)
                    total += times[name]
                    best[name] += 1
                    x = F.conv2d(x, w, b, padding=2).relu_()
    finally:
        torch.set_num_threads(threads)
    return {"seconds": total, "ideal": total / threads, "threads": threads, "best": dict(best)}


def _best_time(fn, x, rounds: int = 5) -> float:
    fn(x)
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        fn(x)
        times.append(time.perf_counter() - t0)
    return min(times)


@contextlib.contextmanager
def timed(stat: dict, mpix: float, pairs: int):
    t0, c0 = time.perf_counter(), time.process_time()
    yield
    stat["wall"] += time.perf_counter() - t0
    stat["cpu"] += time.process_time() - c0
    stat["mpix"] += mpix
    stat["pairs"] += pairs


def profile_pair(impls: dict, pair: tuple[np.ndarray, np.ndarray], metric: str) -> None:
    from torch.profiler import ProfilerActivity, profile

    from evalkit.metrics.tensors import to_tensor

    r, d = to_tensor(pair[0]), to_tensor(pair[1])
    for key, fn in impls.items():
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            fn(r, d)
        print(f"--- {metric} {key}: top operators by self CPU time")
        print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=8))


def big_pair() -> tuple[np.ndarray, np.ndarray, str]:
    from evalkit.images import load_image

    originals = sorted((HIFIC / "originals").glob("*.png"))
    for orig in originals:
        rec = HIFIC / "hific" / orig.name
        if not rec.is_file():
            continue
        a, b = load_image(orig), load_image(rec)
        if a.shape == b.shape and a.shape[0] >= 1365 and a.shape[1] >= 2048:
            return a[:1365, :2048], b[:1365, :2048], f"hific-samples {orig.name}"
        if a.shape == b.shape and a.shape[1] >= 1365 and a.shape[0] >= 2048:
            return (a[:2048, :1365].transpose(1, 0, 2).copy(), b[:2048, :1365].transpose(1, 0, 2).copy(),
                    f"hific-samples {orig.name} (transposed)")
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:1365, :2048]
    a = ((np.sin(xx / 37.0) + np.cos(yy / 23.0)) * 60 + 128 + rng.normal(0, 10, (1365, 2048)))
    a = np.clip(np.repeat(a[..., None], 3, axis=2), 0, 255).astype(np.uint8)
    b = np.clip(a + rng.normal(0, 8, a.shape), 0, 255).astype(np.uint8)
    return a, b, "synthetic"


def rss_child(metric: str, weights: Path) -> None:
    """Subprocess: one 2048x1365 pair, print a JSON line with peak RSS figures."""
    import torch

    from evalkit.metrics.api import build_metric
    from evalkit.metrics.tensors import to_tensor

    os.environ["EVALKIT_WEIGHTS_DIR"] = str(weights)
    fn = build_metric(metric, "cpu")
    imports = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    a, b, source = big_pair()
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t0 = time.perf_counter()
    value = float(fn(to_tensor(a), to_tensor(b))[0])
    seconds = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"metric": metric, "source": source, "size": f"{a.shape[1]}x{a.shape[0]}",
                      "imports_mb": imports, "base_mb": base, "peak_mb": peak, "seconds": seconds,
                      "value": value, "threads": torch.get_num_threads()}))


def bench_rss(weights: Path, threads: int | None) -> None:
    print("\nPeak RSS, one 2048x1365 pair (new implementation, fresh process each):")
    print("| metric | image | peak RSS | after imports+weights | + decoding the images | pair adds "
          "| seconds |")
    print("|---|---|---|---|---|---|---|")
    procs = {}
    path = [str(ROOT)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    for metric in ("pim", "pim5"):  # concurrently: peak RSS is per process
        cmd = [sys.executable, __file__, "--rss-child", metric, "--weights", str(weights)]
        if threads:
            cmd += ["--threads", str(threads)]
        procs[metric] = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                         env={**os.environ, "PYTHONPATH": os.pathsep.join(path)})
    for metric, proc in procs.items():
        out, err = proc.communicate()
        if proc.returncode:
            raise RuntimeError(f"{metric} RSS run failed: {err[-2000:]}")
        r = json.loads([s for s in out.splitlines() if s.startswith("{")][-1])
        print(f"| {metric} | {r['source']} {r['size']} | {r['peak_mb'] / 1024:.2f} GB | "
              f"{r['imports_mb'] / 1024:.2f} GB | {r['base_mb'] / 1024:.2f} GB | "
              f"{(r['peak_mb'] - r['base_mb']) / 1024:.2f} GB | {r['seconds']:.1f} |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=2, help="Kodak images to time (default 2)")
    parser.add_argument("--size", type=int, default=None, help="crop images to SIZE x SIZE (quick runs)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--skip-speed", action="store_true", help="no old-vs-new timing")
    parser.add_argument("--skip-rss", action="store_true", help="no 2048x1365 peak-RSS runs")
    parser.add_argument("--recon", type=int, default=8,
                        help="reconstructions per reference in the reference-major timing (default 8)")
    parser.add_argument("--repeat", type=int, default=1,
                        help="rounds over the images (timings interleaved; default 1)")
    parser.add_argument("--profile", action="store_true", help="torch-profiler table per pair")
    parser.add_argument("--rss-child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--weights", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    os.environ["EVALKIT_SKIP_WEIGHT_HASH"] = "1"  # random archives: not the official digests
    if args.rss_child:
        rss_child(args.rss_child, Path(args.weights))
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["EVALKIT_WEIGHTS_DIR"] = tmp
        ok = check_archives(Path(tmp))
        print("archives: every variable mapped, none left over" if ok else "archives: CHECK FAILED")
        if not ok:
            return 1
        if not args.skip_speed:
            scratch = Path(tmp) / "old"
            scratch.mkdir()
            bench_speed(scratch, Path(tmp), args.images, args.size, args.profile, args.recon,
                        args.repeat)
        if not args.skip_rss:
            bench_rss(Path(tmp), args.threads)
    return 0


if __name__ == "__main__":
    sys.exit(main())
