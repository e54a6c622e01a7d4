"""import-run (bitstreams / manifest), HiFiC runner requirements, shipped reference RD points."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from baselines.hific import run_hific
from baselines.import_run import import_run
from baselines.published import list_references, load_reference, resolve_reference
from evalkit.errors import CodecError, EvalkitError, LayoutError
from evalkit.images import read_image
from evalkit.layout import discover_runs


@pytest.fixture
def outputs(refs_dir, tmp_path):
    """Reconstructions of the refs made 'elsewhere' (coarse quantisation) and fake-named bitstreams."""
    recon, streams = tmp_path / "recon", tmp_path / "streams"
    recon.mkdir(), streams.mkdir()
    for i, ref in enumerate(sorted(refs_dir.iterdir())):
        px = read_image(ref).pixels // 16 * 16
        Image.fromarray(px).save(recon / ref.name)
        (streams / f"{ref.stem}.tfci").write_bytes(bytes(range(256)) * (3 + i))
    return recon, streams


def test_import_with_bitstreams(refs_dir, tmp_path, outputs):
    recon, streams = outputs
    runs = tmp_path / "runs"
    table = import_run(recon, runs, "hific", "mi", bitstreams_dir=streams, refs_dir=refs_dir)
    assert set(table["rate_source"]) == {"bitstream"}
    entries, report = discover_runs(refs_dir, runs)
    assert not report.missing and len(entries) == 2
    for e in entries:
        assert e.bitstream.suffix == ".tfci" and e.bytes == (streams / f"{e.image}.tfci").stat().st_size
        got = (runs / "hific" / "mi" / f"{e.image}.png").read_bytes()
        assert got == (recon / f"{e.image}.png").read_bytes()
    row = table.set_index("image").loc["chelsea"]
    assert row["bpp"] == pytest.approx(row["bytes"] * 8 / (130 * 90))
    meta = json.loads((runs / "hific" / "mi" / "run.json").read_text())
    assert meta["kind"] == "import" and len(meta["images"]["astronaut"]["source_sha256"]) == 64


def test_import_with_manifest(refs_dir, tmp_path, outputs):
    recon, _ = outputs
    manifest = tmp_path / "bpp.csv"
    manifest.write_text("image,model,bpp\nastronaut.png,HiFiC-med,0.25\nchelsea,HiFiC-med,0.125\n")
    runs = tmp_path / "runs"
    import_run(recon, runs, "hific", "mi", manifest=manifest)
    entries, _ = discover_runs(refs_dir, runs)
    got = {e.image: e.bpp(1, 1) for e in entries}
    assert got == {"astronaut": 0.25, "chelsea": 0.125}


def test_import_missing_rate_writes_nothing(refs_dir, tmp_path, outputs):
    recon, _ = outputs
    manifest = tmp_path / "bpp.csv"
    manifest.write_text("image,bpp\nastronaut,0.25\n")
    with pytest.raises(LayoutError, match="gives no rate for: chelsea"):
        import_run(recon, tmp_path / "runs", "hific", "mi", manifest=manifest)
    assert not (tmp_path / "runs").exists()


def test_import_size_mismatch_and_corrupt_recon(refs_dir, tmp_path, outputs):
    recon, streams = outputs
    Image.fromarray(np.zeros((10, 10, 3), np.uint8)).save(recon / "chelsea.png")
    with pytest.raises(LayoutError, match="size mismatch"):
        import_run(recon, tmp_path / "runs", "x", "s", bitstreams_dir=streams, refs_dir=refs_dir)
    (recon / "chelsea.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    with pytest.raises(EvalkitError, match="chelsea.png"):
        import_run(recon, tmp_path / "runs", "x", "s", bitstreams_dir=streams)
    assert not (tmp_path / "runs").exists()


def test_hific_runner_says_what_is_missing(refs_dir, tmp_path, monkeypatch):
    monkeypatch.delenv("EVALKIT_TFCI", raising=False)
    monkeypatch.setenv("EVALKIT_TFCI_METAGRAPHS", str(tmp_path / "nothing"))
    with pytest.raises(CodecError) as info:
        run_hific(refs_dir, tmp_path / "runs", "mi", progress=False)
    msg = str(info.value)
    assert "tfci.py" in msg and "hific-mi.metagraph" in msg and "import-run" in msg
    assert not (tmp_path / "runs").exists()
    with pytest.raises(CodecError, match="variant must be one of lo, mi, hi"):
        run_hific(refs_dir, tmp_path / "runs", "med", progress=False)


def test_published_references_resolve_and_parse():
    names = list_references()
    for must in ("hific-kodak", "hific-clic2020", "compressai-kodak/jpeg", "compressai-kodak/webp",
                 "compressai-kodak/bpg_444_x265_ycbcr", "compressai-kodak/compressai-mbt2018_mse",
                 "compressai-clic2020-professional/vtm"):
        assert must in names
    total = 0
    for name in names:
        path = resolve_reference(name)
        total += path.stat().st_size
        data = load_reference(name)
        r = data["results"]
        assert {"bpp", "psnr-rgb", "ms-ssim-rgb"} <= set(r) and data["name"]
        assert all(0 < b < 10 for b in r["bpp"]) and all(15 < p < 60 for p in r["psnr-rgb"])
    assert total < 150_000
    hific = load_reference("hific-clic2020")["results"]
    assert hific["bpp"] == sorted(hific["bpp"]) and len(hific["fid"]) == 3
    assert "fid" not in load_reference("hific-kodak")["results"]  # not published for Kodak
    assert (resolve_reference("hific-kodak").parent / "SOURCES.md").is_file()


def test_unknown_reference_lists_available():
    with pytest.raises(EvalkitError, match="must be one of .*hific-kodak.*got 'hific-nope'"):
        resolve_reference("hific-nope")


def test_example_references_are_real_photos(tmp_path):
    from baselines.examples import EXAMPLE_PHOTOS, write_example_references

    paths = write_example_references(tmp_path / "refs")
    assert [p.stem for p in paths] == list(EXAMPLE_PHOTOS)
    for p in paths:
        img = read_image(p)
        assert not img.grayscale and min(img.size) >= 300
    with pytest.raises(LayoutError, match="example photo must be one of"):
        write_example_references(tmp_path / "refs", ("lena",))


def test_import_manifest_names_are_inert_and_read_back(tmp_path):
    """Image names a spreadsheet would run as formulas are written to the stored manifest.csv
    with a leading quote (OWASP), and every reader gets the names back."""
    import csv

    from evalkit.layout import read_manifest
    from evalkit.textsafe import CSV_FORMULA_PREFIXES, csv_protect

    names = ["=HYPERLINK(1)", "-minus", "'quoted", "plain"]
    refs, recon = tmp_path / "refs", tmp_path / "recon"
    refs.mkdir(), recon.mkdir()
    rng = np.random.default_rng(0)
    for name in names:
        px = rng.integers(0, 256, (24, 32, 3), dtype=np.uint8)
        Image.fromarray(px).save(refs / f"{name}.png")
        Image.fromarray(px // 2).save(recon / f"{name}.png")
    given = tmp_path / "bpp.csv"
    given.write_text("image,bpp\n" + "".join(f"{csv_protect(n)}.png,0.{k + 1}\n"
                                               for k, n in enumerate(names)))
    runs = tmp_path / "runs"
    import_run(recon, runs, "codec", "s", manifest=given)
    stored = runs / "codec" / "s" / "manifest.csv"
    with open(stored, newline="") as fh:
        cells = [row["image"] for row in csv.DictReader(fh)]
    assert len(cells) == 4 and not any(c.startswith(CSV_FORMULA_PREFIXES) for c in cells)
    assert set(read_manifest(stored)) == set(names)
    entries, report = discover_runs(refs, runs)
    assert not report.missing
    assert {e.image: e.bpp(1, 1) for e in entries} == pytest.approx(
        {n: (k + 1) / 10 for k, n in enumerate(names)})
