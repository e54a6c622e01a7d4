"""``evalkit baseline`` (sweeps, bpp-matched encodes, HiFiC runner) and ``evalkit import-run``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from evalkit.commalist import comma_list
from evalkit.errors import CodecError

HIFIC_PREFIX = "hific-"

BASELINE_EPILOG = """examples:
  evalkit baseline --refs refs --runs runs --codec jpeg,webp,avif,jxl,jpeg2000,heic
  evalkit baseline --refs refs --runs runs --codec jpeg --quality 10,30,50,70,90
  evalkit baseline --refs refs --runs runs --codec jpeg,webp,avif,jxl --match runs/hific/mi
  evalkit baseline --refs refs --runs runs --codec avif --match targets.csv   # image,bpp
  evalkit baseline --refs refs --runs runs --codec hific-mi --tfci models/tfci.py
  evalkit baseline --list-codecs
"""

IMPORT_EPILOG = """examples:
  evalkit import-run --runs runs --codec hific --setting mi --recon out/hific --manifest bpp.csv
  evalkit import-run --runs runs --codec mycodec --setting l0.01 --recon out/png \
      --bitstreams out/bin --refs refs
"""


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "baseline", help="encode references with traditional codecs (sweeps or bpp-matched)",
        description="Encode every reference image with traditional codecs into the run layout "
                    "runs/<codec>/<setting>/ (bitstream + decoded PNG + run.json): a quality "
                    "sweep by default, or bpp-matched to another run with --match.",
        epilog=BASELINE_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--refs", help="folder of original images")
    p.add_argument("--runs", help="root of the run layout to write into")
    p.add_argument("--codec", default="jpeg,jpeg444,webp,jpeg2000,avif,jxl,heic",
                   help="comma-separated codecs (default: all traditional ones); hific-lo, "
                        "hific-mi, hific-hi run tfci.py (see --tfci)")
    p.add_argument("--quality", help="comma-separated rate parameters for a sweep (quality, or "
                                     "target bpp for jpeg2000); default: each codec's sweep")
    p.add_argument("--match", metavar="RUN_OR_CSV",
                   help="bpp-match instead of sweeping: a run folder RUNS/<codec>/<setting> or a "
                        "CSV with columns image,bpp (or image,bytes)")
    p.add_argument("--setting", help="setting folder name of a matched run "
                                     "(default match-<codec>-<setting> or match-<csv stem>)")
    p.add_argument("--search-quality", help="with --match: only search these comma-separated values")
    p.add_argument("--workers", type=int, help="parallel workers (default: one per core)")
    p.add_argument("--executor", choices=("auto", "thread", "process"), default="auto",
                   help="parallel workers are threads or processes; auto (default) uses threads "
                        "unless a codec holds the GIL (jpeg2000)")
    p.add_argument("--overwrite", action="store_true", help="replace existing setting folders")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--tfci", help="path of tensorflow-compression's models/tfci.py (hific-*)")
    p.add_argument("--metagraph-dir", help="folder holding hific-<lo|mi|hi>.metagraph (hific-*)")
    p.add_argument("--strict", action="store_true",
                   help="refuse originals stored in a lossy format (JPEG, lossy WebP, AVIF, HEIF) "
                        "instead of warning about them")
    p.add_argument("--list-codecs", action="store_true", help="list codecs, availability, sweeps")
    p.add_argument("--list-references", action="store_true",
                   help="list the shipped published reference RD points")
    p.set_defaults(func=run)

    q = subparsers.add_parser(
        "import-run", help="copy reconstructions made elsewhere (e.g. HiFiC) into the run layout",
        description="Copy reconstructions with their rates (bitstreams or a manifest) into "
                    "runs/<codec>/<setting>/, validated first and written atomically.",
        epilog=IMPORT_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    q.add_argument("--runs", required=True, help="root of the run layout")
    q.add_argument("--codec", required=True, help="codec folder name, e.g. hific")
    q.add_argument("--setting", required=True, help="setting folder name, e.g. mi")
    q.add_argument("--recon", required=True, help="folder of reconstructions (one image per name)")
    src = q.add_mutually_exclusive_group(required=True)
    src.add_argument("--bitstreams", help="folder of bitstreams named like the reconstructions")
    src.add_argument("--manifest", help="CSV with columns image and bytes or bpp")
    q.add_argument("--refs", help="originals: check names and sizes before importing")
    q.add_argument("--timings", help="CSV with image and encode_s/decode_s in seconds (default: "
                                     "those columns of --manifest); evaluate carries them")
    q.add_argument("--strict", action="store_true",
                   help="with --refs: refuse originals stored in a lossy format instead of warning")
    q.add_argument("--overwrite", action="store_true", help="replace an existing setting folder")
    q.set_defaults(func=run_import)


def _numbers(text: str, what: str) -> list[float]:
    out = []
    for part in comma_list(text) or ():
        try:
            out.append(float(part))
        except ValueError:
            raise CodecError(f"{what} must be comma-separated numbers, got {part!r}") from None
    if not out:
        raise CodecError(f"{what} must list at least one number, got {text!r}")
    return out


def _check_references(refs_dir: str, strict: bool) -> None:
    """Warn about (or, with --strict, refuse) originals stored in a lossy format."""
    from evalkit.images import check_references
    from evalkit.layout import list_references

    for w in check_references(list_references(refs_dir).values(), strict=strict):
        print(f"warning: {w}", file=sys.stderr)


def _list_codecs() -> int:
    from baselines.codecs import CODECS

    for name, cls in CODECS.items():
        c = cls()
        reason = c.unavailable_reason()
        sweep = ",".join(f"{v:g}" for v in c.default_sweep)
        print(f"{name:9s} {'ok' if reason is None else 'UNAVAILABLE: ' + reason}")
        print(f"          {c.description}; {c.value_name} sweep {sweep}")
    return 0


def run(args: argparse.Namespace) -> int:
    if args.list_codecs:
        return _list_codecs()
    if args.list_references:
        from baselines.published import list_references

        print("\n".join(list_references()))
        return 0
    if not args.refs or not args.runs:
        raise CodecError("--refs and --runs are required (unless --list-codecs/--list-references)")
    _check_references(args.refs, args.strict)
    names = comma_list(args.codec) or []
    hific = [n for n in names if n.startswith(HIFIC_PREFIX)]
    classic = [n for n in names if not n.startswith(HIFIC_PREFIX)]
    progress = not args.no_progress
    if hific and (args.match or args.quality):
        raise CodecError("hific-* codecs take no --quality or --match (their rate is the model's)")
    if args.match:
        if args.quality:
            raise CodecError("--quality makes a sweep; with --match use --search-quality")
        _run_matched(args, classic, progress)
    elif classic:
        from baselines.sweep import run_sweep

        if args.setting or args.search_quality:
            raise CodecError("--setting and --search-quality only apply with --match")
        qualities = _numbers(args.quality, "--quality") if args.quality else None
        table = run_sweep(args.refs, args.runs, classic, qualities, workers=args.workers,
                          executor=args.executor, progress=progress, overwrite=args.overwrite)
        summary = table.groupby(["codec", "setting", "run_dir"], sort=False).agg(
            images=("image", "count"), mean_bpp=("bpp", "mean"),
            encode_s=("encode_seconds", "mean")).reset_index()
        print(summary.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    for name in hific:
        from baselines.hific import run_hific

        table = run_hific(args.refs, args.runs, name[len(HIFIC_PREFIX):], tfci=args.tfci,
                          metagraph_dir=args.metagraph_dir, overwrite=args.overwrite,
                          progress=progress)
        print(f"hific/{name[len(HIFIC_PREFIX):]}: {len(table)} images, mean bpp "
              f"{table['bpp'].mean():.4f} -> {table['run_dir'].iloc[0]}")
    return 0


def _run_matched(args: argparse.Namespace, codecs: list[str], progress: bool) -> None:
    from baselines.matched import run_matched

    if not codecs:
        raise CodecError("--match needs at least one traditional codec in --codec")
    target = Path(args.match)
    kind = {"manifest": target} if target.is_file() else {"match": target}
    search = _numbers(args.search_quality, "--search-quality") if args.search_quality else None
    table = run_matched(args.refs, args.runs, codecs, setting=args.setting, qualities=search,
                        workers=args.workers, executor=args.executor, progress=progress,
                        overwrite=args.overwrite, **kind)
    ok = table[table["status"] == "matched"]
    print(ok.loc[:, ["codec", "setting", "image", "target_bpp", "achieved_bpp", "value"]]
          .to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    bad = table[table["status"] != "matched"]
    for row in bad.itertuples():
        print(f"warning: {row.codec} cannot reach {row.image}'s target {row.target_bpp:.4f} bpp: "
              f"its lowest setting gives {row.lowest_bpp:.4f} bpp (image left out of the run)",
              file=sys.stderr)
    for d in sorted(set(ok["run_dir"].dropna())):
        print(f"wrote {d}")


def run_import(args: argparse.Namespace) -> int:
    from baselines.import_run import import_run

    if args.refs:
        _check_references(args.refs, args.strict)
    table = import_run(args.recon, args.runs, args.codec, args.setting, bitstreams_dir=args.bitstreams,
                       manifest=args.manifest, refs_dir=args.refs, overwrite=args.overwrite,
                       timings=args.timings)
    print(f"imported {len(table)} reconstructions into {table['run_dir'].iloc[0]} "
          f"(mean bpp {table['bpp'].mean():.4f}, rates from {table['rate_source'].iloc[0]})")
    return 0
