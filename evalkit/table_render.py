"""The one table renderer: a DataFrame as a Markdown pipe table, a LaTeX booktabs ``tabular``,
an HTML ``<table>`` or CSV.

Used by the per-image paper table (:mod:`evalkit.paper_table`), the BD-rate table
(:func:`evalkit.rd.bd.format_bd_table`) and the vote report (:mod:`reports.render`), so the
three agree on number formatting and escaping (all escaping goes through :mod:`evalkit.textsafe`).

* Cells are formatted once by :func:`format_value`: floats with a fixed number of decimals
  (scientific notation when a non-zero value would print as zero), ``inf``/``-inf``, ``yes``/``no``
  for booleans, ``key: n; ...`` for dicts, and ``missing`` for None/NaN/NA.
* Numeric (non-boolean) columns are right-aligned, the others left-aligned.
* ``bold`` cells are ``**x**`` (Markdown), ``\\textbf{x}`` (LaTeX), ``<strong>`` (HTML).
* LaTeX: ``\\toprule``/``\\midrule``/``\\bottomrule`` (needs ``\\usepackage{booktabs}``), an extra
  ``\\midrule`` whenever the ``group`` column changes value; infinities as ``$\\infty$``.
* CSV: full values (no rounding, no bold) after :func:`~evalkit.textsafe.csv_safe_frame`.
"""

from __future__ import annotations

import io
import math
from typing import Mapping

import numpy as np
import pandas as pd

from evalkit.errors import ResultsError
from evalkit.textsafe import csv_safe_frame, escape_html, escape_latex, escape_markdown

FORMATS = ("markdown", "latex", "html", "csv")
#: Text of a missing value, per format (the en dash of paper tables; LaTeX spells it ``--``).
MISSING = {"markdown": "–", "html": "–", "latex": "--"}


def _is_missing(v) -> bool:
    return v is None or v is pd.NA or (isinstance(v, (float, np.floating)) and math.isnan(v))


def format_value(v, digits: int = 3, missing: str = "–") -> str:
    """One cell as plain (unescaped) text; see the module docstring for the rules."""
    if _is_missing(v):
        return missing
    if isinstance(v, dict):
        return "; ".join(f"{k}: {n}" for k, n in v.items()) or "-"
    if isinstance(v, (bool, np.bool_)):
        return "yes" if v else "no"
    if isinstance(v, (float, np.floating)):
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        if v != 0 and abs(v) < 10 ** -digits:
            return f"{v:.1e}"
        return f"{v:.{digits}f}"
    return str(v)


def numeric_columns(df: pd.DataFrame) -> list[bool]:
    """Per column: True when it holds numbers (right-aligned), False for text and booleans."""
    return [pd.api.types.is_numeric_dtype(df[c]) and not pd.api.types.is_bool_dtype(df[c])
            for c in df.columns]


def _digits_of(digits: int | Mapping[str, int] | None, default: int):
    if isinstance(digits, int):
        return lambda col: digits
    return lambda col: (digits or {}).get(col, default)


def _cells(df: pd.DataFrame, fmt: str, digits, default_digits: int, missing: str | None,
           bold: Mapping[str, set] | None) -> list[list[str]]:
    ndig = _digits_of(digits, default_digits)
    escape = {"markdown": escape_markdown, "latex": escape_latex, "html": escape_html}[fmt]
    miss = MISSING[fmt] if missing is None else missing
    bold = bold or {}
    rows = []
    for idx, rec in zip(df.index, df.itertuples(index=False, name=None)):
        cells = []
        for col, v in zip(df.columns, rec):
            if fmt == "latex" and isinstance(v, (float, np.floating)) and math.isinf(v):
                text = "$\\infty$" if v > 0 else "$-\\infty$"
            else:
                text = escape(format_value(v, ndig(col), miss))
            if idx in bold.get(col, ()):
                text = {"markdown": f"**{text}**", "latex": f"\\textbf{{{text}}}",
                        "html": f"<strong>{text}</strong>"}[fmt]
            cells.append(text)
        rows.append(cells)
    return rows


def markdown_table(headers: list[str], rows: list[list[str]], numeric: list[bool]) -> str:
    """A pipe table from escaped header and cell text."""
    align = ["---:" if n else ":---" for n in numeric]
    lines = ["| " + " | ".join(headers) + " |", "| " + " | ".join(align) + " |"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def latex_tabular(headers: list[str], rows: list[list[str]], numeric: list[bool],
                  group_starts: set[int] = frozenset()) -> str:
    """A booktabs ``tabular`` from escaped text; ``\\midrule`` before each row in
    ``group_starts``."""
    spec = "".join("r" if n else "l" for n in numeric)
    lines = [f"\\begin{{tabular}}{{{spec}}}", "\\toprule", " & ".join(headers) + " \\\\",
             "\\midrule"]
    for i, r in enumerate(rows):
        if i in group_starts and i > 0:
            lines.append("\\midrule")
        lines.append(" & ".join(r) + " \\\\")
    lines += ["\\bottomrule", "\\end{tabular}"]
    return "\n".join(lines) + "\n"


def html_table(headers: list[str], rows: list[list[str]], caption: str = "") -> str:
    """A ``<table>`` from escaped text (``caption`` is escaped here)."""
    out = ["<table>" + (f"<caption>{escape_html(caption)}</caption>" if caption else "")
           + "<thead><tr>" + "".join(f"<th>{h}</th>" for h in headers) + "</tr></thead><tbody>"]
    out += ["<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in rows]
    out.append("</tbody></table>")
    return "\n".join(out) + "\n"


def csv_text(df: pd.DataFrame, float_format: str | None = None) -> str:
    """``df`` as CSV text (no index), formula-safe (:func:`~evalkit.textsafe.csv_safe_frame`)."""
    buf = io.StringIO()
    csv_safe_frame(df).to_csv(buf, index=False, float_format=float_format)
    return buf.getvalue()


def render_table(df: pd.DataFrame, fmt: str = "markdown", *,
                 digits: int | Mapping[str, int] | None = None, default_digits: int = 3,
                 bold: Mapping[str, set] | None = None, group: str | None = None,
                 headers: Mapping[str, str] | None = None, missing: str | None = None,
                 caption: str = "", float_format: str | None = "%.10g") -> str:
    """Render ``df`` as ``markdown``, ``latex`` (booktabs tabular), ``html`` or ``csv``.

    Args:
        digits: decimals of every float column, or per column (others: ``default_digits``).
        bold: ``{column: {row index label, ...}}`` cells set in bold (not in CSV).
        group: column whose value changes start a new ``\\midrule`` block (LaTeX).
        headers: display name per column (others: the column name); CSV keeps the names.
        missing: text of a missing value (default :data:`MISSING` of the format).
        caption: HTML ``<caption>`` (the other formats have none at this level).
        float_format: CSV float format (None: full repr precision).

    Raises:
        ResultsError: unknown ``fmt``.
    """
    if fmt not in FORMATS:
        raise ResultsError(f"format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    if fmt == "csv":
        return csv_text(df, float_format)
    escape = {"markdown": escape_markdown, "latex": escape_latex, "html": escape_html}[fmt]
    head = [escape((headers or {}).get(c, str(c))) for c in df.columns]
    rows = _cells(df, fmt, digits, default_digits, missing, bold)
    numeric = numeric_columns(df)
    if fmt == "markdown":
        return markdown_table(head, rows, numeric)
    if fmt == "html":
        return html_table(head, rows, caption)
    starts: set[int] = set()
    if group is not None:
        values = df[group].tolist()
        starts = {i for i in range(1, len(values)) if values[i] != values[i - 1]}
    return latex_tabular(head, rows, numeric, starts)
