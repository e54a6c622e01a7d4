"""Shared fixtures: real photos from scikit-image, image files with known defects, and a
weights directory holding *randomly initialised* torchvision backbones under their official
file names (the real ImageNet files cannot be downloaded here).

Everything is offline: ``no_downloads`` makes any attempt of torch hub to fetch a file fail.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

# --- isolation -------------------------------------------------------------------------------

@pytest.fixture(autouse=True)
def _isolated_user_dirs(tmp_path_factory, monkeypatch):
    """Every test sees empty evalkit caches and weight folders of its own, never the user's
    (real weights or cached values there could otherwise change what a test exercises).
    Fixtures that need weights point the variables elsewhere after this one."""
    home = tmp_path_factory.mktemp("user")
    monkeypatch.setenv("EVALKIT_CACHE_DIR", str(home / "evalkit-cache"))
    monkeypatch.setenv("EVALKIT_WEIGHTS_DIR", str(home / "evalkit-weights"))
    monkeypatch.setenv("TORCH_HOME", str(home / "torch"))
    monkeypatch.delenv("EVALKIT_SKIP_WEIGHT_HASH", raising=False)


# --- images ----------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def astronaut() -> np.ndarray:
    """A real 512x512 RGB photograph (uint8), bundled with scikit-image."""
    from skimage import data

    return np.ascontiguousarray(data.astronaut())


@pytest.fixture(scope="session")
def photo(astronaut) -> np.ndarray:
    """A 64x80 crop of a real photo: small enough for the CNN metrics on CPU."""
    return astronaut[100:164, 150:230].copy()


@pytest.fixture(scope="session")
def photo_pair(photo) -> tuple[np.ndarray, np.ndarray]:
    """(reference, reconstruction): the photo and a noisy, slightly blurred copy."""
    rng = np.random.default_rng(1234)
    ref = photo
    blurred = (ref.astype(np.float64) + np.roll(ref, 1, axis=1)) / 2
    noisy = blurred + rng.normal(0, 8, size=ref.shape)
    return ref, np.clip(np.rint(noisy), 0, 255).astype(np.uint8)


@pytest.fixture(scope="session")
def large_pair(astronaut) -> tuple[np.ndarray, np.ndarray]:
    """(reference, reconstruction) of 192x200 px: large enough for MS-SSIM's five scales."""
    rng = np.random.default_rng(99)
    ref = astronaut[40:232, 100:300].copy()
    noisy = ref.astype(np.float64) + rng.normal(0, 12, size=ref.shape)
    return ref, np.clip(np.rint(noisy), 0, 255).astype(np.uint8)


def _save_png(path: Path, pixels: np.ndarray, **kwargs) -> Path:
    from PIL import Image

    Image.fromarray(pixels).save(path, **kwargs)
    return path


@pytest.fixture(scope="session")
def save_png():
    """``save_png(path, pixels, **pillow_kwargs) -> path``."""
    return _save_png


@pytest.fixture
def pair_files(tmp_path, photo_pair) -> tuple[Path, Path]:
    ref, dist = photo_pair
    return _save_png(tmp_path / "ref.png", ref), _save_png(tmp_path / "dist.png", dist)


# --- weights -----------------------------------------------------------------------------------

BACKBONE_FILES = {"alexnet": "alexnet-owt-7be5be79.pth", "vgg16": "vgg16-397923af.pth"}


@pytest.fixture(scope="session")
def _random_backbones(tmp_path_factory) -> Path:
    """Random-initialised torchvision AlexNet and VGG16 state dicts (seeded), saved once per
    session under their official file names."""
    import torch
    from torchvision import models

    root = tmp_path_factory.mktemp("random_weights")
    torch.manual_seed(20240601)
    for arch, filename in BACKBONE_FILES.items():
        model = getattr(models, arch)(weights=None)
        torch.save(model.state_dict(), root / filename)
        del model
    yield root
    for filename in BACKBONE_FILES.values():  # ~800 MB: do not leave it in pytest's basetemp
        (root / filename).unlink(missing_ok=True)


@pytest.fixture
def no_downloads(monkeypatch):
    """Any torch hub download attempt fails the test instead of touching the network."""
    import torch.hub

    def refuse(url, *args, **kwargs):
        raise AssertionError(f"test tried to download {url}")

    monkeypatch.setattr(torch.hub, "download_url_to_file", refuse)


@pytest.fixture
def random_weights_dir(_random_backbones, tmp_path, monkeypatch, no_downloads,
                       fresh_metric_cache) -> Path:
    """``$EVALKIT_WEIGHTS_DIR`` holding random AlexNet/VGG16 under the official file names,
    with ``EVALKIT_SKIP_WEIGHT_HASH=1``.  ``$TORCH_HOME/hub/checkpoints`` links to the same
    files so reference packages that load torchvision weights from the hub cache use them too.
    The LPIPS linear layers and DISTS alpha/beta are the official files shipped by packages.
    """
    hub = tmp_path / "torch_home" / "hub" / "checkpoints"
    hub.mkdir(parents=True)
    for filename in BACKBONE_FILES.values():
        os.symlink(_random_backbones / filename, hub / filename)
    monkeypatch.setenv("EVALKIT_WEIGHTS_DIR", str(_random_backbones))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    monkeypatch.setenv("EVALKIT_SKIP_WEIGHT_HASH", "1")
    return _random_backbones


@pytest.fixture
def empty_weights_env(tmp_path, monkeypatch, no_downloads, fresh_metric_cache) -> Path:
    """Empty weights dir and torch hub cache; hashes verified."""
    wdir = tmp_path / "empty_weights"
    monkeypatch.setenv("EVALKIT_WEIGHTS_DIR", str(wdir))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty_torch_home"))
    monkeypatch.delenv("EVALKIT_SKIP_WEIGHT_HASH", raising=False)
    return wdir


@pytest.fixture
def fresh_metric_cache():
    """Built metrics are cached per process; tests changing weights must rebuild them."""
    from evalkit.metrics import api

    api._BUILT.clear()
    yield
    api._BUILT.clear()


@pytest.fixture
def skip_random_init(monkeypatch):
    """Make torch's in-place initialisers no-ops while reference packages build networks whose
    every weight is then loaded from a file (saves seconds of random init of VGG16's
    classifier on a busy CPU).  A weight left unloaded would hold garbage and fail the test."""
    import torch.nn.init as init

    for fn in ("kaiming_normal_", "kaiming_uniform_", "normal_", "uniform_", "constant_",
               "xavier_uniform_", "xavier_normal_", "trunc_normal_"):
        monkeypatch.setattr(init, fn, lambda tensor, *args, **kwargs: tensor)
