"""LPIPS v0.1 (Zhang et al. 2018) through the ``lpips`` package: ``lpips`` (AlexNet, the
field's default) and ``lpips_vgg`` (VGG16).

Convention: images with values in [0, 255] are mapped to [-1, 1] (``x / 127.5 - 1``) inside,
as the reference code expects; one value per image (spatial average), lower is better.  No
gradients are kept.

Weights: the ImageNet backbone (torchvision ``alexnet-owt-7be5be79.pth`` /
``vgg16-397923af.pth``) and the v0.1 linear layers (``alex.pth`` / ``vgg.pth``, shipped inside
the ``lpips`` package) are resolved through :mod:`evalkit.weights`.  The ``lpips`` network is
built with a randomly initialised trunk (``pnet_rand=True``, so it never downloads) and both
files are then loaded with their keys checked -- ``lpips`` itself loads the linear layers with
``strict=False``, which would silently accept a wrong file.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import torch

from evalkit.errors import MetricError, WeightsError
from evalkit.metrics.backbones import backbone_features, load_weight_file
from evalkit.metrics.tiled import TiledMetric
from evalkit.metrics.tiling import Tile, level_sizes, trunk_geometry
from evalkit.weights import resolve

#: metric name -> (lpips ``net``, torchvision backbone, catalog name of the linear layers)
VARIANTS: dict[str, tuple[str, str, str]] = {
    "lpips": ("alex", "alexnet", "lpips_v0.1_alex"),
    "lpips_vgg": ("vgg", "vgg16", "lpips_v0.1_vgg"),
}
#: smallest image side each trunk accepts (AlexNet's 11x11/4 conv and pools; VGG's 4 pools).
MIN_SIDE = {"alex": 31, "vgg": 16}


class LPIPSMetric(TiledMetric):
    """Callable ``metric(ref, dist) -> Tensor[N]`` on ``(N, 3, H, W)`` tensors in [0, 255], with
    the two-stage interface of :mod:`evalkit.metrics.two_stage`.

    The ``lpips`` package's forward keeps every layer of both images until the end (7 GB for a
    2048x1365 pair with VGG); here the trunk runs slice by slice, crop by crop
    (:mod:`evalkit.metrics.tiled`), and each layer's term is scored as soon as it is produced,
    with the same arithmetic (``lpips.normalize_tensor``, squared difference, the v0.1 linear
    layer, spatial mean -- a float64 sum over the crops' cores divided by the layer's size --,
    sum over layers).  The reference state of a crop is its stack of normalised features.
    """

    def __init__(self, model: torch.nn.Module, name: str, min_side: int) -> None:
        super().__init__()
        self.model = model
        self.name = name
        self.min_side = min_side
        self.slices = [getattr(model.net, f"slice{k + 1}") for k in range(model.L)]
        self.geometry = trunk_geometry(self.slices)
        self.eval()

    def _check(self, x: torch.Tensor) -> None:
        h, w = x.shape[-2:]
        if min(h, w) < self.min_side:
            raise MetricError(f"{self.name} needs images whose short side is at least "
                              f"{self.min_side} px, got {w}x{h}")

    def _sizes(self, height: int, width: int) -> list[tuple[int, int]]:
        return level_sizes(self.slices, height, width)

    def _layers(self, x: torch.Tensor, tile: Tile, sizes):
        """Yield the normalised core features of each trunk layer of a crop in [0, 255]."""
        import lpips as lpips_pkg

        h = self.model.scaling_layer(x / 127.5 - 1.0)
        for k, part in enumerate(self.slices):
            h = part(h)
            ys, xs = tile.core(self.geometry.strides[k], *sizes[k])
            yield lpips_pkg.normalize_tensor(h[:, :, ys, xs])

    def _reference_crop(self, x: torch.Tensor, tile: Tile, sizes) -> list[torch.Tensor]:
        return list(self._layers(x, tile, sizes))

    def _new_totals(self, n: int, device: torch.device) -> torch.Tensor:
        return torch.zeros(n, dtype=torch.float64, device=device)

    def _score_crop(self, ref_state, y, tile, sizes, totals, rows) -> None:
        for k, feat in enumerate(self._layers(y, tile, sizes)):
            if feat.numel() == 0:  # the last crop's core can be empty at a deep layer
                continue
            term = self.model.lins[k](feat.sub_(ref_state[k]).square_())
            del feat
            totals[rows] += term.sum([1, 2, 3]).to(torch.float64) / (sizes[k][0] * sizes[k][1])

    def _finish(self, totals: torch.Tensor) -> torch.Tensor:
        return totals


def _load_linear_layers(model: torch.nn.Module, file: Path) -> None:
    state = load_weight_file(file)
    # ``lins.<k>`` are the same modules as ``lin<k>`` (a ModuleList view); files use ``lin<k>``.
    expected = {k for k in model.state_dict() if k.startswith("lin") and not k.startswith("lins.")}
    if set(state) != expected:
        raise WeightsError(f"{file}: is not an LPIPS v0.1 linear-layer file for this network "
                           f"(unexpected keys {sorted(set(state) - expected)[:3]}, "
                           f"missing keys {sorted(expected - set(state))[:3]})")
    current = model.state_dict()
    for key in sorted(expected):
        if tuple(state[key].shape) != tuple(current[key].shape):
            raise WeightsError(f"{file}: is not an LPIPS v0.1 linear-layer file for this network "
                               f"({key} has shape {tuple(state[key].shape)}, expected "
                               f"{tuple(current[key].shape)})")
    model.load_state_dict(state, strict=False)


def _load_trunk(model: torch.nn.Module, arch: str, path: str | Path | None) -> None:
    # lpips splits torchvision's ``features`` into slices keeping the layer indices as names,
    # so ``net.sliceK.<i>.<param>`` is torchvision's ``features.<i>.<param>``.
    src = backbone_features(arch, path).state_dict()
    mapped = {}
    for key in model.net.state_dict():
        _slice, idx, param = key.split(".", 2)
        mapped[key] = src[f"{idx}.{param}"]
    model.net.load_state_dict(mapped, strict=True)


def build_lpips(name: str = "lpips", device: str | torch.device = "cpu",
                backbone_path: str | Path | None = None,
                linear_path: str | Path | None = None) -> LPIPSMetric:
    """Ready LPIPS metric ``name`` (``lpips`` or ``lpips_vgg``) on ``device``.

    Args:
        backbone_path: explicit torchvision backbone file (else the weights resolution order).
        linear_path: explicit v0.1 linear-layer file (else resolved; the ``lpips`` package
            copy is the last place looked).

    Raises:
        WeightsError: a file is missing (the message names it, its URL and the directory to
            put it in), has the wrong hash, or is not the expected network.
    """
    if name not in VARIANTS:
        raise MetricError(f"LPIPS variant must be one of {sorted(VARIANTS)}, got {name!r}")
    net, arch, linear_name = VARIANTS[name]
    linear_file = resolve(linear_name, linear_path)
    import lpips as lpips_pkg

    with warnings.catch_warnings():
        # lpips still passes torchvision's deprecated ``pretrained=`` flag (False here).
        warnings.filterwarnings("ignore", category=UserWarning, module="torchvision")
        model = lpips_pkg.LPIPS(net=net, version="0.1", pretrained=False, pnet_rand=True,
                                verbose=False)
    _load_linear_layers(model, linear_file)
    _load_trunk(model, arch, backbone_path)
    model.eval()
    model.requires_grad_(False)
    return LPIPSMetric(model, name, MIN_SIDE[net]).to(device)
