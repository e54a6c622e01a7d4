"""Per-comparison counts, win rates with Wilson intervals, and the two-sided sign test.

Tie policies (stated in every output):

* ``"exclude"`` -- ties are reported but left out: win rate = wins / decided votes.
* ``"split"`` -- each tie counts half a win for each side: win rate = (wins + ties/2) / votes.

Columns of :func:`comparison_table` (one row per pair of methods, ``method_a`` < ``method_b``):
``method_a, method_b, votes`` (all non-golden votes on the pair, excluded included),
``included, excluded, decided, ties, wins_a, wins_b, excluded_reasons`` (dict reason -> count),
``n`` (denominator under the tie policy), ``win_rate`` (of ``method_a``), ``ci_low, ci_high,
p_value, tie_policy, level, preferred, sentence``.  Empty or all-tie comparisons get NaN rates.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats

from evalkit.errors import VoteDataError

TIE_POLICIES = ("exclude", "split")


def check_tie_policy(policy: str) -> str:
    if policy not in TIE_POLICIES:
        raise VoteDataError(f"tie policy must be one of {', '.join(TIE_POLICIES)}, got {policy!r}")
    return policy


def check_level(level: float) -> float:
    if not 0.5 <= float(level) < 1.0:
        raise VoteDataError(f"confidence level must be in [0.5, 1), got {level}")
    return float(level)


def wilson_interval(k: float, n: float, level: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a proportion ``k/n``.

    Hand-written closed form (scipy's ``binomtest(...).proportion_ci('wilson')`` gives the same
    numbers for integer counts, see the tests) because split ties give half-integer ``k``.
    """
    if n <= 0:
        return (math.nan, math.nan)
    z = stats.norm.ppf(0.5 + level / 2)
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    # In exact arithmetic the interval holds p; round-off can push a bound past p at k = 0 or
    # k = n (e.g. a lower bound of 3e-15 for 0 wins), so clamp to [0, p] and [p, 1].
    return (min(p, max(0.0, centre - half)), max(p, min(1.0, centre + half)))


def sign_test(k: float, n: float) -> float:
    """Two-sided exact binomial (sign) test of ``k`` successes in ``n`` against p = 1/2.

    A half-integer ``k`` (split ties) is rounded towards ``n/2`` first -- the conservative choice.
    """
    n_int = int(round(n))
    if n_int <= 0:
        return math.nan
    k_r = math.floor(k) if k > n / 2 else math.ceil(k)
    return float(stats.binomtest(int(k_r), n_int, 0.5, alternative="two-sided").pvalue)


def holm_adjust(p_values) -> np.ndarray:
    """Holm-Bonferroni adjusted p-values (family-wise error control, valid under any dependence).

    Hand-written: scipy offers Benjamini-Hochberg (``false_discovery_control``) but not Holm.
    NaN entries (comparisons without votes) stay NaN and do not count towards the family size.
    """
    p = np.asarray(p_values, dtype=np.float64)
    out = np.full(p.shape, np.nan)
    idx = np.flatnonzero(~np.isnan(p))
    m = len(idx)
    if m == 0:
        return out
    order = idx[np.argsort(p[idx], kind="stable")]
    stepped = np.maximum.accumulate((m - np.arange(m)) * p[order])
    out[order] = np.minimum(stepped, 1.0)
    return out


def _fmt_p(p: float) -> str:
    if math.isnan(p):
        return "n/a"
    return f"{p:.3f}" if p >= 0.001 else f"{p:.1e}"


def sentence(row: dict, level: float) -> str:
    a, b = row["method_a"], row["method_b"]
    pct = f"{round(level * 100, 2):g}%"
    excl = f"; {row['excluded']} vote(s) excluded" if row["excluded"] else ""
    if row["n"] <= 0:
        why = "all votes were ties" if row["ties"] and row["decided"] == 0 else "there are no votes"
        return (f"{a} vs {b}: no preference can be estimated because {why} "
                f"({row['ties']} tie(s){excl}).")
    wr = row["win_rate"]
    if wr >= 0.5:
        win, lose, rate, lo, hi = a, b, wr, row["ci_low"], row["ci_high"]
    else:
        win, lose, rate, lo, hi = b, a, 1 - wr, 1 - row["ci_high"], 1 - row["ci_low"]
    if row["tie_policy"] == "split":
        base = f"{row['included']} votes"
        tie_note = f"; each of the {row['ties']} tie(s) counted half for each side"
    else:
        base = f"{row['decided']} decided votes"
        tie_note = f"; {row['ties']} tie(s) not counted"
    return (f"Raters preferred {win} over {lose} in {100 * rate:.1f}% of {base} "
            f"({pct} Wilson CI {100 * lo:.1f}-{100 * hi:.1f}%; two-sided binomial sign test "
            f"p = {_fmt_p(row['p_value'])}{tie_note}{excl}).")


def count_pair(group: pd.DataFrame, tie_policy: str, level: float) -> dict:
    """Counts and statistics of the votes of one pair (``group`` from :func:`apply_policy`)."""
    kept = group[~group["excluded"]]
    reasons = group.loc[group["excluded"], "exclusion_reason"].value_counts()
    wins_a = int((kept["winner"] == "a").sum())
    wins_b = int((kept["winner"] == "b").sum())
    ties = int((kept["winner"] == "tie").sum())
    decided = wins_a + wins_b
    if tie_policy == "split":
        k, n = wins_a + ties / 2, decided + ties
    else:
        k, n = wins_a, decided
    lo, hi = wilson_interval(k, n, level)
    row = {
        "method_a": group["method_a"].iloc[0], "method_b": group["method_b"].iloc[0],
        "votes": int(len(group)), "included": int(len(kept)),
        "excluded": int(len(group) - len(kept)),
        "decided": decided, "ties": ties, "wins_a": wins_a, "wins_b": wins_b,
        "excluded_reasons": {str(r): int(c) for r, c in reasons.items()},
        "n": float(n), "win_rate": k / n if n > 0 else math.nan, "ci_low": lo, "ci_high": hi,
        "p_value": sign_test(k, n), "tie_policy": tie_policy, "level": level,
    }
    row["preferred"] = ("" if n <= 0 or row["win_rate"] == 0.5 else
                        row["method_a"] if row["win_rate"] > 0.5 else row["method_b"])
    row["sentence"] = sentence(row, level)
    return row


COMPARISON_COLUMNS = ("method_a", "method_b", "votes", "included", "excluded", "decided", "ties",
                      "wins_a", "wins_b", "excluded_reasons", "n", "win_rate", "ci_low",
                      "ci_high", "p_value", "p_holm", "tie_policy", "level", "preferred",
                      "sentence")


def comparison_table(votes: pd.DataFrame, tie_policy: str = "exclude",
                     level: float = 0.95) -> pd.DataFrame:
    """One row per pair of methods present in ``votes`` (output of :func:`apply_policy`)."""
    check_tie_policy(tie_policy)
    check_level(level)
    rows = [count_pair(g, tie_policy, level)
            for _, g in votes.groupby(["method_a", "method_b"], sort=True)]
    table = pd.DataFrame(rows, columns=list(COMPARISON_COLUMNS))
    table["p_holm"] = holm_adjust(table["p_value"].to_numpy(np.float64))
    return table


def per_item_table(votes: pd.DataFrame) -> pd.DataFrame:
    """Included votes per pair and item: ``method_a, method_b, item, wins_a, wins_b, ties``."""
    kept = votes[~votes["excluded"]]
    if kept.empty:
        return pd.DataFrame(columns=["method_a", "method_b", "item", "wins_a", "wins_b", "ties"])
    w = kept.assign(wins_a=(kept["winner"] == "a").astype(int),
                    wins_b=(kept["winner"] == "b").astype(int),
                    ties=(kept["winner"] == "tie").astype(int))
    out = w.groupby(["method_a", "method_b", "item"], sort=True)[["wins_a", "wins_b", "ties"]].sum()
    return out.reset_index()


def to_jsonable(x):
    """NaN -> None, numpy scalars -> Python, recursively (JSON has no NaN)."""
    if isinstance(x, dict):
        return {str(k): to_jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [to_jsonable(v) for v in x]
    if isinstance(x, (np.integer,)):
        return int(x)
    if isinstance(x, (float, np.floating)):
        return None if not np.isfinite(x) else float(x)
    if isinstance(x, np.bool_):
        return bool(x)
    return x
