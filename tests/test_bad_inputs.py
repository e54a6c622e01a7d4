"""Bad input, verb by verb (issue #11): every fault is ONE line on stderr naming the culprit,
exit status 1 (2 for usage errors), no traceback, and no file written.

The matrix: every non-study verb reading images (metrics, evaluate, baseline, import-run) x every
bad-image class; the table verbs (rd, bd, table, ratecontrol) x every bad-table class; the verbs
reading manifests x every bad-manifest class; the writing verbs x unwritable outputs, a full
disk and a cache that is damaged or cannot be written.  All in-process through
:func:`evalkit.cli.main` on tiny images with psnr only; a few through a real subprocess.
Study verbs are covered in ``tests/study_app``.
"""

from __future__ import annotations

import builtins
import errno
import os
import sqlite3
import stat
import struct
import subprocess
import sys
import tempfile
import zlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from evalkit.cli import main
from evalkit.evaluate.results import read_table

ROOT = Path(__file__).resolve().parents[1]
NAMES = ("astro", "cat")  # the two references of every scenario
W, H = 40, 32


# --- data -------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def pixels() -> dict[str, np.ndarray]:
    from skimage import data

    return {"astro": np.ascontiguousarray(data.astronaut()[100:100 + H, 150:150 + W]),
            "cat": np.ascontiguousarray(data.chelsea()[50:50 + H, 50:50 + W])}


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    return (struct.pack(">I", len(payload)) + kind + payload
            + struct.pack(">I", zlib.crc32(kind + payload) & 0xFFFFFFFF))


def bomb_png(path: Path, side: int) -> Path:
    """A 100-byte PNG whose header declares ``side x side`` RGB pixels (the data is a stub):
    what a decompression bomb looks like before it is decoded."""
    ihdr = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr)
                     + _png_chunk(b"IDAT", zlib.compress(b"\0" * 64)) + _png_chunk(b"IEND", b""))
    return path


#: Bad-image classes: name -> (writer(path, good_pixels) -> path written, expected phrase).
def _truncated(path, px):
    Image.fromarray(px).save(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def _zero_byte(path, px):
    path.write_bytes(b"")
    return path


def _sixteen_bit(path, px):
    Image.fromarray(px[:, :, 1].astype(np.uint16) * 257).save(path)
    return path


def _cmyk(path, px):
    path = path.with_suffix(".tif")
    Image.fromarray(px).convert("CMYK").save(path)
    return path


def _rgba(path, px):
    alpha = np.full(px.shape[:2] + (1,), 128, np.uint8)
    Image.fromarray(np.concatenate([px, alpha], axis=2), "RGBA").save(path)
    return path


def _grey(path, px):
    Image.fromarray(px[:, :, 0], "L").save(path)
    return path


def _size_mismatch(path, px):
    Image.fromarray(np.ascontiguousarray(px[: H // 2])).save(path)
    return path


def _one_pixel(path, px):
    Image.fromarray(np.ascontiguousarray(px[:1, :1])).save(path)
    return path


def _not_an_image(path, px):
    path.write_text("this is not a PNG\n")
    return path


def _bomb(path, px):
    return bomb_png(path, 10_000)          # above evalkit's limit, below twice Pillow's


def _huge_bomb(path, px):
    return bomb_png(path, 30_000)          # above twice Pillow's limit: Pillow refuses first


IMAGE_FAULTS = {
    "truncated": _truncated, "zero-byte": _zero_byte, "16-bit": _sixteen_bit, "cmyk": _cmyk,
    "rgba": _rgba, "grey-vs-colour": _grey, "size-mismatch": _size_mismatch,
    "1x1": _one_pixel, "not-an-image": _not_an_image, "bomb": _bomb, "huge-bomb": _huge_bomb,
}


def make_refs(root: Path, pixels, bad: str | None = None, writer=None) -> tuple[Path, Path | None]:
    refs = root / "refs"
    refs.mkdir(parents=True)
    culprit = None
    for name in NAMES:
        if name == "cat" and writer is not None:
            culprit = writer(refs / f"{name}.png", pixels[name])
        else:
            Image.fromarray(pixels[name]).save(refs / f"{name}.png")
    return refs, culprit


def make_run(runs: Path, pixels, codec="jpeg", setting="q50", quality=50) -> Path:
    d = runs / codec / setting
    d.mkdir(parents=True)
    for name in NAMES:
        Image.fromarray(pixels[name]).save(d / f"{name}.jpg", quality=quality)
    return d


def make_png_run(runs: Path, pixels, writer=None, manifest: str | None = None) -> tuple[Path, Path | None]:
    """runs/learned/l1/<name>.png with a manifest of bytes; ``writer`` spoils cat.png."""
    d = runs / "learned" / "l1"
    d.mkdir(parents=True)
    culprit = None
    for name in NAMES:
        noisy = np.clip(pixels[name].astype(int) + 3, 0, 255).astype(np.uint8)
        if name == "cat" and writer is not None:
            culprit = writer(d / f"{name}.png", noisy)
        else:
            Image.fromarray(noisy).save(d / f"{name}.png")
    (d / "manifest.csv").write_text(manifest if manifest is not None
                                    else "image,bytes\nastro,300\ncat,310\n")
    return d, culprit


def files_under(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


def run_cli(argv: list[str], capsys) -> tuple[int, str, str]:
    try:
        rc = main([str(a) for a in argv])
    except SystemExit as exc:  # argparse usage errors
        rc = exc.code
    out, err = capsys.readouterr()
    return rc, out, err


def assert_one_line_error(rc, err, verb, culprits, *, code=1):
    assert rc == code, err
    assert "Traceback" not in err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1, f"expected one stderr line, got:\n{err}"
    assert lines[0].startswith(f"evalkit {verb}".strip()), lines[0]
    assert ": error: " in lines[0], lines[0]
    for c in culprits:
        assert str(c) in lines[0], f"{c} not named in: {lines[0]}"


@pytest.fixture
def quiet_env(monkeypatch, tmp_path):
    """Run from tmp_path so relative leftovers would be seen; progress bars off via flags."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


# --- 1. bad images x verbs reading images -------------------------------------------------------

IMAGE_ROLES = ("metrics-ref", "metrics-dist", "evaluate-ref", "evaluate-recon", "baseline-ref",
               "import-run-recon", "import-run-ref")


def _image_case(role: str, fault: str, root: Path, pixels):
    """argv, culprit path(s) and verb for one bad image in one role."""
    writer = IMAGE_FAULTS[fault]
    verb = role.rsplit("-", 1)[0]
    if role.startswith("metrics"):
        good = root / "good.png"
        Image.fromarray(pixels["cat"]).save(good)
        bad = writer(root / "bad.png", pixels["cat"])
        pair = [good, bad] if role.endswith("dist") else [bad, good]
        return verb, ["metrics", *pair, "--metrics", "psnr"], [bad]
    if role == "evaluate-ref":
        refs, bad = make_refs(root, pixels, writer=writer)
        make_run(root / "runs", pixels)
        return verb, ["evaluate", "--refs", refs, "--runs", root / "runs", "--out",
                      root / "out" / "r.csv", "--metrics", "psnr", "--no-progress"], [bad]
    if role == "evaluate-recon":
        refs, _ = make_refs(root, pixels)
        _, bad = make_png_run(root / "runs", pixels, writer=writer)
        return verb, ["evaluate", "--refs", refs, "--runs", root / "runs", "--out",
                      root / "out" / "r.csv", "--metrics", "psnr", "--no-progress"], [bad]
    if role == "baseline-ref":
        refs, bad = make_refs(root, pixels, writer=writer)
        return verb, ["baseline", "--refs", refs, "--runs", root / "runs", "--codec", "jpeg",
                      "--quality", "50", "--no-progress", "--workers", "1"], [bad]
    if role == "import-run-recon":
        refs, _ = make_refs(root, pixels)
        d, bad = make_png_run(root / "src", pixels, writer=writer)
        return verb, ["import-run", "--runs", root / "runs", "--codec", "x", "--setting", "s",
                      "--recon", d, "--manifest", d / "manifest.csv", "--refs", refs], [bad]
    if role == "import-run-ref":
        refs, bad = make_refs(root, pixels, writer=writer)
        d, _ = make_png_run(root / "src", pixels)
        return verb, ["import-run", "--runs", root / "runs", "--codec", "x", "--setting", "s",
                      "--recon", d, "--manifest", d / "manifest.csv", "--refs", refs], [bad]
    raise AssertionError(role)


#: Not faults in that role: the baselines encode each original on its own, so a 1x1 original or
#: originals of different sizes are fine; these must succeed.
IMAGE_OK = {("baseline-ref", "1x1"), ("baseline-ref", "size-mismatch")}


@pytest.mark.parametrize("fault", sorted(IMAGE_FAULTS))
@pytest.mark.parametrize("role", IMAGE_ROLES)
def test_bad_image(role, fault, pixels, quiet_env, capsys):
    root = quiet_env
    verb, argv, culprits = _image_case(role, fault, root, pixels)
    before = files_under(root)
    rc, _, err = run_cli(argv, capsys)
    if (role, fault) in IMAGE_OK:
        assert rc == 0 and not err.strip(), err
        return
    assert_one_line_error(rc, err, verb, culprits)
    assert files_under(root) == before


def test_bomb_limit_is_configurable(pixels, quiet_env, capsys, monkeypatch):
    good = quiet_env / "a.png"
    Image.fromarray(pixels["cat"]).save(good)
    monkeypatch.setenv("EVALKIT_MAX_IMAGE_PIXELS", str(W * H - 1))
    rc, _, err = run_cli(["metrics", good, good, "--metrics", "psnr"], capsys)
    assert_one_line_error(rc, err, "metrics", [good, "EVALKIT_MAX_IMAGE_PIXELS"])
    monkeypatch.setenv("EVALKIT_MAX_IMAGE_PIXELS", str(W * H))
    rc, out, err = run_cli(["metrics", good, good, "--metrics", "psnr"], capsys)
    assert rc == 0 and "inf" in out


@pytest.mark.parametrize("fmt, kind", [("JPEG", "JPEG"), ("WEBP", "lossy WebP")])
@pytest.mark.parametrize("verb", ["metrics", "evaluate", "baseline", "import-run"])
def test_lossy_reference_warns_and_strict_refuses(verb, fmt, kind, pixels, quiet_env, capsys):
    root = quiet_env
    refs = root / "refs"
    refs.mkdir()
    ext = ".jpg" if fmt == "JPEG" else ".webp"
    Image.fromarray(pixels["astro"]).save(refs / "astro.png")
    lossy = refs / f"cat{ext}"
    Image.fromarray(pixels["cat"]).save(lossy, fmt, quality=90)
    if verb == "metrics":
        other = root / "d.png"
        Image.fromarray(pixels["cat"]).save(other)
        argv = ["metrics", lossy, other, "--metrics", "psnr"]
    elif verb == "evaluate":
        make_run(root / "runs", pixels)
        argv = ["evaluate", "--refs", refs, "--runs", root / "runs", "--out", root / "r.csv",
                "--metrics", "psnr", "--no-progress", "--no-cache"]
    elif verb == "baseline":
        argv = ["baseline", "--refs", refs, "--runs", root / "runs", "--codec", "jpeg",
                "--quality", "50", "--no-progress", "--workers", "1"]
    else:
        d, _ = make_png_run(root / "src", pixels)
        argv = ["import-run", "--runs", root / "runs", "--codec", "x", "--setting", "s",
                "--recon", d, "--manifest", d / "manifest.csv", "--refs", refs]
    before = files_under(root)
    rc, _, err = run_cli([*argv, "--strict"], capsys)
    assert_one_line_error(rc, err, verb, [lossy, kind, "--strict"])
    assert files_under(root) == before
    rc, _, err = run_cli(argv, capsys)
    assert rc == 0, err
    warnings = [ln for ln in err.splitlines() if ln.startswith("warning:") and str(lossy) in ln]
    assert len(warnings) == 1 and kind in warnings[0] and "Traceback" not in err


def test_lossless_webp_reference_is_not_flagged(pixels, tmp_path):
    from evalkit.images import lossy_format

    Image.fromarray(pixels["cat"]).save(tmp_path / "l.webp", "WEBP", lossless=True)
    Image.fromarray(pixels["cat"]).save(tmp_path / "l.png")
    assert lossy_format(tmp_path / "l.webp") is None and lossy_format(tmp_path / "l.png") is None


@pytest.mark.parametrize("name", ["with space", "ünïcödé", "-dash", "a.b.c", "quote'name"])
def test_odd_file_names_work(name, pixels, quiet_env, capsys):
    root = quiet_env
    refs = root / "refs"
    refs.mkdir()
    Image.fromarray(pixels["cat"]).save(refs / f"{name}.png")
    d = root / "runs" / "jpeg" / "q50"
    d.mkdir(parents=True)
    Image.fromarray(pixels["cat"]).save(d / f"{name}.jpg", quality=50)
    rc, out, err = run_cli(["evaluate", "--refs", refs, "--runs", root / "runs", "--out",
                            root / "r.csv", "--metrics", "psnr", "--no-progress"], capsys)
    assert rc == 0, err
    assert read_table(root / "r.csv")["image"].tolist() == [name]   # the name, unchanged
    rc, out, err = run_cli(["metrics", "--metrics", "psnr", "--", refs / f"{name}.png",
                            d / f"{name}.jpg"], capsys)
    assert rc == 0 and "psnr" in out, err


# --- 2. bad results tables x table verbs --------------------------------------------------------

def good_results() -> pd.DataFrame:
    rows = []
    for codec, base in (("a", 30.0), ("b", 31.0)):
        for k, q in enumerate((10, 50, 90)):
            for i, image in enumerate(NAMES):
                nbytes = 200 * (k + 1) + 10 * i + (5 if codec == "b" else 0)
                rows.append({"codec": codec, "setting": f"q{q}", "image": image, "width": W,
                             "height": H, "bytes": nbytes, "bpp": nbytes * 8 / (W * H),
                             "psnr": base + 3 * k + i})
    return pd.DataFrame(rows)


def _csv(df: pd.DataFrame, path: Path) -> Path:
    df.to_csv(path, index=False)
    return path


def _set_cell(df: pd.DataFrame, column: str, row: int, value) -> pd.DataFrame:
    df[column] = df[column].astype(object)
    df.loc[row, column] = value
    return df


#: Bad-table classes: name -> writer(results df, path) -> (path written, what the error names).
_TABLES = {
    "missing-file": lambda df, p: (p.with_name("nope.csv"), [p.with_name("nope.csv")]),
    "wrong-suffix": lambda df, p: (_csv(df, p.with_suffix(".txt")), [p.with_suffix(".txt")]),
    "binary": lambda df, p: (p.write_bytes(bytes(range(256)) * 8) and p, [p]),
    "empty-file": lambda df, p: (p.write_bytes(b"") or p, [p]),
    "header-only": lambda df, p: (p.write_text(",".join(df.columns) + "\n") and p, [p]),
    "unrelated-csv": lambda df, p: (p.write_text("x,y\n1,2\n") and p, [p]),
    "no-bpp-column": lambda df, p: (_csv(df.drop(columns="bpp"), p), [p, "bpp"]),
    "no-psnr-column": lambda df, p: (_csv(df.drop(columns="psnr"), p), [p, "psnr"]),
    "no-codec-column": lambda df, p: (_csv(df.drop(columns="codec"), p), [p, "codec"]),
    "bytes-text": lambda df, p: (_csv(_set_cell(df, "bytes", 3, "12kB"), p),
                                 [p, "bytes", "12kB", "row 5"]),
    "bytes-fraction": lambda df, p: (_csv(_set_cell(df, "bytes", 2, 210.5), p),
                                     [p, "bytes", "210.5", "row 4"]),
    "bpp-text": lambda df, p: (_csv(_set_cell(df, "bpp", 0, "0.5bpp"), p),
                               [p, "bpp", "0.5bpp", "row 2"]),
    "bpp-empty": lambda df, p: (_csv(_set_cell(df, "bpp", 4, np.nan), p), [p, "bpp", "row 6"]),
    "psnr-text": lambda df, p: (_csv(_set_cell(df, "psnr", 1, "high"), p),
                                [p, "psnr", "high", "row 3"]),
    "psnr-all-nan": lambda df, p: (_csv(df.assign(psnr=np.nan), p), [p, "psnr"]),
}


def _table_fault(fault: str, root: Path) -> tuple[Path, list]:
    """Write the bad table for ``fault``; returns its path and what the error must name."""
    return _TABLES[fault](good_results(), root / "results.csv")


TABLE_FAULTS = tuple(_TABLES)


def _table_argv(verb: str, path: Path, root: Path) -> list:
    return {"rd": ["rd", path, "--out", root / "rd.png"],
            "bd": ["bd", path, "--anchor", "a", "--out", root / "bd.md"],
            "table": ["table", path, "--metrics", "psnr", "--out", root / "t.md"],
            "ratecontrol": ["ratecontrol", path, "--codec", "a", "--budget-bpp", "2.0",
                            "--out", root / "rc.csv"]}[verb]


@pytest.mark.parametrize("fault", TABLE_FAULTS)
@pytest.mark.parametrize("verb", ["rd", "bd", "table", "ratecontrol"])
def test_bad_results_table(verb, fault, quiet_env, capsys):
    root = quiet_env
    path, culprits = _table_fault(fault, root)
    if verb == "table" and fault == "psnr-all-nan":
        pytest.skip("a table of empty cells is what the paper table should print")
    before = files_under(root)
    rc, _, err = run_cli(_table_argv(verb, path, root), capsys)
    assert_one_line_error(rc, err, verb, culprits)
    assert files_under(root) == before


@pytest.mark.parametrize("verb, option, value", [
    ("bd", "--anchor", "nosuch"), ("ratecontrol", "--codec", "nosuch"),
    ("table", "--codecs", "a/q99"), ("table", "--images", "nosuch"),
    ("rd", "--codecs", "nosuch"), ("rd", "--metric", "ssim"), ("bd", "--metric", "lpips")])
def test_unknown_codec_setting_or_metric_is_named(verb, option, value, quiet_env, capsys):
    root = quiet_env
    path = _csv(good_results(), root / "results.csv")
    argv = _table_argv(verb, path, root)
    if option in argv:
        argv[argv.index(option) + 1] = value
    else:
        argv += [option, value]
    before = files_under(root)
    rc, _, err = run_cli(argv, capsys)
    assert_one_line_error(rc, err, verb, [path, value.split("/")[-1]])
    assert files_under(root) == before


@pytest.mark.parametrize("verb", ["rd", "bd", "table"])
@pytest.mark.parametrize("drop", [["bytes"], ["bytes", "width", "height"]])
def test_rate_from_bpp_alone(verb, drop, quiet_env, capsys):
    """Published points known only by bpp: no bytes column (nor pixel counts) needed."""
    root = quiet_env
    df = good_results()
    path = _csv(df.drop(columns=drop), root / "bpp_only.csv")
    rc, _, err = run_cli(_table_argv(verb, path, root), capsys)
    assert rc == 0, err
    if verb == "bd":  # same numbers as with the bytes column
        full = _csv(df, root / "full.csv")
        assert run_cli(["bd", full, "--anchor", "a", "--format", "csv", "--out",
                        root / "bd_full.csv"], capsys)[0] == 0
        assert run_cli(["bd", path, "--anchor", "a", "--format", "csv", "--out",
                        root / "bd_bpp.csv"], capsys)[0] == 0
        assert (root / "bd_full.csv").read_text() == (root / "bd_bpp.csv").read_text()


def test_ratecontrol_without_bytes_names_what_is_missing(quiet_env, capsys):
    path = _csv(good_results().drop(columns="bytes"), quiet_env / "bpp_only.csv")
    rc, _, err = run_cli(_table_argv("ratecontrol", path, quiet_env), capsys)
    assert_one_line_error(rc, err, "ratecontrol", [path, "bytes"])


def test_rd_partial_nan_setting_is_left_out_with_a_warning(quiet_env, capsys):
    df = good_results()
    df.loc[(df.codec == "b") & (df.setting == "q50") & (df.image == "cat"), "psnr"] = np.nan
    path = _csv(df, quiet_env / "results.csv")
    rc, _, err = run_cli(["rd", path, "--out", quiet_env / "rd.png"], capsys)
    assert rc == 0
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("warning:") and "b/q50" in lines[0]


@pytest.mark.parametrize("fault", ["missing-file", "binary", "empty-file"])
def test_report_unreadable_votes(fault, quiet_env, capsys):
    """`report` (tested in depth in tests/reports): an unreadable vote file is named as such."""
    votes = quiet_env / "votes.csv"
    if fault == "binary":
        votes.write_bytes(bytes(range(128, 256)) * 8)
    elif fault == "empty-file":
        votes.write_bytes(b"")
    before = files_under(quiet_env)
    rc, _, err = run_cli(["report", votes, "--out", quiet_env / "rep"], capsys)
    assert_one_line_error(rc, err, "report", [votes.name])  # report names files by their name
    assert "answer convention" not in err and files_under(quiet_env) == before


# --- 3. bad manifests x verbs reading manifests -------------------------------------------------

MANIFEST_FAULTS = {
    "binary": (bytes(range(128, 256)) * 4, ["not a text CSV"]),
    "nul-bytes": (b"image,bytes\nastro,3\x0000\ncat,310\n", []),
    "duplicate-row": (b"image,bytes\nastro,300\ncat,310\nastro.png,305\n", ["'astro'", "twice"]),
    "bytes-zero": (b"image,bytes\nastro,0\ncat,310\n", ["bytes", "'0'"]),
    "bytes-negative": (b"image,bytes\nastro,-3\ncat,310\n", ["bytes", "'-3'"]),
    "bytes-text": (b"image,bytes\nastro,ten\ncat,310\n", ["bytes", "'ten'"]),
    "bpp-nan": (b"image,bpp\nastro,nan\ncat,0.5\n", ["bpp", "'nan'"]),
    "bpp-inf": (b"image,bpp\nastro,inf\ncat,0.5\n", ["bpp", "'inf'"]),
    "missing-row": (b"image,bytes\nastro,300\n", ["cat"]),
    "empty-rate": (b"image,bytes,bpp\nastro,,\ncat,310,\n", ["astro"]),
    "no-rate-column": (b"image,size\nastro,300\ncat,310\n", ["bytes"]),
    "no-header": (b"astro,300\ncat,310\n", ["image"]),
    "empty-file": (b"", ["image"]),
    "empty-name": (b"image,bytes\n,300\ncat,310\n", ["empty image name"]),
}


def _manifest_case(verb: str, fault: str, root: Path, pixels):
    content, phrases = MANIFEST_FAULTS[fault]
    refs, _ = make_refs(root, pixels)
    if verb == "evaluate":
        d, _ = make_png_run(root / "runs", pixels, manifest="")
        (d / "manifest.csv").write_bytes(content)
        argv = ["evaluate", "--refs", refs, "--runs", root / "runs", "--out", root / "r.csv",
                "--metrics", "psnr", "--no-progress"]
        culprit = d / ("cat.png" if fault == "missing-row" else "manifest.csv")
    elif verb == "import-run":
        d, _ = make_png_run(root / "src", pixels, manifest="")
        (d / "manifest.csv").write_bytes(content)
        culprit = d / "manifest.csv"
        argv = ["import-run", "--runs", root / "runs", "--codec", "x", "--setting", "s",
                "--recon", d, "--manifest", culprit, "--refs", refs]
    else:  # baseline --match CSV: the manifest gives the bpp targets
        culprit = root / "targets.csv"
        culprit.write_bytes(content)
        argv = ["baseline", "--refs", refs, "--runs", root / "runs", "--codec", "jpeg",
                "--match", culprit, "--no-progress", "--workers", "1"]
    return argv, [culprit, *phrases]


@pytest.mark.parametrize("fault", sorted(MANIFEST_FAULTS))
@pytest.mark.parametrize("verb", ["evaluate", "import-run", "baseline"])
def test_bad_manifest(verb, fault, pixels, quiet_env, capsys):
    if verb == "baseline" and fault == "missing-row":
        pytest.skip("a target list may name a subset of the references")
    argv, culprits = _manifest_case(verb, fault, quiet_env, pixels)
    before = files_under(quiet_env)
    rc, _, err = run_cli(argv, capsys)
    assert_one_line_error(rc, err, verb, culprits)
    assert files_under(quiet_env) == before


def test_manifest_with_byte_order_mark_is_read(pixels, quiet_env, capsys):
    refs, _ = make_refs(quiet_env, pixels)
    d, _ = make_png_run(quiet_env / "runs", pixels, manifest="")
    (d / "manifest.csv").write_bytes(b"\xef\xbb\xbfimage,bytes\r\nastro,300\r\ncat,310\r\n")
    rc, _, err = run_cli(["evaluate", "--refs", refs, "--runs", quiet_env / "runs", "--out",
                          quiet_env / "r.csv", "--metrics", "psnr", "--no-progress"], capsys)
    assert rc == 0, err
    assert pd.read_csv(quiet_env / "r.csv")["bytes"].tolist() == [300, 310]


@pytest.mark.parametrize("verb", ["evaluate", "baseline", "import-run"])
@pytest.mark.parametrize("what", ["refs-missing", "refs-empty", "runs-empty"])
def test_missing_or_empty_folders(verb, what, pixels, quiet_env, capsys):
    root = quiet_env
    refs = root / "refs"
    runs = root / "runs"
    recon = root / "recon"
    if what != "refs-missing":
        refs.mkdir()
        if what == "runs-empty":
            make_refs(root / "x", pixels)
            refs = root / "x" / "refs"
    runs.mkdir()
    recon.mkdir()
    culprit = {"refs-missing": refs, "refs-empty": refs, "runs-empty": runs}[what]
    if verb == "evaluate":
        argv = ["evaluate", "--refs", refs, "--runs", runs, "--out", root / "r.csv",
                "--metrics", "psnr", "--no-progress"]
    elif verb == "baseline":
        if what == "runs-empty":
            pytest.skip("baseline writes into --runs: an empty one is normal")
        argv = ["baseline", "--refs", refs, "--runs", runs, "--codec", "jpeg", "--quality", "50",
                "--no-progress"]
    else:
        if what == "runs-empty":
            culprit = recon
        argv = ["import-run", "--runs", runs, "--codec", "x", "--setting", "s", "--recon", recon,
                "--manifest", root / "m.csv", "--refs", refs]
        (root / "m.csv").write_text("image,bytes\nastro,3\n")
        if what != "runs-empty":  # the recon folder is checked first: give it an image
            Image.fromarray(pixels["astro"]).save(recon / "astro.png")
    before = files_under(root)
    rc, _, err = run_cli(argv, capsys)
    assert_one_line_error(rc, err, verb, [culprit])
    assert files_under(root) == before


# --- 4. outputs and cache: unwritable, full disk, damaged ---------------------------------------

def _under(path, folder: Path) -> bool:
    try:
        Path(os.path.abspath(path)).relative_to(folder)
        return True
    except (ValueError, TypeError):
        return False


@pytest.fixture
def read_only(monkeypatch):
    """``read_only(folder)``: make ``folder`` refuse new files.  Not root: chmod 0555 (the real
    thing).  Root ignores permission bits, so there every way evalkit creates a file under the
    folder raises what the kernel would (EACCES; SQLite's "unable to open database file")."""
    made = []

    def deny(folder: Path) -> Path:
        folder = Path(os.path.abspath(folder))
        folder.mkdir(parents=True, exist_ok=True)
        if os.geteuid() != 0:
            folder.chmod(0o555)
            made.append(folder)
            return folder

        def refuse(path):
            raise PermissionError(errno.EACCES, "Permission denied", str(path))

        def wrap_mk(fn):
            def inner(*args, **kwargs):
                if _under(kwargs.get("dir") or tempfile.gettempdir(), folder):
                    refuse(kwargs.get("dir"))
                return fn(*args, **kwargs)
            return inner

        real_mkdir, real_open, real_connect = os.mkdir, builtins.open, sqlite3.connect

        def mkdir(path, *args, **kwargs):
            if _under(path, folder):
                refuse(path)
            return real_mkdir(path, *args, **kwargs)

        def open_(file, mode="r", *args, **kwargs):
            if isinstance(file, (str, os.PathLike)) and any(c in mode for c in "wax+") \
                    and _under(file, folder):
                refuse(file)
            return real_open(file, mode, *args, **kwargs)

        def connect(path, *args, **kwargs):
            if _under(path, folder):
                raise sqlite3.OperationalError("unable to open database file")
            return real_connect(path, *args, **kwargs)

        monkeypatch.setattr(tempfile, "mkstemp", wrap_mk(tempfile.mkstemp))
        monkeypatch.setattr(tempfile, "mkdtemp", wrap_mk(tempfile.mkdtemp))
        monkeypatch.setattr(os, "mkdir", mkdir)
        monkeypatch.setattr(builtins, "open", open_)
        monkeypatch.setattr(sqlite3, "connect", connect)
        return folder

    yield deny
    for folder in made:
        folder.chmod(0o755)


def _enospc(*args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")


def _writer_case(verb: str, root: Path, pixels, out: Path) -> list:
    """argv of a successful run of ``verb`` writing to ``out`` (a file or, for the run-writing
    verbs, a folder)."""
    results = _csv(good_results(), root / "results.csv")
    if verb in ("rd", "bd", "table", "ratecontrol"):
        argv = _table_argv(verb, results, root)
        argv[argv.index("--out") + 1] = out
        return argv
    refs, _ = make_refs(root, pixels)
    if verb == "evaluate":
        make_run(root / "runs", pixels)
        return ["evaluate", "--refs", refs, "--runs", root / "runs", "--out", out, "--metrics",
                "psnr", "--no-progress"]
    if verb == "baseline":
        return ["baseline", "--refs", refs, "--runs", out, "--codec", "jpeg", "--quality", "50",
                "--no-progress", "--workers", "1"]
    d, _ = make_png_run(root / "src", pixels)
    return ["import-run", "--runs", out, "--codec", "x", "--setting", "s", "--recon", d,
            "--manifest", d / "manifest.csv", "--refs", refs]


WRITERS = {"evaluate": "r.csv", "rd": "rd.png", "bd": "bd.md", "table": "t.md",
           "ratecontrol": "rc.csv", "baseline": None, "import-run": None}


@pytest.mark.parametrize("verb", sorted(WRITERS))
def test_read_only_output_folder(verb, read_only, pixels, quiet_env, capsys):
    ro = quiet_env / "ro"
    out = ro / WRITERS[verb] if WRITERS[verb] else ro / "runs"
    argv = _writer_case(verb, quiet_env, pixels, out)
    read_only(ro)
    before = files_under(quiet_env)
    rc, _, err = run_cli(argv, capsys)
    assert_one_line_error(rc, err, verb, [ro])
    assert files_under(quiet_env) == before


@pytest.mark.parametrize("verb", sorted(WRITERS))
def test_output_path_is_a_folder(verb, pixels, quiet_env, capsys):
    if WRITERS[verb] is None:  # --runs is a folder by design; its codec/setting is in the way
        argv = _writer_case(verb, quiet_env, pixels, quiet_env / "runs")
        target = quiet_env / "runs" / ("jpeg" if verb == "baseline" else "x")
        target.mkdir(parents=True)
        (target / ("q50" if verb == "baseline" else "s")).write_text("a file in the way\n")
        culprit = target
    else:
        culprit = quiet_env / "outdir" / WRITERS[verb]
        culprit.mkdir(parents=True)
        argv = _writer_case(verb, quiet_env, pixels, culprit)
    before = files_under(quiet_env)
    rc, _, err = run_cli(argv, capsys)
    assert_one_line_error(rc, err, verb, [culprit])
    assert files_under(quiet_env) == before


#: Where each writer's bytes go: patched to fail with ENOSPC (the disk fills up mid-write).
ENOSPC_TARGETS = {
    "evaluate-table": ("evaluate", "pandas.DataFrame.to_csv"),
    "evaluate-sidecar": ("evaluate", "pathlib.Path.write_text"),
    "rd": ("rd", "matplotlib.figure.Figure.savefig"),
    "bd": ("bd", "pathlib.Path.write_text"),
    "table": ("table", "pathlib.Path.write_text"),
    "ratecontrol": ("ratecontrol", "pandas.DataFrame.to_csv"),
    "baseline": ("baseline", "PIL.Image.Image.save"),
    "import-run": ("import-run", "shutil.copyfile"),
}


@pytest.mark.parametrize("case", sorted(ENOSPC_TARGETS))
def test_full_disk(case, pixels, quiet_env, capsys, monkeypatch):
    verb, target = ENOSPC_TARGETS[case]
    out = quiet_env / "out" / (WRITERS[verb] or "runs")
    argv = _writer_case(verb, quiet_env, pixels, out)
    before = files_under(quiet_env)
    monkeypatch.setattr(target, _enospc)
    rc, _, err = run_cli(argv, capsys)
    assert_one_line_error(rc, err, verb, ["No space left on device"])
    assert files_under(quiet_env) == before


def test_full_disk_after_the_first_evaluate_output_leaves_none(pixels, quiet_env, capsys,
                                                              monkeypatch):
    """The summary fails after results.csv was written: neither may appear."""
    import pandas

    real = pandas.DataFrame.to_csv
    calls = []

    def second_fails(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            _enospc()
        return real(self, *args, **kwargs)

    argv = _writer_case("evaluate", quiet_env, pixels, quiet_env / "r.csv")
    before = files_under(quiet_env)
    monkeypatch.setattr(pandas.DataFrame, "to_csv", second_fails)
    rc, _, err = run_cli(argv, capsys)
    assert_one_line_error(rc, err, "evaluate", ["r.summary.csv", "No space left"])
    assert files_under(quiet_env) == before


def test_read_only_cache_folder_fails_before_computing(read_only, pixels, quiet_env, capsys,
                                                       monkeypatch):
    ro = read_only(quiet_env / "cache")
    argv = _writer_case("evaluate", quiet_env, pixels, quiet_env / "r.csv")
    computed = []
    import evalkit.metrics as metrics

    real = metrics.compute_batch
    monkeypatch.setattr(metrics, "compute_batch", lambda *a, **k: computed.append(1) or real(*a, **k))
    before = files_under(quiet_env)
    rc, _, err = run_cli([*argv, "--cache", ro / "c.sqlite"], capsys)
    assert_one_line_error(rc, err, "evaluate", [ro / "c.sqlite", "--no-cache"])
    assert not computed and files_under(quiet_env) == before


def test_read_only_output_folder_fails_before_computing(read_only, pixels, quiet_env, capsys,
                                                        monkeypatch):
    ro = read_only(quiet_env / "ro")
    argv = _writer_case("evaluate", quiet_env, pixels, ro / "r.csv")
    import evalkit.evaluate.runner as runner

    monkeypatch.setattr(runner, "discover_runs", lambda *a, **k: pytest.fail("computed"))
    rc, _, err = run_cli(argv, capsys)
    assert_one_line_error(rc, err, "evaluate", [ro])


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores permission bits")
def test_really_read_only_folder(pixels, quiet_env, capsys):
    argv = _writer_case("evaluate", quiet_env, pixels, quiet_env / "ro" / "r.csv")
    (quiet_env / "ro").mkdir()
    (quiet_env / "ro").chmod(0o555)
    try:
        rc, _, err = run_cli(argv, capsys)
    finally:
        (quiet_env / "ro").chmod(0o755)
    assert_one_line_error(rc, err, "evaluate", [quiet_env / "ro"])


def test_cache_path_is_a_folder(pixels, quiet_env, capsys):
    argv = _writer_case("evaluate", quiet_env, pixels, quiet_env / "r.csv")
    (quiet_env / "cachedir").mkdir()
    before = files_under(quiet_env)
    rc, _, err = run_cli([*argv, "--cache", quiet_env / "cachedir"], capsys)
    assert_one_line_error(rc, err, "evaluate", [quiet_env / "cachedir"])
    assert files_under(quiet_env) == before


@pytest.mark.parametrize("damage", ["garbage", "truncated-database"])
def test_damaged_cache_is_moved_aside_and_rebuilt(damage, pixels, quiet_env, capsys):
    cache = quiet_env / "c.sqlite"
    argv = [*_writer_case("evaluate", quiet_env, pixels, quiet_env / "r.csv"), "--cache", cache]
    if damage == "garbage":
        cache.write_bytes(b"not a database at all\n" * 100)
    else:  # a real cache cut in half (a crash while copying it, a full disk...)
        assert run_cli(argv, capsys)[0] == 0
        data = cache.read_bytes()
        for side in (cache.with_name(cache.name + "-wal"), cache.with_name(cache.name + "-shm")):
            side.unlink(missing_ok=True)
        cache.write_bytes(data[:100] + b"\xff" * (len(data) - 100))
    rc, out, err = run_cli(argv, capsys)
    assert rc == 0, err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("warning:") and str(cache) in lines[0]
    assert "Traceback" not in err and "2 computed, 0 reused" in out
    aside = [p for p in quiet_env.iterdir() if p.name.startswith("c.sqlite.corrupt-")]
    assert len(aside) == 1
    rc, out, err = run_cli(argv, capsys)  # the rebuilt cache works
    assert rc == 0 and "0 computed, 2 reused" in out and not err.strip()


class _FullDiskDB:
    """Stands in for the cache's sqlite3 connection: reads work, every write fails the way
    SQLite reports a full disk."""

    def __init__(self, db):
        self._db = db

    def execute(self, sql, *args):
        if sql.lstrip().upper().startswith(("INSERT", "BEGIN")):
            raise sqlite3.OperationalError("database or disk is full")
        return self._db.execute(sql, *args)

    def executemany(self, sql, *args):
        raise sqlite3.OperationalError("database or disk is full")

    def __enter__(self):
        return self._db.__enter__()

    def __exit__(self, *exc):
        return self._db.__exit__(*exc)

    def __getattr__(self, name):
        return getattr(self._db, name)


def test_cache_disk_full_while_running(pixels, quiet_env, capsys, monkeypatch):
    from evalkit.evaluate import cache as cache_mod

    real_open = cache_mod.ResultCache._open
    opened = []

    def open_then_fill_disk(self):
        real_open(self)
        opened.append(1)
        if len(opened) == 2:  # the CLI's check passes; the disk fills up during the run
            self._db = _FullDiskDB(self._db)

    monkeypatch.setattr(cache_mod.ResultCache, "_open", open_then_fill_disk)
    cache = quiet_env / "c.sqlite"
    argv = [*_writer_case("evaluate", quiet_env, pixels, quiet_env / "r.csv"), "--cache", cache]
    before = files_under(quiet_env) | {"c.sqlite", "c.sqlite-wal", "c.sqlite-shm"}
    rc, _, err = run_cli(argv, capsys)
    assert_one_line_error(rc, err, "evaluate", [cache, "no space left", "--no-cache"])
    assert files_under(quiet_env) <= before


def test_bad_layout_creates_no_cache_file(pixels, quiet_env, capsys):
    cache = quiet_env / "typo.sqlite"
    refs, _ = make_refs(quiet_env, pixels)
    d = make_run(quiet_env / "runs", pixels)
    (d / "cat.jpg").write_bytes(b"")  # a 0-byte bitstream: its rate would be 0
    before = files_under(quiet_env)
    rc, _, err = run_cli(["evaluate", "--refs", refs, "--runs", quiet_env / "runs", "--out",
                          quiet_env / "r.csv", "--metrics", "psnr", "--no-progress",
                          "--cache", cache], capsys)
    assert_one_line_error(rc, err, "evaluate", [d / "cat.jpg", "empty bitstream"])
    assert files_under(quiet_env) == before


def test_cache_never_trusts_size_and_mtime(pixels, quiet_env, capsys):
    """New pixels under the same size and mtime (``cp -p``, ``rsync -t``) are recomputed."""
    argv = _writer_case("evaluate", quiet_env, pixels, quiet_env / "r.csv")
    assert run_cli(argv, capsys)[0] == 0
    first = pd.read_csv(quiet_env / "r.csv").set_index("image")["psnr"]
    recon = quiet_env / "runs" / "jpeg" / "q50" / "cat.jpg"
    st = recon.stat()
    data = bytearray(recon.read_bytes())
    # flip bits of the last scan bytes before the EOI marker: same size, other pixels
    for k in range(-40, -2):
        data[k] ^= 0x01 if data[k] not in (0xFE, 0xFF, 0x00) else 0x00
    recon.write_bytes(bytes(data))
    os.utime(recon, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert recon.stat().st_size == st.st_size and recon.stat().st_mtime_ns == st.st_mtime_ns
    rc, out, err = run_cli(argv, capsys)
    assert rc == 0, err
    assert "1 computed, 1 reused" in out
    second = pd.read_csv(quiet_env / "r.csv").set_index("image")["psnr"]
    assert second["astro"] == first["astro"] and second["cat"] != first["cat"]


# --- 5. usage errors, weights status --------------------------------------------------------------

@pytest.mark.parametrize("argv", [["bd", "r.csv"], ["evaluate", "--refs", "a"],
                                  ["metrics", "a.png", "b.png", "--workers", "2"],
                                  ["weights", "frob"], ["rd", "r.csv", "--pooling", "median"]])
def test_usage_errors_are_one_line_with_status_2(argv, quiet_env, capsys):
    rc, _, err = run_cli(argv, capsys)
    assert_one_line_error(rc, err, "", ["--help"], code=2)  # "evalkit:" or "evalkit VERB:"


def test_weights_status_prints_the_url_of_every_missing_file(capsys):
    from evalkit.weights.catalog import CATALOG

    assert main(["weights", "status"]) == 0
    out = capsys.readouterr().out
    tail = out.split("to download")[1]
    made = {m for e in CATALOG.values() for m in e.makes}
    for entry in CATALOG.values():  # the isolated weights folder holds nothing
        if entry.package:
            continue  # shipped by an installed package: present
        line = next(ln for ln in tail.splitlines() if ln.strip().startswith(entry.filename))
        assert (entry.url in line) if entry.name not in made else ("convert-pim" in line)


# --- 6. a few through a real subprocess -------------------------------------------------------------

def _subprocess(argv, cwd):
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return subprocess.run([sys.executable, "-m", "evalkit", *map(str, argv)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


def test_subprocess_faults(pixels, tmp_path):
    """Decompression bomb (metrics), binary manifest (evaluate), text in bytes (bd), usage."""
    bomb = bomb_png(tmp_path / "bomb.png", 10_000)
    good = tmp_path / "good.png"
    Image.fromarray(pixels["cat"]).save(good)
    refs, _ = make_refs(tmp_path / "e", pixels)
    d, _ = make_png_run(tmp_path / "e" / "runs", pixels)
    (d / "manifest.csv").write_bytes(bytes(range(128, 256)))
    bad = tmp_path / "results.csv"
    df = good_results().astype({"bytes": object})
    df.loc[0, "bytes"] = "1.5e3x"
    df.to_csv(bad, index=False)
    cases = [
        (["metrics", good, bomb, "--metrics", "psnr"], 1, [bomb, "EVALKIT_MAX_IMAGE_PIXELS"]),
        (["evaluate", "--refs", refs, "--runs", tmp_path / "e" / "runs", "--out",
          tmp_path / "r.csv", "--metrics", "psnr", "--no-progress"], 1, [d / "manifest.csv"]),
        (["bd", bad, "--anchor", "a"], 1, [bad, "bytes"]),
        (["bd", bad], 2, ["--anchor"]),
    ]
    before = files_under(tmp_path)
    for argv, code, culprits in cases:
        proc = _subprocess(argv, tmp_path)
        assert_one_line_error(proc.returncode, proc.stderr, argv[0], culprits, code=code)
    assert files_under(tmp_path) == before


def test_outputs_follow_the_umask_through_the_cli(tmp_path, monkeypatch, capsys):
    results = _csv(good_results(), tmp_path / "results.csv")
    old = os.umask(0o027)
    try:
        assert main(["table", str(results), "--out", str(tmp_path / "t.md")]) == 0
    finally:
        os.umask(old)
    for name in ("t.md", "t.md.json"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o640


@pytest.mark.parametrize("mask, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_atomic_outputs_follow_the_umask(tmp_path, mask, mode):
    from evalkit.provenance import atomic_write_text

    old = os.umask(mask)
    try:
        atomic_write_text(tmp_path / "out.txt", "x\n")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "out.txt").stat().st_mode) == mode
