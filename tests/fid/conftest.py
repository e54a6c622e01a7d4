"""Fixtures for FID/KID: a randomly initialised FID Inception saved under the official file
name (the real file cannot be downloaded here), small real photos, and isolated caches."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

OFFICIAL_NAME = "pt_inception-2015-12-05-6726825d.pth"


def random_inception(seed: int = 7):
    """FIDInceptionV3 with seeded He-normal convolutions, so activations keep their scale
    through the ~90 layers (PyTorch's default init shrinks them towards zero)."""
    from evalkit.metrics.inception import FIDInceptionV3

    gen = torch.Generator().manual_seed(seed)
    model = FIDInceptionV3()
    for mod in model.modules():
        if isinstance(mod, torch.nn.Conv2d):
            fan_in = mod.weight[0].numel()
            std = (2.0 / fan_in) ** 0.5
            with torch.no_grad():
                mod.weight.copy_(torch.randn(mod.weight.shape, generator=gen) * std)
    return model


@pytest.fixture(scope="session")
def _inception_file(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("fid_weights")
    torch.save(random_inception().state_dict(), root / OFFICIAL_NAME)
    return root / OFFICIAL_NAME


@pytest.fixture
def fid_env(_inception_file, tmp_path, monkeypatch, no_downloads, fresh_metric_cache):
    """Weights dir with the random Inception (hash check skipped), empty torch hub, a private
    feature cache dir, and fresh in-memory feature caches.  Returns the weights file path."""
    from evalkit.metrics import fid

    monkeypatch.setenv("EVALKIT_WEIGHTS_DIR", str(_inception_file.parent))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    monkeypatch.setenv("EVALKIT_SKIP_WEIGHT_HASH", "1")
    monkeypatch.setenv("EVALKIT_CACHE_DIR", str(tmp_path / "cache"))
    fid._MEMORY.clear()
    fid._REFERENCE_IMAGES.clear()
    yield _inception_file
    fid._MEMORY.clear()
    fid._REFERENCE_IMAGES.clear()


@pytest.fixture(scope="session")
def photo_set(astronaut) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Two real crops (256x256 -> 1 patch, 384x384 -> 2 patches) and noisy reconstructions."""
    rng = np.random.default_rng(5)
    refs = [astronaut[0:256, 0:256].copy(), astronaut[100:484, 90:474].copy()]
    dists = [np.clip(r + rng.normal(0, 10, r.shape), 0, 255).astype(np.uint8) for r in refs]
    return refs, dists
