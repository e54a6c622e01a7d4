"""bench/study_design.py helpers: the rater-noise fit on answers and the first-crossing rule."""

import csv
import importlib.util
import math
import types
from pathlib import Path

import numpy as np
import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "study_design.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("study_design_bench", BENCH)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _write_answers(path: Path, elo: dict[str, float], k: float, lapse: float, n: int, seed: int):
    """Forced-choice answers in the mucped23 layout: the letter marks the option NOT picked."""
    rng = np.random.default_rng(seed)
    names = sorted(elo)
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["methodA", "methodB", "originalName", "answerValue"])
        for _ in range(n):
            a, b = rng.choice(len(names), 2, replace=False)
            ma, mb = names[a], names[b]
            p_a = 1 / (1 + math.exp(-k * (elo[ma] - elo[mb]) * math.log(10) / 400))
            p_a = lapse / 2 + (1 - lapse) * p_a
            a_wins = rng.random() < p_a
            w.writerow([ma, mb, "img", "B" if a_wins else "A"])


@pytest.mark.parametrize("k,lapse", [(1.0, 0.12), (0.7, 0.0)])
def test_fit_rater_noise_recovers_slope_and_lapse(bench, tmp_path, k, lapse):
    elo = {f"m{i:02d}": 1400 + 40 * i for i in range(31)}
    answers = tmp_path / "answers.csv"
    _write_answers(answers, elo, k, lapse, 20000, seed=3)
    k_hat, lapse_hat, n = bench.fit_rater_noise(elo, answers)
    assert n == 20000
    assert k_hat == pytest.approx(k, abs=0.08)
    assert lapse_hat == pytest.approx(lapse, abs=0.03)


def test_fit_rater_noise_reads_the_letter_as_the_option_not_picked(bench, tmp_path):
    # "A" = methodA (b/x, the lower Elo) was not picked: the higher-Elo side mostly wins, so the
    # slope is positive (read the other way round it would be negative)
    elo = {"a/x": 2000.0, "b/x": 1500.0}
    answers = tmp_path / "answers.csv"
    with answers.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["methodA", "methodB", "originalName", "answerValue"])
        w.writerows([["b/x", "a/x", "img", "A"]] * 40 + [["b/x", "a/x", "img", "B"]] * 2)
    k_hat, _lapse, _n = bench.fit_rater_noise(elo, answers)
    assert k_hat > 0


def test_votes_to_target_is_the_first_crossing(bench):
    args = types.SimpleNamespace(target=0.95, max_votes=500)
    curve = [(1, 0.5, 3.0), (2, 0.96, 2.0), (3, 0.90, 2.0), (4, 0.97, 1.0)]
    assert bench.votes_to_target(curve, args) == (2, True)
    assert bench.votes_to_target(curve[:1], args) == (500, False)


def test_seed_offset_runs_the_fresh_seeds(bench, monkeypatch, capsys, tmp_path):
    """--seed-offset 100 --seeds 3 simulates seeds 100, 101, 102 (fresh seeds for a tuned design)."""
    ran = []

    def fake_one_seed(job):
        seed = job[0]
        ran.append(seed)
        return seed, [(300, 0.96, 2.0)], [(180, 0.96, 2.0)], [0.001]

    monkeypatch.setattr(bench, "one_seed", fake_one_seed)
    monkeypatch.setattr(bench, "timing", lambda args: None)
    truth = tmp_path / "elo.csv"
    truth.write_text("method,elo\na/x,1500\nb/x,1600\n", encoding="utf-8")
    assert bench.main(["--seeds", "3", "--seed-offset", "100", "--jobs", "1", "--truth", str(truth)]) == 0
    assert ran == [100, 101, 102]
    assert "3 seeds (100-102)" in capsys.readouterr().out


@pytest.mark.parametrize("argv", [["--seeds", "0"], ["--seed-offset", "-1"]])
def test_bad_seed_range_is_a_one_line_usage_error(bench, capsys, argv):
    with pytest.raises(SystemExit) as exc:
        bench.main(argv)
    assert exc.value.code == 2
    assert "--seeds must be >= 1 and --seed-offset >= 0" in capsys.readouterr().err


def test_ratio_ci_brackets_the_ratio_of_medians(bench):
    rng = np.random.default_rng(4)
    balanced = rng.integers(200, 400, 100).astype(float)
    assert bench.ratio_ci(0.5 * balanced, balanced) == pytest.approx((0.5, 0.5))   # exact halves
    adaptive = rng.integers(120, 260, 100).astype(float)
    lo, hi = bench.ratio_ci(adaptive, balanced)
    point = np.median(adaptive) / np.median(balanced)
    assert lo < point < hi and hi - lo < 0.3
    # more seeds, a narrower interval
    lo4, hi4 = bench.ratio_ci(np.tile(adaptive, 4), np.tile(balanced, 4))
    assert hi4 - lo4 < hi - lo


@pytest.mark.parametrize("text,message", [
    ('method,elo\n=HYPERLINK("x"),abc\nb/x,1500\n', "every elo must be a number"),
    ("name,score\na,1\n", "needs the columns method and elo, got name, score"),
    ("method,elo\na/x,1500\n", "needs at least 2 methods"),
    ("method,elo\na/x,1500\na/x,1600\n", "distinct, non-empty names"),
    ("method,elo\na/x,1500\nb/x,inf\n", "every elo must be finite"),
])
def test_bad_truth_file_is_a_one_line_usage_error(bench, capsys, tmp_path, text, message):
    truth = tmp_path / "elo.csv"
    truth.write_text(text, encoding="utf-8")
    with pytest.raises(SystemExit) as exc:
        bench.main(["--seeds", "1", "--truth", str(truth)])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_missing_truth_file_is_an_error_not_the_synthetic_scores(bench, capsys, tmp_path):
    with pytest.raises(SystemExit) as exc:
        bench.main(["--seeds", "1", "--truth", str(tmp_path / "nope.csv")])
    assert exc.value.code == 2
    assert "no such file" in capsys.readouterr().err


def test_bad_answers_beside_the_truth_is_a_one_line_usage_error(bench, capsys, tmp_path):
    truth = tmp_path / "elo.csv"
    truth.write_text("method,elo\na/x,1500\nb/x,1600\n", encoding="utf-8")
    (tmp_path / "answers.csv").write_text("methodA,answerValue\na/x,A\n", encoding="utf-8")
    with pytest.raises(SystemExit) as exc:
        bench.main(["--seeds", "1", "--truth", str(truth)])
    assert exc.value.code == 2
    assert "cannot fit the rater noise (KeyError" in capsys.readouterr().err
