"""Image-quality metrics behind one registry (see :mod:`evalkit.metrics.registry`).

Importing this package imports no torch: the registry holds the facts and names each builder
as a string.  Use :func:`compute_pair` for one pair of uint8 images, or build a metric once with
:func:`build_metric` and call it on batches (these import torch when first used).  Learned
metrics also have a two-stage interface (:mod:`evalkit.metrics.two_stage`).
"""

from __future__ import annotations

from typing import Any

from evalkit.metrics.registry import (
    DEFAULT_METRICS,
    REGISTRY,
    MetricSpec,
    get_spec,
    higher_is_better,
    list_metrics,
    metrics_needing,
    parse_metric_list,
)

_LAZY = {"build_metric", "compute_batch", "compute_pair"}

__all__ = ["DEFAULT_METRICS", "REGISTRY", "MetricSpec", "build_metric", "compute_batch",
           "compute_pair", "get_spec", "higher_is_better", "list_metrics", "metrics_needing",
           "parse_metric_list"]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from evalkit.metrics import api

        return getattr(api, name)
    raise AttributeError(f"module 'evalkit.metrics' has no attribute {name!r}")
