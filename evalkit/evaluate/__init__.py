"""Evaluate codec outputs into a results table (see :mod:`evalkit.evaluate.results` for columns).

Public entry points::

    from evalkit.evaluate import evaluate, write_evaluation, read_results, summarize
    ev = evaluate("refs", "runs", ["psnr", "ms_ssim"])
    write_evaluation(ev, "results.csv")          # + results.summary.csv and JSON sidecars
"""

from evalkit.evaluate.aggregates import pixel_weighted_mean, pooled_psnr, summarize
from evalkit.evaluate.cache import ResultCache, default_cache_path
from evalkit.evaluate.results import (
    RESULT_COLUMNS,
    SUMMARY_COLUMNS,
    check_results,
    default_summary_path,
    read_results,
    read_table,
    write_table,
)
from evalkit.evaluate.runner import Evaluation, evaluate, write_evaluation

__all__ = ["Evaluation", "RESULT_COLUMNS", "SUMMARY_COLUMNS", "ResultCache", "check_results",
           "default_cache_path", "default_summary_path", "evaluate", "pixel_weighted_mean",
           "pooled_psnr", "read_results", "read_table", "summarize", "write_evaluation",
           "write_table"]
