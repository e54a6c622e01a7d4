"""``evalkit crops``: detail crops of one image, original and each method, never smoothed."""

from __future__ import annotations

import argparse

FORMATS = ("pdf", "png", "svg", "html")


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "crops", help="detail crops: the same region of the original and of each method, enlarged",
        description="Figure of one image: the full original with the region(s) outlined, then the "
                    "region of the original and of each method at native pixels enlarged by an "
                    "integer factor with nearest neighbour (never smoothed), each titled with "
                    "its bpp and metrics. --auto K picks the K regions where the methods differ "
                    "most. --format html writes a self-contained page with a synchronised "
                    "zoom/pan viewer.",
        epilog="example: evalkit crops --refs refs --runs runs --image kodim23 "
               "--methods hific/mi,jpeg/q50 --auto 2 --results results.csv --out crops.pdf")
    p.add_argument("--refs", required=True, help="folder of originals")
    p.add_argument("--runs", required=True, help="folder of <codec>/<setting>/ reconstructions")
    p.add_argument("--image", required=True, help="image name (reference file stem)")
    p.add_argument("--methods", required=True, help="codec/setting list, comma-separated, in order")
    region = p.add_mutually_exclusive_group(required=True)
    region.add_argument("--box", action="append", metavar="X,Y,W,H",
                        help="region in pixels of the original (repeatable; same size each)")
    region.add_argument("--auto", type=int, metavar="K",
                        help="pick the K non-overlapping regions where the methods differ most")
    p.add_argument("--size", default=None, metavar="WxH",
                   help="with --auto: region size, N or WxH (default: a quarter of the short "
                        "side, at most 128)")
    p.add_argument("--results", default=None,
                   help="results table for the titles (default: bpp from the layout, metrics "
                        "computed on the full pair)")
    p.add_argument("--metrics", default=None,
                   help="metrics in the titles, comma-separated (default: psnr, + lpips when "
                        "the results have it; '' for bpp only)")
    p.add_argument("--scale", type=int, default=2, help="integer enlargement of the crops (default 2)")
    p.add_argument("--width-in", type=float, default=7.0,
                   help="figure width in inches (default 7: two-column text width; 3.4 for one)")
    p.add_argument("--out", required=True, help="output file (.pdf, .png, .svg or .html)")
    p.add_argument("--format", action="append", default=None, dest="formats", choices=FORMATS,
                   help="write these formats (repeatable) instead of the --out suffix's")
    p.add_argument("--title", default=None, help="page title (html)")
    p.add_argument("--device", default="cpu", help="torch device when metrics are computed")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import sys
    from pathlib import Path

    from evalkit.cli.arguments import comma_list
    from evalkit.errors import FigureError
    from evalkit.figures.crop_regions import parse_box, parse_size
    from evalkit.figures.crops import build_crops, write_crops_figure
    from evalkit.figures.crops_html import write_crops_html
    from evalkit.provenance import file_sha256, provenance, write_sidecar

    out = Path(args.out)
    formats = args.formats or [out.suffix.lower().lstrip(".")]
    bad = [f for f in formats if f not in FORMATS]
    if bad:
        raise FigureError(f"output must be .pdf, .png, .svg or .html, got {args.out!r}")
    if args.width_in is not None and not (0.5 <= args.width_in <= 100):
        raise FigureError(f"--width-in must be between 0.5 and 100 inches, got {args.width_in}")
    if args.scale < 1 or args.scale > 64:
        raise FigureError(f"--scale must be a whole number from 1 to 64, got {args.scale}")
    if args.size and args.auto is None:
        raise FigureError("--size applies to --auto only (a --box gives its own size)")
    results = None
    if args.results:
        from evalkit.evaluate.results import read_results

        results = read_results(args.results)
    metrics = None if args.metrics is None else (comma_list(args.metrics) or [])
    cs = build_crops(args.refs, args.runs, args.image, comma_list(args.methods) or [],
                     boxes=[parse_box(b) for b in args.box] if args.box else None,
                     auto=args.auto, size=parse_size(args.size) if args.size else None,
                     results=results, metrics=metrics, scale=args.scale, device=args.device)
    for i, box in enumerate(cs.boxes, start=1):
        print(f"region {i}: --box {box}")
    written = []
    figure_formats = [f for f in formats if f != "html"]
    if figure_formats:
        written += write_crops_figure(cs, out, width_in=args.width_in,
                                      formats=figure_formats if args.formats else None)
    if "html" in formats:
        written.append(write_crops_html(cs, out.with_suffix(".html") if args.formats else out,
                                        title=args.title))
    extra = {}
    if results is not None:
        from evalkit.evaluate.annotations import STAND_IN_NOTE, stand_in_used

        if stand_in_used(results):
            extra["note"] = f"metric values {STAND_IN_NOTE}"
            print(f"warning: the titles' {extra['note']}", file=sys.stderr)
    settings = {k: v for k, v in vars(args).items() if k != "func"}
    inputs = {p: file_sha256(p) for p in [cs.source["reference"],
                                           *cs.source["reconstructions"].values()]}
    if args.results:
        inputs[str(args.results)] = file_sha256(args.results)
    for path in written:
        write_sidecar(path, provenance(settings, inputs=inputs, boxes=[str(b) for b in cs.boxes],
                                       crops=cs.source, **extra))
        print(f"wrote {path}")
    return 0
