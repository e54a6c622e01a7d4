"""Paper-quality RD plots: one curve per codec, one panel per metric, optional published curves."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from evalkit.errors import RDError
from evalkit.rd.compressai_json import RDCurve, load_reference
from evalkit.rd.points import ms_ssim_to_db, rd_points


def axis_label(metric: str, ms_ssim_db: bool = False) -> str:
    """Y-axis label; lower-is-better metrics say so."""
    if metric == "ms_ssim" and ms_ssim_db:
        label = "MS-SSIM [dB]"
    else:
        from evalkit.metrics.registry import REGISTRY

        spec = REGISTRY.get(metric)  # None: not a registered metric (e.g. a reference file's)
        label = metric if spec is None else spec.display
        if spec is not None:
            if spec.unit:
                label += f" [{spec.unit}]"
            if not spec.higher_is_better:
                label += " (lower is better)"
    return label


def _reference_points(curve: RDCurve, metric: str, ms_ssim_db: bool):
    if metric not in curve.metrics:
        return None
    pts = sorted(zip(curve.bpp, curve.metrics[metric]))
    xs = [p[0] for p in pts]
    ys = [p[1] for p in pts]
    if metric == "ms_ssim" and ms_ssim_db:
        ys = list(ms_ssim_to_db(ys))
    return xs, ys


def plot_rd(table: pd.DataFrame, metrics: Sequence[str] = ("psnr",), out: str | Path | None = None,
            *, references: Sequence[str | Path | RDCurve] = (), ms_ssim_db: bool = False,
            pooling: str = "mean", codecs: Sequence[str] | None = None, title: str | None = None,
            formats: Sequence[str] | None = None):
    """Draw RD curves (bpp on x, one panel per metric, one line per codec).

    Args:
        table: results or summary table.
        metrics: metric columns, one panel each.
        out: file to write (``.png``, ``.pdf``, ``.svg``); None returns the figure unsaved.
        references: CompressAI JSON files, published curve names or :class:`RDCurve` objects,
            drawn dashed (a reference without a panel's metric is skipped in that panel).
        ms_ssim_db: MS-SSIM as ``-10*log10(1-x)``.
        pooling: ``"mean"`` or ``"clic"`` (see :mod:`evalkit.rd.points`).
        codecs: codecs to draw, in legend order (all when None).
        title: figure title.
        formats: write ``out`` with each of these suffixes instead (e.g. ``("png", "pdf")``).

    Returns:
        The list of written paths, or the matplotlib figure when ``out`` is None.
    """
    from evalkit.plotstyle import paper_style, plt, save_figure

    if not metrics:
        raise RDError("metrics must name at least one column, got none")
    refs = [r if isinstance(r, RDCurve) else load_reference(r) for r in references]
    panels = {m: rd_points(table, m, pooling=pooling, ms_ssim_db=ms_ssim_db,
                           codecs=list(codecs) if codecs else None) for m in metrics}
    with paper_style():
        w, h = plt.rcParams["figure.figsize"]
        fig, axes = plt.subplots(1, len(metrics), figsize=(w * len(metrics), h), squeeze=False)
        for ax, metric in zip(axes[0], metrics):
            pts = panels[metric]
            for codec, g in pts.groupby("codec", sort=False):
                ax.plot(g["bpp"], g["value"], marker="o", label=str(codec))
            for ref in refs:
                xy = _reference_points(ref, metric, ms_ssim_db)
                if xy:
                    ax.plot(*xy, linestyle="--", marker="x", label=f"{ref.name} (published)")
            ax.set_xlabel("Rate [bpp]" if pooling == "mean"
                          else "Rate [bpp, total bits / total pixels]")
            ax.set_ylabel(axis_label(metric, ms_ssim_db))
            ax.legend(loc="best", frameon=False)
        if title:
            fig.suptitle(title)
        fig.tight_layout()
        if out is None:
            return fig
        return save_figure(fig, out, tuple(formats) if formats else None)
