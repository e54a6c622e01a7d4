"""Adaptive design: pick the comparison with the highest expected information gain (pure maths).

Method (after Mikhailiuk et al., "Active Sampling for Pairwise Comparisons via Approximate
Message Passing and Information Gain Maximization", ICPR 2020 -- "ASAP"; our own code):

* **Model.** Thurstone Case V on the JOD scale, the model ``evalkit report`` fits:
  ``P(i beats j | s) = Phi(z75 * (s_i - s_j))`` with ``z75 = Phi^-1(0.75)``.  "Can't decide"
  counts half a win each way (the report's ``split`` tie policy).
* **Posterior.** A Gaussian ``N(mu, Sigma)`` over all method scores from every vote so far: the
  Laplace approximation -- ``mu`` is the posterior mode under the prior ``N(0, I / prior)``
  (Fisher scoring on the aggregated per-comparison counts), ``Sigma`` the inverse of the
  (expected) information matrix there.  Like ASAP (and unlike online/TrueSkill-style partial
  updates) it is a *full* update: the whole posterior is recomputed from all votes every time.
* **Pending trials** (handed to a rater but not answered yet -- several raters work at once)
  enter as "fantasy" observations: each adds its expected information at the current mean to the
  precision matrix (the mean is left alone), so concurrent raters are steered to different pairs
  instead of all receiving the currently best one (a greedy batch design).
* **Expected information gain** of comparing ``i`` and ``j``: the mutual information between the
  outcome ``y`` and the scores, which equals the expected KL divergence from the current posterior
  to the updated one, ``E_y KL(p(s | y) || p(s))`` (ASAP's criterion).  ``y`` depends on ``s``
  only through ``d = s_i - s_j ~ N(m, v)``, so
  ``EIG = H(Phi(z75 m / sqrt(1 + z75^2 v))) - E_d[H(Phi(z75 d))]`` with ``H`` the binary entropy
  (nats); the expectation is a Gauss-Hermite quadrature, vectorised over all candidate pairs.

Everything here is a pure function of its inputs (counts, pending list, seed): the store records
those inputs with each choice, and :func:`choose_pair` replays them exactly.

Why hand-written: no maintained library offers a Laplace-approximated Thurstone posterior with
an information-gain criterion; :func:`reports.ranking.fit_scores` solves the same likelihood but
densely over all ``N x N`` cells, ~5x slower than this sparse per-comparison version, and the
design has a 50 ms budget per choice.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import special

#: ``Phi^-1(0.75)``: one JOD = 75 % preference (as in :mod:`reports.ranking`).
Z75 = 0.6744897501960817
#: Prior precision on a method's JOD score: sd 1 JOD (a 75 % preference), i.e. most methods of a
#: study within a few JOD of each other.  It shapes only which pairs look informative early on;
#: in bench/study_design.py (31 mucped23 settings, 100 seeds) precisions 0.3, 0.5, 1 and 2 needed
#: 195, 189, 192 and 197 votes (median), the same within noise; reports fit scores with their own
#: weak prior.
PRIOR_PRECISION = 1.0
_GH_T, _GH_W = np.polynomial.hermite.hermgauss(20)
_GH_W = _GH_W / math.sqrt(math.pi)
_LOG_EPS = 1e-300


@dataclass(frozen=True)
class Posterior:
    """Gaussian posterior over method scores (JOD): ``mean`` ``(N,)``, ``cov`` ``(N, N)``."""

    mean: np.ndarray
    cov: np.ndarray
    iterations: int

    @property
    def var(self) -> np.ndarray:
        return np.diag(self.cov).copy()

    def centred_sd(self) -> np.ndarray:
        """Standard deviations of the scores minus their mean (the gauge reports use)."""
        n = self.mean.size
        c = np.eye(n) - 1.0 / n
        return np.sqrt(np.clip(np.diag(c @ self.cov @ c), 0.0, None))


def _pair_info(z: np.ndarray) -> np.ndarray:
    """Expected Fisher information of one probit outcome at ``z = z75 * d`` (per unit of d^2)."""
    logpdf = -0.5 * z * z - 0.5 * math.log(2 * math.pi)
    return Z75 ** 2 * np.exp(2 * logpdf - special.log_ndtr(z) - special.log_ndtr(-z))


def _incidence(n: int, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """``(P, n)`` rows ``e_i - e_j``: differences of scores are ``D @ x``."""
    d = np.zeros((i.size, n))
    rows = np.arange(i.size)
    d[rows, i] = 1.0
    d[rows, j] = -1.0
    return d


def _precision(d: np.ndarray, info: np.ndarray, prior: float) -> np.ndarray:
    """``prior * I + D^T diag(info) D``."""
    h = (d.T * info) @ d
    h.flat[::h.shape[0] + 1] += prior
    return h


def fit_posterior(n: int, i: np.ndarray, j: np.ndarray, wins_i: np.ndarray, wins_j: np.ndarray,
                  *, prior: float = PRIOR_PRECISION, pending_i: np.ndarray | None = None,
                  pending_j: np.ndarray | None = None, tol: float = 1e-7,
                  max_iter: int = 100) -> Posterior:
    """Laplace posterior of ``n`` scores from per-comparison counts (ties already split).

    ``i``, ``j``: method indices of each comparison with votes; ``wins_i``/``wins_j``: (possibly
    fractional) wins of each side.  ``pending_i``/``pending_j``: comparisons handed out but not yet
    answered, added as fantasy observations (precision only).
    """
    i = np.asarray(i, dtype=np.int64)
    j = np.asarray(j, dtype=np.int64)
    wi = np.asarray(wins_i, dtype=float)
    wj = np.asarray(wins_j, dtype=float)
    tot = wi + wj
    d = _incidence(n, i, j)
    x = np.zeros(n)
    it = 0
    for it in range(1, max_iter + 1):
        z = Z75 * (d @ x)
        log_pos, log_neg = special.log_ndtr(z), special.log_ndtr(-z)
        logpdf = -0.5 * z * z - 0.5 * math.log(2 * math.pi)
        # d loglik / d (x_i - x_j), with the inverse Mills ratios phi/Phi(z) and phi/Phi(-z)
        gp = Z75 * (wi * np.exp(logpdf - log_pos) - wj * np.exp(logpdf - log_neg))
        info = tot * Z75 ** 2 * np.exp(2 * logpdf - log_pos - log_neg)   # expected information
        step = np.linalg.solve(_precision(d, info, prior), d.T @ gp - prior * x)
        big = float(np.abs(step).max()) if n else 0.0
        if big > 3.0:                                        # damp wild first steps
            step *= 3.0 / big
        x += step
        if big < tol:
            break
    info = tot * _pair_info(Z75 * (d @ x))
    if pending_i is not None and len(pending_i):
        pi_ = np.asarray(pending_i, np.int64)
        pj_ = np.asarray(pending_j, np.int64)
        d = np.concatenate([d, _incidence(n, pi_, pj_)])
        info = np.concatenate([info, _pair_info(Z75 * (x[pi_] - x[pj_]))])
    cov = np.linalg.inv(_precision(d, info, prior))
    return Posterior(x, 0.5 * (cov + cov.T), it)


def _entropy(p: np.ndarray) -> np.ndarray:
    """Binary entropy in nats."""
    p = np.clip(p, 1e-15, 1 - 1e-15)
    return -(p * np.log(p) + (1 - p) * np.log1p(-p))


def expected_information_gain(post: Posterior, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """EIG (nats) of one more comparison for each candidate pair ``(i[k], j[k])``."""
    i = np.asarray(i, dtype=np.int64)
    j = np.asarray(j, dtype=np.int64)
    m = post.mean[i] - post.mean[j]
    c = post.cov
    v = np.clip(c[i, i] + c[j, j] - 2 * c[i, j], 0.0, None)
    marginal = _entropy(special.ndtr(Z75 * m / np.sqrt(1 + Z75 ** 2 * v)))
    d = m[:, None] + np.sqrt(2 * v)[:, None] * _GH_T[None, :]
    conditional = _entropy(special.ndtr(Z75 * d)) @ _GH_W
    return np.clip(marginal - conditional, 0.0, None)


@dataclass(frozen=True)
class PairChoice:
    """The comparison chosen: index into the candidates, its EIG, and the posterior behind it."""

    index: int
    eig: float
    posterior: Posterior
    eigs: np.ndarray


def choose_pair(n: int, cand_i: np.ndarray, cand_j: np.ndarray, counts: np.ndarray,
                pending: np.ndarray, seed, *, prior: float = PRIOR_PRECISION,
                allowed: np.ndarray | None = None) -> PairChoice:
    """The candidate comparison with the highest EIG.

    ``cand_i``/``cand_j``: method indices of the study's comparisons (``P`` of them).
    ``counts``: ``(P, 3)`` votes per comparison: i chosen, j chosen, ties.  ``pending``: ``(P,)``
    comparisons handed out and not yet answered.  ``allowed``: ``(P,)`` bool mask (e.g. pairs the
    rater still has an unseen stimulus for).  Exact EIG ties (e.g. before any vote) are broken
    uniformly at random with ``seed``.
    """
    cand_i = np.asarray(cand_i, dtype=np.int64)
    cand_j = np.asarray(cand_j, dtype=np.int64)
    counts = np.asarray(counts, dtype=float).reshape(-1, 3)
    pending = np.asarray(pending, dtype=np.int64)
    has = counts.sum(axis=1) > 0
    wi = counts[has, 0] + 0.5 * counts[has, 2]
    wj = counts[has, 1] + 0.5 * counts[has, 2]
    rep = np.repeat(np.arange(cand_i.size), pending)
    post = fit_posterior(n, cand_i[has], cand_j[has], wi, wj, prior=prior,
                         pending_i=cand_i[rep], pending_j=cand_j[rep])
    eigs = expected_information_gain(post, cand_i, cand_j)
    score = eigs.copy()
    if allowed is not None:
        score[~np.asarray(allowed, bool)] = -np.inf
    best = np.flatnonzero(score >= score.max() - 1e-12 * max(1.0, abs(score.max())))
    rng = np.random.default_rng(seed)
    k = int(best[rng.integers(best.size)]) if best.size > 1 else int(best[0])
    return PairChoice(k, float(eigs[k]), post, eigs)


def least_shown(shown: np.ndarray, available: np.ndarray, rng: np.random.Generator) -> int:
    """Index of the least-shown available stimulus of the chosen comparison (ties: random)."""
    shown = np.asarray(shown, dtype=float)
    ok = np.flatnonzero(np.asarray(available, bool))
    if ok.size == 0:
        raise ValueError("no stimulus available")
    low = ok[shown[ok] == shown[ok].min()]
    return int(low[rng.integers(low.size)]) if low.size > 1 else int(low[0])


@dataclass(frozen=True)
class TrialChoice:
    """Comparison ``pair`` (index into the candidates) on stimulus ``item`` (image x crop index)."""

    pair: int
    item: int
    choice: PairChoice


def choose_trial(n: int, cand_i: np.ndarray, cand_j: np.ndarray, counts: np.ndarray,
                 pending: np.ndarray, shown: np.ndarray, seen: np.ndarray, seed, *,
                 prior: float = PRIOR_PRECISION) -> TrialChoice:
    """The next regular trial of a rater: comparison by EIG, then the stimulus.

    ``shown``: ``(P, S)`` times each comparison was handed out on each of the ``S`` stimuli
    (image x crop), over all raters; ``seen``: ``(P, S)`` bool, already in this rater's plan (a
    rater never gets the same stimulus twice).  The comparison is the highest-EIG one among those
    with an unseen stimulus; the stimulus is its least-shown unseen one (so images are spread
    evenly over each comparison's votes; the model has no per-image term).  ``seed`` (an int or a
    sequence of ints) drives both tie-breaks.
    """
    seen = np.asarray(seen, bool)
    allowed = ~seen.all(axis=1)
    if not allowed.any():
        raise ValueError("every stimulus of every comparison is already in this rater's plan")
    rng = np.random.default_rng(seed)
    pick = choose_pair(n, cand_i, cand_j, counts, pending, rng.integers(2**63), prior=prior,
                       allowed=allowed)
    item = least_shown(np.asarray(shown)[pick.index], ~seen[pick.index], rng)
    return TrialChoice(pick.index, item, pick)
