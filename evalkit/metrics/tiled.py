"""The two-stage interface of a CNN metric whose score is built from per-layer sums, run crop
by crop (:mod:`evalkit.metrics.tiling`) so memory is bounded whatever the image size.

A subclass (LPIPS, DISTS) says how to run its trunk on a crop and what a reference crop's state
and a reconstruction crop's contribution are; this class plans the crops, keeps the reference
state when the image is one crop (the usual case: up to :attr:`TiledMetric.tile_pixels`), and
otherwise recomputes each reference crop once per :meth:`score_batch` call, scoring every
reconstruction of the call against it in sub-batches of :attr:`TiledMetric.batch_pixels`.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import torch

from evalkit.metrics.tensors import check_same_shape
from evalkit.metrics.tiling import Geometry, Tile, plan_tiles
from evalkit.metrics.two_stage import pairwise


class TiledReference(NamedTuple):
    """``image``: shape-only stand-in (meta device); ``tiles``: the crops; ``sizes``: each
    feature level's whole-image ``(h, w)``; ``ref``: the reference (float) when it spans several
    crops, else None; ``state``: the one crop's reference state when it is one crop."""

    image: torch.Tensor
    tiles: list[Tile]
    sizes: list[tuple[int, int]]
    ref: torch.Tensor | None
    state: Any


def crop(x: torch.Tensor, tile: Tile) -> torch.Tensor:
    return x[:, :, tile.y0:tile.y1, tile.x0:tile.x1]


class TiledMetric(torch.nn.Module):
    """Base of the tiled two-stage CNN metrics.

    Attributes:
        tile_pixels: largest crop (pixels); larger images are cut into crops with exact halos.
            2 MP keeps a 2048x1365 pair under 3 GB of process memory with VGG16 (4.6 GB
            whole) and leaves Kodak-size images whole (one crop: no halo work at all).
        batch_pixels: reconstruction pixels per trunk forward (sub-batches of a call; at least
            one crop).  A caller may pass many reconstructions at once: memory follows this
            budget, not the call's size.
    """

    tile_pixels = 2_000_000
    batch_pixels = 2_000_000
    geometry: Geometry

    # --- what a subclass provides ----------------------------------------------------------
    def _check(self, x: torch.Tensor) -> None:
        """Raise for images the trunk cannot take."""

    def _sizes(self, height: int, width: int) -> list[tuple[int, int]]:
        raise NotImplementedError

    def _reference_crop(self, x: torch.Tensor, tile: Tile, sizes) -> Any:
        """The reference-side state of one crop ``x`` (float ``(1, 3, h, w)`` in [0, 255])."""
        raise NotImplementedError

    def _new_totals(self, n: int, device: torch.device) -> Any:
        raise NotImplementedError

    def _score_crop(self, ref_state: Any, y: torch.Tensor, tile: Tile, sizes, totals: Any,
                    rows: slice) -> None:
        """Add the contribution of crop ``y`` (reconstructions ``rows``) to ``totals``."""
        raise NotImplementedError

    def _begin_tile(self, totals: Any, ref_state: Any, n: int) -> None:
        """Called once per crop before its sub-batches (DISTS keeps per-crop statistics)."""

    def _finish(self, totals: Any) -> torch.Tensor:
        raise NotImplementedError

    # --- the two-stage interface -------------------------------------------------------------
    @torch.no_grad()
    def prepare_reference(self, ref: torch.Tensor) -> TiledReference:
        self._check(ref)
        h, w = ref.shape[-2:]
        tiles = plan_tiles(h, w, self.geometry, self.tile_pixels)
        sizes = self._sizes(h, w)
        meta = torch.empty(ref.shape, device="meta")
        if len(tiles) == 1:
            return TiledReference(meta, tiles, sizes, None,
                                  self._reference_crop(ref.float(), tiles[0], sizes))
        return TiledReference(meta, tiles, sizes, ref.float(), None)

    @torch.no_grad()
    def score_batch(self, state: TiledReference, dists: torch.Tensor) -> torch.Tensor:
        self._check(dists)
        check_same_shape(state.image, dists[:1])
        n = dists.shape[0]
        totals = self._new_totals(n, dists.device)
        for tile in state.tiles:
            ref_state = state.state if state.ref is None else \
                self._reference_crop(crop(state.ref, tile), tile, state.sizes)
            self._begin_tile(totals, ref_state, n)
            # On CPU one reconstruction per forward: batches only add cache misses there
            # (measured: DISTS on 8 Kodak reconstructions, 5 per forward vs 1: see
            # docs/metrics.md); a GPU gets batches of ``batch_pixels``.
            step = 1 if dists.device.type == "cpu" else max(1, self.batch_pixels // tile.pixels)
            for start in range(0, n, step):
                rows = slice(start, min(n, start + step))
                y = crop(dists[rows], tile).float()
                self._score_crop(ref_state, y, tile, state.sizes, totals, rows)
                del y
            del ref_state
        return self._finish(totals)

    @torch.no_grad()
    def forward(self, ref: torch.Tensor, dist: torch.Tensor) -> torch.Tensor:
        check_same_shape(ref, dist)
        self._check(ref)
        return pairwise(self, ref, dist)
