"""Where evalkit keeps files between runs: one root, ``~/.cache/evalkit`` by default.

================================  ===========================================================
``cache_dir("evaluate.sqlite")``  metric value cache of ``evalkit evaluate``
``cache_dir("features")``         FID/KID reference feature cache
``weights`` (own variable)        weight files: ``$EVALKIT_WEIGHTS_DIR``, else
                                  ``~/.cache/evalkit/weights`` (:func:`default_root`, never
                                  ``$EVALKIT_CACHE_DIR``, so moving the value caches does not
                                  hide installed weights)
================================  ===========================================================

Nothing here creates a folder; the writer does.
"""

from __future__ import annotations

import os
from pathlib import Path

CACHE_DIR_ENV = "EVALKIT_CACHE_DIR"


def default_root() -> Path:
    """``~/.cache/evalkit`` (the home folder's, ignoring every variable)."""
    return Path.home() / ".cache" / "evalkit"


def cache_root() -> Path:
    """``$EVALKIT_CACHE_DIR`` (``~`` expanded) when set and non-empty, else :func:`default_root`."""
    env = os.environ.get(CACHE_DIR_ENV)
    return Path(env).expanduser() if env else default_root()


def cache_dir(*parts: str) -> Path:
    """``cache_root() / parts...``, e.g. ``cache_dir("features")``."""
    return cache_root().joinpath(*parts)


def env_path(variable: str, default: Path) -> Path:
    """``$variable`` (``~`` expanded) when set and non-empty, else ``default``."""
    env = os.environ.get(variable)
    return Path(env).expanduser() if env else default
