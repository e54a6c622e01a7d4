"""Published reference RD points shipped with evalkit (sources and licenses in
``evalkit/rd/published/SOURCES.md``).

Names are the file paths under ``evalkit/rd/published`` without ``.json``:
``compressai-kodak/jpeg``, ``compressai-kodak/bpg_444_x265_ycbcr``,
``compressai-clic2020-professional/compressai-cheng2020-anchor_mse``, ``hific-kodak``,
``hific-clic2020``, ``hific-div2k``...  Each file is CompressAI-format JSON:
``{"name", "description", "results": {"bpp": [...], "psnr-rgb": [...], "ms-ssim-rgb": [...]}}``
(HiFiC files add ``lpips``, ``niqe`` and, where published, ``fid``/``kid``).

The RD tools read them through :func:`evalkit.rd.compressai_json.load_reference` (a name or a
JSON path -> :class:`~evalkit.rd.compressai_json.RDCurve`); ``baselines.published`` re-exports
the functions here under their historical names.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from evalkit.errors import EvalkitError, LayoutError

#: The folder holding the shipped curves (package data of ``evalkit``).
DATA_DIR = Path(__file__).resolve().parent / "published"


def list_published() -> list[str]:
    """Every shipped reference name, sorted."""
    return sorted(p.relative_to(DATA_DIR).with_suffix("").as_posix()
                  for p in DATA_DIR.rglob("*.json"))


def published_path(name: str) -> Path:
    """Path of the JSON file of the shipped curve ``name`` (see :func:`list_published`).

    Raises:
        EvalkitError: unknown name (the message lists the available ones).
    """
    names = list_published()
    if name not in names:
        raise EvalkitError(f"published reference must be one of {', '.join(names)}; got {name!r}")
    return DATA_DIR / f"{name}.json"


def load_published(name: str) -> dict[str, Any]:
    """The parsed JSON of curve ``name``, checked: equal-length finite lists incl. ``bpp``."""
    path = published_path(name)
    data = json.loads(path.read_text())
    results = data.get("results")
    if not isinstance(results, dict) or "bpp" not in results:
        raise LayoutError(f"{path}: results must hold a bpp list")
    n = len(results["bpp"])
    for key, values in results.items():
        if not isinstance(values, list) or len(values) != n or not all(
                isinstance(v, (int, float)) and math.isfinite(v) for v in values):
            raise LayoutError(f"{path}: results[{key!r}] must be {n} finite numbers")
    return data
