"""The `evalkit baseline` and `evalkit import-run` verbs."""

from __future__ import annotations

import csv
import shutil

from evalkit.cli import main
from evalkit.layout import discover_runs


def test_baseline_sweep_then_match_then_import(refs_dir, tmp_path, capsys):
    runs = tmp_path / "runs"
    assert main(["baseline", "--refs", str(refs_dir), "--runs", str(runs), "--codec", "jpeg,webp",
                 "--quality", "20,60", "--no-progress", "--workers", "1"]) == 0
    assert "jpeg     q20" in capsys.readouterr().out
    assert main(["baseline", "--refs", str(refs_dir), "--runs", str(runs), "--codec", "avif",
                 "--match", str(runs / "jpeg" / "q60"), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "match-jpeg-q60" in out
    entries, _ = discover_runs(refs_dir, runs)
    assert {e.method for e in entries} == {"jpeg/q20", "jpeg/q60", "webp/q20", "webp/q60",
                                           "avif/match-jpeg-q60"}
    targets = tmp_path / "t.csv"
    with open(targets, "w", newline="") as fh:
        csv.writer(fh).writerows([["image", "bpp"], ["astronaut", "0.005"], ["chelsea", "1.0"]])
    assert main(["baseline", "--refs", str(refs_dir), "--runs", str(runs), "--codec", "jpeg",
                 "--match", str(targets), "--setting", "lowrate", "--no-progress"]) == 0
    captured = capsys.readouterr()
    assert "warning: jpeg cannot reach astronaut's target 0.0050 bpp" in captured.err
    assert (runs / "jpeg" / "lowrate" / "chelsea.jpg").is_file()
    recon = tmp_path / "recon"
    recon.mkdir()
    for name in ("astronaut", "chelsea"):
        shutil.copy(runs / "webp" / "q20" / f"{name}.png", recon)
    # the webp folder holds two images per name: which one is the reconstruction is ambiguous
    assert main(["import-run", "--runs", str(runs), "--codec", "copy", "--setting", "s",
                 "--recon", str(runs / "webp" / "q20"), "--manifest", str(targets)]) == 1
    assert "holds two files for" in capsys.readouterr().err
    assert main(["import-run", "--runs", str(runs), "--codec", "copy", "--setting", "s",
                 "--recon", str(recon), "--manifest", str(targets), "--refs", str(refs_dir)]) == 0
    assert "imported 2 reconstructions" in capsys.readouterr().out
    entries, _ = discover_runs(refs_dir, runs, codecs=["copy"])
    assert {e.image: e.bpp(1, 1) for e in entries} == {"astronaut": 0.005, "chelsea": 1.0}


def test_cli_errors_are_one_line(refs_dir, tmp_path, capsys):
    assert main(["baseline", "--refs", str(refs_dir), "--runs", str(tmp_path / "r"),
                 "--codec", "bpg", "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("evalkit baseline: error: codec must be one of") and err.count("\n") == 1
    assert main(["baseline", "--list-codecs"]) == 0
    assert "heic" in capsys.readouterr().out
    assert main(["baseline", "--list-references"]) == 0
    assert "hific-kodak" in capsys.readouterr().out
