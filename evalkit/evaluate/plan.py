"""What an evaluation still has to compute, grouped by reference image.

The runner looks every (pair, metric) up in the cache first; only what is missing enters the
plan, so cached rows are never decoded, scored or sent to a worker.  Each :class:`RefGroup`
holds one reference and every reconstruction of it that still needs a metric (all codecs and
settings), in the order the layout listed them; the engine decodes the reference once and
computes each learned metric's reference state once per group.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from evalkit.layout import RunEntry


@dataclass(frozen=True)
class Job:
    """One reconstruction to score: its row index in the layout, file and missing metrics."""

    index: int
    reconstruction: Path
    metrics: tuple[str, ...]


@dataclass(frozen=True)
class RefGroup:
    """One reference image and the jobs scored against it."""

    reference: Path
    jobs: tuple[Job, ...]

    @property
    def metrics(self) -> tuple[str, ...]:
        """Every metric some job of the group needs, in first-needed order."""
        return tuple(dict.fromkeys(m for j in self.jobs for m in j.metrics))


def plan_groups(entries: Sequence[RunEntry], missing: Mapping[int, Sequence[str]]
                ) -> list[RefGroup]:
    """Groups of the rows ``missing`` names (row index -> metrics to compute), one per
    reference, in order of first appearance; rows with nothing missing are left out."""
    groups: dict[Path, list[Job]] = {}
    for i in sorted(missing):
        names = tuple(missing[i])
        if not names:
            continue
        e = entries[i]
        groups.setdefault(e.reference, []).append(Job(i, e.reconstruction, names))
    return [RefGroup(ref, tuple(jobs)) for ref, jobs in groups.items()]
