"""Runs made by the tests: crops of scikit-image photos encoded with Pillow JPEG/WebP.

Crops are 176x192 (MS-SSIM needs a short side > 160 px; width != height catches transposes).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

W, H = 192, 176


def photos() -> dict[str, np.ndarray]:
    from skimage import data

    return {
        "astronaut": np.ascontiguousarray(data.astronaut()[60:60 + H, 150:150 + W]),
        "chelsea": np.ascontiguousarray(data.chelsea()[40:40 + H, 100:100 + W]),
        "coffee": np.ascontiguousarray(data.coffee()[150:150 + H, 200:200 + W]),
    }


def encode_setting(runs: Path, refs: dict[str, np.ndarray], codec: str, quality: int) -> Path:
    """``runs/<codec>/q<quality>/<image>.<ext>``: the bitstream is the reconstruction."""
    fmt, ext = {"jpeg": ("JPEG", "jpg"), "webp": ("WEBP", "webp")}[codec]
    d = runs / codec / f"q{quality:02d}"
    d.mkdir(parents=True, exist_ok=True)
    for name, arr in refs.items():
        Image.fromarray(arr).save(d / f"{name}.{ext}", fmt, quality=quality)
    return d


def make_layout(root: Path, codecs=(("jpeg", (15, 50, 85)),)) -> tuple[Path, Path, dict]:
    refs = photos()
    refs_dir, runs_dir = root / "refs", root / "runs"
    refs_dir.mkdir(parents=True, exist_ok=True)
    for name, arr in refs.items():
        Image.fromarray(arr).save(refs_dir / f"{name}.png")
    for codec, qualities in codecs:
        for q in qualities:
            encode_setting(runs_dir, refs, codec, q)
    return refs_dir, runs_dir, refs


