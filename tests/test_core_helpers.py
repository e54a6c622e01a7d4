"""Small shared helpers of the core: cache paths, the uint8 RGB check, bpp, comma lists,
atomic writes and the vote-table contract."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from evalkit.cache_paths import cache_dir, cache_root, default_root
from evalkit.commalist import comma_list
from evalkit.errors import CodecError, MetricError
from evalkit.evaluate.cache import default_cache_path
from evalkit.metrics.fid_cache import default_feature_dir
from evalkit.pixels import check_rgb_uint8
from evalkit.provenance import atomic_target, atomic_write_bytes
from evalkit.rate import bits_per_pixel
from evalkit.weights import weights_dir


def test_cache_paths_follow_one_root(monkeypatch, tmp_path):
    monkeypatch.delenv("EVALKIT_CACHE_DIR", raising=False)
    monkeypatch.delenv("EVALKIT_WEIGHTS_DIR", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    home = tmp_path / "home" / ".cache" / "evalkit"
    assert default_root() == home and cache_root() == home
    assert default_cache_path() == home / "evaluate.sqlite"
    assert default_feature_dir() == home / "features"
    assert weights_dir() == home / "weights"
    monkeypatch.setenv("EVALKIT_CACHE_DIR", str(tmp_path / "c"))
    assert default_cache_path() == tmp_path / "c" / "evaluate.sqlite"
    assert default_feature_dir() == cache_dir("features") == tmp_path / "c" / "features"
    assert weights_dir() == home / "weights"          # weights have their own variable
    monkeypatch.setenv("EVALKIT_WEIGHTS_DIR", "~/w")
    assert weights_dir() == tmp_path / "home" / "w"
    assert not home.exists()                          # nothing is created by asking


def test_check_rgb_uint8():
    check_rgb_uint8(np.zeros((4, 5, 3), np.uint8))
    check_rgb_uint8(np.zeros((2, 4, 5, 3), np.uint8), batch=True)
    with pytest.raises(MetricError, match=r"image must be an \(H, W, 3\) array, got \(4, 5\)"):
        check_rgb_uint8(np.zeros((4, 5), np.uint8))
    with pytest.raises(MetricError, match="got list"):
        check_rgb_uint8([[0, 0, 0]])
    with pytest.raises(CodecError, match="pixels must be uint8, got float32"):
        check_rgb_uint8(np.zeros((4, 5, 3), np.float32), "pixels", CodecError)
    with pytest.raises(MetricError, match=r"\(N, H, W, 3\)"):
        check_rgb_uint8(np.zeros((4, 5, 3), np.uint8), "images", batch=True)


def test_bits_per_pixel():
    # 768x512 Kodak image, 49152 bytes -> exactly 1 bpp
    assert bits_per_pixel(49152, 768, 512) == 1.0
    assert bits_per_pixel(3, 2, 3) == pytest.approx(4.0)


def test_comma_list():
    assert comma_list("a, b,,c ") == ["a", "b", "c"]
    assert comma_list(["a,b", " c"]) == ["a", "b", "c"]
    assert comma_list("a,a") == ["a", "a"]
    assert comma_list("") is None and comma_list(None) is None and comma_list(" , ") is None
    from evalkit.cli.arguments import comma_list as cli_comma_list
    assert cli_comma_list is comma_list


def test_atomic_write_leaves_nothing_on_error(tmp_path):
    target = tmp_path / "sub" / "out.bin"
    atomic_write_bytes(target, b"\x00\x01")
    assert target.read_bytes() == b"\x00\x01"
    with pytest.raises(RuntimeError):
        with atomic_target(target) as tmp:
            tmp.write_bytes(b"half")
            raise RuntimeError("boom")
    assert target.read_bytes() == b"\x00\x01"
    assert sorted(os.listdir(target.parent)) == ["out.bin"]


def test_vote_contract_is_shared():
    from evalkit.vote_table import VOTE_COLUMNS
    from reports.votes import STUDY_COLUMNS, is_study_export
    from study_app.export import VOTE_COLUMNS as exported

    assert exported is VOTE_COLUMNS and STUDY_COLUMNS is VOTE_COLUMNS
    import pandas as pd
    assert is_study_export(pd.DataFrame(columns=list(VOTE_COLUMNS)))
    assert not is_study_export(pd.DataFrame(columns=list(VOTE_COLUMNS[:-1])))



def test_core_does_not_import_the_apps():
    """Only evalkit/cli/__init__.py and evalkit/demo.py may import baselines, study_app or
    reports (they compose the packages)."""
    import ast

    root = Path(__file__).resolve().parents[1] / "evalkit"
    allowed = {root / "cli" / "__init__.py", root / "demo.py"}
    offenders = []
    for path in root.rglob("*.py"):
        if path in allowed:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level
                     else [])
            offenders += [f"{path.relative_to(root.parent)}: {n}" for n in names
                          if n.split(".")[0] in ("baselines", "study_app", "reports")]
    assert offenders == []


def test_demo_refuses_an_output_folder_inside_a_source_package(tmp_path, capsys):
    import evalkit
    from evalkit.demo import DEFAULT_OUT, check_out_dir, main
    from evalkit.errors import LayoutError

    root = Path(evalkit.__file__).resolve().parents[1]
    assert check_out_dir(tmp_path / "demo") == tmp_path / "demo"
    check_out_dir(root / DEFAULT_OUT)                     # the default: top of the repository
    for inside in (root / "reports" / "demo", root / "evalkit" / "x"):
        with pytest.raises(LayoutError, match="outside the source packages"):
            check_out_dir(inside)
    assert main(["--out", str(root / "reports" / "demo")]) == 1
    assert "outside the source packages" in capsys.readouterr().err
