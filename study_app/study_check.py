"""Checking a study against its folders: every image present for every method, same sizes,
and no more trials per rater than distinct stimuli."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from evalkit.errors import EvalkitError, StudyError
from evalkit.images import image_size
from evalkit.layout import discover_runs, list_references
from study_app.defaults import TOKEN_ENV
from study_app.definition import StudyDefinition


@dataclass(frozen=True)
class StudyCheck:
    """What :func:`check_study` found: images used and the files behind every stimulus."""

    images: tuple[str, ...]
    references: dict[str, Path]
    reconstructions: dict[tuple[str, str], Path]   # (method, image) -> file
    sizes: dict[str, tuple[int, int]]              # image -> (width, height)
    warnings: tuple[str, ...] = ()


def check_study(defn: StudyDefinition) -> StudyCheck:
    """Validate a study against its folders: every image present for every method, same sizes.

    Raises:
        StudyError: listing every missing file / size mismatch / unknown method or image at once.
    """
    try:
        refs = list_references(defn.refs_dir)
        codecs = sorted({m.split("/")[0] for m in defn.methods})
        entries, _report = discover_runs(defn.refs_dir, defn.runs_dir, codecs=codecs)
    except EvalkitError as exc:
        raise StudyError(f"study {defn.name!r}: {exc}") from exc
    images = defn.images or tuple(refs)
    recon = {(e.method, e.image): e.reconstruction for e in entries}
    problems = _missing(defn, images, refs, recon, {e.method for e in entries})
    sizes = {} if problems else _sizes(defn, images, refs, recon, problems)
    if problems:
        shown = "; ".join(problems[:5]) + (f"; and {len(problems) - 5} more" if len(problems) > 5 else "")
        raise StudyError(f"study {defn.name!r} does not match its folders ({len(problems)} "
                         f"problem(s)): {shown}")
    used = tuple(f"/{m}/" for m in defn.methods)
    warnings = [w for w in _report.warnings() if any(u in w.replace("\\", "/") for u in used)]
    if defn.crops:
        small = [im for im, (w, h) in sizes.items() if w < defn.crops.width or h < defn.crops.height]
        if small:
            warnings.append(f"{len(small)} image(s) smaller than the crop size are cropped to "
                            f"their own size: {', '.join(small[:5])}")
    if not defn.token():
        warnings.append(f"no experimenter_token (or env {TOKEN_ENV}): the experimenter page is off")
    keep = {(m, im): p for (m, im), p in recon.items() if m in defn.methods and im in images}
    return StudyCheck(tuple(images), {im: refs[im] for im in images}, keep, sizes, tuple(warnings))


def _missing(defn: StudyDefinition, images, refs, recon, known_methods) -> list[str]:
    problems = [f"image {im!r} is not in {defn.refs_dir}" for im in images if im not in refs]
    for m in defn.methods:
        if m not in known_methods:
            problems.append(f"method {m} has no folder {defn.runs_dir / m}")
            continue
        problems += [f"{m}: missing reconstruction of {im!r}" for im in images
                     if im in refs and (m, im) not in recon]
    return problems


def _sizes(defn: StudyDefinition, images, refs, recon, problems: list[str]) -> dict[str, tuple[int, int]]:
    """Size of every image; appends a problem per reconstruction of another size."""
    sizes: dict[str, tuple[int, int]] = {}
    for im in images:
        sizes[im] = image_size(refs[im])
        for m in defn.methods:
            s = image_size(recon[(m, im)])
            if s != sizes[im]:
                problems.append(f"{m}: {im!r} is {s[0]}x{s[1]}, original is "
                                f"{sizes[im][0]}x{sizes[im][1]}")
    return sizes


def check_capacity(defn: StudyDefinition, n_stimuli: int) -> None:
    """Refuse more regular trials per rater than distinct stimuli (a rater never sees one twice)."""
    if defn.n_regular > n_stimuli:
        raise StudyError(f"study.trials_per_rater must leave at most {n_stimuli} regular trials "
                         f"(distinct stimuli), got {defn.n_regular} in {defn.path or defn.name}")
