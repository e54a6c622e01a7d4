"""Adaptive design: posterior, expected information gain, reproducibility and the store path.

Speed is not tested here (bench/study_design.py prints ms per choice)."""

from __future__ import annotations

import itertools
import json
import shutil

import numpy as np
import pytest
from scipy import special, stats

from evalkit.errors import StudyError
from reports.ranking import fit_scores
from study_app.adaptive import (
    PRIOR_PRECISION,
    Z75,
    Posterior,
    choose_pair,
    choose_trial,
    expected_information_gain,
    fit_posterior,
)
from study_app.definition import load_study
from study_app.design import plan_trials, resolve_choice


def _posterior_3() -> Posterior:
    # three methods: 0 >> 1 measured well, 2 barely measured
    i, j = np.array([0, 1]), np.array([1, 2])
    return fit_posterior(3, i, j, np.array([30.0, 1.0]), np.array([10.0, 0.0]))


# ---- maths ---------------------------------------------------------------------------------

def test_eig_matches_monte_carlo_mutual_information():
    """EIG (1-D quadrature on the score difference) == E_y KL(p(s|y) || p(s)) estimated by Monte
    Carlo over the full 3-D Gaussian, and the same pair wins."""
    post = _posterior_3()
    pairs = np.array(list(itertools.combinations(range(3), 2)))
    eig = expected_information_gain(post, pairs[:, 0], pairs[:, 1])
    rng = np.random.default_rng(0)
    s = rng.multivariate_normal(post.mean, post.cov, size=400_000)
    mc = []
    for a, b in pairs:
        p1 = special.ndtr(Z75 * (s[:, a] - s[:, b]))            # P(a chosen | s)
        m1 = p1.mean()
        with np.errstate(divide="ignore", invalid="ignore"):
            kl = p1 * np.log(p1 / m1) + (1 - p1) * np.log((1 - p1) / (1 - m1))
        mc.append(np.nanmean(kl))
    mc = np.array(mc)
    assert np.allclose(eig, mc, rtol=0.03, atol=2e-4), (eig, mc)
    assert int(np.argmax(eig)) == int(np.argmax(mc))
    assert len(set(np.round(eig, 3))) == 3                        # a case that discriminates


def test_eig_equals_expected_kl_on_a_grid():
    """Brute force in 1-D: Bayes' rule on a fine grid of d, KL of each posterior to the prior."""
    for m, v in ((0.0, 4.0), (1.5, 0.3), (-3.0, 2.0), (0.2, 0.01)):
        post = Posterior(np.array([m, 0.0]), np.array([[v, 0.0], [0.0, 0.0]]), 0)
        eig = expected_information_gain(post, np.array([0]), np.array([1]))[0]
        d = np.linspace(m - 12 * np.sqrt(v), m + 12 * np.sqrt(v), 200_001)
        prior = np.exp(-0.5 * (d - m) ** 2 / v)
        prior /= prior.sum()
        total = 0.0
        for lik in (special.ndtr(Z75 * d), special.ndtr(-Z75 * d)):
            py = (prior * lik).sum()
            postd = prior * lik / py
            ok = postd > 0
            total += py * (postd[ok] * np.log(postd[ok] / prior[ok])).sum()
        assert eig == pytest.approx(total, rel=1e-3, abs=1e-6)


def test_posterior_update_sanity():
    i, j = np.array([0]), np.array([1])
    few = fit_posterior(3, i, j, np.array([4.0]), np.array([0.0]))
    many = fit_posterior(3, i, j, np.array([40.0]), np.array([8.0]))
    assert many.mean[0] > many.mean[1]
    prior_var = 1 / PRIOR_PRECISION
    assert many.var[0] < few.var[0] < prior_var and many.var[1] < few.var[1] < prior_var
    assert many.var[2] == pytest.approx(prior_var)              # never compared: prior
    assert few.iterations >= 2


def test_posterior_mode_is_the_report_thurstone_fit():
    """Same likelihood as `evalkit report --model thurstone`: the modes agree."""
    rng = np.random.default_rng(3)
    n = 5
    W = rng.integers(0, 6, (n, n)).astype(float)
    np.fill_diagonal(W, 0)
    ii, jj = np.triu_indices(n, 1)
    post = fit_posterior(n, ii, jj, W[ii, jj], W[jj, ii], prior=0.05, tol=1e-12)
    x, H = fit_scores(W, "thurstone", prior=0.05, tol=1e-12)
    assert np.allclose(post.mean, x, atol=1e-6)
    assert np.allclose(np.linalg.inv(post.cov), H, atol=1e-6)


def test_pending_comparisons_steer_the_next_choice():
    ci, cj = np.array([0, 0, 1]), np.array([1, 2, 2])
    counts = np.zeros((3, 3))
    free = choose_pair(3, ci, cj, counts, np.zeros(3, int), 0)
    assert np.allclose(free.eigs, free.eigs[0])                  # no data: all pairs equal
    busy = choose_pair(3, ci, cj, counts, np.array([2, 0, 0]), 0)
    assert busy.eigs[0] < busy.eigs[1] and busy.index != 0


def test_choice_is_reproducible_and_seeded():
    rng = np.random.default_rng(1)
    P, S = 6, 4
    ci, cj = np.array([0, 0, 0, 1, 1, 2]), np.array([1, 2, 3, 2, 3, 3])
    counts = rng.integers(0, 5, (P, 3)).astype(float)
    shown = rng.integers(0, 3, (P, S))
    seen = np.zeros((P, S), bool)
    args = (4, ci, cj, counts, np.zeros(P, int), shown, seen)
    a, b = choose_trial(*args, [5, 1]), choose_trial(*args, [5, 1])
    assert (a.pair, a.item) == (b.pair, b.item)
    assert np.array_equal(a.choice.posterior.mean, b.choice.posterior.mean)
    # no votes: every pair ties, so the seed alone decides -- and different seeds differ
    empty = (4, ci, cj, np.zeros((P, 3)), np.zeros(P, int), np.zeros((P, S), int), seen)
    picks = {(t.pair, t.item) for t in (choose_trial(*empty, [s]) for s in range(30))}
    assert len(picks) > 5


def test_stimulus_is_least_shown_and_unseen():
    ci, cj = np.array([0]), np.array([1])
    shown = np.array([[3, 1, 1, 0]])
    seen = np.array([[False, False, False, True]])               # item 3 already in the plan
    items = {choose_trial(2, ci, cj, np.zeros((1, 3)), np.zeros(1, int), shown, seen, [s]).item
             for s in range(20)}
    assert items == {1, 2}
    with pytest.raises(ValueError):
        choose_trial(2, ci, cj, np.zeros((1, 3)), np.zeros(1, int), shown, np.ones((1, 4), bool), 0)


def test_adaptive_ranks_simulated_votes_better_than_chance():
    """A short sequential run against known scores orders them (sanity of the whole loop)."""
    rng = np.random.default_rng(0)
    n = 6
    truth = np.linspace(-2, 2, n)
    pairs = np.array(list(itertools.combinations(range(n), 2)))
    ci, cj = pairs[:, 0], pairs[:, 1]
    counts = np.zeros((len(pairs), 3))
    shown = np.zeros((len(pairs), 1), int)
    for t in range(60):
        pick = choose_trial(n, ci, cj, counts, np.zeros(len(pairs), int), shown,
                            np.zeros((len(pairs), 1), bool), [t])
        a, b = ci[pick.pair], cj[pick.pair]
        counts[pick.pair, 0 if rng.random() < special.ndtr(Z75 * (truth[a] - truth[b])) else 1] += 1
    post = fit_posterior(n, ci, cj, counts[:, 0], counts[:, 1])
    assert stats.spearmanr(post.mean, truth)[0] >= 0.9
    # it spent its votes on close pairs: neighbours got more than the extremes
    per_gap = {abs(int(a) - int(b)): 0 for a, b in pairs}
    for (a, b), c in zip(pairs, counts.sum(axis=1)):
        per_gap[abs(int(a) - int(b))] += c / (n - abs(int(a) - int(b)))
    assert per_gap[1] > per_gap[5]


# ---- study file, plan, store -----------------------------------------------------------------

@pytest.fixture
def adaptive_study(tmp_path):
    from study_fixtures import make_study

    return make_study(tmp_path, trials=6, golden_share=0.2, design="adaptive")


def test_study_file_design_key(adaptive_study, tmp_path):
    from study_fixtures import make_study

    assert load_study(adaptive_study).design == "adaptive"
    assert load_study(make_study(tmp_path / "b")).design == "balanced"     # the default
    bad = make_study(tmp_path / "c", design="clever")
    with pytest.raises(StudyError, match="study.design must be"):
        load_study(bad)


def test_adaptive_plan_has_pending_regular_and_fixed_golden(adaptive_study):
    from study_app.study_check import check_study

    defn = load_study(adaptive_study)
    sizes = check_study(defn).sizes
    seed, trials = plan_trials(defn, sizes, 3)
    assert [t.is_golden for t in trials].count(True) == defn.n_golden
    assert all(t.pending for t in trials if not t.is_golden)
    assert not any(t.pending for t in trials if t.is_golden)
    with pytest.raises(StudyError, match="must be shown"):
        resolve_choice(next(t for t in trials if t.pending), "left")
    assert plan_trials(defn, sizes, 3) == (seed, trials)


def _context(study_file, db):
    from study_app.runtime import open_context

    return open_context(study_file, db)


def _enrol(ctx, rater):
    ctx.store.enroll(ctx.defn.name, rater, source="entered")
    return ctx.store.assign_slot(ctx.defn.name, rater, ctx.plan)   # plan now, not at a first vote


def _answer_all(ctx, rater, pick_side):
    """Show and answer every trial of ``rater`` like the app does; returns the shown trials."""
    shown = []
    for t in ctx.store.trials(ctx.defn.name, rater):
        t = ctx.shown_trial(rater, t)
        assert not t.pending
        shown.append(t)
        res = ctx.store.submit(ctx.defn.name, rater, t.index, pick_side(t))
        assert res.stored
    return shown


def test_store_flow_stores_votes_and_choice_state(adaptive_study, tmp_path):
    from study_app.adaptive_store import choices_frame
    from study_app.export import votes_table

    ctx = _context(adaptive_study, f"sqlite:///{tmp_path / 'v.sqlite'}")
    study = ctx.defn.name
    best = ctx.defn.methods[-1]
    for r in ("alice", "bob", "carol"):
        _enrol(ctx, r)
        shown = _answer_all(ctx, r, lambda t: "left" if t.left == best else "right")
        # a re-shown trial keeps its comparison (refresh, second tab)
        assert ctx.shown_trial(r, ctx.store.trials(study, r)[0]) == shown[0]
    votes = votes_table(ctx.store, study)
    n = ctx.defn.trials_per_rater
    assert len(votes) == 3 * n and not (votes.method_a == "").any()
    assert votes.is_golden.sum() == 3 * ctx.defn.n_golden
    choices = choices_frame(ctx.store, study)
    assert len(choices) == 3 * ctx.defn.n_regular
    regular = votes[~votes.is_golden].merge(choices, on=["rater", "trial"], suffixes=("", "_c"))
    assert len(regular) == len(choices)
    assert (regular.method_a == regular.method_a_c).all() and (regular.image == regular.image_c).all()
    state = json.loads(choices.sort_values("created_at").state.iloc[-1])
    assert set(state) >= {"mean", "var", "inputs_sha256", "seed", "eig", "n_votes", "methods"}
    assert state["n_votes"] > 0 and len(state["mean"]) == len(ctx.defn.methods)
    # the posterior of the last choice already prefers the always-chosen method
    assert state["mean"][state["methods"].index(best)] == max(state["mean"])
    # still one vote per (rater, trial)
    t0 = ctx.store.trials(study, "alice")[0]
    assert not ctx.store.submit(study, "alice", t0.index, "tie").stored
    ctx.store.dispose()
    # evalkit study export --choices: one row per choice, the state as JSON text
    import pandas as pd

    from evalkit.cli import main

    db = f"sqlite:///{tmp_path / 'v.sqlite'}"
    out, ch = tmp_path / "votes.csv", tmp_path / "choices.csv"
    assert main(["study", "export", "--db", db, "--out", str(out), "--choices", str(ch)]) == 0
    table = pd.read_csv(ch, keep_default_na=False)
    assert len(table) == len(choices) and (tmp_path / "choices.csv.json").is_file()
    assert json.loads(table.state.iloc[0])["version"] == 1


def test_incremental_inputs_equal_full_aggregation(adaptive_study, tmp_path):
    """The per-process cache (incremental by row id) sees exactly what SQL aggregation sees."""
    from study_app.adaptive_store import AdaptiveSpace, InputsCache, read_inputs
    from study_app.store import utcnow
    from study_app.study_check import check_study

    ctx = _context(adaptive_study, f"sqlite:///{tmp_path / 'v.sqlite'}")
    space = AdaptiveSpace.from_study(ctx.defn, check_study(ctx.defn).sizes)
    early = InputsCache(space)
    early.warm(ctx.store)                          # empty store
    for r in ("a1", "a2"):
        _enrol(ctx, r)
        _answer_all(ctx, r, lambda t: "tie" if t.index % 3 == 0 else "left")
    _enrol(ctx, "a3")
    for t in ctx.store.trials("tiny", "a3")[:4]:   # handed out, partly answered: pending ones
        t = ctx.shown_trial("a3", t)
        if t.index < 2:
            ctx.store.submit("tiny", "a3", t.index, "right")
    now = utcnow()
    with ctx.store.read() as conn:
        full = read_inputs(conn, space, "a3", now)
        for cache in (early, InputsCache(space), InputsCache(space, "postgresql")):
            got = cache.inputs(conn, "a3", now)
            assert got.digest() == full.digest()
    assert full.counts.sum() > 0 and full.pending.sum() > 0 and full.seen.any()
    ctx.store.dispose()


def test_same_store_state_same_choice(adaptive_study, tmp_path):
    from study_app.adaptive_store import choices_frame

    db = tmp_path / "v.sqlite"
    ctx = _context(adaptive_study, f"sqlite:///{db}")
    _enrol(ctx, "alice")
    _answer_all(ctx, "alice", lambda t: "left")
    _enrol(ctx, "bob")
    ctx.store.dispose()
    copy = tmp_path / "copy.sqlite"
    shutil.copy(db, copy)
    picks = []
    for path in (db, copy):
        c = _context(adaptive_study, f"sqlite:///{path}")
        t = next(t for t in c.store.trials("tiny", "bob") if t.pending)
        shown = c.shown_trial("bob", t)
        row = choices_frame(c.store, "tiny").query("rater == 'bob'").iloc[0]
        state = json.loads(row.state)
        picks.append((shown, row.seed, state["inputs_sha256"], state["mean"], state["var"]))
        c.store.dispose()
    assert picks[0] == picks[1]


def test_unshown_pending_trial_cannot_be_voted_on(adaptive_study, tmp_path):
    ctx = _context(adaptive_study, f"sqlite:///{tmp_path / 'v.sqlite'}")
    _enrol(ctx, "dave")
    t = next(t for t in ctx.store.trials("tiny", "dave") if t.pending)
    with pytest.raises(StudyError):
        ctx.store.submit("tiny", "dave", t.index, "left")
    assert ctx.store.count_votes("tiny") == 0
    ctx.store.dispose()


def test_app_session_with_adaptive_design(adaptive_study, tmp_path, monkeypatch):
    """The Streamlit rater flow on an adaptive study: every trial shown with 3 images, one vote
    each, choices and their state stored, nothing about methods in the page."""
    from pathlib import Path

    from streamlit.testing.v1 import AppTest
    from study_fixtures import CODEC

    from study_app.adaptive_store import choices_frame
    from study_app.export import votes_table
    from study_app.store import VoteStore

    db = f"sqlite:///{tmp_path / 'votes.sqlite'}"
    monkeypatch.setenv("EVALKIT_STUDY_FILE", str(adaptive_study))
    monkeypatch.setenv("EVALKIT_STUDY_DB", db)
    app = str(Path(__file__).resolve().parents[2] / "study_app" / "app.py")
    at = AppTest.from_file(app, default_timeout=60).run()
    at.checkbox(key="consent_box").check().run()
    at.button(key="consent_continue").click().run()
    at.text_input(key="rater_entry").input("erin").run()
    at.button(key="identity_start").click().run()
    n = load_study(adaptive_study).trials_per_rater
    for k in range(n):
        keys = [b.key for b in at.button if b.key and b.key.startswith("t")]
        assert keys, f"no trial shown at step {k}"
        imgs = [h.proto.body for h in at.html if "/media/" in h.proto.body]
        assert len(imgs) == 3
        assert CODEC not in str(imgs)
        at.button(key=keys[0].replace("_left", "_right") if k % 2 else keys[0]).click().run()
        assert not at.exception
    assert not [b for b in at.button if b.key and b.key.startswith("t")]
    store = VoteStore(db)
    votes = votes_table(store, "tiny")
    assert len(votes) == n and votes.trial.is_unique and not (votes.method_a == "").any()
    assert len(choices_frame(store, "tiny")) == n - votes.is_golden.sum()
    store.dispose()
