"""Cache of patch features for FID/KID, in memory and (reference sets) on disk.

A feature matrix is keyed by everything that determines it: the content hash of the images'
pixels (shape + bytes, in order), the protocol (patch size and scheme, resize mode, feature
layer, feature-code version) and the sha256 of the weight file actually loaded.  Reference sets
are stored as ``<root>/fid-<key>.npy`` (float32, written to a temporary file and renamed, so a
killed run never leaves a half-written file) with a JSON sidecar describing the key, where
``<root>`` is ``$EVALKIT_CACHE_DIR/features`` (default ``~/.cache/evalkit/features``).  A file
that cannot be read or has the wrong shape is ignored and recomputed.  In memory, the last few
sets (references and reconstructions) are kept, so ``fid`` and ``kid`` of one setting share
their features.
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from evalkit.cache_paths import cache_dir
from evalkit.provenance import atomic_target, atomic_write_text


def default_feature_dir() -> Path:
    """``$EVALKIT_CACHE_DIR/features`` or ``~/.cache/evalkit/features`` (not created here)."""
    return cache_dir("features")


def pixels_hash(images: Sequence[np.ndarray]) -> str:
    """sha256 over the shapes, dtypes and bytes of ``images``, in order."""
    h = hashlib.sha256()
    h.update(f"{len(images)}\n".encode())
    for im in images:
        h.update(f"{im.shape}:{im.dtype}\n".encode())
        h.update(np.ascontiguousarray(im).data)
    return h.hexdigest()


def feature_key(pixels: str, protocol: dict[str, Any]) -> str:
    """Cache key from a pixel hash and the protocol (must include the weights' sha256)."""
    text = json.dumps({"pixels": pixels, **protocol}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


class MemoryLRU:
    """A small least-recently-used dict of feature matrices: at most ``size`` entries and
    ``max_bytes`` in total (the newest entry is always kept, whatever its size)."""

    def __init__(self, size: int, max_bytes: int = 1 << 30) -> None:
        self.size = size
        self.max_bytes = max_bytes
        self._data: OrderedDict[str, np.ndarray] = OrderedDict()

    def get(self, key: str) -> np.ndarray | None:
        if key in self._data:
            self._data.move_to_end(key)
            return self._data[key]
        return None

    def put(self, key: str, value: np.ndarray) -> None:
        self._data[key] = value
        self._data.move_to_end(key)
        while len(self._data) > 1 and (len(self._data) > self.size or
                                       sum(v.nbytes for v in self._data.values()) > self.max_bytes):
            self._data.popitem(last=False)

    def clear(self) -> None:
        self._data.clear()


def load_features(root: Path, key: str, n: int, dim: int) -> np.ndarray | None:
    """Cached ``(n, dim)`` features for ``key``, or None (absent, unreadable or wrong shape)."""
    path = root / f"fid-{key}.npy"
    if not path.is_file():
        return None
    try:
        arr = np.load(path, allow_pickle=False)
    except (OSError, ValueError):
        return None
    if arr.shape != (n, dim) or not np.all(np.isfinite(arr)):
        return None
    return arr


def save_features(root: Path, key: str, features: np.ndarray, record: dict[str, Any]) -> Path:
    """Store features atomically (temp file + rename) with a JSON sidecar; return the path."""
    path = root / f"fid-{key}.npy"
    with atomic_target(path) as tmp, open(tmp, "wb") as fh:
        np.save(fh, np.ascontiguousarray(features, dtype=np.float32), allow_pickle=False)
    atomic_write_text(path.with_name(path.name + ".json"),
                      json.dumps(record, indent=2, sort_keys=True, default=str) + "\n")
    return path
