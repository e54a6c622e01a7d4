"""``evalkit table results.csv``: the per-image paper table (best per image in bold)."""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "table", help="per-image paper table: image x codec setting, bpp + metrics",
        description="Print the per-image table papers show (rows image x codec setting, columns "
                    "bpp and metrics), best metric value per image in bold; LaTeX uses booktabs.")
    p.add_argument("results", help="results table (.csv/.parquet) from `evalkit evaluate`")
    p.add_argument("--images", default="", help="images to include, comma-separated, in order")
    p.add_argument("--codecs", default="",
                   help="codec or codec/setting entries to include, comma-separated, rows in "
                        "this order")
    p.add_argument("--metrics", default="", help="metric columns (default: all in the table); "
                   "with --per-method: summary columns (default: psnr_agg,ms_ssim_agg,bytes,"
                   "bpp_agg,decode_s_total, those the results have)")
    p.add_argument("--per-method", action="store_true",
                   help="one row per codec/setting with dataset-level columns over the images "
                        "all listed methods share (CLIC 2019 Table 1: PSNR, MS-SSIM, bytes, bpp, "
                        "decoding time)")
    p.add_argument("--columns", default="",
                   help="extra descriptive columns of the results table to show after the "
                        "setting, e.g. model,weights_verified (per-image table)")
    p.add_argument("--format", choices=("markdown", "latex", "csv"), default="markdown")
    p.add_argument("--out", default=None, help="write the table here instead of printing it")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from evalkit.cli.arguments import comma_list
    from evalkit.cli.faults import about
    from evalkit.cli.output import emit_text
    from evalkit.evaluate.results import read_table
    from evalkit.paper_table import paper_table

    results = read_table(args.results)  # paper_table checks the columns it needs (bpp, not bytes)
    with about(args.results):
        if args.per_method:
            return _run_per_method(results, args)
        text = paper_table(results, images=comma_list(args.images),
                           codecs=comma_list(args.codecs), metrics=comma_list(args.metrics),
                           fmt=args.format, columns=comma_list(args.columns))
    from evalkit.evaluate.annotations import STAND_IN_NOTE, stand_in_used

    if stand_in_used(results):  # recorded in the sidecar's settings too
        args.note = f"metric values {STAND_IN_NOTE}"
    emit_text(text, args)
    return 0


def _run_per_method(results, args: argparse.Namespace) -> int:
    import sys

    from evalkit.cli.arguments import comma_list
    from evalkit.cli.output import emit_text
    from evalkit.errors import ResultsError
    from evalkit.method_table import method_table

    if comma_list(args.images):
        raise ResultsError("--images does not apply to --per-method (it uses the images every "
                           "listed method has)")
    text, table = method_table(results, codecs=comma_list(args.codecs),
                               columns=comma_list(args.metrics), fmt=args.format)
    for method, names in table.dropped.items():
        print(f"warning: {method}: left out {len(names)} image(s) other methods lack: "
              f"{', '.join(names)}", file=sys.stderr)
    print(f"over {len(table.images)} image(s) every method has", file=sys.stderr)
    emit_text(text, args)
    return 0
