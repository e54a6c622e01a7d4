"""Score every reconstruction of a refs/runs layout into a results table, incrementally.

Pipeline: discover the layout -> hash every file (threads) -> look every (pair, metric) up in the
content-keyed cache -> plan what is missing by reference image (:mod:`evalkit.evaluate.plan`) ->
score it reference by reference, in this process (:mod:`evalkit.evaluate.engine`) or on Ray
(:mod:`evalkit.evaluate.ray_backend`) -> commit each finished row to the cache as it arrives ->
set-level metrics per setting -> summary.  A fully cached run builds no model and imports no
torch.  See :mod:`evalkit.evaluate.cache` for the keys and :mod:`evalkit.evaluate.results` for
the columns.

Workers: ``workers`` threads decode (PNG/JPEG/WebP decoders release the GIL) and hash files,
overlapping with metric computation in the main thread (torch uses its own intra-op threads).
``workers=0`` decodes inline.  Measured by ``bench/evaluate.py`` on 2 cores (Kodak, psnr/ssim/
ms_ssim): 0, 1 and 2 workers all ran at ~6.5 images/s -- the metrics dominate, decoding is ~5%.
"""

from __future__ import annotations

import warnings
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

from evalkit.errors import EvaluationError
from evalkit.evaluate.aggregates import summarize
from evalkit.evaluate.annotations import (
    STAND_IN_NOTE,
    attach_models,
    attach_weights_verified,
)
from evalkit.evaluate.cache import (
    NullCache,
    ResultCache,
    content_hashes,
    default_cache_path,
    set_key,
)
from evalkit.evaluate.results import (
    RESULT_COLUMNS,
    default_summary_path,
    table_format,
)
from evalkit.evaluate.timings import attach_timings
from evalkit.layout import LayoutReport, RunEntry, discover_runs
from evalkit.rd.imageset import ImageSetWarning, common_images

#: Decode threads when ``workers`` is None (one overlaps decoding with torch on 2 cores).
DEFAULT_WORKERS = 1


@dataclass(frozen=True)
class Evaluation:
    """What :func:`evaluate` returns.

    Attributes:
        results: per-image table (columns in :mod:`evalkit.evaluate.results`).
        summary: per-(codec, setting) table with means and CLIC aggregates.
        reused: rows whose every pair-metric value came from the cache.
        computed: rows for which at least one metric was computed.
        layout: what :func:`evalkit.layout.discover_runs` reported (missing/unmatched/stray).
        provenance: settings, metric versions and weight hashes (for the sidecar JSON).
    """

    results: pd.DataFrame
    summary: pd.DataFrame
    reused: int
    computed: int
    layout: LayoutReport
    provenance: dict = field(default_factory=dict)


def _metric_identity(name: str) -> tuple[Any, str, str]:
    """(spec, version, weight-hash string) of a metric; resolves (and checks) its weights."""
    from evalkit.metrics import get_spec
    from evalkit.weights import resolve, sha256_of

    spec = get_spec(name)
    hashes = [f"{w}={sha256_of(resolve(w))}" for w in spec.needs_weights]
    return spec, str(spec.version), ",".join(hashes)


def _common_summary(results: pd.DataFrame, set_values):
    """The summary compares settings: each over the same images (those every setting has);
    a warning names the images left out (the results table keeps every image)."""
    common = common_images(results)
    if common.dropped:
        warnings.warn(f"summary: {common.message('settings compared')} (the results table "
                      "keeps every image)", ImageSetWarning, stacklevel=3)
    return summarize(common.table, set_values), common


def _weights_verified(names) -> bool | None:
    """All weight files of these metrics official (None: no metric needs weights)."""
    from evalkit.metrics import get_spec
    from evalkit.weights import is_official

    files = {w for n in names for w in get_spec(n).needs_weights}
    return all(is_official(w) for w in sorted(files)) if files else None


def _load(entry: RunEntry) -> tuple[np.ndarray, np.ndarray]:
    from evalkit.images import load_pair

    return load_pair(entry.reference, entry.reconstruction)


def _prefetched(entries: Sequence[RunEntry], workers: int):
    """Yield ``(entry, (ref, dist))`` in order, decoding up to ``2*workers`` pairs ahead."""
    if workers <= 0:
        for e in entries:
            yield e, _load(e)
        return
    pool = ThreadPoolExecutor(max_workers=workers)
    pending: deque = deque()
    it = iter(entries)
    try:
        for e in it:
            pending.append((e, pool.submit(_load, e)))
            if len(pending) >= 2 * workers:
                break
        while pending:
            e, fut = pending.popleft()
            nxt = next(it, None)
            if nxt is not None:
                pending.append((nxt, pool.submit(_load, nxt)))
            yield e, fut.result()
    finally:
        for _, fut in pending:
            fut.cancel()
        pool.shutdown(wait=True, cancel_futures=True)


def _cached(entries: Sequence[RunEntry], sha: dict, store: ResultCache, pair_names: list[str],
            idents: dict) -> tuple[dict, dict, dict[int, list[str]]]:
    """Cached values and sizes of every row, and the metrics each row still lacks."""
    values: dict[int, dict[str, float]] = {}
    sizes: dict[int, tuple[int, int]] = {}
    missing: dict[int, list[str]] = {}
    for i, e in enumerate(entries):
        ref_sha, dist_sha = sha[e.reference], sha[e.reconstruction]
        got = {n: store.get_pair(ref_sha, dist_sha, n, idents[n][1], idents[n][2])
               for n in pair_names}
        values[i] = {n: v for n, v in got.items() if v is not None}
        size = store.image_size(ref_sha)
        if len(values[i]) < len(pair_names):
            missing[i] = [n for n in pair_names if n not in values[i]]
        elif size is None:  # every value cached but the size is not: read the header
            from evalkit.images import image_size

            sizes[i] = image_size(e.reference)
            store.put_row(ref_sha, dist_sha, sizes[i], {})
        else:
            sizes[i] = size
    return values, sizes, missing


def _score_rows(entries: Sequence[RunEntry], missing: dict[int, list[str]], *, device: str,
                batch_size: int | None, workers: int, ray: str | None,
                ray_actors: int | None, idents: dict):
    """Yield ``ScoredRow`` for every row of ``missing``, reference by reference, locally or on
    Ray; the caller commits each one as it arrives."""
    from evalkit.evaluate.plan import plan_groups

    groups = plan_groups(entries, missing)
    if not groups:
        return
    if ray is not None:
        from evalkit.evaluate.ray_backend import score_on_ray

        yield from score_on_ray(groups, address=ray, device=device, batch_size=batch_size,
                                workers=workers, actors=ray_actors,
                                identities={n: idents[n][1:] for n in idents})
        return
    from evalkit.evaluate.engine import Engine

    engine = Engine(device, batch_size=batch_size, workers=workers)
    for group in groups:
        yield from engine.score_group(group)


def evaluate(refs: str | Path, runs: str | Path, metrics: Sequence[str] | str | None = None, *,
             device: str = "auto", workers: int | None = None, cache: str | Path | bool = True,
             codecs: Sequence[str] | None = None, progress: bool = True,
             batch_size: int | None = None, ray: str | None = None,
             ray_actors: int | None = None) -> Evaluation:
    """Score every ``runs/<codec>/<setting>/<image>`` against ``refs/<image>``.

    Work is reference-major (:mod:`evalkit.evaluate.engine`): each reference is decoded once
    and each learned metric computes its reference state once for all its reconstructions.

    Args:
        refs: folder of originals.
        runs: folder of ``<codec>/<setting>/`` reconstructions (see :mod:`evalkit.layout`).
        metrics: metric names or ``"psnr,ms_ssim"`` (default ``psnr, ssim, ms_ssim``); set-level
            metrics (``fid``, ``kid``) go to the summary only.
        device: ``auto`` (CUDA when present, else CPU), ``cpu``, ``cuda``, ``cuda:N``, ``mps``.
        workers: decode/hash threads (default 1; 0 decodes in the main thread).
        cache: ``True`` for the default cache file, ``False`` for none, or a path.
        codecs: only these codec folders (all when None).
        progress: show a tqdm progress bar on stderr.
        batch_size: reconstructions scored per batch (None: 8, fewer for large images).
        ray: run the reference groups on a Ray cluster: ``"local"`` starts one on this
            machine, ``"auto"`` joins the running cluster, else a cluster address
            (``ray://host:10001``); None scores in this process.  Needs ``evalkit[ray]``.
        ray_actors: Ray actors (None: one per GPU, else one per 2 CPUs of the cluster).

    Returns:
        An :class:`Evaluation` (results, summary, reused/computed counts, layout report).

    Raises:
        LayoutError, ImageError, ImagePairError, MetricError, WeightsError, EvaluationError:
            bad input, with every value computed so far already committed to the cache.

    Example:
        >>> ev = evaluate("refs", "runs", ["psnr", "ms_ssim"])  # doctest: +SKIP
        >>> ev.summary[["codec", "setting", "bpp_agg", "psnr_agg"]]  # doctest: +SKIP
    """
    from tqdm import tqdm

    from evalkit.evaluate.engine import check_batch_size
    from evalkit.metrics import DEFAULT_METRICS, parse_metric_list
    from evalkit.metrics.devices import check_device_name

    names = parse_metric_list(list(metrics) if isinstance(metrics, (list, tuple)) else metrics,
                              DEFAULT_METRICS)
    device = check_device_name(device)
    batch_size = check_batch_size(batch_size)
    workers = DEFAULT_WORKERS if workers is None else int(workers)
    if workers < 0:
        raise EvaluationError(f"workers must be >= 0, got {workers}")
    if ray is not None:
        from evalkit.evaluate.ray_backend import require_ray

        require_ray()
    entries, report = discover_runs(refs, runs, codecs=list(codecs) if codecs else None)
    idents = {n: _metric_identity(n) for n in names}
    pair_names = [n for n in names if idents[n][0].kind == "pair"]
    set_names = [n for n in names if idents[n][0].kind == "set"]

    if cache is True:
        store: ResultCache = ResultCache(default_cache_path())
    elif cache is False or cache is None:
        store = NullCache()
    else:
        store = ResultCache(cache)
    with store:
        paths = sorted({p for e in entries for p in (e.reference, e.reconstruction)})
        sha = content_hashes(paths, workers)  # content, never path+size+mtime
        values, sizes, missing = _cached(entries, sha, store, pair_names, idents)
        reused = len(entries) - len(missing)

        bar = tqdm(total=len(missing), desc=f"evaluate ({reused} reused)", unit="img",
                   disable=not progress, dynamic_ncols=True)
        with bar:
            for row in _score_rows(entries, missing, device=device, batch_size=batch_size,
                                   workers=workers, ray=ray, ray_actors=ray_actors,
                                   idents=idents):
                e = entries[row.index]
                values[row.index].update(row.values)
                sizes[row.index] = row.size
                store.put_row(sha[e.reference], sha[e.reconstruction], row.size,
                              {n: (v, idents[n][1], idents[n][2]) for n, v in row.values.items()})
                bar.update(1)

        set_values: dict[tuple[str, str], dict[str, float]] = {}
        if set_names:
            groups: dict[tuple[str, str], list[int]] = {}
            for i, e in enumerate(entries):
                groups.setdefault((e.codec, e.setting), []).append(i)
            # Settings outer, metrics inner: each setting's images are decoded once, and metrics
            # sharing features (fid and kid) find the reconstruction features still cached.
            for (codec, setting), idx in tqdm(groups.items(), desc="set metrics", unit="setting",
                                              disable=not progress):
                pair_hashes = [(sha[entries[i].reference], sha[entries[i].reconstruction])
                               for i in idx]
                pairs = None
                for name in set_names:
                    _, version, weights = idents[name]
                    key = set_key(pair_hashes, name, version, weights)
                    value = store.get_set(key)
                    if value is None:
                        if pairs is None:
                            pairs = [p for _, p in _prefetched([entries[i] for i in idx], workers)]
                        from evalkit.metrics import build_metric
                        from evalkit.metrics.devices import resolve_device

                        metric = build_metric(name, resolve_device(device))
                        value = float(metric([p[0] for p in pairs], [p[1] for p in pairs]))
                        store.put_set(key, name, value)
                    set_values.setdefault((codec, setting), {})[name] = value

    rows = []
    for i, e in enumerate(entries):
        w, h = sizes[i]
        rows.append({"codec": e.codec, "setting": e.setting, "image": e.image, "width": w,
                     "height": h, "bytes": e.bytes, "bpp": e.bpp(w, h),
                     **{n: values[i][n] for n in pair_names}})
    results = pd.DataFrame(rows, columns=[*RESULT_COLUMNS, *pair_names])
    results["bytes"] = results["bytes"].astype("Int64")
    results = attach_timings(results, entries)  # read from the run folders, never cached
    results = attach_models(results, entries)
    verified = _weights_verified(names)
    results = attach_weights_verified(results, verified)
    summary, common = _common_summary(results, set_values)
    prov = {
        "refs": str(Path(refs).resolve()), "runs": str(Path(runs).resolve()),
        "metrics": {n: {"version": idents[n][1], "weights": idents[n][2],
                        "kind": idents[n][0].kind} for n in names},
        "device": device, "batch_size": batch_size, "ray": ray, "workers": workers,
        "codecs": list(codecs) if codecs else None,
        "cache": str(store.path) if store.path else None,
        "rows": len(entries), "reused": reused, "computed": len(missing),
        "layout_warnings": report.warnings(),
        "weights_verified": verified,
        "summary_images": common.images, "summary_dropped_images": common.dropped,
    }
    if verified is False:
        prov["note"] = STAND_IN_NOTE
    return Evaluation(results, summary, reused, len(missing), report, prov)


def write_evaluation(ev: Evaluation, out: str | Path,
                     summary_out: str | Path | None = None) -> list[Path]:
    """Write the results table to ``out`` (``.csv``/``.parquet``), the summary beside it (or to
    ``summary_out``), and a provenance sidecar ``<file>.json`` for each; returns the paths.

    All or nothing: the four files are written to temporary files first and renamed into place
    only when every one was written (a full disk leaves no half set behind)."""
    import contextlib
    import json

    from evalkit.evaluate.results import write_table_to
    from evalkit.provenance import WRITE_FAULTS, atomic_target, output_error, provenance, sidecar_path

    out = Path(out)
    summary_out = Path(summary_out) if summary_out else default_summary_path(out)
    formats = table_format(out), table_format(summary_out)  # both valid before anything is written
    record = provenance(ev.provenance, outputs={"results": str(out), "summary": str(summary_out)})
    text = json.dumps(record, indent=2, sort_keys=True, default=str) + "\n"
    paths = [out, summary_out, sidecar_path(out), sidecar_path(summary_out)]
    with contextlib.ExitStack() as stack:
        tmps = [stack.enter_context(atomic_target(p)) for p in paths]
        writers = [lambda t: write_table_to(ev.results, t, formats[0]),
                   lambda t: write_table_to(ev.summary, t, formats[1]),
                   lambda t: Path(t).write_text(text), lambda t: Path(t).write_text(text)]
        for path, tmp, write in zip(paths, tmps, writers):
            try:
                write(tmp)
            except OSError as exc:  # name the output, not its temporary file
                if exc.errno in WRITE_FAULTS:
                    raise output_error(path, exc) from None
                raise
    return paths
