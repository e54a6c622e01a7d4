"""Does ``jpeg-compressai`` reproduce CompressAI's published Kodak JPEG curve?

Encodes Kodak-24 (``../shared/datasets/kodak``; skips with a message when absent) at CompressAI's
19 qualities (5..95) with two pipelines and compares the mean bpp and PSNR (evalkit's ``psnr``,
the mean over images as CompressAI reports it) with ``compressai-kodak/jpeg``:

* ``jpeg-compressai``: evalkit's family (IJG libjpeg 9d encode + decode, as Pillow 7.1.2);
* ``pillow-today``: ``img.save(buf, "JPEG", quality=q)`` and ``Image.open`` with the installed
  Pillow (libjpeg-turbo), i.e. CompressAI's call on today's Pillow.

Prints per-quality differences and the BD-rate / BD-PSNR (pchip) of each against the published
curve (``--ms-ssim`` adds MS-SSIM).  The target of issue #14 is |BD-rate PSNR| <= 1 %.

    .venv/bin/python bench/jpeg_compressai.py [--data DIR] [--ms-ssim]
"""

from __future__ import annotations

import argparse
import io
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "datasets" / "kodak"
QUALITIES = list(range(5, 100, 5))


def pillow_today(pixels: np.ndarray, quality: int) -> tuple[bytes, np.ndarray]:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(pixels, "RGB").save(buf, "JPEG", quality=quality)
    with Image.open(io.BytesIO(buf.getvalue())) as im:
        return buf.getvalue(), np.asarray(im.convert("RGB"))


def jpeg_compressai(pixels: np.ndarray, quality: int) -> tuple[bytes, np.ndarray]:
    from baselines.codecs import get_codec

    enc = get_codec("jpeg-compressai").encode_decode(pixels, quality)
    return enc.bitstream, enc.decoded


def curves(files: list[Path], metrics: tuple[str, ...]) -> dict[str, dict[str, np.ndarray]]:
    from evalkit.images import read_image
    from evalkit.metrics.api import compute_pair

    pipelines = {"jpeg-compressai": jpeg_compressai, "pillow-today": pillow_today}
    sums = {p: {k: np.zeros(len(QUALITIES)) for k in ("bpp", *metrics)} for p in pipelines}
    for f in files:
        src = read_image(f).pixels
        for i, q in enumerate(QUALITIES):
            for name, run in pipelines.items():
                data, decoded = run(src, q)
                vals = compute_pair(src, decoded, metrics)
                sums[name]["bpp"][i] += len(data) * 8 / (src.shape[0] * src.shape[1])
                for m in metrics:
                    sums[name][m][i] += vals[m]
    return {p: {k: v / len(files) for k, v in s.items()} for p, s in sums.items()}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA, help="folder of kodim*.png")
    ap.add_argument("--ms-ssim", action="store_true", help="also compare MS-SSIM")
    args = ap.parse_args()
    files = sorted(args.data.glob("kodim*.png"))
    if not files:
        print(f"no kodim*.png in {args.data}: skipping (see ../shared/README.md)")
        return 0

    from evalkit.rd.bd import bd_pair
    from evalkit.rd.reference_curves import load_published

    published = load_published("compressai-kodak/jpeg")
    ref = {k: np.asarray(v, np.float64) for k, v in published["results"].items()}
    metrics = ("psnr", "ms_ssim") if args.ms_ssim else ("psnr",)
    key = {"psnr": "psnr-rgb", "ms_ssim": "ms-ssim-rgb"}
    t0 = time.perf_counter()
    got = curves(files, metrics)
    print(f"Kodak: {len(files)} images x {len(QUALITIES)} qualities, {time.perf_counter() - t0:.0f} s; "
          f"published: {published.get('description', '')}")
    for name, c in got.items():
        print(f"\n{name}: quality, bpp / published - 1, PSNR - published [dB]")
        for i, q in enumerate(QUALITIES):
            print(f"  q{q:<3d} {c['bpp'][i]:.4f} {c['bpp'][i] / ref['bpp'][i] - 1:+.5f}   "
                  f"{c['psnr'][i]:.4f} {c['psnr'][i] - ref['psnr-rgb'][i]:+.4f}")
        for m in metrics:
            rate, delta = bd_pair(ref["bpp"], ref[key[m]], c["bpp"], c[m])
            print(f"  BD-rate {m} vs compressai-kodak/jpeg: {rate:+.3f} %  (BD-{m} {delta:+.5f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
