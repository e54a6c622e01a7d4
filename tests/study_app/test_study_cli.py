"""`evalkit study init|check|export` through evalkit.cli.main."""

from __future__ import annotations

import json
import os
import stat

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
    # 3 images x 3 pairs = 9 stimuli: the starter asks for 9 regular + 1 golden, and its own
    # check accepts it
    assert "trials_per_rater = 10" in text
    assert main(["study", "check", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "OK" in printed and "3 comparisons" in printed and "10 trials per rater (1 golden)" in printed
    out.write_text(text.replace("trials_per_rater = 10", "trials_per_rater = 20"))
    assert main(["study", "check", str(out)]) == 1
    assert "at most 9 regular trials" in capsys.readouterr().err


def test_init_with_few_stimuli_writes_a_file_check_accepts(tmp_path, capsys):
    make_study(tmp_path)
    (tmp_path / "refs" / "chelsea.png").unlink()
    (tmp_path / "refs" / "coffee.png").unlink()
    out = tmp_path / "two.toml"
    assert main(["study", "init", "--refs", str(tmp_path / "refs"), "--runs", str(tmp_path / "runs"),
                 "--out", str(out), "--methods", *METHODS[:2]]) == 0   # 1 pair x 1 image
    assert main(["study", "check", str(out)]) == 0
    assert "2 trials per rater (1 golden)" in capsys.readouterr().out
    assert main(["study", "init", "--refs", str(tmp_path / "refs"), "--runs", str(tmp_path / "runs"),
                 "--out", str(tmp_path / "bad name.toml")]) == 1     # refused before writing
    assert not (tmp_path / "bad name.toml").exists()


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
    ctx.store.enroll("tiny", "id:r1")
    for i, side in enumerate(["left", "tie", "right"]):
        ctx.store.submit("tiny", "id:r1", i, side, first=(0, ctx.first_trial(0)), planner=ctx.plan)
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
    umask = os.umask(0)
    os.umask(umask)
    for f in (out, tmp_path / "votes.csv.json"):            # outputs follow the umask
        assert stat.S_IMODE(f.stat().st_mode) == 0o666 & ~umask


def _one_line_error(capsys, *needles) -> str:
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    for n in needles:
        assert n in err, err
    return err


def test_export_errors_are_one_line_and_leave_nothing(tmp_path, capsys):
    out = tmp_path / "votes.csv"
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(os.urandom(4096))
    assert main(["study", "export", "--db", str(junk), "--out", str(out)]) == 1
    _one_line_error(capsys, "junk.sqlite")
    typo = tmp_path / "typo.sqlite"
    assert main(["study", "export", "--db", f"sqlite:///{typo}", "--out", str(out)]) == 1
    _one_line_error(capsys, "typo.sqlite", "does not exist")
    assert not typo.exists()                                  # no empty database left behind
    assert main(["study", "export", "--db", "postgresql://u:pw@127.0.0.1:9/votes",
                 "--out", str(out)]) == 1                     # a PostgreSQL server that is down
    err = _one_line_error(capsys, "127.0.0.1:9/votes")
    assert "pw" not in err
    assert not out.exists() and not (tmp_path / "votes.csv.json").exists()


def test_garbage_study_files_are_one_line_errors(tmp_path, capsys):
    for name, content in (("bin.toml", os.urandom(2048)), ("nul.toml", b"[study]\x00name=\x01"),
                          ("text.toml", b"just some words\n=== more\n")):
        (tmp_path / name).write_bytes(content)
        for verb in ("check", "serve"):
            assert main(["study", verb, str(tmp_path / name)]) == 1
            _one_line_error(capsys, name)


def test_serve_fails_fast_on_a_bad_study(tmp_path, capsys):
    path = make_study(tmp_path)
    (tmp_path / "runs" / "pilsnerjpeg" / "quality12" / "coffee.jpg").unlink()
    assert main(["study", "serve", str(path), "--db", str(tmp_path / "v.sqlite")]) == 1
    assert "coffee" in capsys.readouterr().err
