"""``evalkit bd results.csv --anchor CODEC``: BD-rate / BD-metric table against an anchor."""

from __future__ import annotations

import argparse

EPILOG = """examples:
  evalkit bd results.csv --anchor jpeg --metric psnr --metric ms_ssim --format latex
  evalkit bd results.csv --anchor compressai-kodak/vtm --codecs mycodec,jpeg-compressai
  evalkit bd results.csv --anchor jpeg-compressai --reference compressai-kodak/jpeg
  evalkit bd --anchor compressai-kodak/jpeg --reference compressai-kodak/vtm   # published only
"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "bd", help="BD-rate and BD-metric of every codec against an anchor codec",
        description="Bjontegaard deltas (bjontegaard package) of every codec against --anchor, "
                    "which may be a codec of the results table, a published curve shipped with "
                    "evalkit (`evalkit baseline --list-references`, e.g. compressai-kodak/vtm) "
                    "or a CompressAI JSON file. Negative BD-rate = fewer bits at equal quality, "
                    "for every metric (lower-is-better metrics are negated internally). "
                    "BD-metric is test minus anchor in the metric's units. Table codecs are "
                    "compared over the images all of them have (a warning names what was "
                    "left out). Warns when curves overlap too little.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("results", nargs="?", default=None,
                   help="results or summary table (.csv/.parquet); optional when anchor and "
                        "tests are all published curves")
    p.add_argument("--anchor", required=True,
                   help="reference: a codec of the table, a published curve name or a "
                        "CompressAI JSON path")
    p.add_argument("--codecs", default="",
                   help="test codecs of the table, comma-separated, in this order "
                        "(default: all but the anchor)")
    p.add_argument("--reference", action="append", default=[],
                   help="published curve (name or CompressAI JSON path) to test against the "
                        "anchor too (repeatable)")
    p.add_argument("--metric", action="append", default=None,
                   help="quality metric (repeatable; default psnr)")
    p.add_argument("--method", choices=("pchip", "akima", "cubic"), default="pchip",
                   help="interpolation (default pchip)")
    p.add_argument("--pooling", choices=("mean", "clic"), default="mean",
                   help="points: mean of per-image values (CompressAI, needed with published "
                        "curves) or CLIC aggregates")
    p.add_argument("--ms-ssim-db", action="store_true",
                   help="compare MS-SSIM in dB (-10*log10(1-x)); headers say so")
    p.add_argument("--min-overlap", type=float, default=0.5,
                   help="warn below this overlap fraction (default 0.5)")
    p.add_argument("--format", choices=("markdown", "latex", "csv"), default="markdown")
    p.add_argument("--out", default=None, help="write the table here instead of printing it")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import sys
    import warnings

    from evalkit.cli.arguments import comma_list
    from evalkit.cli.faults import about
    from evalkit.cli.output import emit_text
    from evalkit.evaluate.results import read_table
    from evalkit.rd import bd_table, format_bd_table

    table = read_table(args.results) if args.results else None
    metrics = args.metric or ["psnr"]
    with about(args.results), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        df = bd_table(table, args.anchor, metrics, method=args.method, pooling=args.pooling,
                      ms_ssim_db=args.ms_ssim_db, min_overlap=args.min_overlap,
                      codecs=comma_list(args.codecs), references=args.reference)
        text = format_bd_table(df, args.format)
    for w in caught:
        if issubclass(w.category, UserWarning):
            print(f"warning: {w.message}", file=sys.stderr)
    if args.out and not args.results:  # published curves only: record them as the inputs
        from evalkit.provenance import atomic_write_text, provenance, write_sidecar

        atomic_write_text(args.out, text)
        settings = {k: v for k, v in vars(args).items() if k != "func"}
        write_sidecar(args.out, provenance(settings, inputs={"published": [args.anchor,
                                                                         *args.reference]}))
        print(f"wrote {args.out}")
        return 0
    if df.attrs.get("stand_in_weights"):  # recorded in the sidecar's settings too
        from evalkit.evaluate.annotations import STAND_IN_NOTE

        args.note = f"metric values {STAND_IN_NOTE}"
    emit_text(text, args)
    return 0
