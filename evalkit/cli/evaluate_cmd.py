"""``evalkit evaluate --refs DIR --runs DIR --out results.csv``: score every codec output."""

from __future__ import annotations

import argparse
import sys


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "evaluate", help="score every runs/<codec>/<setting>/<image> into a results table",
        description="Compute metrics for every reconstruction under --runs against --refs. "
                    "Writes one row per (codec, setting, image) to --out and a per-(codec, "
                    "setting) summary with CLIC aggregates (psnr_agg, ms_ssim_agg, bpp_agg). "
                    "Values are cached by file content: re-runs only compute new rows.")
    p.add_argument("--refs", required=True, help="folder of originals (refs/<image>.png)")
    p.add_argument("--runs", required=True, help="folder of runs/<codec>/<setting>/<image>.*")
    p.add_argument("--out", required=True, help="results table, .csv or .parquet")
    p.add_argument("--summary", default=None,
                   help="summary table path (default: <out stem>.summary.<ext> beside --out)")
    p.add_argument("--metrics", default="",
                   help="comma-separated metric names (default: psnr,ssim,ms_ssim)")
    p.add_argument("--codecs", default="", help="only these codec folders (comma-separated)")
    p.add_argument("--device", default="auto",
                   help="auto (default: CUDA when present, else CPU), cpu, cuda, cuda:N or mps")
    p.add_argument("--batch-size", type=int, default=None,
                   help="reconstructions of one reference scored per batch (default: 8, fewer "
                        "for large images so a batch stays near 4 megapixels)")
    p.add_argument("--ray", nargs="?", const="local", default=None, metavar="ADDRESS",
                   help="score the reference groups on a Ray cluster: no ADDRESS starts one on "
                        "this machine, 'auto' joins the running cluster (`ray start --head`), "
                        "or ray://host:10001; needs pip install 'evalkit[ray]'")
    p.add_argument("--ray-actors", type=int, default=None, metavar="N",
                   help="Ray actors (default: one per GPU, else one per 2 CPUs of the cluster)")
    p.add_argument("--workers", type=int, default=None,
                   help="decode/hash threads overlapping the metric computation (default 1; "
                        "0 = decode in the main thread)")
    cache = p.add_mutually_exclusive_group()
    cache.add_argument("--cache", default=None,
                       help="cache database (default: $EVALKIT_CACHE_DIR/evaluate.sqlite, "
                            "i.e. ~/.cache/evalkit/evaluate.sqlite)")
    cache.add_argument("--no-cache", action="store_true", help="compute everything, store nothing")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.add_argument("--strict", action="store_true",
                   help="refuse references stored in a lossy format (JPEG, lossy WebP, AVIF, "
                        "HEIF) instead of warning about them")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import warnings

    from evalkit.cli.arguments import comma_list
    from evalkit.evaluate import evaluate, write_evaluation
    from evalkit.evaluate.cache import ResultCache, default_cache_path
    from evalkit.evaluate.engine import check_batch_size
    from evalkit.evaluate.results import default_summary_path, table_format
    from evalkit.images import check_references
    from evalkit.layout import discover_runs, list_references
    from evalkit.metrics import DEFAULT_METRICS, parse_metric_list
    from evalkit.metrics.devices import check_device_name
    from evalkit.provenance import check_writable, sidecar_path

    table_format(args.out)  # fail on a bad suffix before any work
    check_device_name(args.device)
    check_batch_size(args.batch_size)
    if args.ray is not None:
        from evalkit.evaluate.ray_backend import require_ray

        require_ray()
    if args.summary:
        table_format(args.summary)
    summary = args.summary or default_summary_path(args.out)
    # Every output and the cache must be writable before anything is computed.
    check_writable(args.out, summary, sidecar_path(args.out), sidecar_path(summary))
    # Then the inputs that are cheap to check (layout, manifests, metric names, lossy
    # references), so a typo creates no cache file and costs no computation.
    codecs = comma_list(args.codecs)
    discover_runs(args.refs, args.runs, codecs=codecs)
    parse_metric_list(args.metrics or None, DEFAULT_METRICS)
    for w in check_references(list_references(args.refs).values(), strict=args.strict):
        print(f"warning: {w}", file=sys.stderr)
    cache = False if args.no_cache else (args.cache or True)
    if cache is not False:  # opened (and repaired or refused) once here, before any work
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            ResultCache(default_cache_path() if cache is True else cache).close()
        for w in caught:
            print(f"warning: {w.message}", file=sys.stderr)
    ev = evaluate(args.refs, args.runs, args.metrics or None, device=args.device,
                  workers=args.workers, cache=cache, codecs=codecs,
                  progress=not args.no_progress, batch_size=args.batch_size, ray=args.ray,
                  ray_actors=args.ray_actors)
    for w in ev.layout.warnings():
        print(f"warning: {w}", file=sys.stderr)
    paths = write_evaluation(ev, args.out, args.summary)
    print(f"{len(ev.results)} rows: {ev.computed} computed, {ev.reused} reused from cache")
    print(f"wrote {paths[0]} and {paths[1]} (+ .json sidecars)")
    return 0
