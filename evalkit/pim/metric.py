"""The ``pim`` (PIM-1) and ``pim5`` (PIM-5) metrics in evalkit's registry.

Both load the PyTorch file made by ``evalkit weights convert-pim pim-N.zip`` (catalog entries
``pim-1-converted`` / ``pim-5-converted``) through :func:`evalkit.weights.resolve`.  Inputs as
for every pair metric: float ``(N, 3, H, W)`` in [0, 255]; PIM sees sRGB in [0, 1] (``/ 255``,
nothing else, as the official README does).  Any image size works.  Lower is better.

``pim5`` is a Monte-Carlo estimate; ``build(seed=0, samples=1)`` fixes its randomness (see
:mod:`evalkit.pim.distance`): the same pair and seed always give the same value.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch

import evalkit.pim.model as model_mod
from evalkit.errors import MetricError, WeightsError
from evalkit.metrics.tensors import check_same_shape
from evalkit.pim import nnpack
from evalkit.pim.convert import load_converted
from evalkit.pim.model import TILE, PIMNet
from evalkit.pim.stream import gaussian_distance_features, sampled_distance_features
from evalkit.pim.tiles import map_jobs

#: Largest image (pixels) whose reconstructions are scored as parallel jobs; larger ones go one
#: at a time (each job holds its own pyramid, CNN outputs, PIM-5 draws and NNPACK buffers:
#: ~0.4 GB per job for 2048x1365).
PARALLEL_RECON_PIXELS = 1 << 20

#: Default budget of PIM-5's reference-side memo (MB): all levels of a Kodak-size image
#: (768x512, ~370 MB); for larger images, the smaller levels.
MEMO_MB = 400


@dataclass(frozen=True)
class PIMReference:
    """A reference image's state for :meth:`PIMMetric.score_batch`: its size and, per pyramid
    level, the CNN output ``(1, 3, h_i, w_i)`` on the metric's device (about 44 bytes per
    image pixel).  The per-pixel encoders are re-run from it when scoring, except that PIM-5
    memoises the reference's encodings and draws once a second reconstruction is scored
    (within the metric's ``memo_mb``)."""

    height: int
    width: int
    features: list[torch.Tensor]
    #: PIM-5's reference-side memo (see :mod:`evalkit.pim.stream`), filled while scoring.
    memo: dict = field(default_factory=dict, compare=False, repr=False)


class PIMMetric:
    """``metric(ref, dist) -> Tensor[N]`` (float64 on the metric's device), plus the two-stage
    interface ``prepare_reference(ref) -> state`` / ``score_batch(state, dists) -> Tensor[N]``.

    The pair call is ``score_batch(prepare_reference(ref[i]), dist[i])`` for each i, so both
    give the same values.  Images go through the network one at a time (bounded memory; a
    value does not depend on the batch it was computed in) and in tiles (``tile`` output
    pixels per side, see :meth:`PIMNet.level_features`).
    """

    def __init__(self, model: PIMNet, meta: dict, device: str | torch.device = "cpu",
                 seed: int = 0, samples: int = 1, tile: int = TILE, memo_mb: float = MEMO_MB) -> None:
        self.device = torch.device(device)
        self.model = model.to(self.device)
        self.meta = meta
        self.seed = int(seed)
        self.samples = int(samples)
        self.tile = int(tile)
        self.memo_bytes = int(memo_mb * 2**20)
        if self.samples < 1 or self.tile < 1:
            raise MetricError(f"PIM samples and tile must be >= 1, got samples={samples}, tile={tile}")

    def _check(self, images: torch.Tensor, what: str) -> None:
        if images.ndim != 4 or images.shape[1] != 3 or min(images.shape[2:]) < 1:
            raise MetricError(f"PIM {what} must be float (N, 3, H, W) in [0, 255], got shape "
                              f"{tuple(images.shape)}")

    def _levels(self, image: torch.Tensor) -> list[torch.Tensor]:
        # One memory layout whatever the caller's strides: convolution results may differ in
        # the last bits between layouts, and identical images must give exactly 0.  The
        # pyramid always runs single-threaded (results may depend on the thread count; and a
        # small operator's threads only wait for each other on a busy machine).
        x = image.to(self.device, torch.float32).div(255.0).contiguous()
        if self.device.type != "cpu" or nnpack.in_job():
            return self.model.pyramid(x)
        with nnpack.single_threaded(torch.get_num_threads()):
            return self.model.pyramid(x)

    def _features(self, image: torch.Tensor) -> list[torch.Tensor]:
        return self.model.level_cnns(self._levels(image), self.tile)

    @torch.inference_mode()
    def prepare_reference(self, ref: torch.Tensor) -> PIMReference:
        """Run the network on ``ref`` (1, 3, H, W) in [0, 255] once."""
        self._check(ref, "reference")
        if ref.shape[0] != 1:
            raise MetricError(f"PIM reference must be one image (1, 3, H, W), got {tuple(ref.shape)}")
        return PIMReference(int(ref.shape[2]), int(ref.shape[3]), self._features(ref))

    @torch.inference_mode()
    def score_batch(self, state: PIMReference, dists: torch.Tensor) -> torch.Tensor:
        """PIM of each reconstruction in ``dists`` (N, 3, H, W) against the prepared reference.

        On CPU with several threads (:data:`evalkit.pim.model.PARALLEL`), the distances run as
        single-threaded jobs and reconstructions after the first run as parallel jobs
        (:func:`evalkit.pim.tiles.map_jobs`; up to :data:`PARALLEL_RECON_PIXELS`, larger images
        one at a time with parallel tiles); each value is computed by the same code either way.
        """
        self._check(dists, "reconstructions")
        if tuple(dists.shape[2:]) != (state.height, state.width):
            raise MetricError(f"PIM reconstructions must have the reference's size "
                              f"{state.width}x{state.height}, got {dists.shape[3]}x{dists.shape[2]}")
        n = dists.shape[0]
        # PIM-5 memo from the second reconstruction of a reference on (a pair call scores one)
        uses = state.memo.setdefault("uses", 0)
        state.memo["uses"] = uses + n
        budget = self.memo_bytes if uses or n > 1 else 0
        workers = torch.get_num_threads() if self.device.type == "cpu" and model_mod.PARALLEL else 1
        if workers <= 1:
            return torch.cat([self._distance(state, self._features(dists[k:k + 1]), budget)
                              for k in range(n)])
        # the first reconstruction's network runs with parallel tiles; its distance (which
        # fills the memo) and every later reconstruction as single-threaded jobs
        first = self._features(dists[:1])
        values = map_jobs(lambda f: self._distance(state, f, budget), [first], workers)
        del first
        if state.height * state.width <= PARALLEL_RECON_PIXELS:
            values += map_jobs(lambda k: self._distance(state, self._features(dists[k:k + 1]), 0),
                               list(range(1, n)), workers)
        else:  # one reconstruction at a time: the memory of one, as in the pair call
            for k in range(1, n):
                values += map_jobs(lambda f: self._distance(state, f, 0),
                                   [self._features(dists[k:k + 1])], workers)
        return torch.cat(values)

    def _distance(self, state: PIMReference, feats: list[torch.Tensor], memo_bytes: int) -> torch.Tensor:
        if self.model.cfg.num_mixtures == 1:
            return gaussian_distance_features(self.model.encoders, state.features, feats)
        return sampled_distance_features(self.model.encoders, state.features, feats, seed=self.seed,
                                         samples=self.samples, memo=state.memo, memo_bytes=memo_bytes)

    def __call__(self, ref: torch.Tensor, dist: torch.Tensor) -> torch.Tensor:
        check_same_shape(ref, dist)
        self._check(ref, "images")
        return torch.cat([self.score_batch(self.prepare_reference(ref[n:n + 1]), dist[n:n + 1])
                          for n in range(ref.shape[0])])


def missing_weights_message(name: str, weights_path: str | Path | None = None) -> str:
    """How to get ``<name>.pt``: fetch or import the official archive, then convert it."""
    from evalkit.weights import candidates, get_weight_file, weights_dir

    where = ", ".join(str(c) for c in candidates(get_weight_file(f"{name}-converted"), weights_path))
    return (f"{name}.pt (the converted {name.upper()} weights, needed by "
            f"{'pim' if name == 'pim-1' else 'pim5'}) not found; looked in: {where}. "
            f"Get the official archive {name}.zip (`evalkit weights fetch {name}` where there is "
            f"internet, or copy it here and `evalkit weights import {name}.zip`), then run "
            f"`evalkit weights convert-pim {name}.zip` to write {weights_dir() / (name + '.pt')}")


def build_pim(name: str, device: str | torch.device = "cpu", weights_path: str | Path | None = None,
              seed: int = 0, samples: int = 1, tile: int = TILE, memo_mb: float = MEMO_MB,
              **_: object) -> PIMMetric:
    """Load ``<name>.pt`` (``name`` = "pim-1" or "pim-5") and return the ready metric."""
    from evalkit.weights import resolve

    try:
        path = resolve(f"{name}-converted", path=weights_path)
    except WeightsError as exc:
        raise WeightsError(missing_weights_message(name, weights_path)) from exc
    model, meta = load_converted(path, expect_name=name)
    return PIMMetric(model, meta, device=device, seed=seed, samples=samples, tile=tile,
                     memo_mb=memo_mb)
