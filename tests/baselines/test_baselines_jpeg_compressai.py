"""``jpeg-compressai``: CompressAI's published JPEG = Pillow 7.1.2's defaults = IJG libjpeg 9d.

The stream is checked segment by segment against what Pillow writes for ``img.save(buf,
"JPEG", quality=q)`` (CompressAI's call): the same quantisation and Huffman tables, 4:2:0,
baseline.  The decoder is checked to be libjpeg 9's, not libjpeg-turbo's: identical pixels
where chroma is flat, chroma reconstructed differently but to the same 2x2 block averages
elsewhere.  That it reproduces the published Kodak curve is shown by ``bench/jpeg_compressai.py``
(Kodak is not shipped with the tests).
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


def segments(data: bytes) -> dict[int, list[bytes]]:
    """Marker -> payloads of a JPEG's header segments, up to the start of scan."""
    assert data[:2] == b"\xff\xd8"
    out: dict[int, list[bytes]] = {}
    i = 2
    while True:
        assert data[i] == 0xFF
        marker = data[i + 1]
        length = int.from_bytes(data[i + 2:i + 4], "big")
        out.setdefault(marker, []).append(data[i + 4:i + 2 + length])
        if marker == 0xDA:  # SOS: the entropy-coded data follows
            return out
        i += 2 + length


DQT, DHT, SOF0, SOF2 = 0xDB, 0xC4, 0xC0, 0xC2


def tables(data: bytes, marker: int) -> bytes:
    return b"".join(segments(data)[marker])


@pytest.mark.parametrize("quality", [5, 50, 95])
def test_stream_has_pillows_default_tables(quality):
    codec = get_codec("jpeg-compressai")
    optimised = get_codec("jpeg")
    for pixels in PHOTOS.values():
        data, _ = codec.encode(pixels, quality)
        pillow = pillow_default_jpeg(pixels, quality)
        segs = segments(data)
        assert SOF0 in segs and SOF2 not in segs                      # baseline, sequential
        assert tables(data, DQT) == tables(pillow, DQT)               # quantisation tables
        assert tables(data, DHT) == tables(pillow, DHT)               # standard Huffman tables
        with Image.open(io.BytesIO(data)) as im:
            assert JpegImagePlugin.get_sampling(im) == 2              # 4:2:0
        # within a fraction of a percent of Pillow's size; the optimised family is smaller
        assert abs(len(data) / len(pillow) - 1) < 0.02
        opt, _ = optimised.encode(pixels, quality)
        assert len(opt) < len(data)
        assert tables(opt, DHT) != tables(pillow, DHT)


def test_tables_are_libjpeg_standard_scaled():
    """Quantisation tables equal the IJG formula applied to the Annex K luminance table."""
    k1 = [16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40,
          57, 69, 56, 14, 17, 22, 29, 51, 87, 80, 62, 18, 22, 37, 56, 68, 109, 103, 77, 24, 35,
          55, 64, 81, 104, 113, 92, 49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100,
          103, 99]
    codec = get_codec("jpeg-compressai")
    for q in (5, 10, 50, 75):
        data, _ = codec.encode(PHOTOS["coffee"], q)
        scale = 5000 // q if q < 50 else 200 - 2 * q
        want = sorted(min(255, max(1, (v * scale + 50) // 100)) for v in k1)  # baseline: <= 255
        with Image.open(io.BytesIO(data)) as im:
            assert sorted(im.quantization[0]) == want


def test_decoder_is_libjpeg9_not_turbo():
    """Grey pictures (flat chroma) decode identically in both libraries; colour pictures differ
    only by how the 4:2:0 chroma is brought to full size (same 2x2 block averages)."""
    codec = get_codec("jpeg-compressai")
    grey = np.repeat(skimage.data.camera()[::2, ::2, None], 3, axis=2)
    data, _ = codec.encode(grey, 50)
    with Image.open(io.BytesIO(data)) as im:
        turbo = np.asarray(im.convert("RGB"))
    assert np.array_equal(codec.decode(data), turbo)

    pixels = PHOTOS["astronaut"]
    data, _ = codec.encode(pixels, 50)
    ours = codec.decode(data).astype(np.float64)
    with Image.open(io.BytesIO(data)) as im:
        turbo = np.asarray(im.convert("RGB")).astype(np.float64)
    assert (ours != turbo).mean() > 0.05                     # really another upsampler

    def block_means(a):
        h, w = a.shape[0] // 2 * 2, a.shape[1] // 2 * 2
        return a[:h, :w].reshape(h // 2, 2, w // 2, 2, 3).mean(axis=(1, 3))

    gap = np.abs(block_means(ours) - block_means(turbo))
    assert np.median(gap) == 0 and gap.mean() < 1.0
    # and it is a faithful decode of the original
    mse = np.mean((ours - pixels) ** 2)
    assert 10 * np.log10(255**2 / mse) > 28


def test_sweep_defaults_and_run_json(tmp_path):
    refs = tmp_path / "refs"
    refs.mkdir()
    pixels = PHOTOS["astronaut"][:96, :128]
    Image.fromarray(pixels).save(refs / "astronaut.png")
    codec = get_codec("jpeg-compressai")
    assert codec.default_sweep == tuple(range(5, 100, 5))   # CompressAI's 19 qualities
    run_sweep(refs, tmp_path / "runs", ["jpeg-compressai"], [30], progress=False)
    meta = json.loads((tmp_path / "runs" / "jpeg-compressai" / "q30" / "run.json").read_text())
    assert meta["parameters"]["optimize"] is False
    assert meta["parameters"]["subsampling"] == "4:2:0"
    assert "libjpeg 9d" in meta["parameters"]["library"]
    stream = (tmp_path / "runs" / "jpeg-compressai" / "q30" / "astronaut.jpg").read_bytes()
    assert stream == codec.encode(pixels, 30)[0]
    assert tables(stream, DQT) == tables(pillow_default_jpeg(pixels, 30), DQT)
