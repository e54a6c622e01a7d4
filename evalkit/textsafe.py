"""Make untrusted text safe for the formats evalkit writes: CSV, Markdown, LaTeX and HTML.

Method names, image names, rater ids and column names come from files and URLs evalkit does not
control.  Every writer of those formats escapes through this module (one rule per format):

* :func:`csv_safe` / :func:`csv_safe_frame` -- spreadsheet formula injection (OWASP "CSV
  Injection"): a text cell starting with ``=``, ``+``, ``-``, ``@``, tab or carriage return is
  prefixed with a single quote so Excel/LibreOffice show it as text instead of evaluating it.
  Numbers (int/float/bool values and numeric columns) are never touched.
* :func:`csv_protect` / :func:`csv_unprotect` -- the same rule made reversible, for the tables
  evalkit reads back itself (results tables): a text cell that starts with ``'`` gets one more,
  so reading strips exactly one leading quote and every name round-trips unchanged.
* :func:`escape_latex` -- the ten LaTeX special characters plus ``<``, ``>``, ``|`` (which print as
  other glyphs in the default OT1 font encoding); line breaks become spaces.
* :func:`escape_markdown` -- characters that start Markdown/HTML markup or end a table cell.
* :func:`escape_html` -- ``&``, ``<``, ``>``, ``"`` and ``'``.
"""

from __future__ import annotations

import html

import pandas as pd

#: First characters that make a spreadsheet treat a cell as a formula (OWASP).
CSV_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")

_LATEX = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
          "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
          "<": r"\textless{}", ">": r"\textgreater{}", "|": r"\textbar{}",
          "\n": " ", "\r": " "}

# Backslash-escapable in CommonMark; '|' ends a table cell, '<'/'>' start raw HTML and autolinks,
# '*', '_', '`' start emphasis/code, '(' ')' '!' are escaped so ``[x](url)`` / ``![x](url)`` in a
# name never become a live link or a remote image.  Brackets are left alone: without a following
# '(' (and with no reference definitions in our documents) they are no link, and headers such as
# "BD-rate psnr [%]" stay readable.
_MARKDOWN = {ch: "\\" + ch for ch in "\\`*_|<>()!"}
_MARKDOWN.update({"\n": " ", "\r": " "})


def csv_safe(value):
    """``value`` with a leading ``'`` when it is text a spreadsheet would run as a formula.

    Non-string values (numbers, None, NaN) are returned unchanged.

    Example:
        >>> csv_safe("=HYPERLINK(\\"http://x\\")"), csv_safe("-1"), csv_safe(-1), csv_safe("a-b")
        ('\\'=HYPERLINK("http://x")', "'-1", -1, 'a-b')
    """
    if isinstance(value, str) and value.startswith(CSV_FORMULA_PREFIXES):
        return "'" + value
    return value


def csv_safe_frame(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``df`` with :func:`csv_safe` applied to every text cell and column name.

    Numeric and boolean columns are left as they are, so numbers keep their type and value.
    """
    out = df.copy()
    for col in out.columns:
        s = out[col]
        if pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s):
            continue
        out[col] = s.map(csv_safe)
    out.columns = [csv_safe(c) if isinstance(c, str) else c for c in out.columns]
    return out


def csv_protect(value):
    """:func:`csv_safe`, reversible: also a text cell starting with ``'`` gets one more quote.

    Example:
        >>> csv_protect("=1+1"), csv_protect("'x"), csv_protect("x"), csv_protect(3)
        ("'=1+1", "''x", 'x', 3)
    """
    if isinstance(value, str) and value.startswith((*CSV_FORMULA_PREFIXES, "'")):
        return "'" + value
    return value


def csv_unprotect(value):
    """The text :func:`csv_protect` was given: one leading ``'`` removed from text cells."""
    if isinstance(value, str) and value.startswith("'"):
        return value[1:]
    return value


def escape_latex(text: str) -> str:
    """``text`` for LaTeX body text (``a_b~c`` -> ``a\\_b\\textasciitilde{}c``)."""
    return "".join(_LATEX.get(ch, ch) for ch in str(text))


def escape_markdown(text: str) -> str:
    """``text`` for a Markdown paragraph or table cell (``a|b*`` -> ``a\\|b\\*``)."""
    return "".join(_MARKDOWN.get(ch, ch) for ch in str(text))


def escape_html(text: str) -> str:
    """``text`` for HTML element content or a quoted attribute value."""
    return html.escape(str(text), quote=True)
