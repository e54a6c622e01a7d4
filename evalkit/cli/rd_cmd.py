"""``evalkit rd results.csv --metric psnr --out rd.png``: RD curves, one line per codec."""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "rd", help="plot RD curves (one per codec) from a results table",
        description="Plot rate-distortion curves from a results (or summary) table: one curve "
                    "per codec, settings sorted by bpp, one panel per --metric. Optionally "
                    "overlay published curves (CompressAI JSON files or published names) and "
                    "export each codec's curve as CompressAI JSON.")
    p.add_argument("results", help="results table (.csv/.parquet) from `evalkit evaluate`")
    p.add_argument("--metric", action="append", default=None,
                   help="metric column to plot (repeatable; default psnr)")
    p.add_argument("--out", default=None, help="figure file (.png, .pdf or .svg)")
    p.add_argument("--format", action="append", default=None, dest="formats",
                   help="also/instead write these formats, e.g. --format png --format pdf")
    p.add_argument("--reference", action="append", default=[],
                   help="published curve to overlay: a CompressAI JSON file or a name such as "
                        "compressai-kodak/jpeg (repeatable)")
    p.add_argument("--codecs", default="", help="codecs to draw, comma-separated, legend order")
    p.add_argument("--ms-ssim-db", action="store_true", help="MS-SSIM as -10*log10(1-x) dB")
    p.add_argument("--pooling", choices=("mean", "clic"), default="mean",
                   help="points: mean of per-image values (CompressAI) or CLIC aggregates")
    p.add_argument("--title", default=None, help="figure title")
    p.add_argument("--export-compressai", default=None, metavar="DIR",
                   help="write <codec>.json (CompressAI format) for every codec into DIR")
    p.set_defaults(func=run)


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
    table = read_table(args.results)
    metrics = args.metric or ["psnr"]
    codecs = comma_list(args.codecs)
    settings = {"results": str(args.results), "metrics": metrics, "references": args.reference,
                "codecs": codecs, "ms_ssim_db": args.ms_ssim_db, "pooling": args.pooling}
    inputs = {str(args.results): file_sha256(args.results)}
    if args.out:
        with about(args.results), warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            paths = plot_rd(table, metrics, args.out, references=args.reference,
                            ms_ssim_db=args.ms_ssim_db, pooling=args.pooling, codecs=codecs,
                            title=args.title, formats=args.formats)
        for w in caught:
            if issubclass(w.category, UserWarning):
                print(f"warning: {args.results}: {w.message}", file=sys.stderr)
        for path in paths:
            write_sidecar(path, provenance(settings, inputs=inputs))
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
