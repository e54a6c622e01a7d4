"""The per-method table (CLIC 2019, Table 1): one row per method, dataset-level columns.

``Method | PSNR [dB] | MS-SSIM | Bytes | bpp | Decoding time [s]`` -- the CLIC aggregates
(``psnr_agg``, ``ms_ssim_agg``, ``bpp_agg``), total ``bytes`` and the total decoding time
(``decode_s_total``) of each ``codec/setting``, computed over the images **every** listed method
has (:func:`evalkit.rd.imageset.common_images`; the dropped images are returned so callers can
name them).  Any summary
column can be asked for (``psnr``, ``lpips``, ``encode_s``...).  The best value of each metric
column is bold; rate, size and time columns never are.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from evalkit.errors import MetricError, RDError, ResultsError

#: Columns of the CLIC 2019 Table 1 layout, in order (those the results can give are shown).
DEFAULT_COLUMNS: tuple[str, ...] = ("psnr_agg", "ms_ssim_agg", "bytes", "bpp_agg",
                                    "decode_s_total")


@dataclass(frozen=True)
class MethodTable:
    """``frame``: ``method`` + the columns; ``bold``: ``{column: {row, ...}}``; ``images``: the
    common images used; ``dropped``: ``{method: [images left out because others lack them]}``."""

    frame: pd.DataFrame
    bold: dict[str, set]
    images: tuple[str, ...]
    dropped: dict[str, list[str]]


def _methods(results: pd.DataFrame, codecs: Sequence[str] | None) -> list[tuple[str, str]]:
    present = list(dict.fromkeys(zip(results["codec"].astype(str), results["setting"].astype(str))))
    if not codecs:
        return sorted(present)
    out: list[tuple[str, str]] = []
    for c in codecs:
        codec, _, setting = c.partition("/")
        hits = [m for m in present if m[0] == codec and (not setting or m[1] == setting)]
        if not hits:
            raise ResultsError(f"codecs must name codec or codec/setting in the results, got {c!r}")
        out += [m for m in hits if m not in out]
    return out


def method_table_frame(results: pd.DataFrame, *, codecs: Sequence[str] | None = None,
                       columns: Sequence[str] | None = None) -> MethodTable:
    """The table as data (see :class:`MethodTable`); rows in the order ``codecs`` gives."""
    from evalkit.evaluate.aggregates import summarize
    from evalkit.evaluate.results import check_results
    from evalkit.figures.facts import column_facts
    from evalkit.rd.imageset import common_images

    check_results(results)
    methods = _methods(results, codecs)
    key = results["codec"].astype(str) + "/" + results["setting"].astype(str)
    names = [f"{c}/{s}" for c, s in methods]
    try:
        common = common_images(results[key.isin(names)])
    except RDError as exc:  # no image in common
        raise ResultsError(str(exc)) from None
    sub = common.table
    dropped: dict[str, list[str]] = {}
    for image, lacking in common.dropped.items():
        for method in names:
            if method not in lacking:
                dropped.setdefault(method, []).append(image)
    summary = summarize(sub)
    summary["method"] = summary["codec"].astype(str) + "/" + summary["setting"].astype(str)
    summary = summary.set_index("method").loc[names].reset_index()
    if columns:
        unknown = [c for c in columns if c not in summary.columns]
        if unknown:
            raise ResultsError(f"columns must be summary columns of the results, got "
                               f"{', '.join(unknown)}; available: "
                               f"{', '.join(c for c in summary.columns if c != 'method')}")
        cols = list(columns)
    else:
        cols = [c for c in DEFAULT_COLUMNS if c in summary.columns and summary[c].notna().any()]
    frame = summary[["method", *cols]].reset_index(drop=True)
    bold: dict[str, set] = {}
    for c in cols:
        try:
            higher = column_facts(c).higher_is_better
        except MetricError:  # a column that is no metric (user's own): never bold
            higher = None
        if higher is None:
            continue
        vals = pd.to_numeric(frame[c], errors="coerce").astype(np.float64)
        if vals.notna().any():
            best = vals.max() if higher else vals.min()
            bold[c] = set(frame.index[vals == best])
    images = tuple(sorted(set(sub["image"].astype(str))))
    return MethodTable(frame, bold, images, dropped)


def method_table(results: pd.DataFrame, *, codecs: Sequence[str] | None = None,
                 columns: Sequence[str] | None = None, fmt: str = "markdown") -> tuple[str, MethodTable]:
    """The per-method table as text (``markdown``, ``latex`` booktabs, ``html`` or ``csv``) and
    its data; headers name the unit (``PSNR [dB]``, ``Decoding time [s]``)."""
    from evalkit.figures.facts import column_facts, header
    from evalkit.table_render import render_table

    table = method_table_frame(results, codecs=codecs, columns=columns)
    heads = {"method": "Method"}
    digits = {}
    for c in table.frame.columns[1:]:
        try:
            text, digits[c] = header(c), column_facts(c).digits
        except MetricError:  # a user's own column: its name, 4 decimals
            text, digits[c] = c, 4
        if text in heads.values():  # e.g. bpp and bpp_agg both asked for
            text = f"{text} ({c})"
        heads[c] = text
    text = render_table(table.frame, fmt, digits=digits, default_digits=4, bold=table.bold,
                        headers=heads)
    from evalkit.evaluate.annotations import STAND_IN_NOTE, stand_in_used

    if stand_in_used(results):
        from evalkit.rd.bd import footnote

        text += footnote(f"metric values {STAND_IN_NOTE}", fmt)
    return text, table
