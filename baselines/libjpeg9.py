"""JPEG through IJG libjpeg 9d (the ``jpeglib`` package): the library CompressAI's curves used.

CompressAI's published JPEG points (``compressai-kodak/jpeg``: "Pillow version 7.1.2") were made
with ``img.save(buf, "JPEG", quality=q)`` and read back with ``Image.open``.  Pillow 7's wheels
bundled IJG libjpeg 9d; Pillow >= 9 bundles libjpeg-turbo.  Both write the same kind of stream
(4:2:0, baseline, standard Huffman tables, the Annex K tables scaled by quality), but they decode
the subsampled chroma differently: libjpeg-turbo interpolates it ("fancy" triangle upsampling),
libjpeg 9 computes it at full size with a scaled 16x16 inverse DCT.  On Kodak-24 that alone puts
Pillow 13's pixels 0.07-0.13 dB above the published PSNR (BD-rate -1.8 %), while libjpeg 9d for
encoding and decoding reproduces every published point (mean bpp and PSNR equal to 4 decimals,
BD-rate 0.00 %; ``bench/jpeg_compressai.py``).  Pillow has no switch for either, and no other
maintained Python package ships libjpeg 9, hence ``jpeglib`` (a ctypes wrapper that bundles the
IJG, libjpeg-turbo and mozjpeg releases).

``jpeglib`` selects its library process-wide (``jpeglib.version.set``), so every call here
holds one lock and selects 9d first; it reads and writes files only, so the bytes go through a
private temporary folder.
"""

from __future__ import annotations

import tempfile
import threading
from pathlib import Path

import numpy as np

#: The IJG release in Pillow 7.x's wheels (CompressAI's published JPEG curves).
LIBJPEG_RELEASE = "9d"

_LOCK = threading.Lock()


def _jpeglib():
    import jpeglib

    jpeglib.version.set(LIBJPEG_RELEASE)
    return jpeglib


def unavailable_reason() -> str | None:
    """None when libjpeg 9d can be used here, else what is missing."""
    try:
        with _LOCK:
            _jpeglib()
    except ImportError:
        return "the 'jpeglib' package is not installed (pip install jpeglib)"
    except (RuntimeError, NotImplementedError) as exc:
        return f"jpeglib cannot load IJG libjpeg {LIBJPEG_RELEASE}: {exc}"
    return None


def package_release() -> str:
    import jpeglib

    return str(getattr(jpeglib, "__version__", "unknown"))


def encode(pixels: np.ndarray, quality: int) -> bytes:
    """Baseline JPEG of 8-bit RGB ``pixels`` with libjpeg's defaults and ``quality`` (what
    ``jpeg_set_quality(q, force_baseline=TRUE)`` gives, as Pillow calls it): 4:2:0 chroma,
    standard Huffman tables, islow DCT, JFIF header."""
    with _LOCK, tempfile.TemporaryDirectory(prefix="evalkit-libjpeg9-") as tmp:
        jpeglib = _jpeglib()
        path = Path(tmp) / "image.jpg"
        jpeglib.from_spatial(np.ascontiguousarray(pixels)).write_spatial(
            str(path), qt=int(quality), flags=["+FORCE_BASELINE"])
        return path.read_bytes()


def decode(data: bytes) -> np.ndarray:
    """RGB pixels (H, W, 3) uint8 of a JPEG bitstream, decoded by libjpeg 9d with its defaults
    (islow IDCT, DCT-scaled chroma upsampling)."""
    with _LOCK, tempfile.TemporaryDirectory(prefix="evalkit-libjpeg9-") as tmp:
        jpeglib = _jpeglib()
        path = Path(tmp) / "image.jpg"
        path.write_bytes(data)
        pixels = np.array(jpeglib.read_spatial(str(path)).spatial, dtype=np.uint8)
    if pixels.ndim == 3 and pixels.shape[-1] == 1:
        pixels = np.repeat(pixels, 3, axis=-1)
    return pixels
