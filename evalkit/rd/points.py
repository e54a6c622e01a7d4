"""RD points: one (bpp, value) per codec setting, from a results or summary table.

Pooling of the per-image values of one setting:

* ``"mean"`` (default, CompressAI's convention and that of its published JSON files): mean of
  per-image bpp and mean of per-image metric values.
* ``"clic"``: the CLIC aggregates -- ``bpp_agg`` and ``psnr_agg`` / ``ms_ssim_agg``; other
  metrics fall back to their pixel-weighted mean.

``ms_ssim_db=True`` plots/compares MS-SSIM as ``-10*log10(1 - x)`` dB.

Only ``codec``, ``setting``, ``bpp`` and the metric are needed: a per-image table without
``bytes`` (rates known by bpp alone, e.g. published points) works, and one without ``width``/
``height`` too with ``"mean"`` pooling (``"clic"`` pooling weights images by their pixels).

A metric with no value at all (every cell empty/NaN) is an :class:`RDError`; points whose value
is NaN (a setting where the metric is missing) are dropped with an :class:`RDWarning` naming them.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from evalkit.errors import RDError

POOLINGS = ("mean", "clic")


class RDWarning(UserWarning):
    """Some RD points cannot be drawn or compared (their metric value is missing)."""


def ms_ssim_to_db(x: np.ndarray | pd.Series | float) -> np.ndarray:
    """``-10*log10(1 - x)``; MS-SSIM 1 gives ``inf``."""
    with np.errstate(divide="ignore"):
        return -10.0 * np.log10(1.0 - np.asarray(x, dtype=np.float64))


def _mean_summary(table: pd.DataFrame) -> pd.DataFrame:
    """Mean of bpp and of every numeric column per (codec, setting), for per-image tables
    without pixel counts (no CLIC aggregates possible)."""
    values = [c for c in table.columns if c not in ("codec", "setting", "image", "bytes")
              and pd.api.types.is_numeric_dtype(table[c])]
    return (table.groupby(["codec", "setting"], sort=True)[values].mean().reset_index())


def to_summary(table: pd.DataFrame) -> pd.DataFrame:
    """The summary of a results table (or the table itself if it already is a summary)."""
    missing = [c for c in ("codec", "setting", "bpp") if c not in table.columns]
    if missing:
        raise RDError(f"table must have columns codec, setting and bpp; missing "
                      f"{', '.join(missing)} (got {', '.join(map(str, table.columns))})")
    if "image" not in table.columns:
        return table
    from evalkit.evaluate.aggregates import summarize

    if not {"width", "height"} <= set(table.columns):
        return _mean_summary(table)
    if "bytes" not in table.columns:  # rate known by bpp alone
        table = table.assign(bytes=pd.array([pd.NA] * len(table), dtype="Int64"))
    return summarize(table)


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
    if metric not in table.columns and metric not in summary.columns:
        raise RDError(f"metric must be a column of the table, got {metric!r}; available: "
                      f"{', '.join(map(str, table.columns))}")
    raise RDError(f"no CLIC aggregate of {metric!r} in the table (clic pooling needs "
                  f"{metric}_agg and bpp_agg, or per-image width and height); use --pooling mean")


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
    if "image" in table.columns and metric in table.columns:
        # a mean over only some of a setting's images is not comparable with the others: such
        # settings count as having no value (the summary's mean would skip NaN silently)
        gaps = table[table[metric].isna()]
        partial = set(zip(gaps["codec"].astype(str), gaps["setting"].astype(str)))
        if partial:
            hit = [(c, s_) in partial for c, s_ in zip(pts["codec"], pts["setting"])]
            pts.loc[hit, "value"] = np.nan
    if pts["value"].isna().all():
        raise RDError(f"column {metric} holds no values (every one is empty or NaN); evaluate "
                      f"with --metrics {metric} or pick another --metric")
    empty = pts["value"].isna()
    if empty.any():
        names = [f"{c}/{s}" for c, s in zip(pts.loc[empty, "codec"], pts.loc[empty, "setting"])]
        warnings.warn(f"{metric} is missing (empty/NaN) for some or all images of "
                      f"{', '.join(names)}: left out of the curves",
                      RDWarning, stacklevel=2)
        pts = pts[~empty]
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
