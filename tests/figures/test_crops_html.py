"""--format html: self-contained, exact crops in data: URIs, hostile names escaped."""

from __future__ import annotations

import base64
import io
import re

import numpy as np
from _figure_layout import make_layout
from PIL import Image

from evalkit.cli import main
from evalkit.figures.crop_regions import Box
from evalkit.figures.crops import build_crops
from evalkit.figures.crops_html import crops_html

HOSTILE_CODEC = "<img src=x onerror=alert(1)>"
HOSTILE_SETTING = "q'\"&<script>"


def _decode(uri: str) -> np.ndarray:
    assert uri.startswith("data:image/png;base64,")
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1]))).convert("RGB"))


def test_html_is_self_contained_exact_and_escaped(tmp_path):
    hostile = f"{HOSTILE_CODEC}/{HOSTILE_SETTING}"
    refs_dir, runs_dir, refs, recons = make_layout(tmp_path, methods=("jpeg/q10", hostile))
    boxes = [Box(3, 4, 10, 7), Box(50, 40, 10, 7)]
    cs = build_crops(refs_dir, runs_dir, "ramp", ["jpeg/q10", hostile], boxes=boxes, metrics=[],
                     scale=4)
    page = crops_html(cs, title="<b>t</b>")
    # nothing outside the page: no URL but data: URIs, and a CSP that forbids fetching
    assert not re.search(r"(src|href)\s*=\s*[\"']?(?!data:)[a-z]+:", page, re.I)
    assert "http://" not in page and "https://" not in page and "url(" not in page
    assert "default-src 'none'" in page
    # hostile names only appear escaped
    assert HOSTILE_CODEC not in page and "onerror=alert(1)>" not in page
    assert "&lt;img src=x onerror=alert(1)&gt;/q&#x27;&quot;&amp;&lt;script&gt;" in page
    assert "<b>t</b>" not in page and "&lt;b&gt;t&lt;/b&gt;" in page
    assert page.count("<script>") == 1
    # the crops: native pixels, exactly the source region, region by region, original first
    uris = re.findall(r'<div class="view" data-group="(\d)" data-scale="4"><img [^>]*src="([^"]+)"',
                      page)
    assert [g for g, _ in uris] == ["0"] * 3 + ["1"] * 3
    sources = [refs["ramp"], recons[("jpeg/q10", "ramp")], recons[(hostile, "ramp")]] * 2
    for (g, uri), src in zip(uris, sources):
        b = boxes[int(g)]
        np.testing.assert_array_equal(_decode(uri), src[b.y:b.y + b.h, b.x:b.x + b.w])
    assert "image-rendering:pixelated" in page


def test_cli_html_output(tmp_path, capsys):
    refs_dir, runs_dir, _, _ = make_layout(tmp_path)
    out = tmp_path / "page.html"
    assert main(["crops", "--refs", str(refs_dir), "--runs", str(runs_dir), "--image", "dots",
                 "--methods", "jpeg/q10,webp/q30", "--box", "0,0,16,16", "--metrics", "",
                 "--out", str(out)]) == 0
    page = out.read_text()
    assert page.startswith("<!DOCTYPE html>") and page.count('class="view"') == 3
    assert (tmp_path / "page.html.json").is_file()
