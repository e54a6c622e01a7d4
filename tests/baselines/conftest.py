"""Small real photographs from scikit-image, written as PNG references."""

from __future__ import annotations

from pathlib import Path

import pytest
import skimage.data
from PIL import Image


def write_refs(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    Image.fromarray(skimage.data.astronaut()[::4, ::4][:100, :120]).save(folder / "astronaut.png")
    Image.fromarray(skimage.data.chelsea()[60:150, 100:230]).save(folder / "chelsea.png")
    return folder


@pytest.fixture
def refs_dir(tmp_path: Path) -> Path:
    return write_refs(tmp_path / "refs")
