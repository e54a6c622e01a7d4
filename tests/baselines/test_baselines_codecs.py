"""Sweeps: real bitstreams that decode to exactly the stored PNG, rates from bitstream sizes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from baselines import codecs as codecs_mod
from baselines.codecs import CODECS, JxlCodec, get_codec
from baselines.sweep import run_sweep
from evalkit.errors import CodecError, ImageError, LayoutError
from evalkit.images import read_image
from evalkit.layout import discover_runs

ONE_VALUE = {"jpeg": [50], "jpeg444": [50], "jpeg-compressai": [50], "webp": [50],
             "jpeg2000": [0.5], "avif": [50], "jxl": [50], "heic": [30]}


@pytest.fixture
def swept(refs_dir, tmp_path):
    runs = tmp_path / "runs"
    table = run_sweep(refs_dir, runs, list(CODECS), ONE_VALUE, workers=2, progress=False)
    return refs_dir, runs, table


def test_every_codec_bitstream_decodes_to_the_stored_png(swept):
    refs_dir, runs, table = swept
    assert sorted(table["codec"].unique()) == sorted(CODECS)
    assert len(table) == len(CODECS) * 2
    for row in table.itertuples():
        folder = Path(row.run_dir)
        codec = CODECS[row.codec]()
        stream = folder / f"{row.image}{codec.extension}"
        stored = read_image(folder / f"{row.image}.png").pixels
        # through evalkit's own reader (Pillow: libjpeg-turbo decodes jpeg-compressai's
        # chroma otherwise than its own libjpeg 9d, hence the stored PNG) and the codec's decoder
        if row.codec != "jpeg-compressai":
            assert np.array_equal(read_image(stream).pixels, stored), row
        assert np.array_equal(codec.decode(stream.read_bytes()), stored), row
        ref = read_image(refs_dir / f"{row.image}.png").pixels
        assert not np.array_equal(stored, ref)  # lossy: the PNG is not the encoder's input


def test_bpp_is_bitstream_size(swept):
    refs_dir, runs, table = swept
    entries, report = discover_runs(refs_dir, runs)
    assert not report.errors and not report.missing
    by_key = {(e.codec, e.setting, e.image): e for e in entries}
    for row in table.itertuples():
        e = by_key[(row.codec, row.setting, row.image)]
        assert e.bitstream is not None and e.bytes == e.bitstream.stat().st_size == row.bytes
        assert row.bpp == pytest.approx(row.bytes * 8 / (row.width * row.height), rel=1e-12)
        assert e.bpp(row.width, row.height) == pytest.approx(row.bpp, rel=1e-12)


def test_run_json_records_versions_parameters_and_timings(swept):
    _, runs, _ = swept
    meta = json.loads((runs / "jxl" / "q50" / "run.json").read_text())
    assert meta["versions"]["libjxl"]
    assert meta["parameters"] == {"level": 50, "effort": 7, "lossless": False, "numthreads": 1}
    img = meta["images"]["astronaut"]
    assert img["encode_seconds"] > 0 and img["decode_seconds"] > 0
    assert img["bytes"] == (runs / "jxl" / "q50" / "astronaut.jxl").stat().st_size
    avif = json.loads((runs / "avif" / "q50" / "run.json").read_text())
    assert avif["parameters"]["speed"] == 6 and avif["parameters"]["codec"] == "aom"
    j2k = json.loads((runs / "jpeg2000" / "bpp0.5" / "run.json").read_text())
    assert j2k["parameters"]["quality_layers"] == [48.0]
    jpeg = json.loads((runs / "jpeg444" / "q50" / "run.json").read_text())
    assert jpeg["parameters"]["subsampling"] == "4:4:4"


def test_default_sweeps_span_low_to_high_rates(refs_dir, tmp_path):
    """Each codec's default sweep reaches below 0.35 bpp and above 1.5 bpp on a real photo."""
    for name in ("jpeg", "jxl", "heic"):
        codec = get_codec(name)
        px = read_image(refs_dir / "astronaut.png").pixels
        rates = [codec.encode_decode(px, v).nbytes * 8 / (px.shape[0] * px.shape[1])
                 for v in (codec.default_sweep[0], codec.default_sweep[-1])]
        assert rates[0] < 0.6 and rates[1] > 1.5, (name, rates)


def test_unavailable_codec_is_a_clear_error(refs_dir, tmp_path, monkeypatch):
    monkeypatch.setattr(JxlCodec, "_check_available", lambda self: "imagecodecs was built without libjxl")
    with pytest.raises(CodecError, match="'jxl' is not available: imagecodecs was built without libjxl"):
        run_sweep(refs_dir, tmp_path / "runs", ["jpeg", "jxl"], progress=False)
    assert not (tmp_path / "runs").exists()


def test_unknown_codec_lists_known_ones(refs_dir, tmp_path):
    with pytest.raises(CodecError, match="codec must be one of jpeg, jpeg444.*got 'bpg'"):
        run_sweep(refs_dir, tmp_path / "runs", "jpeg,bpg", progress=False)


def test_bad_quality_is_refused_before_work(refs_dir, tmp_path):
    with pytest.raises(CodecError, match=r"jpeg quality must be an integer in \[1, 100\], got 150"):
        run_sweep(refs_dir, tmp_path / "runs", ["jpeg"], [150], progress=False)
    assert not (tmp_path / "runs").exists()


def test_corrupt_input_leaves_no_partial_run(refs_dir, tmp_path):
    data = (refs_dir / "chelsea.png").read_bytes()
    (refs_dir / "zz_broken.png").write_bytes(data[: len(data) // 2])  # truncated PNG
    runs = tmp_path / "runs"
    with pytest.raises(ImageError, match="zz_broken.png"):
        run_sweep(refs_dir, runs, ["jpeg", "webp"], [40], workers=2, progress=False)
    assert not runs.exists()


def test_grayscale_original_is_refused_clearly(refs_dir, tmp_path):
    from PIL import Image

    Image.open(refs_dir / "chelsea.png").convert("L").save(refs_dir / "gray.png")
    with pytest.raises(ImageError, match="gray.png: grayscale originals are not supported"):
        run_sweep(refs_dir, tmp_path / "runs", ["jpeg"], [40], progress=False)
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize("workers", [1, 2])
def test_encoder_failure_midway_leaves_nothing(refs_dir, tmp_path, monkeypatch, workers):
    runs = tmp_path / "runs"
    (runs / "jpeg").mkdir(parents=True)  # pre-existing codec folder must survive, empty
    real = codecs_mod.WebpCodec._encode

    def flaky(self, pixels, value):
        if pixels.shape[1] == 130:  # the chelsea crop
            raise RuntimeError("encoder exploded")
        return real(self, pixels, value)

    monkeypatch.setattr(codecs_mod.WebpCodec, "_encode", flaky)
    with pytest.raises(CodecError, match="webp on .*chelsea.png: RuntimeError: encoder exploded"):
        run_sweep(refs_dir, runs, ["jpeg", "webp"], [40, 60], workers=workers, progress=False)
    assert sorted(p.name for p in runs.iterdir()) == ["jpeg"]
    assert list((runs / "jpeg").iterdir()) == []


def test_existing_setting_needs_overwrite(refs_dir, tmp_path):
    runs = tmp_path / "runs"
    run_sweep(refs_dir, runs, ["jpeg"], [30], workers=1, progress=False)
    before = (runs / "jpeg" / "q30" / "astronaut.jpg").read_bytes()
    with pytest.raises(LayoutError, match="already exists"):
        run_sweep(refs_dir, runs, ["jpeg"], [30, 40], workers=1, progress=False)
    assert not (runs / "jpeg" / "q40").exists()
    run_sweep(refs_dir, runs, ["jpeg"], [30], workers=1, progress=False, overwrite=True)
    assert (runs / "jpeg" / "q30" / "astronaut.jpg").read_bytes() == before
    assert sorted(p.name for p in (runs / "jpeg").iterdir()) == ["q30"]


def test_process_executor_gives_identical_bitstreams(refs_dir, tmp_path):
    a = run_sweep(refs_dir, tmp_path / "a", ["jpeg", "webp"], [40], workers=1, progress=False)
    b = run_sweep(refs_dir, tmp_path / "b", ["jpeg", "webp"], [40], workers=2, executor="process",
                  progress=False)
    assert a["bytes"].tolist() == b["bytes"].tolist()
    for row in a.itertuples():
        ext = CODECS[row.codec].extension
        rel = Path(row.codec) / row.setting / f"{row.image}{ext}"
        assert (tmp_path / "a" / rel).read_bytes() == (tmp_path / "b" / rel).read_bytes()


def test_auto_executor_uses_processes_only_for_gil_holding_codecs():
    from baselines.workers import check_parallel

    assert check_parallel(2, "auto", [get_codec("jpeg"), get_codec("avif")]) == (2, "thread")
    assert check_parallel(2, "auto", [get_codec("jpeg"), get_codec("jpeg2000")]) == (2, "process")
    assert check_parallel(1, "auto", [get_codec("jpeg2000")]) == (1, "thread")
    with pytest.raises(CodecError, match="workers must be a positive integer, got 0"):
        check_parallel(0, "auto")
    with pytest.raises(CodecError, match="executor must be one of auto, thread, process"):
        check_parallel(1, "fibers")


@pytest.mark.parametrize("name", sorted(CODECS))
def test_what_run_json_records_is_what_runs(name, monkeypatch):
    """encode() runs the dict parameters() returns: changing the recorded settings changes the
    bitstream exactly as encoding at those settings would."""
    codec = CODECS[name]()
    if codec.unavailable_reason():
        pytest.skip(codec.unavailable_reason())
    import skimage.data

    px = skimage.data.astronaut()[:96, :128]
    low, high = codec.default_sweep[1], codec.default_sweep[-1]
    at_low, _ = codec.encode(px, low)
    recorded_low = codec.parameters(low)
    real = type(codec).parameters
    monkeypatch.setattr(type(codec), "parameters",
                        lambda self, value: real(self, low) if value == high else real(self, value))
    swapped, _ = codec.encode(px, high)          # value says high, parameters() say low
    assert swapped == at_low
    assert codec.parameters(high) == recorded_low
