"""The README's main job on bundled example data: ``python -m evalkit.demo --out demo-output``.

Runs the whole researcher workflow offline on real photographs that scikit-image ships:

1. references  -> ``OUT/refs/``                 (4 scikit-image photos)
2. baselines   -> ``OUT/runs/<codec>/q*/``      (quality sweeps, `evalkit baseline`)
3. matched     -> ``OUT/runs-matched/<codec>/match-jpeg-q50/`` (bpp-matched to JPEG q50,
                  kept apart from the sweeps so they don't become extra points on RD curves)
4. evaluate    -> ``OUT/results.csv`` + ``OUT/results.summary.csv`` (sweeps, + JSON sidecars)
                  and ``OUT/matched.csv`` (+ summary) for the matched encodes
5. rd          -> ``OUT/rd.png``, ``OUT/rd.pdf``
6. bd          -> ``OUT/bd.md``, ``OUT/bd.tex``   (BD-rate against JPEG)
7. table       -> ``OUT/table.md``, ``OUT/table.tex`` (per-image paper table, matched encodes)
8. ratecontrol -> ``OUT/ratecontrol.csv``        (best JPEG setting per image at 0.5 bpp)
9. table --per-method -> ``OUT/clic-table.md``, ``OUT/clic-table.tex`` (CLIC 2019 Table 1:
                  PSNR, MS-SSIM, bytes, bpp, total decoding time of the matched encodes)
10. compare    -> ``OUT/compare.png``, ``OUT/compare.pdf`` (per-image paired comparison of a
                  matched codec against JPEG q50, Wilcoxon test in the caption)
11. crops      -> ``OUT/crops.png``, ``OUT/crops.pdf``, ``OUT/crops.html`` (detail crops of the
                  two regions where the matched encodes differ most; HTML zoom/pan viewer)

``OUT`` defaults to ``demo-output`` in the current folder (``make demo`` runs it at the top of
the repository, where it is git-ignored); a folder inside one of the source packages is refused.

Codecs this install cannot run (``evalkit baseline --list-codecs``) are left out.

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
MATCH_TARGET = ("jpeg", "50")


def _available(codecs: tuple[str, ...]) -> list[str]:
    from baselines.codecs import get_codec

    return [c for c in codecs if get_codec(c).unavailable_reason() is None]


def _run(argv: list[str]) -> None:
    print("\n$ evalkit " + " ".join(shlex.quote(a) for a in argv), flush=True)
    rc = evalkit_main(argv)
    if rc != 0:
        raise SystemExit(f"demo step failed (exit {rc}): evalkit {' '.join(argv)}")


#: Learned metrics the demo adds when their weights are installed (PIM is left out: at about
#: 10 s per pair on 2 CPU cores it would turn minutes into an hour; ask for it explicitly).
OPTIONAL_METRICS = ("lpips", "dists", "fid", "kid")


def _metrics_with_weights() -> str:
    """psnr, ssim, ms_ssim, plus the optional learned metrics whose weights are installed."""
    from evalkit.errors import WeightsError
    from evalkit.metrics import get_spec
    from evalkit.weights import resolve

    names = ["psnr", "ssim", "ms_ssim"]
    for name in OPTIONAL_METRICS:
        try:
            for w in get_spec(name).needs_weights:
                resolve(w)
        except WeightsError:
            continue
        names.append(name)
    return ",".join(names)


#: Default output folder (relative to the current folder).
DEFAULT_OUT = "demo-output"
#: Source packages the demo must not write into.
SOURCE_PACKAGES = ("evalkit", "baselines", "study_app", "reports")


def check_out_dir(out: str | Path) -> Path:
    """``out`` unless it lies inside a source package (generated output never goes there).

    Raises:
        LayoutError: ``out`` is inside ``evalkit/``, ``baselines/``, ``study_app/`` or ``reports/``.
    """
    import importlib

    from evalkit.errors import LayoutError

    where = Path(out).resolve()
    for name in SOURCE_PACKAGES:
        pkg = Path(importlib.import_module(name).__file__).resolve().parent
        if where == pkg or pkg in where.parents:
            raise LayoutError(f"demo output folder must be outside the source packages, got "
                              f"{out} (inside {name}/); use e.g. --out {DEFAULT_OUT}")
    return Path(out)


def run_demo(out: str | Path = DEFAULT_OUT) -> Path:
    """Run every step into ``out``; returns ``out``."""
    from baselines.examples import write_example_references

    out = check_out_dir(out)
    refs, runs, matched_runs = out / "refs", out / "runs", out / "runs-matched"
    sweep_codecs, matched_codecs = _available(SWEEP_CODECS), _available(MATCHED_CODECS)
    if ANCHOR not in sweep_codecs:
        raise SystemExit(f"the demo needs the {ANCHOR} codec, which this install cannot run")
    write_example_references(refs)
    todo = [c for c in sweep_codecs if not (runs / c).exists()]
    if todo:
        _run(["baseline", "--refs", str(refs), "--runs", str(runs), "--codec", ",".join(todo)])
    codec, quality = MATCH_TARGET
    target = f"{codec}/q{quality}"
    matched_name = f"match-{codec}-q{quality}"
    if not (matched_runs / codec).exists():  # the target itself, for the side-by-side table
        _run(["baseline", "--refs", str(refs), "--runs", str(matched_runs), "--codec", codec,
              "--quality", quality])
    todo = [c for c in matched_codecs if not (matched_runs / c / matched_name).exists()]
    if todo:
        _run(["baseline", "--refs", str(refs), "--runs", str(matched_runs), "--codec",
              ",".join(todo), "--match", str(runs / target), "--setting", matched_name])
    metrics = _metrics_with_weights()
    cache = str(out / "evaluate-cache.sqlite")
    results, matched = out / "results.csv", out / "matched.csv"
    _run(["evaluate", "--refs", str(refs), "--runs", str(runs), "--metrics", metrics,
          "--out", str(results), "--cache", cache])
    _run(["evaluate", "--refs", str(refs), "--runs", str(matched_runs), "--metrics", metrics,
          "--out", str(matched), "--cache", cache])
    _run(["rd", str(results), "--metric", "psnr", "--metric", "ms_ssim", "--ms-ssim-db",
          "--codecs", ",".join(sweep_codecs), "--out", str(out / "rd.png"),
          "--format", "png", "--format", "pdf", "--title", "scikit-image photos (4 images)"])
    selected = [target] + [f"{c}/{matched_name}" for c in matched_codecs]
    for fmt, ext in (("markdown", "md"), ("latex", "tex")):
        _run(["bd", str(results), "--anchor", ANCHOR, "--metric", "psnr", "--metric", "ms_ssim",
              "--format", fmt, "--out", str(out / f"bd.{ext}")])
        _run(["table", str(matched), "--codecs", ",".join(selected), "--format", fmt,
              "--out", str(out / f"table.{ext}")])
    _run(["ratecontrol", str(results), "--codec", ANCHOR, "--budget-bpp", "0.5",
          "--maximize", "psnr_agg", "--out", str(out / "ratecontrol.csv")])
    _figures(out, refs, matched_runs, matched, selected, metrics)
    print(f"\nDemo outputs are in {out}/: results.csv, results.summary.csv, matched.csv, rd.png/pdf, "
          "bd.md/tex, table.md/tex, ratecontrol.csv, clic-table.md/tex, compare.png/pdf, "
          "crops.png/pdf/html (each with a .json sidecar where relevant).")
    return out


def _figures(out: Path, refs: Path, matched_runs: Path, matched: Path, selected: list[str],
             metrics: str) -> None:
    """Steps 9-11: the CLIC 2019 per-method table with decoding times, a paired per-image
    comparison and detail crops, all on the bpp-matched encodes."""
    for fmt, ext in (("markdown", "md"), ("latex", "tex")):
        _run(["table", str(matched), "--per-method", "--codecs", ",".join(selected),
              "--format", fmt, "--out", str(out / f"clic-table.{ext}")])
    metric = "lpips" if "lpips" in metrics.split(",") else "psnr"
    if len(selected) > 1:
        _run(["compare", str(matched), "--metric", metric, "--a", selected[1], "--b", selected[0],
              "--out", str(out / "compare.png"), "--format", "png", "--format", "pdf"])
    _run(["crops", "--refs", str(refs), "--runs", str(matched_runs), "--image", "coffee",
          "--methods", ",".join(selected), "--auto", "2", "--size", "48", "--scale", "3",
          "--results", str(matched), "--out", str(out / "crops.png"),
          "--format", "png", "--format", "pdf", "--format", "html"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evalkit.demo", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=DEFAULT_OUT,
                        help=f"output folder outside the source packages (default {DEFAULT_OUT})")
    args = parser.parse_args(argv)
    from evalkit.errors import LayoutError

    try:
        check_out_dir(args.out)
    except LayoutError as exc:
        print(f"evalkit.demo: error: {exc}", file=sys.stderr)
        return 1
    run_demo(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
