"""Paper-quality RD plots: one curve per codec, one panel per metric, optional published curves.

Results-table codecs are drawn over the images all of them have (an
:class:`~evalkit.rd.imageset.ImageSetWarning` names what was left out) and the legend title
says how many.  Published curves are drawn dashed and labelled with their source and training
objective (``mbt2018-mean (CompressAI, MSE)``, see :func:`evalkit.rd.labels.reference_label`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from evalkit.errors import RDError
from evalkit.rd.compressai_json import RDCurve
from evalkit.rd.labels import metric_header

#: Markers cycled over curves that have no ``styles`` entry.
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "<", ">", "*")


def axis_label(metric: str, ms_ssim_db: bool = False) -> str:
    """Y-axis label: name, unit and direction (``PSNR [dB] ↑``, ``LPIPS ↓``)."""
    return metric_header(metric, ms_ssim_db)


def parse_style(text: str) -> dict[str, str]:
    """``"red,s"`` / ``"C3"`` / ``",^"`` -> ``{"color": ..., "marker": ...}`` (empty parts
    omitted); a marker must be one matplotlib knows."""
    from matplotlib.colors import is_color_like
    from matplotlib.markers import MarkerStyle

    color, _, marker = (p.strip() for p in text.partition(","))
    out = {}
    if color:
        if not is_color_like(color):
            raise RDError(f"style colour must be a matplotlib colour (red, C3, #1f77b4), "
                          f"got {color!r}")
        out["color"] = color
    if marker:
        if marker not in MarkerStyle.markers:
            raise RDError(f"style marker must be a matplotlib marker (o, s, ^, D, x...), "
                          f"got {marker!r}")
        out["marker"] = marker
    return out


def _limits(value, metric: str | None = None):
    if value is None:
        return None
    if isinstance(value, dict):  # per metric; the None key applies to metrics not named
        return value.get(metric, value.get(None))
    return value


def _draw_curves(ax, metric, pts, refs, labels, styles, ms_ssim_db) -> None:
    from evalkit.rd.curves import reference_points
    from evalkit.rd.labels import reference_label

    k = 0
    for codec, g in pts.groupby("codec", sort=False):
        st = {"marker": MARKERS[k % len(MARKERS)], "color": f"C{k % 10}",
              **styles.get(str(codec), {})}
        ax.plot(g["bpp"], g["value"], label=labels.get(str(codec), str(codec)), **st)
        k += 1
    for key, ref in refs.items():
        rp = reference_points(key, ref, metric, ms_ssim_db)
        if rp is None:
            continue
        st = {"marker": "x", "color": f"C{k % 10}", "linestyle": "--", **styles.get(key, {})}
        ax.plot(rp["bpp"], rp["value"], label=labels.get(key, reference_label(key, ref.name)),
                **st)
        k += 1


def plot_rd(table: pd.DataFrame | None, metrics: Sequence[str] = ("psnr",),
            out: str | Path | None = None, *, references: Sequence[str | Path | RDCurve] = (),
            ms_ssim_db: bool = False, pooling: str = "mean", codecs: Sequence[str] | None = None,
            title: str | None = None, formats: Sequence[str] | None = None,
            labels: dict[str, str] | None = None, styles: dict[str, dict | str] | None = None,
            xlim: tuple[float, float] | None = None,
            ylim: tuple[float, float] | dict[str, tuple[float, float]] | None = None,
            log_bpp: bool = False, note: str | None = None):
    """Draw RD curves (bpp on x, one panel per metric, one line per codec).

    Args:
        table: results or summary table (None: published curves only).
        metrics: metric columns, one panel each.
        out: file to write (``.png``, ``.pdf``, ``.svg``); None returns the figure unsaved.
        references: published curve names (``compressai-kodak/vtm``), CompressAI JSON files or
            :class:`RDCurve` objects, drawn dashed (a reference without a panel's metric is
            skipped in that panel).
        ms_ssim_db: MS-SSIM as ``-10*log10(1-x)``.
        pooling: ``"mean"`` or ``"clic"`` (see :mod:`evalkit.rd.points`); references need mean.
        codecs: codecs to draw, in legend order (all when None).
        title: figure title.
        formats: write ``out`` with each of these suffixes instead (e.g. ``("png", "pdf")``).
        labels: display names, ``{codec or reference spec: name}``.
        styles: ``{codec or reference spec: {"color":..., "marker":...} or "color,marker"}``.
        xlim, ylim: axis limits; ``ylim`` may be ``{metric: (lo, hi)}`` (key None: the rest).
        log_bpp: logarithmic rate axis.
        note: a line printed under the axes (e.g. that stand-in weights were used).

    Returns:
        The list of written paths, or the matplotlib figure when ``out`` is None.
    """
    from evalkit.plotstyle import paper_style, plt, save_figure
    from evalkit.rd.curves import (
        check_pooling,
        load_curves,
        table_points,
    )

    if not metrics:
        raise RDError("metrics must name at least one column, got none")
    labels = dict(labels or {})
    styles = {k: (parse_style(v) if isinstance(v, str) else dict(v))
              for k, v in (styles or {}).items()}
    refs = load_curves(references)
    check_pooling(refs, pooling)
    if table is None and not refs:
        raise RDError("rd needs a results table or at least one --reference curve")
    from evalkit.evaluate.annotations import STAND_IN_NOTE, stand_in_used

    if note is None and table is not None and stand_in_used(table):
        note = f"Metric values {STAND_IN_NOTE}."
    known = set(refs) | (set(table["codec"].astype(str)) if table is not None else set())
    for what, keys in (("labels", labels), ("styles", styles)):
        unknown = sorted(set(keys) - known)
        if unknown:
            raise RDError(f"{what} must name drawn codecs or references, got unknown "
                          f"{', '.join(unknown)}; drawn: {', '.join(sorted(known))}")
    panels = {}
    n_images = None
    for m in metrics:
        pts, common = table_points(table, m, codecs=codecs, pooling=pooling,
                                   ms_ssim_db=ms_ssim_db, what="RD curves drawn")
        panels[m] = pts
        if common is not None:
            n_images = common.images
    with paper_style():
        w, h = plt.rcParams["figure.figsize"]
        fig, axes = plt.subplots(1, len(metrics), figsize=(w * len(metrics), h), squeeze=False)
        for ax, metric in zip(axes[0], metrics):
            _draw_curves(ax, metric, panels[metric], refs, labels, styles, ms_ssim_db)
            ax.set_xlabel("Rate [bpp]" if pooling == "mean"
                          else "Rate [bpp, total bits / total pixels]")
            if log_bpp:
                ax.set_xscale("log")
            if xlim is not None:
                ax.set_xlim(*xlim)
            lim = _limits(ylim, metric)
            if lim is not None:
                ax.set_ylim(*lim)
            ax.set_ylabel(axis_label(metric, ms_ssim_db))
            legend_title = (f"over {n_images} image{'s' if n_images != 1 else ''}"
                            if n_images else None)
            ax.legend(loc="best", frameon=False, title=legend_title)
        if title:
            fig.suptitle(title)
        fig.tight_layout()
        if note:
            fig.text(0.01, -0.02, note, fontsize=7, color="firebrick", ha="left", va="top")
        if out is None:
            return fig
        return save_figure(fig, out, tuple(formats) if formats else None)
