"""Write run folders atomically: build each ``<codec>/<setting>`` in a hidden temporary folder
beside its destination and rename it into place only when every image succeeded.

A failure (bad input, encoder crash, Ctrl-C) removes the temporary folders and any folder this
module created, so ``runs/`` never holds a half-written setting.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from evalkit.errors import LayoutError
from evalkit.layout import METADATA_NAME
from evalkit.provenance import atomic_write_text


class RunStager:
    """Temporary folders for a batch of run settings, published together by :meth:`commit`.

    Use as a context manager; leaving the block without :meth:`commit` discards everything.
    """

    def __init__(self, runs_dir: str | Path, *, overwrite: bool = False):
        self.runs_dir = Path(runs_dir)
        self.overwrite = overwrite
        self._staged: dict[Path, Path] = {}   # destination -> temporary folder
        self._created: list[Path] = []         # folders this stager made (deepest last)
        self._committed = False

    def check_free(self, destinations: list[Path]) -> None:
        """Raise :class:`LayoutError` listing destinations that exist (unless overwriting)."""
        if self.overwrite:
            return
        taken = [str(d) for d in destinations if d.exists()]
        if taken:
            raise LayoutError("run folder already exists (pass overwrite to replace it): "
                              + ", ".join(taken))

    def _mkdirs(self, path: Path) -> None:
        missing = []
        p = path
        while not p.exists():
            missing.append(p)
            p = p.parent
        for p in reversed(missing):
            p.mkdir()
            self._created.append(p)

    def stage(self, codec: str, setting: str) -> Path:
        """Temporary folder that will become ``runs_dir/codec/setting``."""
        for label, value in (("codec", codec), ("setting", setting)):
            if not value or "/" in value or "\\" in value or value.startswith(".") or value in ("..",):
                raise LayoutError(f"{label} name must be a plain folder name, got {value!r}")
        dest = self.runs_dir / codec / setting
        if dest in self._staged:
            return self._staged[dest]
        self._mkdirs(dest.parent)
        tmp = Path(tempfile.mkdtemp(dir=dest.parent, prefix=f".{setting}.", suffix=".staging"))
        self._staged[dest] = tmp
        return tmp

    def discard(self, codec: str, setting: str) -> None:
        """Drop one staged setting (e.g. one with no image) without publishing it."""
        dest = self.runs_dir / codec / setting
        tmp = self._staged.pop(dest, None)
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)

    def commit(self) -> list[Path]:
        """Rename every staged folder into place; returns the destinations."""
        self.check_free(list(self._staged))
        done = []
        for dest, tmp in self._staged.items():
            old = None
            if dest.exists():
                old = dest.with_name(f".{dest.name}.replaced-{os.getpid()}")
                os.replace(dest, old)
            os.replace(tmp, dest)
            if old is not None:
                shutil.rmtree(old, ignore_errors=True)
            done.append(dest)
        self._committed = True
        self._remove_empty_created()
        return done

    def _remove_empty_created(self) -> None:
        for p in reversed(self._created):
            try:
                p.rmdir()  # only succeeds if empty
            except OSError:
                pass

    def __enter__(self) -> RunStager:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        if self._committed:
            return
        for tmp in self._staged.values():
            shutil.rmtree(tmp, ignore_errors=True)
        self._remove_empty_created()


def write_png(path: Path, pixels: np.ndarray) -> None:
    """Lossless PNG of decoded pixels (inside a staging folder, so no temp file is needed)."""
    from PIL import Image

    Image.fromarray(np.ascontiguousarray(pixels), "RGB").save(path, "PNG", compress_level=6)


def write_run_json(folder: Path, record: dict[str, Any]) -> None:
    atomic_write_text(folder / METADATA_NAME,
                      json.dumps(record, indent=2, sort_keys=True, default=str) + "\n")
