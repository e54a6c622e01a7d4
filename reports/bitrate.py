"""Ranking vs bitrate: each method's mean bpp, codec families, bitrate saving at equal score.

A method ``codec/setting`` belongs to family ``codec`` unless a ``families`` mapping says
otherwise.  The saving of family B against reference family A at equal score is a BD-rate-style
average over the overlapping score range: ``exp(mean over s of [log bpp_B(s) - log bpp_A(s)]) - 1``
with each family's log-bpp interpolated piecewise-linearly as a function of score (points sorted
by score).  Negative = B needs fewer bits for the same human score.  Its CI comes from the same
bootstrap replicates as the ranking.  Hand-written (rather than the ``bjontegaard`` package)
because it runs once per bootstrap replicate and the quality axis is a preference score.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd

SAVING_COLUMNS = ("reference", "test", "saving_pct", "ci_low", "ci_high", "score_low",
                  "score_high", "n_reference", "n_test")


def family_of(method: str, families: dict[str, str] | None = None) -> str:
    if families and method in families:
        return families[method]
    return method.split("/", 1)[0]


def method_bpp(results_table: pd.DataFrame) -> pd.Series:
    """Mean bpp per method over the images of the results table."""
    return results_table.groupby("method")["bpp"].mean()


def saving_pct(bpp_ref, score_ref, bpp_test, score_test, grid: int = 100) -> tuple[float, float,
                                                                                   float]:
    """``(saving %, score_low, score_high)``; NaN when the score ranges do not overlap or a
    family has fewer than two points."""
    if len(bpp_ref) < 2 or len(bpp_test) < 2:
        return (np.nan, np.nan, np.nan)
    lo = max(np.min(score_ref), np.min(score_test))
    hi = min(np.max(score_ref), np.max(score_test))
    if not hi > lo:
        return (np.nan, np.nan, np.nan)
    s = np.linspace(lo, hi, grid)
    oa, ob = np.argsort(score_ref), np.argsort(score_test)
    la = np.interp(s, np.asarray(score_ref)[oa], np.log(np.asarray(bpp_ref)[oa]))
    lb = np.interp(s, np.asarray(score_test)[ob], np.log(np.asarray(bpp_test)[ob]))
    return (float(np.expm1(np.mean(lb - la)) * 100), float(lo), float(hi))


def family_savings(ranking, bpp: pd.Series, families: dict[str, str] | None = None,
                   pairs: list[tuple[str, str]] | None = None) -> pd.DataFrame:
    """Savings between every pair of families with >= 2 ranked methods with a bpp (or the given
    ``(reference, test)`` pairs), with bootstrap CIs at the ranking's level."""
    methods = [m for m in ranking.methods if m in bpp.index and np.isfinite(bpp[m]) and bpp[m] > 0]
    fam: dict[str, list[int]] = {}
    for m in methods:
        fam.setdefault(family_of(m, families), []).append(ranking.methods.index(m))
    if pairs is None:
        pairs = [(a, b) for a, b in itertools.combinations(sorted(fam), 2)
                 if len(fam[a]) >= 2 and len(fam[b]) >= 2]
    rows = []
    alpha = (1 - ranking.level) / 2
    for ref, test in pairs:
        ia, ib = fam.get(ref, []), fam.get(test, [])
        ba = bpp[[ranking.methods[i] for i in ia]].to_numpy(float)
        bb = bpp[[ranking.methods[i] for i in ib]].to_numpy(float)
        est, lo_s, hi_s = saving_pct(ba, ranking.estimate[ia], bb, ranking.estimate[ib])
        reps = np.array([saving_pct(ba, r[ia], bb, r[ib])[0] for r in ranking.replicates])
        reps = reps[np.isfinite(reps)]
        ci = np.quantile(reps, [alpha, 1 - alpha]) if reps.size else (np.nan, np.nan)
        rows.append({"reference": ref, "test": test, "saving_pct": est, "ci_low": ci[0],
                     "ci_high": ci[1], "score_low": lo_s, "score_high": hi_s,
                     "n_reference": len(ia), "n_test": len(ib)})
    return pd.DataFrame(rows, columns=list(SAVING_COLUMNS))
