"""The one check of the image arrays evalkit passes around: RGB ``uint8`` of shape (H, W, 3)."""

from __future__ import annotations

import numpy as np

from evalkit.errors import EvalkitError, MetricError


def check_rgb_uint8(image, what: str = "image", error: type[EvalkitError] = MetricError, *,
                    batch: bool = False) -> None:
    """Raise ``error`` unless ``image`` is a ``numpy`` ``uint8`` array of shape (H, W, 3)
    (``batch``: (N, H, W, 3)).

    Args:
        image: the array to check.
        what: how the message names it (``"reference 3"``, ``"pixels"``...).
        error: the :class:`~evalkit.errors.EvalkitError` subclass of the caller's layer.
        batch: expect a stack of images.

    Example:
        >>> check_rgb_uint8(np.zeros((2, 2, 3), np.float32), "pixels")
        Traceback (most recent call last):
        evalkit.errors.MetricError: pixels must be uint8, got float32
    """
    ndim = 4 if batch else 3
    if not isinstance(image, np.ndarray) or image.ndim != ndim or image.shape[-1] != 3:
        shape = getattr(image, "shape", type(image).__name__)
        layout = "(N, H, W, 3)" if batch else "(H, W, 3)"
        raise error(f"{what} must be an {layout} array, got {shape}")
    if image.dtype != np.uint8:
        raise error(f"{what} must be uint8, got {image.dtype}")
