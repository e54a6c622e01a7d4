"""The README's main job on bundled example data: ``python -m evalkit.demo --out reports/demo``.

Runs the whole researcher workflow offline on real photographs that scikit-image ships:

1. references  -> ``OUT/refs/``                 (4 scikit-image photos)
2. baselines   -> ``OUT/runs/<codec>/q*/``      (quality sweeps, `evalkit baseline`)
3. matched     -> ``OUT/runs/<codec>/match-jpeg-q50/`` (bpp-matched to JPEG q50)
4. evaluate    -> ``OUT/results.csv`` + ``OUT/results.summary.csv`` (+ JSON sidecars)
5. rd          -> ``OUT/rd.png``, ``OUT/rd.pdf``
6. bd          -> ``OUT/bd.md``, ``OUT/bd.tex``   (BD-rate against JPEG)
7. table       -> ``OUT/table.md``, ``OUT/table.tex`` (per-image paper table, matched encodes)
8. ratecontrol -> ``OUT/ratecontrol.csv``        (best JPEG setting per image at 0.5 bpp)

Every step is the same `evalkit` verb a user would type (printed before it runs), so the demo
doubles as a check that the documented commands work.  Re-running reuses what exists: encodes
already on disk are kept and metric values come from the evaluation cache.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from evalkit.cli import main as evalkit_main

SWEEP_CODECS = ("jpeg", "webp", "jpeg2000", "avif", "jxl", "heic")
MATCHED_CODECS = ("webp", "avif", "jxl", "heic")
ANCHOR = "jpeg"
MATCH_TARGET = "jpeg/q50"


def _run(argv: list[str]) -> None:
    print("\n$ evalkit " + " ".join(shlex.quote(a) for a in argv), flush=True)
    rc = evalkit_main(argv)
    if rc != 0:
        raise SystemExit(f"demo step failed (exit {rc}): evalkit {' '.join(argv)}")


def _metrics_with_weights() -> str:
    """psnr, ssim, ms_ssim, plus the learned metrics whose weights are installed."""
    from evalkit.errors import WeightsError
    from evalkit.metrics import get_spec, list_metrics
    from evalkit.weights import resolve

    names = ["psnr", "ssim", "ms_ssim"]
    for spec in list_metrics("pair"):
        if spec.name in names or not spec.needs_weights:
            continue
        try:
            for w in get_spec(spec.name).needs_weights:
                resolve(w)
        except WeightsError:
            continue
        names.append(spec.name)
    return ",".join(names)


def run_demo(out: str | Path) -> Path:
    """Run every step into ``out``; returns ``out``."""
    from baselines.examples import write_example_references

    out = Path(out)
    refs, runs = out / "refs", out / "runs"
    write_example_references(refs)
    todo = [c for c in SWEEP_CODECS if not (runs / c).exists()]
    if todo:
        _run(["baseline", "--refs", str(refs), "--runs", str(runs), "--codec", ",".join(todo)])
    target = runs / MATCH_TARGET
    matched_name = f"match-{MATCH_TARGET.replace('/', '-')}"
    todo = [c for c in MATCHED_CODECS if not (runs / c / matched_name).exists()]
    if todo:
        _run(["baseline", "--refs", str(refs), "--runs", str(runs), "--codec", ",".join(todo),
              "--match", str(target)])
    results = out / "results.csv"
    metrics = _metrics_with_weights()
    _run(["evaluate", "--refs", str(refs), "--runs", str(runs), "--metrics", metrics,
          "--out", str(results), "--cache", str(out / "evaluate-cache.sqlite")])
    _run(["rd", str(results), "--metric", "psnr", "--metric", "ms_ssim", "--ms-ssim-db",
          "--codecs", ",".join(SWEEP_CODECS), "--out", str(out / "rd.png"),
          "--format", "png", "--format", "pdf", "--title", "scikit-image photos (4 images)"])
    for fmt, ext in (("markdown", "md"), ("latex", "tex")):
        _run(["bd", str(results), "--anchor", ANCHOR, "--metric", "psnr", "--metric", "ms_ssim",
              "--format", fmt, "--out", str(out / f"bd.{ext}")])
        selected = [MATCH_TARGET] + [f"{c}/{matched_name}" for c in MATCHED_CODECS]
        _run(["table", str(results), "--codecs", ",".join(selected), "--format", fmt,
              "--out", str(out / f"table.{ext}")])
    _run(["ratecontrol", str(results), "--codec", ANCHOR, "--budget-bpp", "0.5",
          "--maximize", "psnr_agg", "--out", str(out / "ratecontrol.csv")])
    print(f"\nDemo outputs are in {out}/: results.csv, results.summary.csv, rd.png/pdf, "
          "bd.md/tex, table.md/tex, ratecontrol.csv (each with a .json sidecar where relevant).")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evalkit.demo", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="reports/demo", help="output folder (default reports/demo)")
    args = parser.parse_args(argv)
    run_demo(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
