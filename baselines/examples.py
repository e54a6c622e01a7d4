"""Example references for demos: real colour photographs that scikit-image ships offline."""

from __future__ import annotations

from pathlib import Path

from evalkit.errors import LayoutError
from evalkit.provenance import atomic_target

#: skimage.data functions that return bundled (no download) colour photographs.
EXAMPLE_PHOTOS = ("astronaut", "chelsea", "coffee", "rocket")


def write_example_references(dest: str | Path,
                             names: tuple[str, ...] = EXAMPLE_PHOTOS) -> list[Path]:
    """Write the named scikit-image photographs as ``dest/<name>.png``; returns the paths.

    Existing files are left as they are (so re-running a demo is cheap); the folder is created.
    """
    import skimage.data
    from PIL import Image

    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    out = []
    for name in names:
        if name not in EXAMPLE_PHOTOS:
            raise LayoutError(f"example photo must be one of {', '.join(EXAMPLE_PHOTOS)}, "
                              f"got {name!r}")
        path = dest / f"{name}.png"
        if not path.exists():
            with atomic_target(path) as tmp:
                Image.fromarray(getattr(skimage.data, name)()).save(tmp, "PNG")
        out.append(path)
    return out
