"""`evalkit study init|check|export` through evalkit.cli.main."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from study_fixtures import METHODS, TOKEN, make_study

from evalkit.cli import main
from study_app.export import VOTE_COLUMNS
from study_app.runtime import open_context


def test_help(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["study", "--help"])
    assert exc.value.code == 0
    assert "init" in capsys.readouterr().out


def test_init_then_check(tmp_path, capsys):
    make_study(tmp_path)
    out = tmp_path / "new.toml"
    assert main(["study", "init", "--refs", str(tmp_path / "refs"), "--runs", str(tmp_path / "runs"),
                 "--out", str(out), "--seed", "4"]) == 0
    text = out.read_text()
    assert 'refs = "refs"' in text and "all_pairs" in text
    assert main(["study", "init", "--refs", str(tmp_path / "refs"), "--runs", str(tmp_path / "runs"),
                 "--out", str(out)]) == 1                       # refuses to overwrite
    assert "must not exist" in capsys.readouterr().err
    # 3 images x 3 pairs = 9 stimuli < 18 regular trials of the starter: check says so
    assert main(["study", "check", str(out)]) == 1
    assert "at most 9 regular trials" in capsys.readouterr().err
    out.write_text(text.replace("trials_per_rater = 20", "trials_per_rater = 8"))
    assert main(["study", "check", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "OK" in printed and "3 comparisons" in printed


def test_init_rejects_unknown_methods(tmp_path, capsys):
    make_study(tmp_path)
    assert main(["study", "init", "--refs", str(tmp_path / "refs"), "--runs", str(tmp_path / "runs"),
                 "--out", str(tmp_path / "x.toml"), "--methods", METHODS[0], "nope/x"]) == 1
    assert "--methods must be among" in capsys.readouterr().err


def test_check_reports_missing_files(tmp_path, capsys):
    path = make_study(tmp_path)
    (tmp_path / "refs" / "coffee.png").unlink()          # fewer images: fine, but warned
    assert main(["study", "check", str(path)]) == 0
    assert "warning: no reference named like" in capsys.readouterr().out
    (tmp_path / "runs" / "pilsnerjpeg" / "quality12" / "chelsea.jpg").unlink()
    assert main(["study", "check", str(path)]) == 1
    assert "pilsnerjpeg/quality12: missing reconstruction of 'chelsea'" in capsys.readouterr().err


def test_export_writes_contract_columns_and_sidecar(tmp_path):
    path = make_study(tmp_path)
    db = f"sqlite:///{tmp_path / 'v.sqlite'}"
    ctx = open_context(path, db)
    ctx.store.enroll("tiny", "r1", ctx.plan)
    for i, side in enumerate(["left", "tie", "right"]):
        ctx.store.submit("tiny", "r1", i, side)
    assert TOKEN not in ctx.store.frame("studies").definition.iloc[0]   # secret not stored
    ctx.store.dispose()
    out = tmp_path / "votes.csv"
    assert main(["study", "export", "--db", db, "--out", str(out)]) == 0
    df = pd.read_csv(out, keep_default_na=False)
    assert tuple(df.columns) == VOTE_COLUMNS and len(df) == 3
    assert df.choice.iloc[1] == "tie"
    assert set(df.is_golden.astype(str)) <= {"True", "False"}
    side = json.loads((tmp_path / "votes.csv.json").read_text())
    assert side["n_votes"] == 3 and side["studies"][0]["seed"] == 7


def test_serve_fails_fast_on_a_bad_study(tmp_path, capsys):
    path = make_study(tmp_path)
    (tmp_path / "runs" / "pilsnerjpeg" / "quality12" / "coffee.jpg").unlink()
    assert main(["study", "serve", str(path), "--db", str(tmp_path / "v.sqlite")]) == 1
    assert "coffee" in capsys.readouterr().err
