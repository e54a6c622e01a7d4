"""Helpers of the study tests: a tiny study made from scikit-image photos encoded with Pillow
JPEG at three qualities (a uniquely named module: several test folders have a conftest.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import tomli_w
from PIL import Image

CODEC = "pilsnerjpeg"                       # distinctive names: the blindness tests grep for them
SETTINGS = ("quality12", "quality61", "quality33")
METHODS = tuple(f"{CODEC}/{s}" for s in SETTINGS)
TOKEN = "s3cret-token-for-tests"


def _photos(size: tuple[int, int]) -> dict[str, np.ndarray]:
    from skimage import data

    out = {}
    for name in ("astronaut", "chelsea", "coffee"):
        arr = getattr(data, name)()
        out[name] = np.asarray(Image.fromarray(arr).resize(size, Image.Resampling.BICUBIC))
    return out


def make_study(root: Path, *, trials: int = 6, golden_share: float = 0.2, seed: int = 7,
               methods=METHODS, crops: dict | None = None, size: tuple[int, int] = (96, 64),
               **study_extra) -> Path:
    """Write refs/, runs/ and study.toml under ``root`` (images ``size`` = (width, height));
    returns the study file."""
    refs, runs = root / "refs", root / "runs"
    refs.mkdir(parents=True, exist_ok=True)
    for name, arr in _photos(size).items():
        Image.fromarray(arr).save(refs / f"{name}.png")
        for setting in SETTINGS:
            d = runs / CODEC / setting
            d.mkdir(parents=True, exist_ok=True)
            Image.fromarray(arr).save(d / f"{name}.jpg", quality=int(setting[-2:]))
    study = {"name": "tiny", "refs": "refs", "runs": "runs", "trials_per_rater": trials,
             "golden_share": golden_share, "seed": seed, "completion_code": "DONE42",
             "experimenter_token": TOKEN, **study_extra}
    data = {"study": study, "comparisons": [{"all_pairs": list(methods)}]}
    if crops:
        data["crops"] = crops
    path = root / "study.toml"
    path.write_text(tomli_w.dumps(data))
    return path
