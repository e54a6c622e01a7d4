"""``jpeg-compressai``: CompressAI's published JPEG = Pillow's defaults, only ``quality`` passed.

Checked against Pillow called directly the way CompressAI's ``compressai.utils.bench`` does
(``img.save(buf, "JPEG", quality=q)``), on small real photographs: identical bytes, 4:2:0
chroma, libjpeg's standard tables scaled by quality, standard (not optimised) Huffman tables.
"""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
import skimage.data
from PIL import Image, JpegImagePlugin

from baselines.codecs import get_codec
from baselines.sweep import run_sweep

PHOTOS = {"astronaut": skimage.data.astronaut()[::2, ::2], "coffee": skimage.data.coffee()[:200]}


def pillow_default_jpeg(pixels: np.ndarray, quality: int) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(pixels, "RGB").save(buf, "JPEG", quality=quality)
    return buf.getvalue()


@pytest.mark.parametrize("quality", [5, 50, 95])
def test_bytes_equal_pillow_defaults(quality):
    codec = get_codec("jpeg-compressai")
    optimised = get_codec("jpeg")
    for pixels in PHOTOS.values():
        data, _ = codec.encode(pixels, quality)
        assert data == pillow_default_jpeg(pixels, quality)
        with Image.open(io.BytesIO(data)) as im:
            assert JpegImagePlugin.get_sampling(im) == 2          # 4:2:0
            assert "progressive" not in im.info
        # the optimised family really differs (smaller, same pixels after decoding)
        opt, _ = optimised.encode(pixels, quality)
        assert len(opt) < len(data)
        assert np.array_equal(codec.decode(data), optimised.decode(opt))


def test_tables_are_libjpeg_standard_scaled():
    """Quantisation tables equal the IJG formula applied to the Annex K luminance table."""
    k1 = [16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40,
          57, 69, 56, 14, 17, 22, 29, 51, 87, 80, 62, 18, 22, 37, 56, 68, 109, 103, 77, 24, 35,
          55, 64, 81, 104, 113, 92, 49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100,
          103, 99]
    codec = get_codec("jpeg-compressai")
    for q in (10, 50, 75):
        data, _ = codec.encode(PHOTOS["coffee"], q)
        scale = 5000 // q if q < 50 else 200 - 2 * q
        want = sorted(min(255, max(1, (v * scale + 50) // 100)) for v in k1)
        with Image.open(io.BytesIO(data)) as im:
            assert sorted(im.quantization[0]) == want


def test_sweep_defaults_and_run_json(tmp_path):
    refs = tmp_path / "refs"
    refs.mkdir()
    Image.fromarray(PHOTOS["astronaut"][:96, :128]).save(refs / "astronaut.png")
    codec = get_codec("jpeg-compressai")
    assert codec.default_sweep == tuple(range(5, 100, 5))   # CompressAI's 19 qualities
    run_sweep(refs, tmp_path / "runs", ["jpeg-compressai"], [30], progress=False)
    meta = json.loads((tmp_path / "runs" / "jpeg-compressai" / "q30" / "run.json").read_text())
    assert meta["parameters"]["optimize"] is False
    assert meta["parameters"]["subsampling"] == "4:2:0"
    stream = (tmp_path / "runs" / "jpeg-compressai" / "q30" / "astronaut.jpg").read_bytes()
    assert stream == pillow_default_jpeg(PHOTOS["astronaut"][:96, :128], 30)
