"""``evalkit metrics REF DIST``: full-reference metrics of one image pair.

``--json`` prints one JSON object ``{metric: value}``.  JSON has no infinity, so a non-finite
value (PSNR of identical images) is written as the *string* ``"inf"`` (``"-inf"``, ``"nan"``):
the output stays valid JSON and ``float(value)`` reads it back in Python.
"""

from __future__ import annotations

import argparse
import json
import math


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("metrics", help="metrics of one reference/reconstruction pair",
                       description="Compute full-reference metrics of one image pair.",
                       epilog="JSON output: non-finite values (PSNR of identical images) are "
                              "written as the string \"inf\".")
    p.add_argument("ref", nargs="?", help="reference (original) image")
    p.add_argument("dist", nargs="?", help="reconstruction (distorted) image")
    p.add_argument("--metrics", default="",
                   help="comma-separated metric names (default: psnr,ssim,ms_ssim); "
                        "see `evalkit metrics --list`")
    p.add_argument("--device", default="auto",
                   help="auto (default: CUDA when present, else CPU), cpu, cuda, cuda:N or mps")
    p.add_argument("--json", action="store_true", help="print a JSON object {metric: value}")
    p.add_argument("--strict", action="store_true",
                   help="refuse a reference stored in a lossy format (JPEG, lossy WebP, AVIF, "
                        "HEIF) instead of warning about it")
    p.add_argument("--list", action="store_true",
                   help="list the available metrics (name, direction, weights, version) and exit")
    p.set_defaults(func=run)


def json_value(v: float) -> float | str:
    """``v`` itself when finite, else ``"inf"`` / ``"-inf"`` / ``"nan"`` (valid JSON)."""
    return v if math.isfinite(v) else str(v)


def _print_list() -> None:
    from evalkit.metrics import list_metrics

    header = ("name", "kind", "better", "needs weights", "version")
    rows = [header] + [(s.name, s.kind, "higher" if s.higher_is_better else "lower",
                        ",".join(s.needs_weights) or "-", s.version) for s in list_metrics()]
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    for r in rows:
        print("  ".join(f"{c:<{w}}" for c, w in zip(r, widths)).rstrip())


def run(args: argparse.Namespace) -> int:
    from evalkit.errors import EvalkitError, MetricError

    if args.list:
        _print_list()
        return 0
    if not args.ref or not args.dist:
        raise EvalkitError("metrics needs a reference and a reconstruction: "
                           "evalkit metrics REF DIST (or --list)")

    import sys

    from evalkit.images import check_references, load_pair
    from evalkit.metrics import DEFAULT_METRICS, compute_pair, get_spec, parse_metric_list
    from evalkit.metrics.devices import resolve_device

    device = resolve_device(args.device)
    names = parse_metric_list(args.metrics, DEFAULT_METRICS)
    for n in names:
        if get_spec(n).kind != "pair":
            raise MetricError(f"{n} is a set-level metric; use `evalkit evaluate`")
    ref, dist = load_pair(args.ref, args.dist)
    for w in check_references([args.ref], strict=args.strict):
        print(f"warning: {w}", file=sys.stderr)
    from evalkit.cli.faults import about

    with about(args.ref, args.dist):
        values = compute_pair(ref, dist, names, device=device)
    if args.json:
        print(json.dumps({n: json_value(v) for n, v in values.items()}, allow_nan=False))
    else:
        width = max(len(n) for n in values)
        for n, v in values.items():
            unit = get_spec(n).unit
            shown = str(v) if not math.isfinite(v) else f"{v:.6f}"
            print(f"{n:<{width}}  {shown}{(' ' + unit) if unit else ''}")
    return 0
