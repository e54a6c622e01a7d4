"""``evalkit compare results.csv --metric lpips --a A --b B``: two methods, image by image."""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "compare", help="per-image paired comparison of two methods on one metric (+ Wilcoxon)",
        description="Compare two methods (codec/setting) on one metric over the images both "
                    "have: sorted paired bars or a scatter with the diagonal, each image "
                    "labelled; the caption gives how many images each wins (direction from the "
                    "metric registry), the mean difference and a paired Wilcoxon signed-rank "
                    "test. Images only one method has are dropped with a warning naming them.",
        epilog="example: evalkit compare results.csv --metric lpips --a hific/mi --b anf/low "
               "--out lpips.pdf")
    p.add_argument("results", help="results table (.csv/.parquet) from `evalkit evaluate`")
    p.add_argument("--metric", required=True, help="metric column (psnr, ms_ssim, lpips, ...)")
    p.add_argument("--a", required=True, help="first method, codec/setting")
    p.add_argument("--b", required=True, help="second method, codec/setting")
    p.add_argument("--kind", choices=("bars", "scatter"), default="bars",
                   help="paired bars sorted by a - b (default) or a scatter of a against b")
    p.add_argument("--out", default=None, help="figure file (.pdf, .png or .svg)")
    p.add_argument("--format", action="append", default=None, dest="formats",
                   choices=("pdf", "png", "svg"), help="write these formats (repeatable)")
    p.add_argument("--csv", default=None, help="also write the per-image table (image,a,b,diff)")
    p.add_argument("--title", default=None, help="figure title")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import sys

    from evalkit.evaluate.results import read_results, write_table
    from evalkit.figures.paired import paired_stats, write_paired_figure
    from evalkit.provenance import file_sha256, provenance, write_sidecar

    if args.formats and not args.out:
        from evalkit.errors import FigureError

        raise FigureError("--format needs --out FILE (the formats replace its suffix)")
    results = read_results(args.results)
    stats, df = paired_stats(results, args.metric, args.a, args.b)
    for who, names in stats.dropped.items():
        what = "images without a value" if who == "no value" else f"images only {who} has"
        print(f"warning: left out {len(names)} {what}: {', '.join(names)}", file=sys.stderr)
    print(stats.caption())
    settings = {k: v for k, v in vars(args).items() if k != "func"}
    record = provenance(settings, inputs={str(args.results): file_sha256(args.results)},
                        stats={k: v for k, v in stats.__dict__.items()})
    written = []
    if args.out:
        written += write_paired_figure(stats, df, args.out, kind=args.kind, title=args.title,
                                       formats=args.formats)
    if args.csv:
        out = df.rename(columns={"a": args.a, "b": args.b})
        written.append(str(write_table(out, args.csv)))
    for path in written:
        write_sidecar(path, record)
        print(f"wrote {path}")
    return 0
