"""The mathematics of FID and KID on feature matrices (no network, no images).

Layered API: :func:`frechet_distance` (Gaussian statistics) <- :func:`fid_from_features`
(feature matrices) <- :mod:`evalkit.metrics.fid` (images).  Likewise :func:`kid_from_features`.

Conventions follow torchmetrics (``FrechetInceptionDistance``, ``KernelInceptionDistance``), which
evalkit's tests check against:

* FID: mean and covariance (``ddof = 1``) in float64;
  ``FID = |mu1 - mu2|^2 + Tr(S1) + Tr(S2) - 2 Tr((S1 S2)^{1/2})``.
* KID: the unbiased MMD^2 estimator with the polynomial kernel
  ``k(x, y) = (gamma <x, y> + coef)^degree`` (``gamma = 1/D``, ``coef = 1``, ``degree = 3``),
  averaged over ``subsets`` random subsets of ``subset_size`` samples drawn without replacement
  from each side, independently per subset, by ``torch.randperm`` (reference side first).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from evalkit.errors import MetricError


def _as_features(f: np.ndarray | torch.Tensor, what: str) -> np.ndarray:
    if isinstance(f, torch.Tensor):
        f = f.detach().cpu().numpy()
    f = np.asarray(f)
    if f.ndim != 2 or not np.issubdtype(f.dtype, np.number):
        raise MetricError(f"{what} must be a numeric (N, D) feature matrix, got shape {f.shape}")
    if not np.all(np.isfinite(f)):
        raise MetricError(f"{what} must be finite, got NaN or inf values")
    return f.astype(np.float64, copy=False)


def feature_stats(features: np.ndarray | torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """``(mean, covariance)`` of an ``(N, D)`` feature matrix (float64, ``ddof = 1``, N >= 2)."""
    f = _as_features(features, "features")
    if f.shape[0] < 2:
        raise MetricError(f"FID needs at least 2 samples per set, got {f.shape[0]}")
    return f.mean(axis=0), np.cov(f, rowvar=False, ddof=1).reshape(f.shape[1], f.shape[1])


def _sqrt_psd(a: np.ndarray) -> np.ndarray:
    w, v = np.linalg.eigh(a)
    return (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray,
                     sigma2: np.ndarray) -> float:
    """Fréchet distance between ``N(mu1, sigma1)`` and ``N(mu2, sigma2)``.

    ``Tr((S1 S2)^{1/2})`` is computed as ``sum(sqrt(eig(S1^{1/2} S2 S1^{1/2})))``: that matrix is
    similar to ``S1 S2`` (same eigenvalues) but symmetric positive semi-definite, so symmetric
    eigen-solvers apply and no complex round-off parts appear (hand-written for that reason;
    ``scipy.linalg.sqrtm`` of the non-symmetric product is slower and less stable).
    """
    mu1, mu2 = np.asarray(mu1, np.float64), np.asarray(mu2, np.float64)
    s1, s2 = np.asarray(sigma1, np.float64), np.asarray(sigma2, np.float64)
    d = mu1.shape[0] if mu1.ndim == 1 else -1
    if mu1.ndim != 1 or mu2.shape != (d,) or s1.shape != (d, d) or s2.shape != (d, d):
        raise MetricError(f"means must be (D,) and covariances (D, D) of one D, got "
                          f"{mu1.shape}, {s1.shape}, {mu2.shape}, {s2.shape}")
    sq1 = _sqrt_psd(s1)
    m = sq1 @ s2 @ sq1
    eig = np.linalg.eigvalsh((m + m.T) / 2)
    tr_covmean = float(np.sqrt(np.clip(eig, 0.0, None)).sum())
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(s1) + np.trace(s2) - 2.0 * tr_covmean)


def fid_from_features(ref_features: np.ndarray | torch.Tensor,
                      dist_features: np.ndarray | torch.Tensor) -> float:
    """FID between two ``(N, D)`` feature matrices (each N >= 2).

    With fewer samples than dimensions (the usual case for patch FID on a small test set) the
    trace term is computed from the centred features ``A`` (n1 x D) and ``B`` (n2 x D) instead
    of the D x D covariances: ``S1 S2`` has the same non-zero eigenvalues as ``C C^T`` with
    ``C = A B^T / sqrt((n1 - 1)(n2 - 1))``, so ``Tr((S1 S2)^{1/2})`` is the sum of the singular
    values of ``C`` -- an n1 x n2 problem instead of two D x D eigendecompositions.  Both
    paths compute the same quantity (the tests check them against each other).
    """
    a = _as_features(ref_features, "reference features")
    b = _as_features(dist_features, "reconstruction features")
    if a.shape[1] != b.shape[1]:
        raise MetricError(f"feature dimensions differ: {a.shape[1]} vs {b.shape[1]}")
    n1, n2, d = a.shape[0], b.shape[0], a.shape[1]
    if min(n1, n2) < 2:
        raise MetricError(f"FID needs at least 2 samples per set, got {n1} and {n2}")
    if max(n1, n2) >= d:
        mu1, s1 = feature_stats(a)
        mu2, s2 = feature_stats(b)
        return frechet_distance(mu1, s1, mu2, s2)
    mu1, mu2 = a.mean(axis=0), b.mean(axis=0)
    ac, bc = a - mu1, b - mu2
    tr1 = float((ac * ac).sum()) / (n1 - 1)
    tr2 = float((bc * bc).sum()) / (n2 - 1)
    sv = np.linalg.svd(ac @ bc.T, compute_uv=False)
    tr_covmean = float(sv.sum()) / np.sqrt((n1 - 1) * (n2 - 1))
    diff = mu1 - mu2
    return float(diff @ diff + tr1 + tr2 - 2.0 * tr_covmean)


@dataclass(frozen=True)
class KIDResult:
    """KID over random subsets.

    Attributes:
        mean: the KID value (mean of the per-subset unbiased MMD^2 estimates).
        std: population standard deviation (``ddof = 0``, as torchmetrics) of the per-subset
            estimates -- their spread, not a standard error of ``mean``.
        subsets: number of subsets drawn.
        subset_size: samples per subset and side (after adapting to the set sizes).
        seed: seed of the ``torch.Generator`` that drew the subsets.
        n_ref, n_dist: number of reference / reconstruction samples (patches).
    """

    mean: float
    std: float
    subsets: int
    subset_size: int
    seed: int
    n_ref: int
    n_dist: int


def poly_kernel(x: torch.Tensor, y: torch.Tensor, degree: int = 3, gamma: float | None = None,
                coef: float = 1.0) -> torch.Tensor:
    """``(gamma * x @ y.T + coef) ** degree`` with ``gamma = 1 / D`` by default."""
    g = 1.0 / x.shape[1] if gamma is None else gamma
    return (x @ y.T * g + coef) ** degree


def mmd2_unbiased(k_xx: torch.Tensor, k_xy: torch.Tensor, k_yy: torch.Tensor) -> torch.Tensor:
    """Unbiased MMD^2 from the three kernel matrices of two equal-size samples (m >= 2)."""
    m = k_xx.shape[0]
    sum_xx = k_xx.sum() - torch.diagonal(k_xx).sum()
    sum_yy = k_yy.sum() - torch.diagonal(k_yy).sum()
    return (sum_xx + sum_yy) / (m * (m - 1)) - 2.0 * k_xy.sum() / (m * m)


#: Above this many samples per side, kernel matrices are computed per subset instead of once.
_GRAM_LIMIT = 4096


def _check_int(name: str, value: object, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise MetricError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def kid_from_features(ref_features: np.ndarray | torch.Tensor,
                      dist_features: np.ndarray | torch.Tensor, subsets: int = 100,
                      subset_size: int = 1000, degree: int = 3, gamma: float | None = None,
                      coef: float = 1.0, seed: int = 0) -> KIDResult:
    """KID between two ``(N, D)`` feature matrices, in float64.

    The subset size adapts to the data: ``m = min(subset_size, n_ref, n_dist)`` (KID needs
    ``m >= 2``), so small sets are measured on all their samples instead of failing.  Subsets
    are drawn by a ``torch.Generator`` seeded with ``seed``: per subset, ``randperm(n_ref)``
    then ``randperm(n_dist)``, first ``m`` indices of each -- the same draws torchmetrics makes
    from the global generator after ``torch.manual_seed(seed)``.
    """
    subsets = _check_int("subsets", subsets, 1)
    subset_size = _check_int("subset_size", subset_size, 2)
    degree = _check_int("degree", degree, 1)
    seed = _check_int("seed", seed, 0)
    fr = torch.from_numpy(_as_features(ref_features, "reference features"))
    fd = torch.from_numpy(_as_features(dist_features, "reconstruction features"))
    if fr.shape[1] != fd.shape[1]:
        raise MetricError(f"feature dimensions differ: {fr.shape[1]} vs {fd.shape[1]}")
    n_ref, n_dist = fr.shape[0], fd.shape[0]
    m = min(subset_size, n_ref, n_dist)
    if m < 2:
        raise MetricError(f"KID needs at least 2 samples per set, got {n_ref} and {n_dist}")
    gen = torch.Generator().manual_seed(seed)
    small = max(n_ref, n_dist) <= _GRAM_LIMIT
    if small:  # every kernel value once; subsets index into the Gram matrices
        k_rr = poly_kernel(fr, fr, degree, gamma, coef)
        k_dd = poly_kernel(fd, fd, degree, gamma, coef)
        k_rd = poly_kernel(fr, fd, degree, gamma, coef)
    values = []
    for _ in range(subsets):
        ir = torch.randperm(n_ref, generator=gen)[:m]
        idd = torch.randperm(n_dist, generator=gen)[:m]
        if small:
            v = mmd2_unbiased(k_rr[ir][:, ir], k_rd[ir][:, idd], k_dd[idd][:, idd])
        else:
            x, y = fr[ir], fd[idd]
            v = mmd2_unbiased(poly_kernel(x, x, degree, gamma, coef),
                              poly_kernel(x, y, degree, gamma, coef),
                              poly_kernel(y, y, degree, gamma, coef))
        values.append(v)
    vals = torch.stack(values)
    return KIDResult(mean=float(vals.mean()), std=float(vals.std(unbiased=False)),
                     subsets=subsets, subset_size=m, seed=seed, n_ref=n_ref, n_dist=n_dist)
