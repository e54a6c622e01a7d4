"""How stimuli reach the browser without anything but their pixels telling them apart.

Each delivery of a trial's images (Original, A, B) is encoded afresh, so nothing a script can
read -- URL, bytes, hash, size, order -- links the intact side of a golden trial to the Original,
or the same image across trials or raters.  Pixels stay exactly the stimulus (lossless PNG):

* **Fresh bytes per delivery**: every PNG row gets a random filter type (None, Sub or Up -- all
  lossless) and the deflate stream a random compression level, so two encodings of the same pixels
  share no compressed bytes; a random-content private ancillary chunk (``rnDm``, ignored by every
  decoder) makes hashes differ even for tiny images.
* **Equal sizes**: the three PNGs of one view are padded to one common length (a random amount
  above the largest): the deflate streams with empty stored blocks (5 bytes each) to within 4
  bytes of each other, the rest with the ancillary chunk.  File sizes are then identical and
  IDAT lengths differ by at most 4 bytes, by an amount unrelated to the content.
* **URLs and headers** follow from the bytes: Streamlit serves each PNG at ``/media/<hash of its
  bytes>.png`` with the same headers (type, equal length), so URLs are random per delivery and
  the same image in two trials or for two raters gets two unrelated URLs.

Pixel *content* is not hidden, by design: a program that decodes the images and compares pixels
sees what a human sees (see docs/study.md, "Blindness and golden questions").

Hand-written PNG writer because no library offers per-row random filters plus exact padding
(Pillow and pypng choose filters themselves); the format is a few chunks, checked by decoding
with Pillow in the tests.
"""

from __future__ import annotations

import html
import secrets
import struct
import threading
import zlib
from collections import OrderedDict
from datetime import datetime

import numpy as np

from evalkit.errors import StudyError
from study_app.store_schema import utcnow

_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_EMPTY_STORED_BLOCK = b"\x00\x00\x00\xff\xff"   # non-final stored block of length 0 (aligned)
_PAD_TYPE = b"rnDm"                              # ancillary, private, safe-to-copy


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _filtered_rows(pixels: np.ndarray, rng: np.random.Generator) -> bytes:
    """Scanlines with a random lossless filter each: 0 None, 1 Sub, 2 Up (PNG spec 9.2)."""
    h, w, c = pixels.shape
    rows = pixels.reshape(h, w * c)
    sub = rows.copy()
    sub[:, c:] = rows[:, c:] - rows[:, :-c]            # uint8 arithmetic wraps mod 256
    up = rows.copy()
    up[1:] = rows[1:] - rows[:-1]
    kinds = rng.integers(0, 3, h)
    out = np.empty((h, 1 + w * c), np.uint8)
    out[:, 0] = kinds
    out[:, 1:] = np.where((kinds == 0)[:, None], rows, np.where((kinds == 1)[:, None], sub, up))
    return out.tobytes()


def _deflate_parts(pixels: np.ndarray, rng: np.random.Generator) -> tuple[bytes, bytes]:
    """(body ending byte-aligned, tail) of a zlib stream; empty stored blocks may go between."""
    comp = zlib.compressobj(int(rng.integers(1, 4)))   # fast levels: a rater waits for it
    body = comp.compress(_filtered_rows(pixels, rng)) + comp.flush(zlib.Z_SYNC_FLUSH)
    return body, comp.flush(zlib.Z_FINISH)


def unlinkable_pngs(images: list[np.ndarray], rng: np.random.Generator | None = None) -> list[bytes]:
    """Encode uint8 RGB arrays as PNGs of one common byte length with fresh random bytes."""
    rng = rng or np.random.default_rng(secrets.randbits(128))
    for im in images:
        if im.dtype != np.uint8 or im.ndim != 3 or im.shape[2] != 3:
            raise StudyError(f"stimulus must be a uint8 RGB array, got {im.dtype} {im.shape}")
    parts = [_deflate_parts(np.ascontiguousarray(im), rng) for im in images]
    zlen = [len(b) + len(t) for b, t in parts]
    target = max(zlen) + int(rng.integers(0, 64))
    streams = []
    for (body, tail), n in zip(parts, zlen):
        streams.append(body + _EMPTY_STORED_BLOCK * ((target - n) // 5) + tail)
    total_pad = max(len(s) for s in streams) + int(rng.integers(8, 72))
    out = []
    for im, stream in zip(images, streams):
        h, w = im.shape[:2]
        ihdr = _chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
        pad = rng.integers(0, 256, total_pad - len(stream), dtype=np.uint8).tobytes()
        out.append(_SIGNATURE + ihdr + _chunk(b"IDAT", stream) + _chunk(_PAD_TYPE, pad)
                   + _chunk(b"IEND", b""))
    return out


def img_html(src: str, width: int, height: int, alt: str, caption: str, *,
             scale: float | None = 1.0, max_height: str | None = None) -> str:
    """An ``<img>`` of a served PNG (``src``: its media URL) with its caption.

    ``scale``: exact CSS size ``width*scale`` x ``height*scale`` CSS pixels, nearest-neighbour
    (``image-rendering: pixelated``: crisp at any device pixel ratio), inside a box that scrolls
    when the window is smaller (never resized by the layout); None: fit the column (overview,
    never enlarged).  ``max_height``: CSS height limit of the scroll box.
    """
    src, alt, caption = html.escape(src), html.escape(alt), html.escape(caption)
    if scale is None:
        style = "max-width:100%;height:auto;display:block;"
        box = "width:100%;"
    else:
        style = (f"width:{width * scale:g}px;height:{height * scale:g}px;max-width:none;"
                 "display:block;image-rendering:pixelated;")
        box = "max-width:100%;overflow:auto;" + (f"max-height:{max_height};" if max_height else "")
    return (f'<div style="{box}"><img src="{src}" alt="{alt}" width="{width}" height="{height}" '
            f'style="{style}" draggable="false"></div>'
            f'<div style="font-size:0.85rem;opacity:0.7;padding-top:2px">{caption}</div>')


# ---- when did the browser get the images? ------------------------------------------------------
# `evalkit study serve` (study_app.server) calls note_served() whenever Streamlit's media endpoint
# hands out a file; a trial counts as shown once its first view's images were all fetched (the
# server's own render time comes earlier by the whole transfer, up to seconds for large images).
_SERVED: OrderedDict[str, datetime] = OrderedDict()
_SERVED_LOCK = threading.Lock()


def _file_id(url: str) -> str:
    return url.rsplit("/", 1)[-1].split(".", 1)[0]


def note_served(file_id: str) -> None:
    with _SERVED_LOCK:
        _SERVED[_file_id(file_id)] = utcnow()
        while len(_SERVED) > 100_000:
            _SERVED.popitem(last=False)


def served_at(urls: list[str]) -> datetime | None:
    """When the last of ``urls`` was first fetched; None unless all were (or not recorded)."""
    with _SERVED_LOCK:
        times = [_SERVED.get(_file_id(u)) for u in urls]
    return max(times) if urls and all(times) else None
