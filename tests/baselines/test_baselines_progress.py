"""``baseline`` progress: per-image tqdm bar with ETA in a terminal, a line per setting otherwise."""

from __future__ import annotations

import re

from baselines import sweep as sweep_mod
from baselines.sweep import run_sweep


def test_log_line_per_setting_when_not_a_terminal(refs_dir, tmp_path, capsys):
    run_sweep(refs_dir, tmp_path / "runs", ["jpeg"], [30, 60], workers=2, progress=True)
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.startswith("baseline: ")]
    assert len(lines) == 2, err
    assert {re.match(r"baseline: (jpeg/q\d+) done", ln).group(1) for ln in lines} == \
        {"jpeg/q30", "jpeg/q60"}
    assert "(2 images, mean " in lines[0] and "[1/2 settings" in lines[0]
    assert "[2/2 settings" in lines[1] and "s left]" in lines[1]
    assert "|" not in err          # no progress bar written into logs


def test_per_image_bar_with_eta_in_a_terminal(refs_dir, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(sweep_mod, "_is_terminal", lambda: True)
    run_sweep(refs_dir, tmp_path / "runs", ["jpeg", "webp"], [40, 70], workers=1, progress=True)
    err = capsys.readouterr().err
    assert "baseline sweep" in err and "8/8" in err        # 2 codecs x 2 settings x 2 images
    assert re.search(r"<\d\d:\d\d", err)                     # tqdm's remaining-time field
    assert "img/s" in err or "s/img" in err
    assert "baseline: " not in err


def test_no_progress_is_silent(refs_dir, tmp_path, capsys):
    run_sweep(refs_dir, tmp_path / "runs", ["jpeg"], [30], progress=False)
    assert capsys.readouterr().err == ""
