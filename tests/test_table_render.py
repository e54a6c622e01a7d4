"""The one table renderer (evalkit.table_render): Markdown, LaTeX booktabs, HTML and CSV."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest

from evalkit.errors import ResultsError
from evalkit.table_render import format_value, render_table


@pytest.fixture
def frame():
    return pd.DataFrame({"method": ["a~b^c", "x|y", "=cmd"], "group": ["g1", "g1", "g2"],
                         "score": [1.23456, np.nan, np.inf], "ok": [True, False, True]})


def test_format_value():
    assert format_value(1.23456, 2) == "1.23" and format_value(0.0001, 3) == "1.0e-04"
    assert format_value(0.0, 3) == "0.000" and format_value(float("-inf")) == "-inf"
    assert format_value(None) == "–" and format_value(np.nan, missing="n/a") == "n/a"
    assert format_value(np.True_) == "yes" and format_value({"x": 1, "y": 2}) == "x: 1; y: 2"
    assert format_value(7) == "7"


def test_markdown(frame):
    md = render_table(frame, "markdown", digits={"score": 2}, bold={"score": {0}},
                      headers={"score": "Score"})
    lines = md.splitlines()
    assert lines[0] == "| method | group | Score | ok |"
    assert lines[1] == "| :--- | :--- | ---: | :--- |"
    assert lines[2] == "| a~b^c | g1 | **1.23** | yes |"
    assert lines[3] == r"| x\|y | g1 | – | no |"
    assert lines[4] == "| =cmd | g2 | inf | yes |"


def test_latex_escapes_and_groups(frame):
    tex = render_table(frame, "latex", bold={"score": {0}}, group="group")
    lines = tex.splitlines()
    assert lines[0] == r"\begin{tabular}{llrl}" and lines[1] == r"\toprule"
    assert lines[4] == (r"a\textasciitilde{}b\textasciicircum{}c & g1 & \textbf{1.235} & yes \\")
    assert lines[5] == r"x\textbar{}y & g1 & -- & no \\"
    assert lines[6] == r"\midrule"                        # group g1 -> g2
    assert lines[7] == r"=cmd & g2 & $\infty$ & yes \\"
    assert lines[-2:] == [r"\bottomrule", r"\end{tabular}"]


def test_html_escapes(frame):
    frame.loc[0, "method"] = "<b>x</b>"
    out = render_table(frame, "html", caption="A & B")
    assert "<caption>A &amp; B</caption>" in out and "<td>&lt;b&gt;x&lt;/b&gt;</td>" in out
    assert "<b>" not in out


def test_csv_is_formula_safe_and_full_precision(frame):
    out = render_table(frame, "csv")
    back = pd.read_csv(io.StringIO(out))
    assert list(back["method"]) == ["a~b^c", "x|y", "'=cmd"]
    assert back["score"].iloc[0] == 1.23456 and np.isinf(back["score"].iloc[2])


def test_unknown_format(frame):
    with pytest.raises(ResultsError, match="format must be one of markdown, latex, html, csv, "
                                           "got 'rtf'"):
        render_table(frame, "rtf")
