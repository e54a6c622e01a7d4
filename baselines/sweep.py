"""Quality sweeps: every reference image through each codec at several settings.

Output, for codec ``C`` at rate parameter ``v``::

    runs/C/<setting>/<image>.<ext>   the real bitstream (its size is the rate)
    runs/C/<setting>/<image>.png     the bitstream decoded again (not the encoder's input)
    runs/C/<setting>/run.json        versions, every encoder parameter, per-image bytes/bpp/timings

``<setting>`` is ``q<v>`` (``bpp<v>`` for jpeg2000, whose parameter is a target bpp).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from baselines.codecs import CODECS, Codec, bits_per_pixel, get_codec, parse_codec_list
from baselines.refs import Reference, load_references
from baselines.staging import RunStager, write_png, write_run_json
from baselines.workers import check_parallel, run_tasks
from evalkit.errors import CodecError
from evalkit.images import read_image
from evalkit.provenance import provenance

#: Columns of the table :func:`run_sweep` returns (one row per codec, setting, image).
SWEEP_COLUMNS = ("codec", "setting", "value", "image", "width", "height", "bytes", "bpp",
                 "encode_seconds", "decode_seconds", "run_dir")


def encode_image_to(codec: Codec, ref: Reference, pixels, value: float, folder: Path) -> dict[str, Any]:
    """Encode one image at ``value``, write bitstream + decoded PNG into ``folder``; return its record."""
    enc = codec.encode_decode(pixels, value)
    bitstream_name = ref.name + codec.extension
    (folder / bitstream_name).write_bytes(enc.bitstream)
    write_png(folder / f"{ref.name}.png", enc.decoded)
    return {"image": ref.name, "width": ref.width, "height": ref.height, "bytes": enc.nbytes,
            "bpp": bits_per_pixel(enc.nbytes, ref.width, ref.height),
            "encode_seconds": enc.encode_seconds, "decode_seconds": enc.decode_seconds,
            "bitstream": bitstream_name, "reconstruction": f"{ref.name}.png",
            "reference_sha256": ref.sha256}


def read_pixels(ref: Reference):
    """Pixels of a reference, checked against the size seen during validation."""
    img = read_image(ref.path)
    if img.size != (ref.width, ref.height):
        raise CodecError(f"{ref.path} changed size while encoding")
    return img.pixels


@dataclass(frozen=True)
class _SweepTask:
    codec: str
    values: tuple[float, ...]
    ref: Reference
    folders: tuple[str, ...]  # staging folder per value


def _sweep_task(task: _SweepTask) -> list[dict[str, Any]]:
    codec = CODECS[task.codec]()
    pixels = read_pixels(task.ref)
    out = []
    for value, folder in zip(task.values, task.folders):
        rec = encode_image_to(codec, task.ref, pixels, value, Path(folder))
        out.append({"codec": task.codec, "value": value, **rec})
    return out


def _is_terminal() -> bool:
    return sys.stderr.isatty()


class SettingLog:
    """One stderr line per finished setting (progress when stderr is no terminal)."""

    def __init__(self, codecs: dict[str, Codec], n_images: int, n_settings: int, *,
                 enabled: bool):
        self.codecs, self.n_images, self.n_settings = codecs, n_images, n_settings
        self.enabled = enabled
        self.done: dict[tuple[str, float], list[float]] = {}
        self.finished = 0
        self.t0 = time.perf_counter()

    def update(self, recs: list[dict[str, Any]]) -> None:
        if not self.enabled:
            return
        for r in recs:
            bpps = self.done.setdefault((r["codec"], r["value"]), [])
            bpps.append(r["bpp"])
            if len(bpps) == self.n_images:
                self.finished += 1
                elapsed = time.perf_counter() - self.t0
                eta = elapsed / self.finished * (self.n_settings - self.finished)
                setting = self.codecs[r["codec"]].setting_name(r["value"])
                print(f"baseline: {r['codec']}/{setting} done ({self.n_images} images, mean "
                      f"{sum(bpps) / len(bpps):.4f} bpp) [{self.finished}/{self.n_settings} "
                      f"settings, {elapsed:.0f} s elapsed, ~{eta:.0f} s left]", file=sys.stderr,
                      flush=True)


def codec_record(codec: Codec) -> dict[str, Any]:
    """What run.json says about a codec (name, description, library versions)."""
    return {"codec": codec.name, "description": codec.description, "versions": codec.versions(),
            "value_name": codec.value_name, "bitstream_extension": codec.extension}


def run_sweep(refs_dir: str | Path, runs_dir: str | Path, codecs: Sequence[str] | str,
              qualities: Sequence[float] | dict[str, Sequence[float]] | None = None, *,
              workers: int | None = None, executor: str = "auto", progress: bool = True,
              overwrite: bool = False) -> pd.DataFrame:
    """Encode every reference with each codec at each rate parameter, into the run layout.

    Args:
        refs_dir: folder of originals (validated before anything is encoded).
        runs_dir: root of the run layout; settings land in ``runs_dir/<codec>/<setting>``.
        codecs: codec names (list or ``"jpeg,webp"``); see :data:`baselines.codecs.CODECS`.
        qualities: rate parameters for every codec, or ``{codec: values}``; None (or a codec
            missing from the dict) uses that codec's ``default_sweep``.
        workers: parallel workers (default: one per core); timings are wall-clock per call
            and slow down when workers share cores.
        executor: ``"auto"`` (default: threads, or processes when a codec holds the GIL,
            i.e. jpeg2000), ``"thread"`` or ``"process"``; the bitstreams are identical.
        progress: report progress on stderr: in a terminal a tqdm bar counting encoded images
            (one per image and setting) with rate and ETA; otherwise (logs, CI) one line
            per finished setting.
        overwrite: replace existing setting folders (otherwise they are an error, checked
            before any work).

    Returns:
        One row per (codec, setting, image) with :data:`SWEEP_COLUMNS`.

    Raises:
        CodecError: unknown/unavailable codec, bad rate parameter, encoder failure.
        ImageError / LayoutError: bad originals or occupied destinations. Nothing is written then.
    """
    names = parse_codec_list(codecs if isinstance(codecs, str) else list(codecs))
    plan: dict[str, tuple[float, ...]] = {}
    codec_objs = {}
    for name in names:
        codec = get_codec(name)
        if isinstance(qualities, dict):
            unknown = set(qualities) - set(names)
            if unknown:
                raise CodecError(f"qualities names codecs not being run: {sorted(unknown)}")
            vals = qualities.get(name) or codec.default_sweep
        else:
            vals = qualities if qualities is not None else codec.default_sweep
        if len(vals) == 0:
            raise CodecError(f"{name}: the list of {codec.value_name} values must not be empty")
        checked = tuple(codec.check_value(v) for v in vals)
        settings = [codec.setting_name(v) for v in checked]
        if len(set(settings)) != len(settings):
            raise CodecError(f"{name}: {codec.value_name} values must be distinct, got {list(vals)}")
        plan[name], codec_objs[name] = checked, codec
    nworkers, executor = check_parallel(workers, executor, list(codec_objs.values()))
    refs = load_references(refs_dir)
    runs_dir = Path(runs_dir)
    rows: list[dict[str, Any]] = []
    with RunStager(runs_dir, overwrite=overwrite) as stager:
        stager.check_free([runs_dir / n / codec_objs[n].setting_name(v) for n in names for v in plan[n]])
        tasks = []  # one per (codec, setting, image), settings in order: each finishes early
        for name in names:
            for v in plan[name]:
                folder = str(stager.stage(name, codec_objs[name].setting_name(v)))
                tasks += [_SweepTask(name, (v,), ref, (folder,)) for ref in refs.values()]
        log = SettingLog(codec_objs, len(refs), sum(len(v) for v in plan.values()),
                         enabled=progress and not _is_terminal())
        for recs in run_tasks(_sweep_task, tasks, workers=nworkers, executor=executor,
                              desc="baseline sweep", progress=progress and _is_terminal(),
                              describe=lambda t: f"{t.codec} on {t.ref.path}", unit="img"):
            rows.extend(recs)
            log.update(recs)
        for name in names:
            codec = codec_objs[name]
            for v in plan[name]:
                setting = codec.setting_name(v)
                images = {r["image"]: _image_fields(r) for r in rows
                          if r["codec"] == name and r["value"] == v}
                record = provenance(
                    settings={"refs_dir": str(Path(refs_dir).resolve()), "workers": nworkers,
                              "executor": executor},
                    kind="sweep", setting=setting, value=v, parameters=codec.parameters(v),
                    **codec_record(codec), images=dict(sorted(images.items())),
                    mean_bpp=sum(i["bpp"] for i in images.values()) / len(images))
                write_run_json(Path(stager.stage(name, setting)), record)
        done = stager.commit()
    run_dirs = {(d.parent.name, d.name): str(d) for d in done}
    table = pd.DataFrame(rows)
    table["setting"] = [codec_objs[c].setting_name(v) for c, v in zip(table["codec"], table["value"])]
    table["run_dir"] = [run_dirs[(c, s)] for c, s in zip(table["codec"], table["setting"])]
    return table.loc[:, list(SWEEP_COLUMNS)].sort_values(["codec", "value", "image"]).reset_index(drop=True)


def _image_fields(rec: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in rec.items() if k not in ("codec", "value", "image")}
