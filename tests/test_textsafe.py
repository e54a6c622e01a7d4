"""Escaping of untrusted text for CSV, LaTeX, Markdown and HTML (evalkit.textsafe)."""

from __future__ import annotations

import csv
import io

import numpy as np
import pandas as pd
import pytest

from evalkit.evaluate.results import read_table, write_table
from evalkit.textsafe import (
    csv_protect,
    csv_safe,
    csv_safe_frame,
    csv_unprotect,
    escape_html,
    escape_latex,
    escape_markdown,
)


@pytest.mark.parametrize("text", ["=1+1", "+cmd", "-2+3", "@SUM(A1)", "\tx", "\rx",
                                  "=HYPERLINK(\"http://evil\",\"x\")"])
def test_csv_formula_prefixes_get_a_quote(text):
    assert csv_safe(text) == "'" + text


@pytest.mark.parametrize("value", ["jpeg/q50", "a=b", "a-b", " =x", "", "'=x", 3, -1.5, None,
                                   True, np.float64(-2.0)])
def test_csv_other_values_unchanged(value):
    assert csv_safe(value) is value or csv_safe(value) == value


def test_csv_safe_frame_text_only_and_roundtrip():
    df = pd.DataFrame({"method": ["=evil()", "ok/1", "@x"], "score": [-1.0, 2.0, -3.5],
                       "n": [-1, 2, 3], "flag": [True, False, True], "=col": ["-a", "b", "c"]})
    out = csv_safe_frame(df)
    assert list(out["method"]) == ["'=evil()", "ok/1", "'@x"]
    assert list(out.columns) == ["method", "score", "n", "flag", "'=col"]
    assert out["score"].tolist() == [-1.0, 2.0, -3.5] and out["n"].dtype == df["n"].dtype
    assert list(out["'=col"]) == ["'-a", "b", "c"]
    assert df["method"].iloc[0] == "=evil()"        # the input is not modified
    rows = list(csv.reader(io.StringIO(out.to_csv(index=False))))
    assert all(not c.startswith(("=", "+", "@")) for r in rows for c in r)


def test_escape_latex_every_special_character():
    assert escape_latex(r"a\b") == r"a\textbackslash{}b"
    assert escape_latex("~^") == r"\textasciitilde{}\textasciicircum{}"
    assert escape_latex("&%$#_{}") == r"\&\%\$\#\_\{\}"
    assert escape_latex("<|>") == r"\textless{}\textbar{}\textgreater{}"
    assert escape_latex("x\ny") == "x y"
    # the backslash replacement's own braces are not escaped again
    assert escape_latex("\\{") == r"\textbackslash{}\{"
    assert escape_latex("plain text 1.5") == "plain text 1.5"


def test_escape_markdown_and_html():
    assert escape_markdown("a|b*c_d`e<f>") == r"a\|b\*c\_d\`e\<f\>"
    assert escape_markdown("x\\|") == r"x\\\|"
    assert escape_markdown("BD-rate psnr [%]\nnext") == "BD-rate psnr [%] next"
    assert escape_html("<script>alert('x')</script>&\"") == (
        "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;&amp;&quot;")


HOSTILE_NAMES = ["=HYPERLINK(\"http://evil.example\",\"x\")", "+1", "-q5", "@SUM(A1)", "\tx", "'=x",
                 "''", "'", "plain", "a=b"]


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_csv_protect_is_reversible(name):
    protected = csv_protect(name)
    assert csv_unprotect(protected) == name
    assert not protected.startswith(("=", "+", "-", "@", "\t", "\r"))


def test_results_csv_is_inert_and_round_trips(tmp_path):
    """A results table whose names came from hostile folder names: the CSV cells start with a
    quote (a spreadsheet shows text), and reading the table gives the names back unchanged."""
    df = pd.DataFrame({"codec": HOSTILE_NAMES, "setting": ["-1"] * len(HOSTILE_NAMES),
                       "image": ["@img"] * len(HOSTILE_NAMES), "width": 4, "height": 4,
                       "bytes": 10, "bpp": 5.0, "psnr": 30.0})
    path = write_table(df, tmp_path / "results.csv")
    rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"))))
    for row in rows[1:]:
        assert not any(cell.startswith(("=", "+", "-", "@", "\t", "\r")) for cell in row[:3])
    back = read_table(path)
    assert back["codec"].tolist() == HOSTILE_NAMES
    assert set(back["setting"]) == {"-1"} and set(back["image"]) == {"@img"}
    assert back["psnr"].tolist() == [30.0] * len(HOSTILE_NAMES)
