"""Worker run in separate processes by the store concurrency tests."""

from __future__ import annotations

import time
from pathlib import Path


def submit_all(url: str, study: str, raters: list[str], n_trials: int, repeat: int,
               barrier_dir: str | None = None) -> int:
    """Submit every trial of ``raters`` ``repeat`` times; return how many were stored.

    With ``barrier_dir``: connect, write ``ready-<pid>``, then wait for ``go`` so that all
    processes hit the database at the same time.
    """
    import os

    from study_app.store import VoteStore

    store = VoteStore(url, pool_size=2)
    store.count_votes(study)                       # connect before the start signal
    if barrier_dir:
        Path(barrier_dir, f"ready-{os.getpid()}").touch()
        deadline = time.time() + 120
        while not Path(barrier_dir, "go").exists() and time.time() < deadline:
            time.sleep(0.01)
    stored = 0
    try:
        for _ in range(repeat):
            for r in raters:
                for t in range(n_trials):
                    side = ("left", "right", "tie")[(t + len(r)) % 3]
                    stored += store.submit(study, r, t, side, session="proc").stored
    finally:
        store.dispose()
    return stored
