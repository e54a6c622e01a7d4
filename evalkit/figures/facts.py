"""How a metric or results column is named, unit'd and rounded in figure titles and tables.

Facts come from the metric registry (:func:`evalkit.metrics.get_spec`: ``label``, ``unit``,
``digits`` and ``higher_is_better``); columns that are no metric (``bpp``,
``bytes``, timings, CLIC aggregates) are described here because they belong to the results table,
not to the registry.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class ColumnFacts:
    """Display facts of one results/summary column."""

    name: str
    label: str
    unit: str
    digits: int
    higher_is_better: bool | None  # None: not a quality (rate, time, count)


#: Columns of the results/summary tables that are no metric.
_TABLE_COLUMNS = {
    "bpp": ColumnFacts("bpp", "bpp", "", 3, None),
    "bpp_agg": ColumnFacts("bpp_agg", "bpp", "", 3, None),
    "bytes": ColumnFacts("bytes", "Bytes", "", 0, None),
    "encode_s": ColumnFacts("encode_s", "Encoding time per image", "s", 3, None),
    "decode_s": ColumnFacts("decode_s", "Decoding time per image", "s", 3, None),
    "encode_s_total": ColumnFacts("encode_s_total", "Encoding time", "s", 3, None),
    "decode_s_total": ColumnFacts("decode_s_total", "Decoding time", "s", 3, None),
    "images": ColumnFacts("images", "Images", "", 0, None),
}


def _metric_facts(name: str) -> ColumnFacts:
    from evalkit.metrics import get_spec  # torch-free; raises MetricError naming the known ones

    spec = get_spec(name)
    return ColumnFacts(name, spec.display, spec.unit, int(spec.digits),
                       bool(spec.higher_is_better))


def column_facts(name: str) -> ColumnFacts:
    """Facts of a results column: a registered metric, a CLIC aggregate (``psnr_agg`` is
    PSNR's), or one of the table's own columns. Raises MetricError for unknown names."""
    if name in _TABLE_COLUMNS:
        return _TABLE_COLUMNS[name]
    if name.endswith("_agg"):
        base = _metric_facts(name[: -len("_agg")])
        return ColumnFacts(name, base.label, base.unit, base.digits, base.higher_is_better)
    return _metric_facts(name)


def format_value(name: str, value) -> str:
    """``29.3 dB``-style text of one value for a figure title (label and unit included)."""
    f = column_facts(name)
    try:
        v = float(value)
    except (TypeError, ValueError):
        return f"{f.label} –"
    if math.isnan(v):
        text = "–"
    elif math.isinf(v):
        text = "∞" if v > 0 else "−∞"
    else:
        text = f"{v:.{f.digits}f}"
    if name in ("bpp", "bpp_agg"):
        return f"{text} bpp"
    if f.unit == "dB":  # PSNR reads as "29.31 dB" (the unit names it)
        return f"{text} dB"
    return f"{f.label} {text}" + (f" {f.unit}" if f.unit else "")


def header(name: str, *, direction: bool = False) -> str:
    """Table header of a column: ``PSNR [dB]``, with ``↑``/``↓`` when ``direction``."""
    f = column_facts(name)
    text = f.label + (f" [{f.unit}]" if f.unit else "")
    if direction and f.higher_is_better is not None:
        text += " ↑" if f.higher_is_better else " ↓"
    return text
