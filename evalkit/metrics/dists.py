"""DISTS (Ding et al. 2020): deep image structure and texture similarity, ``dists``.

Follows the official ``DISTS_pytorch`` code: VGG16 (torchvision ImageNet weights) with its
max-pools replaced by L2 pooling, ImageNet mean/std normalisation of [0, 1] inputs, and the
official alpha/beta weights (``weights.pt``).  Convention: images in [0, 255] are divided by
255 inside; one value per image, lower is better (0 for identical images).

**No hidden resizing**: the official demo script (and piq) shrink images whose short side
exceeds 256 px before scoring; evalkit scores the pixels it is given, at full resolution.
Resize yourself beforehand if you need to reproduce numbers computed that way.

Written here rather than wrapping a package because the reference implementations
(``DISTS_pytorch``, torchmetrics, piq) all fetch the VGG16 backbone inside their constructors,
so none of them can be pointed at a file resolved by :mod:`evalkit.weights`; the tests check
this module against them given the same weights.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from evalkit.errors import WeightsError
from evalkit.metrics.backbones import backbone_features, load_weight_file
from evalkit.metrics.tensors import check_same_shape
from evalkit.metrics.two_stage import ReferenceFeatures, pairwise
from evalkit.weights import resolve

#: channels of the six feature sets (input image + relu1_2 ... relu5_3).
CHANNELS = (3, 64, 128, 256, 512, 512)
#: indices of the max-pool layers of torchvision's ``vgg16().features`` (replaced by L2 pooling).
_POOL_INDICES = (4, 9, 16, 23)
_STAGE_ENDS = (4, 9, 16, 23, 30)
_IMAGENET_MEAN = (0.485, 0.456, 0.406)
_IMAGENET_STD = (0.229, 0.224, 0.225)
_C1 = _C2 = 1e-6


class L2Pooling(torch.nn.Module):
    """sqrt of a 3x3 Hann-weighted blur of x**2 with stride 2 (DISTS's anti-aliased pooling)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        a = np.hanning(5)[1:-1]
        g = torch.tensor(a[:, None] * a[None, :], dtype=torch.float32)
        g = g / g.sum()
        self.register_buffer("filter", g[None, None].repeat(channels, 1, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.conv2d(x * x, self.filter, stride=2, padding=1, groups=x.shape[1])
        return (out + 1e-12).sqrt()


class DISTSMetric(torch.nn.Module):
    """Callable ``metric(ref, dist) -> Tensor[N]`` on ``(N, 3, H, W)`` tensors in [0, 255], with
    the two-stage interface of :mod:`evalkit.metrics.two_stage` (reference state: features,
    means and variances of its six feature sets)."""

    def __init__(self, features: torch.nn.Sequential, alpha: torch.Tensor,
                 beta: torch.Tensor) -> None:
        super().__init__()
        layers = list(features.children())
        stages, start = [], 0
        pool_channels = iter(CHANNELS[1:5])
        for end in _STAGE_ENDS:
            stage = []
            for i in range(start, end):
                stage.append(L2Pooling(next(pool_channels)) if i in _POOL_INDICES else layers[i])
            stages.append(torch.nn.Sequential(*stage))
            start = end
        self.stages = torch.nn.ModuleList(stages)
        self.register_buffer("mean", torch.tensor(_IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(_IMAGENET_STD).view(1, 3, 1, 1))
        self.register_buffer("alpha", alpha.detach().clone().float())
        self.register_buffer("beta", beta.detach().clone().float())
        self.requires_grad_(False)
        self.eval()

    def _features(self, x: torch.Tensor):
        """Yield the six feature sets (the input in [0, 1], then each stage's output)."""
        yield x
        h = (x - self.mean) / self.std
        for stage in self.stages:
            h = stage(h)
            yield h

    def _weights(self) -> tuple[tuple[torch.Tensor, ...], tuple[torch.Tensor, ...]]:
        w_sum = self.alpha.sum() + self.beta.sum()
        return (torch.split(self.alpha / w_sum, CHANNELS, dim=1),
                torch.split(self.beta / w_sum, CHANNELS, dim=1))

    @torch.no_grad()
    def prepare_reference(self, ref: torch.Tensor) -> ReferenceFeatures:
        """Per feature set: the features, their spatial means and variances."""
        stats = []
        for x in self._features(ref.float() / 255.0):
            mx = x.mean([2, 3], keepdim=True)
            vx = ((x - mx) ** 2).mean([2, 3], keepdim=True)
            stats.append((x, mx, vx))
        return ReferenceFeatures(torch.empty(ref.shape, device="meta"), stats)

    @torch.no_grad()
    def score_batch(self, state: ReferenceFeatures, dists: torch.Tensor) -> torch.Tensor:
        """DISTS of each reconstruction; each feature set is scored as soon as it is made."""
        check_same_shape(state.image, dists[:1])
        alphas, betas = self._weights()
        structure = texture = 0.0
        for (x, mx, vx), y, a, b in zip(state.features, self._features(dists.float() / 255.0),
                                        alphas, betas):
            my = y.mean([2, 3], keepdim=True)
            s1 = (2 * mx * my + _C1) / (mx ** 2 + my ** 2 + _C1)
            vy = ((y - my) ** 2).mean([2, 3], keepdim=True)
            cov = (x * y).mean([2, 3], keepdim=True) - mx * my
            s2 = (2 * cov + _C2) / (vx + vy + _C2)
            structure = structure + (a * s1).sum(1, keepdim=True)
            texture = texture + (b * s2).sum(1, keepdim=True)
        return (1 - (structure + texture)).reshape(-1).to(torch.float64)

    @torch.no_grad()
    def forward(self, ref: torch.Tensor, dist: torch.Tensor) -> torch.Tensor:
        check_same_shape(ref, dist)
        return pairwise(self, ref, dist)


def load_alpha_beta(path: str | Path | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """The official DISTS ``alpha`` and ``beta`` tensors, each ``(1, 1475, 1, 1)``."""
    file = resolve("dists_alpha_beta", path)
    state = load_weight_file(file)
    shape = (1, sum(CHANNELS), 1, 1)
    for key in ("alpha", "beta"):
        if key not in state or tuple(state[key].shape) != shape:
            got = tuple(state[key].shape) if key in state else "missing"
            raise WeightsError(f"{file}: DISTS weights must hold {key!r} of shape {shape}, "
                               f"got {got}")
    return state["alpha"], state["beta"]


def build_dists(device: str | torch.device = "cpu", backbone_path: str | Path | None = None,
                weights_path: str | Path | None = None) -> DISTSMetric:
    """Ready DISTS metric on ``device`` (weights resolved through :mod:`evalkit.weights`)."""
    alpha, beta = load_alpha_beta(weights_path)
    features = backbone_features("vgg16", backbone_path)
    return DISTSMetric(features, alpha, beta).to(device)
