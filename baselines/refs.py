"""Validate the originals once, before any encoding, so a bad file fails fast and writes nothing."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from evalkit.errors import ImageError
from evalkit.images import read_image
from evalkit.layout import list_references
from evalkit.provenance import file_sha256


@dataclass(frozen=True)
class Reference:
    """One original image: its file, pixel size and content hash."""

    name: str
    path: Path
    width: int
    height: int
    sha256: str

    @property
    def pixels_count(self) -> int:
        return self.width * self.height


def load_references(refs_dir: str | Path) -> dict[str, Reference]:
    """Every original of ``refs_dir`` (see :func:`evalkit.layout.list_references`), decoded once.

    Raises:
        LayoutError: missing/empty folder or duplicate stems.
        ImageError: any original cannot be decoded or is grayscale (the first such file is named).
    """
    out = {}
    for name, path in list_references(refs_dir).items():
        img = read_image(path)
        if img.grayscale:
            # The codecs here encode RGB; a colour reconstruction of a gray reference would then
            # be refused by evalkit's pair check (gray vs colour), so refuse it up front.
            raise ImageError(f"{path}: grayscale originals are not supported by the baselines "
                             "(they encode RGB); save it as 8-bit RGB first")
        w, h = img.size
        out[name] = Reference(name, path.resolve(), w, h, file_sha256(path))
    return out
