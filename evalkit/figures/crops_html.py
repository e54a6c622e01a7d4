"""The crops as one self-contained HTML page for a paper's supplementary material.

One file, nothing fetched: every image is a ``data:image/png`` URI, the style and the viewer
script are inline, and a Content-Security-Policy forbids loading anything else.  The page shows
the original (downscaled to at most :data:`OVERVIEW_MAX_PX` wide, regions outlined) and, per
region, the original's crop and each method's crop at native pixels (PNG, lossless), drawn
enlarged with ``image-rendering: pixelated`` (nearest neighbour, never smoothed).

Viewer: the crops of one region zoom and pan together -- mouse wheel zooms about the pointer,
dragging pans, double-click (or the ``0`` key) resets, ``+``/``-`` zoom.  Every method, image and
caption text is HTML-escaped (:func:`evalkit.textsafe.escape_html`).
"""

from __future__ import annotations

import base64
import io
from pathlib import Path

import numpy as np

from evalkit.figures.crops import BOX_COLOURS, CropSet
from evalkit.textsafe import escape_html

#: Width limit of the (downscaled) overview of the original, in pixels.
OVERVIEW_MAX_PX = 1024

_CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#111;background:#fff}
h1{font-size:1.3em}h2{font-size:1.05em;margin:1.2em 0 .4em}
.overview{position:relative;display:inline-block;line-height:0}
.overview img{max-width:100%;height:auto}
.overview .box{position:absolute;border:2px solid;box-sizing:border-box}
.row{display:flex;flex-wrap:wrap;gap:10px}
figure{margin:0}
figcaption{font-size:12px;max-width:var(--w);overflow-wrap:anywhere}
.view{width:var(--w);height:var(--h);overflow:hidden;position:relative;cursor:grab;
      outline:1px solid #999;background:#777;touch-action:none}
.view img{position:absolute;left:0;top:0;transform-origin:0 0;image-rendering:pixelated;
          image-rendering:crisp-edges;-ms-interpolation-mode:nearest-neighbor;user-select:none;
          -webkit-user-drag:none}
.hint{color:#555;font-size:12px}
"""

# Each region (data-group) has one zoom/pan state applied to all its views.
_JS = """
(function(){
  var state={};
  function views(g){return document.querySelectorAll('.view[data-group="'+g+'"]');}
  function apply(g){var s=state[g];views(g).forEach(function(v){
    var im=v.querySelector('img');
    im.style.transform='translate('+s.x+'px,'+s.y+'px) scale('+s.z+')';});}
  function reset(g){var v=views(g)[0];state[g]={z:+v.dataset.scale,x:0,y:0};apply(g);}
  function zoom(g,f,px,py){var s=state[g];var z=Math.min(64,Math.max(0.25,s.z*f));
    s.x=px-(px-s.x)*z/s.z;s.y=py-(py-s.y)*z/s.z;s.z=z;apply(g);}
  document.querySelectorAll('.view').forEach(function(v){
    var g=v.dataset.group;if(!state[g])reset(g);
    v.addEventListener('wheel',function(e){e.preventDefault();var r=v.getBoundingClientRect();
      zoom(g,e.deltaY<0?1.25:0.8,e.clientX-r.left,e.clientY-r.top);},{passive:false});
    var drag=null;
    v.addEventListener('pointerdown',function(e){drag={x:e.clientX,y:e.clientY};
      v.setPointerCapture(e.pointerId);v.style.cursor='grabbing';});
    v.addEventListener('pointermove',function(e){if(!drag)return;var s=state[g];
      s.x+=e.clientX-drag.x;s.y+=e.clientY-drag.y;drag={x:e.clientX,y:e.clientY};apply(g);});
    v.addEventListener('pointerup',function(){drag=null;v.style.cursor='grab';});
    v.addEventListener('dblclick',function(){reset(g);});
    v.tabIndex=0;
    v.addEventListener('keydown',function(e){var w=v.clientWidth/2,h=v.clientHeight/2;
      if(e.key==='+'||e.key==='=')zoom(g,1.25,w,h);else if(e.key==='-')zoom(g,0.8,w,h);
      else if(e.key==='0')reset(g);});
  });
})();
"""

_CSP = ("default-src 'none'; img-src data:; style-src 'unsafe-inline'; "
        "script-src 'unsafe-inline'; base-uri 'none'; form-action 'none'")


def png_data_uri(pixels: np.ndarray) -> str:
    """``data:image/png;base64,...`` of a ``(H, W, 3)`` uint8 array (lossless)."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(pixels)).save(buf, format="PNG", optimize=False)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _overview(reference: np.ndarray) -> np.ndarray:
    from PIL import Image

    H, W = reference.shape[:2]
    if W <= OVERVIEW_MAX_PX:
        return reference
    size = (OVERVIEW_MAX_PX, max(1, round(H * OVERVIEW_MAX_PX / W)))
    return np.asarray(Image.fromarray(reference).resize(size, Image.Resampling.LANCZOS))


def crops_html(cs: CropSet, *, title: str | None = None) -> str:
    """The page as text (see the module docstring)."""
    H, W = cs.reference.shape[:2]
    esc = escape_html
    heading = title if title is not None else f"Detail crops of {cs.image}"
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
             f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">',
             '<meta name="viewport" content="width=device-width, initial-scale=1">',
             f"<title>{esc(heading)}</title><style>{_CSS}</style></head><body>",
             f"<h1>{esc(heading)}</h1>",
             '<p class="hint">Crops of one region zoom and pan together: wheel to zoom, drag to '
             'pan, double-click or 0 to reset. Pixels are shown enlarged without smoothing.</p>',
             '<div class="overview">',
             f'<img alt="{esc(cs.image)}" src="{png_data_uri(_overview(cs.reference))}">']
    for i, box in enumerate(cs.boxes):
        colour = BOX_COLOURS[i % len(BOX_COLOURS)]
        parts.append(f'<div class="box" title="region {i + 1}" style="border-color:{colour};'
                     f"left:{100 * box.x / W:.4f}%;top:{100 * box.y / H:.4f}%;"
                     f'width:{100 * box.w / W:.4f}%;height:{100 * box.h / H:.4f}%"></div>')
    parts.append("</div>")
    s = cs.scale
    for i, box in enumerate(cs.boxes):
        colour = BOX_COLOURS[i % len(BOX_COLOURS)]
        parts.append(f'<h2 style="color:{colour}">Region {i + 1}: x={box.x}, y={box.y}, '
                     f"{box.w}&times;{box.h} px, shown {s}&times;</h2>")
        parts.append(f'<div class="row" style="--w:{box.w * s}px;--h:{box.h * s}px">')
        panels = [("Original", "", cs.reference)] + \
                 [(m.method, cs.caption(m), m.pixels) for m in cs.methods]
        for name, caption, pixels in panels:
            crop = pixels[box.y:box.y + box.h, box.x:box.x + box.w]
            parts.append(
                f'<figure><div class="view" data-group="{i}" data-scale="{s}">'
                f'<img alt="{esc(name)}" width="{box.w}" height="{box.h}" draggable="false" '
                f'style="transform:scale({s})" src="{png_data_uri(crop)}"></div>'
                f"<figcaption><b>{esc(name)}</b>"
                + (f"<br>{esc(caption)}" if caption else "") + "</figcaption></figure>")
        parts.append("</div>")
    parts.append(f"<script>{_JS}</script></body></html>")
    return "\n".join(parts) + "\n"


def write_crops_html(cs: CropSet, out: str | Path, *, title: str | None = None) -> str:
    """Write the page to ``out`` atomically; returns the path."""
    from evalkit.provenance import atomic_write_text

    atomic_write_text(out, crops_html(cs, title=title))
    return str(out)
