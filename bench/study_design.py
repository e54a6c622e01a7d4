"""Balanced vs adaptive study design: votes needed to rank methods, and the cost of one choice.

Simulated raters judge methods whose true scores are known: the published Elo of the 31 mucped23
JPEG settings (``../shared/datasets/mucped23/elo.csv``; synthetic scores spread like them when the
file is absent).  Rater model (per simulated rater ``r`` and trial on image ``g``), the
Bradley-Terry model the Elo scale stands for (``P(a beats b) = 1 / (1 + 10^((e_b - e_a) / 400))``)
plus rater and content variation:

* latent preference ``z = k_r * (e_a - e_b + u_ag - u_bg) * ln(10) / 400 + logistic noise``, with
  rater sharpness ``k_r ~ logNormal(0, --sharpness-sd)`` and a per-(method, image) content effect
  ``u ~ N(0, --content-sd Elo)``;
* "Can't decide" when ``|z| < --tie-threshold`` (about 17 % ties between equal methods, fewer
  for clear differences), else the side ``z`` favours;
* a lapse (``--lapse``): a random A/B answer.  ``--lapse fit`` uses the rate fitted to the real
  mucped23 answers (``answers.csv`` beside ``elo.csv``): the header prints that fit either way
  (slope on the published Elo and lapse rate, maximum likelihood), as a check of the noise model.

Each rater answers ``trials_per_rater`` trials of which 10 % are golden questions (answered, not
counted: "votes" below are regular votes).  The balanced design is :func:`study_app.design.plan_trials`
(rater windows over the shuffled stimulus cycle); the adaptive one is
:func:`study_app.adaptive.choose_trial` with ``--concurrency`` raters working at once (each
rater's current trial is pending for the others' choices), exactly what the app runs per trial.

After every vote (``--every 1``, the default) the Thurstone fit
(:func:`study_app.adaptive.fit_posterior` with the report's weak prior, ties split, the same
estimator for both designs) is compared with the truth: Spearman correlation of the fitted scores,
and the median width of their 95 % intervals (centred, JOD).  "Votes to 0.95" is the first vote
count with Spearman >= 0.95 (the same rule for both designs; a seed that never gets there within
``--max-votes`` counts as ``--max-votes`` and is reported).  The headline figure is the ratio of
the medians over seeds, with a 95 % bootstrap interval (about +-0.05 at 100 seeds, +-0.02 at
1,000); the per-seed ratios, the means and where the mean correlation over seeds
reaches the target are printed too.

Run::

    PYTHONPATH=$PWD .venv/bin/python bench/study_design.py              # 20 seeds, 1-4 min
    PYTHONPATH=$PWD .venv/bin/python bench/study_design.py --seeds 100  # steadier, 4-15 min
    PYTHONPATH=$PWD .venv/bin/python bench/study_design.py --lapse fit  # lapse rate of the real answers
    PYTHONPATH=$PWD .venv/bin/python bench/study_design.py --seeds 100 --seed-offset 100  # fresh seeds
    PYTHONPATH=$PWD .venv/bin/python bench/study_design.py --seeds 1000 --horizon 0  # +-0.02, ~25 min
"""

from __future__ import annotations

import argparse
import csv
import itertools
import math
import multiprocessing as mp
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from scipy import optimize, special, stats

from study_app.adaptive import PRIOR_PRECISION, Posterior, choose_trial, fit_posterior
from study_app.definition import StudyDefinition
from study_app.design import plan_trials, stimulus_cycle

ELO_REL = Path("shared") / "datasets" / "mucped23" / "elo.csv"
#: Default share of random A/B answers (see ``--lapse``).
DEFAULT_LAPSE = 0.03


def default_truth() -> Path:
    """``shared/datasets/mucped23/elo.csv`` beside the checkout or any folder above it."""
    for folder in Path(__file__).resolve().parents:
        if (folder / ELO_REL).is_file():
            return folder / ELO_REL
    return Path("..") / ELO_REL
NAT_PER_ELO = math.log(10.0) / 400.0
#: The scores judged against the truth: the Thurstone fit with the weak prior `evalkit report`
#: uses (precision 0.01), for both designs -- not the adaptive design's own prior.
ESTIMATOR_PRIOR = 0.01


def fit_rater_noise(elo: dict[str, float], answers: Path) -> tuple[float, float, int]:
    """Slope ``k`` and lapse rate ``lam`` of ``P(winner) = lam / 2 + (1 - lam) * logistic(k * dElo
    * ln(10) / 400)``, fitted by maximum likelihood to the mucped23 answers (forced choice; the
    letter in ``answerValue`` marks the option *not* picked, see shared/datasets/mucped23/SOURCE.md).
    Returns ``(k, lam, n_answers)``; how far the real raters are from the published Elo's own
    model (``k = 1, lam = 0``)."""
    with answers.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    gap = np.array([elo[r["methodB"]] - elo[r["methodA"]] if r["answerValue"] == "A"
                    else elo[r["methodA"]] - elo[r["methodB"]] for r in rows]) * NAT_PER_ELO

    def nll(p):
        lam = special.expit(p[1])
        return -np.sum(np.log(lam / 2 + (1 - lam) * special.expit(p[0] * gap)))

    fit = optimize.minimize(nll, [1.0, -3.0], method="Nelder-Mead",
                            options={"xatol": 1e-6, "fatol": 1e-6})
    return float(fit.x[0]), float(special.expit(fit.x[1])), len(rows)


def load_truth(path: Path) -> tuple[list[str], np.ndarray, str]:
    """Method names and true Elo; synthetic (31 methods, Elo 1400-2650) when the file is absent."""
    if path.is_file():
        with path.open(newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            if not {"method", "elo"} <= set(reader.fieldnames or ()):
                raise ValueError(f"{path}: needs the columns method and elo, got "
                                 f"{', '.join(reader.fieldnames or ()) or 'none'}")
            rows = list(reader)
        methods = [(r["method"] or "").strip() for r in rows]
        try:
            elo = np.array([float(r["elo"]) for r in rows])
        except (TypeError, ValueError):
            raise ValueError(f"{path}: every elo must be a number") from None
        if len(methods) < 2 or "" in methods or len(set(methods)) < len(methods):
            raise ValueError(f"{path}: needs at least 2 methods with distinct, non-empty names")
        if not np.isfinite(elo).all():
            raise ValueError(f"{path}: every elo must be finite")
        return methods, elo, str(path)
    rng = np.random.default_rng(31)
    elo = np.sort(rng.uniform(1400, 2650, 31))
    return [f"m{k:02d}/q" for k in range(31)], elo, "synthetic (elo.csv not found)"


class Raters:
    """Simulated raters (see module doc); one random stream per (seed, design)."""

    def __init__(self, elo: np.ndarray, n_images: int, args, rng: np.random.Generator):
        self.elo, self.args, self.rng = elo, args, rng
        self.content = rng.normal(0.0, args.content_sd, (elo.size, n_images))
        self.sharp = 1.0

    def new_rater(self) -> None:
        self.sharp = float(np.exp(self.rng.normal(0.0, self.args.sharpness_sd)))

    def answer(self, a: int, b: int, image: int) -> int:
        """0: a chosen, 1: b chosen, 2: tie."""
        if self.rng.random() < self.args.lapse:
            return int(self.rng.integers(2))
        diff = self.elo[a] - self.elo[b] + self.content[a, image] - self.content[b, image]
        z = self.sharp * diff * NAT_PER_ELO + self.rng.logistic()
        if abs(z) < self.args.tie_threshold:
            return 2
        return 0 if z > 0 else 1


def evaluate(n: int, ci: np.ndarray, cj: np.ndarray, counts: np.ndarray, truth: np.ndarray):
    has = counts.sum(axis=1) > 0
    post: Posterior = fit_posterior(n, ci[has], cj[has], counts[has, 0] + 0.5 * counts[has, 2],
                                    counts[has, 1] + 0.5 * counts[has, 2], prior=ESTIMATOR_PRIOR)
    if np.ptp(post.mean) == 0:   # no information yet (e.g. one tie): no ranking, not a warning
        return 0.0, float(np.median(2 * 1.959964 * post.centred_sd()))
    rho = stats.spearmanr(post.mean, truth)[0]
    return float(rho), float(np.median(2 * 1.959964 * post.centred_sd()))


def make_definition(methods: list[str], images: list[str], trials: int, seed: int) -> StudyDefinition:
    return StudyDefinition(name="sim", path=None, refs_dir=Path("."), runs_dir=Path("."),
                           comparisons=tuple(itertools.combinations(methods, 2)),
                           images=tuple(images), trials_per_rater=trials, golden_share=0.1,
                           seed=seed)


def run_balanced(seed: int, methods, elo, args) -> list[tuple[int, float, float]]:
    images = [f"img{g:02d}" for g in range(args.images)]
    defn = make_definition(methods, images, args.trials_per_rater, seed)
    sizes = {im: (64, 64) for im in images}
    cycle = stimulus_cycle(defn, sizes)
    pos = {m: k for k, m in enumerate(methods)}
    img_pos = {im: g for g, im in enumerate(images)}
    pairs = list(itertools.combinations(range(len(methods)), 2))
    pair_pos = {p: k for k, p in enumerate(pairs)}
    ci, cj = (np.array(x) for x in zip(*pairs))
    counts = np.zeros((len(pairs), 3))
    raters = Raters(elo, len(images), args, np.random.default_rng([seed, 1]))
    curve, votes, slot = [], 0, 0
    while votes < args.max_votes:
        raters.new_rater()
        _, trials = plan_trials(defn, sizes, slot, cycle)
        slot += 1
        for t in trials:
            if t.is_golden:
                continue
            a, b = pos[t.method_a], pos[t.method_b]
            counts[pair_pos[(a, b)], raters.answer(a, b, img_pos[t.image])] += 1
            votes += 1
            if votes % args.every == 0:
                curve.append((votes, *evaluate(len(methods), ci, cj, counts, elo)))
                if votes >= args.horizon and votes_to_target(curve, args)[1]:
                    return curve
            if votes >= args.max_votes:
                break
    return curve


def run_adaptive(seed: int, methods, elo, args,
                 at_least: int = 0) -> tuple[list[tuple[int, float, float]], list[float]]:
    """Runs until the target is reached and at least ``at_least`` votes are in."""
    n, S = len(methods), args.images
    pairs = list(itertools.combinations(range(n), 2))
    ci, cj = (np.array(x) for x in zip(*pairs))
    P = len(pairs)
    counts = np.zeros((P, 3))
    shown = np.zeros((P, S), dtype=np.int64)
    pending = np.zeros(P, dtype=np.int64)
    raters = Raters(elo, S, args, np.random.default_rng([seed, 1]))
    n_reg = args.trials_per_rater - max(1, round(0.1 * args.trials_per_rater))
    # c raters in lockstep; each holds one pending trial; a finished rater is replaced
    active = [dict(left=n_reg, seen=np.zeros((P, S), bool), cur=None, sharp=1.0, id=k)
              for k in range(args.concurrency)]
    for r in active:
        raters.new_rater()
        r["sharp"] = raters.sharp
    next_id = len(active)
    curve, times, votes, step = [], [], 0, 0
    while votes < args.max_votes:
        r = active[step % len(active)]
        step += 1
        if r["cur"] is not None:
            p, g = r["cur"]
            pending[p] -= 1
            raters.sharp = r["sharp"]
            counts[p, raters.answer(ci[p], cj[p], g)] += 1
            votes += 1
            r["cur"] = None
            if votes % args.every == 0:
                curve.append((votes, *evaluate(n, ci, cj, counts, elo)))
                if votes >= max(at_least, args.horizon) and votes_to_target(curve, args)[1]:
                    break
        if r["left"] == 0:   # rater done: a new one takes the place
            raters.new_rater()
            r.update(left=n_reg, seen=np.zeros((P, S), bool), sharp=raters.sharp, id=next_id)
            next_id += 1
        t0 = time.perf_counter()
        pick = choose_trial(n, ci, cj, counts, pending, shown, r["seen"], [seed, r["id"], r["left"]],
                            prior=args.prior)
        times.append(time.perf_counter() - t0)
        r["cur"] = (pick.pair, pick.item)
        r["seen"][pick.pair, pick.item] = True
        r["left"] -= 1
        shown[pick.pair, pick.item] += 1
        pending[pick.pair] += 1
    return curve, times


def votes_to_target(curve, args) -> tuple[int, bool]:
    for v, rho, _w in curve:
        if rho >= args.target:
            return v, True
    return args.max_votes, False


def ratio_ci(adaptive, balanced, *, resamples: int = 2000, level: float = 0.95,
             seed: int = 0) -> tuple[float, float]:
    """Bootstrap interval of ``median(adaptive) / median(balanced)``, resampling seeds (each seed
    keeps its pair of vote counts).  Seed-to-seed spread is large (the quartiles of either design
    are about +-25 % of its median), so 100 seeds pin the ratio only to about +-0.05."""
    a, b = np.asarray(adaptive, float), np.asarray(balanced, float)
    idx = np.random.default_rng(seed).integers(a.size, size=(resamples, a.size))
    ratios = np.median(a[idx], axis=1) / np.median(b[idx], axis=1)
    tail = 100 * (1 - level) / 2
    lo, hi = np.percentile(ratios, [tail, 100 - tail])
    return float(lo), float(hi)


def mean_curve_crossing(curves, args) -> int | str:
    """First checkpoint where the mean Spearman correlation over seeds is >= target (checkpoints
    every seed reached), or ``"> N"``."""
    last = min(c[-1][0] for c in curves)
    rho = {}
    for c in curves:
        for v, r, _w in c:
            if v <= last:
                rho.setdefault(v, []).append(r)
    for v in sorted(rho):
        if np.mean(rho[v]) >= args.target:
            return int(v)
    return f"> {last}"


def width_at(curve, votes: int) -> float:
    """CI width at the last checkpoint <= ``votes``."""
    best = [w for v, _r, w in curve if v <= votes]
    return best[-1] if best else float("nan")


def one_seed(job):
    seed, methods, elo, args = job
    bal = run_balanced(seed, methods, elo, args)
    ada, times = run_adaptive(seed, methods, elo, args, at_least=votes_to_target(bal, args)[0])
    return seed, bal, ada, times


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, default=20,
                    help="simulated studies per design (>= 20 for the report)")
    ap.add_argument("--seed-offset", type=int, default=0,
                    help="first seed (seeds offset .. offset + seeds - 1; fresh seeds check a tuned design)")
    ap.add_argument("--jobs", type=int, default=2, help="worker processes (the machine is shared)")
    ap.add_argument("--truth", type=Path, default=None, help="CSV with method,elo columns")
    ap.add_argument("--images", type=int, default=49, help="images in the simulated study")
    ap.add_argument("--trials-per-rater", type=int, default=20)
    ap.add_argument("--concurrency", type=int, default=5, help="raters answering at the same time (adaptive)")
    ap.add_argument("--target", type=float, default=0.95, help="Spearman correlation to reach")
    ap.add_argument("--every", type=int, default=1,
                    help="votes between checkpoints (1: the exact first crossing)")
    ap.add_argument("--horizon", type=int, default=600,
                    help="simulate at least this many votes (for the mean-correlation curve)")
    ap.add_argument("--max-votes", type=int, default=8000)
    ap.add_argument("--sharpness-sd", type=float, default=0.3, help="sd of log rater sharpness")
    ap.add_argument("--content-sd", type=float, default=40.0, help="sd of per-(method, image) effects, Elo")
    ap.add_argument("--tie-threshold", type=float, default=0.35, help="|latent| below this -> tie")
    ap.add_argument("--lapse", default=str(DEFAULT_LAPSE),
                    help="share of random A/B answers, or 'fit': the rate fitted to answers.csv")
    ap.add_argument("--prior", type=float, default=PRIOR_PRECISION,
                    help="prior precision of the adaptive design's posterior (JOD^-2)")
    ap.add_argument("--timing-only", action="store_true", help="only the per-choice timing")
    args = ap.parse_args(argv)
    if args.seeds < 1 or args.seed_offset < 0:
        ap.error(f"--seeds must be >= 1 and --seed-offset >= 0, got {args.seeds} and {args.seed_offset}")

    if args.truth is not None and not args.truth.is_file():
        ap.error(f"--truth {args.truth}: no such file")
    truth_path = args.truth or default_truth()
    try:
        methods, elo, source = load_truth(truth_path)
    except (OSError, UnicodeDecodeError, csv.Error, ValueError) as exc:
        ap.error(f"--truth {exc}")
    print(f"truth: {len(methods)} methods from {source}; Elo {elo.min():.0f}..{elo.max():.0f}")
    answers = truth_path.with_name("answers.csv")
    fitted = None
    if answers.is_file():
        try:
            k, fitted, n_ans = fit_rater_noise(dict(zip(methods, elo)), answers)
        except (KeyError, ValueError, OSError, UnicodeDecodeError, csv.Error) as exc:
            # KeyError: a column missing, or a method the truth does not name
            ap.error(f"{answers}: cannot fit the rater noise ({type(exc).__name__}: {exc})")
        print(f"real answers ({n_ans} in {answers.name}) vs the published Elo: slope {k:.2f}, "
              f"lapse {fitted:.3f} (maximum likelihood)")
    if args.lapse == "fit":
        if fitted is None:
            ap.error(f"--lapse fit needs {answers}")
        args.lapse = fitted
    args.lapse = float(args.lapse)
    print(f"raters: sharpness sd {args.sharpness_sd}, content sd {args.content_sd} Elo, tie threshold "
          f"{args.tie_threshold}, lapse {args.lapse:.3f}; {args.images} images, {args.trials_per_rater} "
          f"trials/rater (10 % golden), adaptive concurrency {args.concurrency}")
    if not args.timing_only:
        seeds = range(args.seed_offset, args.seed_offset + args.seeds)
        jobs = [(s, methods, elo, args) for s in seeds]
        t0 = time.perf_counter()
        if args.jobs > 1:
            with mp.get_context("spawn").Pool(args.jobs) as pool:
                results = pool.map(one_seed, jobs)
        else:
            results = [one_seed(j) for j in jobs]
        wall = time.perf_counter() - t0
        vb, va, wb, wa, wab, miss_b, miss_a, all_times = [], [], [], [], [], 0, 0, []
        for seed, bal, ada, times in results:
            nb, ok_b = votes_to_target(bal, args)
            na, ok_a = votes_to_target(ada, args)
            miss_b += not ok_b
            miss_a += not ok_a
            vb.append(nb)
            va.append(na)
            wb.append(width_at(bal, nb))
            wa.append(width_at(ada, na))
            wab.append(width_at(ada, nb))
            all_times.extend(times)
        vb, va = np.array(vb), np.array(va)
        print(f"\n{args.seeds} seeds ({seeds[0]}-{seeds[-1]}), checkpoints every {args.every} votes, "
              f"{wall:.0f} s wall")
        print(f"{'design':<10}{'votes to rho>=' + str(args.target) + ' (median)':>30}{'[q25, q75]':>16}"
              f"{'not reached':>13}{'median CI width (JOD) there':>30}")
        for name, v, w, miss in (("balanced", vb, wb, miss_b), ("adaptive", va, wa, miss_a)):
            q25, q75 = np.percentile(v, [25, 75])
            print(f"{name:<10}{np.median(v):>30.0f}{f'[{q25:.0f}, {q75:.0f}]':>16}{miss:>13}"
                  f"{np.nanmedian(w):>30.3f}")
        ratio = np.median(va) / np.median(vb)
        lo, hi = ratio_ci(va, vb)
        print(f"adaptive / balanced votes: {ratio:.2f} (ratio of medians; 95 % bootstrap interval over "
              f"seeds [{lo:.2f}, {hi:.2f}]); per-seed ratios median "
              f"{np.median(va / vb):.2f}; ratio of means {va.mean() / vb.mean():.2f} "
              f"({va.mean():.0f} / {vb.mean():.0f})")
        mb = mean_curve_crossing([r[1] for r in results], args)
        ma = mean_curve_crossing([r[2] for r in results], args)
        print(f"votes where the mean correlation over seeds reaches {args.target}: balanced {mb}, "
              f"adaptive {ma}" + (f" (ratio {ma / mb:.2f})" if isinstance(ma, int) and isinstance(mb, int)
                                  and mb else ""))
        print(f"median CI width at the balanced design's votes-to-target: balanced "
              f"{np.nanmedian(wb):.3f}, adaptive {np.nanmedian(wab):.3f} JOD")
        t = np.array(all_times) * 1e3
        print(f"adaptive choice inside the simulation (31 methods, {args.images} images): median "
              f"{np.median(t):.2f} ms, p99 {np.percentile(t, 99):.2f} ms over {t.size} choices")
    timing(args)
    return 0


def timing(args) -> None:
    """Cost of one choice for 30 methods x 50 images: the pure computation and through the store."""
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"\ntiming (load average {load:.1f} on {os.cpu_count()} cores):", end="")
    rng = np.random.default_rng(0)
    n, S = 30, 50
    pairs = list(itertools.combinations(range(n), 2))
    ci, cj = (np.array(x) for x in zip(*pairs))
    P = len(pairs)
    true = rng.normal(0, 2, n)
    counts = np.zeros((P, 3))
    for k in rng.integers(P, size=10000):
        pa = stats.norm.cdf(0.6745 * (true[ci[k]] - true[cj[k]]))
        counts[k, 0 if rng.random() < pa else 1] += 1
    shown = rng.integers(0, 5, (P, S))
    pending = np.zeros(P, dtype=np.int64)
    pending[rng.integers(P, size=20)] += 1
    seen = np.zeros((P, S), bool)
    times = []
    for r in range(200):
        t0 = time.perf_counter()
        choose_trial(n, ci, cj, counts, pending, shown, seen, [r])
        times.append(time.perf_counter() - t0)
    t = np.array(times) * 1e3
    print(f"\nper choice, 30 methods x 50 images, 10000 votes, 20 pending (pure computation): "
          f"median {np.median(t):.2f} ms, p99 {np.percentile(t, 99):.2f} ms (200 choices)")
    store_timing(args)


def store_timing(args, n_methods: int = 30, n_images: int = 50, n_votes: int = 10000,
                 n_choices: int = 100) -> None:
    """One choice through the store (SQLite, temporary): read the inputs, choose, write."""
    from study_app.adaptive_store import AdaptiveChoiceRow, AdaptiveSpace, InputsCache, decide
    from study_app.design import PENDING, PlannedTrial
    from study_app.store import TrialRow, VoteRow, VoteStore, utcnow

    methods = [f"codec/q{k:02d}" for k in range(n_methods)]
    images = [f"img{g:02d}" for g in range(n_images)]
    defn = make_definition(methods, images, 20, 1)
    space = AdaptiveSpace.from_study(defn, {im: (64, 64) for im in images})
    rng = np.random.default_rng(0)
    true = rng.normal(0, 2, n_methods)
    now = utcnow()
    with tempfile.TemporaryDirectory() as tmp:
        store = VoteStore(f"sqlite:///{tmp}/bench.sqlite")
        store.create_schema()
        trials, votes, choices = [], [], []
        for v in range(n_votes):
            rater, idx = f"r{v // 18}", v % 18
            a, b = space.pairs[int(rng.integers(len(space.pairs)))]
            im = images[int(rng.integers(n_images))]
            pa = stats.norm.cdf(0.6745 * (true[methods.index(a)] - true[methods.index(b)]))
            common = {"study": "sim", "rater": rater}
            trials.append({**common, "idx": idx, "image": im, "crop": "", "method_a": a,
                           "method_b": b, "a_left": True, "is_golden": False})
            votes.append({**common, "trial": idx, "session": "", "side": "left",
                          "choice": a if rng.random() < pa else b, "golden_failed": False,
                          "shown_at": now, "answered_at": now, "duration_s": 1.0})
            choices.append({**common, "trial": idx, "image": im, "crop": "", "method_a": a,
                            "method_b": b, "seed": 0, "eig": 0.0, "state": "{}",
                            "created_at": now})
        with store.write() as conn:
            conn.execute(TrialRow.__table__.insert(), trials)
            conn.execute(VoteRow.__table__.insert(), votes)
            conn.execute(AdaptiveChoiceRow.__table__.insert(), choices)
        cache = InputsCache(space, "sqlite")
        times = []
        for k in range(n_choices + 1):
            pending = PlannedTrial(0, PENDING, None, PENDING, PENDING, True, False)
            if k % 2:   # a vote arrives between choices, as in a live study
                with store.write() as conn:
                    conn.execute(VoteRow.__table__.insert(), [{**votes[k], "rater": f"new{k - 1}"}])
                    conn.execute(TrialRow.__table__.insert(), [{**trials[k], "rater": f"new{k - 1}"}])
            t0 = time.perf_counter()
            decide(store, space, f"new{k}", pending, cache=cache)
            times.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        decide(store, space, "cold", pending)
        cold = time.perf_counter() - t0
        store.dispose()
    t = np.array(times[1:]) * 1e3
    print(f"per choice through the store (SQLite; new votes read incrementally, choose, write "
          f"state), {n_methods} methods x {n_images} images, {n_votes} votes: median "
          f"{np.median(t):.1f} ms, p99 {np.percentile(t, 99):.1f} ms ({n_choices} choices); first "
          f"choice of a server process (reads everything): {times[0] * 1e3:.0f} ms; full SQL "
          f"aggregation without the cache: {cold * 1e3:.0f} ms")


if __name__ == "__main__":
    sys.exit(main())
