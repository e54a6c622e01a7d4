"""Produce HiFiC reconstructions directly with tensorflow-compression's ``tfci.py``.

Needs, all of which evalkit does not install (TensorFlow is large and the models are downloaded
from Google's storage by ``tfci.py``):

* ``tensorflow`` and ``tensorflow-compression`` importable by ``python`` (``--python``),
* ``tfci.py`` from github.com/tensorflow/compression (``models/tfci.py``): ``--tfci PATH`` or
  the ``EVALKIT_TFCI`` environment variable,
* the model metagraph ``hific-<lo|mi|hi>.metagraph`` in the metagraph cache folder
  (``--metagraph-dir`` or ``EVALKIT_TFCI_METAGRAPHS``; ``tfci.py``'s own default is
  ``/tmp/tfc_metagraphs``).  It is never downloaded by evalkit: fetch it once with
  ``python tfci.py compress hific-mi some.png`` on a networked machine and copy the cache.

:func:`hific_requirements` says what is missing; :func:`run_hific` refuses to start with a
:class:`~evalkit.errors.CodecError` listing it.  Without them, import outputs made elsewhere with
``evalkit import-run`` (:mod:`baselines.import_run`).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pandas as pd

from baselines.refs import load_references
from baselines.staging import RunStager, write_png, write_run_json
from evalkit.errors import CodecError
from evalkit.images import read_image
from evalkit.provenance import file_sha256, provenance
from evalkit.rate import bits_per_pixel

VARIANTS = ("lo", "mi", "hi")
DEFAULT_METAGRAPH_DIR = "/tmp/tfc_metagraphs"
HIFIC_COLUMNS = ("codec", "setting", "image", "bytes", "bpp", "encode_seconds", "decode_seconds",
                 "run_dir")


def _check_variant(variant: str) -> str:
    if variant not in VARIANTS:
        raise CodecError(f"HiFiC variant must be one of {', '.join(VARIANTS)}, got {variant!r}")
    return variant


def hific_requirements(variant: str, *, tfci: str | Path | None = None,
                       metagraph_dir: str | Path | None = None,
                       python: str = sys.executable) -> tuple[dict[str, str], list[str]]:
    """Resolved paths and the list of missing pieces (empty when the runner can run)."""
    _check_variant(variant)
    tfci = tfci or os.environ.get("EVALKIT_TFCI")
    metagraph_dir = Path(metagraph_dir or os.environ.get("EVALKIT_TFCI_METAGRAPHS") or DEFAULT_METAGRAPH_DIR)
    missing = []
    if not tfci:
        missing.append("tfci.py (github.com/tensorflow/compression, models/tfci.py): pass --tfci PATH "
                       "or set EVALKIT_TFCI")
    elif not Path(tfci).is_file():
        missing.append(f"tfci.py: {tfci} does not exist")
    probe = subprocess.run([python, "-c", "import tensorflow, tensorflow_compression"],
                           capture_output=True, text=True)
    if probe.returncode != 0:
        missing.append(f"the Python packages tensorflow and tensorflow-compression for {python} "
                       "(pip install tensorflow-compression)")
    metagraph = metagraph_dir / f"hific-{variant}.metagraph"
    if not metagraph.is_file():
        missing.append(f"the HiFiC model file {metagraph} (tfci.py caches it there after one "
                       "networked run; copy it, or pass --metagraph-dir / set EVALKIT_TFCI_METAGRAPHS)")
    return {"tfci": str(tfci or ""), "metagraph": str(metagraph), "python": python}, missing


def _tfci(python: str, tfci: str, metagraph_dir: str, *args: str) -> float:
    t0 = time.perf_counter()
    # url_prefix points nowhere usable so tfci.py can never download behind the user's back.
    cmd = [python, tfci, "--url_prefix", "file:///nonexistent", "--metagraph_cache", metagraph_dir, *args]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        raise CodecError(f"tfci.py {args[0]} failed: {' | '.join(tail)}")
    return time.perf_counter() - t0


def run_hific(refs_dir: str | Path, runs_dir: str | Path, variant: str, *,
              tfci: str | Path | None = None, metagraph_dir: str | Path | None = None,
              python: str = sys.executable, overwrite: bool = False,
              progress: bool = True) -> pd.DataFrame:
    """Compress and decompress every reference with HiFiC-``variant`` into ``runs_dir/hific/<variant>``.

    Raises:
        CodecError: a requirement is missing (the message lists all of them) or tfci.py fails.
    """
    from tqdm.auto import tqdm

    paths, missing = hific_requirements(variant, tfci=tfci, metagraph_dir=metagraph_dir, python=python)
    if missing:
        raise CodecError("the HiFiC runner cannot run here; missing: " + "; ".join(missing)
                         + ". Alternatively import existing outputs with `evalkit import-run`.")
    refs = load_references(refs_dir)
    mdir = str(Path(paths["metagraph"]).parent)
    runs_dir = Path(runs_dir)
    rows: list[dict[str, Any]] = []
    images: dict[str, Any] = {}
    with RunStager(runs_dir, overwrite=overwrite) as stager, tempfile.TemporaryDirectory() as tmp:
        stager.check_free([runs_dir / "hific" / variant])
        folder = stager.stage("hific", variant)
        for ref in tqdm(list(refs.values()), desc=f"hific-{variant}", disable=not progress, leave=False):
            src = Path(tmp) / f"{ref.name}.png"  # tfci.py reads PNG only
            write_png(src, read_image(ref.path).pixels)
            stream = folder / f"{ref.name}.tfci"
            recon = folder / f"{ref.name}.png"
            enc = _tfci(python, paths["tfci"], mdir, "compress", f"hific-{variant}", str(src), str(stream))
            dec = _tfci(python, paths["tfci"], mdir, "decompress", str(stream), str(recon))
            out = read_image(recon)
            if out.size != (ref.width, ref.height):
                raise CodecError(f"HiFiC output {recon} is {out.size}, "
                                 f"reference is {(ref.width, ref.height)}")
            nbytes = stream.stat().st_size
            rec = {"bytes": nbytes, "bpp": bits_per_pixel(nbytes, ref.width, ref.height),
                   "encode_seconds": enc, "decode_seconds": dec, "width": ref.width, "height": ref.height,
                   "bitstream": stream.name, "reference_sha256": ref.sha256}
            images[ref.name] = rec
            rows.append({"codec": "hific", "setting": variant, "image": ref.name, **rec})
        write_run_json(folder, provenance(
            settings={"refs_dir": str(Path(refs_dir).resolve())}, kind="hific", codec="hific",
            setting=variant, parameters={"model": f"hific-{variant}"},
            versions={"tfci_sha256": file_sha256(paths["tfci"]),
                      "metagraph_sha256": file_sha256(paths["metagraph"]),
                      "tensorflow_compression": _tf_versions(python)},
            images=images))
        done = stager.commit()
    table = pd.DataFrame(rows)
    table["run_dir"] = str(done[0])
    return table.loc[:, list(HIFIC_COLUMNS)]


def _tf_versions(python: str) -> str:
    proc = subprocess.run([python, "-c", "import tensorflow as t, tensorflow_compression as c;"
                           "print(t.__version__, c.__version__)"], capture_output=True, text=True)
    return proc.stdout.strip()
