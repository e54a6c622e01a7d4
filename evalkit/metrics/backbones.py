"""ImageNet backbones (torchvision AlexNet / VGG16) and small weight files, loaded from files
resolved by :mod:`evalkit.weights` -- never from the network.

torchvision's own ``weights=`` / ``pretrained=True`` paths download into the torch hub cache
when the file is missing (and can hang on an offline machine), so the architectures are built
with ``weights=None`` and the state dict of the resolved file is loaded strictly: a file that is
not the expected network fails with a :class:`~evalkit.errors.WeightsError` naming it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from evalkit.errors import WeightsError
from evalkit.weights import resolve

#: catalog name of the torchvision file for each architecture.
BACKBONE_FILES = {"alexnet": "alexnet", "vgg16": "vgg16"}


def load_weight_file(path: str | Path) -> dict[str, Any]:
    """``torch.load`` of a (tensor-only) weight file onto the CPU, errors as WeightsError."""
    try:
        obj = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for corrupt / non-torch files
        raise WeightsError(f"{path}: cannot load weight file ({exc.__class__.__name__}: "
                           f"{str(exc).splitlines()[0] if str(exc) else ''})") from exc
    if not isinstance(obj, dict):
        raise WeightsError(f"{path}: must hold a state dict, got {type(obj).__name__}")
    return obj


def _architecture(arch: str) -> torch.nn.Module:
    from torchvision import models

    if arch == "alexnet":
        return models.alexnet(weights=None)
    if arch == "vgg16":
        return models.vgg16(weights=None)
    raise ValueError(f"arch must be 'alexnet' or 'vgg16', got {arch!r}")


def backbone_features(arch: str, path: str | Path | None = None) -> torch.nn.Sequential:
    """The ``features`` part of torchvision ``arch`` with the ImageNet weights of the file
    resolved for it (``path`` overrides the resolution order).  Frozen, in eval mode, on CPU."""
    if arch not in BACKBONE_FILES:
        raise ValueError(f"arch must be one of {sorted(BACKBONE_FILES)}, got {arch!r}")
    file = resolve(BACKBONE_FILES[arch], path)
    state = load_weight_file(file)
    model = _architecture(arch)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise WeightsError(f"{file}: is not a torchvision {arch} state dict "
                           f"({str(exc).splitlines()[0]})") from exc
    features = model.features
    features.requires_grad_(False)
    return features.eval()
