"""Render a report document (a list of blocks) to Markdown, self-contained HTML and LaTeX.

Blocks: :class:`Heading`, :class:`Para`, :class:`Table`, :class:`Figure`.  Tables are formatted
once (:func:`format_cells`) so the three renderings show the same numbers.  Table rendering is
hand-written (a few lines each) to avoid optional dependencies (``tabulate`` for Markdown, jinja2
Styler for LaTeX) and to control escaping.
"""

from __future__ import annotations

import base64
import html
import math
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd


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


def _cell(v, digits: int) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA:
        return "n/a"
    if isinstance(v, dict):
        return "; ".join(f"{k}: {n}" for k, n in v.items()) or "-"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        if v != 0 and abs(v) < 10 ** -digits:
            return f"{v:.1e}"
        return f"{v:.{digits}f}"
    return str(v)


def format_cells(t: Table, rows: int | None = None) -> tuple[list[str], list[list[str]]]:
    df = t.frame if rows is None else t.frame.head(rows)
    body = [[_cell(v, t.digits.get(c, 3)) for c, v in zip(df.columns, rec)]
            for rec in df.itertuples(index=False, name=None)]
    return [str(c) for c in df.columns], body


def _more(t: Table) -> str:
    if t.max_rows is not None and len(t.frame) > t.max_rows:
        return f"(first {t.max_rows} of {len(t.frame)} rows; all rows in {t.name}.csv)"
    return ""


# -- Markdown ---------------------------------------------------------------------------------
def _md_escape(s: str) -> str:
    return s.replace("|", "\\|")


def to_markdown(blocks: list, title: str) -> str:
    out = [f"# {title}", ""]
    for b in blocks:
        if isinstance(b, Heading):
            out += ["#" * b.level + " " + b.text, ""]
        elif isinstance(b, Para):
            out += [b.text, ""]
        elif isinstance(b, Table):
            head, body = format_cells(b, b.max_rows)
            out += [f"**{b.caption}**", ""]
            if not body:
                out += ["(no rows)", ""]
                continue
            out.append("| " + " | ".join(map(_md_escape, head)) + " |")
            out.append("|" + "|".join("---" for _ in head) + "|")
            out += ["| " + " | ".join(map(_md_escape, r)) + " |" for r in body]
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
    e = html.escape
    out = ["<!DOCTYPE html>", "<html lang='en'><head><meta charset='utf-8'>",
           f"<title>{e(title)}</title><style>{CSS}</style></head><body>", f"<h1>{e(title)}</h1>"]
    for b in blocks:
        if isinstance(b, Heading):
            out.append(f"<h{b.level}>{e(b.text)}</h{b.level}>")
        elif isinstance(b, Para):
            out.append(f"<p>{e(b.text)}</p>")
        elif isinstance(b, Table):
            head, body = format_cells(b, b.max_rows)
            out.append(f"<table><caption>{e(b.caption)}</caption><thead><tr>"
                       + "".join(f"<th>{e(h)}</th>" for h in head) + "</tr></thead><tbody>")
            out += ["<tr>" + "".join(f"<td>{e(c)}</td>" for c in r) + "</tr>" for r in body]
            out.append("</tbody></table>")
            if _more(b):
                out.append(f"<p><small>{e(_more(b))}</small></p>")
        elif isinstance(b, Figure):
            data = base64.b64encode(Path(b.png).read_bytes()).decode("ascii")
            out.append(f"<figure><img alt='{e(b.caption)}' src='data:image/png;base64,{data}'>"
                       f"<figcaption>{e(b.caption)}</figcaption></figure>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"


# -- LaTeX ------------------------------------------------------------------------------------
_TEX = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
        "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}


def tex_escape(s: str) -> str:
    return "".join(_TEX.get(ch, ch) for ch in s)


def to_latex(t: Table) -> str:
    """A booktabs ``table`` environment (needs ``\\usepackage{booktabs}``)."""
    head, body = format_cells(t)
    numeric = [pd.api.types.is_numeric_dtype(t.frame[c]) and not pd.api.types.is_bool_dtype(
        t.frame[c]) for c in t.frame.columns]
    spec = "".join("r" if n else "l" for n in numeric)
    lines = [r"\begin{table}[t]", r"\centering", r"\small",
             rf"\caption{{{tex_escape(t.caption)}}}", rf"\label{{tab:{t.name}}}",
             rf"\begin{{tabular}}{{{spec}}}", r"\toprule",
             " & ".join(tex_escape(h) for h in head) + r" \\", r"\midrule"]
    lines += [" & ".join(tex_escape(c) for c in r) + r" \\" for r in body]
    lines += [r"\bottomrule", r"\end{tabular}", r"\end{table}"]
    return "\n".join(lines) + "\n"
