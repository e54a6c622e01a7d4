"""The two-stage interface of pair metrics: reference state once, then batches of
reconstructions.

A paper scores every reference image against many reconstructions (codecs x settings).  A
learned metric spends most of its time in its backbone, so a metric object built by the
registry may offer, besides ``metric(ref, dist) -> Tensor[N]``::

    state = metric.prepare_reference(ref)      # ref: float (1, 3, H, W) in [0, 255]
    values = metric.score_batch(state, dists)  # dists: float (N, 3, H, W) -> Tensor[N]

with the same tensor conventions as the pair call (float32 on the metric's device, values in
[0, 255]; the result is float64, still on the device).  ``state`` is whatever the metric needs
of the reference (LPIPS: its normalised feature stack; DISTS: features, means and variances;
PIM: its encodings) and is released by dropping it.  The values must equal the pair call's
(``metric(ref.expand(N, ...), dists)``) to float round-off.

Metrics without the two methods (PSNR, SSIM, MS-SSIM, user metrics) are served by the
fallback below: the state is the reference itself and a batch is one pair call.
"""

from __future__ import annotations

from typing import Any, NamedTuple, Protocol, runtime_checkable

import torch


@runtime_checkable
class TwoStageMetric(Protocol):
    """A pair metric that computes its reference-side state once."""

    def prepare_reference(self, ref: torch.Tensor) -> Any: ...

    def score_batch(self, state: Any, dists: torch.Tensor) -> torch.Tensor: ...


class ReferenceFeatures(NamedTuple):
    """A reference state made of per-layer tensors.  ``image`` is a shape-only (meta-device)
    stand-in for the reference, so a reconstruction of another size fails before any work."""

    image: torch.Tensor
    features: list


def is_two_stage(metric: Any) -> bool:
    """True when ``metric`` has its own ``prepare_reference`` and ``score_batch``."""
    return callable(getattr(metric, "prepare_reference", None)) and \
        callable(getattr(metric, "score_batch", None))


def prepare_reference(metric: Any, ref: torch.Tensor) -> Any:
    """The metric's reference state (the reference tensor itself for one-stage metrics)."""
    if ref.ndim != 4 or ref.shape[0] != 1:
        raise ValueError(f"a reference must be one image (1, 3, H, W), got {tuple(ref.shape)}")
    return metric.prepare_reference(ref) if is_two_stage(metric) else ref


def score_batch(metric: Any, state: Any, dists: torch.Tensor) -> torch.Tensor:
    """Values of every reconstruction of ``dists`` against the prepared reference: Tensor[N]."""
    if is_two_stage(metric):
        return metric.score_batch(state, dists).reshape(-1)
    ref = state.expand(dists.shape[0], *state.shape[1:])
    return metric(ref, dists).reshape(-1)


def pairwise(metric: TwoStageMetric, ref: torch.Tensor, dist: torch.Tensor) -> torch.Tensor:
    """The pair call of a two-stage metric: each pair through ``prepare_reference`` and
    ``score_batch``, so pair values and reference-major values come from the same code."""
    values = [metric.score_batch(metric.prepare_reference(ref[i:i + 1]), dist[i:i + 1])
              for i in range(ref.shape[0])]
    return torch.cat([v.reshape(-1) for v in values])
