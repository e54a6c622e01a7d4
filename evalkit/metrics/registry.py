"""The metric registry: the one source of every metric's facts -- name, kind, direction, label,
unit, digits, weight files, version and builder.  Importing it imports no torch.

The CLI, the evaluation runner, the study app, RD plots, paper tables, the weights catalog and
the reports read metric facts only from here.  Builders are named as ``"module:function"``
strings and imported only when a metric is built, so tools that only need facts (``bd``,
``table``, ``rd``, ``ratecontrol``, ``report``) stay light.

Two kinds of metric exist:

* ``"pair"`` -- one value per (reference, reconstruction) pair (PSNR, SSIM, LPIPS...).
  ``spec.build(device=..., **options)`` returns a callable ``metric(ref, dist) -> Tensor[N]``
  taking float tensors ``(N, 3, H, W)`` with values in ``[0, 255]`` on ``device``.
  Built models are reused: build once, call many times.  Learned metrics also offer the
  two-stage interface of :mod:`evalkit.metrics.two_stage` (reference state once, then batches
  of reconstructions).
* ``"set"`` -- one value per set of pairs, i.e. per codec setting (FID, KID). Their builders
  return objects documented in their own modules.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from evalkit.commalist import comma_list
from evalkit.errors import MetricError
from evalkit.provenance import package_version


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
        builder: ``"module:function"`` (imported lazily) or a callable;
            ``function(*build_args, device=..., **options)`` returns the ready metric.
        description: one line for ``--help`` and reports.
        unit: e.g. ``"dB"`` (empty when unitless).
        label: name for figures and tables (``"MS-SSIM"``); the name itself when empty.
        digits: decimals shown in tables.
        build_args: positional arguments given to the builder before ``device``.
    """

    name: str
    higher_is_better: bool
    needs_weights: tuple[str, ...]
    version: str
    kind: str
    builder: str | Callable[..., Any]
    description: str = ""
    unit: str = ""
    label: str = ""
    digits: int = 4
    build_args: tuple = ()

    @property
    def display(self) -> str:
        """``label`` or, when empty, the name."""
        return self.label or self.name

    def builder_function(self) -> Callable[..., Any]:
        """The builder (importing its module now when it is named by a string)."""
        if callable(self.builder):
            return self.builder
        module, _, func = self.builder.partition(":")
        return getattr(importlib.import_module(module), func)

    def build(self, device: Any = "cpu", **options: Any) -> Any:
        """The ready metric on ``device`` (``options`` go to the builder)."""
        return self.builder_function()(*self.build_args, device=device, **options)


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


def higher_is_better(column: str, default: bool = True) -> bool:
    """Direction of a results column named like a registered metric; ``default`` for columns
    that are no registered metric (e.g. a user's own score)."""
    spec = REGISTRY.get(column)
    return default if spec is None else spec.higher_is_better


def metrics_needing(weight: str) -> tuple[str, ...]:
    """Names of the registered metrics that load weight file ``weight`` (catalog name)."""
    return tuple(s.name for s in REGISTRY.values() if weight in s.needs_weights)


def parse_metric_list(text: str | list[str] | None, default: tuple[str, ...]) -> list[str]:
    """``"psnr,ms_ssim"`` (or a list) -> validated names; ``default`` when empty."""
    empty = text is None or text == "" or text == []
    names = list(default) if empty else (comma_list(text) or [])
    for n in names:
        get_spec(n)
    return list(dict.fromkeys(names))


#: Metrics computed when none are named (the ones that need no downloaded weights).
DEFAULT_METRICS: tuple[str, ...] = ("psnr", "ssim", "ms_ssim")

# --- the built-in metrics ---------------------------------------------------------------------
# Versions name the libraries whose code computes the value (read from package metadata, so no
# import is needed).  PIM's version follows evalkit.pim.convert.FORMAT_VERSION (a test checks).
_MSSSIM = f"pytorch-msssim-{package_version('pytorch-msssim') or '1.0.0'}"
_LPIPS = f"v0.1/lpips-{package_version('lpips') or 'unknown'}"
_FID = f"1+tfid{package_version('torch-fidelity') or 'missing'}"  # fid.FEATURES_VERSION + lib
PIM_VERSION = "evalkit-pim-v1"

for _spec in (
    MetricSpec("psnr", True, (), "1", "pair", "evalkit.metrics.psnr:build_psnr",
               "PSNR over RGB, 8-bit, MSE over all pixels and channels (CompressAI)",
               unit="dB", label="PSNR", digits=2),
    MetricSpec("ssim", True, (), _MSSSIM, "pair", "evalkit.metrics.ssim:build_ssim",
               "SSIM (pytorch-msssim, RGB, data_range=255)", label="SSIM", digits=4),
    MetricSpec("ms_ssim", True, (), _MSSSIM, "pair", "evalkit.metrics.ssim:build_ms_ssim",
               "MS-SSIM (pytorch-msssim, RGB, data_range=255, 5 scales; short side > 160 px)",
               label="MS-SSIM", digits=4),
    MetricSpec("lpips", False, ("alexnet", "lpips_v0.1_alex"), _LPIPS, "pair",
               "evalkit.metrics.lpips:build_lpips",
               "LPIPS v0.1, AlexNet trunk (inputs mapped to [-1, 1])",
               label="LPIPS", digits=4, build_args=("lpips",)),
    MetricSpec("lpips_vgg", False, ("vgg16", "lpips_v0.1_vgg"), _LPIPS, "pair",
               "evalkit.metrics.lpips:build_lpips",
               "LPIPS v0.1, VGG16 trunk (inputs mapped to [-1, 1])",
               label="LPIPS-VGG", digits=4, build_args=("lpips_vgg",)),
    MetricSpec("dists", False, ("vgg16", "dists_alpha_beta"), "1", "pair",
               "evalkit.metrics.dists:build_dists",
               "DISTS (official alpha/beta, VGG16 with L2 pooling, no resizing)",
               label="DISTS", digits=4),
    MetricSpec("fid", False, ("fid_inception",), _FID, "set", "evalkit.metrics.fid:build_fid",
               "FID/256 (HiFiC): Fréchet distance of Inception pool3 features of 256x256 "
               "patches (grid + 128-px-shifted grid)", label="FID", digits=2),
    MetricSpec("kid", False, ("fid_inception",), _FID, "set", "evalkit.metrics.fid:build_kid",
               "KID/256 (HiFiC): polynomial-kernel MMD^2 of Inception pool3 features of "
               "256x256 patches, mean over 100 seeded subsets", label="KID", digits=4),
    MetricSpec("pim", False, ("pim-1-converted",), PIM_VERSION, "pair",
               "evalkit.pim.metric:build_pim",
               "PIM-1 (Bhardwaj et al. 2020): symmetric KL of per-pixel Gaussian encodings",
               label="PIM", digits=4, build_args=("pim-1",)),
    MetricSpec("pim5", False, ("pim-5-converted",), f"{PIM_VERSION}-mc", "pair",
               "evalkit.pim.metric:build_pim",
               "PIM-5: sampled symmetric KL of 5-component mixture encodings (seeded, seed=0)",
               label="PIM-5", digits=4, build_args=("pim-5",)),
):
    register(_spec)
