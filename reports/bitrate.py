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
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from evalkit.errors import VoteDataError

SAVING_COLUMNS = ("reference", "test", "saving_pct", "ci_low", "ci_high", "score_low",
                  "score_high", "n_reference", "n_test")


def family_of(method: str, families: dict[str, str] | None = None) -> str:
    if families and method in families:
        return families[method]
    return method.split("/", 1)[0]


@dataclass(frozen=True)
class MethodBpp:
    """Mean bpp per method, all over the same images.

    ``bpp``: method -> mean bpp; ``images``: how many images the means are over (None when
    the values came from a ``--bpp`` file, whose image set is unknown); ``dropped``: image ->
    the methods lacking it (those images were left out of every mean); ``source``: where the
    numbers come from (a sentence for the report).
    """

    bpp: pd.Series
    images: int | None
    dropped: dict[str, list[str]] = field(default_factory=dict)
    source: str = ""

    def note(self) -> str:
        if self.images is None:
            return self.source
        text = f"mean bpp over the {self.images} image(s) every ranked method has"
        if self.dropped:
            names = ", ".join(list(self.dropped)[:8]) + (" ..." if len(self.dropped) > 8 else "")
            text += f" (left out {len(self.dropped)}: {names})"
        return text


def method_bpp(results_table: pd.DataFrame, methods=None, items=None) -> MethodBpp:
    """Mean bpp per method over the images *every* method has (and, given ``items``, that
    were voted on): a mean over other images than another method's is no comparison.

    Args:
        results_table: ``method, image, bpp`` (as :func:`reports.metric_agreement.prepare_results`).
        methods: the methods to place (default: all of the table); those absent are skipped.
        items: image names the votes were on (default: all images).
    """
    t = results_table[results_table["bpp"].notna()]
    if methods is not None:
        t = t[t["method"].isin(list(methods))]
    if items is not None:
        t = t[t["image"].isin(set(map(str, items)))]
    if t.empty:
        return MethodBpp(pd.Series(dtype=float), 0, {}, "no result row matches a ranked method")
    have = t.groupby("method")["image"].agg(set)
    common = set.intersection(*have.tolist())
    dropped = {img: sorted(m for m, s in have.items() if img not in s)
               for img in sorted(set(t["image"]) - common)}
    bpp = t[t["image"].isin(common)].groupby("method")["bpp"].mean()
    return MethodBpp(bpp, len(common), dropped, "results table")


def read_bpp_file(path: str | Path) -> MethodBpp:
    """``method,bpp`` per method (e.g. mucped23's ``elo.csv``; other columns ignored)."""
    from reports.votes import read_table

    df = read_table(path)
    missing = [c for c in ("method", "bpp") if c not in df.columns]
    if missing:
        raise VoteDataError(f"{path}: a --bpp file must have columns method and bpp; missing "
                            f"{', '.join(missing)} (columns present: {', '.join(map(str, df.columns))})")
    bpp = pd.to_numeric(df["bpp"], errors="coerce")
    bad = df.loc[~(bpp > 0) | ~np.isfinite(bpp), "method"].astype(str).tolist()
    if bad:
        raise VoteDataError(f"{path}: bpp must be a positive number, got a bad value for "
                            f"{', '.join(bad[:5])}")
    methods = df["method"].astype(str).str.strip()
    dup = sorted(set(methods[methods.duplicated()]))
    if dup:
        raise VoteDataError(f"{path}: each method must appear once, got {', '.join(dup[:5])} twice")
    return MethodBpp(pd.Series(bpp.to_numpy(float), index=methods.to_numpy()), None, {},
                     f"mean bpp per method from {Path(path).name} (image set not known to "
                     "evalkit)")


def bitrate_view(res, canon: pd.DataFrame, ranking, *, bpp_file=None,
                 families: dict[str, str] | None = None, saving_pairs=None):
    """``(MethodBpp or None, savings table or None, note)`` for the report.

    The bpp of each ranked method comes from ``bpp_file`` (``method,bpp``) when given, else
    from the results table over the images every ranked method has among those voted on.
    ``note`` says why the savings table is empty (empty string when it is not).
    """
    from reports.matching import voted_result_images

    if bpp_file is not None:
        mb = bpp_file if isinstance(bpp_file, MethodBpp) else read_bpp_file(bpp_file)
    elif res is not None:
        methods = ranking.methods if ranking is not None else None
        items = voted_result_images(canon, res.table["image"].unique())
        mb = method_bpp(res.table, methods, items)
    else:
        return None, None, ""
    if ranking is None:
        return mb, None, savings_reason(None, mb.bpp, families)
    savings = family_savings(ranking, mb.bpp, families, saving_pairs)
    note = "" if len(savings) else savings_reason(ranking, mb.bpp, families)
    return mb, savings, note


def savings_reason(ranking, bpp: pd.Series, families: dict[str, str] | None = None) -> str:
    """Why :func:`family_savings` found no pair of families to compare (a sentence)."""
    if ranking is None:
        return "no ranking (there is no decided vote)"
    placed = [m for m in ranking.methods if m in bpp.index and np.isfinite(bpp[m]) and bpp[m] > 0]
    if not placed:
        return ("no ranked method has a bpp (the results table or --bpp file names none of the "
                "voted methods)")
    fam: dict[str, int] = {}
    for m in placed:
        fam[family_of(m, families)] = fam.get(family_of(m, families), 0) + 1
    items = sorted(fam.items())
    listing = ", ".join(f"{f} ({n})" for f, n in items[:6]) + (
        f" and {len(items) - 6} more" if len(items) > 6 else "")
    return ("a saving needs two codec families with at least 2 ranked methods with a bpp each; "
            f"got {listing} (group methods with --family METHOD=FAMILY)")


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
