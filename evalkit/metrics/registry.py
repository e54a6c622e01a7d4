"""The metric registry: every metric's name, direction, weights, version and builder.

The CLI, the evaluation runner, the study app and the reports list metrics only from here.

Two kinds of metric exist:

* ``"pair"`` -- one value per (reference, reconstruction) pair (PSNR, SSIM, LPIPS...).
  ``spec.build(device=..., **options)`` returns a callable ``metric(ref, dist) -> Tensor[N]``
  taking float tensors ``(N, 3, H, W)`` with values in ``[0, 255]`` on ``device``.
  Built models are reused: build once, call many times.
* ``"set"`` -- one value per set of pairs, i.e. per codec setting (FID, KID). Their builders
  return objects documented in their own modules.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from evalkit.errors import MetricError


@dataclass(frozen=True)
class MetricSpec:
    """What evalkit knows about one metric.

    Attributes:
        name: the column name in every output (``psnr``, ``ms_ssim``, ``lpips``...).
        higher_is_better: direction (PSNR: True, LPIPS: False).
        needs_weights: catalog names of the weight files it loads (see :mod:`evalkit.weights`).
        version: changes whenever the computed value could change (library versions included),
            so cached results are never reused across versions.
        kind: ``"pair"`` or ``"set"``.
        build: ``build(device="cpu", **options)`` returning the ready metric.
        description: one line for ``--help`` and reports.
        unit: e.g. ``"dB"`` (empty when unitless).
    """

    name: str
    higher_is_better: bool
    needs_weights: tuple[str, ...]
    version: str
    kind: str
    build: Callable[..., Any] = field(repr=False)
    description: str = ""
    unit: str = ""


REGISTRY: dict[str, MetricSpec] = {}


def register(spec: MetricSpec) -> MetricSpec:
    if spec.kind not in ("pair", "set"):
        raise ValueError(f"metric kind must be 'pair' or 'set', got {spec.kind!r}")
    if spec.name in REGISTRY:
        raise ValueError(f"metric {spec.name!r} registered twice")
    REGISTRY[spec.name] = spec
    return spec


def get_spec(name: str) -> MetricSpec:
    """Spec by name; raises :class:`MetricError` listing the known names otherwise."""
    try:
        return REGISTRY[name]
    except KeyError:
        raise MetricError(f"unknown metric {name!r}; known: {', '.join(REGISTRY)}") from None


def list_metrics(kind: str | None = None) -> list[MetricSpec]:
    return [s for s in REGISTRY.values() if kind is None or s.kind == kind]


def parse_metric_list(text: str | list[str] | None, default: tuple[str, ...]) -> list[str]:
    """``"psnr,ms_ssim"`` (or a list) -> validated names; ``default`` when empty."""
    if text is None or text == "" or text == []:
        names = list(default)
    elif isinstance(text, str):
        names = [t.strip() for t in text.split(",") if t.strip()]
    else:
        names = [t.strip() for item in text for t in item.split(",") if t.strip()]
    for n in names:
        get_spec(n)
    return list(dict.fromkeys(names))
