"""``evalkit bd results.csv --anchor CODEC``: BD-rate / BD-metric table against an anchor."""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "bd", help="BD-rate and BD-metric of every codec against an anchor codec",
        description="Bjontegaard deltas (bjontegaard package) of every codec against --anchor. "
                    "Negative BD-rate = fewer bits at equal quality, for every metric "
                    "(lower-is-better metrics are negated internally). BD-metric is test minus "
                    "anchor in the metric's units. Warns when curves overlap too little.")
    p.add_argument("results", help="results or summary table (.csv/.parquet)")
    p.add_argument("--anchor", required=True, help="reference codec")
    p.add_argument("--metric", action="append", default=None,
                   help="quality metric (repeatable; default psnr)")
    p.add_argument("--method", choices=("pchip", "akima", "cubic"), default="pchip",
                   help="interpolation (default pchip)")
    p.add_argument("--pooling", choices=("mean", "clic"), default="mean",
                   help="points: mean of per-image values or CLIC aggregates")
    p.add_argument("--ms-ssim-db", action="store_true", help="compare MS-SSIM in dB")
    p.add_argument("--min-overlap", type=float, default=0.5,
                   help="warn below this overlap fraction (default 0.5)")
    p.add_argument("--format", choices=("markdown", "latex", "csv"), default="markdown")
    p.add_argument("--out", default=None, help="write the table here instead of printing it")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import sys
    import warnings

    from evalkit.cli.faults import about
    from evalkit.cli.output import emit_text
    from evalkit.evaluate.results import read_table
    from evalkit.rd import bd_table, format_bd_table

    table = read_table(args.results)
    metrics = args.metric or ["psnr"]
    with about(args.results), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        df = bd_table(table, args.anchor, metrics, method=args.method, pooling=args.pooling,
                      ms_ssim_db=args.ms_ssim_db, min_overlap=args.min_overlap)
        text = format_bd_table(df, args.format)
    for w in caught:
        if issubclass(w.category, UserWarning):
            print(f"warning: {w.message}", file=sys.stderr)
    emit_text(text, args)
    return 0
