"""Convenience entry points over the registry: build once, compute on pairs or batches."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from evalkit.errors import MetricError
from evalkit.metrics.registry import DEFAULT_METRICS, get_spec
from evalkit.metrics.tensors import check_same_shape, to_tensor, to_uint8

__all__ = ["DEFAULT_METRICS", "build_metric", "compute_batch", "compute_pair"]

_BUILT: dict[tuple, Any] = {}


def build_metric(name: str, device: str | torch.device = "cpu", **options: Any) -> Any:
    """The ready-to-call metric ``name`` on ``device``, built once and reused.

    ``options`` are passed to the metric's builder (e.g. ``weights_path=`` for LPIPS).
    """
    spec = get_spec(name)
    key = (name, str(device), tuple(sorted((k, str(v)) for k, v in options.items())))
    if key not in _BUILT:
        _BUILT[key] = spec.build(device=device, **options)
    return _BUILT[key]


def compute_batch(refs: np.ndarray | Sequence[np.ndarray] | torch.Tensor,
                  dists: np.ndarray | Sequence[np.ndarray] | torch.Tensor,
                  name: str, device: str | torch.device = "cpu", **options: Any) -> np.ndarray:
    """Metric ``name`` for each pair of a batch of same-size uint8 images -> float64 array."""
    spec = get_spec(name)
    if spec.kind != "pair":
        raise MetricError(f"{name} is a set-level metric; compute it over a codec setting")
    metric = build_metric(name, device, **options)
    with torch.no_grad():
        if hasattr(metric, "from_uint8") and not isinstance(refs, torch.Tensor) \
                and not isinstance(dists, torch.Tensor):
            ref_u8, dist_u8 = to_uint8(refs, device), to_uint8(dists, device)
            check_same_shape(ref_u8, dist_u8)
            values = metric.from_uint8(ref_u8, dist_u8)
        else:
            values = metric(to_tensor(refs, device), to_tensor(dists, device))
    return values.detach().to("cpu", torch.float64).numpy().reshape(-1)


def compute_pair(ref: np.ndarray, dist: np.ndarray, metrics: Sequence[str] = DEFAULT_METRICS,
                 device: str | torch.device = "cpu") -> dict[str, float]:
    """``{metric: value}`` for one pair of ``(H, W, 3)`` uint8 images."""
    return {m: float(compute_batch(ref, dist, m, device)[0]) for m in metrics}
