"""The ``pim`` (PIM-1) and ``pim5`` (PIM-5) metrics in evalkit's registry.

Both load the PyTorch file made by ``evalkit weights convert-pim pim-N.zip`` (catalog entries
``pim-1-converted`` / ``pim-5-converted``) through :func:`evalkit.weights.resolve`.  Inputs as
for every pair metric: float ``(N, 3, H, W)`` in [0, 255]; PIM sees sRGB in [0, 1] (``/ 255``,
nothing else, as the official README does).  Any image size works.  Lower is better.

``pim5`` is a Monte-Carlo estimate; ``build(seed=0, samples=1)`` fixes its randomness (see
:mod:`evalkit.pim.distance`): the same pair and seed always give the same value.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from evalkit.errors import MetricError, WeightsError
from evalkit.metrics.tensors import check_same_shape
from evalkit.pim.convert import load_converted
from evalkit.pim.distance import gaussian_distance_features, sampled_distance_features
from evalkit.pim.model import TILE, PIMNet


@dataclass(frozen=True)
class PIMReference:
    """A reference image's state for :meth:`PIMMetric.score_batch`: its size and, per pyramid
    level, the CNN output ``(1, 3, h_i, w_i)`` on the metric's device (about 44 bytes per
    image pixel).  The cheap per-pixel encoders are re-run from it when scoring."""

    height: int
    width: int
    features: list[torch.Tensor]


class PIMMetric:
    """``metric(ref, dist) -> Tensor[N]`` (float64 on the metric's device), plus the two-stage
    interface ``prepare_reference(ref) -> state`` / ``score_batch(state, dists) -> Tensor[N]``.

    The pair call is ``score_batch(prepare_reference(ref[i]), dist[i])`` for each i, so both
    give the same values.  Images go through the network one at a time (bounded memory; a
    value does not depend on the batch it was computed in) and in tiles (``tile`` output
    pixels per side, see :meth:`PIMNet.level_features`).
    """

    def __init__(self, model: PIMNet, meta: dict, device: str | torch.device = "cpu",
                 seed: int = 0, samples: int = 1, tile: int = TILE) -> None:
        self.device = torch.device(device)
        self.model = model.to(self.device)
        self.meta = meta
        self.seed = int(seed)
        self.samples = int(samples)
        self.tile = int(tile)
        if self.samples < 1 or self.tile < 1:
            raise MetricError(f"PIM samples and tile must be >= 1, got samples={samples}, tile={tile}")

    def _check(self, images: torch.Tensor, what: str) -> None:
        if images.ndim != 4 or images.shape[1] != 3 or min(images.shape[2:]) < 1:
            raise MetricError(f"PIM {what} must be float (N, 3, H, W) in [0, 255], got shape "
                              f"{tuple(images.shape)}")

    def _features(self, image: torch.Tensor) -> list[torch.Tensor]:
        # One memory layout whatever the caller's strides: convolution results may differ in
        # the last bits between layouts, and identical images must give exactly 0.
        x = image.to(self.device, torch.float32).div(255.0).contiguous()
        return self.model.features(x, self.tile)

    @torch.inference_mode()
    def prepare_reference(self, ref: torch.Tensor) -> PIMReference:
        """Run the network on ``ref`` (1, 3, H, W) in [0, 255] once."""
        self._check(ref, "reference")
        if ref.shape[0] != 1:
            raise MetricError(f"PIM reference must be one image (1, 3, H, W), got {tuple(ref.shape)}")
        return PIMReference(int(ref.shape[2]), int(ref.shape[3]), self._features(ref))

    @torch.inference_mode()
    def score_batch(self, state: PIMReference, dists: torch.Tensor) -> torch.Tensor:
        """PIM of each reconstruction in ``dists`` (N, 3, H, W) against the prepared reference."""
        self._check(dists, "reconstructions")
        if tuple(dists.shape[2:]) != (state.height, state.width):
            raise MetricError(f"PIM reconstructions must have the reference's size "
                              f"{state.width}x{state.height}, got {dists.shape[3]}x{dists.shape[2]}")
        values = []
        for n in range(dists.shape[0]):
            feats = self._features(dists[n:n + 1])
            if self.model.cfg.num_mixtures == 1:
                values.append(gaussian_distance_features(self.model.encoders, state.features, feats))
            else:
                values.append(sampled_distance_features(self.model.encoders, state.features, feats,
                                                        seed=self.seed, samples=self.samples))
            del feats
        return torch.cat(values)

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
              seed: int = 0, samples: int = 1, tile: int = TILE, **_: object) -> PIMMetric:
    """Load ``<name>.pt`` (``name`` = "pim-1" or "pim-5") and return the ready metric."""
    from evalkit.weights import resolve

    try:
        path = resolve(f"{name}-converted", path=weights_path)
    except WeightsError as exc:
        raise WeightsError(missing_weights_message(name, weights_path)) from exc
    model, meta = load_converted(path, expect_name=name)
    return PIMMetric(model, meta, device=device, seed=seed, samples=samples, tile=tile)
