"""Bring reconstructions made elsewhere (HiFiC, a learned codec...) into the run layout.

``import_run(recon_dir, runs_dir, codec, setting, bitstreams_dir=... | manifest=...)`` writes
``runs_dir/<codec>/<setting>/`` with ``<image>.png`` per reconstruction and either the matching
bitstream ``<image>.<ext>`` (its size is the rate) or a ``manifest.csv`` (``image,bytes`` or
``image,bpp``), plus ``run.json`` naming the sources and their SHA-256.  Per-image encode/decode
times (optional ``encode_s`` / ``decode_s`` columns of the manifest, or of a separate ``timings``
CSV) go into ``run.json`` as ``encode_seconds`` / ``decode_seconds``, which ``evaluate`` reads.
PNG reconstructions are copied byte for byte; other image formats are decoded
(:func:`evalkit.images.read_image`) and stored as PNG.  Everything is validated first and the
folder appears atomically.
"""

from __future__ import annotations

import csv
import io
import shutil
from pathlib import Path
from typing import Any

import pandas as pd
from PIL import Image

from baselines.staging import RunStager, write_png, write_run_json
from evalkit.errors import LayoutError
from evalkit.evaluate.annotations import read_manifest_column
from evalkit.evaluate.timings import RUN_JSON_KEYS, read_manifest_timings
from evalkit.images import IMAGE_EXTENSIONS, read_image
from evalkit.layout import MANIFEST_NAME, list_references, read_manifest
from evalkit.provenance import file_sha256, provenance
from evalkit.rate import bits_per_pixel
from evalkit.textsafe import csv_protect

#: Columns of the table :func:`import_run` returns.
IMPORT_COLUMNS = ("codec", "setting", "image", "width", "height", "bytes", "bpp", "rate_source",
                  "run_dir")


def _files_by_stem(folder: Path, what: str, *, images_only: bool) -> dict[str, Path]:
    if not folder.is_dir():
        raise LayoutError(f"{what} folder {folder} does not exist")
    out: dict[str, Path] = {}
    for p in sorted(folder.iterdir()):
        if not p.is_file() or p.name.startswith(".") or p.name in (MANIFEST_NAME, "run.json"):
            continue
        if images_only and p.suffix.lower() not in IMAGE_EXTENSIONS:
            continue
        if p.stem in out:
            raise LayoutError(f"{what} folder {folder} holds two files for {p.stem!r}: "
                              f"{out[p.stem].name} and {p.name}")
        out[p.stem] = p
    if not out:
        raise LayoutError(f"{what} folder {folder} holds no {'images' if images_only else 'files'}")
    return out


def import_run(recon_dir: str | Path, runs_dir: str | Path, codec: str, setting: str, *,
               bitstreams_dir: str | Path | None = None, manifest: str | Path | None = None,
               refs_dir: str | Path | None = None, overwrite: bool = False,
               timings: str | Path | None = None) -> pd.DataFrame:
    """Import reconstructions with their rates as ``runs_dir/<codec>/<setting>``.

    Args:
        recon_dir: folder of reconstructions, one image per image name (stem).
        runs_dir: root of the run layout.
        codec, setting: destination names, e.g. ``hific`` / ``mi``.
        bitstreams_dir: folder with one bitstream per reconstruction (same stem, any extension
            except ``.png``); their sizes are the rates.
        manifest: instead of bitstreams: CSV with ``image`` and ``bytes`` or ``bpp`` columns.
        refs_dir: optional originals; when given, every reconstruction must have a reference of
            the same size (checked before anything is written).
        overwrite: replace an existing setting folder.
        timings: optional CSV with ``image`` and ``encode_s`` and/or ``decode_s`` (seconds);
            default: those columns of ``manifest`` when it has them.

    Returns:
        One row per image with :data:`IMPORT_COLUMNS` (``bytes`` or ``bpp`` may be empty when
        the manifest only gives the other; ``rate_source`` is ``bitstream`` or ``manifest``).

    Raises:
        LayoutError: missing folders, an image without a rate, stray names, size mismatch.
        ImageError: a reconstruction or reference cannot be decoded.
    """
    if (bitstreams_dir is None) == (manifest is None):
        raise LayoutError("give exactly one of bitstreams_dir or manifest as the rate source, got "
                          f"bitstreams_dir={bitstreams_dir!r}, manifest={manifest!r}")
    recon_dir = Path(recon_dir)
    recons = _files_by_stem(recon_dir, "reconstruction", images_only=True)
    decoded = {stem: read_image(p) for stem, p in recons.items()}  # validates every file first
    if bitstreams_dir is not None:
        bitstreams = _bitstreams(Path(bitstreams_dir), recons)
        rates: dict[str, tuple[int | None, float | None]] = {
            stem: (path.stat().st_size, None) for stem, path in bitstreams.items()}
    else:
        bitstreams, rates = {}, _manifest_rates(Path(manifest), recons)
    if timings is not None and not Path(timings).is_file():
        raise LayoutError(f"timings file {timings} does not exist")
    # a per-image model (e.g. HiFiC lo/mi/hi mixed in one setting) goes into run.json, which
    # evaluate carries into the results' ``model`` column
    models = read_manifest_column(manifest, "model") if manifest is not None else {}
    times = read_manifest_timings(timings if timings is not None else manifest) \
        if (timings or manifest) is not None else {}
    if refs_dir is not None:
        _check_references(refs_dir, recons, decoded)
    runs_dir = Path(runs_dir)
    out_rows: list[dict[str, Any]] = []
    images: dict[str, dict[str, Any]] = {}
    with RunStager(runs_dir, overwrite=overwrite) as stager:
        stager.check_free([runs_dir / codec / setting])
        folder = stager.stage(codec, setting)
        for stem, src in recons.items():
            info = _stage_image(folder, stem, src, decoded[stem], rates[stem], bitstreams.get(stem))
            info.update({RUN_JSON_KEYS[c]: v for c, v in times.get(stem, {}).items()})
            if stem in models:
                info["model"] = models[stem]
            images[stem] = info
            out_rows.append({"codec": codec, "setting": setting, "image": stem,
                             "width": info["width"], "height": info["height"],
                             "bytes": info["bytes"], "bpp": info["bpp"],
                             "rate_source": "bitstream" if stem in bitstreams else "manifest"})
        if manifest is not None:
            _write_manifest(folder / MANIFEST_NAME, {s: rates[s] for s in recons})
        settings = {"recon_dir": str(recon_dir.resolve()),
                    "refs_dir": str(Path(refs_dir).resolve()) if refs_dir else None}
        if manifest is not None:
            settings.update(manifest=str(Path(manifest).resolve()), manifest_sha256=file_sha256(manifest))
        else:
            settings["bitstreams_dir"] = str(Path(bitstreams_dir).resolve())
        write_run_json(folder, provenance(settings=settings, kind="import", codec=codec,
                                          setting=setting, images=images))
        done = stager.commit()
    table = pd.DataFrame(out_rows)
    table["run_dir"] = str(done[0])
    return table.loc[:, list(IMPORT_COLUMNS)]


def _bitstreams(folder: Path, recons: dict[str, Path]) -> dict[str, Path]:
    """The bitstream of every reconstruction (same stem, not a .png)."""
    found = _files_by_stem(folder, "bitstream", images_only=False)
    missing = sorted(set(recons) - set(found))
    if missing:
        raise LayoutError(f"no bitstream in {folder} for: {', '.join(missing)}")
    for stem in recons:
        if found[stem].suffix.lower() == ".png":
            raise LayoutError(f"bitstream {found[stem]} must not be a .png (that name is the "
                              "reconstruction's)")
    return {stem: found[stem] for stem in recons}


def _manifest_rates(manifest: Path, recons: dict[str, Path]
                    ) -> dict[str, tuple[int | None, float | None]]:
    """``(bytes, bpp)`` of every reconstruction from the manifest (one of them may be None)."""
    if not manifest.is_file():
        raise LayoutError(f"manifest {manifest} does not exist")
    rows = read_manifest(manifest)
    missing = sorted(set(recons) - set(rows))
    if missing:
        raise LayoutError(f"manifest {manifest} gives no rate for: {', '.join(missing)}")
    return {stem: rows[stem] for stem in recons}


def _check_references(refs_dir: str | Path, recons: dict[str, Path], decoded: dict) -> None:
    """Every reconstruction has a reference of the same size and kind (gray/colour)."""
    refs = list_references(refs_dir)
    unknown = sorted(set(recons) - set(refs))
    if unknown:
        raise LayoutError(f"reconstructions without a reference in {refs_dir}: {', '.join(unknown)}")
    for stem, img in decoded.items():
        ref = read_image(refs[stem])
        if ref.size != img.size:
            raise LayoutError(f"size mismatch: reference {refs[stem]} is {ref.size[0]}x{ref.size[1]}, "
                              f"reconstruction {recons[stem]} is {img.size[0]}x{img.size[1]}")
        if ref.grayscale != img.grayscale:  # evaluate would refuse the pair: refuse it now
            gray, colour = (refs[stem], recons[stem]) if ref.grayscale else (recons[stem], refs[stem])
            raise LayoutError(f"grayscale/colour mismatch: {gray} is grayscale but {colour} is "
                              "colour; save both the same way")


def _stage_image(folder: Path, stem: str, src: Path, image, rate: tuple[int | None, float | None],
                 bitstream: Path | None) -> dict[str, Any]:
    """Write one reconstruction (as PNG) and its bitstream into ``folder``; its run.json entry."""
    if src.suffix.lower() == ".png":
        shutil.copyfile(src, folder / f"{stem}.png")
    elif image.grayscale:  # keep gray gray: evalkit refuses gray/colour pairs
        Image.fromarray(image.pixels[:, :, 0], "L").save(folder / f"{stem}.png")
    else:
        write_png(folder / f"{stem}.png", image.pixels)
    w, h = image.size
    nbytes, bpp = rate
    info: dict[str, Any] = {"source": str(src.resolve()), "source_sha256": file_sha256(src),
                            "width": w, "height": h}
    if bitstream is not None:
        shutil.copyfile(bitstream, folder / f"{stem}{bitstream.suffix}")
        info.update(bitstream=f"{stem}{bitstream.suffix}", bitstream_source=str(bitstream.resolve()))
    if nbytes is not None:
        bpp = bits_per_pixel(nbytes, w, h)
    info.update(bytes=nbytes, bpp=bpp)
    return info


def _write_manifest(path: Path, rates: dict[str, tuple[int | None, float | None]]) -> None:
    """``image,bytes,bpp`` (only the known value of each row is filled); image names a
    spreadsheet would run as formulas get a leading ``'``, which the readers remove
    (:func:`evalkit.layout.manifest_image`)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["image", "bytes", "bpp"])
    for stem, (nbytes, bpp) in sorted(rates.items()):
        w.writerow([csv_protect(stem), "" if nbytes is None else nbytes,
                    "" if nbytes is not None or bpp is None else repr(bpp)])
    path.write_text(buf.getvalue())
