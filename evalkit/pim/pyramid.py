"""PIM's steerable-pyramid front end (the official ``networks.Steerable``, ``sp1`` filters).

Filter tables: the published "sp1" steerable filters (Simoncelli & Freeman 1995; Karasaridis &
Simoncelli 1996) as shipped by ``pyrtools`` (LabForComputationalVision, MIT licence), which is
also where the official PIM code copied them from.

What is computed (see ``docs/pim.md``), per colour channel, as cross-correlations (no kernel
flip) with zero padding:

* ``hi0 = hi0filt * x`` and ``lo = lo0filt * x`` (9x9, 'same': 4 zeros each side);
* three times: the two oriented bands ``b0 * lo`` and ``b1 * lo`` (9x9, 'same'), then
  ``lo = (lofilt * lo)[::2, ::2]`` (17x17, 8 zeros each side, so ceil(H/2) x ceil(W/2));
* the band filters are the columns of ``bfilts`` reshaped row-major to 9x9 and transposed
  (band 0 responds to horizontal intensity change, band 1 to vertical);
* the list ``[hi0, b0_s0, b1_s0, ..., b1_s2, lo]`` is reversed: level 0 is the low-pass
  residual, level ``2 * nscales + 1`` the high-pass residual.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

#: Output pixels per strip of the pyramid's convolutions (bounds their scratch memory).
STRIP_PIXELS = 1 << 18


def sp1_filters() -> dict[str, np.ndarray]:
    """The sp1 tables as float64 arrays: ``lo0filt`` and ``hi0filt`` 9x9, ``lofilt`` 17x17,
    ``bands`` (2, 9, 9) already in PIM's orientation (reshaped and transposed)."""
    import pyrtools

    f = pyrtools.pyramids.filters.steerable_filters("sp1_filters")
    bfilts = np.asarray(f["bfilts"], dtype=np.float64)
    bands = np.stack([bfilts[:, k].reshape(9, 9).T for k in range(bfilts.shape[1])])
    return {"lo0filt": np.asarray(f["lo0filt"], np.float64),
            "hi0filt": np.asarray(f["hi0filt"], np.float64),
            "lofilt": np.asarray(f["lofilt"], np.float64),
            "bands": bands}


def level_shapes(height: int, width: int, nscales: int = 3) -> list[tuple[int, int]]:
    """(H, W) of each pyramid level in PIM's (reversed) order."""
    shapes = [(height, width)]
    h, w = height, width
    for _ in range(nscales):
        shapes += [(h, w), (h, w)]
        h, w = -(-h // 2), -(-w // 2)
    shapes.append((h, w))
    return shapes[::-1]


class SteerablePyramid(nn.Module):
    """Fixed (non-trainable) pyramid; ``forward(x)`` -> list of ``2 * nscales + 2`` tensors
    ``(N, C, H_i, W_i)`` in PIM's level order."""

    def __init__(self, nscales: int = 3, channels: int = 3) -> None:
        super().__init__()
        self.nscales = nscales
        self.channels = channels
        f = sp1_filters()

        def depthwise(kernel: np.ndarray) -> torch.Tensor:
            k = torch.from_numpy(kernel).to(torch.float32)
            return k.expand(channels, 1, *k.shape[-2:]).clone()

        self.register_buffer("lo0", depthwise(f["lo0filt"]), persistent=False)
        self.register_buffer("hi0", depthwise(f["hi0filt"]), persistent=False)
        self.register_buffer("lo", depthwise(f["lofilt"]), persistent=False)
        # Both bands in one grouped conv: output channel 2c + k is band k of channel c.
        bands = torch.from_numpy(f["bands"]).to(torch.float32)
        self.register_buffer("bands", bands[:, None].repeat(channels, 1, 1, 1), persistent=False)

    def _same(self, x: torch.Tensor, weight: torch.Tensor, stride: int = 1) -> torch.Tensor:
        """Zero-padded depthwise cross-correlation, computed in strips of output rows: oneDNN's
        depthwise convolution took ~1 GB of scratch memory for a whole 2048x1365 image on one
        thread (0.4 GB on two), strips of ~2^18 output pixels take a few MB; every output row
        is the same sum over the same padded input rows."""
        pad, k = weight.shape[-1] // 2, weight.shape[-1]
        xp = F.pad(x, (pad, pad, pad, pad))
        h_out = (xp.shape[-2] - k) // stride + 1
        w_out = (xp.shape[-1] - k) // stride + 1
        rows = max(1, STRIP_PIXELS // w_out)
        if rows >= h_out:
            return F.conv2d(xp, weight, stride=stride, groups=self.channels)
        out = x.new_empty((x.shape[0], weight.shape[0], h_out, w_out))
        for r0 in range(0, h_out, rows):
            r1 = min(r0 + rows, h_out)
            strip = xp[:, :, r0 * stride:(r1 - 1) * stride + k]
            out[:, :, r0:r1] = F.conv2d(strip, weight, stride=stride, groups=self.channels)
        return out

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        levels = [self._same(x, self.hi0)]
        lo = self._same(x, self.lo0)
        for _ in range(self.nscales):
            b = self._same(lo, self.bands)  # (N, 2C, H, W)
            levels += [b[:, 0::2], b[:, 1::2]]
            lo = self._same(lo, self.lo, stride=2)
        levels.append(lo)
        return levels[::-1]
