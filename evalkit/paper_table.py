"""The per-image table papers print (e.g. CLIC 2021 MCM, Table 1): image x method, bpp + metrics.

Rows are ``image, codec, setting`` (one per operating point), columns ``bpp`` and the chosen
metrics.  The best value of each metric *per image* is bold (highest for higher-is-better
metrics, lowest for the others; ties are all bold); bpp is the rate, so it is never bold.

Formats: ``markdown`` (pipe table, ``**bold**``), ``latex`` (booktabs: ``\\toprule``,
``\\midrule`` between images, ``\\bottomrule``; ``\\textbf``; needs ``\\usepackage{booktabs}``)
and ``csv`` (full-precision numbers, no bold).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from evalkit.errors import ResultsError
from evalkit.metrics.registry import REGISTRY
from evalkit.table_render import render_table

FORMATS = ("markdown", "latex", "csv")
#: Decimals shown per column (others: 4); metric columns take theirs from the registry.
DIGITS = {"bpp": 3, "psnr_agg": 2, **{s.name: s.digits for s in REGISTRY.values()}}
HEADERS = {"bpp": "Bpp", "image": "Image", "codec": "Codec", "setting": "Setting",
           **{s.name: s.display for s in REGISTRY.values()}}


def latex_arrows(text: str) -> str:
    """``↑``/``↓`` of headers as ``$\\uparrow$``/``$\\downarrow$`` (plain pdflatex has no glyph)."""
    return text.replace("↑", "$\\uparrow$").replace("↓", "$\\downarrow$")


def render(df: pd.DataFrame, fmt: str = "markdown", *, digits: int | dict | None = None,
           bold: dict[str, set] | None = None, group: str | None = None,
           headers: dict[str, str] | None = None) -> str:
    """Render ``df`` as ``markdown``, ``latex`` (booktabs) or ``csv`` with the paper-table
    headers (:data:`HEADERS`) and decimals (:data:`DIGITS`), through
    :func:`evalkit.table_render.render_table`.

    Args:
        digits: decimals for every float column, or per column (default :data:`DIGITS`, else 4).
        bold: ``{column: {row index, ...}}`` cells to set in bold (ignored for csv).
        headers: display names overriding :data:`HEADERS` (e.g. with units and arrows).
        group: column whose value changes start a new ``\\midrule`` block in LaTeX.
    """
    if fmt not in FORMATS:
        raise ResultsError(f"format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    if not isinstance(digits, int):
        digits = {**DIGITS, **(digits or {})}
    text = render_table(df, fmt, digits=digits, default_digits=4, bold=bold, group=group,
                        headers={**HEADERS, **(headers or {})})
    return latex_arrows(text) if fmt == "latex" else text


def _select(results: pd.DataFrame, images, codecs) -> pd.DataFrame:
    df = results
    if images:
        unknown = sorted(set(images) - set(df["image"]))
        if unknown:
            raise ResultsError(f"images must be in the results, got unknown {', '.join(unknown)}")
        df = df[df["image"].isin(images)]
    if codecs:
        keep = np.zeros(len(df), dtype=bool)
        for c in codecs:
            codec, _, setting = c.partition("/")
            hit = (df["codec"] == codec).to_numpy().copy()
            if setting:
                hit &= (df["setting"] == setting).to_numpy()
            if not hit.any():
                raise ResultsError(f"codecs must name codec or codec/setting in the results, "
                                   f"got {c!r}")
            keep |= hit
        df = df[keep]
    return df


def _codec_rank(df: pd.DataFrame, codecs) -> pd.Series:
    """Position of each row's first matching ``codecs`` entry (the order the user gave)."""
    rank = pd.Series(len(codecs), index=df.index, dtype=np.int64)
    for i, c in reversed(list(enumerate(codecs))):
        codec, _, setting = c.partition("/")
        hit = df["codec"] == codec
        if setting:
            hit &= df["setting"] == setting
        rank[hit] = i
    return rank


def paper_table_frame(results: pd.DataFrame, *, images: Sequence[str] | None = None,
                      codecs: Sequence[str] | None = None,
                      metrics: Sequence[str] | None = None,
                      columns: Sequence[str] | None = None) -> tuple[pd.DataFrame, dict]:
    """The table as a DataFrame (``image, codec, setting, [columns], bpp, <metrics>``) and its
    bold cells.  Rows: images in the order given (else sorted), codecs in the order of
    ``codecs`` (else sorted), settings by bpp.  ``columns``: extra descriptive columns of the
    results table shown after ``setting`` (e.g. ``model``, ``weights_verified``)."""
    from evalkit.evaluate.results import check_results, metric_columns
    from evalkit.metrics import higher_is_better

    check_results(results, list(metrics or ()), columns=("codec", "setting", "image", "bpp"))
    extra = list(columns or ())
    missing = [c for c in extra if c not in results.columns]
    if missing:
        raise ResultsError(f"columns must be columns of the results table, got "
                           f"{', '.join(missing)}; available: "
                           f"{', '.join(map(str, results.columns))}")
    metrics = list(metrics) if metrics else [
        c for c in metric_columns(results)
        if c not in extra and pd.api.types.is_numeric_dtype(results[c])
        and not pd.api.types.is_bool_dtype(results[c])]
    df = _select(results, images, codecs)
    img_order = {n: i for i, n in enumerate(images)} if images else None
    df = df.assign(_img=df["image"].map(img_order) if img_order else df["image"],
                   _codec=_codec_rank(df, codecs) if codecs else df["codec"])
    df = df.sort_values(["_img", "_codec", "codec", "bpp"], kind="stable")
    df = df[["image", "codec", "setting", *extra, "bpp", *metrics]].reset_index(drop=True)
    bold: dict[str, set] = {}
    for m in metrics:
        vals = df[m].astype(np.float64)
        best = vals.groupby(df["image"]).transform("max" if higher_is_better(m) else "min")
        bold[m] = set(df.index[(vals == best) & vals.notna()])
    return df, bold


def display_headers(df: pd.DataFrame) -> dict[str, str]:
    """Headers naming unit and direction: ``PSNR [dB] ↑``, ``MS-SSIM ↑``, ``LPIPS ↓``, ``bpp``."""
    from evalkit.rd.labels import metric_header

    out = {"bpp": "bpp"}
    out.update({c: metric_header(c) for c in df.columns if c in REGISTRY})
    return out


def paper_table(results: pd.DataFrame, *, images: Sequence[str] | None = None,
                codecs: Sequence[str] | None = None, metrics: Sequence[str] | None = None,
                fmt: str = "markdown", columns: Sequence[str] | None = None) -> str:
    """The per-image paper table as text (see the module docstring).

    Args:
        results: per-image results table.
        images: images to include, in this order (all when None).
        codecs: ``codec`` or ``codec/setting`` entries to include, rows in this order (all
            when None).
        metrics: metric columns (all metric columns of the table when None).
        fmt: ``markdown``, ``latex`` or ``csv`` (csv keeps the column names).
        columns: extra descriptive columns to show (e.g. ``model``).

    Headers name unit and direction (``PSNR [dB] ↑``); the best value per image is bold.
    """
    df, bold = paper_table_frame(results, images=images, codecs=codecs, metrics=metrics,
                                 columns=columns)
    text = render(df, fmt, bold=bold, group="image", headers=display_headers(df))
    from evalkit.evaluate.annotations import STAND_IN_NOTE, stand_in_used

    if stand_in_used(results):
        from evalkit.rd.bd import footnote

        text += footnote(f"metric values {STAND_IN_NOTE}", fmt)
    return text
