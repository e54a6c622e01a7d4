"""Worker run in separate processes by the store concurrency tests (spawn-safe, top level)."""

from __future__ import annotations


def submit_all(url: str, study: str, raters: list[str], n_trials: int, repeat: int) -> int:
    """Submit every trial of ``raters`` ``repeat`` times; return how many were stored."""
    from study_app.store import VoteStore

    store = VoteStore(url, pool_size=2)
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
