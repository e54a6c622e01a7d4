"""Patch FID and KID (HiFiC's FID/256 and KID/256) as set-level metrics ``fid`` and ``kid``.

One value per set of (reference, reconstruction) pairs -- in evalkit, per (codec, setting).
Pipeline: HiFiC patches of every image (:mod:`evalkit.metrics.patches`) -> FID Inception pool3
features (:mod:`evalkit.metrics.inception`) -> FID / KID (:mod:`evalkit.metrics.fid_math`).
Reference features are cached in memory and on disk (:mod:`evalkit.metrics.fid_cache`).

Set-level contract: ``get_spec("fid").build(device="cpu", **options)`` returns a
:class:`PatchFID` (``kid``: :class:`PatchKID`); calling it as ``metric(refs, dists)`` with two
equally long sequences of paired uint8 ``(H, W, 3)`` arrays returns a float.  After a call,
``metric.last_result`` holds the details (:class:`FIDResult` / :class:`KIDResult`) and
``metric.settings()`` everything that defines the number (for provenance).

Build options (both): ``weights_path`` (explicit FID Inception file or folder), ``resize``
(``"tf1"`` default, or ``"torch-antialias"``), ``patch_size`` (256), ``batch_size`` (16),
``cache_dir`` (feature cache folder), ``disk_cache`` (True), ``progress`` (None: progress
bars only on a terminal; True/False force them on/off).
KID only: ``subsets`` (100), ``subset_size`` (1000; adapts down to the number of patches),
``seed`` (0), ``degree`` (3), ``gamma`` (None = 1/2048), ``coef`` (1.0).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from evalkit.errors import ImagePairError, MetricError
from evalkit.metrics import fid_cache
from evalkit.metrics.fid_math import KIDResult, fid_from_features, kid_from_features
from evalkit.metrics.inception import (
    FEATURE_DIM,
    RESIZE_MODES,
    images_features,
    load_fid_inception,
    resolve_inception_weights,
)
from evalkit.metrics.patches import PATCH_SIZE, count_patches
from evalkit.pixels import check_rgb_uint8
from evalkit.provenance import package_version

#: Bumped whenever the features computed for given pixels and weights could change.
FEATURES_VERSION = "1"

# Models and features shared between every fid/kid metric built in this process.
_MODELS: dict[tuple, tuple[torch.nn.Module, Path, str]] = {}
_MEMORY = fid_cache.MemoryLRU(size=8)
# Per reference image: settings that miss some images (or a codec scored on a subset) make
# other reference *sets* of the same images; their features are assembled from these instead of
# pushing every reference through Inception again.  256 MB: 470 Kodak / 480 2048x1365 images.
_REFERENCE_IMAGES = fid_cache.MemoryLRU(size=4096, max_bytes=256 << 20)


def _torch_fidelity_version() -> str:
    return package_version("torch-fidelity") or "missing"


def check_image_sets(refs: Sequence[np.ndarray], dists: Sequence[np.ndarray]) -> None:
    """Validate two paired sets of uint8 ``(H, W, 3)`` images (one place for all checks)."""
    if len(refs) != len(dists):
        raise ImagePairError(f"refs and dists must pair up, got {len(refs)} references and "
                             f"{len(dists)} reconstructions")
    if len(refs) == 0:
        raise MetricError("refs must hold at least one image, got none")
    for i, (r, d) in enumerate(zip(refs, dists)):
        for what, im in (("reference", r), ("reconstruction", d)):
            check_rgb_uint8(im, f"{what} {i}")
        if r.shape != d.shape:
            raise ImagePairError(f"pair {i}: reference and reconstruction shapes differ: "
                                 f"{r.shape} vs {d.shape}")


class PatchFeatures:
    """FID Inception features of HiFiC patches, with the reference cache.

    Attributes:
        model: the loaded :class:`~evalkit.metrics.inception.FIDInceptionV3`.
        weights_path, weights_sha256: the weight file in use.
        last_cache: ``"memory"``, ``"disk"`` or ``"computed"`` for the last reference set.
    """

    def __init__(self, device: str | torch.device = "cpu", weights_path: str | Path | None = None,
                 resize: str = "tf1", patch_size: int = PATCH_SIZE, batch_size: int = 16,
                 cache_dir: str | Path | None = None, disk_cache: bool = True,
                 progress: bool | None = None) -> None:
        count_patches(0, 0, patch_size)  # validates patch_size
        if resize not in RESIZE_MODES:
            raise MetricError(f"resize must be one of {', '.join(RESIZE_MODES)}, got {resize!r}")
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise MetricError(f"batch_size must be a positive integer, got {batch_size!r}")
        self.device = torch.device(device)
        self.patch_size = int(patch_size)
        self.batch_size = batch_size
        self.resize = resize
        self.disk_cache = bool(disk_cache)
        self._cache_dir = Path(cache_dir).expanduser() if cache_dir is not None else None
        self.progress = progress
        path, sha = resolve_inception_weights(weights_path)
        key = (str(self.device), str(path), sha, resize)
        if key not in _MODELS:
            _MODELS[key] = load_fid_inception(path, self.device, resize)
        self.model, self.weights_path, self.weights_sha256 = _MODELS[key]
        self.last_cache = ""

    @property
    def cache_dir(self) -> Path:
        return self._cache_dir or fid_cache.default_feature_dir()

    def protocol(self) -> dict[str, Any]:
        """Everything besides the pixels that determines the features."""
        return {"patch_size": self.patch_size, "patch_scheme": "hific-grid+shift-half",
                "resize": self.resize, "layer": "pool3-2048", "weights_sha256": self.weights_sha256,
                "features_version": FEATURES_VERSION,
                "torch_fidelity": _torch_fidelity_version()}

    def _compute(self, images: Sequence[np.ndarray], desc: str) -> np.ndarray:
        return images_features(images, self.model, self.patch_size, self.device,
                               self.batch_size, progress=self.progress, desc=desc)

    def features(self, images: Sequence[np.ndarray], reference: bool) -> np.ndarray:
        """``(P, 2048)`` float32 features of the patches of ``images``.  Reference sets are
        cached in memory and on disk; reconstruction sets in memory only."""
        n = sum(count_patches(im.shape[0], im.shape[1], self.patch_size) for im in images)
        if n == 0:
            raise MetricError(f"no {self.patch_size}x{self.patch_size} patch fits in any of the "
                              f"{len(images)} images; FID/KID need images of at least that size")
        key = fid_cache.feature_key(fid_cache.pixels_hash(images), self.protocol())
        got = _MEMORY.get(key)
        if got is not None:
            if reference:
                self.last_cache = "memory"
            return got
        if reference and self.disk_cache:
            got = fid_cache.load_features(self.cache_dir, key, n, FEATURE_DIM)
            if got is not None:
                self.last_cache = "disk"
                _MEMORY.put(key, got)
                return got
        feats = self._reference_features(images) if reference else \
            self._compute(images, "inception (recons)")
        if reference:
            self.last_cache = "computed"
            if self.disk_cache:
                fid_cache.save_features(self.cache_dir, key, feats,
                                        {"key": key, "n_images": len(images), "n_patches": n,
                                         **self.protocol()})
        _MEMORY.put(key, feats)
        return feats

    def _reference_features(self, images: Sequence[np.ndarray]) -> np.ndarray:
        """Features of a reference set, each image's patches computed at most once per process
        (:data:`_REFERENCE_IMAGES`); the patches of all missing images go through Inception
        together, in the set's order."""
        protocol = self.protocol()
        keys = [fid_cache.feature_key(fid_cache.pixels_hash([im]), protocol) for im in images]
        parts = {k: _REFERENCE_IMAGES.get(k) for k in keys}
        todo, seen = [], set()
        for i, k in enumerate(keys):
            if parts[k] is None and k not in seen:
                seen.add(k)
                todo.append(i)
        if todo:
            new = self._compute([images[i] for i in todo], "inception (refs)")
            counts = [count_patches(*images[i].shape[:2], self.patch_size) for i in todo]
            for i, part in zip(todo, np.split(new, np.cumsum(counts)[:-1])):
                parts[keys[i]] = part
                _REFERENCE_IMAGES.put(keys[i], part)
        return np.concatenate([parts[k] for k in keys])

    def pair_features(self, refs: Sequence[np.ndarray],
                      dists: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        check_image_sets(refs, dists)
        return self.features(refs, reference=True), self.features(dists, reference=False)


@dataclass(frozen=True)
class FIDResult:
    """Patch FID of one set: ``value`` and the number of patches per side."""

    value: float
    n_ref: int
    n_dist: int


class PatchFID:
    """FID/256: call ``metric(refs, dists) -> float`` (see the module docstring)."""

    def __init__(self, features: PatchFeatures) -> None:
        self.extractor = features
        self.last_result: FIDResult | None = None

    def settings(self) -> dict[str, Any]:
        return {"metric": "fid", **self.extractor.protocol(),
                "weights_path": str(self.extractor.weights_path)}

    def __call__(self, refs: Sequence[np.ndarray], dists: Sequence[np.ndarray]) -> float:
        fr, fd = self.extractor.pair_features(refs, dists)
        value = fid_from_features(fr, fd)
        self.last_result = FIDResult(value, len(fr), len(fd))
        return value


class PatchKID:
    """KID/256: call ``metric(refs, dists) -> float`` (the mean over subsets; the spread is in
    ``metric.last_result.std``)."""

    def __init__(self, features: PatchFeatures, subsets: int = 100, subset_size: int = 1000,
                 seed: int = 0, degree: int = 3, gamma: float | None = None,
                 coef: float = 1.0) -> None:
        self.extractor = features
        self.kid_options = {"subsets": subsets, "subset_size": subset_size, "seed": seed,
                            "degree": degree, "gamma": gamma, "coef": coef}
        self.last_result: KIDResult | None = None

    def settings(self) -> dict[str, Any]:
        return {"metric": "kid", **self.extractor.protocol(), **self.kid_options,
                "weights_path": str(self.extractor.weights_path)}

    def __call__(self, refs: Sequence[np.ndarray], dists: Sequence[np.ndarray]) -> float:
        fr, fd = self.extractor.pair_features(refs, dists)
        self.last_result = kid_from_features(fr, fd, **self.kid_options)
        return self.last_result.mean


_FEATURE_OPTIONS = ("weights_path", "resize", "patch_size", "batch_size", "cache_dir",
                    "disk_cache", "progress")
_KID_OPTIONS = ("subsets", "subset_size", "seed", "degree", "gamma", "coef")


def _split_options(options: dict[str, Any], allowed: tuple[str, ...]) -> dict[str, Any]:
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise MetricError(f"unknown option(s) {', '.join(unknown)}; known: {', '.join(allowed)}")
    return options


def build_fid(device: str | torch.device = "cpu", **options: Any) -> PatchFID:
    """The ``fid`` metric (loads the FID Inception; raises WeightsError when it is missing)."""
    _split_options(options, _FEATURE_OPTIONS)
    return PatchFID(PatchFeatures(device, **options))


def build_kid(device: str | torch.device = "cpu", **options: Any) -> PatchKID:
    """The ``kid`` metric (loads the FID Inception; raises WeightsError when it is missing)."""
    _split_options(options, _FEATURE_OPTIONS + _KID_OPTIONS)
    feat = {k: v for k, v in options.items() if k in _FEATURE_OPTIONS}
    kid = {k: v for k, v in options.items() if k in _KID_OPTIONS}
    return PatchKID(PatchFeatures(device, **feat), **kid)


def fid_from_images(refs: Sequence[np.ndarray], dists: Sequence[np.ndarray],
                    device: str | torch.device = "cpu", **options: Any) -> float:
    """Patch FID of paired uint8 image sets (options as for :func:`build_fid`)."""
    return build_fid(device, **options)(refs, dists)


def kid_from_images(refs: Sequence[np.ndarray], dists: Sequence[np.ndarray],
                    device: str | torch.device = "cpu", **options: Any) -> KIDResult:
    """Patch KID of paired uint8 image sets, with its spread (options as :func:`build_kid`)."""
    metric = build_kid(device, **options)
    return kid_from_features(*metric.extractor.pair_features(refs, dists), **metric.kid_options)


def clear_memory_cache() -> None:
    """Forget the in-memory features and loaded models (the disk cache is kept)."""
    _MEMORY.clear()
    _REFERENCE_IMAGES.clear()
    _MODELS.clear()
