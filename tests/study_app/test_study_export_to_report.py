"""The two pipelines meet: study app -> vote store -> export -> `evalkit report`, with a results
table from `evalkit evaluate` on the same folders.  Raters always pick the higher JPEG quality
(and the original in golden questions), so the report must rank the settings by quality and
PSNR must agree with the humans everywhere."""

from __future__ import annotations

import json

import pandas as pd
from study_fixtures import CODEC, make_study

from evalkit.cli import main
from study_app.runtime import open_context


def _quality(method: str) -> int:
    return int(method.rsplit("quality", 1)[1])


def _side_of_preferred(trial) -> str:
    if trial.is_golden:  # the original is method_a of a golden trial
        return "left" if trial.a_left else "right"
    best = max((trial.method_a, trial.method_b), key=_quality)
    return "left" if trial.left == best else "right"


def test_votes_from_the_study_become_a_report(tmp_path, capsys):
    study_file = make_study(tmp_path, trials=8, golden_share=0.25)
    ctx = open_context(study_file)
    raters = [f"rater{k}" for k in range(6)]
    for rater in raters:
        ctx.store.enroll(ctx.defn.name, rater, source="entered")
        shown = ctx.first_trial(ctx.store.next_slot(ctx.defn.name))
        ctx.store.submit(ctx.defn.name, rater, 0, _side_of_preferred(shown),
                         first=(ctx.store.next_slot(ctx.defn.name), shown), planner=ctx.plan)
        for trial in ctx.store.trials(ctx.defn.name, rater)[1:]:
            ctx.store.submit(ctx.defn.name, rater, trial.index, _side_of_preferred(trial))
    ctx.store.dispose()

    db = f"sqlite:///{tmp_path / 'study.votes.sqlite'}"
    votes = tmp_path / "votes.csv"
    assert main(["study", "export", "--db", db, "--out", str(votes)]) == 0
    exported = pd.read_csv(votes)
    assert len(exported) == 6 * 8
    assert exported["is_golden"].sum() > 0 and not exported["golden_failed"].any()

    results = tmp_path / "results.csv"
    assert main(["evaluate", "--refs", str(tmp_path / "refs"), "--runs", str(tmp_path / "runs"),
                 "--metrics", "psnr", "--out", str(results), "--no-cache", "--no-progress"]) == 0

    out = tmp_path / "report"
    assert main(["report", str(votes), "--results", str(results), "--out", str(out),
                 "--bootstrap", "200", "--seed", "1"]) == 0
    capsys.readouterr()

    ranking = pd.read_csv(out / "ranking.csv")
    order = ranking.sort_values("score", ascending=False)["method"].tolist()
    assert order == [f"{CODEC}/quality61", f"{CODEC}/quality33", f"{CODEC}/quality12"]
    assert ranking["n_votes"].sum() == 2 * (exported["is_golden"] == False).sum()  # noqa: E712

    summary = json.loads((out / "summary.json").read_text())
    entries = summary["comparisons"] if isinstance(summary, dict) else summary
    assert len(entries) == 3
    for e in entries:
        if e["decided"]:
            assert e["win_rate"] in (0.0, 1.0)  # unanimous raters
    report = (out / "report.md").read_text()
    assert "psnr" in report
    assert "Position check" in report  # the export records sides; the report checks them
    regular = exported[~exported["is_golden"].astype(bool)]
    assert summary["position_bias"]["votes"] == len(regular)
    assert summary["position_bias"]["left"] == int((regular["choice"] == regular["left"]).sum())
    assert (out / "report.html").is_file()
