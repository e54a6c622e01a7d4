"""PIM's network in PyTorch: pyramid -> one CNN per level -> per-pixel encoder q(z|x).

Architecture as in the official TensorFlow code (google-research/perceptual-quality,
``pim/models.py``, ``networks.py``, ``distribution_utils.py``; see ``docs/pim.md``):

* :class:`~evalkit.pim.pyramid.SteerablePyramid` (8 levels for ``nscales=3``);
* per level, 4 convolutions 5x5 'same' (3 -> 64 -> 64 -> 64 -> 3), ReLU after all but the last;
* per level, the marginal encoder, 1x1 layers applied to every pixel: the mean branch
  ``Dense(3 -> nz*nmix) + ReLU, Dense(-> nz*nmix) + ReLU`` whose ReLU output IS the mean (so
  means are >= 0), unit variances; for ``nmix > 1`` a mixing branch
  ``Dense(3 -> nmix) + ReLU, Dense(nmix -> nmix) + ReLU, Dense(nmix -> nmix)`` giving the
  mixture logits.

State-dict names (what :mod:`evalkit.pim.convert` writes):
``cnns.{i}.{2j}.weight/bias`` and ``encoders.{i}.base.{2k}``, ``encoders.{i}.mix.{2k}``,
``encoders.{i}.logit.weight/bias``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from evalkit.errors import WeightsError
from evalkit.pim import nnpack
from evalkit.pim.conv import cnn_plan, conv2d_same
from evalkit.pim.pyramid import SteerablePyramid
from evalkit.pim.tiles import run_levels, tile_jobs

#: Output tile side of the per-level CNNs.  Each tile is computed from its input region grown
#: by :data:`HALO` pixels, so memory stays bounded (no full-resolution 64-channel activation)
#: and the values are those of the whole-image computation (see :meth:`PIMNet.level_features`).
TILE = 256
#: Run the tiles of all levels as parallel jobs (:mod:`evalkit.pim.tiles`) when NNPACK plans
#: apply and ``torch.get_num_threads() > 1``; False = level by level, NNPACK's own threads.
PARALLEL = True


@dataclass(frozen=True)
class PIMConfig:
    """The subset of the official ``config.json`` that shapes the network."""

    num_channels: int = 3
    nscales: int = 3
    num_filters: tuple[int, ...] = (64, 64, 64, 3)
    num_layers: int = 2
    num_mixtures: int = 1
    z_dim: int = 10

    @property
    def num_levels(self) -> int:
        return 2 * self.nscales + 2

    @classmethod
    def from_official(cls, params: dict[str, Any]) -> "PIMConfig":
        """Validate an official ``config.json`` dict and keep what the network needs.

        Raises:
            WeightsError: a setting this implementation does not reproduce.
        """
        fixed = {"multiscale": "Steerable", "steerable_filter_type": 1, "cnn": "Conv",
                 "padding": "same"}
        for key, want in fixed.items():
            got = params.get(key, want)
            if got != want:
                raise WeightsError(f"PIM config {key} must be {want!r}, got {got!r}")
        try:
            cfg = cls(num_channels=int(params.get("num_channels", 3)),
                      nscales=int(params.get("nscales", 3)),
                      num_filters=tuple(int(v) for v in params.get("num_filters", (64, 64, 64, 3))),
                      num_layers=int(params.get("num_distribution_encoder_layers", 2)),
                      num_mixtures=int(params.get("num_marginal_encoder_mixtures", 5)),
                      z_dim=int(params.get("z_dim", 10)))
        except (TypeError, ValueError) as exc:
            raise WeightsError(f"PIM config values must be integers, got {params!r}") from exc
        if cfg.num_channels != 3 or cfg.num_filters[-1] != 3:
            raise WeightsError(f"PIM config must have 3 input and 3 CNN output channels, got "
                               f"num_channels={cfg.num_channels}, num_filters={cfg.num_filters}")
        if cfg.num_layers < 1 or cfg.num_mixtures < 1 or cfg.z_dim < 1 or cfg.nscales < 1:
            raise WeightsError(f"PIM config sizes must be >= 1, got {cfg}")
        return cfg

    def to_official(self) -> dict[str, Any]:
        return {"num_channels": self.num_channels, "multiscale": "Steerable",
                "nscales": self.nscales, "steerable_filter_type": 1, "cnn": "Conv",
                "num_filters": list(self.num_filters), "padding": "same",
                "num_distribution_encoder_layers": self.num_layers,
                "num_marginal_encoder_mixtures": self.num_mixtures, "z_dim": self.z_dim}


def _mlp(widths: list[int], final_relu: bool) -> nn.Sequential:
    """1x1 convolutions (= Keras Dense on the channel axis) with ReLUs between."""
    layers: list[nn.Module] = []
    for k, (a, b) in enumerate(zip(widths[:-1], widths[1:])):
        layers.append(nn.Conv2d(a, b, 1))
        if final_relu or k < len(widths) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


class LevelCNN(nn.Sequential):
    """5x5 'same' convolutions with ReLUs between (:func:`~evalkit.pim.conv.conv2d_same`;
    ReLUs in place: no model here is trained, and a fresh 64-channel buffer per ReLU cost ~10 %
    of the time)."""

    def __init__(self, in_channels: int, filters: tuple[int, ...]) -> None:
        layers: list[nn.Module] = []
        for k, out in enumerate(filters):
            layers.append(nn.Conv2d(in_channels, out, 5, padding=2))
            if k < len(filters) - 1:
                layers.append(nn.ReLU())
            in_channels = out
        super().__init__(*layers)

    @property
    def halo(self) -> int:
        """How far (pixels) an output value depends on inputs around it."""
        return sum(m.kernel_size[0] // 2 for m in self if isinstance(m, nn.Conv2d))

    def plan(self, x: torch.Tensor) -> list | None:
        """The NNPACK plan for input ``x`` (see :func:`~evalkit.pim.conv.cnn_plan`) or None."""
        return cnn_plan([m for m in self if isinstance(m, nn.Conv2d)], x,
                        self.__dict__.setdefault("_plan_cache", {}))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        plan = self.plan(x)
        if plan is not None:  # NNPACK, kernel transforms precomputed, ReLUs fused
            outs = [nnpack.run_plan(plan, x[n:n + 1]) for n in range(x.shape[0])]
            return outs[0] if len(outs) == 1 else torch.cat(outs)
        for layer in self:
            if isinstance(layer, nn.Conv2d):
                x = conv2d_same(x, layer.weight, layer.bias)
            else:
                x = torch.relu_(x) if not torch.is_grad_enabled() else torch.relu(x)
        return x


class MarginalEncoder(nn.Module):
    """Per-pixel q(z|x): ``forward(f) -> (means (N, nmix, nz, H, W), logits (N, nmix, H, W) or None)``."""

    def __init__(self, in_channels: int, cfg: PIMConfig) -> None:
        super().__init__()
        width = cfg.z_dim * cfg.num_mixtures
        self.nmix, self.nz = cfg.num_mixtures, cfg.z_dim
        self.base = _mlp([in_channels] + [width] * cfg.num_layers, final_relu=True)
        if self.nmix > 1:
            self.mix = _mlp([in_channels] + [self.nmix] * cfg.num_layers, final_relu=True)
            self.logit = nn.Conv2d(self.nmix, self.nmix, 1)

    def forward(self, f: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        n, c, h, w = f.shape
        flat = f.reshape(n, c, h * w)
        means = _per_pixel(self.base, flat).reshape(n, self.nmix, self.nz, h, w)
        logits = None
        if self.nmix > 1:
            logits = _per_pixel(self.logit, _per_pixel(self.mix, flat)).reshape(n, self.nmix, h, w)
        return means, logits


def _per_pixel(layers: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """1x1 convolutions (and ReLUs) of ``layers`` on pixels ``x`` (N, C, P), as matrix products
    (PyTorch's 1x1 ``conv2d`` on NCHW took ~10 % of PIM-5's time in its slow im2col path)."""
    for layer in layers.children() if isinstance(layers, nn.Sequential) else (layers,):
        if isinstance(layer, nn.Conv2d):
            w, b = layer.weight[:, :, 0, 0], layer.bias[:, None]
            x = (torch.addmm(b, w, x[0])[None] if x.shape[0] == 1  # bias fused in the GEMM
                 else torch.stack([torch.addmm(b, w, xn) for xn in x]))
        elif torch.is_grad_enabled():
            x = torch.relu(x)
        else:
            x = x.relu_()
    return x


class PIMNet(nn.Module):
    """``forward(x)`` with x ``(N, 3, H, W)`` sRGB in [0, 1] -> per level (means, logits)."""

    def __init__(self, cfg: PIMConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.pyramid = SteerablePyramid(cfg.nscales, cfg.num_channels)
        self.cnns = nn.ModuleList(LevelCNN(cfg.num_channels, cfg.num_filters)
                                  for _ in range(cfg.num_levels))
        self.encoders = nn.ModuleList(MarginalEncoder(cfg.num_filters[-1], cfg)
                                      for _ in range(cfg.num_levels))

    def level_features(self, i: int, level: torch.Tensor, tile: int = TILE) -> torch.Tensor:
        """CNN ``i`` on pyramid level ``level`` (N, 3, h, w), computed in tiles of at most
        ``tile`` x ``tile`` output pixels.

        Each tile's input region is the tile grown by the CNN's halo (8 pixels: four 5x5
        convolutions), clipped at the level's border.  Every convolution zero-pads its region,
        which is exact at the level's border (the official 'same' padding) and only disturbs
        the outer ``halo`` pixels of the region elsewhere -- exactly the ones cropped away.  So
        tiles give the whole-level values (up to float32 summation order) with memory bounded
        by one tile's 64-channel activations.
        """
        cnn = self.cnns[i]
        n, _, h, w = level.shape
        jobs = tile_jobs(h, w, tile, cnn.halo)
        if len(jobs) == 1:
            return cnn(level)
        out = level.new_empty((n, self.cfg.num_filters[-1], h, w))
        for (r0, r1, c0, c1), (a0, a1, b0, b1) in jobs:
            y = cnn(level[:, :, a0:a1, b0:b1])
            out[:, :, r0:r1, c0:c1] = y[:, :, r0 - a0:r1 - a0, c0 - b0:c1 - b0]
        return out

    def features(self, x: torch.Tensor, tile: int = TILE) -> list[torch.Tensor]:
        """Per level the CNN output (N, 3, h_i, w_i) of ``x`` (N, 3, H, W) sRGB in [0, 1]: what
        the encoders read.  Three channels per level, so a reference's features are small
        (~44 bytes per image pixel) while holding all of the network's expensive work.

        With NNPACK plans for every level and more than one thread, the tiles of all levels
        run as parallel jobs (:func:`evalkit.pim.tiles.run_levels`); the values are the same."""
        return self.level_cnns(self.pyramid(x), tile)

    def level_cnns(self, levels: list[torch.Tensor], tile: int = TILE) -> list[torch.Tensor]:
        """The CNN outputs of pyramid ``levels`` (see :meth:`features`)."""
        plans = [cnn.plan(lv) for cnn, lv in zip(self.cnns, levels)]
        workers = torch.get_num_threads() if PARALLEL and not nnpack.in_job() else 1
        if workers > 1 and all(p is not None for p in plans):
            return run_levels(plans, levels, self.cnns[0].halo, tile, self.cfg.num_filters[-1], workers)
        return [self.level_features(i, lv, tile) for i, lv in enumerate(levels)]

    def forward(self, x: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor | None]]:
        return [enc(f) for f, enc in zip(self.features(x), self.encoders)]

