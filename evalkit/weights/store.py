"""Finding, verifying, fetching and importing weight files (see :mod:`evalkit.weights`)."""

from __future__ import annotations

import os
import shutil
import sys
import urllib.request
from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path

from evalkit.cache_paths import default_root, env_path
from evalkit.errors import WeightsError
from evalkit.provenance import atomic_target
from evalkit.weights.catalog import CATALOG, WeightFile, get_weight_file
from evalkit.weights.digests import remembered_digest

SKIP_HASH_ENV = "EVALKIT_SKIP_WEIGHT_HASH"
WEIGHTS_DIR_ENV = "EVALKIT_WEIGHTS_DIR"

_warned_skip = False


def weights_dir() -> Path:
    """``$EVALKIT_WEIGHTS_DIR`` or ``~/.cache/evalkit/weights`` (not created here)."""
    return env_path(WEIGHTS_DIR_ENV, default_root() / "weights")


def torch_hub_checkpoints() -> Path:
    """``$TORCH_HOME/hub/checkpoints`` (torch's default when TORCH_HOME is unset)."""
    torch_home = os.environ.get("TORCH_HOME")
    if torch_home:
        return Path(torch_home).expanduser() / "hub" / "checkpoints"
    xdg = os.environ.get("XDG_CACHE_HOME", str(Path.home() / ".cache"))
    return Path(xdg).expanduser() / "torch" / "hub" / "checkpoints"


def _package_copy(entry: WeightFile) -> Path | None:
    if entry.package is None:
        return None
    pkg, rel = entry.package
    spec = find_spec(pkg)
    if spec is None or not spec.submodule_search_locations:
        return None
    cand = Path(list(spec.submodule_search_locations)[0]) / rel
    return cand if cand.is_file() else None


def sha256_of(path: str | Path) -> str:
    """sha256 hex digest of a file, computed once per file version (path, size, mtime, inode)
    and remembered across runs (see :mod:`evalkit.weights.digests`)."""
    return remembered_digest(path, "sha256")


def hash_check_skipped() -> bool:
    return os.environ.get(SKIP_HASH_ENV, "") not in ("", "0")


def _verify(entry: WeightFile, path: Path) -> None:
    global _warned_skip
    if hash_check_skipped():
        if not _warned_skip:
            print(f"warning: {SKIP_HASH_ENV} is set: weight files are NOT hash-checked "
                  "(results are not comparable with the official weights)", file=sys.stderr)
            _warned_skip = True
        return
    if entry.sha512 is not None:
        if remembered_digest(path, "sha512") != entry.sha512:
            raise WeightsError(f"{path}: sha512 does not match the official {entry.filename}; "
                               f"delete it and fetch it again from {entry.url}")
    if entry.sha256 is None:
        return
    digest = sha256_of(path)
    if digest != entry.sha256:
        raise WeightsError(f"{path}: sha256 {digest} does not match the official "
                           f"{entry.filename} ({entry.sha256}); delete it and fetch it again "
                           f"from {entry.url}")


def is_official(name: str, path: str | Path | None = None) -> bool:
    """True when the file :func:`resolve` finds for ``name`` has the official digest.

    Only differs from :func:`resolve` succeeding when the hash check is skipped
    (``EVALKIT_SKIP_WEIGHT_HASH=1``): a file whose digest cannot be checked here (no catalog
    digest) then counts as not verified.  Outputs computed with a non-official file must say so.
    """
    entry = get_weight_file(name)
    found = resolve(name, path)
    if entry.sha512 is None and entry.sha256 is None:
        return not hash_check_skipped()
    if entry.sha512 is not None and remembered_digest(found, "sha512") != entry.sha512:
        return False
    return entry.sha256 is None or sha256_of(found) == entry.sha256


def candidates(entry: WeightFile, path: str | Path | None = None) -> list[Path]:
    """Places searched for ``entry``, in resolution order."""
    out: list[Path] = []
    if path is not None:
        p = Path(path).expanduser()
        if not p.is_dir():
            return [p]
        out += [p / name for name in entry.filenames]
    for folder in (weights_dir(), torch_hub_checkpoints()):
        out += [folder / name for name in entry.filenames]
    pkg = _package_copy(entry)
    if pkg is not None:
        out.append(pkg)
    return out


def missing_message(entry: WeightFile, path: str | Path | None = None) -> str:
    where = ", ".join(str(c) for c in candidates(entry, path))
    also = f" (also accepted as {', '.join(entry.aliases)})" if entry.aliases else ""
    return (f"weight file {entry.filename}{also} (needed by {', '.join(entry.needed_by)}) not found; "
            f"looked in: {where}. Get it from {entry.url} and put it in {weights_dir()} "
            f"(or set ${WEIGHTS_DIR_ENV}), e.g. `evalkit weights fetch {entry.name}` on a machine "
            f"with internet, then `evalkit weights import {entry.filename}` here")


def resolve(name: str, path: str | Path | None = None) -> Path:
    """Path of a verified copy of weight file ``name`` (catalog key or official file name).

    Raises:
        WeightsError: not found anywhere (the message names the file, its URL and the
            directory to put it in), or found with the wrong sha256.
    """
    entry = get_weight_file(name)
    if path is not None:
        given = Path(path).expanduser()
        explicit = next((c for c in candidates(entry, path) if c.is_file()), None)
        if explicit is None or not (given.is_dir() or explicit == given):
            raise WeightsError(f"{given}: no such weight file ({entry.filename}, from {entry.url})")
        _verify(entry, explicit)
        return explicit
    for cand in candidates(entry):
        if cand.is_file():
            _verify(entry, cand)
            return cand
    raise WeightsError(missing_message(entry))


@dataclass(frozen=True)
class WeightStatus:
    """One row of ``evalkit weights status``: state is present, missing or bad-hash."""

    name: str
    filename: str
    state: str
    path: str
    metrics: str
    url: str


def status() -> list[WeightStatus]:
    """State of every catalog entry (hashes are checked unless skipping is enabled)."""
    rows = []
    for entry in CATALOG.values():
        found = next((c for c in candidates(entry) if c.is_file()), None)
        if found is None:
            state, where = "missing", str(weights_dir() / entry.filename)
        else:
            where = str(found)
            try:
                _verify(entry, found)
                state = "present"
            except WeightsError:
                state = "bad-hash"
        rows.append(WeightStatus(entry.name, entry.filename, state, where,
                                 ",".join(entry.needed_by), entry.url))
    return rows


def _atomic_copy_verified(entry: WeightFile, src: Path, dest_dir: Path) -> Path:
    _verify(entry, src)
    dest = dest_dir / entry.filename
    with atomic_target(dest, suffix=".part") as tmp:
        shutil.copyfile(src, tmp)
    return dest


def import_files(files: list[str | Path], dest_dir: str | Path | None = None) -> list[Path]:
    """Copy official weight files (recognised by file name) into the weights directory,
    verifying each one's sha256 first.  Nothing is copied if any file is unknown or bad."""
    dest = Path(dest_dir) if dest_dir else weights_dir()
    pairs = []
    for f in files:
        f = Path(f)
        if not f.is_file():
            raise WeightsError(f"{f}: no such file")
        entry = get_weight_file(f.name)
        _verify(entry, f)
        pairs.append((entry, f))
    return [_atomic_copy_verified(entry, f, dest) for entry, f in pairs]


def fetch(names: list[str] | None = None, dest_dir: str | Path | None = None,
          progress: bool = True, timeout: float = 30.0) -> list[Path]:
    """Download catalog files (all when ``names`` is None) with a progress bar, verify them
    and move them into place atomically.  Files already present and valid are skipped."""
    from tqdm import tqdm

    dest = Path(dest_dir) if dest_dir else weights_dir()
    dest.mkdir(parents=True, exist_ok=True)
    if names:
        entries = [get_weight_file(n) for n in names]
        unverifiable = [e for e in entries if e.sha256 is None and e.sha512 is None]
        if unverifiable:
            e = unverifiable[0]
            raise WeightsError(f"{e.filename} is not downloaded: it has no published digest to "
                               f"verify against ({e.description})")
    else:  # everything that can be verified; derived files are made locally, not fetched
        entries = [e for e in CATALOG.values() if e.sha256 is not None or e.sha512 is not None]
    out = []
    for entry in entries:
        target = dest / entry.filename
        if target.is_file():
            try:
                _verify(entry, target)
                out.append(target)
                continue
            except WeightsError:
                pass
        with atomic_target(target, suffix=".part") as tmp:
            try:
                resp = urllib.request.urlopen(entry.url, timeout=timeout)
            except OSError as exc:
                raise WeightsError(f"cannot download {entry.filename} from {entry.url}: {exc}. "
                                   f"On an offline machine, copy the file in with "
                                   f"`evalkit weights import FILE`") from exc
            total = int(resp.headers.get("Content-Length") or 0) or entry.size
            with resp, open(tmp, "wb") as fh, tqdm(total=total, unit="B", unit_scale=True,
                                                   desc=entry.filename, disable=not progress) as bar:
                for chunk in iter(lambda: resp.read(1 << 16), b""):
                    fh.write(chunk)
                    bar.update(len(chunk))
            _verify(entry, tmp)
        out.append(target)
    return out
