"""Rate control: exact against brute force on small random instances."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from evalkit.cli import main
from evalkit.errors import RateControlError
from evalkit.evaluate.aggregates import pixel_weighted_mean, pooled_psnr
from evalkit.rd import rate_control, transparent


def random_instance(rng: np.random.Generator, n_images=4, n_settings=4) -> pd.DataFrame:
    rows = []
    for i in range(n_images):
        w, h = int(rng.integers(8, 40)), int(rng.integers(8, 40))
        for s in range(n_settings):
            rows.append({"codec": "c", "setting": f"s{s}", "image": f"im{i}", "width": w,
                         "height": h, "bytes": int(rng.integers(5, 120)),
                         "psnr": float(rng.uniform(25, 45)), "ms_ssim": float(rng.uniform(0.9, 1)),
                         "lpips": float(rng.uniform(0.01, 0.4))})
    df = pd.DataFrame(rows)
    df["bpp"] = df["bytes"] * 8 / (df["width"] * df["height"])
    df["bytes"] = df["bytes"].astype("Int64")
    return df


def brute_force(df, budget_bytes=None, key=None, psnr_min=None, ms_min=None):
    """Best objective (budget mode) or fewest total bytes (targets), by enumeration."""
    groups = [g.reset_index(drop=True) for _, g in df.groupby("image", sort=True)]
    cols = {c: [g[c].to_numpy(np.float64) for g in groups]
            for c in ("bytes", "psnr", "ms_ssim", "lpips", "width", "height")}
    best = None
    for combo in itertools.product(*[range(len(g)) for g in groups]):
        pick = {c: np.array([v[k] for v, k in zip(vals, combo)]) for c, vals in cols.items()}
        total = int(pick["bytes"].sum())
        pix = pick["width"] * pick["height"]
        p, m = pooled_psnr(pick["psnr"], pix), pixel_weighted_mean(pick["ms_ssim"], pix)
        if budget_bytes is not None:
            if total > budget_bytes:
                continue
            val = key(pick, p, m)
            if best is None or val > best:
                best = val
        elif p >= psnr_min and m >= ms_min and (best is None or total < best):
            best = total
    return best


OBJECTIVES = {
    "psnr_agg": lambda ch, p, m: p,
    "ms_ssim_agg": lambda ch, p, m: m,
    "lpips": lambda ch, p, m: -np.mean(ch["lpips"]),      # lower is better
    "psnr": lambda ch, p, m: np.mean(ch["psnr"]),
}


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("solver", ["dp", "milp"])
def test_budget_mode_matches_brute_force(seed, solver):
    rng = np.random.default_rng(seed)
    df = random_instance(rng)
    pixels = int(df.groupby("image")["width"].first().mul(df.groupby("image")["height"].first()).sum())
    budget_bytes = int(df.groupby("image")["bytes"].median().sum())
    budget_bpp = budget_bytes * 8 / pixels
    for objective, key in OBJECTIVES.items():
        res = rate_control(df, "c", budget_bpp, maximize=objective, solver=solver)
        expect = brute_force(df, budget_bytes, key)
        assert res.feasible and res.total_bytes <= budget_bytes
        got = key({c: res.choices[c].to_numpy(np.float64) for c in ("psnr", "lpips")},
                  res.psnr_agg, res.ms_ssim_agg)
        assert got == pytest.approx(expect, abs=1e-9), (objective, solver)
        assert list(res.choices["image"]) == sorted(df["image"].unique())
        if objective in ("lpips", "psnr"):
            assert res.objective_value == pytest.approx(res.choices[objective].mean())


@pytest.mark.parametrize("seed", range(6))
def test_transparent_mode_matches_brute_force(seed):
    rng = np.random.default_rng(100 + seed)
    df = random_instance(rng)
    targets = (float(rng.uniform(32, 38)), float(rng.uniform(0.93, 0.97)))
    expect = brute_force(df, psnr_min=targets[0], ms_min=targets[1])
    res = transparent(df, "c", psnr_agg=targets[0], ms_ssim_agg=targets[1])
    if expect is None:
        assert not res.feasible and "no choice of settings meets" in res.message
    else:
        assert res.feasible and res.total_bytes == expect
        assert res.psnr_agg >= targets[0] and res.ms_ssim_agg >= targets[1]


def test_dp_and_milp_agree_on_a_kodak_sized_instance():
    df = random_instance(np.random.default_rng(3), n_images=24, n_settings=8)
    g = df.groupby("image")
    pixels = int((g["width"].first() * g["height"].first()).sum())
    budget_bytes = int(g["bytes"].min().sum() * 2)
    for objective in ("psnr_agg", "ms_ssim_agg"):
        dp = rate_control(df, "c", budget_bytes * 8 / pixels, maximize=objective, solver="dp")
        milp = rate_control(df, "c", budget_bytes * 8 / pixels, maximize=objective,
                            solver="milp")
        assert dp.objective_value == pytest.approx(milp.objective_value, abs=1e-9)
        assert max(dp.total_bytes, milp.total_bytes) <= budget_bytes
        best = df.loc[g["psnr" if objective == "psnr_agg" else "ms_ssim"].idxmax()]
        assert best["bytes"].sum() > budget_bytes            # the budget really constrains


def test_infeasible_budget_is_reported():
    df = random_instance(np.random.default_rng(7))
    res = rate_control(df, "c", 1e-4)
    assert not res.feasible and res.choices.empty and "no choice fits the budget" in res.message


def test_errors():
    df = random_instance(np.random.default_rng(8))
    with pytest.raises(RateControlError, match="codec must be in the results"):
        rate_control(df, "zz", 1.0)
    with pytest.raises(RateControlError, match="budget_bpp must be a positive number"):
        rate_control(df, "c", -1)
    with pytest.raises(RateControlError, match="'dists' column"):
        rate_control(df, "c", 1.0, maximize="dists")
    bad = df.copy()
    bad.loc[0, "bytes"] = pd.NA
    with pytest.raises(RateControlError, match="bytes must be known"):
        rate_control(bad, "c", 1.0)
    with pytest.raises(RateControlError, match="needs a psnr_agg and/or ms_ssim_agg target"):
        transparent(df, "c")


def test_cli(results_csv, tmp_path, capsys):
    out = tmp_path / "choice.csv"
    assert main(["ratecontrol", str(results_csv), "--codec", "better", "--budget-bpp", "0.6",
                 "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "psnr_agg" in text and out.is_file() and (tmp_path / "choice.csv.json").is_file()
    chosen = pd.read_csv(out)
    assert set(chosen["image"]) == {"img_a", "img_b"}
    assert main(["ratecontrol", str(results_csv), "--codec", "better",
                 "--min-psnr-agg", "80"]) == 1
    assert "infeasible: no choice of settings meets the targets" in capsys.readouterr().out
    assert main(["ratecontrol", str(results_csv), "--codec", "better"]) == 1
    assert "give either --budget-bpp" in capsys.readouterr().err
