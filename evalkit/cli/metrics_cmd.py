"""``evalkit metrics REF DIST``: full-reference metrics of one image pair."""

from __future__ import annotations

import argparse
import json
import math


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("metrics", help="metrics of one reference/reconstruction pair",
                       description="Compute full-reference metrics of one image pair.")
    p.add_argument("ref", help="reference (original) image")
    p.add_argument("dist", help="reconstruction (distorted) image")
    p.add_argument("--metrics", default="",
                   help="comma-separated metric names (default: psnr,ssim,ms_ssim); "
                        "see `evalkit metrics --list`")
    p.add_argument("--device", default="cpu", help="torch device, e.g. cpu or cuda:0")
    p.add_argument("--json", action="store_true", help="print a JSON object {metric: value}")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from evalkit.images import load_pair
    from evalkit.metrics import DEFAULT_METRICS, compute_pair, get_spec, parse_metric_list

    names = parse_metric_list(args.metrics, DEFAULT_METRICS)
    for n in names:
        if get_spec(n).kind != "pair":
            from evalkit.errors import MetricError
            raise MetricError(f"{n} is a set-level metric; use `evalkit evaluate`")
    ref, dist = load_pair(args.ref, args.dist)
    values = compute_pair(ref, dist, names, device=args.device)
    if args.json:
        # JSON has no inf: identical images give PSNR "Infinity" as Python's json writes it.
        print(json.dumps(values))
    else:
        width = max(len(n) for n in values)
        for n, v in values.items():
            unit = get_spec(n).unit
            shown = "inf" if math.isinf(v) else f"{v:.6f}"
            print(f"{n:<{width}}  {shown}{(' ' + unit) if unit else ''}")
    return 0
