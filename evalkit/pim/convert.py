"""Convert an official PIM archive (``pim-1.zip`` / ``pim-5.zip``) into a PyTorch weights file.

The archive holds one folder named like the model with ``config.json``, ``checkpoint`` and the
TensorFlow checkpoint ``weights.index`` + ``weights.data-00000-of-00001`` (Keras
``save_weights``).  The checkpoint is read with :mod:`evalkit.pim.tf_checkpoint` (no
TensorFlow needed); every variable under ``frontend/cnns/`` and ``marginal_encoder/encoders/``
must map onto the PyTorch model and every model parameter must be found.  Everything else
(the training-only joint encoder, the object graph, optimizer slots) is ignored and listed in
the output file.

Output: ``<name>.pt`` (``torch.save`` of a dict; see :func:`convert_archive`), written
atomically into the weights directory.
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from evalkit.errors import WeightsError
from evalkit.pim.model import PIMConfig, PIMNet
from evalkit.pim.tf_checkpoint import data_shard_name, read_bundle
from evalkit.provenance import atomic_target, file_digest
from evalkit.weights import get_weight_file, hash_check_skipped, weights_dir

FORMAT = "evalkit-pim"
FORMAT_VERSION = 1
MODEL_NAMES = {"pim-1": 1, "pim-5": 5}  # archive name -> number of mixture components
_SUFFIX = "/.ATTRIBUTES/VARIABLE_VALUE"
_USED_PREFIXES = ("frontend/cnns/", "marginal_encoder/encoders/")


@dataclass(frozen=True)
class OfficialArchive:
    """What an official archive holds: model name, config dict, checkpoint tensors, digest."""

    name: str
    config: dict[str, Any]
    tensors: dict[str, Any]
    sha512: str


def sha512_of(path: str | Path) -> str:
    return file_digest(path, "sha512")


def read_official_archive(archive_path: str | Path) -> OfficialArchive:
    """Read config and checkpoint straight from the zip (nothing is extracted).

    Raises:
        WeightsError: not a zip, not exactly one top-level model folder, missing files, a
            model name other than pim-1/pim-5, or a corrupt checkpoint.
    """
    path = Path(archive_path)
    if not path.is_file():
        raise WeightsError(f"{path}: no such PIM archive")
    if not zipfile.is_zipfile(path):
        raise WeightsError(f"{path}: a PIM archive must be a zip file (pim-1.zip / pim-5.zip)")
    with zipfile.ZipFile(path) as zf:
        names = [n for n in zf.namelist() if not n.endswith("/")]
        tops = {n.split("/", 1)[0] for n in zf.namelist()}
        if len(tops) != 1 or any("/" not in n for n in names):
            raise WeightsError(f"{path}: a PIM archive must hold exactly one top-level folder "
                               f"named like the model, got {sorted(tops)}")
        name = tops.pop()
        if name not in MODEL_NAMES:
            raise WeightsError(f"{path}: PIM model folder must be one of {sorted(MODEL_NAMES)}, "
                               f"got {name!r}")

        def member(rel: str) -> bytes:
            try:
                return zf.read(f"{name}/{rel}")
            except KeyError:
                raise WeightsError(f"{path}: PIM archive must contain {name}/{rel}") from None

        try:
            config = json.loads(member("config.json"))
        except json.JSONDecodeError as exc:
            raise WeightsError(f"{path}: {name}/config.json must be JSON: {exc}") from exc
        index = member("weights.index")
        shard_names = sorted(n for n in names if n.startswith(f"{name}/weights.data-"))
        if not shard_names:
            raise WeightsError(f"{path}: PIM archive must contain {name}/weights.data-*")
        shards = [member(data_shard_name("weights", k, len(shard_names)))
                  for k in range(len(shard_names))]
    if not isinstance(config, dict):
        raise WeightsError(f"{path}: {name}/config.json must hold an object, got {type(config).__name__}")
    return OfficialArchive(name, config, read_bundle(index, shards), sha512_of(path))


def _expected_variables(cfg: PIMConfig) -> dict[str, tuple[str, str]]:
    """torch state-dict key -> (checkpoint variable, kind) where kind is conv/dense/bias."""
    out: dict[str, tuple[str, str]] = {}
    for i in range(cfg.num_levels):
        for j in range(len(cfg.num_filters)):
            ck = f"frontend/cnns/{i}/layer_with_weights-{j}"
            out[f"cnns.{i}.{2 * j}.weight"] = (f"{ck}/kernel", "conv")
            out[f"cnns.{i}.{2 * j}.bias"] = (f"{ck}/bias", "bias")
        enc = f"marginal_encoder/encoders/{i}"
        branches = ["base"] + (["mix"] if cfg.num_mixtures > 1 else [])
        for branch in branches:
            for k in range(cfg.num_layers):
                out[f"encoders.{i}.{branch}.{2 * k}.weight"] = (f"{enc}/{branch}/{k}/kernel", "dense")
                out[f"encoders.{i}.{branch}.{2 * k}.bias"] = (f"{enc}/{branch}/{k}/bias", "bias")
        if cfg.num_mixtures > 1:
            out[f"encoders.{i}.logit.weight"] = (f"{enc}/logit_layer/kernel", "dense")
            out[f"encoders.{i}.logit.bias"] = (f"{enc}/logit_layer/bias", "bias")
    return out


def _to_torch(value: np.ndarray, kind: str) -> torch.Tensor:
    if kind == "conv":  # HWIO -> OIHW
        value = value.transpose(3, 2, 0, 1)
    elif kind == "dense":  # (in, out) -> 1x1 conv (out, in, 1, 1)
        value = value.T[:, :, None, None]
    return torch.from_numpy(np.ascontiguousarray(value, dtype=np.float32))


def map_checkpoint(cfg: PIMConfig, tensors: dict[str, Any]) -> tuple[dict[str, torch.Tensor], list[str]]:
    """(PyTorch state dict of :class:`PIMNet`, ignored checkpoint keys).

    Raises:
        WeightsError: a model parameter missing from the checkpoint, a shape mismatch, or a
            variable under the used prefixes that the model has no place for.
    """
    variables = {k[:-len(_SUFFIX)]: v for k, v in tensors.items()
                 if k.endswith(_SUFFIX) and ".OPTIMIZER_SLOT" not in k}
    reference = PIMNet(cfg).state_dict()
    state: dict[str, torch.Tensor] = {}
    used: set[str] = set()
    for key, (var, kind) in _expected_variables(cfg).items():
        if var not in variables:
            raise WeightsError(f"PIM checkpoint must contain {var}{_SUFFIX} (for {key}), "
                               "got no such variable")
        value = variables[var]
        if not isinstance(value, np.ndarray) or value.dtype.kind != "f":
            raise WeightsError(f"PIM checkpoint variable {var} must be a float array")
        t = _to_torch(value, kind)
        if tuple(t.shape) != tuple(reference[key].shape):
            raise WeightsError(f"PIM checkpoint variable {var} must have a shape mapping to "
                               f"{tuple(reference[key].shape)}, got {value.shape}")
        state[key] = t
        used.add(var)
    missing = sorted(set(reference) - set(state))
    if missing:  # cannot happen unless _expected_variables and PIMNet disagree
        raise WeightsError(f"PIM conversion left model parameters unset: {missing}")
    unexpected = sorted(v for v in variables if v.startswith(_USED_PREFIXES) and v not in used)
    if unexpected:
        raise WeightsError(f"PIM checkpoint has variables the model has no place for "
                           f"(config mismatch?): {unexpected[:5]}{' ...' if len(unexpected) > 5 else ''}")
    ignored = sorted(k for k in tensors if k[:-len(_SUFFIX)] not in used)
    return state, ignored


def convert_archive(archive_path: str | Path, out_dir: str | Path | None = None) -> Path:
    """Convert an official PIM archive into ``<out_dir>/<name>.pt`` and return its path.

    ``out_dir`` defaults to :func:`evalkit.weights.weights_dir`.  The archive's SHA-512 must
    be the official one (catalog entries ``pim-1`` / ``pim-5``) unless
    ``EVALKIT_SKIP_WEIGHT_HASH=1``.  The file holds ``format`` ("evalkit-pim"),
    ``format_version``, ``name``, ``config`` (the official config.json), ``state_dict``,
    ``source`` (archive file name, ``sha512``, ``official``: whether it is the published
    digest) and ``ignored_checkpoint_keys``.  It is written to a temporary file and moved into
    place, so a failed conversion leaves nothing behind.

    Raises:
        WeightsError: unreadable or non-official archive, or a checkpoint not matching the model.
    """
    archive = read_official_archive(archive_path)
    entry = get_weight_file(archive.name)
    official = archive.sha512 == entry.sha512
    if not official and not hash_check_skipped():
        raise WeightsError(f"{archive_path}: sha512 does not match the official {entry.filename} "
                           f"({entry.url}); set EVALKIT_SKIP_WEIGHT_HASH=1 to convert another "
                           "archive anyway (its results are not the published metric)")
    cfg = PIMConfig.from_official(archive.config)
    if cfg.num_mixtures != MODEL_NAMES[archive.name]:
        raise WeightsError(f"{archive_path}: {archive.name} must have "
                           f"num_marginal_encoder_mixtures={MODEL_NAMES[archive.name]}, "
                           f"got {cfg.num_mixtures}")
    state, ignored = map_checkpoint(cfg, archive.tensors)
    payload = {
        "format": FORMAT, "format_version": FORMAT_VERSION, "name": archive.name,
        "config": archive.config, "state_dict": state,
        "source": {"archive": Path(archive_path).name, "sha512": archive.sha512, "official": official},
        "ignored_checkpoint_keys": ignored,
    }
    dest_dir = Path(out_dir) if out_dir is not None else weights_dir()
    dest = dest_dir / f"{archive.name}.pt"
    with atomic_target(dest, suffix=".part") as tmp:
        torch.save(payload, tmp)
    return dest


def load_converted(path: str | Path, expect_name: str | None = None) -> tuple[PIMNet, dict[str, Any]]:
    """(model in eval mode without gradients, the file's metadata without the state dict).

    Raises:
        WeightsError: not a converted PIM file (e.g. the raw archive saved under the .pt name),
            a different model than ``expect_name``, or converted from a non-official archive
            while hash checks are on.
    """
    path = Path(path)
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for foreign files
        raise WeightsError(f"{path}: must be a PIM file made by `evalkit weights convert-pim "
                           f"ARCHIVE.zip`, could not load it ({type(exc).__name__})") from exc
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise WeightsError(f"{path}: must be a PIM file made by `evalkit weights convert-pim`, "
                           f"got another kind of file")
    if payload.get("format_version") != FORMAT_VERSION:
        raise WeightsError(f"{path}: PIM file format version must be {FORMAT_VERSION}, got "
                           f"{payload.get('format_version')!r}; convert the archive again")
    if expect_name is not None and payload.get("name") != expect_name:
        raise WeightsError(f"{path}: must hold {expect_name}, got {payload.get('name')!r}")
    source = payload.get("source", {})
    if not source.get("official") and not hash_check_skipped():
        raise WeightsError(f"{path}: was converted from a non-official archive (sha512 "
                           f"{str(source.get('sha512'))[:16]}...); convert the official "
                           f"{payload.get('name')}.zip, or set EVALKIT_SKIP_WEIGHT_HASH=1")
    model = PIMNet(PIMConfig.from_official(payload["config"]))
    try:
        model.load_state_dict(payload["state_dict"], strict=True)
    except RuntimeError as exc:
        raise WeightsError(f"{path}: state dict must match the PIM model: {exc}") from exc
    model.eval().requires_grad_(False)
    meta = {k: v for k, v in payload.items() if k != "state_dict"}
    return model, meta

