"""Synthetic results tables with known RD behaviour (no images needed for RD maths)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from evalkit.evaluate.results import RESULT_COLUMNS

IMAGES = {"img_a": (64, 48), "img_b": (80, 40)}


def results_table(codecs: dict[str, float], settings=(0.25, 0.5, 1.0, 2.0)) -> pd.DataFrame:
    """Per-image rows; codec ``c`` with factor ``f`` needs ``f`` times the anchor's bits.

    Quality depends on bits/pixel ``r`` of the *anchor-equivalent* rate ``r / f``:
    ``psnr = 30 + 6*log2(r/f)``, ``ms_ssim = 1 - 0.05*(r/f)**-0.7``, ``lpips = 0.3*(r/f)**-0.5``.
    """
    rows = []
    for codec, factor in codecs.items():
        for k, base in enumerate(settings):
            for j, (image, (w, h)) in enumerate(IMAGES.items()):
                r = base * factor * (1 + 0.1 * j)
                q = r / factor
                nbytes = int(round(r * w * h / 8))
                rows.append({"codec": codec, "setting": f"s{k}", "image": image, "width": w,
                             "height": h, "bytes": nbytes, "bpp": nbytes * 8 / (w * h),
                             "psnr": 30 + 6 * np.log2(q), "ms_ssim": 1 - 0.05 * q ** -0.7,
                             "lpips": 0.3 * q ** -0.5})
    df = pd.DataFrame(rows, columns=[*RESULT_COLUMNS, "psnr", "ms_ssim", "lpips"])
    df["bytes"] = df["bytes"].astype("Int64")
    return df
