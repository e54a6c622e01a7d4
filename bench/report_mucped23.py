"""Benchmark: the full `evalkit report` on the real mucped23 votes, against the published Elo.

Data: ../shared/datasets/mucped23/ (answers.csv, elo.csv; see its SOURCE.md).  The answer letter
names the option NOT chosen, hence answer_a="B", answer_b="A".  Prints the time to build the full
report with 1,000 bootstrap resamples and how the Bradley-Terry (Elo-scale) ranking compares with
the published Elo (Spearman, Kendall, mean |difference| after aligning offsets, per method).

    .venv/bin/python bench/report_mucped23.py [--out DIR] [--bootstrap 1000]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "datasets" / "mucped23"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(DATA))
    ap.add_argument("--out", default=None, help="report directory (default: a temp dir)")
    ap.add_argument("--bootstrap", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    data = Path(args.data)
    if not (data / "answers.csv").is_file() or not (data / "elo.csv").is_file():
        print(f"skipped: mucped23 not found in {data}")
        return 0

    from reports.build import build_report
    from reports.votes import ColumnMapping

    elo = pd.read_csv(data / "elo.csv")
    # The published per-method mean bpp (elo.csv) stands in for an `evalkit evaluate` table:
    # one row per method, image "(published mean)"; families from elo.csv's label column.
    results = pd.DataFrame({"method": elo["method"], "image": "(published mean)",
                            "bpp": elo["bpp"]})
    families = dict(zip(elo["method"], elo["label"]))
    out = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="mucped23-report-"))
    t0 = time.perf_counter()
    rep = build_report(data / "answers.csv", out,
                       mapping=ColumnMapping(answer_a="B", answer_b="A"), results=results,
                       n_boot=args.bootstrap, seed=args.seed, families=families,
                       title="mucped23 (Versari et al.) re-analysed with evalkit")
    dt = time.perf_counter() - t0

    t1 = time.perf_counter()
    from reports.exclusion import ExclusionPolicy, apply_policy
    from reports.ranking import rank_methods
    from reports.votes import load_votes
    v = apply_policy(load_votes(data / "answers.csv", ColumnMapping(answer_a="B", answer_b="A")),
                     ExclusionPolicy())
    rank_methods(v, n_boot=args.bootstrap, seed=args.seed)
    dt_rank = time.perf_counter() - t1

    r = rep.ranking
    ours = r.table.set_index("method")
    m = elo.set_index("method").join(ours, how="inner")
    offset = (m["elo"] - m["score"]).mean()
    m["aligned"] = m["score"] + offset
    m["diff"] = m["aligned"] - m["elo"]
    rho = stats.spearmanr(m["score"], m["elo"]).statistic
    tau = stats.kendalltau(m["score"], m["elo"]).statistic
    q99 = np.quantile(r.replicates, [0.005, 0.995], axis=0)
    w99 = dict(zip(r.methods, q99[1] - q99[0]))
    m["our_w99"] = [w99[k] for k in m.index]
    m["pub_w99"] = m["p99Hi"] - m["p99Low"]

    c = rep.summary["counts"]
    print(f"votes {c['votes']}, methods {c['methods']}, items {c['items']}, "
          f"comparisons {c['comparisons']}; report files {len(rep.files)} in {out}")
    print(f"full report ({args.bootstrap} bootstrap resamples of {r.resampled}): {dt:.2f} s "
          f"wall; load+ranking+bootstrap alone: {dt_rank:.2f} s")
    print(f"vs published Elo ({len(m)} methods): Spearman {rho:.4f}, Kendall {tau:.4f}, "
          f"mean |diff| after aligning offsets {m['diff'].abs().mean():.1f} Elo "
          f"(max {m['diff'].abs().max():.1f}); score range ours {np.ptp(m['score']):.0f} vs "
          f"published {np.ptp(m['elo']):.0f}")
    print(f"mean 99% interval width: ours {m['our_w99'].mean():.1f}, published "
          f"{m['pub_w99'].mean():.1f} Elo")
    if rep.agreement is not None and len(rep.summary.get("metric_agreement") or []):
        pass
    sav = pd.read_csv(out / "bitrate_savings.csv") if (out / "bitrate_savings.csv").exists() \
        else pd.DataFrame()
    if len(sav):
        print("bitrate saving at equal Elo (test vs reference, 95% bootstrap CI):")
        for s in sav.itertuples():
            print(f"  {s.test:>22} vs {s.reference:<22} {s.saving_pct:+6.1f}% "
                  f"[{s.ci_low:+.1f}, {s.ci_high:+.1f}]")
    print()
    cols = ["elo", "aligned", "diff", "ci_low", "ci_high", "p99Low", "p99Hi", "n_votes"]
    shown = m.sort_values("elo", ascending=False)[cols].copy()
    shown[["ci_low", "ci_high"]] += offset
    with pd.option_context("display.width", 160, "display.max_rows", 100):
        print(shown.round(1).to_string())
    return 0


if __name__ == "__main__":
    sys.exit(main())
