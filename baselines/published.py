"""Published reference RD points shipped inside the package (sources in ``data/SOURCES.md``).

Names are the file paths under ``baselines/data`` without ``.json``:
``compressai-kodak/jpeg``, ``compressai-kodak/bpg_444_x265_ycbcr``,
``compressai-clic2020-professional/compressai-cheng2020-anchor_mse``, ``hific-kodak``,
``hific-clic2020``, ``hific-div2k``...  Each file is CompressAI-format JSON:
``{"name", "description", "results": {"bpp": [...], "psnr-rgb": [...], "ms-ssim-rgb": [...]}}``
(HiFiC files add ``lpips``, ``niqe`` and, where published, ``fid``/``kid``).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from evalkit.errors import EvalkitError, LayoutError

_DATA = "data"


def _data_dir() -> Path:
    # Beside this module (not importlib.resources): also right when an editable install made
    # before baselines/__init__.py existed treats the package as a namespace package.
    return Path(__file__).resolve().parent / _DATA


def list_references() -> list[str]:
    """Every shipped reference name, sorted."""
    root = _data_dir()
    return sorted(p.relative_to(root).with_suffix("").as_posix() for p in root.rglob("*.json"))


def resolve_reference(name: str) -> Path:
    """Path of the JSON file of reference ``name`` (see :func:`list_references`).

    Raises:
        EvalkitError: unknown name (the message lists the available ones).
    """
    names = list_references()
    if name not in names:
        raise EvalkitError(f"published reference must be one of {', '.join(names)}; got {name!r}")
    return _data_dir() / f"{name}.json"


def load_reference(name: str) -> dict[str, Any]:
    """The parsed JSON of reference ``name``, checked: equal-length finite lists incl. ``bpp``."""
    path = resolve_reference(name)
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
