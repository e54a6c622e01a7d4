"""``evalkit rd results.csv --metric psnr --out rd.png``: RD curves, one line per codec."""

from __future__ import annotations

import argparse

EPILOG = """examples:
  evalkit rd results.csv --metric psnr --metric ms_ssim --ms-ssim-db --out rd.pdf \\
      --reference compressai-kodak/jpeg --reference compressai-kodak/compressai-mbt2018-mean_mse
  evalkit rd results.csv --out rd.png --codecs mycodec,jpeg-compressai --xlim 0,1 --log-bpp \\
      --label mycodec="Ours (MSE)" --style mycodec=black,s --style compressai-kodak/vtm=C3,^ \\
      --reference compressai-kodak/vtm
"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "rd", help="plot RD curves (one per codec) from a results table",
        description="Plot rate-distortion curves from a results (or summary) table: one curve "
                    "per codec, settings sorted by bpp, one panel per --metric, over the "
                    "images all drawn codecs have (the legend says how many; a warning names "
                    "what was left out). Optionally overlay published curves (CompressAI JSON "
                    "files or published names, labelled with source and training objective) "
                    "and export each codec's curve as CompressAI JSON.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("results", nargs="?", default=None,
                   help="results table (.csv/.parquet) from `evalkit evaluate` (optional with "
                        "--reference)")
    p.add_argument("--metric", action="append", default=None,
                   help="metric column to plot (repeatable; default psnr)")
    p.add_argument("--out", default=None, help="figure file (.png, .pdf or .svg)")
    p.add_argument("--format", action="append", default=None, dest="formats",
                   help="also/instead write these formats, e.g. --format png --format pdf")
    p.add_argument("--reference", action="append", default=[],
                   help="published curve to overlay: a CompressAI JSON file or a name such as "
                        "compressai-kodak/jpeg (repeatable; `evalkit baseline "
                        "--list-references`)")
    p.add_argument("--codecs", default="", help="codecs to draw, comma-separated, legend order")
    p.add_argument("--label", action="append", default=[], metavar="CODEC=NAME",
                   help="display name of a codec or reference (repeatable)")
    p.add_argument("--style", action="append", default=[], metavar="CODEC=COLOR,MARKER",
                   help="matplotlib colour and/or marker of a codec or reference, e.g. "
                        "mycodec=black,s or compressai-kodak/vtm=C3 (repeatable)")
    p.add_argument("--xlim", default=None, metavar="LO,HI", help="rate axis limits in bpp")
    p.add_argument("--ylim", action="append", default=[], metavar="[METRIC=]LO,HI",
                   help="quality axis limits, for all panels or one metric (repeatable)")
    p.add_argument("--log-bpp", action="store_true", help="logarithmic rate axis")
    p.add_argument("--ms-ssim-db", action="store_true", help="MS-SSIM as -10*log10(1-x) dB")
    p.add_argument("--pooling", choices=("mean", "clic"), default="mean",
                   help="points: mean of per-image values (CompressAI) or CLIC aggregates")
    p.add_argument("--title", default=None, help="figure title")
    p.add_argument("--export-compressai", default=None, metavar="DIR",
                   help="write <codec>.json (CompressAI format) for every codec into DIR")
    p.set_defaults(func=run)


def _pairs(items: list[str], option: str) -> dict[str, str]:
    from evalkit.errors import RDError

    out = {}
    for it in items:
        key, sep, value = it.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise RDError(f"{option} must look like CODEC=VALUE, got {it!r}")
        out[key.strip()] = value.strip()
    return out


def _range(text: str, option: str) -> tuple[float, float]:
    from evalkit.errors import RDError

    parts = text.split(",")
    try:
        lo, hi = (float(p) for p in parts)
    except ValueError:
        raise RDError(f"{option} must be two numbers LO,HI, got {text!r}") from None
    if not lo < hi:
        raise RDError(f"{option} must have LO < HI, got {text!r}")
    return lo, hi


def _ylim(items: list[str]):
    if not items:
        return None
    out: dict = {}
    for it in items:
        key, sep, rest = it.partition("=")
        if sep:
            out[key.strip()] = _range(rest, "--ylim")
        else:
            out[None] = _range(it, "--ylim")
    return out[None] if list(out) == [None] else out


def run(args: argparse.Namespace) -> int:
    import sys
    import warnings
    from pathlib import Path

    from evalkit.cli.arguments import comma_list
    from evalkit.cli.faults import about
    from evalkit.errors import RDError
    from evalkit.evaluate.results import read_table
    from evalkit.provenance import file_sha256, provenance, write_sidecar
    from evalkit.rd import plot_rd, rd_points, write_compressai_json

    if not args.out and not args.export_compressai:
        raise RDError("rd needs --out FILE (figure) and/or --export-compressai DIR")
    if args.export_compressai and not args.results:
        raise RDError("--export-compressai needs a results table")
    table = read_table(args.results) if args.results else None
    metrics = args.metric or ["psnr"]
    codecs = comma_list(args.codecs)
    labels = _pairs(args.label, "--label")
    styles = _pairs(args.style, "--style")
    xlim = _range(args.xlim, "--xlim") if args.xlim else None
    ylim = _ylim(args.ylim)
    settings = {"results": args.results, "metrics": metrics, "references": args.reference,
                "codecs": codecs, "ms_ssim_db": args.ms_ssim_db, "pooling": args.pooling,
                "labels": labels, "styles": styles, "xlim": xlim, "ylim": args.ylim,
                "log_bpp": args.log_bpp}
    inputs = {str(args.results): file_sha256(args.results)} if args.results else {}
    inputs.update({str(r): file_sha256(r) for r in args.reference if Path(r).is_file()})
    if args.out:
        with about(args.results), warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            paths = plot_rd(table, metrics, args.out, references=args.reference,
                            ms_ssim_db=args.ms_ssim_db, pooling=args.pooling, codecs=codecs,
                            title=args.title, formats=args.formats, labels=labels,
                            styles=styles, xlim=xlim, ylim=ylim, log_bpp=args.log_bpp)
        caught = [w for w in caught if issubclass(w.category, UserWarning)]
        for w in caught:
            print(f"warning: {args.results or 'rd'}: {w.message}", file=sys.stderr)
        for path in paths:
            write_sidecar(path, provenance(settings, inputs=inputs,
                                           warnings=[str(w.message) for w in caught]))
            print(f"wrote {path}")
    if args.export_compressai:
        with about(args.results):
            names = codecs or sorted(set(rd_points(table, metrics[0])["codec"]))
        for codec in names:
            out = Path(args.export_compressai) / f"{codec}.json"
            with about(args.results):
                write_compressai_json(table, codec, out, pooling=args.pooling,
                                      description=f"evalkit results from {args.results}")
            print(f"wrote {out}")
    return 0
