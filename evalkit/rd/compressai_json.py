"""Read and write CompressAI's RD result JSON.

Format (as in CompressAI's ``results/image/<dataset>/*.json``)::

    {"name": "JPEG", "description": "...",
     "results": {"bpp": [...], "psnr-rgb": [...], "ms-ssim-rgb": [...], ...}}

One list entry per operating point.  Reading maps CompressAI's keys to evalkit metric names
(``psnr-rgb``/``psnr`` -> ``psnr``, ``ms-ssim-rgb``/``ms-ssim`` -> ``ms_ssim``; any other key
``a-b`` -> ``a_b``, so ``lpips``, ``fid``, ``encoding_time``... are kept).  Keys whose value is
not a list of numbers as long as ``bpp`` are ignored; only ``bpp`` is required.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from evalkit.errors import EvalkitError, RDError
from evalkit.rd.reference_curves import published_path

_TO_EVALKIT = {"psnr-rgb": "psnr", "psnr": "psnr", "ms-ssim-rgb": "ms_ssim",
               "ms-ssim": "ms_ssim", "ssim-rgb": "ssim"}
_TO_COMPRESSAI = {"psnr": "psnr-rgb", "ms_ssim": "ms-ssim-rgb"}


@dataclass(frozen=True)
class RDCurve:
    """One codec's RD curve: ``bpp`` and ``{metric: values}``, one entry per operating point."""

    name: str
    bpp: tuple[float, ...]
    metrics: dict[str, tuple[float, ...]] = field(default_factory=dict)
    description: str = ""
    source: str = ""


def _numbers(values, n: int) -> tuple[float, ...] | None:
    if not isinstance(values, list) or len(values) != n:
        return None
    try:
        return tuple(float(v) for v in values)
    except (TypeError, ValueError):
        return None


def read_compressai_json(path: str | Path) -> RDCurve:
    """Read a CompressAI-format result file (see the module docstring)."""
    path = Path(path)
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise RDError(f"{path}: cannot read CompressAI JSON ({exc})") from exc
    results = doc.get("results") if isinstance(doc, dict) else None
    if not isinstance(results, dict) or not isinstance(results.get("bpp"), list):
        raise RDError(f"{path}: must hold {{'results': {{'bpp': [...], ...}}}}")
    bpp = _numbers(results["bpp"], len(results["bpp"]))
    if not bpp:
        raise RDError(f"{path}: 'bpp' must be a non-empty list of numbers")
    metrics = {}
    for key, values in results.items():
        if key == "bpp":
            continue
        nums = _numbers(values, len(bpp))
        if nums is not None:
            metrics[_TO_EVALKIT.get(key, key.replace("-", "_"))] = nums
    return RDCurve(name=str(doc.get("name") or path.stem), bpp=bpp, metrics=metrics,
                   description=str(doc.get("description") or ""), source=str(path))


def curve_to_compressai(curve: RDCurve) -> dict:
    """The CompressAI JSON document of ``curve`` (NaN/inf written as ``null``)."""
    def clean(vs):
        return [v if math.isfinite(v) else None for v in vs]

    results = {"bpp": clean(curve.bpp)}
    for m, vs in curve.metrics.items():
        results[_TO_COMPRESSAI.get(m, m.replace("_", "-"))] = clean(vs)
    return {"name": curve.name, "description": curve.description, "results": results}


def curve_from_table(table: pd.DataFrame, codec: str, *, metrics: list[str] | None = None,
                     pooling: str = "mean", name: str | None = None,
                     description: str = "") -> RDCurve:
    """The RD curve of ``codec`` from a results/summary table (settings sorted by bpp)."""
    from evalkit.rd.points import rd_points, to_summary

    summary = to_summary(table)
    if codec not in set(summary["codec"]):
        raise RDError(f"codec must be in the table, got {codec!r}; "
                      f"available: {', '.join(sorted(set(summary['codec'])))}")
    from evalkit.evaluate.annotations import INFO_COLUMNS
    from evalkit.evaluate.timings import SUMMARY_TIMING_COLUMNS

    skip = {"codec", "setting", "images", "pixels", "bytes", "bpp", "bpp_agg", "psnr_agg",
            "ms_ssim_agg", *SUMMARY_TIMING_COLUMNS, *INFO_COLUMNS}
    metrics = metrics or [c for c in summary.columns if c not in skip]
    bpp, vals = None, {}
    for m in metrics:
        pts = rd_points(table, m, pooling=pooling, codecs=[codec])
        bpp = tuple(pts["bpp"].tolist())
        vals[m] = tuple(pts["value"].tolist())
    if bpp is None:
        pts = rd_points(table, "bpp", pooling="mean", codecs=[codec])
        bpp = tuple(pts["bpp"].tolist())
    return RDCurve(name=name or codec, bpp=bpp, metrics=vals, description=description)


def write_compressai_json(table: pd.DataFrame, codec: str, path: str | Path, **kwargs) -> Path:
    """Write ``codec``'s curve from a results/summary table as CompressAI JSON (atomically).

    ``kwargs`` go to :func:`curve_from_table` (``metrics``, ``pooling``, ``name``, ``description``).
    """
    from evalkit.provenance import atomic_write_text

    doc = curve_to_compressai(curve_from_table(table, codec, **kwargs))
    atomic_write_text(path, json.dumps(doc, indent=2) + "\n")
    return Path(path)


def resolve_reference(spec: str | Path) -> Path:
    """A reference curve file: ``spec`` itself when it is a file, else a curve shipped with
    evalkit (:mod:`evalkit.rd.reference_curves`, e.g. ``compressai-kodak/jpeg``)."""
    p = Path(spec)
    if p.is_file():
        return p
    try:
        return published_path(str(spec))
    except EvalkitError as exc:
        raise RDError(f"reference must be an existing CompressAI JSON file or a published curve "
                      f"name, got {str(spec)!r} ({exc})") from exc


def load_reference(spec: str | Path) -> RDCurve:
    """:func:`read_compressai_json` of :func:`resolve_reference` ``(spec)``."""
    return read_compressai_json(resolve_reference(spec))
