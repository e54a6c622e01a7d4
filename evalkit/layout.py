"""The on-disk layout of originals and codec outputs, shared by evaluation, baselines and the study.

::

    refs/<image>.png                          originals (any format evalkit reads)
    runs/<codec>/<setting>/<image>.png        reconstruction
    runs/<codec>/<setting>/<image>.<ext>      bitstream (optional; its size gives the rate)
    runs/<codec>/<setting>/manifest.csv       optional: columns image,bytes or image,bpp
                                              (+ encode_s,decode_s seconds: evalkit.evaluate.timings)
                                              (+ optional encode_s,decode_s: seconds)
    runs/<codec>/<setting>/run.json           optional metadata written by `evalkit baseline`

Rules for one ``<codec>/<setting>`` folder:

* Files are grouped by stem (the image name without extension).
* The reconstruction is ``<image>.png`` when present.  A stem with a single non-PNG image file
  (``.jpg``, ``.webp``, ``.jxl``...) is a decodable bitstream: it is the reconstruction *and*
  its size is the rate.
* Every other file of the stem is the bitstream (at most one).
* The rate comes from the bitstream's size, else from ``manifest.csv`` (``bytes`` or ``bpp``).
  A reconstruction with neither is an error naming the file -- never a silently missing rate.
* Stems with no matching reference, references with no reconstruction, and stray files are
  reported in :class:`LayoutReport`.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass, field
from pathlib import Path

from evalkit.errors import LayoutError
from evalkit.images import IMAGE_EXTENSIONS
from evalkit.rate import bits_per_pixel
from evalkit.textsafe import csv_unprotect

MANIFEST_NAME = "manifest.csv"
METADATA_NAME = "run.json"
_IGNORED = {MANIFEST_NAME, METADATA_NAME}


@dataclass(frozen=True)
class RunEntry:
    """One reconstruction of one reference image by one codec setting.

    ``bytes`` is the compressed size when known (bitstream or manifest ``bytes``);
    ``manifest_bpp`` is set instead when the manifest only gives ``bpp``.
    """

    codec: str
    setting: str
    image: str
    reference: Path
    reconstruction: Path
    bitstream: Path | None
    bytes: int | None
    manifest_bpp: float | None = None

    @property
    def method(self) -> str:
        """``codec/setting``: how methods are named in studies and reports."""
        return f"{self.codec}/{self.setting}"

    def bpp(self, width: int, height: int) -> float:
        """Bits per pixel of the original: ``bytes * 8 / (width * height)``."""
        if self.bytes is not None:
            return bits_per_pixel(self.bytes, width, height)
        if self.manifest_bpp is None:  # discover_runs never builds such an entry
            raise LayoutError(f"{self.reconstruction}: no rate known")
        return float(self.manifest_bpp)


@dataclass
class LayoutReport:
    """What :func:`discover_runs` found besides the usable entries."""

    missing: list[str] = field(default_factory=list)      # "<codec>/<setting>: <image>"
    unmatched: list[str] = field(default_factory=list)    # files whose stem is no reference
    stray: list[str] = field(default_factory=list)        # other unexpected files/folders
    errors: list[str] = field(default_factory=list)       # fatal problems (e.g. no rate)

    def warnings(self) -> list[str]:
        out = [f"missing reconstruction: {m}" for m in self.missing]
        out += [f"no reference named like: {u}" for u in self.unmatched]
        out += [f"unexpected: {s}" for s in self.stray]
        return out


def _visible(path: Path) -> bool:
    return not path.name.startswith(".")


def list_references(refs_dir: str | Path) -> dict[str, Path]:
    """Map image name (file stem) -> path of every original in ``refs_dir``.

    Raises:
        LayoutError: the folder is missing, holds no images, or two files share a stem.
    """
    refs_dir = Path(refs_dir)
    if not refs_dir.is_dir():
        raise LayoutError(f"references folder {refs_dir} does not exist")
    refs: dict[str, Path] = {}
    for p in sorted(refs_dir.iterdir()):
        if not (p.is_file() and _visible(p) and p.suffix.lower() in IMAGE_EXTENSIONS):
            continue
        if p.stem in refs:
            raise LayoutError(f"two references named {p.stem!r}: {refs[p.stem].name} and {p.name}")
        refs[p.stem] = p
    if not refs:
        raise LayoutError(f"references folder {refs_dir} holds no images")
    return refs


def _manifest_number(path: Path, lineno: int, column: str, text: str | None, kind):
    text = (text or "").strip()
    if not text:
        return None
    try:
        value = kind(text)
    except ValueError:
        want = "a whole number of bytes" if kind is int else "a number"
        raise LayoutError(f"{path}:{lineno}: column {column} must be {want}, got {text!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise LayoutError(f"{path}:{lineno}: column {column} must be a positive rate, got {text!r} "
                          "(no image compresses to nothing; fix or remove the row)")
    return value


def manifest_image(cell: str | None) -> str:
    """The image name (stem) of a manifest's ``image`` cell.  One leading ``'`` is removed: that
    is how evalkit writes a name a spreadsheet would run as a formula (``'=x`` for ``=x``, and
    ``''x`` for a name that starts with a quote; :func:`evalkit.textsafe.csv_protect`)."""
    return Path(csv_unprotect((cell or "").strip())).stem


def read_manifest(path: Path) -> dict[str, tuple[int | None, float | None]]:
    """Read ``manifest.csv`` -> ``{image: (bytes, bpp)}``; image names may carry extensions.

    Raises:
        LayoutError: naming the file (and line): not a UTF-8 CSV, no ``image`` column or no
            ``bytes``/``bpp`` column, an empty name, a rate that is not a positive number
            (``bytes = 0`` included), or the same image on two lines.
    """
    path = Path(path)
    out: dict[str, tuple[int | None, float | None]] = {}
    where: dict[str, int] = {}
    try:
        # utf-8-sig: spreadsheet programs start their CSVs with a byte-order mark
        with open(path, newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            cols = {c.strip() for c in (reader.fieldnames or []) if c}
            if "image" not in cols or not ({"bytes", "bpp"} & cols):
                raise LayoutError(f"{path}: needs a header line with columns image and bytes (or "
                                  f"bpp), got {sorted(cols) or 'none'}")
            for lineno, raw in enumerate(reader, start=2):
                row = {(k or "").strip(): v for k, v in raw.items() if isinstance(v, str)}
                name = manifest_image(row.get("image"))
                if not name:
                    raise LayoutError(f"{path}:{lineno}: empty image name")
                nbytes = _manifest_number(path, lineno, "bytes", row.get("bytes"), int)
                bpp = _manifest_number(path, lineno, "bpp", row.get("bpp"), float)
                if nbytes is None and bpp is None:
                    raise LayoutError(f"{path}:{lineno}: no bytes or bpp for {name!r}")
                if name in out:
                    raise LayoutError(f"{path}:{lineno}: image {name!r} is listed twice (also "
                                      f"on line {where[name]}); keep one row per image")
                out[name], where[name] = (nbytes, bpp), lineno
    except UnicodeDecodeError:
        raise LayoutError(f"{path}: not a text CSV file (cannot decode it as UTF-8); a manifest "
                          "holds lines like image,bytes") from None
    except csv.Error as exc:
        raise LayoutError(f"{path}: not a valid CSV file ({exc})") from None
    return out


def _entries_of_setting(codec: str, setting_dir: Path, refs: dict[str, Path],
                        report: LayoutReport) -> list[RunEntry]:
    setting = setting_dir.name
    manifest_path = setting_dir / MANIFEST_NAME
    manifest = read_manifest(manifest_path) if manifest_path.is_file() else {}
    by_stem: dict[str, list[Path]] = {}
    for p in sorted(setting_dir.iterdir()):
        if not _visible(p) or p.name in _IGNORED:
            continue
        if p.is_dir():
            report.stray.append(str(p))
            continue
        by_stem.setdefault(p.stem, []).append(p)
    entries = []
    for stem, files in by_stem.items():
        if stem not in refs:
            report.unmatched.extend(str(f) for f in files)
            continue
        pngs = [f for f in files if f.suffix.lower() == ".png"]
        images = [f for f in files if f.suffix.lower() in IMAGE_EXTENSIONS]
        if pngs:
            recon = pngs[0]
            others = [f for f in files if f != recon]
        elif len(images) == 1 and len(files) == 1:
            recon, others = images[0], [images[0]]
        else:
            report.errors.append(f"{codec}/{setting}: cannot tell the reconstruction of {stem!r} "
                                 f"among {[f.name for f in files]} (name it {stem}.png)")
            continue
        if len(others) > 1:
            report.errors.append(f"{codec}/{setting}: several bitstreams for {stem!r}: "
                                 f"{[f.name for f in others]}")
            continue
        bitstream = others[0] if others else None
        nbytes: int | None = bitstream.stat().st_size if bitstream else None
        if nbytes == 0:
            report.errors.append(f"{bitstream}: empty bitstream (0 bytes), so its rate is "
                                 "meaningless; re-encode it or remove it")
            continue
        mbpp: float | None = None
        if bitstream is None:
            if stem not in manifest:
                report.errors.append(f"{recon}: no bitstream and no {MANIFEST_NAME} entry, "
                                     "so its rate is unknown")
                continue
            nbytes, mbpp = manifest[stem]
            if nbytes is not None:
                mbpp = None
        entries.append(RunEntry(codec, setting, stem, refs[stem], recon, bitstream, nbytes, mbpp))
    for stem in refs:
        if stem not in by_stem:
            report.missing.append(f"{codec}/{setting}: {stem}")
    return entries


def values_by_entry(entries, read_folder) -> dict:
    """``{(codec, setting, image): value}`` for the entries whose setting folder (the folder of
    the reconstruction) gives a value: ``read_folder(folder) -> {image: value}`` is called once
    per folder.  Used for per-image facts stored beside the reconstructions (times, models)."""
    by_dir: dict[Path, dict] = {}
    found: dict[tuple[str, str, str], object] = {}
    for e in entries:
        folder = Path(e.reconstruction).parent
        if folder not in by_dir:
            by_dir[folder] = read_folder(folder)
        if e.image in by_dir[folder]:
            found[(e.codec, e.setting, e.image)] = by_dir[folder][e.image]
    return found


def discover_runs(refs_dir: str | Path, runs_dir: str | Path, *,
                  codecs: list[str] | None = None) -> tuple[list[RunEntry], LayoutReport]:
    """Find every (codec, setting, image) in ``runs_dir`` that matches a reference.

    Args:
        refs_dir: folder of originals.
        runs_dir: folder holding ``<codec>/<setting>/`` sub-folders.
        codecs: only these codecs (all when None).

    Returns:
        The usable entries (sorted by codec, setting, image) and a :class:`LayoutReport`.

    Raises:
        LayoutError: a folder is missing or empty, or any reconstruction has no known rate
            (all such problems are listed in one message).
    """
    refs = list_references(refs_dir)
    runs_dir = Path(runs_dir)
    if not runs_dir.is_dir():
        raise LayoutError(f"runs folder {runs_dir} does not exist")
    report = LayoutReport()
    entries: list[RunEntry] = []
    codec_dirs = [p for p in sorted(runs_dir.iterdir()) if _visible(p)]
    if codecs is not None:
        unknown = sorted(set(codecs) - {p.name for p in codec_dirs})
        if unknown:
            raise LayoutError(f"no such codec folder in {runs_dir}: {', '.join(unknown)}")
        codec_dirs = [p for p in codec_dirs if p.name in codecs]
    for codec_dir in codec_dirs:
        if not codec_dir.is_dir():
            report.stray.append(str(codec_dir))
            continue
        for setting_dir in sorted(codec_dir.iterdir()):
            if not _visible(setting_dir):
                continue
            if not setting_dir.is_dir():
                report.stray.append(str(setting_dir))
                continue
            entries.extend(_entries_of_setting(codec_dir.name, setting_dir, refs, report))
    if report.errors:  # one line: the first problem, and how many more there are
        more = len(report.errors) - 1
        raise LayoutError(report.errors[0] + (f" (and {more} more problem{'s' * (more > 1)} in "
                                              f"{runs_dir})" if more else ""))
    if not entries:
        raise LayoutError(f"no reconstructions matching the references found under {runs_dir}")
    return entries, report
