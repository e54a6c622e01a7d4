"""Descriptive (non-metric) columns of the results table: per-image ``model`` and
``weights_verified``.

==================  ==========================================================================
model               the model that made the reconstruction, per image (e.g. HiFiC's ``hific-lo``
                    when one imported setting mixes models); from ``run.json``
                    ``images.<image>.model`` (what ``evalkit import-run`` records from a
                    manifest's ``model`` column) or a ``model`` column of ``manifest.csv``.
                    Present only when some image has one.
weights_verified    False when a metric of the table ran on weights whose hash was not the
                    official one (``EVALKIT_SKIP_WEIGHT_HASH=1`` stand-ins): its values are not
                    comparable with anyone's.  Present only when a metric needs weights.
==================  ==========================================================================

Neither is a metric: :data:`INFO_COLUMNS` are left out of metric columns and summaries (the
summary carries ``weights_verified`` as the AND over its images).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from evalkit.errors import LayoutError
from evalkit.layout import manifest_image, values_by_entry

INFO_COLUMNS: tuple[str, ...] = ("model", "weights_verified")

#: The note every output touched by stand-in weights carries.
STAND_IN_NOTE = ("computed with stand-in weights whose hash was not verified "
                 "(EVALKIT_SKIP_WEIGHT_HASH or a non-official file): not comparable with "
                 "published values")


def read_setting_models(setting_dir: str | Path) -> dict[str, str]:
    """``{image: model}`` of one ``<codec>/<setting>`` folder (manifest over run.json)."""
    from evalkit.layout import MANIFEST_NAME, METADATA_NAME

    setting_dir = Path(setting_dir)
    out: dict[str, str] = {}
    meta = setting_dir / METADATA_NAME
    if meta.is_file():
        try:
            record = json.loads(meta.read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise LayoutError(f"{meta}: cannot read run metadata ({exc})") from None
        images = record.get("images") if isinstance(record, dict) else None
        for name, info in (images or {}).items():
            if isinstance(info, dict) and isinstance(info.get("model"), str) and info["model"]:
                out[str(name)] = info["model"]
    manifest = setting_dir / MANIFEST_NAME
    if manifest.is_file():
        out.update(read_manifest_column(manifest, "model"))
    return out


def read_manifest_column(path: str | Path, column: str) -> dict[str, str]:
    """``{image stem: value}`` of an optional text column of a manifest CSV (empty: none)."""
    path = Path(path)
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            if column not in (reader.fieldnames or []) or "image" not in (reader.fieldnames or []):
                return {}
            return {manifest_image(row["image"]): row[column].strip() for row in reader
                    if (row.get(column) or "").strip() and (row.get("image") or "").strip()}
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise LayoutError(f"{path}: cannot read manifest ({exc})") from None


def attach_models(results: pd.DataFrame, entries: Iterable) -> pd.DataFrame:
    """``results`` with a ``model`` column after ``setting`` when any image has a model."""
    found = values_by_entry(entries, read_setting_models)
    if not found:
        return results
    out = results.drop(columns=["model"], errors="ignore")
    keys = zip(out["codec"], out["setting"], out["image"])
    out.insert(list(out.columns).index("setting") + 1, "model",
               pd.array([found.get(k) for k in keys], dtype="string"))
    return out


def attach_weights_verified(results: pd.DataFrame, verified: bool | None) -> pd.DataFrame:
    """``results`` with ``weights_verified`` (None: no metric needs weights, no column)."""
    if verified is None:
        return results
    return results.assign(weights_verified=bool(verified))


def stand_in_used(table: pd.DataFrame) -> bool:
    """True when a results/summary table says some values came from stand-in weights."""
    if "weights_verified" not in table.columns:
        return False
    col = table["weights_verified"]
    if col.dtype == object or pd.api.types.is_string_dtype(col):
        col = col.astype(str).str.strip().str.lower().map({"true": True, "false": False,
                                                           "1": True, "0": False})
    return bool((col == False).any())  # noqa: E712 -- NA-aware elementwise comparison
