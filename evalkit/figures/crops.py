"""Detail crops (CLIC 2021 MCM, Figures 4-5): the original with the region(s) marked, then the
same region of the original and of each method at native pixels, enlarged ``scale`` times.

Pixels are never smoothed.  :func:`crop_panel` enlarges a crop itself (``np.repeat``: every
source pixel becomes a ``scale x scale`` block), and the figure shows that array with
interpolation ``"none"`` in vector files (the PDF embeds exactly that array, without the PDF
``/Interpolate`` flag, so viewers do not smooth it) and ``"nearest"`` in raster files, where the
layout is computed in output pixels so each crop pixel lands on an exact block of pixels.

Each method's panel is titled with its name and ``0.142 bpp · 29.31 dB · LPIPS 0.0812``: bpp
and the chosen metrics from the results table (labels, units and decimals from the registry,
:mod:`evalkit.figures.facts`), or, without a results table, the bpp of the run layout and the
metrics computed on the full image pair.
"""

from __future__ import annotations

import math
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from evalkit.errors import FigureError
from evalkit.figures.crop_regions import Box, auto_regions, check_box

#: Colours of the region boxes (colour-blind-safe, Okabe-Ito), in order.
BOX_COLOURS = ("#D55E00", "#0072B2", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442")
#: Panel title font size (points) and the figure width (inches: a two-column paper's text width).
TITLE_PT = 7.0
DEFAULT_WIDTH_IN = 7.0


@dataclass(frozen=True)
class MethodCrop:
    """One method's reconstruction of the image and the values its panel title shows."""

    method: str                 # codec/setting
    pixels: np.ndarray          # (H, W, 3) uint8, the full reconstruction
    values: tuple[tuple[str, float], ...]  # ((column, value), ...): bpp first, then metrics


@dataclass(frozen=True)
class CropSet:
    """Everything a crops figure or page shows; :func:`crop_panel` makes its panels."""

    image: str
    reference: np.ndarray
    methods: tuple[MethodCrop, ...]
    boxes: tuple[Box, ...]
    scale: int
    source: dict = field(default_factory=dict)  # provenance: files and how boxes were chosen

    def caption(self, m: MethodCrop) -> str:
        """``0.142 bpp · 29.31 dB · LPIPS 0.0812``."""
        from evalkit.figures.facts import format_value

        return " · ".join(format_value(name, v) for name, v in m.values)


def crop_panel(pixels: np.ndarray, box: Box, scale: int) -> np.ndarray:
    """The ``box`` region of ``pixels`` with every pixel repeated ``scale x scale`` times
    (nearest-neighbour enlargement, exact: ``out[i, j] == pixels[y + i // s, x + j // s]``)."""
    if scale < 1 or int(scale) != scale:
        raise FigureError(f"scale must be a whole number >= 1, got {scale!r}")
    H, W = pixels.shape[:2]
    check_box(box, W, H)
    region = pixels[box.y:box.y + box.h, box.x:box.x + box.w]
    s = int(scale)
    return np.ascontiguousarray(np.repeat(np.repeat(region, s, axis=0), s, axis=1))


def _parse_method(text: str) -> tuple[str, str]:
    codec, sep, setting = text.partition("/")
    if not sep or not codec or not setting or "/" in setting:
        raise FigureError(f"methods must be codec/setting, got {text!r}")
    return codec, setting


def _locate(refs: str | Path, runs: str | Path, image: str, methods: Sequence[str]):
    """Reference path and run entry of each method for ``image`` (layout rules of
    :func:`evalkit.layout.discover_runs`)."""
    from evalkit.layout import discover_runs, list_references

    parsed = [_parse_method(m) for m in methods]
    references = list_references(refs)
    if image not in references:
        known = sorted(references)
        raise FigureError(f"image must be one of the references in {refs}, got {image!r} "
                          f"(known: {', '.join(known[:10])}{' ...' if len(known) > 10 else ''})")
    entries, _ = discover_runs(refs, runs, codecs=sorted({c for c, _ in parsed}))
    found = {}
    for (codec, setting), name in zip(parsed, methods):
        hit = [e for e in entries if e.codec == codec and e.setting == setting]
        if not hit:
            settings = sorted({e.setting for e in entries if e.codec == codec})
            raise FigureError(f"method {name!r} has no folder in {runs} (settings of {codec}: "
                              f"{', '.join(settings) or 'none'})")
        entry = [e for e in hit if e.image == image]
        if not entry:
            raise FigureError(f"method {name!r} has no reconstruction of {image!r} in {runs}")
        found[name] = entry[0]
    return references[image], found


def _values_from_results(results: pd.DataFrame, method: str, image: str,
                         metrics: Sequence[str]) -> tuple[tuple[str, float], ...]:
    codec, setting = _parse_method(method)
    rows = results[(results["codec"].astype(str) == codec)
                   & (results["setting"].astype(str) == setting)
                   & (results["image"].astype(str) == image)]
    if len(rows) != 1:
        raise FigureError(f"the results table must have exactly one row for {method} on "
                          f"{image!r}, got {len(rows)}")
    row = rows.iloc[0]
    return tuple((c, float(row[c])) for c in ("bpp", *metrics))


def build_crops(refs: str | Path, runs: str | Path, image: str, methods: Sequence[str], *,
                boxes: Sequence[Box] | None = None, auto: int | None = None,
                size: tuple[int, int] | None = None, results: pd.DataFrame | None = None,
                metrics: Sequence[str] | None = None, scale: int = 2,
                device: str = "cpu") -> CropSet:
    """Load the image and its reconstructions, check or choose the boxes, gather the titles.

    Args:
        refs, runs: the refs/runs layout (:mod:`evalkit.layout`).
        image: reference name (file stem).
        methods: ``codec/setting`` names, in panel order.
        boxes: explicit regions (all the same size), or ``auto``: choose this many regions
            where the methods differ most (:mod:`evalkit.figures.crop_regions`) of ``size``
            ``(w, h)`` (default: a quarter of the short side, at most 128).
        results: results table for the titles' bpp and metrics (else the layout's bpp and
            ``metrics`` computed on the full image pair).
        metrics: metric columns in the titles (default: ``psnr``, plus ``lpips`` when the
            results table has it).
        scale: integer enlargement of the crops.

    Raises:
        FigureError, LayoutError, ImageError: bad boxes, unknown image/method, unreadable files.
    """
    from evalkit.images import read_image

    if not methods:
        raise FigureError("give at least one method (codec/setting)")
    if len(set(methods)) != len(methods):
        raise FigureError(f"methods must be distinct, got {', '.join(methods)}")
    if (boxes is None or len(boxes) == 0) == (auto is None):
        raise FigureError("give either boxes (--box x,y,w,h) or --auto K, not both or neither")
    if scale < 1 or int(scale) != scale:
        raise FigureError(f"scale must be a whole number >= 1, got {scale!r}")
    ref_path, entries = _locate(refs, runs, image, methods)
    ref = read_image(ref_path).pixels
    H, W = ref.shape[:2]
    recon = {}
    for name, entry in entries.items():
        px = read_image(entry.reconstruction).pixels
        if px.shape != ref.shape:
            raise FigureError(f"{entry.reconstruction} is {px.shape[1]}x{px.shape[0]} but the "
                              f"original {ref_path} is {W}x{H}")
        recon[name] = px
    if auto is not None:
        if size is None:
            side = max(8, min(128, min(W, H) // 4))
            size = (min(side, W), min(side, H))
        chosen = auto_regions(ref, [recon[m] for m in methods], int(auto), size)
        how = {"auto": int(auto), "size": list(size)}
    else:
        chosen = [check_box(b, W, H, f"{image} ({ref_path.name})") for b in boxes]
        if len({(b.w, b.h) for b in chosen}) != 1:
            raise FigureError("all boxes must have the same width and height, got "
                              + "; ".join(str(b) for b in chosen))
        how = {"boxes": [str(b) for b in chosen]}
    if metrics is None:
        metrics = ["psnr"] + (["lpips"] if results is not None and "lpips" in results else [])
    metrics = list(metrics)
    if results is not None:
        missing = [m for m in metrics if m not in results.columns]
        if missing:
            raise FigureError(f"metrics must be columns of the results table, got "
                              f"{', '.join(missing)}")
    crops = []
    for name in methods:
        if results is not None:
            values = _values_from_results(results, name, image, metrics)
        else:
            from evalkit.metrics import compute_pair

            computed = compute_pair(ref, recon[name], metrics, device) if metrics else {}
            values = (("bpp", entries[name].bpp(W, H)), *((m, computed[m]) for m in metrics))
        crops.append(MethodCrop(name, recon[name], tuple(values)))
    source = {"reference": str(ref_path), "reconstructions":
              {n: str(e.reconstruction) for n, e in entries.items()},
              "values_from": "results" if results is not None else "computed", **how}
    return CropSet(image, ref, tuple(crops), tuple(chosen), int(scale), source)


# --------------------------------------------------------------------------- the figure ----

def _wrap(parts: Sequence[str], width_chars: int) -> list[str]:
    """Join ``parts`` with `` · `` into lines of at most ``width_chars`` (a part never splits)."""
    lines: list[str] = []
    for p in parts:
        if lines and len(lines[-1]) + 3 + len(p) <= width_chars:
            lines[-1] += " · " + p
        else:
            lines.append(p)
    return lines


def _wrap_name(name: str, width_chars: int) -> list[str]:
    """``codec/setting`` on one line, or ``codec/`` and ``setting`` on two, breaking inside a
    part only when the part alone is too long."""
    if len(name) <= width_chars:
        return [name]
    codec, _, setting = name.partition("/")
    lines: list[str] = []
    for part in (codec + "/", setting):
        lines += textwrap.wrap(part, width_chars, break_on_hyphens=False) or [part]
    return lines


@dataclass(frozen=True)
class _Layout:
    width_px: int
    height_px: int
    dpi: float
    panels: list  # (left_px, bottom_px, w_px, h_px, kind, row, col)
    titles: dict  # (row, col) -> list of lines
    font_pt: float  # title font size (smaller than TITLE_PT when names would not fit)


def _layout(cs: CropSet, width_in: float) -> _Layout:
    b = cs.boxes[0]
    cw, ch = b.w * cs.scale, b.h * cs.scale
    ncol = 1 + len(cs.methods)
    rows = len(cs.boxes)
    gap = max(4, cw // 24)
    H, W = cs.reference.shape[:2]
    dpi, font_pt = 100.0, TITLE_PT
    parts = [p for m in cs.methods for p in (m.method.partition("/")[0] + "/",
                                              m.method.partition("/")[2])]
    for _ in range(6):  # the title band depends on dpi, which depends on the overview width
        char_px = 0.6 * font_pt / 72 * dpi  # average glyph width of DejaVu Sans (0.6 em)
        width_chars = max(8, int(cw / char_px))
        if font_pt > 5 and max(map(len, parts)) > width_chars:
            font_pt -= 0.5  # rather a smaller font than names broken mid-word
        titles = {}
        for r, box in enumerate(cs.boxes):
            titles[(r, 0)] = _wrap(["Original", f"region {r + 1}: {box.x},{box.y}"], width_chars)
            for c, m in enumerate(cs.methods, start=1):
                titles[(r, c)] = [*_wrap_name(m.method, width_chars),
                                  *_wrap(cs.caption(m).split(" · "), width_chars)]
        lines = max(len(t) for t in titles.values())
        title_px = int(math.ceil(lines * font_pt * 1.25 / 72 * dpi)) + gap
        block_h = rows * (ch + title_px) + (rows - 1) * gap
        ov_h = block_h - title_px
        ov_w = max(1, int(round(ov_h * W / H)))
        width_px = ov_w + gap + ncol * cw + (ncol - 1) * gap
        dpi = width_px / width_in
    height_px = block_h + gap
    panels = [(0, gap, ov_w, ov_h, "overview", -1, -1)]
    for r in range(rows):
        bottom = height_px - (r + 1) * (title_px + ch) - r * gap
        for c in range(ncol):
            left = ov_w + gap + c * (cw + gap)
            panels.append((left, bottom, cw, ch, "crop", r, c))
    return _Layout(width_px, height_px, dpi, panels, titles, font_pt)


def crops_figure(cs: CropSet, *, width_in: float = DEFAULT_WIDTH_IN, vector: bool = True):
    """The matplotlib figure and the dpi at which one crop pixel is one output pixel.

    Returns ``(fig, dpi, panels)`` where ``panels`` maps ``(row, col)`` to the array shown
    (col 0: the original's crop, col ``i``: the ``i``-th method's).
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    from evalkit.plotstyle import paper_style

    lay = _layout(cs, width_in)
    # + a quarter pixel so float rounding can never truncate the canvas by one pixel
    fw, fh = lay.width_px + 0.25, lay.height_px + 0.25
    shown = {}
    with paper_style(**{"savefig.bbox": "standard", "axes.grid": False}):
        fig = plt.figure(figsize=(fw / lay.dpi, fh / lay.dpi), dpi=lay.dpi)
        for left, bottom, w, h, kind, r, c in lay.panels:
            ax = fig.add_axes((left / fw, bottom / fh, w / fw, h / fh))
            ax.set_axis_off()
            if kind == "overview":
                ax.imshow(cs.reference, interpolation="antialiased")
                for i, box in enumerate(cs.boxes):
                    colour = BOX_COLOURS[i % len(BOX_COLOURS)]
                    ax.add_patch(Rectangle((box.x - 0.5, box.y - 0.5), box.w, box.h, fill=False,
                                           edgecolor=colour, linewidth=1.2))
                    ax.text(box.x, box.y - 2, str(i + 1), color=colour, fontsize=TITLE_PT,
                            ha="left", va="bottom", fontweight="bold")
                ax.set_title(cs.image, fontsize=TITLE_PT + 1, pad=2)
                continue
            pixels = cs.reference if c == 0 else cs.methods[c - 1].pixels
            panel = crop_panel(pixels, cs.boxes[r], cs.scale)
            shown[(r, c)] = panel
            ax.imshow(panel, interpolation="none" if vector else "nearest", resample=False,
                      aspect="auto", extent=(0, panel.shape[1], panel.shape[0], 0))
            colour = BOX_COLOURS[r % len(BOX_COLOURS)] if c == 0 else "black"
            ax.set_title("\n".join(lay.titles[(r, c)]), fontsize=lay.font_pt, pad=2,
                         color=colour, linespacing=1.1)
    return fig, lay.dpi, shown


def write_crops_figure(cs: CropSet, out: str | Path, *, width_in: float = DEFAULT_WIDTH_IN,
                       formats: Sequence[str] | None = None) -> list[str]:
    """Write the figure to ``out`` (``.pdf``, ``.svg`` or ``.png``; or each suffix of
    ``formats``).  PNG is written at an integer multiple of the pixel-exact dpi (at least
    300 dpi), so every crop pixel is a whole block of output pixels."""
    import matplotlib.pyplot as plt

    from evalkit.plotstyle import figure_targets

    targets = figure_targets(out, formats, error=FigureError)
    written = []
    for t in targets:
        raster = t.suffix.lower() == ".png"
        fig, dpi, _ = crops_figure(cs, width_in=width_in, vector=not raster)
        t.parent.mkdir(parents=True, exist_ok=True)
        from evalkit.provenance import atomic_target

        with atomic_target(t) as tmp:
            save_dpi = dpi * max(1, math.ceil(300 / dpi)) if raster else dpi
            fig.savefig(tmp, dpi=save_dpi, format=t.suffix[1:].lower())
        plt.close(fig)
        written.append(str(t))
    return written


def png_crop_rects(cs: CropSet, png_height: int, width_in: float = DEFAULT_WIDTH_IN
                   ) -> dict[tuple[int, int], tuple[int, int, int, int]]:
    """Where each crop panel lies in the PNG :func:`write_crops_figure` wrote (``png_height``
    pixels high): ``{(row, col): (top, left, height, width)}`` in PNG pixels; the panel there is
    :func:`crop_panel` enlarged a further whole ``width // (box.w * scale)`` times."""
    lay = _layout(cs, width_in)
    m = max(1, math.ceil(300 / lay.dpi))
    return {(r, c): (png_height - (bottom + h) * m, left * m, h * m, w * m)
            for left, bottom, w, h, kind, r, c in lay.panels if kind == "crop"}
