"""Render a report document (a list of blocks) to Markdown, self-contained HTML and LaTeX.

Blocks: :class:`Heading`, :class:`Para`, :class:`Table`, :class:`Figure`.  Tables go through the
one table renderer of the core (:func:`evalkit.table_render.render_table`), so the three
renderings show the same numbers and escape through :mod:`evalkit.textsafe`.  Headings,
paragraphs quote names from the input (methods, images, paths), so every rendering escapes them;
table and figure captions are written by this package (they may hold Markdown such as backticks).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from evalkit.table_render import render_table
from evalkit.textsafe import escape_html, escape_latex, escape_markdown

#: Text of a missing value in report tables.
MISSING = "n/a"


@dataclass(frozen=True)
class Heading:
    text: str
    level: int = 2


@dataclass(frozen=True)
class Para:
    text: str


@dataclass(frozen=True)
class Table:
    name: str          # file stem of the .tex/.csv outputs and the LaTeX label
    caption: str
    frame: pd.DataFrame = field(repr=False)
    digits: dict = field(default_factory=dict)   # column -> decimals (default 3 for floats)
    max_rows: int | None = None                  # rows shown in md/html (all in CSV/LaTeX)


@dataclass(frozen=True)
class Figure:
    caption: str
    png: str
    pdf: str = ""


def _shown(t: Table) -> pd.DataFrame:
    return t.frame if t.max_rows is None else t.frame.head(t.max_rows)


def _render(t: Table, fmt: str, frame: pd.DataFrame | None = None) -> str:
    return render_table(t.frame if frame is None else frame, fmt, digits=t.digits,
                        default_digits=3, missing=MISSING,
                        caption=t.caption if fmt == "html" else "")


def _more(t: Table) -> str:
    if t.max_rows is not None and len(t.frame) > t.max_rows:
        return f"(first {t.max_rows} of {len(t.frame)} rows; all rows in {t.name}.csv)"
    return ""


# -- Markdown ---------------------------------------------------------------------------------
def to_markdown(blocks: list, title: str) -> str:
    out = [f"# {title}", ""]
    for b in blocks:
        if isinstance(b, Heading):
            out += ["#" * b.level + " " + escape_markdown(b.text), ""]
        elif isinstance(b, Para):  # may quote method/rater names and file paths: never markup
            out += [escape_markdown(b.text), ""]
        elif isinstance(b, Table):
            out += [f"**{b.caption}**", ""]
            if b.frame.empty:
                out += ["(no rows)", ""]
                continue
            out.append(_render(b, "markdown", _shown(b)).rstrip("\n"))
            out += ["", _more(b), ""] if _more(b) else [""]
        elif isinstance(b, Figure):
            out += [f"![{b.caption}]({Path(b.png).name})", "", f"*{b.caption}*"
                    + (f" ([PDF]({Path(b.pdf).name}))" if b.pdf else ""), ""]
    return "\n".join(out).rstrip() + "\n"


# -- HTML -------------------------------------------------------------------------------------
CSS = """body{font-family:system-ui,sans-serif;max-width:70em;margin:2em auto;padding:0 1em;
line-height:1.45;color:#222}table{border-collapse:collapse;margin:.5em 0 1.5em;font-size:.88em}
th,td{padding:.2em .6em;border-bottom:1px solid #ddd;text-align:left}th{border-bottom:2px solid
#444}caption{caption-side:top;text-align:left;font-weight:600;padding:.3em 0}
figure{margin:1em 0 2em}img{max-width:100%}figcaption{font-style:italic;font-size:.9em}"""


def to_html(blocks: list, title: str) -> str:
    e = escape_html
    out = ["<!DOCTYPE html>", "<html lang='en'><head><meta charset='utf-8'>",
           f"<title>{e(title)}</title><style>{CSS}</style></head><body>", f"<h1>{e(title)}</h1>"]
    for b in blocks:
        if isinstance(b, Heading):
            out.append(f"<h{b.level}>{e(b.text)}</h{b.level}>")
        elif isinstance(b, Para):
            out.append(f"<p>{e(b.text)}</p>")
        elif isinstance(b, Table):
            out.append(_render(b, "html", _shown(b)).rstrip("\n"))
            if _more(b):
                out.append(f"<p><small>{e(_more(b))}</small></p>")
        elif isinstance(b, Figure):
            data = base64.b64encode(Path(b.png).read_bytes()).decode("ascii")
            out.append(f"<figure><img alt='{e(b.caption)}' src='data:image/png;base64,{data}'>"
                       f"<figcaption>{e(b.caption)}</figcaption></figure>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"


# -- LaTeX ------------------------------------------------------------------------------------
def to_latex(t: Table) -> str:
    """A booktabs ``table`` environment (needs ``\\usepackage{booktabs}``), all rows."""
    lines = [r"\begin{table}[t]", r"\centering", r"\small",
             rf"\caption{{{escape_latex(t.caption)}}}", rf"\label{{tab:{t.name}}}",
             _render(t, "latex").rstrip("\n"), r"\end{table}"]
    return "\n".join(lines) + "\n"
