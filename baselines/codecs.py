"""Traditional image codecs run in-process through the field's usual libraries.

One small class per codec; :class:`baselines.codec_base.Codec` holds what they share (timing,
bpp, validation, setting names).  Every codec encodes 8-bit RGB pixels to a real bitstream (the bytes a file
of that format holds) and decodes that bitstream back to RGB pixels.

==========  =================================  ===========================================
name        library                            rate parameter (``value``)
==========  =================================  ===========================================
jpeg        Pillow / libjpeg-turbo, 4:2:0      quality 1..100
jpeg444     Pillow / libjpeg-turbo, 4:4:4      quality 1..100
jpeg-compressai  jpeglib / IJG libjpeg 9d, 4:2:0  quality 1..100; CompressAI's Kodak JPEG
webp        Pillow / libwebp, method 6         quality 0..100
jpeg2000    Pillow / OpenJPEG, 9/7 wavelet     target bpp (OpenJPEG "rates" mode)
avif        Pillow / libavif + libaom, speed 6 quality 0..100 (4:2:0)
jxl         imagecodecs / libjxl, effort 7     quality 0..100 (libjxl's quality->distance)
heic        pillow-heif / libheif + x265       quality 0..100 (4:2:0); closest stand-in for BPG
==========  =================================  ===========================================

Encoders run single-threaded (parallelism is across images, see :mod:`baselines.sweep`), which
also keeps their output independent of the machine's core count.
"""

from __future__ import annotations

import bisect
import io
from typing import Any

import numpy as np

from baselines import libjpeg9
from baselines.codec_base import Codec, Encoded
from evalkit.commalist import comma_list
from evalkit.errors import CodecError
from evalkit.provenance import package_version
from evalkit.rate import bits_per_pixel

__all__ = ["CODECS", "Codec", "Encoded", "bits_per_pixel", "get_codec", "parse_codec_list"]


# -- Pillow-based codecs --------------------------------------------------------------------
def _pil_save(pixels: np.ndarray, fmt: str, **params: Any) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(pixels, "RGB").save(buf, fmt, **params)
    return buf.getvalue()


def _pil_decode(data: bytes) -> np.ndarray:
    from PIL import Image

    with Image.open(io.BytesIO(data)) as im:
        im.load()
        return np.asarray(im.convert("RGB"))


def _pil_feature(feature: str) -> str | None:
    from PIL import features

    return None if features.check(feature) else f"this Pillow build has no {feature} support"


def _pil_versions(feature: str, lib: str) -> dict[str, str | None]:
    from PIL import features

    return {"pillow": package_version("pillow"), lib: features.version(feature)}


class PillowCodec(Codec):
    """A codec Pillow encodes and decodes; subclasses name the Pillow feature, its library and
    the Pillow save format.  :meth:`parameters` are Pillow's save options, except the keys in
    ``recorded_only`` (facts about the encode that are no option, kept in run.json)."""

    pil_feature: str = ""
    pil_library: str = ""
    pil_format: str = ""
    recorded_only: tuple[str, ...] = ()

    def _pil_options(self, params: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in params.items() if k not in self.recorded_only}

    def _encode(self, pixels: np.ndarray, params: dict[str, Any]) -> bytes:
        return _pil_save(pixels, self.pil_format, **self._pil_options(params))

    def _decode(self, data: bytes) -> np.ndarray:
        return _pil_decode(data)

    def _check_available(self) -> str | None:
        return _pil_feature(self.pil_feature)

    def versions(self) -> dict[str, str | None]:
        return _pil_versions(self.pil_feature, self.pil_library)


class JpegCodec(PillowCodec):
    """JPEG through Pillow's libjpeg-turbo; optimised Huffman tables, baseline, no progressive."""

    name = "jpeg"
    extension = ".jpg"
    minimum = 1
    subsampling = "4:2:0"
    default_sweep = (5, 10, 15, 20, 30, 40, 50, 60, 70, 80, 90)
    description = "JPEG (libjpeg-turbo via Pillow), chroma 4:2:0"
    pil_feature, pil_library, pil_format = "jpg", "libjpeg", "JPEG"

    def parameters(self, value: float) -> dict[str, Any]:
        # Pillow takes the subsampling as "4:2:0"/"4:4:4" itself.
        return {"quality": int(value), "subsampling": self.subsampling, "optimize": True,
                "progressive": False}

    def versions(self) -> dict[str, str | None]:
        from PIL import features

        return {**super().versions(), "libjpeg_turbo": features.version("libjpeg_turbo")}


class Jpeg444Codec(JpegCodec):
    name = "jpeg444"
    subsampling = "4:4:4"
    description = "JPEG (libjpeg-turbo via Pillow), chroma 4:4:4"


class JpegCompressAICodec(Codec):
    """JPEG exactly as CompressAI's published curves made it: IJG libjpeg 9d, only ``quality``.

    CompressAI's ``compressai.utils.bench`` JPEG saves with ``img.save(buf, "JPEG",
    quality=q)`` and nothing else, under Pillow 7.1.2, whose wheels bundled IJG libjpeg 9d:
    4:2:0 chroma, standard Huffman tables (no ``optimize``), baseline, libjpeg's standard
    quantisation tables scaled by quality; decoded by the same library.  Today's Pillow bundles
    libjpeg-turbo, which decodes the chroma differently (see :mod:`baselines.libjpeg9`), so this
    family encodes and decodes with libjpeg 9d itself.  Its default sweep is CompressAI's
    (quality 5..95 in steps of 5).
    """

    name = "jpeg-compressai"
    extension = ".jpg"
    minimum = 1
    releases_gil = False  # one libjpeg selection per process: sweep in processes, not threads
    default_sweep = tuple(range(5, 100, 5))
    description = ("JPEG by IJG libjpeg 9d with its defaults (4:2:0, standard Huffman tables, "
                   "no optimize), as CompressAI's published Kodak/CLIC JPEG curves")

    def parameters(self, value: float) -> dict[str, Any]:
        return {"quality": int(value), "subsampling": "4:2:0", "optimize": False,
                "progressive": False, "force_baseline": True,
                "qtables": "libjpeg standard, scaled by quality",
                "library": f"IJG libjpeg {libjpeg9.LIBJPEG_RELEASE} (encode and decode)",
                "convention": "CompressAI (Pillow 7.1.2 defaults: only quality is passed)"}

    def _encode(self, pixels: np.ndarray, params: dict[str, Any]) -> bytes:
        return libjpeg9.encode(pixels, params["quality"])

    def _decode(self, data: bytes) -> np.ndarray:
        return libjpeg9.decode(data)

    def _check_available(self) -> str | None:
        return libjpeg9.unavailable_reason()

    def versions(self) -> dict[str, str | None]:
        return {"jpeglib": libjpeg9.package_release(), "libjpeg": libjpeg9.LIBJPEG_RELEASE}


class WebpCodec(PillowCodec):
    name = "webp"
    extension = ".webp"
    default_sweep = (0, 5, 10, 20, 30, 40, 50, 60, 70, 80, 90)
    description = "WebP lossy (libwebp via Pillow), method 6"
    pil_feature, pil_library, pil_format = "webp", "libwebp", "WEBP"

    def parameters(self, value: float) -> dict[str, Any]:
        return {"quality": int(value), "method": 6, "lossless": False, "exact": False}


class Jpeg2000Codec(PillowCodec):
    """JPEG 2000 (OpenJPEG): the rate parameter is the target bpp, met by OpenJPEG's rate control.

    OpenJPEG's "rates" mode takes a compression ratio against the raw 24-bit image, so a
    target of ``b`` bpp is the ratio ``24 / b``.  It can overshoot by a fraction of a percent,
    which is why bpp matching still searches a fine grid of targets.
    """

    name = "jpeg2000"
    extension = ".jp2"
    value_name = "target bpp"
    setting_prefix = "bpp"
    minimum = 0.005
    maximum = 12.0
    integer = False
    releases_gil = False  # measured: Pillow's OpenJPEG encoder holds the GIL
    default_sweep = (0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0)
    description = "JPEG 2000 (OpenJPEG via Pillow), irreversible 9/7, rate-controlled"
    pil_feature, pil_library, pil_format = "jpg_2000", "openjpeg", "JPEG2000"
    recorded_only = ("target_bpp",)  # the value; OpenJPEG gets it as quality_layers

    def grid(self) -> list[float]:
        # ~0.5 % steps: the finest difference a matched target needs in practice.
        n = int(np.ceil(np.log(self.maximum / self.minimum) / np.log(1.005)))
        return [float(v) for v in np.round(np.geomspace(self.minimum, self.maximum, n + 1), 5)]

    def start_hint(self, grid: list[float] | tuple[float, ...], target_bpp: float) -> int | None:
        # OpenJPEG's rate control lands within ~1 % of the requested bpp.
        return max(0, bisect.bisect_right(list(grid), target_bpp) - 1)

    def parameters(self, value: float) -> dict[str, Any]:
        return {"target_bpp": float(value), "quality_mode": "rates",
                "quality_layers": [24.0 / float(value)], "irreversible": True,
                "num_resolutions": 6, "codeblock_size": [64, 64], "progression": "LRCP",
                "mct": 1, "no_jp2": False}

    def _pil_options(self, params: dict[str, Any]) -> dict[str, Any]:
        opts = super()._pil_options(params)
        return {**opts, "codeblock_size": tuple(opts["codeblock_size"])}  # JSON has no tuples


class AvifCodec(PillowCodec):
    """AVIF through Pillow's libavif with the libaom encoder at speed 6 (libavif's default)."""

    name = "avif"
    extension = ".avif"
    speed = 6
    default_sweep = (5, 10, 20, 30, 40, 50, 60, 70, 80, 90)
    description = "AVIF (libavif + libaom via Pillow), speed 6, 4:2:0"
    pil_feature, pil_library, pil_format = "avif", "libavif", "AVIF"

    def parameters(self, value: float) -> dict[str, Any]:
        return {"quality": int(value), "speed": self.speed, "codec": "aom", "subsampling": "4:2:0",
                "range": "full", "max_threads": 1}

    def _check_available(self) -> str | None:
        missing = super()._check_available()
        if missing:
            return missing
        from PIL import _avif

        if not _avif.encoder_codec_available("aom"):
            return "Pillow's libavif has no libaom encoder"
        return None

    def versions(self) -> dict[str, str | None]:
        from PIL import _avif

        return {**super().versions(), "av1_codecs": _avif.codec_versions()}


class JxlCodec(Codec):
    """JPEG XL through imagecodecs' libjxl; ``quality`` maps to a Butteraugli distance in libjxl."""

    name = "jxl"
    extension = ".jxl"
    default_sweep = (1, 10, 20, 30, 40, 50, 60, 70, 80, 90)
    description = "JPEG XL (libjxl via imagecodecs), effort 7"

    def parameters(self, value: float) -> dict[str, Any]:
        return {"level": int(value), "effort": 7, "lossless": False, "numthreads": 1}

    def _encode(self, pixels: np.ndarray, params: dict[str, Any]) -> bytes:
        import imagecodecs

        return imagecodecs.jpegxl_encode(pixels, **params)

    def _decode(self, data: bytes) -> np.ndarray:
        import imagecodecs

        return imagecodecs.jpegxl_decode(data, numthreads=1)

    def _check_available(self) -> str | None:
        import imagecodecs

        return None if imagecodecs.JPEGXL.available else "imagecodecs was built without libjxl"

    def versions(self) -> dict[str, str | None]:
        import imagecodecs

        return {"imagecodecs": imagecodecs.__version__, "libjxl": imagecodecs.jpegxl_version()}


class HeicCodec(Codec):
    """HEIC (HEVC intra, x265 via libheif): the closest stand-in for BPG available here."""

    name = "heic"
    extension = ".heic"
    default_sweep = (1, 5, 10, 15, 20, 25, 30, 35, 40, 50, 60)
    description = "HEIC (libheif + x265 via pillow-heif), 4:2:0; HEVC intra like BPG"

    #: Recorded facts that are no ``save`` option: libheif picks x265 (checked by
    #: :meth:`_check_available`), the NCLX switch is a pillow-heif global, x265 keeps its preset.
    recorded_only = ("encoder", "save_nclx_profile", "x265_preset")

    def parameters(self, value: float) -> dict[str, Any]:
        return {"quality": int(value), "chroma": 420, "encoder": "x265", "tile_size": 0,
                "save_nclx_profile": _heif_option("SAVE_NCLX_PROFILE"),
                "x265_preset": "libheif default"}

    def _encode(self, pixels: np.ndarray, params: dict[str, Any]) -> bytes:
        import pillow_heif

        h, w = pixels.shape[:2]
        heif = pillow_heif.from_bytes(mode="RGB", size=(w, h), data=pixels.tobytes())
        buf = io.BytesIO()
        heif.save(buf, **{k: v for k, v in params.items() if k not in self.recorded_only})
        return buf.getvalue()

    def _decode(self, data: bytes) -> np.ndarray:
        import pillow_heif

        heif = pillow_heif.open_heif(io.BytesIO(data), convert_hdr_to_8bit=True)
        if heif.mode != "RGB":
            raise CodecError(f"heic: decoded mode {heif.mode}, expected RGB")
        return np.asarray(heif)

    def _check_available(self) -> str | None:
        import pillow_heif

        info = pillow_heif.libheif_info()
        if "x265" not in (info.get("encoders") or {}):
            return "pillow-heif's libheif has no x265 HEVC encoder"
        return None

    def versions(self) -> dict[str, str | None]:
        import pillow_heif

        info = pillow_heif.libheif_info()
        return {"pillow-heif": package_version("pillow-heif"), "libheif": info.get("libheif"),
                "encoder": info.get("HEIF"), "decoders": info.get("decoders")}


#: Every codec by name, in the order the docs list them.
CODECS: dict[str, type[Codec]] = {c.name: c for c in
                                  (JpegCodec, Jpeg444Codec, JpegCompressAICodec, WebpCodec,
                                   Jpeg2000Codec, AvifCodec, JxlCodec, HeicCodec)}


def get_codec(name: str) -> Codec:
    """The codec called ``name``, checked to be usable here.

    Raises:
        CodecError: unknown name (the message lists the known ones) or missing library.
    """
    cls = CODECS.get(name)
    if cls is None:
        raise CodecError(f"codec must be one of {', '.join(CODECS)}, got {name!r}")
    codec = cls()
    codec.require()
    return codec


def parse_codec_list(text: str | list[str]) -> list[str]:
    """``"jpeg,webp"`` -> ``["jpeg", "webp"]`` (validated names, duplicates removed)."""
    out: list[str] = []
    for n in comma_list(text) or ():
        if n not in CODECS:
            raise CodecError(f"codec must be one of {', '.join(CODECS)}, got {n!r}")
        if n not in out:
            out.append(n)
    if not out:
        raise CodecError("codec list must name at least one codec, got nothing")
    return out


def _heif_option(name: str) -> Any:
    import pillow_heif

    return getattr(pillow_heif.options, name, None)
