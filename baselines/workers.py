"""Run independent encode tasks in parallel (threads or processes) with a tqdm progress bar.

Most codec libraries release the GIL while they encode (checked: libjpeg-turbo, libwebp,
libavif/aom, libjxl, libheif/x265), so threads give real parallelism without pickling; Pillow's
OpenJPEG (jpeg2000) encoder holds it, so ``executor="auto"`` uses processes when such a codec is
in the batch.  Bitstreams are identical either way.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ProcessPoolExecutor, ThreadPoolExecutor, wait
from typing import Any, TypeVar

from evalkit.errors import CodecError, EvalkitError

T = TypeVar("T")
EXECUTORS = ("auto", "thread", "process")


def default_workers() -> int:
    """One worker per available core."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - non-Linux
        return max(1, os.cpu_count() or 1)


def check_parallel(workers: int | None, executor: str, codecs: list | None = None) -> tuple[int, str]:
    """Validate ``workers``/``executor``; returns the worker count and the concrete executor.

    ``"auto"`` is ``"thread"`` unless one of ``codecs`` holds the GIL while encoding.
    """
    if executor not in EXECUTORS:
        raise CodecError(f"executor must be one of {', '.join(EXECUTORS)}, got {executor!r}")
    if workers is None:
        workers = default_workers()
    elif not isinstance(workers, int) or isinstance(workers, bool) or workers < 1:
        raise CodecError(f"workers must be a positive integer, got {workers!r}")
    if executor == "auto":
        holds_gil = any(not getattr(c, "releases_gil", True) for c in (codecs or []))
        executor = "process" if holds_gil and workers > 1 else "thread"
    return workers, executor


def run_tasks(fn: Callable[[Any], T], tasks: Sequence[Any], *, workers: int, executor: str,
              desc: str, progress: bool, describe: Callable[[Any], str] = str,
              unit: str = "task") -> Iterator[T]:
    """Yield ``fn(task)`` for every task (in completion order), with a tqdm bar (rate and ETA)
    counting ``unit`` when ``progress``.

    The first failure cancels the tasks not yet started and is re-raised: an
    :class:`EvalkitError` as is, anything else as :class:`CodecError` naming the task.
    """
    from tqdm.auto import tqdm

    bar = tqdm(total=len(tasks), desc=desc, unit=unit, disable=not progress, dynamic_ncols=True)
    try:
        if workers == 1 or len(tasks) <= 1:
            for task in tasks:
                yield _call(fn, task, describe)
                bar.update(1)
            return
        pool_cls = ThreadPoolExecutor if executor == "thread" else ProcessPoolExecutor
        with pool_cls(max_workers=workers) as pool:
            pending: dict[Future, Any] = {pool.submit(fn, t): t for t in tasks}
            try:
                while pending:
                    done, _ = wait(pending, return_when=FIRST_EXCEPTION)
                    for fut in done:
                        task = pending.pop(fut)
                        yield _result(fut, task, describe)
                        bar.update(1)
            finally:
                for fut in pending:
                    fut.cancel()
    finally:
        bar.close()


def _call(fn: Callable[[Any], T], task: Any, describe: Callable[[Any], str]) -> T:
    try:
        return fn(task)
    except EvalkitError:
        raise
    except Exception as exc:
        raise CodecError(f"{describe(task)}: {exc.__class__.__name__}: {exc}") from exc


def _result(fut: Future, task: Any, describe: Callable[[Any], str]) -> Any:
    try:
        return fut.result()
    except EvalkitError:
        raise
    except Exception as exc:
        raise CodecError(f"{describe(task)}: {exc.__class__.__name__}: {exc}") from exc
