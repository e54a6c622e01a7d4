"""Helpers for the PIM tests: checkpoints in the official variable layout, written with
evalkit's own TensorFlow-checkpoint writer, zipped like the official archives."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
from tf_writer import encode_bundle

SUFFIX = "/.ATTRIBUTES/VARIABLE_VALUE"


def official_config(nmix: int, num_filters=(64, 64, 64, 3)) -> dict:
    """The official config.json contents (``config.get_params`` defaults)."""
    return {"num_channels": 3, "multiscale": "Steerable", "nscales": 3, "steerable_filter_type": 1,
            "cnn": "Conv", "num_filters": list(num_filters), "padding": "same",
            "num_distribution_encoder_layers": 2, "num_marginal_encoder_mixtures": nmix, "z_dim": 10}


def official_variables(nmix: int, seed: int = 0, num_filters=(64, 64, 64, 3)) -> dict[str, np.ndarray]:
    """Random float32 tensors named and shaped as in the official checkpoints (spec table),
    including the training-only joint encoder the converter must ignore."""
    rng = np.random.default_rng(seed)
    out: dict[str, np.ndarray] = {}

    def put(name, shape, scale=0.1):
        out[name + SUFFIX] = (rng.standard_normal(shape) * scale).astype(np.float32)

    width = 10 * nmix
    for i in range(8):
        cin = 3
        for j, cout in enumerate(num_filters):
            put(f"frontend/cnns/{i}/layer_with_weights-{j}/kernel", (5, 5, cin, cout))
            put(f"frontend/cnns/{i}/layer_with_weights-{j}/bias", (cout,))
            cin = cout
        enc = f"marginal_encoder/encoders/{i}"
        put(f"{enc}/base/0/kernel", (3, width)), put(f"{enc}/base/0/bias", (width,))
        put(f"{enc}/base/1/kernel", (width, width)), put(f"{enc}/base/1/bias", (width,))
        if nmix > 1:
            put(f"{enc}/mix/0/kernel", (3, nmix)), put(f"{enc}/mix/0/bias", (nmix,))
            put(f"{enc}/mix/1/kernel", (nmix, nmix)), put(f"{enc}/mix/1/bias", (nmix,))
            put(f"{enc}/logit_layer/kernel", (nmix, nmix)), put(f"{enc}/logit_layer/bias", (nmix,))
        for part in ("base", "base_cond_mul", "base_cond_add"):
            put(f"joint_encoder/encoders/{i}/{part}/0/kernel", (3, 10))
            put(f"joint_encoder/encoders/{i}/{part}/0/bias", (10,))
    return out


def write_official_zip(path: Path, name: str, variables: dict, config: dict,
                       drop: tuple[str, ...] = ()) -> Path:
    """A zip laid out like the official archive: ``<name>/{config.json, checkpoint,
    weights.index, weights.data-00000-of-00001}``."""
    tensors = {k: v for k, v in variables.items() if k not in drop}
    tensors["_CHECKPOINTABLE_OBJECT_GRAPH"] = b"\x0a\x00test object graph"
    index, data = encode_bundle(tensors)
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(f"{name}/", b"")
        zf.writestr(f"{name}/weights.index", index)
        zf.writestr(f"{name}/weights.data-00000-of-00001", data)
        zf.writestr(f"{name}/checkpoint",
                    'model_checkpoint_path: "weights"\nall_model_checkpoint_paths: "weights"\n')
        zf.writestr(f"{name}/config.json", json.dumps(config, indent=2))
    return path
