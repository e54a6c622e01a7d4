"""The reference-major engine: score every reconstruction of one reference at a time.

For each :class:`~evalkit.evaluate.plan.RefGroup` the reference and its reconstructions are
decoded once (reconstructions in ``workers`` threads), moved to the device once as uint8, and
then, metric by metric, the metric's reference state is computed once
(:mod:`evalkit.metrics.two_stage`) and the reconstructions are scored in batches of
``batch_size``.  Only one metric's reference state is alive at a time and it is released
before the next metric and the next reference, so peak memory is bounded by one reference's
state plus one batch.  Values leave the device only as the final scalars.

A row is yielded as soon as its last missing metric is scored, so the caller commits it to the
cache at once; a decode error names the file and stops before that group scores anything.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from evalkit.errors import EvaluationError
from evalkit.evaluate.plan import Job, RefGroup

#: Largest batch when ``batch_size`` is not given; smaller for large images (see below).
DEFAULT_BATCH_SIZE = 8
#: Pixels per batch when ``batch_size`` is not given: 4 MP keeps a batch of VGG activations
#: around a gigabyte (Kodak: 8 images per batch; 2048x1365: 1).
AUTO_BATCH_PIXELS = 4_000_000
#: Metrics that bound their own forward memory (LPIPS, DISTS: ``batch_pixels``,
#: :mod:`evalkit.metrics.tiled`) get larger calls -- up to this many input pixels (float32:
#: 290 MB) and :data:`MAX_CALL` images -- so a reference cut into crops is recomputed once per
#: call, not once per forward-sized batch (2048x1365: 8 reconstructions per call).
SUB_BATCHED_CALL_PIXELS = 24_000_000
MAX_CALL = 32


@dataclass(frozen=True)
class ScoredRow:
    """One finished row: layout index, reference ``(width, height)`` and ``{metric: value}``."""

    index: int
    size: tuple[int, int]
    values: dict[str, float]


def batch_size_for(pixels: int, batch_size: int | None, sub_batched: bool = False) -> int:
    """``batch_size`` when given, else as many images as fit in :data:`AUTO_BATCH_PIXELS`
    (:data:`SUB_BATCHED_CALL_PIXELS` for a metric that splits a call itself)."""
    if batch_size is not None:
        return batch_size
    if sub_batched:
        return max(1, min(MAX_CALL, SUB_BATCHED_CALL_PIXELS // max(pixels, 1)))
    return max(1, min(DEFAULT_BATCH_SIZE, AUTO_BATCH_PIXELS // max(pixels, 1)))


def check_batch_size(batch_size: int | None) -> int | None:
    if batch_size is None:
        return None
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise EvaluationError(f"batch size must be a positive integer, got {batch_size!r}")
    return batch_size


class Engine:
    """Metrics built once on one device; :meth:`score_group` scores a reference group.

    Args:
        device: ``auto``, ``cpu``, ``cuda``, ``cuda:N`` or ``mps``.
        batch_size: reconstructions per batch (None: by image size, see :func:`batch_size_for`).
        workers: decode threads (0: decode in the calling thread).
    """

    def __init__(self, device: str = "auto", batch_size: int | None = None,
                 workers: int = 1) -> None:
        from evalkit.metrics.devices import resolve_device

        self.device = resolve_device(device)
        self.batch_size = check_batch_size(batch_size)
        self.workers = int(workers)

    def metric(self, name: str) -> Any:
        from evalkit.metrics import build_metric

        return build_metric(name, self.device)

    def _decode(self, group: RefGroup):
        from evalkit.images import check_pair, read_image

        ref = read_image(group.reference)
        paths = [j.reconstruction for j in group.jobs]
        if self.workers > 0 and len(paths) > 1:
            with ThreadPoolExecutor(max_workers=self.workers) as pool:
                dists = list(pool.map(read_image, paths))
        else:
            dists = [read_image(p) for p in paths]
        for d in dists:
            check_pair(ref, d)
        return ref, dists

    def score_group(self, group: RefGroup) -> Iterator[ScoredRow]:
        """Yield a :class:`ScoredRow` for every job of ``group`` once its metrics are done."""
        import torch

        from evalkit.metrics import two_stage
        from evalkit.metrics.tensors import uint8_to_float

        ref, dists = self._decode(group)
        h, w = ref.pixels.shape[:2]
        size = (int(w), int(h))
        with torch.no_grad():
            ref_u8 = torch.from_numpy(ref.pixels).to(self.device)
            dist_u8 = {j.index: torch.from_numpy(d.pixels).to(self.device)
                       for j, d in zip(group.jobs, dists)}
            del ref, dists
            values: dict[int, dict[str, float]] = {j.index: {} for j in group.jobs}
            left = {j.index: len(j.metrics) for j in group.jobs}
            for name in group.metrics:
                metric = self.metric(name)
                step = batch_size_for(h * w, self.batch_size,
                                      sub_batched=hasattr(metric, "batch_pixels"))
                # PSNR scores the uint8 pixels directly (no float copies of either side)
                on_uint8 = hasattr(metric, "from_uint8")
                state = None if on_uint8 else \
                    two_stage.prepare_reference(metric, uint8_to_float(ref_u8[None]))
                todo: Sequence[Job] = [j for j in group.jobs if name in j.metrics]
                for start in range(0, len(todo), step):
                    batch = todo[start:start + step]
                    x = torch.stack([dist_u8[j.index] for j in batch])
                    scores = metric.from_uint8(ref_u8[None], x) if on_uint8 else \
                        two_stage.score_batch(metric, state, uint8_to_float(x))
                    del x
                    for job, v in zip(batch, scores.detach().to("cpu", torch.float64).tolist()):
                        values[job.index][name] = float(v)
                        left[job.index] -= 1
                        if left[job.index] == 0:
                            yield ScoredRow(job.index, size, values.pop(job.index))
                del state
