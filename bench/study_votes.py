"""Vote submission latency with many concurrent raters, on SQLite and on PostgreSQL.

Simulates the served app: one shared VoteStore (connection pool), one thread per rater, every
rater enrols and then submits all its trials back to back (no thinking time: a worst case).
Each ``VoteStore.submit`` call is timed: it includes the trial lookup, the insert and the commit.

    .venv/bin/python bench/study_votes.py                       # SQLite only
    EVALKIT_TEST_PG_URL=postgresql://postgres@127.0.0.1:5432/evalkit_test \\
        .venv/bin/python bench/study_votes.py                   # + PostgreSQL

The PostgreSQL URL comes from --pg-url or env EVALKIT_TEST_PG_URL; skipped when absent.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from study_app.design import PlannedTrial  # noqa: E402
from study_app.store import VoteStore  # noqa: E402


def _planner(n_trials: int):
    def plan(slot: int):
        return slot, [PlannedTrial(i, f"img{i % 10}", None, "c/a", "c/b", (i + slot) % 2 == 0,
                                   i % 10 == 9) for i in range(n_trials)]
    return plan


def run(url: str, raters: int, trials: int) -> dict:
    store = VoteStore(url, pool_size=raters)
    store.create_schema()
    study = "bench" + uuid.uuid4().hex[:8]
    plan = _planner(trials)
    barrier = threading.Barrier(raters)
    latencies: list[list[float]] = [[] for _ in range(raters)]

    def rater(k: int) -> None:
        name = f"id:r{k}"
        store.enroll(study, name)
        barrier.wait()
        for t in range(trials):   # trial 0 takes a design slot: all raters race for slots
            t0 = time.perf_counter()
            store.submit(study, name, t, ("left", "right", "tie")[t % 3], session="bench",
                         first=(0, plan(0)[1][0]) if t == 0 else None, planner=plan)
            latencies[k].append(time.perf_counter() - t0)

    threads = [threading.Thread(target=rater, args=(k,)) for k in range(raters)]
    start = time.perf_counter()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    wall = time.perf_counter() - start
    stored = store.count_votes(study)
    store.dispose()
    lat = np.array([x for xs in latencies for x in xs]) * 1000
    if stored != raters * trials:
        raise SystemExit(f"LOST OR DUPLICATED VOTES: stored {stored}, submitted {raters * trials}")
    return {"votes": int(lat.size), "median_ms": float(np.median(lat)),
            "p99_ms": float(np.percentile(lat, 99)), "max_ms": float(lat.max()),
            "votes_per_s": lat.size / wall}


def delivery(repeat: int = 5) -> dict:
    """Encoding one trial's three 768x512 images: unlinkable PNGs vs a plain Pillow PNG."""

    from PIL import Image
    from skimage import data

    from study_app.delivery import unlinkable_pngs

    im = np.asarray(Image.fromarray(data.astronaut()).resize((768, 512)))
    trio = [im, im, np.ascontiguousarray(im[::-1])]
    out = {}
    for name, enc in (("unlinkable", lambda: unlinkable_pngs(trio)),
                      ("pillow level 1", lambda: [_pil(x) for x in trio])):
        times = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            pngs = enc()
            times.append(time.perf_counter() - t0)
        out[name] = (float(np.median(times)) * 1000, sum(len(p) for p in pngs))
    return out


def _pil(px) -> bytes:
    import io

    from PIL import Image
    buf = io.BytesIO()
    Image.fromarray(px).save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--raters", type=int, default=50)
    ap.add_argument("--trials", type=int, default=40, help="votes per rater")
    ap.add_argument("--pg-url", default=os.environ.get("EVALKIT_TEST_PG_URL"))
    args = ap.parse_args()
    print(f"{args.raters} concurrent raters x {args.trials} votes, one shared store "
          f"(cpus: {os.cpu_count()})")
    with tempfile.TemporaryDirectory() as tmp:
        backends = [("sqlite (WAL)", f"sqlite:///{Path(tmp) / 'bench.sqlite'}")]
        if args.pg_url:
            backends.append(("postgresql", args.pg_url))
        else:
            print("postgresql: skipped (no --pg-url / EVALKIT_TEST_PG_URL)")
        for name, url in backends:
            r = run(url, args.raters, args.trials)
            print(f"{name:13s} votes={r['votes']}  median={r['median_ms']:.1f} ms  "
                  f"p99={r['p99_ms']:.1f} ms  max={r['max_ms']:.1f} ms  "
                  f"throughput={r['votes_per_s']:.0f} votes/s  (all stored once)")
    print("stimulus delivery, one trial (3 x 768x512 PNG), median of 5, same run:")
    for name, (ms, size) in delivery().items():
        print(f"  {name:15s} {ms:7.1f} ms  {size / 1e6:.2f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
