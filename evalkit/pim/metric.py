"""The ``pim`` (PIM-1) and ``pim5`` (PIM-5) metrics in evalkit's registry.

Both load the PyTorch file made by ``evalkit weights convert-pim pim-N.zip`` (catalog entries
``pim-1-converted`` / ``pim-5-converted``) through :func:`evalkit.weights.resolve`.  Inputs as
for every pair metric: float ``(N, 3, H, W)`` in [0, 255]; PIM sees sRGB in [0, 1] (``/ 255``,
nothing else, as the official README does).  Any image size works.  Lower is better.

``pim5`` is a Monte-Carlo estimate; ``build(seed=0, samples=1)`` fixes its randomness (see
:mod:`evalkit.pim.distance`): the same pair and seed always give the same value.
"""

from __future__ import annotations

from pathlib import Path

import torch

from evalkit.errors import WeightsError
from evalkit.metrics.tensors import check_same_shape
from evalkit.pim.convert import load_converted
from evalkit.pim.distance import pim_distance
from evalkit.pim.model import PIMNet


class PIMMetric:
    """Callable ``metric(ref, dist) -> Tensor[N]`` (float64, on CPU)."""

    def __init__(self, model: PIMNet, meta: dict, device: str | torch.device = "cpu",
                 seed: int = 0, samples: int = 1) -> None:
        # channels_last: about 30 % less CPU time for the 5x5 convolutions (measured).
        self.model = model.to(device, memory_format=torch.channels_last)
        self.meta = meta
        self.device = torch.device(device)
        self.seed = int(seed)
        self.samples = int(samples)

    @torch.no_grad()
    def __call__(self, ref: torch.Tensor, dist: torch.Tensor) -> torch.Tensor:
        check_same_shape(ref, dist)
        values = []
        for n in range(ref.shape[0]):  # one image at a time: bounded memory, batch-independent
            x, y = (t[n:n + 1].to(self.device, torch.float32).div(255.0)
                    .contiguous(memory_format=torch.channels_last) for t in (ref, dist))
            values.append(pim_distance(self.model(x), self.model(y), seed=self.seed,
                                       samples=self.samples))
        return torch.cat(values)


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
              seed: int = 0, samples: int = 1, **_: object) -> PIMMetric:
    """Load ``<name>.pt`` (``name`` = "pim-1" or "pim-5") and return the ready metric."""
    from evalkit.weights import resolve

    try:
        path = resolve(f"{name}-converted", path=weights_path)
    except WeightsError as exc:
        raise WeightsError(missing_weights_message(name, weights_path)) from exc
    model, meta = load_converted(path, expect_name=name)
    return PIMMetric(model, meta, device=device, seed=seed, samples=samples)
