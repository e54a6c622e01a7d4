"""Image loading policy (evalkit.images): what is converted silently, what is refused."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from evalkit.errors import ImageError, ImagePairError
from evalkit.images import load_image, load_pair, read_image


def test_png_roundtrip_is_exact(save_png, tmp_path, photo):
    img = read_image(save_png(tmp_path / "a.png", photo))
    assert img.pixels.dtype == np.uint8 and img.pixels.shape == photo.shape
    np.testing.assert_array_equal(img.pixels, photo)
    assert img.size == (photo.shape[1], photo.shape[0]) and not img.grayscale


@pytest.mark.parametrize("ext, kwargs", [(".jpg", {"quality": 95}), (".webp", {"lossless": True})])
def test_other_formats_decode_to_uint8_rgb(tmp_path, photo, ext, kwargs):
    path = tmp_path / f"a{ext}"
    Image.fromarray(photo).save(path, **kwargs)
    pixels = load_image(path)
    assert pixels.shape == photo.shape and pixels.dtype == np.uint8
    assert np.abs(pixels.astype(int) - photo.astype(int)).mean() < 3


def test_missing_file(tmp_path):
    with pytest.raises(ImageError, match="no such file"):
        read_image(tmp_path / "nope.png")


def test_unreadable_file_names_the_file(tmp_path):
    bad = tmp_path / "garbage.png"
    bad.write_bytes(b"this is not an image at all" * 10)
    with pytest.raises(ImageError, match="garbage.png"):
        read_image(bad)


@pytest.mark.parametrize("ext", [".png", ".jpg"])
def test_truncated_file_is_refused(tmp_path, photo, ext):
    full = tmp_path / f"full{ext}"
    Image.fromarray(photo).save(full)
    data = full.read_bytes()
    cut = tmp_path / f"cut{ext}"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageError, match=f"cut{ext}"):
        read_image(cut)


def test_size_mismatch_shows_both_sizes(save_png, tmp_path, photo):
    a = save_png(tmp_path / "a.png", photo)            # 80x64
    b = save_png(tmp_path / "b.png", photo[:60, :70])  # 70x60
    with pytest.raises(ImagePairError) as info:
        load_pair(a, b)
    msg = str(info.value)
    assert "80x64" in msg and "70x60" in msg and "a.png" in msg and "b.png" in msg


def test_translucent_alpha_is_refused(save_png, tmp_path, photo):
    rgba = np.dstack([photo, np.full(photo.shape[:2], 255, np.uint8)])
    rgba[0, 0, 3] = 128
    path = save_png(tmp_path / "alpha.png", rgba)
    with pytest.raises(ImageError, match="alpha.png.*not fully opaque"):
        read_image(path)


def test_opaque_alpha_is_dropped_silently(save_png, tmp_path, photo):
    rgba = np.dstack([photo, np.full(photo.shape[:2], 255, np.uint8)])
    pixels = load_image(save_png(tmp_path / "opaque.png", rgba))
    np.testing.assert_array_equal(pixels, photo)


def test_16bit_rgb_png_is_refused(tmp_path, photo):
    import imagecodecs

    path = tmp_path / "deep.png"
    path.write_bytes(imagecodecs.png_encode(photo.astype(np.uint16) * 257))
    with pytest.raises(ImageError, match="deep.png.*16-bit"):
        read_image(path)


def test_16bit_gray_png_is_refused(tmp_path, photo):
    path = tmp_path / "deep_gray.png"
    Image.fromarray(photo[:, :, 0].astype(np.uint16) * 257).save(path)
    with pytest.raises(ImageError, match="16-bit"):
        read_image(path)


def test_grayscale_vs_colour_is_refused(save_png, tmp_path, photo):
    gray = save_png(tmp_path / "gray.png", photo[:, :, 1])
    colour = save_png(tmp_path / "colour.png", photo)
    with pytest.raises(ImagePairError, match="gray.png is grayscale but .*colour.png is colour"):
        load_pair(colour, gray)


def test_two_grayscale_images_are_replicated_to_rgb(save_png, tmp_path, photo):
    g = photo[:, :, 1]
    ref, dist = load_pair(save_png(tmp_path / "g1.png", g), save_png(tmp_path / "g2.png", g))
    assert ref.shape == photo.shape
    for c in range(3):
        np.testing.assert_array_equal(ref[:, :, c], g)
    np.testing.assert_array_equal(ref, dist)


def test_exif_orientation_is_applied(tmp_path, photo):
    """Orientation 6 means "rotate 90 degrees clockwise to display"."""
    im = Image.fromarray(photo)
    exif = Image.Exif()
    exif[0x0112] = 6
    path = tmp_path / "rotated.png"
    im.save(path, exif=exif.tobytes())
    pixels = load_image(path)
    np.testing.assert_array_equal(pixels, np.rot90(photo, k=-1))


def test_palette_image_becomes_rgb(tmp_path, photo):
    path = tmp_path / "pal.png"
    Image.fromarray(photo).convert("P", palette=Image.Palette.ADAPTIVE, colors=64).save(path)
    expected = np.asarray(Image.open(path).convert("RGB"))
    np.testing.assert_array_equal(load_image(path), expected)


def test_cmyk_is_refused(tmp_path, photo):
    path = tmp_path / "cmyk.jpg"
    Image.fromarray(photo).convert("CMYK").save(path)
    with pytest.raises(ImageError, match="CMYK"):
        read_image(path)


def test_16bit_rgb_tiff_is_refused(tmp_path, photo):
    """Pillow decodes 16-bit RGB TIFF as 8-bit RGB silently; evalkit must refuse it."""
    import imagecodecs

    path = tmp_path / "deep.tif"
    imagecodecs.imwrite(str(path), photo.astype(np.uint16) * 257)
    with pytest.raises(ImageError, match="deep.tif: 16-bit"):
        read_image(path)


def test_10bit_heic_is_refused(tmp_path, photo):
    """pillow-heif converts 10-bit HEIF to 8-bit by default; evalkit must refuse it."""
    pillow_heif = pytest.importorskip("pillow_heif")
    deep = (photo.astype(np.uint16) * 4) << 6  # 10-bit values in the high bits of 16
    heif = pillow_heif.from_bytes(mode="RGB;16", size=(photo.shape[1], photo.shape[0]),
                                  data=deep.tobytes())
    path = tmp_path / "deep.heic"
    heif.save(str(path), quality=-1)
    with pytest.raises(ImageError, match="deep.heic: 10-bit"):
        read_image(path)


def test_8bit_tiff_loads(tmp_path, photo):
    path = tmp_path / "ok.tif"
    Image.fromarray(photo).save(path)
    np.testing.assert_array_equal(load_image(path), photo)


def test_image_size_reads_the_header_and_honours_orientation(tmp_path, photo):
    from evalkit.images import image_size

    h, w = photo.shape[:2]
    plain = tmp_path / "plain.png"
    Image.fromarray(photo).save(plain)
    assert image_size(plain) == (w, h)
    exif = Image.Exif()
    exif[0x0112] = 6
    turned = tmp_path / "turned.jpg"
    Image.fromarray(photo).save(turned, exif=exif.tobytes())
    assert image_size(turned) == (h, w) == read_image(turned).size
