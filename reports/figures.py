"""Paper-style matplotlib figures of a report, each saved as PNG and PDF.

Every function takes the output directory and a figure stem and returns the written paths
(PNG first), or an empty list when there is nothing to draw.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from evalkit.plotstyle import paper_style, save_figure

FORMATS = ("png", "pdf")


def _save(fig, out: Path, stem: str) -> list[str]:
    return save_figure(fig, out / stem, formats=FORMATS)


def ranking_figure(table: pd.DataFrame, scale: str, level: float, out: Path,
                   stem: str = "ranking") -> list[str]:
    import matplotlib.pyplot as plt

    if table.empty:
        return []
    t = table.iloc[::-1]
    with paper_style():
        fig, ax = plt.subplots(figsize=(4.8, max(1.6, 0.22 * len(t) + 0.8)))
        y = np.arange(len(t))
        err = np.vstack([t["score"] - t["ci_low"], t["ci_high"] - t["score"]])
        ax.errorbar(t["score"], y, xerr=np.where(np.isfinite(err), err, 0), fmt="o",
                    capsize=2, color="C0")
        ax.set_yticks(y, t["method"])
        ax.set_xlabel(f"{scale}, {round(level * 100, 2):g}% bootstrap CI")
        ax.grid(axis="y", visible=False)
        return _save(fig, out, stem)


def win_rate_figure(comparisons: pd.DataFrame, level: float, out: Path, stem: str = "win_rates",
                    max_rows: int = 30) -> list[str]:
    import matplotlib.pyplot as plt

    c = comparisons[comparisons["n"] > 0]
    if c.empty:
        return []
    c = c.sort_values("n", ascending=False).head(max_rows).iloc[::-1]
    with paper_style():
        fig, ax = plt.subplots(figsize=(4.8, max(1.6, 0.22 * len(c) + 0.8)))
        y = np.arange(len(c))
        wr = 100 * c["win_rate"].to_numpy()
        err = np.vstack([wr - 100 * c["ci_low"].to_numpy(), 100 * c["ci_high"].to_numpy() - wr])
        err = np.clip(err, 0.0, None)  # matplotlib refuses -1e-15 from round-off
        ax.errorbar(wr, y, xerr=err, fmt="o", capsize=2, color="C0")
        ax.axvline(50, color="0.4", lw=0.8, ls="--")
        ax.set_yticks(y, [f"{a} vs {b}" for a, b in zip(c["method_a"], c["method_b"])])
        ax.set_xlim(0, 100)
        ax.set_xlabel(f"% votes for the first method ({round(level * 100, 2):g}% Wilson CI)")
        ax.grid(axis="y", visible=False)
        return _save(fig, out, stem)


def per_image_figure(per_item: pd.DataFrame, out: Path, stem: str = "per_image",
                     max_panels: int = 4) -> list[str]:
    """Stacked bars per image (wins of each side, ties) for the most-voted comparisons."""
    import matplotlib.pyplot as plt

    if per_item.empty:
        return []
    totals = (per_item.assign(n=per_item[["wins_a", "wins_b", "ties"]].sum(axis=1))
              .groupby(["method_a", "method_b"])["n"].sum().sort_values(ascending=False))
    pairs = list(totals.index[:max_panels])
    n_items = max(len(per_item[(per_item["method_a"] == a) & (per_item["method_b"] == b)])
                  for a, b in pairs)
    with paper_style():
        fig, axes = plt.subplots(len(pairs), 1, squeeze=False,
                                 figsize=(max(4.8, 0.16 * n_items + 1.5), 2.6 * len(pairs)))
        for ax, (a, b) in zip(axes[:, 0], pairs):
            g = per_item[(per_item["method_a"] == a) & (per_item["method_b"] == b)]
            tot = g[["wins_a", "wins_b", "ties"]].sum(axis=1).to_numpy(float)
            x = np.arange(len(g))
            fa, ft = g["wins_a"] / tot, g["ties"] / tot
            ax.bar(x, fa, color="C0", label=a)
            ax.bar(x, ft, bottom=fa, color="0.75", label="tie")
            ax.bar(x, g["wins_b"] / tot, bottom=fa + ft, color="C1", label=b)
            ax.set_xticks(x, g["item"], rotation=90, fontsize=6)
            ax.set_ylim(0, 1)
            ax.set_ylabel("share of votes")
            ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
            ax.grid(axis="x", visible=False)
        fig.tight_layout()
        return _save(fig, out, stem)


def score_vs_bpp_figure(table: pd.DataFrame, bpp: pd.Series, family: dict[str, str], scale: str,
                        level: float, out: Path, stem: str = "ranking_vs_bpp") -> list[str]:
    import matplotlib.pyplot as plt

    t = table[table["method"].isin(bpp.index)].copy()
    if t.empty:
        return []
    t["bpp"] = t["method"].map(bpp)
    t["family"] = t["method"].map(family)
    with paper_style():
        fig, ax = plt.subplots()
        for k, (fam, g) in enumerate(t.sort_values("bpp").groupby("family", sort=True)):
            err = np.vstack([g["score"] - g["ci_low"], g["ci_high"] - g["score"]])
            ax.errorbar(g["bpp"], g["score"], yerr=np.where(np.isfinite(err), err, 0), fmt="-o",
                        capsize=2, color=f"C{k % 10}", label=fam)
        ax.set_xlabel("bits per pixel")
        ax.set_ylabel(f"{scale}\n({round(level * 100, 2):g}% bootstrap CI)")
        ax.legend(frameon=False)
        return _save(fig, out, stem)


def metric_agreement_figure(agreement: pd.DataFrame, level: float, out: Path,
                            stem: str = "metric_agreement", note: str | None = None) -> list[str]:
    import matplotlib.pyplot as plt

    a = agreement[(agreement["level"] == "image") & (agreement["judged"] > 0)]
    if a.empty:
        return []
    a = a.sort_values("agreement", ascending=False)
    with paper_style():
        fig, ax = plt.subplots()
        x = np.arange(len(a))
        v = 100 * a["agreement"].to_numpy()
        err = np.vstack([v - 100 * a["ci_low"].to_numpy(), 100 * a["ci_high"].to_numpy() - v])
        ax.bar(x, v, yerr=err, capsize=3, color="C0")
        ax.axhline(50, color="0.4", lw=0.8, ls="--")
        ax.set_xticks(x, a["metric"])
        ax.set_ylim(0, 100)
        ax.set_ylabel(f"% agreement with human majority\n({round(level * 100, 2):g}% Wilson CI)")
        ax.grid(axis="x", visible=False)
        if note:
            ax.set_title(note, fontsize=8, color="firebrick")
        return _save(fig, out, stem)
