"""Run the reference-major groups on a Ray cluster (``evalkit evaluate ... --ray [ADDRESS]``).

Each actor builds an :class:`~evalkit.evaluate.engine.Engine` once -- its metrics stay loaded
for every group it scores.  With GPUs in the cluster there is one actor per GPU
(``num_gpus=1``, device ``cuda``); otherwise CPU actors with 2 CPUs each (torch threads set to
match).  The driver sends only the planned groups (file paths of what the cache lacks: cached
rows never leave the driver), keeps at most two groups in flight per actor, and yields each
group's rows as soon as it comes back, so the runner commits them to the cache at once and a
killed driver resumes exactly as a local run does.

Files are read by the workers at the paths the driver sees: on a multi-node cluster the refs
and runs folders must be mounted at the same path on every node (shared filesystem).  Each
actor checks that its metric versions and weight digests equal the driver's before it scores
anything, so values computed with other weights can never enter the cache.

Ray is optional: ``pip install 'evalkit[ray]'``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence

from evalkit.errors import EvaluationError
from evalkit.evaluate.engine import ScoredRow
from evalkit.evaluate.plan import RefGroup

#: CPUs per CPU actor (torch's intra-op threads use them).
CPUS_PER_ACTOR = 2
#: Groups in flight per actor (one scoring, one queued, so an actor never waits for the driver).
IN_FLIGHT = 2
#: Environment variables passed to the workers of a local cluster (weights, caches, code).
FORWARDED_ENV = ("EVALKIT_WEIGHTS_DIR", "EVALKIT_SKIP_WEIGHT_HASH", "EVALKIT_CACHE_DIR",
                 "TORCH_HOME", "PYTHONPATH")


def require_ray():
    """The ``ray`` module, or an EvaluationError naming the extra to install."""
    try:
        import ray
    except ImportError:
        raise EvaluationError("--ray needs Ray: pip install 'evalkit[ray]'") from None
    return ray


class _Scorer:
    """The actor: one engine, built once; scores whole groups."""

    def __init__(self, device: str, batch_size: int | None, workers: int, threads: int,
                 identities: dict) -> None:
        import torch

        if threads > 0:
            torch.set_num_threads(threads)
        from evalkit.evaluate.engine import Engine
        from evalkit.evaluate.runner import _metric_identity

        for name, expected in identities.items():
            got = _metric_identity(name)[1:]
            if tuple(got) != tuple(expected):
                raise EvaluationError(f"Ray worker on {os.uname().nodename} has other weights or "
                                      f"versions for {name} than the driver: {got} vs {expected}")
        self.engine = Engine(device, batch_size=batch_size, workers=workers)

    def score(self, group: RefGroup) -> list[ScoredRow]:
        return list(self.engine.score_group(group))


def _connect(ray, address: str) -> None:
    if ray.is_initialized():
        return
    if address in ("", "local"):  # workers on this machine see the driver's settings
        env = {k: os.environ[k] for k in FORWARDED_ENV if k in os.environ}
        ray.init(runtime_env={"env_vars": env}, log_to_driver=False)
    else:  # cluster nodes keep their own weights folders (checked against the driver's)
        ray.init(address=address, log_to_driver=False)


def _actor_plan(ray, device: str, actors: int | None) -> tuple[int, dict]:
    """(number of actors, their resource options)."""
    res = ray.cluster_resources()
    gpus = int(res.get("GPU", 0))
    use_gpu = gpus > 0 and (device == "auto" or device.startswith("cuda"))
    if use_gpu:
        return (actors or gpus), {"num_gpus": 1, "num_cpus": 1}
    if device.startswith("cuda") or device == "mps":
        raise EvaluationError(f"--device {device} asked for, but the Ray cluster has no GPU")
    cpus = max(1, int(res.get("CPU", 1)))
    n = actors or max(1, cpus // CPUS_PER_ACTOR)
    return n, {"num_cpus": max(1, min(CPUS_PER_ACTOR, cpus // n))}


def score_on_ray(groups: Sequence[RefGroup], *, address: str, device: str,
                 batch_size: int | None, workers: int, actors: int | None,
                 identities: dict) -> Iterator[ScoredRow]:
    """Yield the rows of ``groups`` as Ray actors finish them (any order)."""
    ray = require_ray()
    if actors is not None and actors < 1:
        raise EvaluationError(f"Ray actors must be >= 1, got {actors}")
    _connect(ray, address)
    n, options = _actor_plan(ray, device, actors)
    n = min(n, len(groups))
    actor_device = "cuda" if "num_gpus" in options else "cpu"
    Scorer = ray.remote(**options)(_Scorer)
    pool = [Scorer.remote(actor_device, batch_size, workers, int(options["num_cpus"]),
                          identities) for _ in range(n)]
    queue = list(groups)[::-1]
    running: dict = {}

    def submit(actor) -> None:
        if queue:
            running[actor.score.remote(queue.pop())] = actor

    try:
        for actor in pool:
            for _ in range(IN_FLIGHT):
                submit(actor)
        while running:
            done, _ = ray.wait(list(running), num_returns=1)
            actor = running.pop(done[0])
            try:
                rows = ray.get(done[0])
            except ray.exceptions.RayTaskError as exc:
                cause = exc.cause if isinstance(getattr(exc, "cause", None), Exception) else None
                if cause is not None:
                    raise cause from None
                raise EvaluationError(f"Ray task failed: {str(exc).splitlines()[0]}") from None
            except ray.exceptions.RayActorError as exc:
                raise EvaluationError(f"Ray actor died: {str(exc).splitlines()[0]}") from None
            submit(actor)
            yield from rows
    finally:
        for ref in running:
            ray.cancel(ref, force=True)
        for actor in pool:
            ray.kill(actor)
