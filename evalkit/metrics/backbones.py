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


def load_weight_file(path: str | Path, mmap: bool = False) -> dict[str, Any]:
    """``torch.load`` of a (tensor-only) weight file onto the CPU, errors as WeightsError.

    ``mmap=True`` maps the file instead of reading it (only the tensors used are paged in --
    the backbones need their ``features``, a small part of the file); files in torch's legacy
    (pre-zip) format cannot be mapped and are read normally.
    """
    try:
        if mmap:
            try:
                return _as_state_dict(torch.load(str(path), map_location="cpu",
                                                 weights_only=True, mmap=True), path)
            except RuntimeError as exc:
                if "zipfile" not in str(exc) and "mmap" not in str(exc):
                    raise
        obj = torch.load(str(path), map_location="cpu", weights_only=True)
    except WeightsError:
        raise
    except Exception as exc:  # torch raises many types for corrupt / non-torch files
        raise WeightsError(f"{path}: cannot load weight file ({exc.__class__.__name__}: "
                           f"{str(exc).splitlines()[0] if str(exc) else ''})") from exc
    return _as_state_dict(obj, path)


def _as_state_dict(obj: Any, path: str | Path) -> dict[str, Any]:
    if not isinstance(obj, dict):
        raise WeightsError(f"{path}: must hold a state dict, got {type(obj).__name__}")
    return obj


def _architecture(arch: str) -> torch.nn.Module:
    """The bare architecture on the meta device: no memory, no random init (the loaded state
    dict is assigned in place)."""
    from torchvision import models

    with torch.device("meta"):
        return models.alexnet(weights=None) if arch == "alexnet" else models.vgg16(weights=None)


def backbone_features(arch: str, path: str | Path | None = None) -> torch.nn.Sequential:
    """The ``features`` part of torchvision ``arch`` with the ImageNet weights of the file
    resolved for it (``path`` overrides the resolution order).  Frozen, in eval mode, on CPU."""
    if arch not in BACKBONE_FILES:
        raise ValueError(f"arch must be one of {sorted(BACKBONE_FILES)}, got {arch!r}")
    file = resolve(BACKBONE_FILES[arch], path)
    state = load_weight_file(file, mmap=True)
    model = _architecture(arch)
    try:
        model.load_state_dict(state, strict=True, assign=True)
    except RuntimeError as exc:
        raise WeightsError(f"{file}: is not a torchvision {arch} state dict "
                           f"({str(exc).splitlines()[0]})") from exc
    features = model.features
    features.requires_grad_(False)
    return features.eval()
