"""Pixels shown to raters: originals, reconstructions, golden degradations, crops and zooms.

Everything leaves this module as uint8 RGB arrays (decoded pixels: no file names, JPEG tables or
EXIF); :mod:`study_app.delivery` encodes them for the browser.
Golden degradations are strong on purpose (a careful rater never prefers them):

* ``blur``     Gaussian blur, radius 1.5% of the short side (at least 3 px)
* ``noise``    additive Gaussian noise, sigma 40 (seeded)
* ``jpeg``     JPEG quality 3
* ``pixelate`` 12x nearest down- then up-sampling
"""

from __future__ import annotations

import io
import threading
from collections import OrderedDict

import numpy as np
from PIL import Image, ImageFilter

from evalkit.errors import StudyError
from evalkit.images import load_image
from study_app.design import GOLDEN_PREFIX, ORIGINAL, Box, name_key
from study_app.study_check import StudyCheck


def degrade(pixels: np.ndarray, kind: str, seed: int) -> np.ndarray:
    """A strongly degraded copy of ``pixels`` (uint8 RGB) for golden questions."""
    im = Image.fromarray(pixels)
    if kind == "blur":
        radius = max(3.0, 0.015 * min(im.size))
        return np.asarray(im.filter(ImageFilter.GaussianBlur(radius)))
    if kind == "noise":
        rng = np.random.default_rng(seed)
        noisy = pixels.astype(np.float32) + rng.normal(0.0, 40.0, pixels.shape)
        return np.clip(np.rint(noisy), 0, 255).astype(np.uint8)
    if kind == "jpeg":
        buf = io.BytesIO()
        im.save(buf, format="JPEG", quality=3)
        return np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))
    if kind == "pixelate":
        w, h = im.size
        small = im.resize((max(1, w // 12), max(1, h // 12)), Image.Resampling.BOX)
        return np.asarray(small.resize((w, h), Image.Resampling.NEAREST))
    raise StudyError(f"golden degradation must be blur, noise, jpeg or pixelate, got {kind!r}")


def crop(pixels: np.ndarray, box: Box | None) -> np.ndarray:
    if box is None:
        return pixels
    x, y, w, h = box
    return pixels[y:y + h, x:x + w]


def zoom_region(width: int, height: int, cx: float, cy: float, factor: int, view: int) -> Box:
    """The region the zoom shows: ``view/factor`` image pixels per side (so it fills ``view``
    CSS pixels at ``factor`` x), at most the image, centred at fractions (cx, cy) and shifted
    to stay inside."""
    if factor < 1 or view < 1:
        raise StudyError(f"zoom factor and view must be >= 1, got {factor} and {view}")
    zw, zh = min(width, max(1, view // factor)), min(height, max(1, view // factor))
    x = int(round(min(max(cx * width - zw / 2, 0), width - zw)))
    y = int(round(min(max(cy * height - zh / 2, 0), height - zh)))
    return (x, y, zw, zh)


class StimulusSource:
    """Looks up and caches the pixels of ``(method, image)``; thread-safe LRU.

    ``method`` is ``codec/setting``, ``"original"`` or ``"golden:<kind>"``.
    """

    def __init__(self, check: StudyCheck, seed: int, max_items: int = 64):
        self._check = check
        self._seed = seed
        self._max = max_items
        self._cache: OrderedDict[tuple[str, str], np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def pixels(self, method: str, image: str) -> np.ndarray:
        key = (method, image)
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        arr = self._load(method, image)
        arr.setflags(write=False)
        with self._lock:
            self._cache[key] = arr
            while len(self._cache) > self._max:
                self._cache.popitem(last=False)
        return arr

    def _load(self, method: str, image: str) -> np.ndarray:
        if image not in self._check.references:
            raise StudyError(f"image must be one of the study's images, got {image!r}")
        if method == ORIGINAL:
            return load_image(self._check.references[image])
        if method.startswith(GOLDEN_PREFIX):
            kind = method[len(GOLDEN_PREFIX):]
            return degrade(self.pixels(ORIGINAL, image), kind, self._seed + name_key(image))
        path = self._check.reconstructions.get((method, image))
        if path is None:
            raise StudyError(f"method must be one of the study's methods, got {method!r}")
        return load_image(path)

    def view(self, method: str, image: str, box: Box | None) -> np.ndarray:
        """The (cropped) pixels of one stimulus as shown in a trial."""
        return crop(self.pixels(method, image), box)
