"""Rater quality and inter-rater agreement.

:func:`rater_table` columns: ``rater, votes`` (non-golden, answered or not), ``included``
(votes that count), ``excluded_reason`` (why the rater's votes are dropped, empty when kept),
``golden, golden_failed, tie_rate, median_duration_s, mean_duration_s, triads, circular_triads,
circular_rate``.

Consistency: for each rater and item, the rater's majority preference on each pair of methods
forms a tournament; a triple of methods that was fully judged is *circular* when the preferences
go round (A > B > C > A).  ``triads`` counts fully judged triples, ``circular_rate`` =
circular / triads (NaN where no triple was fully judged -- "where applicable").

Inter-rater agreement: Krippendorff's alpha (nominal; values a / b / tie) over units = (item, pair
of methods), coders = raters, computed by the ``krippendorff`` package.  A rater's repeated votes
on one unit are reduced to their most frequent answer (first on ties).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

CODES = {"a": 0.0, "b": 1.0, "tie": 2.0}


def circular_triads(votes: pd.DataFrame) -> tuple[int, int]:
    """``(fully judged triples, circular triples)`` of one rater's included votes, per item."""
    triads = circular = 0
    decided = votes[votes["winner"].isin(["a", "b"])]
    for _, g in decided.groupby("item", sort=False):
        methods = sorted(set(g["method_a"]) | set(g["method_b"]))
        n = len(methods)
        if n < 3:
            continue
        pos = {m: k for k, m in enumerate(methods)}
        ia, ib = g["method_a"].map(pos).to_numpy(), g["method_b"].map(pos).to_numpy()
        s = np.where(g["winner"].to_numpy() == "a", 1.0, -1.0)
        net = np.zeros((n, n))
        np.add.at(net, (ia, ib), s)
        net = net - net.T                      # net[i, j] > 0: i preferred to j
        beats = (net > 0).astype(float)
        judged = ((net != 0)).astype(float)    # pairs with a majority preference
        triads += int(round(np.trace(judged @ judged @ judged) / 6))
        circular += int(round(np.trace(beats @ beats @ beats) / 3))
    return triads, circular


def rater_table(all_votes: pd.DataFrame, policed: pd.DataFrame) -> pd.DataFrame:
    """Per-rater view. ``all_votes``: canonical votes (golden included); ``policed``: the
    non-golden votes with exclusion columns (:func:`reports.exclusion.apply_policy`)."""
    rows = []
    golden = all_votes[all_votes["is_golden"]]
    for rater, g in policed.groupby("rater", sort=True):
        kept = g[~g["excluded"]]
        gold = golden[golden["rater"] == rater]
        reasons = g.loc[g["excluded"], "exclusion_reason"]
        rater_reason = ""
        if len(reasons) == len(g) and len(g):
            rater_reason = str(reasons.iloc[0]) if reasons.nunique() == 1 else "; ".join(
                sorted(reasons.unique()))
        tri, circ = circular_triads(kept)
        dur = pd.concat([g["duration_s"], gold["duration_s"]]).dropna()
        rows.append({
            "rater": rater, "votes": int(len(g)), "included": int(len(kept)),
            "excluded_reason": rater_reason,
            "golden": int(len(gold)), "golden_failed": int(gold["golden_failed"].sum()),
            "tie_rate": float((g["winner"] == "tie").mean()) if len(g) else math.nan,
            "median_duration_s": float(dur.median()) if len(dur) else math.nan,
            "mean_duration_s": float(dur.mean()) if len(dur) else math.nan,
            "triads": tri, "circular_triads": circ,
            "circular_rate": circ / tri if tri else math.nan,
        })
    # raters who only answered golden questions still deserve a row
    for rater in sorted(set(golden["rater"]) - set(policed["rater"])):
        gold = golden[golden["rater"] == rater]
        dur = gold["duration_s"].dropna()
        rows.append({"rater": rater, "votes": 0, "included": 0, "excluded_reason": "",
                     "golden": int(len(gold)), "golden_failed": int(gold["golden_failed"].sum()),
                     "tie_rate": math.nan,
                     "median_duration_s": float(dur.median()) if len(dur) else math.nan,
                     "mean_duration_s": float(dur.mean()) if len(dur) else math.nan,
                     "triads": 0, "circular_triads": 0, "circular_rate": math.nan})
    cols = ["rater", "votes", "included", "excluded_reason", "golden", "golden_failed",
            "tie_rate", "median_duration_s", "mean_duration_s", "triads", "circular_triads",
            "circular_rate"]
    return pd.DataFrame(rows, columns=cols)


def reliability_matrix(votes: pd.DataFrame) -> tuple[np.ndarray, list[str]]:
    """``(raters x units)`` matrix of codes (a=0, b=1, tie=2, NaN = not rated) of the included,
    answered votes; units = (item, method_a, method_b)."""
    kept = votes[~votes["excluded"] & votes["winner"].isin(list(CODES))]
    if kept.empty:
        return np.empty((0, 0)), []
    # per (rater, unit): most frequent answer, first one on ties
    keys = ["rater", "item", "method_a", "method_b"]
    cnt = kept.groupby(keys + ["winner"], sort=False).size().reset_index(name="n")
    # groups come in order of first appearance; a stable sort keeps the first on equal counts
    modal = (cnt.sort_values("n", ascending=False, kind="stable").drop_duplicates(keys)
             .set_index(keys)["winner"])
    table = modal.map(CODES).unstack(["item", "method_a", "method_b"])
    return table.to_numpy(dtype=float), list(table.index)


def krippendorff_alpha(votes: pd.DataFrame) -> dict:
    """``{"alpha", "raters", "units", "pairable_units", "note"}``; alpha is NaN (with a note) when
    fewer than two raters judged a common unit."""
    import krippendorff

    kept = votes[~votes["excluded"]]
    if kept["rater"].nunique() < 2:
        return {"alpha": math.nan, "raters": int(kept["rater"].nunique()),
                "units": int(kept.groupby(["item", "method_a", "method_b"]).ngroups),
                "pairable_units": 0,
                "note": "not applicable: needs two raters judging the same image and pair"}
    data, raters = reliability_matrix(votes)
    if data.size == 0:
        return {"alpha": math.nan, "raters": 0, "units": 0, "pairable_units": 0,
                "note": "no included votes"}
    per_unit = (~np.isnan(data)).sum(axis=0)
    pairable = int((per_unit >= 2).sum())
    out = {"alpha": math.nan, "raters": len(raters), "units": int(data.shape[1]),
           "pairable_units": pairable, "note": ""}
    if len(raters) < 2 or pairable == 0:
        out["note"] = "not applicable: needs two raters judging the same image and pair"
        return out
    values = np.unique(data[~np.isnan(data)])
    if values.size < 2:
        out["note"] = "not defined: every rater gave the same answer everywhere"
        return out
    out["alpha"] = float(krippendorff.alpha(reliability_data=data,
                                            level_of_measurement="nominal"))
    return out
