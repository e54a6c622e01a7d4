"""The catalog of every pretrained file evalkit's metrics may need.

Each entry gives the official file name, where it comes from, its sha256 and size, and which
metrics need it.  Add new files here only; the store and the CLI read nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass

from evalkit.errors import WeightsError


@dataclass(frozen=True)
class WeightFile:
    """One pretrained file.

    Attributes:
        name: catalog key used on the command line (``evalkit weights fetch alexnet``).
        filename: the official file name; it is looked up under this name everywhere.
        url: where the file is published.
        sha256: hex digest of the official file (None only when no official digest exists).
        size: size in bytes of the official file (None when unknown).
        metrics: metric names that need this file.
        description: one line for ``evalkit weights status``.
        package: a Python package that ships the file (``package``, ``relative/path``), if any.
        sha512: hex digest where the publisher gives SHA-512 instead (e.g. the PIM archives).
    """

    name: str
    filename: str
    url: str
    sha256: str | None
    size: int | None
    metrics: tuple[str, ...]
    description: str
    package: tuple[str, str] | None = None
    sha512: str | None = None


CATALOG: dict[str, WeightFile] = {}


def register(entry: WeightFile) -> WeightFile:
    """Add ``entry`` to :data:`CATALOG` (names and file names must be unique)."""
    if entry.name in CATALOG:
        raise ValueError(f"weight file {entry.name!r} registered twice")
    CATALOG[entry.name] = entry
    return entry


def get_weight_file(name: str) -> WeightFile:
    """Catalog entry by name (or by official file name)."""
    if name in CATALOG:
        return CATALOG[name]
    for entry in CATALOG.values():
        if entry.filename == name:
            return entry
    raise WeightsError(f"unknown weight file {name!r}; known: {', '.join(sorted(CATALOG))}")


# --- entries -------------------------------------------------------------------------------
# (filled in by the metric work: torchvision AlexNet/VGG16, LPIPS linear layers, DISTS
#  alpha/beta, the FID Inception, PIM checkpoints)

# --- LPIPS / DISTS / torchvision backbones -------------------------------------------------


# --- FID Inception / PIM -------------------------------------------------------------------
