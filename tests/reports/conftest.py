"""Simulated votes for the report tests."""

import numpy as np
import pandas as pd
import pytest

from reports.ranking import ELO_PER_NAT


def simulate_bt(elo: dict, n_raters: int, n_items: int, votes_per_cell: int,
                rng: np.random.Generator, tie_rate: float = 0.0) -> pd.DataFrame:
    """Generic pairwise CSV rows drawn from a Bradley-Terry model with Elo strengths."""
    methods = list(elo)
    rows = []
    for r in range(n_raters):
        for i in range(n_items):
            for _ in range(votes_per_cell):
                a, b = rng.choice(len(methods), 2, replace=False)
                ma, mb = methods[a], methods[b]
                p = 1 / (1 + np.exp(-(elo[ma] - elo[mb]) / ELO_PER_NAT))
                u = rng.random()
                ans = "tie" if rng.random() < tie_rate else ("A" if u < p else "B")
                rows.append({"methodA": ma, "methodB": mb, "originalName": f"img{i:02d}",
                             "answerValue": ans, "who": f"r{r}"})
    return pd.DataFrame(rows)


@pytest.fixture
def study_export() -> pd.DataFrame:
    """A small study-app export: 4 raters, 3 methods, golden questions, one failing rater."""
    rng = np.random.default_rng(5)
    elo = {"hific/q1": 1600.0, "jpeg/q50": 1450.0, "jpeg/q80": 1550.0}
    methods = list(elo)
    rows = []
    for r in range(4):
        for t in range(40):
            a, b = rng.choice(3, 2, replace=False)
            ma, mb = methods[a], methods[b]
            p = 1 / (1 + np.exp(-(elo[ma] - elo[mb]) / ELO_PER_NAT))
            choice = "tie" if rng.random() < 0.1 else (ma if rng.random() < p else mb)
            rows.append(dict(study="s1", rater=f"rater{r}", session=f"s{r}", trial=t,
                             image=f"kodim{t % 5 + 1:02d}.png", crop="0,0,256,256",
                             method_a=ma, method_b=mb, left=ma, right=mb, choice=choice,
                             is_golden=False, golden_failed=False, shown_at="", answered_at="",
                             duration_s=float(rng.uniform(2, 9))))
        for t in range(3):
            failed = r == 3 and t == 0
            rows.append(dict(study="s1", rater=f"rater{r}", session=f"s{r}", trial=100 + t,
                             image="kodim01.png", crop="", method_a="original",
                             method_b="golden:blur", left="original", right="golden:blur",
                             choice="golden:blur" if failed else "original", is_golden=True,
                             golden_failed=failed, shown_at="", answered_at="",
                             duration_s=3.0))
    return pd.DataFrame(rows)


@pytest.fixture
def results_table() -> pd.DataFrame:
    rng = np.random.default_rng(1)
    rows = []
    for codec, setting, bpp, q in [("hific", "q1", 0.3, 0.9), ("jpeg", "q50", 0.5, 0.6),
                                   ("jpeg", "q80", 0.9, 0.8)]:
        for i in range(1, 6):
            rows.append(dict(codec=codec, setting=setting, image=f"kodim{i:02d}", width=64,
                             height=64, bytes=int(bpp * 64 * 64 / 8), bpp=bpp + 0.01 * i,
                             psnr=20 + 10 * q + rng.normal(), ssim=q + 0.01 * rng.normal(),
                             mystery=rng.normal()))
    return pd.DataFrame(rows)


@pytest.fixture(name="simulate")
def _simulate():
    return simulate_bt
