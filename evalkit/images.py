"""Image loading and validation: any common format to uint8 RGB, with clear errors.

Policy (also in the README):

Converted silently
  * EXIF orientation is applied (the pixels are turned the way a viewer shows them).
  * Palette images ("P") are expanded to RGB(A); bilevel ("1") images become grayscale.
  * An alpha channel that is fully opaque (every value 255) is dropped.
  * Grayscale images are replicated to three channels -- but only when *both* images of a
    pair are grayscale (see below).

Refused with an :class:`~evalkit.errors.ImageError` naming the file
  * unreadable, truncated or not-an-image files;
  * images of more than ``$EVALKIT_MAX_IMAGE_PIXELS`` pixels (default: Pillow's decompression-
    bomb limit, 89,478,485), judged from the header before anything is decoded -- a small file
    can declare a huge image; raise the variable for a trusted file;
  * an alpha channel that is not fully opaque (compositing would invent pixels);
  * 16-bit (or float / 32-bit integer) samples: evalkit's metrics follow the 8-bit
    conventions of the field and will not quietly drop precision;
  * CMYK, YCbCr-as-stored or other colour models without an unambiguous RGB meaning.

Refused for a pair with an :class:`~evalkit.errors.ImagePairError`
  * reference and reconstruction of different sizes (both sizes are shown);
  * one grayscale and one colour image.

Lossy references: :func:`lossy_format` tells from a file's header whether it was stored with a
lossy codec (JPEG, lossy WebP, AVIF/HEIF); the verbs warn about such references (or refuse them
with ``--strict``) through :func:`check_references`.
"""

from __future__ import annotations

import os
import struct
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from evalkit.errors import ImageError, ImagePairError

# Truncated files must fail loudly, never be padded with grey.
ImageFile.LOAD_TRUNCATED_IMAGES = False

#: Environment variable holding the largest image (in pixels) evalkit decodes.
MAX_PIXELS_ENV = "EVALKIT_MAX_IMAGE_PIXELS"
#: Default of :data:`MAX_PIXELS_ENV`: Pillow's own decompression-bomb threshold.
DEFAULT_MAX_PIXELS = 89_478_485

# evalkit refuses an image above the limit with an ImageError naming the file (see _check_pixels);
# Pillow's own warning for the same images would only add an unnamed second message.
warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)

_PLUGINS_REGISTERED = False

#: File extensions evalkit reads as images (decoded by Pillow, pillow-heif or imagecodecs).
IMAGE_EXTENSIONS = frozenset(
    {".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff", ".ppm", ".pgm", ".pnm",
     ".jp2", ".j2k", ".jpx", ".avif", ".heic", ".heif", ".jxl"}
)


def _register_plugins() -> None:
    """Teach Pillow HEIF/AVIF through pillow-heif (once; optional)."""
    global _PLUGINS_REGISTERED
    if _PLUGINS_REGISTERED:
        return
    _PLUGINS_REGISTERED = True
    try:
        import pillow_heif

        pillow_heif.register_heif_opener()
        if hasattr(pillow_heif, "register_avif_opener"):
            pillow_heif.register_avif_opener()
    except ImportError:  # pragma: no cover - pillow-heif is a declared dependency
        pass


@dataclass(frozen=True)
class LoadedImage:
    """Decoded pixels plus what the file originally was.

    Attributes:
        pixels: ``(H, W, 3)`` uint8 array (grayscale files hold the gray plane three times).
        path: the file it came from.
        grayscale: True when the file stored a single (gray) channel.
        source_mode: Pillow mode (or ``"imagecodecs"``) of the stored pixels.
    """

    pixels: np.ndarray
    path: Path
    grayscale: bool
    source_mode: str

    @property
    def size(self) -> tuple[int, int]:
        """``(width, height)``."""
        return int(self.pixels.shape[1]), int(self.pixels.shape[0])


def max_image_pixels() -> int:
    """The pixel limit from ``$EVALKIT_MAX_IMAGE_PIXELS`` (default :data:`DEFAULT_MAX_PIXELS`)."""
    text = os.environ.get(MAX_PIXELS_ENV, "").strip()
    if not text:
        return DEFAULT_MAX_PIXELS
    try:
        value = int(text)
    except ValueError:
        raise ImageError(f"{MAX_PIXELS_ENV} must be a whole number of pixels, got {text!r}") from None
    if value <= 0:
        raise ImageError(f"{MAX_PIXELS_ENV} must be positive, got {value}")
    return value


def _allow_pillow(limit: int) -> None:
    """Let Pillow open images up to ``limit`` pixels (it refuses above twice its own limit); only
    ever raises Pillow's limit, so evalkit's check stays the one that speaks."""
    if Image.MAX_IMAGE_PIXELS is not None and Image.MAX_IMAGE_PIXELS < limit:
        Image.MAX_IMAGE_PIXELS = limit


def _bomb_message(path: Path, width: int | None, height: int | None, limit: int) -> str:
    if width and height:
        size = f"is {width}x{height} = {width * height:,} pixels"
    else:  # Pillow refused it first (above twice its own limit)
        size = f"has more than {2 * (Image.MAX_IMAGE_PIXELS or limit):,} pixels"
    return (f"{path}: image {size}, more than the limit of {limit:,} (decompression-bomb "
            f"protection); if the file is trusted, raise {MAX_PIXELS_ENV}")


def _check_pixels(im: Image.Image, path: Path, limit: int) -> None:
    w, h = im.size
    if w * h > limit:
        raise ImageError(_bomb_message(path, w, h, limit))


def _png_bit_depth(path: Path) -> int | None:
    """Bit depth from a PNG's IHDR chunk (Pillow reads 16-bit RGB PNGs as 8-bit silently)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(26)
    except OSError:
        return None
    if len(head) == 26 and head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR":
        return struct.unpack(">B", head[24:25])[0]
    return None


def _from_array(arr: np.ndarray, path: Path) -> LoadedImage:
    """Validate an array decoded by imagecodecs (formats Pillow cannot open)."""
    if arr.dtype != np.uint8:
        raise ImageError(f"{path}: {arr.dtype} samples are not supported; evalkit needs 8-bit images")
    if arr.ndim == 2:
        return LoadedImage(np.repeat(arr[:, :, None], 3, axis=2), path, True, "imagecodecs")
    if arr.ndim == 3 and arr.shape[2] in (1, 2, 3, 4):
        if arr.shape[2] in (2, 4):
            alpha = arr[:, :, -1]
            if alpha.min() < 255:
                raise ImageError(f"{path}: has an alpha channel that is not fully opaque "
                                 f"(min alpha {int(alpha.min())}); flatten it first")
            arr = arr[:, :, :-1]
        if arr.shape[2] == 1:
            return LoadedImage(np.repeat(arr, 3, axis=2), path, True, "imagecodecs")
        return LoadedImage(np.ascontiguousarray(arr), path, False, "imagecodecs")
    raise ImageError(f"{path}: unsupported array shape {arr.shape}")


def _decode_with_imagecodecs(path: Path, limit: int) -> LoadedImage:
    # imagecodecs has no header-only size for these formats: the limit is checked after decoding
    # (imagecodecs refuses absurd sizes itself by failing to allocate, caught below).
    try:
        import imagecodecs

        arr = imagecodecs.imread(str(path))
    except MemoryError:
        raise ImageError(f"{path}: not enough memory to decode this image") from None
    except Exception as exc:  # imagecodecs raises many exception types
        raise ImageError(f"{path}: cannot read image ({exc.__class__.__name__}: {exc})") from exc
    arr = np.asarray(arr)
    if arr.ndim >= 2 and arr.shape[0] * arr.shape[1] > limit:
        raise ImageError(_bomb_message(path, int(arr.shape[1]), int(arr.shape[0]), limit))
    return _from_array(arr, path)


def read_image(path: str | Path) -> LoadedImage:
    """Decode one image file to 8-bit RGB following the module's policy.

    Args:
        path: any format Pillow, pillow-heif or imagecodecs reads (PNG, JPEG, WebP, JPEG 2000,
            AVIF, HEIC, JPEG XL, TIFF, BMP, PNM).

    Raises:
        ImageError: the file is missing, unreadable, truncated, 16-bit, has real transparency
            or uses a colour model without a clear RGB meaning.

    Example:
        >>> img = read_image("kodim01.png")  # doctest: +SKIP
        >>> img.pixels.shape, img.pixels.dtype
        ((512, 768, 3), dtype('uint8'))
    """
    path = Path(path)
    if not path.is_file():
        raise ImageError(f"{path}: no such file")
    if _png_bit_depth(path) == 16:
        raise ImageError(f"{path}: 16-bit PNG is not supported; evalkit needs 8-bit images "
                         "(convert with e.g. `convert in.png -depth 8 out.png`)")
    _register_plugins()
    limit = max_image_pixels()
    _allow_pillow(limit)
    try:
        with Image.open(path) as im:
            _check_pixels(im, path, limit)
            _refuse_deep_samples(im, path)
            im.load()
            im = ImageOps.exif_transpose(im)
    except UnidentifiedImageError:
        if path.suffix.lower() in {".jxl", ".jp2", ".j2k", ".jpx", ".avif", ".heic", ".heif"}:
            return _decode_with_imagecodecs(path, limit)
        raise ImageError(f"{path}: not a readable image file") from None
    except Image.DecompressionBombError:  # only above twice a Pillow limit set by someone else
        raise ImageError(_bomb_message(path, None, None, limit)) from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageError(f"{path}: cannot read image ({exc})") from exc
    except MemoryError:
        raise ImageError(f"{path}: not enough memory to decode this image") from None
    return _from_pillow(im, path)


def _refuse_deep_samples(im: Image.Image, path: Path) -> None:
    """Pillow reads 16-bit RGB TIFFs and pillow-heif 10/12-bit HEIF/AVIF as 8-bit RGB without a
    word; refuse them like 16-bit PNGs (the mode alone does not show it)."""
    depth = im.info.get("bit_depth")  # pillow-heif
    bits = getattr(im, "tag_v2", {}).get(258) if hasattr(im, "tag_v2") else None  # TIFF
    if isinstance(bits, (tuple, list)) and bits:
        depth = max(int(b) for b in bits)
    elif isinstance(bits, int):
        depth = bits
    if isinstance(depth, int) and depth > 8:
        raise ImageError(f"{path}: {depth}-bit samples are not supported; evalkit needs 8-bit "
                         "images")


def _from_pillow(im: Image.Image, path: Path) -> LoadedImage:
    mode = im.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        raise ImageError(f"{path}: {mode} samples (16/32-bit or float) are not supported; "
                         "evalkit needs 8-bit images")
    if mode == "1":
        im = im.convert("L")
    if mode == "P":
        im = im.convert("RGBA" if "transparency" in im.info else "RGB")
    if im.mode == "PA":
        im = im.convert("RGBA")
    if im.mode in ("RGBA", "LA", "RGBa", "La"):
        alpha = np.asarray(im.getchannel("A"))
        if alpha.min() < 255:
            raise ImageError(f"{path}: has an alpha channel that is not fully opaque "
                             f"(min alpha {int(alpha.min())}); flatten it first")
        im = im.convert("RGB" if im.mode.startswith("RGB") else "L")
    if im.mode == "L":
        gray = np.asarray(im, dtype=np.uint8)
        return LoadedImage(np.repeat(gray[:, :, None], 3, axis=2), path, True, mode)
    if im.mode != "RGB":
        raise ImageError(f"{path}: colour mode {im.mode} is not supported; save it as 8-bit RGB")
    return LoadedImage(np.asarray(im, dtype=np.uint8).copy(), path, False, mode)


#: EXIF orientations that turn the stored image by 90 degrees (width and height swap).
_TRANSPOSING_ORIENTATIONS = frozenset({5, 6, 7, 8})


def image_size(path: str | Path) -> tuple[int, int]:
    """``(width, height)`` as :func:`read_image` would return it (EXIF orientation applied),
    read from the header alone where Pillow can; other formats are decoded fully."""
    path = Path(path)
    _register_plugins()
    limit = max_image_pixels()
    _allow_pillow(limit)
    try:
        with Image.open(path) as im:
            _check_pixels(im, path, limit)
            w, h = im.size
            turned = im.getexif().get(0x0112) in _TRANSPOSING_ORIENTATIONS
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        return read_image(path).size  # not a header Pillow reads (or a bad file): decode, or fail
    return (h, w) if turned else (w, h)


def load_image(path: str | Path) -> np.ndarray:
    """``(H, W, 3)`` uint8 pixels of one image (see :func:`read_image`)."""
    return read_image(path).pixels


def check_pair(ref: LoadedImage, dist: LoadedImage) -> None:
    """Raise :class:`ImagePairError` unless two decoded images can be compared."""
    if ref.pixels.shape[:2] != dist.pixels.shape[:2]:
        (rw, rh), (dw, dh) = ref.size, dist.size
        raise ImagePairError(f"size mismatch: reference {ref.path} is {rw}x{rh}, "
                             f"reconstruction {dist.path} is {dw}x{dh}")
    if ref.grayscale != dist.grayscale:
        gray, colour = (ref, dist) if ref.grayscale else (dist, ref)
        raise ImagePairError(f"grayscale/colour mismatch: {gray.path} is grayscale but "
                             f"{colour.path} is colour")


def load_pair(ref_path: str | Path, dist_path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Decode and validate a (reference, reconstruction) pair; returns two uint8 RGB arrays."""
    ref, dist = read_image(ref_path), read_image(dist_path)
    check_pair(ref, dist)
    return ref.pixels, dist.pixels


def lossy_format(path: str | Path) -> str | None:
    """The lossy codec a file is stored with (``"JPEG"``, ``"lossy WebP"``, ``"AVIF"``,
    ``"HEIF"``), judged from its first bytes; None for lossless or unknown formats (PNG, BMP,
    TIFF, PNM, lossless WebP; JPEG 2000 and JPEG XL, which can be either, are not flagged)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(4096)
    except OSError:
        return None
    if head[:3] == b"\xff\xd8\xff":
        return "JPEG"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        pos = 12  # RIFF chunks: fourcc, little-endian size, payload padded to even length
        while pos + 8 <= len(head):
            fourcc, size = head[pos:pos + 4], struct.unpack("<I", head[pos + 4:pos + 8])[0]
            if fourcc == b"VP8 ":
                return "lossy WebP"
            if fourcc == b"VP8L":
                return None
            pos += 8 + size + (size & 1)
        return None
    if head[4:8] == b"ftyp":
        brands = head[8:12] + head[16:min(len(head), 64)]
        if b"avif" in brands or b"avis" in brands:
            return "AVIF"
        if any(b in brands for b in (b"heic", b"heix", b"hevc", b"heim", b"heis", b"mif1")):
            return "HEIF"
    return None


def check_references(paths, *, strict: bool = False) -> list[str]:
    """Warnings for references stored in a lossy format (one per file); with ``strict`` an
    :class:`ImageError` naming the first such file instead.

    Metrics against an already-compressed "original" measure distance to its artifacts, so a
    lossy reference is almost always a mistake (a JPEG copy of the dataset, a wrong folder).
    """
    out = []
    for p in paths:
        kind = lossy_format(p)
        if kind is None:
            continue
        if strict:
            raise ImageError(f"{p}: reference is stored as {kind} (lossy); use the lossless "
                             "original (PNG), or drop --strict to accept it with a warning")
        out.append(f"{p}: reference is stored as {kind} (lossy), so metrics compare against "
                   "an already-compressed image; use the lossless original if you have it "
                   "(--strict makes this an error)")
    return out
