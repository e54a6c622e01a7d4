"""RD points: one (bpp, value) per codec setting, from a results or summary table.

Pooling of the per-image values of one setting:

* ``"mean"`` (default, CompressAI's convention and that of its published JSON files): mean of
  per-image bpp and mean of per-image metric values.
* ``"clic"``: the CLIC aggregates -- ``bpp_agg`` and ``psnr_agg`` / ``ms_ssim_agg``; other
  metrics fall back to their pixel-weighted mean.

``ms_ssim_db=True`` plots/compares MS-SSIM as ``-10*log10(1 - x)`` dB.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from evalkit.errors import RDError

POOLINGS = ("mean", "clic")


def ms_ssim_to_db(x: np.ndarray | pd.Series | float) -> np.ndarray:
    """``-10*log10(1 - x)``; MS-SSIM 1 gives ``inf``."""
    with np.errstate(divide="ignore"):
        return -10.0 * np.log10(1.0 - np.asarray(x, dtype=np.float64))


def to_summary(table: pd.DataFrame) -> pd.DataFrame:
    """The summary of a results table (or the table itself if it already is a summary)."""
    if "image" in table.columns:
        from evalkit.evaluate.aggregates import summarize

        return summarize(table)
    if not {"codec", "setting", "bpp"} <= set(table.columns):
        raise RDError(f"table must have columns codec, setting, bpp; got {list(table.columns)}")
    return table


def _pooled_column(summary: pd.DataFrame, table: pd.DataFrame, metric: str,
                   pooling: str) -> tuple[str, pd.Series]:
    if pooling == "mean":
        if metric not in summary.columns:
            raise RDError(f"metric must be a column of the table, got {metric!r}; "
                          f"available: {', '.join(map(str, summary.columns))}")
        return "bpp", summary[metric]
    agg = f"{metric}_agg"
    if agg in summary.columns:
        return "bpp_agg", summary[agg]
    if "image" in table.columns and metric in table.columns:
        from evalkit.evaluate.aggregates import pixel_weighted_mean

        vals = []
        for _, row in summary.iterrows():
            g = table[(table["codec"] == row["codec"]) & (table["setting"] == row["setting"])]
            vals.append(pixel_weighted_mean(g[metric], g["width"] * g["height"]))
        return "bpp_agg", pd.Series(vals, index=summary.index)
    if metric in summary.columns and "bpp_agg" in summary.columns:  # set-level metrics
        return "bpp_agg", summary[metric]
    raise RDError(f"no CLIC aggregate of {metric!r} in the table")


def rd_points(table: pd.DataFrame, metric: str, *, pooling: str = "mean",
              ms_ssim_db: bool = False, codecs: list[str] | None = None) -> pd.DataFrame:
    """RD points of every codec setting, sorted by codec then bpp.

    Args:
        table: a results table (per image) or summary table (per setting).
        metric: column to use (``psnr``, ``ms_ssim``, ``lpips``...).
        pooling: ``"mean"`` or ``"clic"`` (see the module docstring).
        ms_ssim_db: convert ``ms_ssim`` to dB.
        codecs: keep only these codecs (in this order); all when None.

    Returns:
        DataFrame with columns ``codec, setting, bpp, value``.
    """
    if pooling not in POOLINGS:
        raise RDError(f"pooling must be one of {', '.join(POOLINGS)}, got {pooling!r}")
    summary = to_summary(table)
    bpp_col, values = _pooled_column(summary, table, metric, pooling)
    pts = pd.DataFrame({"codec": summary["codec"].astype(str),
                        "setting": summary["setting"].astype(str),
                        "bpp": summary[bpp_col].astype(np.float64),
                        "value": values.astype(np.float64).to_numpy()})
    if ms_ssim_db and metric == "ms_ssim":
        pts["value"] = ms_ssim_to_db(pts["value"])
    if codecs:
        unknown = [c for c in codecs if c not in set(pts["codec"])]
        if unknown:
            raise RDError(f"codecs must be in the table, got unknown {', '.join(unknown)}; "
                          f"available: {', '.join(sorted(set(pts['codec'])))}")
        pts = pts[pts["codec"].isin(codecs)]
        order = {c: i for i, c in enumerate(codecs)}
        pts = pts.assign(_o=pts["codec"].map(order)).sort_values(["_o", "bpp"]).drop(columns="_o")
    else:
        pts = pts.sort_values(["codec", "bpp"])
    return pts.reset_index(drop=True)
