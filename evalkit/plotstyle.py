"""Paper-quality matplotlib styling, applied in a context so nothing leaks between figures."""

from __future__ import annotations

import contextlib
from typing import Iterator

import matplotlib

matplotlib.use("Agg")  # figures are files; never open a window
import matplotlib.pyplot as plt  # noqa: E402

PAPER_RC = {
    "figure.figsize": (4.8, 3.6),
    "figure.dpi": 150,
    "savefig.dpi": 300,
    "savefig.bbox": "tight",
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.labelsize": 9,
    "legend.fontsize": 8,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "grid.linewidth": 0.5,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "lines.linewidth": 1.4,
    "lines.markersize": 4,
    "pdf.fonttype": 42,  # embed TrueType: editable text in camera-ready PDFs
    "ps.fonttype": 42,
}


@contextlib.contextmanager
def paper_style(**overrides) -> Iterator[None]:
    """``with paper_style(): fig, ax = plt.subplots() ...`` -- rcParams restored afterwards."""
    with plt.rc_context({**PAPER_RC, **overrides}):
        yield


def figure_targets(path, formats=None, *, supported=("pdf", "png", "svg"), error=None) -> list:
    """The files a figure is written to: ``path`` (its suffix gives the format) or ``path`` with
    each suffix of ``formats``.  Every suffix is checked against ``supported`` before anything is
    written; a bad one raises ``error`` (default :class:`evalkit.errors.OutputError`)."""
    from pathlib import Path

    from evalkit.errors import OutputError

    path = Path(path)
    targets = [path] if not formats else [path.with_suffix("." + f.lstrip(".")) for f in formats]
    for t in targets:
        if t.suffix.lstrip(".").lower() not in supported:
            raise (error or OutputError)(
                f"{t}: figure format {t.suffix or '(none)'!r} is not supported; use "
                + ", ".join("." + s for s in ("png", "pdf", "svg") if s in supported))
    return targets


def save_figure(fig, path, formats: tuple[str, ...] | None = None) -> list[str]:
    """Save ``fig`` to ``path`` (its suffix gives the format) or to ``path`` with each suffix in
    ``formats``; closes the figure. Returns the written paths."""
    from evalkit.provenance import atomic_target

    try:
        targets = figure_targets(path, formats, supported=fig.canvas.get_supported_filetypes())
        for t in targets:  # atomically: a full disk leaves no half-written figure
            with atomic_target(t, suffix=t.suffix) as tmp:
                fig.savefig(tmp, format=t.suffix.lstrip(".").lower())
    finally:
        plt.close(fig)
    return [str(t) for t in targets]
