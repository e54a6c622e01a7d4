"""Names a reader sees: metric headers with unit and direction, published-curve legend labels.

Metric facts (label, unit, direction) come from the metric registry
(:mod:`evalkit.metrics.registry`); this module only composes them:

* :func:`metric_header` -- ``"PSNR [dB] ↑"``, ``"MS-SSIM [dB] ↑"`` (with ``ms_ssim_db``),
  ``"LPIPS ↓"``; a column that is no registered metric keeps its name.
* :func:`bd_headers` -- ``("BD-rate PSNR vs jpeg [%] ↓", "BD-PSNR [dB] ↑")``.
* :func:`reference_label` -- ``"mbt2018-mean (CompressAI, MSE)"`` for
  ``compressai-kodak/compressai-mbt2018-mean_mse``: the source and the training objective, so
  two published curves of one model never share a legend entry.
"""

from __future__ import annotations

import re
from pathlib import Path

UP, DOWN = "↑", "↓"


def _spec(metric: str):
    from evalkit.metrics.registry import REGISTRY

    return REGISTRY.get(metric)


def higher_is_better(metric: str) -> bool | None:
    """Direction of a registered metric; None for other columns (e.g. a published file's)."""
    spec = _spec(metric)
    return None if spec is None else bool(spec.higher_is_better)


def metric_name(metric: str, ms_ssim_db: bool = False) -> str:
    """The metric's display name (registry ``label`` when it has one, else the column name)."""
    spec = _spec(metric)
    label = getattr(spec, "label", "") if spec is not None else ""
    return label or metric.upper().replace("_", "-")


def metric_unit(metric: str, ms_ssim_db: bool = False) -> str:
    """Unit of the values as compared: ``dB`` for PSNR and for MS-SSIM in dB, else the registry's."""
    if metric == "ms_ssim" and ms_ssim_db:
        return "dB"
    spec = _spec(metric)
    return (spec.unit or "") if spec is not None else ""


def arrow(metric: str) -> str:
    """``↑`` (higher is better), ``↓`` (lower is better) or ``""`` (unknown column)."""
    hib = higher_is_better(metric)
    return "" if hib is None else (UP if hib else DOWN)


def metric_header(metric: str, ms_ssim_db: bool = False, *, marks: bool = True) -> str:
    """``"PSNR [dB] ↑"``: name, unit in brackets (if any) and direction (if known)."""
    text = metric_name(metric, ms_ssim_db)
    unit = metric_unit(metric, ms_ssim_db)
    if unit:
        text += f" [{unit}]"
    mark = arrow(metric) if marks else ""
    return f"{text} {mark}" if mark else text


def bd_headers(metric: str, anchor: str, ms_ssim_db: bool = False) -> tuple[str, str]:
    """Column headers of a BD table: BD-rate (always lower = fewer bits = better) and BD-metric.

    ``("BD-rate PSNR vs jpeg [%] ↓", "BD-PSNR vs jpeg [dB] ↑")``; MS-SSIM in dB reads
    ``BD-rate MS-SSIM [dB] vs ...`` because the interpolation (hence the value) differs.
    """
    name = metric_name(metric, ms_ssim_db)
    unit = metric_unit(metric, ms_ssim_db)
    on = f"{name} [dB]" if metric == "ms_ssim" and ms_ssim_db else name
    mark = arrow(metric)
    rate = f"BD-rate {on} vs {anchor} [%] {DOWN}"
    delta = f"BD-{name} vs {anchor}" + (f" [{unit}]" if unit else "") + (f" {mark}" if mark else "")
    return rate, delta


_OBJECTIVES = {"mse": "MSE", "ms-ssim": "MS-SSIM", "ms_ssim": "MS-SSIM"}


def reference_label(spec: str, curve_name: str = "") -> str:
    """Legend label of a published curve: ``name (source, objective)``.

    ``compressai-kodak/compressai-mbt2018-mean_mse`` -> ``mbt2018-mean (CompressAI, MSE)``,
    ``compressai-kodak/vtm`` -> ``VTM (CompressAI)`` (the file's own name),
    ``hific-kodak`` -> ``HiFiC (Mentzer et al. 2020, GAN+MSE+LPIPS)``; a JSON path -> ``name (file.json)``.
    """
    text = str(spec)
    path = Path(text)
    if path.suffix == ".json" or path.is_file():
        return f"{curve_name or path.stem} ({path.name})"
    folder, _, stem = text.rpartition("/")
    if folder.startswith("compressai-"):
        m = re.fullmatch(r"compressai-(.+)_(mse|ms-ssim)", stem)
        if m:
            return f"{m.group(1)} (CompressAI, {_OBJECTIVES[m.group(2)]})"
        return f"{curve_name or stem} (CompressAI)"
    if text.startswith("hific-"):
        return f"{curve_name or 'HiFiC'} (Mentzer et al. 2020, GAN+MSE+LPIPS)"
    return f"{curve_name or text} (published)"
