"""A small synthetic refs/runs layout for the figure tests (made here, no outside data)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

W, H = 72, 56


def make_layout(root: Path, methods=("jpeg/q10", "jpeg/q50", "webp/q30"), images=("dots", "ramp"),
                seed: int = 0) -> tuple[Path, Path, dict, dict]:
    """refs/<image>.png and runs/<codec>/<setting>/<image>.png + .bin bitstreams of random
    sizes; reconstructions are the original plus method-specific noise."""
    rng = np.random.default_rng(seed)
    refs_dir, runs_dir = root / "refs", root / "runs"
    refs_dir.mkdir(parents=True)
    refs, recons = {}, {}
    for k, name in enumerate(images):
        yy, xx = np.mgrid[0:H, 0:W]
        base = np.stack([(xx * 3 + k * 40) % 256, (yy * 4) % 256, (xx + yy) % 256], axis=2)
        refs[name] = base.astype(np.uint8)
        Image.fromarray(refs[name]).save(refs_dir / f"{name}.png")
    for i, method in enumerate(methods):
        codec, setting = method.split("/")
        d = runs_dir / codec / setting
        d.mkdir(parents=True)
        for name, ref in refs.items():
            noise = rng.integers(-8 * (i + 1), 8 * (i + 1) + 1, ref.shape)
            rec = np.clip(ref.astype(int) + noise, 0, 255).astype(np.uint8)
            recons[(method, name)] = rec
            Image.fromarray(rec).save(d / f"{name}.png")
            (d / f"{name}.bin").write_bytes(b"\0" * int(rng.integers(50, 500)))
    return refs_dir, runs_dir, refs, recons

