"""Per-image encode/decode wall times of a run, carried into the results and summary tables.

Where the times come from, per ``runs/<codec>/<setting>/`` folder:

* ``run.json`` -> ``images.<image>.encode_seconds`` / ``decode_seconds`` (what
  ``evalkit baseline`` and ``evalkit import-run`` record);
* ``manifest.csv`` -> optional columns ``encode_s`` / ``decode_s`` (hand-made layouts); a value
  there wins over ``run.json``.

Results-table columns (after ``bpp``, only when at least one image of the evaluation has a time):

========  ==================================================================================
encode_s  encoder wall time of the image in seconds, as measured by whoever made the run
          (empty when unknown)
decode_s  decoder wall time of the image in seconds (empty when unknown)
========  ==================================================================================

Summary-table columns (per codec/setting): ``encode_s`` / ``decode_s`` (mean per image) and
``encode_s_total`` / ``decode_s_total`` (sum over the images: what CLIC 2019 reported as the
decoding time).  They are empty when any image of the setting has no time: a total over part of
the images would look comparable and would not be.

Times are read from the run folder at every evaluation and are never part of a metric cache key
(metric values depend on pixels only; re-timing a codec must not recompute any metric).
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from evalkit.errors import LayoutError
from evalkit.layout import manifest_image, values_by_entry

#: Per-image timing columns of the results table, in order.
TIMING_COLUMNS: tuple[str, ...] = ("encode_s", "decode_s")
#: Timing columns of the summary table (means, then totals).
SUMMARY_TIMING_COLUMNS: tuple[str, ...] = ("encode_s", "encode_s_total", "decode_s",
                                           "decode_s_total")
#: run.json per-image key of each timing column.
RUN_JSON_KEYS = {"encode_s": "encode_seconds", "decode_s": "decode_seconds"}


def _seconds(value, where: str) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise LayoutError(f"{where}: time must be a number of seconds, got {value!r}") from None
    if not (math.isfinite(v) and v >= 0):
        raise LayoutError(f"{where}: time must be a non-negative finite number of seconds, "
                          f"got {value!r}")
    return v


def read_run_json_timings(path: str | Path) -> dict[str, dict[str, float]]:
    """``{image: {"encode_s": s, "decode_s": s}}`` from a ``run.json`` (missing keys left out)."""
    path = Path(path)
    try:
        record = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise LayoutError(f"{path}: cannot read run metadata ({exc.__class__.__name__}: {exc})") \
            from None
    images = record.get("images") if isinstance(record, dict) else None
    if not isinstance(images, dict):
        return {}
    out: dict[str, dict[str, float]] = {}
    for name, info in images.items():
        if not isinstance(info, dict):
            continue
        times = {col: _seconds(info[key], f"{path}: image {name!r} {key}")
                 for col, key in RUN_JSON_KEYS.items() if info.get(key) is not None}
        if times:
            out[str(name)] = times
    return out


def read_manifest_timings(path: str | Path) -> dict[str, dict[str, float]]:
    """``{image: {...}}`` from the optional ``encode_s`` / ``decode_s`` columns of a manifest."""
    path = Path(path)
    out: dict[str, dict[str, float]] = {}
    try:
        with open(path, newline="") as fh:
            reader = csv.DictReader(fh)
            cols = [c for c in TIMING_COLUMNS if c in (reader.fieldnames or [])]
            if not cols or "image" not in (reader.fieldnames or []):
                return {}
            for lineno, row in enumerate(reader, start=2):
                name = manifest_image(row.get("image"))
                times = {c: _seconds(row[c], f"{path}:{lineno} {c}") for c in cols
                         if (row.get(c) or "").strip() != ""}
                if name and times:
                    out[name] = times
    except (OSError, UnicodeDecodeError) as exc:
        raise LayoutError(f"{path}: cannot read manifest ({exc})") from None
    return out


def read_setting_timings(setting_dir: str | Path) -> dict[str, dict[str, float]]:
    """Times of every image of one ``<codec>/<setting>`` folder (manifest over run.json)."""
    from evalkit.layout import MANIFEST_NAME, METADATA_NAME

    setting_dir = Path(setting_dir)
    out: dict[str, dict[str, float]] = {}
    if (setting_dir / METADATA_NAME).is_file():
        out = read_run_json_timings(setting_dir / METADATA_NAME)
    if (setting_dir / MANIFEST_NAME).is_file():
        for name, times in read_manifest_timings(setting_dir / MANIFEST_NAME).items():
            out.setdefault(name, {}).update(times)
    return out


def attach_timings(results: pd.DataFrame, entries: Iterable) -> pd.DataFrame:
    """``results`` with ``encode_s`` / ``decode_s`` after ``bpp`` when any entry has a time.

    ``entries`` are the :class:`evalkit.layout.RunEntry` objects the rows were computed from
    (their reconstruction's folder is the setting folder).
    """
    found = values_by_entry(entries, read_setting_timings)
    if not found:
        return results
    out = results.copy()
    keys = list(zip(out["codec"], out["setting"], out["image"]))
    at = list(out.columns).index("bpp") + 1
    for offset, col in enumerate(TIMING_COLUMNS):
        values = [found.get(k, {}).get(col, np.nan) for k in keys]
        if col in out.columns:
            out = out.drop(columns=[col])
        out.insert(at + offset, col, np.asarray(values, dtype=np.float64))
    return out


def summarize_timings(group: pd.DataFrame) -> Mapping[str, float]:
    """Summary timing columns of one codec/setting group (empty when it has no timing column)."""
    row: dict[str, float] = {}
    for col in TIMING_COLUMNS:
        if col not in group.columns:
            continue
        vals = pd.to_numeric(group[col], errors="coerce").to_numpy(np.float64)
        complete = len(vals) > 0 and not np.isnan(vals).any()
        row[col] = float(vals.mean()) if complete else math.nan
        row[f"{col}_total"] = float(vals.sum()) if complete else math.nan
    return row
