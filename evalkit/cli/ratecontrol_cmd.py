"""``evalkit ratecontrol results.csv --codec C --budget-bpp 0.15``: one setting per image."""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "ratecontrol", help="pick one setting per image: best aggregate within a bpp budget",
        description="Dataset-level rate control (Tucodec, CLIC 2019): choose one setting of "
                    "--codec per image so the total bits stay within --budget-bpp and the "
                    "aggregate quality is the best possible (exact multiple-choice knapsack). "
                    "Or, with --min-psnr-agg/--min-ms-ssim-agg, the fewest total bytes meeting "
                    "those targets (exact 0/1 program).")
    p.add_argument("results", help="results table (.csv/.parquet) from `evalkit evaluate`")
    p.add_argument("--codec", required=True, help="codec whose settings are chosen from")
    p.add_argument("--budget-bpp", type=float, default=None, help="total bits / total pixels")
    p.add_argument("--maximize", default="psnr_agg",
                   help="psnr_agg, ms_ssim_agg or a metric column (mean; default psnr_agg)")
    p.add_argument("--solver", choices=("auto", "dp", "milp"), default="auto")
    p.add_argument("--min-psnr-agg", type=float, default=None,
                   help="transparent mode: psnr_agg target in dB (e.g. 40)")
    p.add_argument("--min-ms-ssim-agg", type=float, default=None,
                   help="transparent mode: ms_ssim_agg target (e.g. 0.993)")
    p.add_argument("--out", default=None, help="write the chosen setting per image (.csv)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from evalkit.cli.faults import about
    from evalkit.errors import RateControlError
    from evalkit.evaluate.results import read_results, table_format, write_table
    from evalkit.provenance import file_sha256, provenance, write_sidecar
    from evalkit.rd import rate_control, transparent

    if args.out:
        table_format(args.out)  # a bad suffix fails before any work
    with about(args.results):
        results = read_results(args.results)
    targets = args.min_psnr_agg is not None or args.min_ms_ssim_agg is not None
    if targets == (args.budget_bpp is not None):
        raise RateControlError("give either --budget-bpp or --min-psnr-agg/--min-ms-ssim-agg, "
                               "not both or neither")
    with about(args.results):
        if targets:
            res = transparent(results, args.codec, psnr_agg=args.min_psnr_agg,
                              ms_ssim_agg=args.min_ms_ssim_agg)
        else:
            res = rate_control(results, args.codec, args.budget_bpp, maximize=args.maximize,
                               solver=args.solver)
    if not res.feasible:
        print(f"infeasible: {res.message}")
        return 1
    print(res.choices.to_string(index=False))
    print(f"total {res.total_bytes} bytes, bpp_agg {res.bpp_agg:.5f}, psnr_agg "
          f"{res.psnr_agg:.4f} dB, ms_ssim_agg {res.ms_ssim_agg:.6f} ({res.solver})")
    if res.objective not in ("psnr_agg", "ms_ssim_agg", "transparent"):
        print(f"mean {res.objective}: {res.objective_value:.6f}")
    if args.out:
        write_table(res.choices, args.out)
        write_sidecar(args.out, provenance(
            {k: v for k, v in vars(args).items() if k != "func"},
            inputs={str(args.results): file_sha256(args.results)},
            achieved={"total_bytes": res.total_bytes, "bpp_agg": res.bpp_agg,
                      "psnr_agg": res.psnr_agg, "ms_ssim_agg": res.ms_ssim_agg}))
        print(f"wrote {args.out}")
    return 0
