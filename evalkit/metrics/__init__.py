"""Image-quality metrics behind one registry (see :mod:`evalkit.metrics.registry`).

Importing this package registers every metric. Use :func:`compute_pair` for one pair of
uint8 images, or build a metric once with :func:`build_metric` and call it on batches.
"""

from __future__ import annotations

# Import order is registration order (the registry lists metrics in this order).
# isort: off
from evalkit.metrics import psnr as _psnr  # noqa: F401  (registers)
from evalkit.metrics import ssim as _ssim  # noqa: F401
from evalkit.metrics import fid as _fid  # noqa: F401  (fid, kid: set-level)
from evalkit.metrics import lpips as _lpips  # noqa: F401
from evalkit.metrics import dists as _dists  # noqa: F401
from evalkit.pim import metric as _pim  # noqa: F401  (registers pim, pim5)
# isort: on
from evalkit.metrics.api import DEFAULT_METRICS, build_metric, compute_batch, compute_pair, higher_is_better
from evalkit.metrics.registry import REGISTRY, MetricSpec, get_spec, list_metrics, parse_metric_list

__all__ = ["DEFAULT_METRICS", "REGISTRY", "MetricSpec", "build_metric", "compute_batch",
           "compute_pair", "get_spec", "higher_is_better", "list_metrics", "parse_metric_list"]
