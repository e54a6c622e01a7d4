"""Rater and experimenter flows driven through streamlit.testing.v1.AppTest."""

from __future__ import annotations

from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest
from study_fixtures import CODEC, METHODS, SETTINGS, TOKEN

from study_app.export import votes_table
from study_app.store import VoteStore

APP = str(Path(__file__).resolve().parents[2] / "study_app" / "app.py")
N = 6   # trials per rater in the tiny study (1 golden)


@pytest.fixture
def env(study_file, tmp_path, monkeypatch):
    db = f"sqlite:///{tmp_path / 'votes.sqlite'}"
    monkeypatch.setenv("EVALKIT_STUDY_FILE", str(study_file))
    monkeypatch.setenv("EVALKIT_STUDY_DB", db)
    monkeypatch.delenv("EVALKIT_STUDY_TOKEN", raising=False)
    store = VoteStore(db)
    yield store
    store.dispose()


def new_app(**params) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    for k, v in params.items():
        at.query_params[k] = v
    return at.run()


def start_as(at: AppTest, rater: str = "") -> AppTest:
    at.checkbox(key="consent_box").check().run()
    at.button(key="consent_continue").click().run()
    at.text_input(key="rater_entry").input(rater).run()
    at.button(key="identity_start").click().run()
    assert not at.exception
    return at


def current_trial(at: AppTest) -> int | None:
    keys = [b.key for b in at.button if b.key and b.key.startswith("t")]
    return int(keys[0][1:].split("_")[0]) if keys else None


def _protos(node) -> list[str]:
    out = [str(node.proto)] if getattr(node, "proto", None) is not None else []
    children = getattr(node, "children", None)
    for child in (children.values() if isinstance(children, dict) else []):
        out += _protos(child)
    return out


def all_text(at: AppTest) -> str:
    """Every message the page would send: texts, labels, captions, alt texts, image URLs, ids."""
    return "\n".join(_protos(at._tree))


def assert_blind(at: AppTest) -> None:
    text = all_text(at)
    assert 'alt: "' in text and 'caption: "' in text   # the check does see the protos
    assert ".jpg" not in text and ".png" in text            # lossless, neutral media names
    for secret in (CODEC, *SETTINGS, "golden", "blur", "noise", "runs/"):
        assert secret not in text, f"{secret!r} leaked into the page"


def answer(at: AppTest, side: str) -> AppTest:
    idx = current_trial(at)
    at.button(key=f"t{idx}_{side}").click().run()
    assert not at.exception
    return at


def test_full_rater_session(env):
    at = new_app()
    assert "consent_box" in [c.key for c in at.checkbox]
    assert not [b for b in at.button if b.key == "identity_start"]     # consent comes first
    start_as(at, "alice")
    assert at.query_params["rater"] == ["alice"] or at.query_params["rater"] == "alice"
    seen = []
    for k in range(N):
        idx = current_trial(at)
        seen.append(idx)
        assert at.get("progress")[0].proto.text == f"{k} of {N} answered"
        assert len(at.get("image")) == 3                                 # original, A, B
        assert_blind(at)
        answer(at, ("left", "right")[k % 2])
    assert seen == list(range(N))
    assert current_trial(at) is None
    assert any("DONE42" in s.value for s in at.success)
    df = votes_table(env, "tiny")
    assert len(df) == N and set(df.rater) == {"alice"}
    assert (df.duration_s >= 0).all()
    regular = df[~df.is_golden]
    assert set(regular.choice) <= set(METHODS)
    # the stored choice is the method that was on the clicked side
    for _, row in df.iterrows():
        assert row.choice == (row.left if row.trial % 2 == 0 else row.right)
    assert env.get_rater("tiny", "alice").completed


def test_cant_decide_is_stored_as_tie(env):
    at = start_as(new_app(), "bob")
    answer(at, "tie")
    df = votes_table(env, "tiny")
    assert df.iloc[0].choice == "tie" and current_trial(at) == 1


def test_refresh_resumes_at_first_unanswered(env):
    at = start_as(new_app(), "carol")
    answer(at, "left")
    answer(at, "right")
    # a refresh = a new browser session with the same URL (the app put ?rater= into it)
    at2 = new_app(rater="carol")
    assert current_trial(at2) == 2
    assert not [c for c in at2.checkbox if c.key == "consent_box"]    # no second consent
    answer(at2, "left")
    assert env.count_votes("tiny") == 3
    # a server restart: the app's shared state (store, caches) is rebuilt from the files
    st.cache_resource.clear()
    at3 = new_app(rater="carol")
    assert current_trial(at3) == 3


def test_double_submit_stores_one_vote(env):
    """Two tabs on the same trial both answer it: one vote, the second tab moves on."""
    tab1 = start_as(new_app(), "dave")
    tab2 = new_app(rater="dave")
    assert current_trial(tab1) == current_trial(tab2) == 0
    answer(tab1, "left")
    answer(tab2, "right")                 # stale page resubmits trial 0
    assert env.count_votes("tiny") == 1
    df = votes_table(env, "tiny")
    assert df.iloc[0].choice == df.iloc[0].left     # the first answer wins
    assert current_trial(tab2) == 1
    answer(tab2, "tie")
    assert env.count_votes("tiny") == 2


def test_prolific_parameters_identify_rater(env):
    at = new_app(PROLIFIC_PID="5f1d2c", STUDY_ID="st9", SESSION_ID="se7")
    at.checkbox(key="consent_box").check().run()
    at.button(key="consent_continue").click().run()
    assert current_trial(at) == 0                     # no id page for crowd raters
    answer(at, "left")
    df = votes_table(env, "tiny")
    assert df.iloc[0].rater == "5f1d2c" and df.iloc[0].session == "se7"
    raters = env.frame("raters", "tiny")
    assert raters.iloc[0].source == "prolific" and raters.iloc[0].platform_study == "st9"


def test_generated_id_when_left_empty(env):
    at = start_as(new_app(), "")
    rid = env.frame("raters", "tiny").iloc[0].rater
    assert rid.startswith("r-") and current_trial(at) == 0


def test_flip_and_zoom_views(env):
    at = start_as(new_app(), "erin")
    at.segmented_control(key="mode_0").set_value("Flip").run()
    assert len(at.get("image")) == 1
    at.segmented_control(key="flip_0").set_value("B").run()
    assert len(at.get("image")) == 1 and not at.exception
    at.segmented_control(key="mode_0").set_value("Zoom").run()
    at.slider(key="zx_0").set_value(10).run()
    assert len(at.get("image")) == 3 and not at.exception
    assert_blind(at)
    answer(at, "left")
    assert current_trial(at) == 1


def test_experimenter_page_needs_token_and_shows_golden_failures(env):
    at = start_as(new_app(), "frank")
    plan = env.trials("tiny", "frank")
    for t in plan:                        # fail the golden question on purpose
        side = ("right" if t.a_left else "left") if t.is_golden else "left"
        assert current_trial(at) == t.index
        answer(at, side)
    exp = new_app(view="experimenter")
    assert not exp.dataframe
    exp.text_input(key="exp_token").input("wrong").run()
    assert not exp.dataframe and exp.error
    exp.text_input(key="exp_token").input(TOKEN).run()
    assert len(exp.dataframe) == 3
    comps = exp.dataframe[0].value
    assert comps["votes"].sum() == N - 1 and set(comps.method_a) <= set(METHODS)
    raters = exp.dataframe[1].value
    assert raters.iloc[0].answered == N and bool(raters.iloc[0].completed)
    assert raters.iloc[0].golden_failed == 1
    failures = exp.dataframe[2].value
    assert len(failures) == 1 and failures.iloc[0].rater == "frank"
    assert failures.iloc[0].degradation.startswith("golden:")
