"""bpp-matched encodes: per image, the highest codec setting whose rate does not exceed a target.

Targets come from another run (``runs/<codec>/<setting>``, its per-image bpp read through
:mod:`evalkit.layout`) or from a CSV manifest (``image,bpp`` or ``image,bytes``).

Search (:func:`highest_feasible`): bisection over the codec's increasing-rate grid of settings,
assuming rate grows with the setting; real encoders are only nearly monotone, so after every
bisection the next ``lookahead`` settings above the boundary are tried as well and the search
continues from any that still fits.  Only a measured encode whose bitstream fits is ever kept,
so the achieved bpp never exceeds the target.  Images where even the lowest setting exceeds the
target are reported (``status == "infeasible"``) and left out of the run, never overshot.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from baselines.codecs import CODECS, Codec, bits_per_pixel, get_codec, parse_codec_list
from baselines.refs import Reference, load_references
from baselines.staging import RunStager, write_png, write_run_json
from baselines.sweep import codec_record, read_pixels
from baselines.workers import check_parallel, run_tasks
from evalkit.errors import CodecError, LayoutError
from evalkit.layout import discover_runs, read_manifest
from evalkit.provenance import file_sha256, provenance

#: Columns of the table :func:`run_matched` returns (one row per codec and image).
MATCHED_COLUMNS = ("codec", "setting", "image", "status", "target_bpp", "achieved_bpp", "value",
                   "bytes", "lowest_bpp", "encodes", "non_monotone", "encode_seconds",
                   "decode_seconds", "run_dir")

DEFAULT_LOOKAHEAD = 3


@dataclass(frozen=True)
class SearchResult:
    """Outcome of :func:`highest_feasible`: ``best`` is None when nothing fits."""

    best: int | None
    evaluated: dict[int, float]   # grid index -> measured bpp
    non_monotone: bool            # some higher setting gave a lower rate than a lower one


def highest_feasible(rate_of: Callable[[int], float], n: int, target: float, *,
                     lookahead: int = DEFAULT_LOOKAHEAD, start: int | None = None) -> SearchResult:
    """Largest index ``i < n`` with ``rate_of(i) <= target`` (rate assumed non-decreasing in i).

    Exact for monotone rates; local dips (a higher setting fitting again within ``lookahead``
    steps above the boundary) are followed.  ``start`` is an optional guess of the answer
    (e.g. jpeg2000's grid value nearest the target): the search gallops out from it before
    bisecting, which needs fewer encodes when the guess is close.  ``rate_of`` is called at
    most once per index.
    """
    if n < 1:
        raise CodecError(f"the setting grid must hold at least one value, got {n}")
    seen: dict[int, float] = {}

    def fits(i: int) -> bool:
        if i not in seen:
            seen[i] = float(rate_of(i))
        return seen[i] <= target

    def finish(best: int | None) -> SearchResult:
        order = sorted(seen)
        dips = any(seen[a] > seen[b] for k, a in enumerate(order) for b in order[k + 1:])
        return SearchResult(best, dict(sorted(seen.items())), dips)

    def lowest_fitting() -> int | None:
        return next((i for i in range(0, min(n - 1, lookahead + 1)) if fits(i)), None)

    if fits(n - 1):
        return finish(n - 1)
    if start is not None and 0 <= start < n - 1:
        lo = _gallop(fits, n, start, lowest_fitting)
    else:
        lo = lowest_fitting()
    if lo is None:
        return finish(None)
    while True:
        # the nearest setting above lo known not to fit (n - 1 is one)
        hi = min(i for i, r in seen.items() if i > lo and r > target)
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if fits(mid):
                lo = mid
            else:
                hi = mid
        above = next((j for j in range(hi + 1, min(n - 1, hi + 1 + lookahead)) if fits(j)), None)
        if above is None:
            return finish(lo)
        lo = above


def _gallop(fits: Callable[[int], bool], n: int, start: int,
            lowest_fitting: Callable[[], int | None]) -> int | None:
    """A fitting index near ``start`` (0 <= start < n - 1) found by galloping away from it."""
    if fits(start):  # gallop upwards while it still fits
        lo, step = start, 1
        while lo + step < n - 1 and fits(lo + step):
            lo, step = lo + step, step * 2
        return lo
    hi, step = start, 1  # gallop downwards until it fits
    while hi - step >= 0 and not fits(hi - step):
        hi, step = hi - step, step * 2
    return hi - step if hi - step >= 0 else lowest_fitting()


# -- targets ---------------------------------------------------------------------------------
def targets_from_run(refs_dir: str | Path, run_dir: str | Path,
                     refs: dict[str, Reference]) -> dict[str, float]:
    """Per-image bpp of ``runs/<codec>/<setting>`` (bitstream size or its manifest)."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise LayoutError(f"match run {run_dir} does not exist (expected RUNS/<codec>/<setting>)")
    codec, setting = run_dir.parent.name, run_dir.name
    entries, _ = discover_runs(refs_dir, run_dir.parent.parent, codecs=[codec])
    out = {e.image: e.bpp(refs[e.image].width, refs[e.image].height)
           for e in entries if e.setting == setting}
    if not out:
        raise LayoutError(f"match run {run_dir} holds no reconstruction of any reference")
    return out


def targets_from_manifest(manifest: str | Path, refs: dict[str, Reference]) -> dict[str, float]:
    """Per-image bpp from a CSV with columns ``image`` and ``bpp`` (or ``bytes``)."""
    manifest = Path(manifest)
    if not manifest.is_file():
        raise LayoutError(f"target manifest {manifest} does not exist")
    out = {}
    for name, (nbytes, bpp) in read_manifest(manifest).items():
        if name not in refs:
            raise LayoutError(f"{manifest}: image {name!r} has no reference (known: {', '.join(refs)})")
        ref = refs[name]
        out[name] = bits_per_pixel(nbytes, ref.width, ref.height) if nbytes is not None else float(bpp)
    if not out:
        raise LayoutError(f"target manifest {manifest} lists no image")
    return out


# -- per-image work ------------------------------------------------------------------------------
@dataclass(frozen=True)
class _MatchTask:
    codec: str
    ref: Reference
    target: float
    grid: tuple[float, ...]
    folder: str
    lookahead: int


def _match_task(task: _MatchTask) -> dict[str, Any]:
    codec: Codec = CODECS[task.codec]()
    pixels = read_pixels(task.ref)
    best: dict[str, Any] = {}  # the highest fitting encode so far (the search never goes back)

    def rate_of(i: int) -> float:
        data, seconds = codec.encode(pixels, task.grid[i])
        bpp = bits_per_pixel(len(data), task.ref.width, task.ref.height)
        if bpp <= task.target and i > best.get("index", -1):
            best.update(index=i, data=data, seconds=seconds)
        return bpp

    res = highest_feasible(rate_of, len(task.grid), task.target, lookahead=task.lookahead,
                           start=codec.start_hint(task.grid, task.target))
    row: dict[str, Any] = {"codec": task.codec, "image": task.ref.name, "target_bpp": task.target,
                           "encodes": len(res.evaluated), "non_monotone": res.non_monotone,
                           "lowest_bpp": res.evaluated.get(0)}
    if res.best is None:
        return {**row, "status": "infeasible"}
    if best.get("index") != res.best:  # cannot happen: the search only moves upwards
        raise CodecError(f"{task.codec} on {task.ref.name}: search bookkeeping mismatch")
    value = task.grid[res.best]
    enc = codec.finish(pixels, best["data"], best["seconds"])
    achieved = bits_per_pixel(enc.nbytes, task.ref.width, task.ref.height)
    if achieved > task.target:  # cannot happen: only fitting encodes are kept
        raise CodecError(f"{task.codec} on {task.ref.name}: matched rate {achieved} exceeds "
                         f"target {task.target}")
    folder = Path(task.folder)
    (folder / (task.ref.name + codec.extension)).write_bytes(enc.bitstream)
    write_png(folder / f"{task.ref.name}.png", enc.decoded)
    return {**row, "status": "matched", "value": codec.check_value(value), "bytes": enc.nbytes,
            "achieved_bpp": achieved, "encode_seconds": enc.encode_seconds,
            "decode_seconds": enc.decode_seconds, "width": task.ref.width,
            "height": task.ref.height, "bitstream": task.ref.name + codec.extension,
            "reconstruction": f"{task.ref.name}.png", "reference_sha256": task.ref.sha256,
            "parameters": codec.parameters(value),
            "searched": {f"{task.grid[i]:g}": bpp for i, bpp in res.evaluated.items()}}


def matched_setting_name(match: str | Path | None, manifest: str | Path | None) -> str:
    """``match-<codec>-<setting>`` for a run, ``match-<manifest file stem>`` for a manifest."""
    if match is not None:
        p = Path(match)
        return f"match-{p.parent.name}-{p.name}"
    return f"match-{Path(manifest).stem}"


def run_matched(refs_dir: str | Path, runs_dir: str | Path, codecs: Sequence[str] | str, *,
                match: str | Path | None = None, manifest: str | Path | None = None,
                setting: str | None = None, qualities: Sequence[float] | None = None,
                lookahead: int = DEFAULT_LOOKAHEAD, workers: int | None = None,
                executor: str = "auto", progress: bool = True,
                overwrite: bool = False) -> pd.DataFrame:
    """Encode every targeted image with each codec at the highest setting not above its target bpp.

    Args:
        refs_dir: folder of originals.
        runs_dir: root of the run layout; output goes to ``runs_dir/<codec>/<setting>``.
        codecs: codec names (list or ``"jpeg,webp"``).
        match: a run folder ``RUNS/<codec>/<setting>`` whose per-image bpp are the targets.
        manifest: instead of ``match``: CSV with ``image`` and ``bpp`` (or ``bytes``) columns.
        setting: output setting name (default :func:`matched_setting_name`).
        qualities: restrict the searched grid to these values (default: the codec's full grid,
            :meth:`Codec.grid`); they are sorted ascending.
        lookahead: settings above the bisection boundary also tried (non-monotone encoders).
        workers, executor, progress, overwrite: as in :func:`baselines.sweep.run_sweep`.

    Returns:
        One row per (codec, targeted image) with :data:`MATCHED_COLUMNS`; ``status`` is
        ``"matched"`` or ``"infeasible"`` (even the lowest setting exceeds the target: the
        image is not written and ``lowest_bpp`` says by how much).  References without a
        target are not encoded.
    """
    if (match is None) == (manifest is None):
        raise CodecError("give exactly one of match (a run folder) or manifest (a CSV) as the "
                         f"bpp targets, got match={match!r}, manifest={manifest!r}")
    if not isinstance(lookahead, int) or lookahead < 0:
        raise CodecError(f"lookahead must be a non-negative integer, got {lookahead!r}")
    names = parse_codec_list(codecs if isinstance(codecs, str) else list(codecs))
    codec_objs = {n: get_codec(n) for n in names}
    nworkers, executor = check_parallel(workers, executor, list(codec_objs.values()))
    grids = {}
    for n, c in codec_objs.items():
        grid = sorted({c.check_value(v) for v in qualities}) if qualities is not None else c.grid()
        if not grid:
            raise CodecError(f"{n}: the searched {c.value_name} list must not be empty")
        grids[n] = tuple(grid)
    refs = load_references(refs_dir)
    targets = (targets_from_run(refs_dir, match, refs) if match is not None
               else targets_from_manifest(manifest, refs))
    setting = setting or matched_setting_name(match, manifest)
    runs_dir = Path(runs_dir)
    source = {"match_run": str(Path(match).resolve())} if match is not None else {
        "manifest": str(Path(manifest).resolve()), "manifest_sha256": file_sha256(manifest)}
    rows: list[dict[str, Any]] = []
    with RunStager(runs_dir, overwrite=overwrite) as stager:
        stager.check_free([runs_dir / n / setting for n in names])
        tasks = [_MatchTask(n, refs[img], t, grids[n], str(stager.stage(n, setting)), lookahead)
                 for n in names for img, t in sorted(targets.items())]
        rows = list(run_tasks(_match_task, tasks, workers=nworkers, executor=executor,
                              desc="bpp matching", progress=progress, unit="img",
                              describe=lambda t: f"{t.codec} on {t.ref.path}"))
        for n, codec in codec_objs.items():
            mine = [r for r in rows if r["codec"] == n]
            ok = {r["image"]: _image_fields(r) for r in mine if r["status"] == "matched"}
            if not ok:
                stager.discard(n, setting)
                continue
            record = provenance(
                settings={"refs_dir": str(Path(refs_dir).resolve()), "workers": nworkers,
                          "executor": executor, "lookahead": lookahead,
                          "grid": [grids[n][0], grids[n][-1], len(grids[n])], **source},
                kind="matched", setting=setting, **codec_record(codec),
                images=dict(sorted(ok.items())),
                infeasible=[{"image": r["image"], "target_bpp": r["target_bpp"],
                             "lowest_bpp": r["lowest_bpp"]} for r in mine if r["status"] != "matched"],
                not_targeted=sorted(set(refs) - set(targets)))
            write_run_json(Path(stager.stage(n, setting)), record)
        done = {d.parent.name: str(d) for d in stager.commit()}
    table = pd.DataFrame(rows)
    table["setting"] = setting
    table["run_dir"] = [done.get(c) for c in table["codec"]]
    for col in MATCHED_COLUMNS:
        if col not in table:
            table[col] = None
    return table.loc[:, list(MATCHED_COLUMNS)].sort_values(["codec", "image"]).reset_index(drop=True)


def _image_fields(row: dict[str, Any]) -> dict[str, Any]:
    keep = ("value", "bytes", "achieved_bpp", "target_bpp", "width", "height", "encode_seconds",
            "decode_seconds", "bitstream", "reconstruction", "reference_sha256", "parameters",
            "encodes", "non_monotone", "searched")
    return {k: row[k] for k in keep}
