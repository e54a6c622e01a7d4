"""The rate convention of evalkit: bits per pixel of the *original* image."""

from __future__ import annotations


def bits_per_pixel(nbytes: int | float, width: int, height: int) -> float:
    """``nbytes * 8 / (width * height)``: the size of a bitstream in bits per original pixel."""
    return nbytes * 8.0 / (width * height)
