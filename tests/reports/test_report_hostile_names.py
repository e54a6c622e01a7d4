"""Method, image and rater names from a vote file are data: no report output may run them.

A method called ``[Study moved](http://evil.example)`` must not become a live link in report.md,
``![x](http://evil.example/x.png)`` must not make a Markdown viewer fetch a remote image, HTML
must not carry tags from a name, and CSV cells must not start a spreadsheet formula.
"""

import re

import pandas as pd

from reports.build import build_report

LINK = "[Study moved](http://evil.example)"
IMAGE = "![x](http://evil.example/x.png)"
FORMULA = '=HYPERLINK("http://evil.example","x")'
TAG = "<script>alert(1)</script>"


def _votes() -> pd.DataFrame:
    rows = []
    methods = [LINK, IMAGE, FORMULA, TAG]
    for r in range(3):
        for i in range(4):
            for a in range(4):
                for b in range(a + 1, 4):
                    rows.append({"methodA": methods[a], "methodB": methods[b],
                                 "originalName": f"img{i}" if i else FORMULA,
                                 "answerValue": "A" if (a + i + r) % 3 else "B",
                                 "who": f"r{r}"})
    return pd.DataFrame(rows)


def test_hostile_names_are_inert_in_every_report_output(tmp_path):
    from reports.votes import ColumnMapping

    out = tmp_path / "rep"
    build_report(_votes(), out, mapping=ColumnMapping(rater="who"), n_boot=10, seed=0)

    md = (out / "report.md").read_text()
    assert "evil.example" in md                       # the names are reported ...
    assert not re.search(r"(?<!\\)\]\(http", md)      # ... but never as a link or an image
    assert "<script>" not in md

    html = (out / "report.html").read_text()
    assert "<script>" not in html and "evil.example" in html
    assert not re.search(r"<a\s|<img[^>]*src=['\"]?http", html)

    for csv in out.glob("*.csv"):
        cells = pd.read_csv(csv, dtype=str, keep_default_na=False).to_numpy().ravel()
        bad = [c for c in cells if c[:1] in ("=", "+", "@", "\t", "\r")
               or (c[:1] == "-" and not re.fullmatch(r"-[\d.eE+-]+|-inf", c))]
        assert not bad, (csv.name, bad[:3])

    for tex in out.glob("*.tex"):
        assert "<script>" not in tex.read_text(), tex.name
