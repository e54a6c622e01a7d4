"""What every baseline codec shares: timed encode/decode, rate-parameter validation, setting names.

The codecs themselves are in :mod:`baselines.codecs`.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from evalkit.errors import CodecError
from evalkit.pixels import check_rgb_uint8


@dataclass(frozen=True)
class Encoded:
    """One encode+decode of one image: the bitstream, its decoded pixels and the timings."""

    bitstream: bytes
    decoded: np.ndarray
    encode_seconds: float
    decode_seconds: float

    @property
    def nbytes(self) -> int:
        return len(self.bitstream)


class Codec(ABC):
    """Shared behaviour of the baseline codecs.

    Subclasses set the class attributes and implement :meth:`_encode`, :meth:`_decode`,
    :meth:`parameters`, :meth:`_check_available` and :meth:`versions`.  :meth:`encode` hands
    :meth:`_encode` the very dict :meth:`parameters` returns (and run.json records), so what is
    recorded is what runs: an encoder setting is written once, in :meth:`parameters`.
    """

    name: ClassVar[str]
    extension: ClassVar[str]              # bitstream file extension, with the dot
    value_name: ClassVar[str] = "quality"  # what the rate parameter means
    setting_prefix: ClassVar[str] = "q"    # setting folder = prefix + value (``q75``)
    minimum: ClassVar[float] = 0
    maximum: ClassVar[float] = 100
    integer: ClassVar[bool] = True
    #: False when the encoder holds Python's GIL (threads would then run one at a time).
    releases_gil: ClassVar[bool] = True
    default_sweep: ClassVar[tuple[float, ...]]
    description: ClassVar[str]

    # -- what subclasses provide -------------------------------------------------------
    @abstractmethod
    def _encode(self, pixels: np.ndarray, params: dict[str, Any]) -> bytes:
        """Encode with ``params`` = :meth:`parameters` of the value (nothing restated)."""

    @abstractmethod
    def _decode(self, data: bytes) -> np.ndarray: ...

    @abstractmethod
    def parameters(self, value: float) -> dict[str, Any]:
        """Every encoder parameter used for ``value``: recorded in run.json and passed to
        :meth:`_encode`."""

    @abstractmethod
    def _check_available(self) -> str | None:
        """None when usable, else what is missing."""

    @abstractmethod
    def versions(self) -> dict[str, str | None]:
        """Versions of the Python package and the C libraries doing the work."""

    # -- shared ------------------------------------------------------------------------
    def unavailable_reason(self) -> str | None:
        """None when this codec can run here, else a sentence saying what is missing."""
        try:
            return self._check_available()
        except ImportError as exc:
            return f"cannot import {exc.name or exc}"

    def require(self) -> None:
        """Raise :class:`CodecError` if the codec cannot run in this install."""
        reason = self.unavailable_reason()
        if reason:
            raise CodecError(f"codec {self.name!r} is not available: {reason}")

    def grid(self) -> list[float]:
        """Every value bpp matching may try, in increasing-rate order."""
        return [float(v) for v in range(int(self.minimum), int(self.maximum) + 1)]

    def start_hint(self, grid: list[float] | tuple[float, ...], target_bpp: float) -> int | None:
        """A guess of the grid index whose rate is just under ``target_bpp`` (None: no guess)."""
        return None

    def check_value(self, value: float) -> float:
        """Validate one rate parameter; returns it as int for integer codecs."""
        try:
            v = float(value)
        except (TypeError, ValueError):
            raise CodecError(f"{self.name} {self.value_name} must be a number, got {value!r}") from None
        if not (self.minimum <= v <= self.maximum) or (self.integer and v != int(v)):
            kind = "an integer" if self.integer else "a number"
            raise CodecError(f"{self.name} {self.value_name} must be {kind} in "
                             f"[{self.minimum:g}, {self.maximum:g}], got {value!r}")
        return int(v) if self.integer else v

    def setting_name(self, value: float) -> str:
        """Setting folder name of a sweep point, e.g. ``q75`` or ``bpp0.25``."""
        return f"{self.setting_prefix}{float(value):g}"

    def encode(self, pixels: np.ndarray, value: float) -> tuple[bytes, float]:
        """Bitstream of ``pixels`` (H, W, 3 uint8) at ``value`` and the encode wall time (s)."""
        value = self.check_value(value)
        check_rgb_uint8(pixels, "pixels", CodecError)
        pixels = np.ascontiguousarray(pixels)
        params = self.parameters(value)
        t0 = time.perf_counter()
        data = bytes(self._encode(pixels, params))
        return data, time.perf_counter() - t0

    def finish(self, pixels: np.ndarray, data: bytes, encode_seconds: float) -> Encoded:
        """Decode a bitstream made by :meth:`encode` (timed) into an :class:`Encoded`."""
        t0 = time.perf_counter()
        decoded = self.decode(data)
        decode_seconds = time.perf_counter() - t0
        if decoded.shape != pixels.shape:
            raise CodecError(f"{self.name}: decoded shape {decoded.shape} differs from input {pixels.shape}")
        return Encoded(data, decoded, encode_seconds, decode_seconds)

    def encode_decode(self, pixels: np.ndarray, value: float) -> Encoded:
        """Encode ``pixels`` at ``value`` and decode the resulting bitstream again."""
        data, seconds = self.encode(pixels, value)
        return self.finish(pixels, data, seconds)

    def decode(self, data: bytes) -> np.ndarray:
        """Decode a bitstream of this codec to (H, W, 3) uint8."""
        arr = np.asarray(self._decode(data))
        if arr.ndim == 2:
            arr = np.repeat(arr[:, :, None], 3, axis=2)
        check_rgb_uint8(arr, f"{self.name}: decoded image", CodecError)
        return np.ascontiguousarray(arr)
