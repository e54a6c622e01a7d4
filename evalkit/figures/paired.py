"""One metric, two methods, image by image (CLIC 2021 MCM, Figure 6): paired bars or a scatter.

Paired over the images both methods have (the intersection; the others are listed in
``dropped``).  Differences are ``a - b``.  An image is a win for the method whose value is better
in the metric's direction (registry: :func:`evalkit.metrics.higher_is_better`); equal values are
ties.  The test is the two-sided Wilcoxon signed-rank test of the paired values
(:func:`scipy.stats.wilcoxon`, its defaults: zero differences dropped, exact distribution for
small samples without ties); with fewer than two non-zero differences there is no test (NaN).

Table :func:`paired_frame` returns (one row per common image, sorted by ``diff``):
``image, a, b, diff`` (``a``/``b``: the metric's values of the two methods).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from evalkit.errors import FigureError

KINDS = ("bars", "scatter")
#: Colours of method a and b (Okabe-Ito blue / vermillion).
COLOURS = ("#0072B2", "#D55E00")


@dataclass(frozen=True)
class PairedStats:
    """Summary of a paired comparison of ``metric`` between methods ``a`` and ``b``."""

    metric: str
    a: str
    b: str
    n: int
    wins_a: int
    wins_b: int
    ties: int
    mean_diff: float          # mean of a - b
    median_diff: float
    wilcoxon_statistic: float  # NaN when no test is possible
    p_value: float
    higher_is_better: bool
    dropped: dict            # {method: [images only that method has]}
    note: str = ""           # e.g. stand-in weights (appended to the caption)

    def caption(self) -> str:
        """One paragraph: n, wins, mean difference, Wilcoxon test."""
        from evalkit.figures.facts import column_facts

        f = column_facts(self.metric)
        arrow = "higher is better" if self.higher_is_better else "lower is better"
        unit = f" {f.unit}" if f.unit else ""
        test = ("Wilcoxon signed-rank test: no test (fewer than 2 non-zero differences)"
                if math.isnan(self.p_value) else
                f"Wilcoxon signed-rank W = {self.wilcoxon_statistic:g}, p = {self.p_value:.3g}")
        return (f"{f.label} ({arrow}) over the {self.n} images both methods have: {self.a} better "
                f"on {self.wins_a}, {self.b} better on {self.wins_b}"
                + (f", {self.ties} tied" if self.ties else "")
                + f"; mean difference ({self.a} − {self.b}) = {self.mean_diff:+.{f.digits}f}{unit}"
                f"; {test}." + (f" Note: {self.note}." if self.note else ""))


def _method_values(results: pd.DataFrame, method: str, metric: str) -> pd.Series:
    codec, sep, setting = method.partition("/")
    if not sep or not codec or not setting:
        raise FigureError(f"methods must be codec/setting, got {method!r}")
    rows = results[(results["codec"].astype(str) == codec)
                   & (results["setting"].astype(str) == setting)]
    if rows.empty:
        known = sorted(set(results["codec"].astype(str) + "/" + results["setting"].astype(str)))
        raise FigureError(f"method {method!r} is not in the results (methods: "
                          f"{', '.join(known[:12])}{' ...' if len(known) > 12 else ''})")
    images = rows["image"].astype(str)
    if images.duplicated().any():
        raise FigureError(f"method {method!r} has several rows for image(s) "
                          f"{', '.join(sorted(set(images[images.duplicated()])))}")
    vals = pd.to_numeric(rows[metric], errors="coerce").astype(np.float64)
    return pd.Series(vals.to_numpy(), index=images.to_numpy(), name=method)


def paired_frame(results: pd.DataFrame, metric: str, a: str, b: str
                 ) -> tuple[pd.DataFrame, dict[str, list[str]]]:
    """Per-image values of ``a`` and ``b`` over their common images, and the dropped images.

    Images whose value is missing (NaN) for either method are dropped too (and listed)."""
    from evalkit.evaluate.results import check_results

    if a == b:
        raise FigureError(f"compare needs two different methods, got {a!r} twice")
    check_results(results, [metric])
    va, vb = _method_values(results, a, metric), _method_values(results, b, metric)
    common = sorted(set(va.index) & set(vb.index))
    dropped = {m: sorted(set(v.index) - set(common)) for m, v in ((a, va), (b, vb))}
    nan = [i for i in common if math.isnan(va[i]) or math.isnan(vb[i])]
    if nan:
        dropped["no value"] = nan
        common = [i for i in common if i not in nan]
    dropped = {k: v for k, v in dropped.items() if v}
    if not common:
        raise FigureError(f"{a} and {b} have no image with a {metric} value in common")
    df = pd.DataFrame({"image": common, "a": va[common].to_numpy(), "b": vb[common].to_numpy()})
    df["diff"] = df["a"] - df["b"]
    df = df.sort_values(["diff", "image"], kind="mergesort").reset_index(drop=True)
    return df, dropped


def paired_stats(results: pd.DataFrame, metric: str, a: str, b: str) -> tuple[PairedStats,
                                                                               pd.DataFrame]:
    """:class:`PairedStats` and the :func:`paired_frame` table."""
    from scipy.stats import wilcoxon

    from evalkit.figures.facts import column_facts

    higher = column_facts(metric).higher_is_better
    if higher is None:
        raise FigureError(f"{metric} is no quality metric (it has no better direction)")
    df, dropped = paired_frame(results, metric, a, b)
    d = df["diff"].to_numpy()
    better_a = d > 0 if higher else d < 0
    better_b = d < 0 if higher else d > 0
    stat, p = math.nan, math.nan
    if np.count_nonzero(d) >= 2:
        res = wilcoxon(df["a"].to_numpy(), df["b"].to_numpy())
        stat, p = float(res.statistic), float(res.pvalue)
    from evalkit.evaluate.annotations import STAND_IN_NOTE, stand_in_used

    note = f"metric values {STAND_IN_NOTE}" if stand_in_used(results) else ""
    stats = PairedStats(metric, a, b, len(df), int(better_a.sum()), int(better_b.sum()),
                        int((d == 0).sum()), float(d.mean()), float(np.median(d)), stat, p,
                        bool(higher), dropped, note)
    return stats, df


#: Widest bar figure (inches) and the most images whose names are printed under the bars.
MAX_WIDTH_IN = 10.0
LABELLED_BARS = 36


def paired_figure(stats: PairedStats, df: pd.DataFrame, *, kind: str = "bars",
                  title: str | None = None, caption: bool = True):
    """The matplotlib figure: ``bars`` (per image, a and b side by side, images sorted by
    ``a - b``) or ``scatter`` (``b`` on x, ``a`` on y, the diagonal ``a = b``, points labelled)."""
    import matplotlib.pyplot as plt

    from evalkit.figures.facts import header
    from evalkit.plotstyle import paper_style

    if kind not in KINDS:
        raise FigureError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
    label = header(stats.metric, direction=True)
    n = len(df)
    with paper_style():
        if kind == "bars":
            # a paper page is at most ~10 in wide: beyond LABELLED_BARS images the bars get
            # thinner and the names (unreadable then) are left to the --csv table
            fig, ax = plt.subplots(figsize=(min(MAX_WIDTH_IN, max(4.8, 0.22 * n + 1.5)), 3.4))
            x = np.arange(n)
            ax.bar(x - 0.2, df["a"], width=0.4, color=COLOURS[0], label=stats.a)
            ax.bar(x + 0.2, df["b"], width=0.4, color=COLOURS[1], label=stats.b)
            ax.set_xlim(-0.6, n - 0.4)
            ax.set_ylabel(label)
            if n <= LABELLED_BARS:
                ax.set_xticks(x)
                ax.set_xticklabels(df["image"], rotation=90, fontsize=7)
                ax.set_xlabel(f"image (sorted by {stats.a} − {stats.b})")
            else:
                ax.set_xticks([])
                ax.set_xlabel(f"{n} images, sorted by {stats.a} − {stats.b} "
                              "(names: the per-image table, --csv)")
            lo, hi = float(np.nanmin(df[["a", "b"]].to_numpy())), \
                float(np.nanmax(df[["a", "b"]].to_numpy()))
            if np.isfinite(lo) and np.isfinite(hi) and lo > 0 and (hi - lo) < 0.5 * hi:
                pad = 0.1 * (hi - lo) or 0.05 * hi  # zoom in: bars from 0 hide the differences
                ax.set_ylim(lo - pad, hi + pad)
            ax.grid(axis="x", visible=False)
            ax.legend(loc="best", frameon=False)
        else:
            fig, ax = plt.subplots(figsize=(4.2, 4.2))
            vals = df[["a", "b"]].to_numpy()
            finite = vals[np.isfinite(vals)]
            lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
            pad = 0.05 * (hi - lo) or 0.05 * (abs(hi) or 1)
            lim = (lo - pad, hi + pad)
            ax.plot(lim, lim, color="0.5", linewidth=0.8, linestyle="--", zorder=1)
            better = df["diff"] > 0 if stats.higher_is_better else df["diff"] < 0
            worse = df["diff"] < 0 if stats.higher_is_better else df["diff"] > 0
            for mask, colour, name in ((better, COLOURS[0], f"{stats.a} better"),
                                       (worse, COLOURS[1], f"{stats.b} better"),
                                       (df["diff"] == 0, "0.4", "tie")):
                if mask.any():
                    ax.scatter(df.loc[mask, "b"], df.loc[mask, "a"], s=14, color=colour,
                               label=name, zorder=2)
            for _, row in df.iterrows():
                ax.annotate(str(row["image"]), (row["b"], row["a"]), xytext=(2, 2),
                            textcoords="offset points", fontsize=5.5, color="0.25")
            ax.set_xlim(lim)
            ax.set_ylim(lim)
            ax.set_aspect("equal")
            ax.set_xlabel(f"{stats.b}: {label}")
            ax.set_ylabel(f"{stats.a}: {label}")
            ax.legend(loc="best", frameon=False)
        if title:
            ax.set_title(title)
        if caption:
            import textwrap

            width_chars = int(fig.get_size_inches()[0] * 72 / (0.5 * 7.5))
            # below everything the axes draw (tick labels, x label), in figure coordinates
            box = ax.get_tightbbox(fig.canvas.get_renderer())
            y = box.y0 / fig.bbox.height - 0.02
            fig.text(0.01, y, "\n".join(textwrap.wrap(stats.caption(), width_chars)),
                     ha="left", va="top", fontsize=7.5, transform=fig.transFigure)
    return fig


def write_paired_figure(stats: PairedStats, df: pd.DataFrame, out: str | Path, *,
                        kind: str = "bars", title: str | None = None,
                        formats: Sequence[str] | None = None) -> list[str]:
    """Write the figure (``.pdf``/``.png``/``.svg``; or each suffix of ``formats``)."""
    import matplotlib.pyplot as plt

    from evalkit.plotstyle import figure_targets
    from evalkit.provenance import atomic_target

    targets = figure_targets(out, formats, error=FigureError)
    written = []
    for t in targets:
        fig = paired_figure(stats, df, kind=kind, title=title)
        with atomic_target(t) as tmp:
            fig.savefig(tmp, format=t.suffix[1:].lower(), bbox_inches="tight")
        plt.close(fig)
        written.append(str(t))
    return written
