"""PIM's work as parallel jobs on ``torch.get_num_threads()`` worker threads: the tiles of the
per-level CNNs (:func:`run_levels`) and whole reconstructions (:func:`map_jobs`).

Each job is one tile of one level (its input region grown by the CNN's halo, see
:meth:`evalkit.pim.model.PIMNet.level_features`) pushed through that level's NNPACK plan
(:func:`evalkit.pim.conv.cnn_plan`) single-threaded; the workers run jobs in parallel, largest
first.  Why not NNPACK's own thread pool: it synchronises its threads several times per
convolution (input transform, products, output transform), which on PIM's small levels and
tiles is a large share of the work, and on a shared machine (other processes on the same cores)
a thread waiting at such a barrier while its partner is descheduled stalls the whole
convolution; independent jobs only meet at the end of the image.  The job inputs are cropped and
the outputs assembled on the calling thread, so worker threads run no PyTorch operator (no
OpenMP teams of their own).  Values are those of the sequential path: the same convolutions on
the same inputs.
"""

from __future__ import annotations

import os
import queue
from concurrent.futures import ThreadPoolExecutor

import torch

from evalkit.pim import nnpack

_executors: dict[tuple[int, int], ThreadPoolExecutor] = {}


def _executor(workers: int) -> ThreadPoolExecutor:
    key = (os.getpid(), workers)  # a pool's threads do not survive fork
    if key not in _executors:
        _executors[key] = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="evalkit-pim")
    return _executors[key]


def spans(size: int, tile: int) -> list[tuple[int, int]]:
    """``size`` split into ceil(size / tile) nearly equal ``(start, stop)`` spans."""
    count = max(1, -(-size // tile))
    bounds = [round(k * size / count) for k in range(count + 1)]
    return list(zip(bounds[:-1], bounds[1:]))


def tile_jobs(h: int, w: int, tile: int, halo: int):
    """Per tile: the output span ``(r0, r1, c0, c1)`` and its input region ``(a0, a1, b0, b1)``
    (grown by ``halo``, clipped at the border); one whole-level job when it fits a tile."""
    jobs = []
    for r0, r1 in spans(h, tile):
        for c0, c1 in spans(w, tile):
            region = (max(r0 - halo, 0), min(r1 + halo, h), max(c0 - halo, 0), min(c1 + halo, w))
            jobs.append(((r0, r1, c0, c1), region))
    return jobs


def _run(plan: list, x: torch.Tensor, free: queue.SimpleQueue) -> torch.Tensor:
    bufs = free.get()  # one buffer set per worker, released with the queue after the image
    try:
        return nnpack.run_plan(plan, x, threaded=False, bufs=bufs)
    finally:
        free.put(bufs)


def run_levels(plans: list[list], levels: list[torch.Tensor], halo: int, tile: int,
               out_channels: int, workers: int) -> list[torch.Tensor]:
    """Every level ``levels[i]`` (N, C, h, w) through ``plans[i]`` in tiles, in parallel
    (largest tiles first; a tile's input is cut when it is submitted and its output placed as
    soon as it is the oldest job, so at most ``2 * workers`` tiles are in flight).  The NNPACK
    workspaces and activation buffers (~100 MB per worker) live only while the image does."""
    outs = [lv.new_empty((lv.shape[0], out_channels, *lv.shape[2:])) for lv in levels]
    jobs = [(i, n, span, region) for i, lv in enumerate(levels) for n in range(lv.shape[0])
            for span, region in tile_jobs(lv.shape[2], lv.shape[3], tile, halo)]
    jobs.sort(key=lambda j: -(j[3][1] - j[3][0]) * (j[3][3] - j[3][2]))  # balanced workers
    pool, pending, free = _executor(workers), [], queue.SimpleQueue()
    for _ in range(workers):
        free.put({})

    def place(i, n, span, region, fut):
        (r0, r1, c0, c1), (a0, _, b0, _) = span, region
        outs[i][n:n + 1, :, r0:r1, c0:c1] = fut.result()[:, :, r0 - a0:r1 - a0, c0 - b0:c1 - b0]

    for i, n, span, (a0, a1, b0, b1) in jobs:
        if len(pending) == 2 * workers:
            place(*pending.pop(0))
        x = levels[i][n:n + 1, :, a0:a1, b0:b1].contiguous()
        pending.append((i, n, span, (a0, a1, b0, b1), pool.submit(_run, plans[i], x, free)))
    for item in pending:
        place(*item)
    return outs


def map_jobs(fn, items: list, workers: int, prepare=None) -> list:
    """``[fn(prepare(item)) for item in items]`` with ``fn`` run on ``workers`` threads, each job
    single-threaded (:func:`evalkit.pim.nnpack.single_threaded`: PyTorch operators and NNPACK on
    the job's thread only), so parallel jobs never wait for each other inside an operator.
    ``prepare`` runs on the calling thread, just before its job is submitted; at most
    ``workers`` jobs are in flight (memory stays that of ``workers`` items)."""
    prepare = prepare or (lambda item: item)
    if nnpack.in_job() or workers <= 1:
        return [fn(prepare(item)) for item in items]
    restore = torch.get_num_threads()
    grad, inference = torch.is_grad_enabled(), torch.is_inference_mode_enabled()

    def job(arg):  # autograd modes are per thread: the caller's apply to its jobs
        with nnpack.single_threaded(restore), torch.inference_mode(inference), torch.set_grad_enabled(grad):
            return fn(arg)

    pool, pending, results = _executor(workers), [], []
    for item in items:
        if len(pending) == workers:
            results.append(pending.pop(0).result())
        pending.append(pool.submit(job, prepare(item)))
    return results + [f.result() for f in pending]
