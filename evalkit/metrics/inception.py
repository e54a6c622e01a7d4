"""The FID Inception v3 (pool3, 2048-d features) in PyTorch, loaded through the weights registry.

The network is TensorFlow's 2015-12-05 Inception graph that the original FID code (TTUR) uses,
as ported to PyTorch: module layout and TF-compatible blocks come from torch-fidelity
(``torch_fidelity.feature_extractor_inceptionv3``: the ``BasicConv2d`` / ``InceptionA..E_2``
blocks, with TF's average pooling that ignores padding and the max pooling of the last block).
We assemble those blocks ourselves instead of instantiating torch-fidelity's
``FeatureExtractorInceptionV3`` because that class downloads when no path is given and loads
with ``torch.load(weights_only=False)``; here the file always comes from
:func:`evalkit.weights.resolve` (hash-checked) and is unpickled with ``weights_only=True``.

Weight file: pytorch-fid's ``pt_inception-2015-12-05-6726825d.pth`` (catalog ``fid_inception``).
torch-fidelity / torchmetrics download ``weights-inception-2015-12-05-6726825d.pth`` (an alias
in the same catalog entry); both have the same sha256 (``6726825d0af5...``, 95,628,359
bytes), i.e. they are the same file under two names, so either one is accepted (pytorch-fid's
name first).

Input pipeline (matching the TF FID graph and torch-fidelity): uint8 ``(N, 3, H, W)`` -> float
-> bilinear resize to 299x299 as TensorFlow 1.x does it (``resize="tf1"``, default;
``align_corners=False`` without half-pixel centres) -> ``(x - 128) / 128`` -> network -> global
average pool -> 2048 features.  ``resize="torch-antialias"`` uses PyTorch's bilinear resize
with ``antialias=True`` instead, which is torchmetrics' default (``FrechetInceptionDistance(
antialias=True)``); values then match torchmetrics' defaults rather than TF's.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Iterable, Iterator, Sequence

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from evalkit.errors import MetricError, WeightsError

#: Catalog name of the FID Inception file (one entry: pytorch-fid's file name, with
#: torch-fidelity's name for the same bytes as an alias).
WEIGHT_NAME = "fid_inception"
#: Resize modes accepted by :class:`FIDInceptionV3`.
RESIZE_MODES: tuple[str, ...] = ("tf1", "torch-antialias")
INPUT_SIZE = 299
FEATURE_DIM = 2048


class FIDInceptionV3(nn.Module):
    """Inception v3 as in the FID graph; ``forward(uint8 (N,3,H,W)) -> float32 (N, 2048)``.

    Built with random initialisation; load the official weights with :func:`load_fid_inception`.
    The ``fc`` layer (1008 classes) exists only so the official state dict loads strictly.
    """

    def __init__(self, resize: str = "tf1") -> None:
        super().__init__()
        from torch_fidelity.feature_extractor_inceptionv3 import (
            BasicConv2d,
            InceptionA,
            InceptionB,
            InceptionC,
            InceptionD,
            InceptionE_1,
            InceptionE_2,
        )

        if resize not in RESIZE_MODES:
            raise MetricError(f"resize must be one of {', '.join(RESIZE_MODES)}, got {resize!r}")
        self.resize = resize
        self.Conv2d_1a_3x3 = BasicConv2d(3, 32, kernel_size=3, stride=2)
        self.Conv2d_2a_3x3 = BasicConv2d(32, 32, kernel_size=3)
        self.Conv2d_2b_3x3 = BasicConv2d(32, 64, kernel_size=3, padding=1)
        self.Conv2d_3b_1x1 = BasicConv2d(64, 80, kernel_size=1)
        self.Conv2d_4a_3x3 = BasicConv2d(80, 192, kernel_size=3)
        self.Mixed_5b = InceptionA(192, pool_features=32)
        self.Mixed_5c = InceptionA(256, pool_features=64)
        self.Mixed_5d = InceptionA(288, pool_features=64)
        self.Mixed_6a = InceptionB(288)
        self.Mixed_6b = InceptionC(768, channels_7x7=128)
        self.Mixed_6c = InceptionC(768, channels_7x7=160)
        self.Mixed_6d = InceptionC(768, channels_7x7=160)
        self.Mixed_6e = InceptionC(768, channels_7x7=192)
        self.Mixed_7a = InceptionD(768)
        self.Mixed_7b = InceptionE_1(1280)
        self.Mixed_7c = InceptionE_2(2048)
        self.fc = nn.Linear(2048, 1008)
        self.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True) -> "FIDInceptionV3":
        """Always stays in evaluation mode (batch-norm statistics are frozen)."""
        return super().train(False)

    def _resize(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-2:] == (INPUT_SIZE, INPUT_SIZE):
            return x
        if self.resize == "tf1":
            from torch_fidelity.interpolate_compat_tensorflow import interpolate_bilinear_2d_like_tensorflow1x
            return interpolate_bilinear_2d_like_tensorflow1x(
                x, size=(INPUT_SIZE, INPUT_SIZE), align_corners=False)
        return F.interpolate(x, size=(INPUT_SIZE, INPUT_SIZE), mode="bilinear",
                             align_corners=False, antialias=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dtype != torch.uint8 or x.ndim != 4 or x.shape[1] != 3:
            raise MetricError(f"FID Inception input must be uint8 (N, 3, H, W), got "
                              f"{x.dtype} {tuple(x.shape)}")
        x = self._resize(x.to(torch.float32))
        x = (x - 128) / 128
        x = self.Conv2d_1a_3x3(x)
        x = self.Conv2d_2a_3x3(x)
        x = self.Conv2d_2b_3x3(x)
        x = F.max_pool2d(x, kernel_size=3, stride=2)
        x = self.Conv2d_3b_1x1(x)
        x = self.Conv2d_4a_3x3(x)
        x = F.max_pool2d(x, kernel_size=3, stride=2)
        for block in (self.Mixed_5b, self.Mixed_5c, self.Mixed_5d, self.Mixed_6a, self.Mixed_6b,
                      self.Mixed_6c, self.Mixed_6d, self.Mixed_6e, self.Mixed_7a, self.Mixed_7b,
                      self.Mixed_7c):
            x = block(x)
        return torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)


def resolve_inception_weights(weights_path: str | Path | None = None) -> tuple[Path, str]:
    """``(path, sha256)`` of the FID Inception file (``weights_path`` if given), found and
    hash-checked by :func:`evalkit.weights.resolve` under pytorch-fid's or torch-fidelity's name.

    Raises:
        WeightsError: not found (the message says where to put which file) or wrong hash.
    """
    from evalkit.weights import resolve, sha256_of

    path = resolve(WEIGHT_NAME, weights_path)
    return path, sha256_of(path)


def _load_state_dict(path: Path) -> dict:
    from evalkit.weights import hash_check_skipped

    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        if hash_check_skipped():
            raise WeightsError(f"{path}: cannot be read with torch.load(weights_only=True) and "
                               f"its hash was not checked, so it is not unpickled fully: {exc}") \
                from exc
        # The sha256 matched the official file, so the full unpickler is safe here.
        return torch.load(path, map_location="cpu", weights_only=False)
    except (OSError, RuntimeError, EOFError) as exc:
        raise WeightsError(f"{path}: not a readable PyTorch weights file: {exc}") from exc


def load_fid_inception(weights_path: str | Path | None = None, device: str | torch.device = "cpu",
                       resize: str = "tf1") -> tuple[FIDInceptionV3, Path, str]:
    """The FID Inception with the official weights: ``(model, weight path, weight sha256)``.

    Raises:
        WeightsError: weights missing, with the wrong hash, or not an Inception state dict.
    """
    path, sha = resolve_inception_weights(weights_path)
    state = _load_state_dict(path)
    if not isinstance(state, dict):
        raise WeightsError(f"{path}: expected a state dict, got {type(state).__name__}")
    model = FIDInceptionV3(resize=resize)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise WeightsError(f"{path}: not the FID Inception state dict: {exc}") from exc
    return model.to(device), path, sha


def _batches(patch_iter: Iterable[np.ndarray], batch_size: int) -> Iterator[np.ndarray]:
    """Regroup a stream of ``(k, p, p, 3)`` patch arrays into ``(<=batch_size, p, p, 3)``."""
    buf: list[np.ndarray] = []
    n = 0
    for arr in patch_iter:
        start = 0
        while start < len(arr):
            take = min(batch_size - n, len(arr) - start)
            buf.append(arr[start:start + take])
            n += take
            start += take
            if n == batch_size:
                yield np.concatenate(buf)
                buf, n = [], 0
    if n:
        yield np.concatenate(buf)


@torch.no_grad()
def patch_features(patches: Iterable[np.ndarray] | np.ndarray, model: nn.Module,
                   device: str | torch.device = "cpu", batch_size: int = 16,
                   total: int | None = None, progress: bool | None = False,
                   desc: str = "inception") -> np.ndarray:
    """Features of uint8 patches, ``(P, D)`` float32, in input order.

    ``patches`` is one ``(P, h, w, 3)`` array or an iterable of such arrays (streamed, so a
    large set never sits in memory as pixels at once); ``model`` maps uint8 ``(N, 3, h, w)``
    to ``(N, D)``.  ``total`` (number of patches) only sizes the progress bar; ``progress``
    None shows it only on a terminal.
    """
    from tqdm import tqdm

    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise MetricError(f"batch_size must be a positive integer, got {batch_size!r}")
    if isinstance(patches, np.ndarray):
        total = len(patches)
        patches = [patches]
    out: list[np.ndarray] = []
    disable = None if progress is None else not progress
    with tqdm(total=total, desc=desc, unit="patch", disable=disable, leave=False) as bar:
        for batch in _batches(patches, batch_size):
            t = torch.from_numpy(np.ascontiguousarray(batch)).to(device).permute(0, 3, 1, 2)
            feats = model(t)
            out.append(feats.detach().to("cpu", torch.float32).numpy())
            bar.update(len(batch))
    if not out:
        raise MetricError("no patches to compute features of")
    return np.concatenate(out, axis=0)


def images_features(images: Sequence[np.ndarray], model: nn.Module, patch_size: int = 256,
                    device: str | torch.device = "cpu", batch_size: int = 16,
                    progress: bool | None = False, desc: str = "inception") -> np.ndarray:
    """Features of the HiFiC patches (:mod:`evalkit.metrics.patches`) of a set of uint8
    ``(H, W, 3)`` images, ``(P, D)`` float32, patches in extraction order."""
    from evalkit.metrics.patches import count_patches, extract_patches

    total = sum(count_patches(im.shape[0], im.shape[1], patch_size) for im in images)
    if total == 0:
        raise MetricError(f"no {patch_size}x{patch_size} patch fits in any of the "
                          f"{len(images)} images")
    return patch_features((extract_patches(im, patch_size) for im in images), model, device,
                          batch_size, total=total, progress=progress, desc=desc)
