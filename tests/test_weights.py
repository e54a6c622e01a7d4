"""Weight catalog and store: resolution order, hashes, status, import, fetch (offline)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from evalkit.cli import main
from evalkit.errors import WeightsError
from evalkit.weights import CATALOG, WeightFile, fetch, get_weight_file, import_files, resolve, status, store

CONTENT = b"evalkit test weights \x00\x01\x02" * 100


@pytest.fixture
def test_entry(tmp_path, monkeypatch, empty_weights_env):
    """A catalogued file ``tiny-1234.bin`` published at a file:// URL (no network)."""
    published = tmp_path / "server" / "tiny-1234.bin"
    published.parent.mkdir()
    published.write_bytes(CONTENT)
    entry = WeightFile(
        name="tiny", filename="tiny-1234.bin", url=published.as_uri(),
        sha256=hashlib.sha256(CONTENT).hexdigest(), size=len(CONTENT),
        metrics=("testmetric",), description="test file")
    monkeypatch.setitem(CATALOG, "tiny", entry)
    monkeypatch.setattr(store, "_warned_skip", False)
    return entry


def _put(path: Path, data: bytes = CONTENT) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


# --- the real catalog ----------------------------------------------------------------------

def test_catalog_has_the_metric_files():
    for name, filename in [("alexnet", "alexnet-owt-7be5be79.pth"),
                           ("vgg16", "vgg16-397923af.pth"),
                           ("lpips_v0.1_alex", "alex.pth"), ("lpips_v0.1_vgg", "vgg.pth"),
                           ("dists_alpha_beta", "weights.pt")]:
        entry = get_weight_file(name)
        assert entry.filename == filename
        assert entry.sha256 and len(entry.sha256) == 64 and entry.size
        assert entry.url.startswith("https://")
    # torchvision file names carry the first 8 hex digits of the sha256
    for name in ("alexnet", "vgg16"):
        entry = get_weight_file(name)
        assert entry.sha256[:8] == entry.filename.rsplit("-", 1)[1][:8]
        assert entry.url.endswith("/" + entry.filename)


@pytest.mark.parametrize("name", ["lpips_v0.1_alex", "lpips_v0.1_vgg", "dists_alpha_beta"])
def test_package_shipped_files_match_their_catalogued_digest(name, empty_weights_env):
    """The digests were taken from the official files; the package copies must verify."""
    entry = get_weight_file(name)
    path = resolve(name)  # hash verified (EVALKIT_SKIP_WEIGHT_HASH unset)
    assert path.stat().st_size == entry.size
    assert store.sha256_of(path) == entry.sha256


def test_official_dists_package_copy_is_identical():
    import DISTS_pytorch

    copy = Path(DISTS_pytorch.__file__).parent / "weights.pt"
    assert store.sha256_of(copy) == get_weight_file("dists_alpha_beta").sha256


# --- resolution order ----------------------------------------------------------------------

def test_resolution_order(test_entry, tmp_path, monkeypatch):
    hub = tmp_path / "empty_torch_home" / "hub" / "checkpoints"
    in_hub = _put(hub / test_entry.filename)
    assert resolve("tiny") == in_hub
    in_dir = _put(Path(str(store.weights_dir())) / test_entry.filename)
    assert resolve("tiny") == in_dir                      # weights dir before the hub cache
    explicit = _put(tmp_path / "elsewhere" / "renamed.bin")
    assert resolve("tiny", explicit) == explicit          # explicit file first
    assert resolve("tiny", in_hub.parent) == in_hub       # explicit directory
    assert resolve("tiny-1234.bin") == in_dir             # by official file name


def test_missing_file_message_names_file_url_and_directory(test_entry, empty_weights_env):
    with pytest.raises(WeightsError) as info:
        resolve("tiny")
    msg = str(info.value)
    assert test_entry.filename in msg and test_entry.url in msg
    assert str(empty_weights_env) in msg and "testmetric" in msg


def test_explicit_path_missing(test_entry, tmp_path):
    with pytest.raises(WeightsError, match="no such weight file"):
        resolve("tiny", tmp_path / "nothing.bin")


def test_bad_hash_is_refused(test_entry):
    bad = _put(store.weights_dir() / test_entry.filename, b"tampered")
    with pytest.raises(WeightsError, match="sha256 .* does not match"):
        resolve("tiny")
    assert bad.exists()  # never deleted behind the user's back


def test_skip_hash_env_accepts_with_a_warning(test_entry, monkeypatch, capsys):
    _put(store.weights_dir() / test_entry.filename, b"substitute")
    monkeypatch.setenv("EVALKIT_SKIP_WEIGHT_HASH", "1")
    assert resolve("tiny").read_bytes() == b"substitute"
    assert "NOT hash-checked" in capsys.readouterr().err


def test_unknown_name():
    with pytest.raises(WeightsError, match="unknown weight file 'nope'"):
        get_weight_file("nope")


# --- status / import / fetch -----------------------------------------------------------------

def _state(name: str) -> str:
    return next(r.state for r in status() if r.name == name)


def test_status_states(test_entry):
    assert _state("tiny") == "missing"
    target = _put(store.weights_dir() / test_entry.filename, b"wrong")
    assert _state("tiny") == "bad-hash"
    _put(target)
    assert _state("tiny") == "present"


def test_import_verifies_and_copies(test_entry, tmp_path):
    src = _put(tmp_path / "download" / test_entry.filename)
    [dest] = import_files([src])
    assert dest == store.weights_dir() / test_entry.filename
    assert dest.read_bytes() == CONTENT


def test_import_is_all_or_nothing(test_entry, tmp_path):
    good = _put(tmp_path / "a" / test_entry.filename)
    unknown = _put(tmp_path / "a" / "mystery.pth")
    with pytest.raises(WeightsError, match="unknown weight file 'mystery.pth'"):
        import_files([good, unknown])
    bad = _put(tmp_path / "b" / test_entry.filename, b"corrupt")
    with pytest.raises(WeightsError, match="does not match"):
        import_files([bad])
    assert not (store.weights_dir() / test_entry.filename).exists()


def test_fetch_downloads_and_verifies(test_entry):
    [path] = fetch(["tiny"], progress=False)
    assert path.read_bytes() == CONTENT and _state("tiny") == "present"


def test_fetch_with_bad_download_leaves_nothing(test_entry, tmp_path, monkeypatch):
    Path(test_entry.url.removeprefix("file://")).write_bytes(b"corrupted on the server")
    with pytest.raises(WeightsError, match="does not match"):
        fetch(["tiny"], progress=False)
    wdir = store.weights_dir()
    assert not wdir.exists() or list(wdir.iterdir()) == []


def test_fetch_unreachable_url(test_entry, monkeypatch):
    monkeypatch.setitem(CATALOG, "tiny", WeightFile(
        **{**test_entry.__dict__, "url": (Path(test_entry.url.removeprefix("file://")).parent
                                          / "gone.bin").as_uri()}))
    with pytest.raises(WeightsError, match="cannot download tiny-1234.bin .* weights import"):
        fetch(["tiny"], progress=False)


# --- CLI ---------------------------------------------------------------------------------------

def test_cli_status_lists_every_entry(test_entry, capsys):
    assert main(["weights", "status"]) == 0
    out = capsys.readouterr().out
    for name in ("alexnet", "vgg16", "lpips_v0.1_alex", "dists_alpha_beta", "tiny"):
        assert name in out
    line = next(ln for ln in out.splitlines() if ln.startswith("tiny "))
    assert "missing" in line and "testmetric" in line


def test_cli_import_and_fetch(test_entry, tmp_path, capsys):
    src = _put(tmp_path / "dl" / test_entry.filename)
    assert main(["weights", "import", str(src)]) == 0
    assert "imported" in capsys.readouterr().out
    other = tmp_path / "other_dir"
    assert main(["weights", "fetch", "tiny", "--dir", str(other)]) == 0
    assert (other / test_entry.filename).read_bytes() == CONTENT


def test_cli_errors_are_one_line(test_entry, tmp_path, capsys):
    assert main(["weights", "import", str(tmp_path / "missing.pth")]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("evalkit weights: error:") and "\n" not in err
    assert main(["weights", "fetch", "nope"]) == 1
    assert "unknown weight file" in capsys.readouterr().err


def test_cli_convert_pim_bad_archive_is_a_clear_error(tmp_path, capsys, empty_weights_env):
    bogus = tmp_path / "pim-1.zip"
    bogus.write_bytes(b"not a zip")
    assert main(["weights", "convert-pim", str(bogus), "--out", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("evalkit weights: error:") and "\n" not in err
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_fetch_refuses_files_without_digest(tmp_path, monkeypatch, empty_weights_env):
    """Derived files (e.g. converted PIM weights) have no published digest: never fetched."""
    published = tmp_path / "server" / "derived.pt"
    published.parent.mkdir()
    published.write_bytes(CONTENT)
    entry = WeightFile(name="derived", filename="derived.pt", url=published.as_uri(),
                       sha256=None, size=None, metrics=("testmetric",),
                       description="made locally by a converter")
    monkeypatch.setitem(CATALOG, "derived", entry)
    with pytest.raises(WeightsError, match="no published digest"):
        store.fetch(["derived"], progress=False)
    assert not (store.weights_dir() / "derived.pt").exists()


def test_alias_file_names_are_found_and_imported_under_the_official_name(
        tmp_path, monkeypatch, empty_weights_env):
    """Another project's name for the same bytes (torch-fidelity's Inception) is accepted."""
    entry = WeightFile(name="twin", filename="twin-official.bin", url="https://example.invalid/t",
                       sha256=hashlib.sha256(CONTENT).hexdigest(), size=len(CONTENT),
                       metrics=("testmetric",), description="test", aliases=("twin-other.bin",))
    monkeypatch.setitem(CATALOG, "twin", entry)
    with pytest.raises(WeightsError, match="also accepted as twin-other.bin"):
        resolve("twin")
    other = _put(tmp_path / "elsewhere" / "twin-other.bin")
    assert get_weight_file("twin-other.bin") is entry
    (dest,) = import_files([other])
    assert dest == store.weights_dir() / "twin-official.bin"
    assert resolve("twin") == dest
    assert resolve("twin", other) == other
