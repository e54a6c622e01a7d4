"""Bjontegaard deltas (BD-rate, BD-metric) of every codec against an anchor.

The integration is done by the ``bjontegaard`` package (``bd_rate`` / ``bd_linear`` with the
chosen interpolation: ``pchip`` (default), ``akima`` or ``cubic``), so values match it exactly.

Sign conventions (what a reader expects):

* **BD-rate** (%): average rate difference at equal quality; **negative = fewer bits** than the
  anchor.  For lower-is-better metrics (LPIPS, DISTS, FID...) the metric is negated before the
  call, so curves rise with rate as the package requires; the BD-rate keeps its meaning.
* **BD-metric**: average metric difference at equal rate (over log10 bpp), in the metric's own
  units, ``test - anchor``.  Positive is better for higher-is-better metrics (PSNR: +0.5 dB);
  **negative is better for lower-is-better metrics** (LPIPS: -0.02).

Overlap: the fraction of the union interval covered by both curves (quality axis for BD-rate,
log-rate axis for BD-metric).  Below ``min_overlap`` a :class:`BDOverlapWarning` names the
codec; with no overlap the value is NaN.  Curves whose quality does not increase strictly with
rate cannot be interpolated: their values are NaN with a warning.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd

from evalkit.errors import EvalkitError, RDError

METHODS = ("pchip", "akima", "cubic")
#: Columns of :func:`bd_table`'s result.
BD_COLUMNS = ("codec", "metric", "anchor", "bd_rate", "bd_metric", "overlap_quality",
              "overlap_rate", "points", "method", "images", "ms_ssim_db")


class BDOverlapWarning(UserWarning):
    """Two RD curves overlap too little for a trustworthy Bjontegaard delta."""


def overlap(a: np.ndarray, b: np.ndarray) -> float:
    """Length of the intersection of the ranges of ``a`` and ``b`` over that of their union."""
    lo, hi = max(a.min(), b.min()), min(a.max(), b.max())
    total = max(a.max(), b.max()) - min(a.min(), b.min())
    return 0.0 if total <= 0 else max(hi - lo, 0.0) / total


def bd_pair(rate_anchor: Sequence[float], q_anchor: Sequence[float], rate_test: Sequence[float],
            q_test: Sequence[float], *, method: str = "pchip",
            higher_is_better: bool = True) -> tuple[float, float]:
    """``(bd_rate %, bd_metric)`` of one test curve against one anchor (sign rules above).

    Points are sorted by rate; quality must increase strictly with rate (after negating a
    lower-is-better metric), else :class:`RDError`.  No overlap gives NaN.
    """
    import bjontegaard as bd

    if method not in METHODS:
        raise RDError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    sign = 1.0 if higher_is_better else -1.0
    curves = []
    for rate, q in ((rate_anchor, q_anchor), (rate_test, q_test)):
        r, v = np.asarray(rate, np.float64), sign * np.asarray(q, np.float64)
        if len(r) < 2 or len(r) != len(v):
            raise RDError(f"a curve must have at least 2 points of rate and quality, got {len(r)}")
        if not (np.all(np.isfinite(r)) and np.all(np.isfinite(v)) and np.all(r > 0)):
            raise RDError("rates must be positive and qualities finite")
        order = np.argsort(r)
        r, v = r[order], v[order]
        if np.any(np.diff(r) <= 0) or np.any(np.diff(v) <= 0):
            raise RDError("quality must increase strictly with rate along each curve "
                          f"(rates {r.tolist()}, quality {(sign * v).tolist()})")
        curves.append((r, v))
    (ra, va), (rt, vt) = curves
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # overlap is checked (and warned about) by the caller
        rate = float(bd.bd_rate(ra, va, rt, vt, method=method, require_matching_points=False,
                                min_overlap=0))
        metric = float(bd.bd_psnr(ra, va, rt, vt, method=method, require_matching_points=False,
                                  min_overlap=0))
    return rate, sign * metric


def _resolve(name: str, table, curves: dict, role: str) -> None:
    from pathlib import Path

    from evalkit.rd.curves import load_curves, unknown_message

    if name in curves or (table is not None and name in set(table["codec"].astype(str))):
        return
    if Path(name).is_file():
        curves.update(load_curves([name]))  # a bad file: its own error says what is wrong
        return
    try:
        curves.update(load_curves([name]))
    except EvalkitError:  # no such published curve
        raise RDError(unknown_message(name, table, role)) from None


def _compare(a: pd.DataFrame, t: pd.DataFrame, hib: bool, method: str, min_overlap: float,
             what: str) -> tuple[float, float, float, float]:
    """``(bd_rate, bd_metric, overlap_quality, overlap_rate)`` of test ``t`` against ``a``."""
    sign = 1.0 if hib else -1.0
    ov_q = overlap(sign * a["value"].to_numpy(), sign * t["value"].to_numpy())
    ov_r = overlap(np.log10(a["bpp"].to_numpy()), np.log10(t["bpp"].to_numpy()))
    try:
        rate, delta = bd_pair(a["bpp"], a["value"], t["bpp"], t["value"], method=method,
                              higher_is_better=hib)
    except RDError as exc:
        warnings.warn(f"BD of {what}: {exc}", BDOverlapWarning, stacklevel=3)
        rate = delta = math.nan
    if ov_q == 0:
        rate = math.nan
    if ov_r == 0:
        delta = math.nan
    if min(ov_q, ov_r) < min_overlap:
        warnings.warn(f"{what}: curves overlap only {100 * ov_q:.0f}% in quality and "
                      f"{100 * ov_r:.0f}% in rate (minimum {100 * min_overlap:.0f}%); the BD "
                      "values average over that common range only", BDOverlapWarning,
                      stacklevel=3)
    return rate, delta, ov_q, ov_r


def bd_table(table: pd.DataFrame | None, anchor: str, metrics: Sequence[str] = ("psnr",), *,
             method: str = "pchip", pooling: str = "mean", ms_ssim_db: bool = False,
             min_overlap: float = 0.5, codecs: Sequence[str] | None = None,
             references: Sequence[str] = ()) -> pd.DataFrame:
    """BD-rate and BD-metric of every codec against ``anchor``, per metric.

    Args:
        table: results or summary table (settings of a codec form its curve); None when only
            published curves are compared.
        anchor: the reference: a codec of ``table``, a published curve name
            (``compressai-kodak/vtm``) or a CompressAI JSON path.
        metrics: quality metrics to compare on.
        method: ``pchip``, ``akima`` or ``cubic`` (bjontegaard package).
        pooling: ``"mean"`` or ``"clic"`` points (see :mod:`evalkit.rd.points`); published
            curves need ``"mean"``.
        ms_ssim_db: compare MS-SSIM in dB (``-10*log10(1-x)``).
        min_overlap: warn (:class:`BDOverlapWarning`) below this overlap fraction.
        codecs: test codecs of the table, in this order (all but the anchor when None).
        references: published curves (names or JSON paths) to test against the anchor too.

    Table codecs are compared over the images all of them (and a table anchor) have
    (:mod:`evalkit.rd.imageset`; an :class:`~evalkit.rd.imageset.ImageSetWarning` names what
    was left out); ``images`` gives that number (NaN for published curves).

    Returns:
        DataFrame with columns :data:`BD_COLUMNS` (one row per test curve and metric).
    """
    from evalkit.metrics import higher_is_better
    from evalkit.rd.curves import check_pooling, reference_points, table_points

    curves: dict = {}
    for role, names in (("anchor", [anchor]), ("codecs", codecs or ()),
                        ("reference", references)):
        for name in names:
            _resolve(name, table, curves, role)
    check_pooling(curves, pooling)
    have = [] if table is None else list(dict.fromkeys(table["codec"].astype(str)))
    anchor_in_table = anchor in have
    tests = list(codecs) if codecs else [c for c in have if c != anchor]
    tests = [t for t in tests if t not in curves] + [r for r in references if r != anchor]
    table_codecs = [c for c in tests if c in have] + ([anchor] if anchor_in_table else [])
    if anchor in tests:
        raise RDError(f"codecs must not include the anchor {anchor!r}")
    if not tests:
        raise RDError(f"nothing to compare with anchor {anchor!r}: give a results table with "
                      "another codec, --codecs or --reference")
    rows = []
    for metric in metrics:
        pts, common = table_points(table if table_codecs else None, metric,
                                   codecs=table_codecs, pooling=pooling, ms_ssim_db=ms_ssim_db,
                                   what=f"BD on {metric} compared")
        n_images = math.nan if common is None or common.images is None else common.images

        def curve(name, metric=metric, pts=pts):
            if name in curves:
                got = reference_points(name, curves[name], metric, ms_ssim_db)
                if got is None:
                    raise RDError(f"published curve {name} has no {metric!r} values; it has "
                                  f"{', '.join(curves[name].metrics) or 'none'}")
                return got
            return pts[pts["codec"] == name]

        hib = higher_is_better(metric)
        a = curve(anchor)
        for codec in tests:
            t = curve(codec)
            if t.empty:
                raise RDError(f"codec must be in the table, got {codec!r}")
            rate, delta, ov_q, ov_r = _compare(a, t, hib, method, min_overlap,
                                               f"{codec} vs {anchor} on {metric}")
            in_table = codec not in curves
            rows.append({"codec": codec, "metric": metric, "anchor": anchor, "bd_rate": rate,
                         "bd_metric": delta, "overlap_quality": ov_q, "overlap_rate": ov_r,
                         "points": len(t), "method": method,
                         "images": n_images if in_table else math.nan,
                         "ms_ssim_db": bool(ms_ssim_db and metric == "ms_ssim")})
    out = pd.DataFrame(rows, columns=list(BD_COLUMNS))
    if table is not None:
        from evalkit.evaluate.annotations import stand_in_used

        out.attrs["stand_in_weights"] = stand_in_used(table)
    return out


def footnote(text: str, fmt: str) -> str:
    """A visible note under a rendered table (none in CSV, which stays plain data)."""
    if fmt == "markdown":
        return f"\n*Note: {text}.*\n"
    if fmt == "latex":
        from evalkit.textsafe import escape_latex

        return f"\\par\\footnotesize Note: {escape_latex(text)}.\n"
    return ""


def format_bd_table(df: pd.DataFrame, fmt: str = "markdown") -> str:
    """Render a :func:`bd_table` result as ``markdown``, ``latex`` (booktabs) or ``csv``.

    Wide layout: one row per codec, two columns per metric whose headers name the metric, its
    unit, the anchor and the direction (``BD-rate PSNR vs jpeg [%] ↓``, ``BD-PSNR vs jpeg [dB]
    ↑``; see :func:`evalkit.rd.labels.bd_headers`), and an ``images`` column when table codecs
    were compared (the number of common images).
    """
    from evalkit.paper_table import render
    from evalkit.rd.labels import bd_headers

    if df.empty:
        raise RDError("BD table must have at least one row (is there a codec besides the anchor?)")
    wide = pd.DataFrame({"codec": list(dict.fromkeys(df["codec"]))})
    digits = {}
    for metric, g in df.groupby("metric", sort=False):
        db = bool(g["ms_ssim_db"].any()) if "ms_ssim_db" in g else False
        rate_h, delta_h = bd_headers(metric, str(g["anchor"].iloc[0]), db)
        g = g.set_index("codec")
        wide[rate_h] = wide["codec"].map(g["bd_rate"])
        wide[delta_h] = wide["codec"].map(g["bd_metric"])
        digits[rate_h] = 2
        digits[delta_h] = 3 if metric in ("psnr",) or db else 4
    if "images" in df and df["images"].notna().any():
        imgs = df.groupby("codec", sort=False)["images"].first()
        wide["images"] = wide["codec"].map(imgs).astype("Int64")
    text = render(wide, fmt, digits=digits, bold=None, headers={"images": "images"})
    if df.attrs.get("stand_in_weights"):
        from evalkit.evaluate.annotations import STAND_IN_NOTE

        text += footnote(f"metric values {STAND_IN_NOTE}", fmt)
    return text
