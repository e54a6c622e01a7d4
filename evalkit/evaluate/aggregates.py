"""Per-(codec, setting) summary: means of per-image values and the CLIC aggregates.

CLIC reports whole-dataset numbers, not means of per-image numbers:

* ``psnr_agg = 10*log10(255**2 / MSE_pool)`` where ``MSE_pool`` is the squared error pooled over
  every pixel (and channel) of every image, i.e. ``sum_i(mse_i * pixels_i) / sum_i(pixels_i)``.
  The per-image MSE is recovered exactly from the per-image PSNR (``mse = 255**2 * 10**(-psnr/10)``;
  ``inf`` PSNR is MSE 0), so no extra column is needed.
* ``ms_ssim_agg = sum_i(ms_ssim_i * pixels_i) / sum_i(pixels_i)``.
* ``bpp_agg = 8 * sum_i(bytes_i) / sum_i(pixels_i)`` (total bits over total pixels).

The column layout is documented in :mod:`evalkit.evaluate.results`.
"""

from __future__ import annotations

import math
from typing import Mapping

import numpy as np
import pandas as pd

from evalkit.evaluate.results import check_results, metric_columns
from evalkit.evaluate.timings import summarize_timings

PEAK = 255.0


def mse_from_psnr(psnr: np.ndarray | pd.Series) -> np.ndarray:
    """Per-image MSE (8-bit scale) from PSNR in dB; ``inf`` dB gives 0."""
    p = np.asarray(psnr, dtype=np.float64)
    return PEAK ** 2 * np.power(10.0, -p / 10.0)


def psnr_from_mse(mse: float) -> float:
    """``10*log10(255**2 / mse)``; ``inf`` when ``mse == 0``."""
    return math.inf if mse == 0 else 10.0 * math.log10(PEAK ** 2 / mse)


def pooled_psnr(psnr: np.ndarray | pd.Series, pixels: np.ndarray | pd.Series) -> float:
    """CLIC ``psnr_agg`` of images with per-image ``psnr`` and pixel counts ``pixels``."""
    w = np.asarray(pixels, dtype=np.float64)
    return psnr_from_mse(float(np.sum(mse_from_psnr(psnr) * w) / np.sum(w)))


def pixel_weighted_mean(values: np.ndarray | pd.Series, pixels: np.ndarray | pd.Series) -> float:
    """``sum(values * pixels) / sum(pixels)`` (CLIC ``ms_ssim_agg``)."""
    w = np.asarray(pixels, dtype=np.float64)
    return float(np.sum(np.asarray(values, dtype=np.float64) * w) / np.sum(w))


def _summary_row(group: pd.DataFrame, metrics: list[str]) -> dict:
    pixels = (group["width"].astype(np.int64) * group["height"].astype(np.int64)).to_numpy()
    total_pixels = int(pixels.sum())
    bytes_known = not group["bytes"].isna().any()
    total_bytes = int(group["bytes"].sum()) if bytes_known else pd.NA
    total_bits = float((group["bpp"].to_numpy(np.float64) * pixels).sum())
    row = {
        "images": len(group),
        "pixels": total_pixels,
        "bytes": total_bytes,
        "bpp": float(group["bpp"].mean()),
        "bpp_agg": (8.0 * total_bytes if bytes_known else total_bits) / total_pixels,
    }
    for m in metrics:
        row[m] = float(group[m].astype(np.float64).mean())
    if "psnr" in metrics:
        row["psnr_agg"] = pooled_psnr(group["psnr"], pixels)
    if "ms_ssim" in metrics:
        row["ms_ssim_agg"] = pixel_weighted_mean(group["ms_ssim"], pixels)
    row.update(summarize_timings(group))
    if "weights_verified" in group.columns:
        row["weights_verified"] = bool(group["weights_verified"].astype(bool).all())
    return row


SetValues = Mapping[tuple[str, str], Mapping[str, float]]


def summarize(results: pd.DataFrame, set_values: SetValues | None = None) -> pd.DataFrame:
    """Summary table (one row per codec and setting) of a results table.

    Args:
        results: the per-image results table.
        set_values: optional ``{(codec, setting): {set_metric: value}}`` (FID, KID...) to add.

    Returns:
        DataFrame with the columns documented in :mod:`evalkit.evaluate.results`.
    """
    check_results(results)
    metrics = metric_columns(results)
    rows = []
    for (codec, setting), group in results.groupby(["codec", "setting"], sort=True):
        row = {"codec": codec, "setting": setting, **_summary_row(group, metrics)}
        for name, value in ((set_values or {}).get((codec, setting)) or {}).items():
            row[name] = float(value)
        rows.append(row)
    df = pd.DataFrame(rows)
    df["bytes"] = df["bytes"].astype("Int64")
    return df
