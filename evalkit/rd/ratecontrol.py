"""Rate control over a dataset (Tucodec, CLIC 2019, Eq. 7): one setting per image, exactly.

Budget mode -- maximise an aggregate quality subject to ``sum_i bytes_i * 8 <= budget_bpp *
sum_i pixels_i``.  Every supported objective is a sum over images of a per-choice value, so the
problem is a multiple-choice knapsack:

* ``psnr_agg``: maximising the pooled PSNR == minimising the pooled squared error
  ``sum_i mse_i * pixels_i`` (PSNR is monotone in the pooled MSE);
* ``ms_ssim_agg``: maximising ``sum_i ms_ssim_i * pixels_i``;
* any other metric column ``m``: optimising its mean over images (direction from the registry).

Solvers (both exact):

* ``"dp"``: dynamic programming over integer bytes, ``best[b]`` = best objective using at most
  ``b`` bytes, one image at a time; O(images x options x budget) vectorised with numpy, with the
  choice table kept for back-tracking.  Used when ``images x (budget+1)`` fits in
  :data:`DP_MAX_CELLS`.
* ``"milp"``: a 0/1 integer program solved by HiGHS (``scipy.optimize.milp``) with zero relative
  gap -- branch and bound proves optimality (up to HiGHS's absolute gap of 1e-6 in per-pixel
  units, i.e. < 1e-8 dB); used for budgets too large for the DP table.

Dominated options (no fewer bytes and no better value than another option of the same image)
are dropped first; that never changes the optimum.

Transparent mode -- the fewest total bytes such that ``psnr_agg >= T`` and/or
``ms_ssim_agg >= U``: both constraints are linear in the choices (pooled MSE <= the MSE of T dB;
pixel-weighted MS-SSIM sum >= U * pixels), so it is a 0/1 program solved exactly by HiGHS; the
achieved aggregates are recomputed from the chosen rows and checked against the targets.
HiGHS tolerates constraint violations of about 1e-6, so the targets are tightened by twice
:data:`_MILP_TOL` (2e-6 of the pooled MSE, relative, i.e. ~9e-6 dB, and 2e-6 of MS-SSIM): a
choice that meets a target by less than that margin is treated as not meeting it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from evalkit.errors import RateControlError
from evalkit.evaluate.aggregates import mse_from_psnr, pixel_weighted_mean, pooled_psnr

#: Largest DP table (images x budget cells, 1 byte each) before switching to the MILP solver.
DP_MAX_CELLS = 20_000_000
#: HiGHS's constraint tolerance (relative pooled MSE / absolute MS-SSIM): it accepts violations
#: up to ~1e-6, so transparent-mode targets are tightened by twice this much.
_MILP_TOL = 1e-6


@dataclass(frozen=True)
class RateControlResult:
    """The chosen setting per image and what it achieves.

    ``choices`` has columns ``image, setting, bytes, bpp, <metrics>``; ``feasible`` is False
    (and ``choices`` empty, ``message`` saying why) when no choice meets the budget or targets.
    ``objective_value`` is the achieved objective (``psnr_agg``, ``ms_ssim_agg``, the mean of
    the metric, or total bytes in transparent mode).
    """

    feasible: bool
    choices: pd.DataFrame
    total_bytes: int
    bpp_agg: float
    psnr_agg: float
    ms_ssim_agg: float
    objective: str
    solver: str
    message: str = ""
    objective_value: float = math.nan


def _options(results: pd.DataFrame, codec: str, need: list[str]) -> pd.DataFrame:
    if codec not in set(results["codec"]):
        raise RateControlError(f"codec must be in the results, got {codec!r}; "
                               f"available: {', '.join(sorted(set(results['codec'])))}")
    df = results[results["codec"] == codec].copy()
    for col in need:
        if col not in df.columns:
            raise RateControlError(f"results must have a {col!r} column for this objective")
        vals = df[col].astype(np.float64)
        if vals.isna().any() or (np.isinf(vals) & ~((col == "psnr") & (vals > 0))).any():
            raise RateControlError(f"{col} must be a finite number in every row of {codec!r}")
    if df.groupby("image").size().max() > np.iinfo(np.int16).max:
        raise RateControlError("at most 32767 settings per image are supported")
    if df["bytes"].isna().any():
        bad = df[df["bytes"].isna()][["setting", "image"]].astype(str).agg("/".join, axis=1)
        raise RateControlError(f"bytes must be known for every row; missing for {', '.join(bad)}")
    df["pixels"] = df["width"].astype(np.int64) * df["height"].astype(np.int64)
    df["bytes"] = df["bytes"].astype(np.int64)
    return df.sort_values(["image", "bytes"]).reset_index(drop=True)


def _gain(df: pd.DataFrame, objective: str) -> np.ndarray:
    """Per-row value to MAXIMISE whose sum is monotone in the objective."""
    if objective == "psnr_agg":
        return -mse_from_psnr(df["psnr"]) * df["pixels"].to_numpy(np.float64)
    if objective == "ms_ssim_agg":
        return df["ms_ssim"].to_numpy(np.float64) * df["pixels"].to_numpy(np.float64)
    from evalkit.metrics import higher_is_better

    vals = df[objective].to_numpy(np.float64)
    return vals if higher_is_better(objective) else -vals


def _prune(df: pd.DataFrame, gain: np.ndarray) -> tuple[pd.DataFrame, np.ndarray]:
    """Drop options dominated within their image (more bytes, no more gain)."""
    keep = []
    for _, idx in df.groupby("image", sort=True).indices.items():
        best = -math.inf
        for i in sorted(idx, key=lambda k: (df["bytes"].iat[k], -gain[k])):
            if gain[i] > best:
                keep.append(i)
                best = gain[i]
    keep = sorted(keep)
    return df.iloc[keep].reset_index(drop=True), gain[keep]


def _solve_dp(groups: list[np.ndarray], nbytes: np.ndarray, gain: np.ndarray,
              budget: int) -> list[int] | None:
    neg = -np.inf
    best = np.zeros(budget + 1)  # zero images: gain 0 at any budget
    choice = np.empty((len(groups), budget + 1), dtype=np.int16)  # option index per budget
    for g, idx in enumerate(groups):
        new = np.full(budget + 1, neg)
        pick = np.full(budget + 1, -1, dtype=np.int16)
        for k, i in enumerate(idx):
            b = int(nbytes[i])
            if b > budget:
                continue
            cand = np.full(budget + 1, neg)
            cand[b:] = best[: budget + 1 - b] + gain[i]
            better = cand > new
            new[better] = cand[better]
            pick[better] = k
        best, choice[g] = new, pick
    if not np.isfinite(best[budget]):
        return None
    out, b = [], budget
    for g in range(len(groups) - 1, -1, -1):
        i = groups[g][choice[g, b]]
        out.append(int(i))
        b -= int(nbytes[i])
    return out[::-1]


def _solve_milp(groups: list[np.ndarray], n: int, cost: np.ndarray,
                ub_rows: list[tuple[np.ndarray, float]]) -> list[int] | None:
    """Minimise ``cost @ x`` over binary x with one choice per group and ``A x <= b`` rows."""
    from scipy.optimize import Bounds, LinearConstraint, milp

    eq = np.zeros((len(groups), n))
    for g, idx in enumerate(groups):
        eq[g, idx] = 1.0
    cons = [LinearConstraint(eq, 1.0, 1.0)]
    for row, bound in ub_rows:
        cons.append(LinearConstraint(row[None, :], -np.inf, bound))
    res = milp(cost, constraints=cons, integrality=np.ones(n), bounds=Bounds(0, 1),
               options={"mip_rel_gap": 0.0, "presolve": True})
    if res.status == 2 or res.x is None:  # 2 = infeasible
        return None
    if res.status != 0:
        raise RateControlError(f"MILP solver did not finish: {res.message}")
    x = np.round(res.x).astype(int)
    return [int(idx[np.argmax(x[idx])]) for idx in groups]


def _result(df: pd.DataFrame, picks: list[int] | None, objective: str, solver: str,
            msg: str) -> RateControlResult:
    if picks is None:
        return RateControlResult(False, df.iloc[0:0].drop(columns=["pixels"]), 0, math.nan,
                                 math.nan, math.nan, objective, solver, msg)
    ch = df.iloc[picks]
    total = int(ch["bytes"].sum())
    pix = ch["pixels"].to_numpy()
    psnr = pooled_psnr(ch["psnr"], pix) if "psnr" in ch else math.nan
    msss = pixel_weighted_mean(ch["ms_ssim"], pix) if "ms_ssim" in ch else math.nan
    cols = ["image", "setting"] + [c for c in ch.columns if c not in
                                   ("codec", "pixels", "width", "height", "image", "setting")]
    value = {"psnr_agg": psnr, "ms_ssim_agg": msss, "transparent": float(total)}.get(objective)
    if value is None:
        value = float(ch[objective].astype(np.float64).mean())
    return RateControlResult(True, ch[cols].reset_index(drop=True), total,
                             8.0 * total / int(pix.sum()), psnr, msss, objective, solver, "",
                             value)


def rate_control(results: pd.DataFrame, codec: str, budget_bpp: float, *,
                 maximize: str = "psnr_agg", solver: str = "auto") -> RateControlResult:
    """Best aggregate quality within a total-bits budget, one setting per image (exact).

    Args:
        results: per-image results table.
        codec: the codec whose settings are chosen from.
        budget_bpp: total bits / total pixels allowed.
        maximize: ``psnr_agg``, ``ms_ssim_agg`` or a metric column (its mean is optimised in
            the metric's better direction).
        solver: ``"dp"``, ``"milp"`` or ``"auto"`` (DP when the table is small enough).

    Returns:
        A :class:`RateControlResult`; ``feasible=False`` when even the smallest settings exceed
        the budget.
    """
    if not (budget_bpp > 0 and math.isfinite(budget_bpp)):
        raise RateControlError(f"budget_bpp must be a positive number, got {budget_bpp}")
    if solver not in ("auto", "dp", "milp"):
        raise RateControlError(f"solver must be auto, dp or milp, got {solver!r}")
    need = {"psnr_agg": ["psnr"], "ms_ssim_agg": ["ms_ssim"]}.get(maximize, [maximize])
    df = _options(results, codec, need)
    df, gain = _prune(df, _gain(df, maximize))
    pixels = int(df.groupby("image")["pixels"].first().sum())
    budget = int(math.floor(budget_bpp * pixels / 8.0 + 1e-9))
    groups = list(df.groupby("image", sort=True).indices.values())
    nb = df["bytes"].to_numpy(np.int64)
    if solver == "auto":
        solver = "dp" if len(groups) * (budget + 1) <= DP_MAX_CELLS else "milp"
    if solver == "dp":
        picks = _solve_dp(groups, nb, gain, budget)
    else:
        # aggregates in per-pixel units (pooled MSE, mean MS-SSIM) so HiGHS's absolute gap of
        # 1e-6 is negligible (< 1e-8 dB); per-image means stay in the metric's units
        scale = float(pixels) if maximize in ("psnr_agg", "ms_ssim_agg") else 1.0
        picks = _solve_milp(groups, len(df), -gain / scale, [(nb.astype(np.float64), budget)])
    msg = "" if picks else (f"no choice fits the budget: the smallest settings need "
                            f"{int(df.groupby('image')['bytes'].min().sum())} bytes, budget is "
                            f"{budget} bytes ({budget_bpp} bpp)")
    return _result(df, picks, maximize, solver, msg)


def transparent(results: pd.DataFrame, codec: str, *, psnr_agg: float | None = None,
                ms_ssim_agg: float | None = None) -> RateControlResult:
    """Fewest total bytes such that ``psnr_agg >= psnr_agg`` and ``ms_ssim_agg >= ms_ssim_agg``
    (either target may be None), exactly; ``feasible=False`` when no choice meets them."""
    if psnr_agg is None and ms_ssim_agg is None:
        raise RateControlError("transparent needs a psnr_agg and/or ms_ssim_agg target, got none")
    need = [m for m, t in (("psnr", psnr_agg), ("ms_ssim", ms_ssim_agg)) if t is not None]
    df = _options(results, codec, need)
    groups = list(df.groupby("image", sort=True).indices.values())
    w = df["pixels"].to_numpy(np.float64) / float(df.groupby("image")["pixels"].first().sum())
    rows = []
    if psnr_agg is not None:
        target_mse = 255.0 ** 2 * 10.0 ** (-psnr_agg / 10.0)
        rows.append((mse_from_psnr(df["psnr"]) * w / target_mse, 1.0 - 2 * _MILP_TOL))
    if ms_ssim_agg is not None:
        rows.append((-df["ms_ssim"].to_numpy(np.float64) * w, -ms_ssim_agg - 2 * _MILP_TOL))
    # integer objective (bytes): HiGHS's absolute gap (1e-6) cannot hide a one-byte difference
    picks = _solve_milp(groups, len(df), df["bytes"].to_numpy(np.float64), rows)
    res = _result(df, picks, "transparent", "milp", "")
    if res.feasible and ((psnr_agg is not None and res.psnr_agg < psnr_agg - 1e-9) or
                         (ms_ssim_agg is not None and res.ms_ssim_agg < ms_ssim_agg - 1e-12)):
        picks = None  # solver tolerance let a violating choice through: report honestly
    if picks is None:
        best = []
        if psnr_agg is not None:
            top = df.loc[df.groupby("image")["psnr"].idxmax()]
            best.append(f"best possible psnr_agg {pooled_psnr(top['psnr'], top['pixels']):.3f} dB")
        if ms_ssim_agg is not None:
            top = df.loc[df.groupby("image")["ms_ssim"].idxmax()]
            best.append("best possible ms_ssim_agg "
                        f"{pixel_weighted_mean(top['ms_ssim'], top['pixels']):.5f}")
        return _result(df, None, "transparent", "milp",
                       "no choice of settings meets the targets (" + "; ".join(best) + ")")
    return res
