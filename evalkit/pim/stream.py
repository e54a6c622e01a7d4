"""PIM distances streamed from per-level CNN outputs (what :class:`evalkit.pim.metric.PIMMetric`
uses): the per-pixel encoders and the distances run over chunks of rows, so no level's
50-channel PIM-5 encoding is ever held whole, and the values equal those of
:mod:`evalkit.pim.distance` on whole encodings (same random numbers, same order).

PIM-5 per chunk evaluates the four log-densities it needs -- log qx and log qy at z ~ qx and
at z ~ qy -- each vectorised over the mixture components (:func:`evalkit.pim.distance._log_mix`),
instead of several small tensor operations per component.

Reference-side memo (reference-major scoring): everything of the reference x that does not
depend on the reconstruction -- its encodings, its draws z ~ qx and the pixel sums of
log qx(zx) -- can be kept in a ``memo`` dict and reused for every further reconstruction of
that reference.  The random numbers are unchanged: every pair still starts from ``seed``, so
its draws from qx are the same whatever the reconstruction, and reusing them is the same
computation, not a statistical shortcut.  Levels are memoised from the smallest up while
``memo_bytes`` allows (about 260 bytes per level pixel and sample for PIM-5).

Generator positions: qy's draws follow all of qx's in the stream.  The position after qx's
draws depends only on (seed, samples, level sizes), so it is computed once per such key
(by drawing and dropping) and remembered (:func:`_y_start`), instead of once per pair.
"""

from __future__ import annotations

import functools

import torch

from evalkit.errors import MetricError
from evalkit.pim.distance import _draws, _flatten_pixels, _log_mix, _sample_with

#: Pixels per chunk when the encoders and distances run over a level (bounds the memory of the
#: 50-channel PIM-5 encodings and of the log-density temporaries).
CHUNK_PIXELS = 1 << 16


def _row_chunks(h: int, w: int) -> list[tuple[int, int]]:
    """Row spans of about :data:`CHUNK_PIXELS` pixels; a span's pixels are contiguous in
    row-major order, so it indexes the per-level random numbers directly."""
    step = max(1, CHUNK_PIXELS // max(w, 1))
    return [(r, min(r + step, h)) for r in range(0, h, step)]


def _check_features(feats_x: list[torch.Tensor], feats_y: list[torch.Tensor]) -> None:
    if len(feats_x) != len(feats_y) or any(a.shape != b.shape for a, b in zip(feats_x, feats_y)):
        raise MetricError(f"PIM features must have equal shapes per level, got "
                          f"{[tuple(a.shape) for a in feats_x]} and {[tuple(b.shape) for b in feats_y]}")


def gaussian_distance_features(encoders, feats_x: list[torch.Tensor],
                               feats_y: list[torch.Tensor]) -> torch.Tensor:
    """PIM-1 from per-level CNN outputs (see :meth:`evalkit.pim.model.PIMNet.features`):
    ``(N,)`` float64, equal to :func:`~evalkit.pim.distance.gaussian_distance` of the
    encodings, with the encoders run chunk by chunk and the squared differences summed in
    float64."""
    _check_features(feats_x, feats_y)
    per_level = []
    for enc, fx, fy in zip(encoders, feats_x, feats_y):
        n, _, h, w = fx.shape
        total = torch.zeros(n, dtype=torch.float64, device=fx.device)
        for r0, r1 in _row_chunks(h, w):
            mx, _ = enc(fx[:, :, r0:r1])
            my, _ = enc(fy[:, :, r0:r1])
            total += mx.sub_(my).square_().flatten(1).sum(dim=1, dtype=torch.float64)
        per_level.append(total / (enc.nz * enc.nmix * h * w))
    return torch.stack(per_level).mean(dim=0)


@functools.lru_cache(maxsize=16)
def _y_start(seed: int, samples: int, levels: tuple[tuple[int, int], ...]) -> torch.Tensor:
    """The CPU generator state after all of qx's draws (``levels``: (nz, pixels) per level)."""
    gen = torch.Generator(device="cpu").manual_seed(seed)
    for nz, npix in levels:
        _draws(samples, nz, npix, gen)
    return gen.get_state()


def _encode(enc, f: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """One image's chunk (1, C, h, w) -> means (nmix, nz, P), log weights (nmix, P)."""
    means, logits = enc(f)
    return _flatten_pixels(means[0], logits[0])


def _log_sum(z: torch.Tensor, mu: torch.Tensor, log_weights: torch.Tensor) -> torch.Tensor:
    """(S,) float64: the pixel sum of log q(z) (one mixture; no stacking of two, whose copies
    cost more than the separate calls)."""
    return _log_mix(z, mu[None], log_weights[None])[:, 0].sum(dim=1, dtype=torch.float64)


def _x_side(enc, fx: torch.Tensor, ux: torch.Tensor, nx: torch.Tensor):
    """The reference's part of one chunk: means, log weights and draws z ~ qx."""
    mx, lx = _encode(enc, fx)
    return mx, lx, _sample_with(mx, lx, ux, nx)


def sampled_distance_features(encoders, feats_x: list[torch.Tensor], feats_y: list[torch.Tensor],
                              seed: int = 0, samples: int = 1, memo: dict | None = None,
                              memo_bytes: int = 0) -> torch.Tensor:
    """PIM-5 from per-level CNN outputs: ``(N,)`` float64, the same estimate (same random
    numbers, same order) as :func:`~evalkit.pim.distance.sampled_mixture_distance` of the
    encodings.

    ``memo`` (only with one reference image, ``feats_x`` of batch 1): a dict owned by the
    caller for that reference; levels already in it are not recomputed on the reference side,
    and levels are added while their total stays within ``memo_bytes``.
    """
    _check_features(feats_x, feats_y)
    if samples < 1:
        raise MetricError(f"PIM samples must be >= 1, got {samples}")
    if memo is not None and feats_x[0].shape[0] != 1:
        raise MetricError("PIM reference-side memo needs a single reference image")
    levels = tuple((enc.nz, fx.shape[-2] * fx.shape[-1]) for enc, fx in zip(encoders, feats_x))
    out = []
    for n in range(feats_x[0].shape[0]):
        fxs = [f[n:n + 1] for f in feats_x]
        fys = [f[n:n + 1] for f in feats_y]
        out.append(_one_pair(encoders, fxs, fys, seed, samples, levels, memo, memo_bytes))
    return torch.stack(out)


def _one_pair(encoders, fxs, fys, seed, samples, levels, memo, memo_bytes) -> torch.Tensor:
    """One pair's estimate; ``memo`` holds a prefix of levels (``memo["levels"]``, smallest
    first) and the qx generator state where the first level not in it starts."""
    memo = {} if memo is None else memo
    memo.setdefault("levels", {})
    memo.setdefault("bytes", 0)
    gen_x = torch.Generator(device="cpu").manual_seed(seed)
    if "resume" in memo:  # the memoised levels' draws are skipped
        gen_x.set_state(memo["resume"])
    gen_y = torch.Generator(device="cpu")
    gen_y.set_state(_y_start(seed, samples, levels))
    terms_xy, terms_yx = [], []
    for i, (enc, fx, fy) in enumerate(zip(encoders, fxs, fys)):
        h, w = fx.shape[-2:]
        dev = fx.device
        cached = memo["levels"].get(i)
        keep = False
        if cached is None:
            ux, nx = (t.to(dev) for t in _draws(samples, enc.nz, h * w, gen_x))
            need = 4 * h * w * (samples * enc.nz + enc.nmix * (enc.nz + 1))
            keep = i == len(memo["levels"]) and 0 < memo_bytes and memo["bytes"] + need <= memo_bytes
        uy, ny = (t.to(dev) for t in _draws(samples, enc.nz, h * w, gen_y))
        total_xy = torch.zeros(samples, dtype=torch.float64, device=dev)
        total_yx = torch.zeros(samples, dtype=torch.float64, device=dev)
        kept = []
        for k, (r0, r1) in enumerate(_row_chunks(h, w)):
            p0, p1 = r0 * w, r1 * w
            if cached is None:
                mx, lx, zx = _x_side(enc, fx[:, :, r0:r1], ux[:, p0:p1], nx[:, :, p0:p1])
                lqx_zx = None
            else:
                mx, lx, zx, lqx_zx = cached[k]
            my, ly = _encode(enc, fy[:, :, r0:r1])
            zy = _sample_with(my, ly, uy[:, p0:p1], ny[:, :, p0:p1])
            if lqx_zx is None:
                lqx_zx = _log_sum(zx, mx, lx)
            total_xy += lqx_zx - _log_sum(zx, my, ly)
            total_yx += _log_sum(zy, my, ly) - _log_sum(zy, mx, lx)
            if keep:
                kept.append((mx, lx, zx, lqx_zx))
        if keep:
            memo["levels"][i] = kept
            memo["bytes"] += need
            memo["resume"] = gen_x.get_state()
        terms_xy.append(total_xy / (h * w))
        terms_yx.append(total_yx / (h * w))
    return (torch.stack(terms_xy).mean(dim=0) + torch.stack(terms_yx).mean(dim=0)).mean()
