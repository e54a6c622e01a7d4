"""What every output records: tool and library versions, settings, weight hashes, input hashes.

Use :func:`provenance` to build the dict and :func:`write_sidecar` to store it as JSON beside an
output (``results.csv`` -> ``results.csv.json``).  Nothing here prints or exits.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import platform
import sys
import tempfile
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any, Iterator

from evalkit.errors import OutputError

#: errno values that mean "this output cannot be written here" (as opposed to a bug).
WRITE_FAULTS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM,
                          errno.EFBIG, errno.EISDIR, errno.ENOTDIR, errno.EIO})


def output_error(path: str | Path, exc: OSError) -> OutputError:
    """One-line :class:`OutputError` naming ``path`` and what to do about ``exc``."""
    reason = exc.strerror or str(exc)
    if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        hint = "free some space or write elsewhere"
    elif exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        hint = "choose a folder you can write to"
    else:
        hint = "choose another output path"
    return OutputError(f"cannot write {path}: {reason}; {hint} (nothing was written)")

#: Distributions whose versions can change a number evalkit writes.
TRACKED_PACKAGES = ("evalkit", "torch", "torchvision", "numpy", "scipy", "pandas", "pillow",
                    "pytorch-msssim", "lpips", "torchmetrics", "piq", "imagecodecs",
                    "pillow-heif", "bjontegaard", "matplotlib", "sqlalchemy", "streamlit")


def package_version(name: str) -> str | None:
    """Installed version of distribution ``name``; None when it is not installed."""
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def package_versions(names: tuple[str, ...] = TRACKED_PACKAGES) -> dict[str, str | None]:
    return {n: package_version(n) for n in names}


def file_digest(path: str | Path, algorithm: str = "sha256") -> str:
    """Hex digest of a file's bytes (read in 1 MiB chunks)."""
    h = hashlib.new(algorithm)
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def file_sha256(path: str | Path) -> str:
    return file_digest(path, "sha256")


def provenance(settings: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    """A JSON-serialisable record of the environment plus the given settings and extras."""
    return {
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]) if sys.argv else "",
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "packages": package_versions(),
        "settings": settings or {},
        **extra,
    }


def current_umask() -> int:
    """The process umask (read from /proc where possible: setting it to read it is racy)."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_target(path: str | Path, suffix: str = ".tmp") -> Iterator[Path]:
    """Yield a temporary path beside ``path`` to write to; when the block ends without error it
    is renamed onto ``path``, otherwise removed -- so ``path`` is never half-written.

    The file gets the mode a plain ``open(path, "w")`` would give (0666 minus the umask), not
    the 0600 of :func:`tempfile.mkstemp`.  A write fault (full disk, read-only folder...) becomes
    an :class:`~evalkit.errors.OutputError` naming ``path``."""
    path = Path(path)
    created = []  # folders made for this file: removed again if it is not written
    folder = path.parent
    while not folder.exists() and folder != folder.parent:
        created.append(folder)
        folder = folder.parent
    try:
        if path.is_dir():
            raise OSError(errno.EISDIR, "a folder of that name is in the way", str(path))
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix)
    except OSError as exc:
        _remove_empty(created)
        if exc.errno in WRITE_FAULTS:
            raise output_error(path, exc) from None
        raise
    os.close(fd)
    done = False
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o666 & ~current_umask())
        os.replace(tmp, path)
        done = True
    except OSError as exc:
        if exc.errno in WRITE_FAULTS:
            raise output_error(path, exc) from None
        raise
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
        if not done:
            _remove_empty(created)


def _remove_empty(folders: list[Path]) -> None:
    for folder in folders:  # deepest first
        try:
            folder.rmdir()
        except OSError:  # not empty (something else was written there) or already gone
            return


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write ``text`` to ``path`` via a temporary file and rename: never a half-written file."""
    with atomic_target(path) as tmp:
        tmp.write_text(text)


def check_writable(*paths: str | Path) -> None:
    """Raise :class:`~evalkit.errors.OutputError` unless every path can be written: no folder in
    the way, and the nearest existing folder accepts a new file (really tried: permission bits
    alone say nothing for root, ACLs or read-only mounts).  Call it before long work."""
    for path in paths:
        path = Path(path)
        if path.is_dir():
            raise output_error(path, OSError(errno.EISDIR, "a folder of that name is in the way"))
        folder = path.parent
        while not folder.exists() and folder != folder.parent:
            folder = folder.parent
        if not folder.is_dir():
            raise output_error(path, OSError(errno.ENOTDIR, f"{folder} is not a folder"))
        try:
            fd, probe = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".probe")
        except OSError as exc:
            raise output_error(path, exc) from None
        os.close(fd)
        os.unlink(probe)


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temporary file and rename: never a half-written file."""
    with atomic_target(path) as tmp:
        tmp.write_bytes(data)


def sidecar_path(output: str | Path) -> Path:
    output = Path(output)
    return output.with_name(output.name + ".json")


def sidecar_text(record: dict[str, Any]) -> str:
    """The JSON text :func:`write_sidecar` stores (sorted keys, two-space indent)."""
    return json.dumps(record, indent=2, sort_keys=True, default=str) + "\n"


def write_sidecar(output: str | Path, record: dict[str, Any]) -> Path:
    """Store ``record`` as ``<output>.json`` (atomically) and return its path."""
    path = sidecar_path(output)
    atomic_write_text(path, sidecar_text(record))
    return path
