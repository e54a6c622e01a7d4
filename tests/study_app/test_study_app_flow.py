"""Rater and experimenter flows driven through streamlit.testing.v1.AppTest."""

from __future__ import annotations

import io
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import streamlit as st
from PIL import Image
from streamlit.testing.v1 import AppTest
from study_fixtures import CODEC, METHODS, SETTINGS, TOKEN

from evalkit.cli import main
from study_app import rater_view
from study_app.export import votes_csv, votes_table
from study_app.store import VoteStore
from study_app.store_engine import StoreUnavailable

APP = str(Path(__file__).resolve().parents[2] / "study_app" / "app.py")
N = 6   # trials per rater in the tiny study (1 golden)
HOSTILE = '=HYPERLINK("http://evil.example","x")'


SERVED: dict[str, bytes] = {}   # media URL -> bytes, as the app registered them


@pytest.fixture
def env(study_file, tmp_path, monkeypatch):
    real = rater_view._media_url

    def recording(png, where):
        url = real(png, where)
        SERVED[url] = png
        return url

    monkeypatch.setattr(rater_view, "_media_url", recording)
    db = f"sqlite:///{tmp_path / 'votes.sqlite'}"
    monkeypatch.setenv("EVALKIT_STUDY_FILE", str(study_file))
    monkeypatch.setenv("EVALKIT_STUDY_DB", db)
    monkeypatch.delenv("EVALKIT_STUDY_TOKEN", raising=False)
    st.cache_resource.clear()
    store = VoteStore(db)
    yield store
    store.dispose()


def new_app(**params) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    for k, v in params.items():
        at.query_params[k] = v
    return at.run()


def param(at: AppTest, name: str) -> str | None:
    v = at.query_params.get(name)
    return v[0] if isinstance(v, list) else v


def start_as(at: AppTest, rater: str = "") -> AppTest:
    at.checkbox(key="consent_box").check().run()
    at.button(key="consent_continue").click().run()
    at.text_input(key="rater_entry").input(rater).run()
    at.button(key="identity_start").click().run()
    assert not at.exception
    return at


def current_trial(at: AppTest) -> int | None:
    keys = [b.key for b in at.button if b.key and re.match(r"t\d+_", b.key)]
    return int(keys[0][1:].split("_")[0]) if keys else None


def shown_images(at: AppTest) -> list[tuple[str, np.ndarray, str]]:
    """(alt, decoded pixels, html) of every inline image on the page."""
    out = []
    for h in at.html:
        m = re.search(r'src="([^"]+/media/[0-9a-f]+\.png)" alt="([^"]*)"', h.proto.body)
        if m:
            px = np.asarray(Image.open(io.BytesIO(SERVED[m.group(1)])).convert("RGB"))
            out.append((m.group(2), px, h.proto.body))
    return out


def _protos(node) -> list[str]:
    out = [str(node.proto)] if getattr(node, "proto", None) is not None else []
    children = getattr(node, "children", None)
    for child in (children.values() if isinstance(children, dict) else []):
        out += _protos(child)
    return out


def all_text(at: AppTest) -> str:
    """Every message the page would send: texts, labels, captions, alt texts, html, ids."""
    return "\n".join(_protos(at._tree))


def assert_blind(at: AppTest) -> None:
    text = all_text(at)
    assert 'alt=\\"Image A\\"' in text or 'alt="Image A"' in text   # the check sees the page
    assert ".jpg" not in text and "/media/" in text
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
    secret = param(at, "resume")
    assert secret and re.fullmatch(r"[A-Za-z0-9_-]{32}", secret)       # 192-bit resume secret
    assert "alice" not in str(dict(at.query_params))                   # never the bare id
    assert env.get_rater("tiny", "id:alice").slot is None              # no slot before a vote
    seen, urls = [], set()
    for k in range(N):
        idx = current_trial(at)
        seen.append(idx)
        assert at.get("progress")[0].proto.text == f"{k} of {N} answered"
        imgs = shown_images(at)
        assert [a for a, _, _ in imgs] == ["Original", "Image A", "Image B"]
        urls |= {re.search(r'src="([^"]+)"', body).group(1) for _, _, body in imgs}
        assert_blind(at)
        answer(at, ("left", "right")[k % 2])
    assert seen == list(range(N))
    assert len(urls) == 3 * N        # no URL shared between trials (same image, same URL: never)
    assert current_trial(at) is None
    assert any("DONE42" in s.value for s in at.success)
    df = votes_table(env, "tiny")
    assert len(df) == N and set(df.rater) == {"id:alice"}
    assert (df.duration_s >= 0).all()
    assert set(df[~df.is_golden].choice) <= set(METHODS)
    for _, row in df.iterrows():   # the stored choice is the method that was on the clicked side
        assert row.choice == (row.left if row.trial % 2 == 0 else row.right)
    assert env.get_rater("tiny", "id:alice").completed


def test_images_are_exactly_the_stimulus(env, study_file):
    from study_app.runtime import open_context

    at = start_as(new_app(), "px")
    ctx = open_context(study_file, env.url)
    t = ctx.store.trials("tiny", "id:px") or [None]
    plan_t = t[0] if t[0] is not None else at.session_state["tentative"][1]
    (_, orig, _), (_, a, _), (_, b, _) = shown_images(at)
    src = ctx.source
    assert np.array_equal(orig, src.view("original", plan_t.image, plan_t.crop))
    assert np.array_equal(a, src.view(plan_t.left, plan_t.image, plan_t.crop))
    assert np.array_equal(b, src.view(plan_t.right, plan_t.image, plan_t.crop))
    ctx.store.dispose()


def test_cant_decide_is_stored_as_tie(env):
    at = start_as(new_app(), "bob")
    answer(at, "tie")
    df = votes_table(env, "tiny")
    assert df.iloc[0].choice == "tie" and current_trial(at) == 1


def test_refresh_resumes_with_the_secret_only(env):
    at = start_as(new_app(), "carol")
    secret = param(at, "resume")
    answer(at, "left")
    answer(at, "right")
    # a refresh = a new browser session with the same URL (the app put ?resume= into it)
    at2 = new_app(resume=secret)
    assert current_trial(at2) == 2
    assert not [c for c in at2.checkbox if c.key == "consent_box"]    # no second consent
    answer(at2, "left")
    assert env.count_votes("tiny") == 3
    st.cache_resource.clear()          # a server restart: shared state rebuilt from the files
    assert current_trial(new_app(resume=secret)) == 3
    # the bare id resumes nobody; typing it again is refused; a wrong secret too
    assert current_trial(new_app(rater="carol")) is None
    other = new_app()
    other.checkbox(key="consent_box").check().run()
    other.button(key="consent_continue").click().run()
    other.text_input(key="rater_entry").input("carol").run()
    other.button(key="identity_start").click().run()
    assert current_trial(other) is None and "already taken" in other.error[0].value
    bad = new_app(resume="A" * 32)
    assert current_trial(bad) is None and "not valid" in bad.error[0].value
    assert env.count_votes("tiny") == 3


def test_double_submit_stores_one_vote(env):
    """Two tabs on the same trial both answer it: one vote, the second tab moves on."""
    tab1 = start_as(new_app(), "dave")
    tab2 = new_app(resume=param(tab1, "resume"))
    answer(tab1, "left")            # first vote: takes the slot
    tab2 = new_app(resume=param(tab1, "resume"))
    tab3 = new_app(resume=param(tab1, "resume"))
    assert current_trial(tab2) == current_trial(tab3) == 1
    answer(tab2, "left")
    answer(tab3, "right")           # stale page resubmits trial 1
    assert env.count_votes("tiny") == 2
    df = votes_table(env, "tiny")
    assert df.iloc[1].choice == df.iloc[1].left     # the first answer wins
    assert current_trial(tab3) == 2


def test_prolific_pid_is_bound_to_its_first_session(env):
    at = new_app(PROLIFIC_PID="5f1d2c", STUDY_ID="st9", SESSION_ID="se7")
    at.checkbox(key="consent_box").check().run()
    at.button(key="consent_continue").click().run()
    assert current_trial(at) == 0                     # no id page for crowd raters
    answer(at, "left")
    secret = param(at, "resume")
    assert secret and param(at, "PROLIFIC_PID") == "5f1d2c"
    df = votes_table(env, "tiny")
    assert df.iloc[0].rater == "prolific:5f1d2c" and df.iloc[0].session == "se7"
    raters = env.frame("raters", "tiny")
    assert raters.iloc[0].source == "prolific" and raters.iloc[0].platform_study == "st9"
    # a second browser with the same PID: refused, clearly, no consent page, no vote possible
    second = new_app(PROLIFIC_PID="5f1d2c", STUDY_ID="st9", SESSION_ID="se8")
    assert current_trial(second) is None and not second.checkbox
    assert "another browser session" in second.error[0].value
    # ... unless it carries the secret
    assert current_trial(new_app(PROLIFIC_PID="5f1d2c", resume=secret)) == 1
    # a typed id equal to the PID is another rater (separate namespaces)
    typed = start_as(new_app(), "5f1d2c")
    assert current_trial(typed) == 0 and env.get_rater("tiny", "id:5f1d2c") is not None


def test_hostile_url_parameters_are_refused_without_echo(env):
    for params in ({"PROLIFIC_PID": "[Study moved](http://evil.example)"},
                   {"PROLIFIC_PID": "ok", "SESSION_ID": HOSTILE},
                   {"resume": "![x](http://evil.example/a.png)"},
                   {"STUDY_ID": "x" * 65}):
        at = new_app(**params)
        assert not at.checkbox and current_trial(at) is None
        text = all_text(at)
        assert "evil" not in text and "HYPERLINK" not in text and "x" * 65 not in text
        assert "This link is not valid" in at.error[0].value
    typed = new_app()
    typed.checkbox(key="consent_box").check().run()
    typed.button(key="consent_continue").click().run()
    typed.text_input(key="rater_entry").input("[a](http://evil.example)").run()
    typed.button(key="identity_start").click().run()
    assert "evil" not in all_text(typed) and "ID must be" in typed.error[0].value
    assert env.count_votes("tiny") == 0 and len(env.frame("raters", "tiny")) == 0


def test_generated_id_when_left_empty(env):
    at = start_as(new_app(), "")
    rid = env.frame("raters", "tiny").iloc[0].rater
    assert rid.startswith("id:r-") and current_trial(at) == 0


def test_consenting_and_leaving_takes_no_slot(env):
    for k in range(5):                 # five raters consent and leave
        start_as(new_app(), f"gone{k}")
    at = start_as(new_app(), "stays")
    answer(at, "left")
    slots = env.frame("raters", "tiny").set_index("rater")["slot"]
    assert slots["id:stays"] == 0 and slots.drop("id:stays").isna().all()


def test_store_outage_keeps_the_answer_and_stores_it_once(env, monkeypatch):
    at = start_as(new_app(), "olga")
    answer(at, "left")
    real = VoteStore.submit
    down = {"on": True}

    def flaky(self, *a, **kw):
        if down["on"]:
            raise StoreUnavailable("vote database sqlite:///x cannot be used: disk I/O error")
        return real(self, *a, **kw)

    monkeypatch.setattr(VoteStore, "submit", flaky)
    at.button(key="t1_right").click().run()
    assert not at.exception
    assert rater_view.SAVE_FAILED in at.warning[0].value
    assert current_trial(at) is None and env.count_votes("tiny") == 1
    at.button(key="retry_now").click().run()            # still down: still kept
    assert rater_view.SAVE_FAILED in at.warning[0].value
    down["on"] = False
    at.button(key="retry_now").click().run()
    assert not at.warning and current_trial(at) == 2
    df = votes_table(env, "tiny")
    assert len(df) == 2 and df.iloc[1].choice == df.iloc[1].right
    at.run()                                            # nothing left to resend
    assert env.count_votes("tiny") == 2


def test_flip_and_zoom_views(env):
    at = start_as(new_app(), "erin")
    at.segmented_control(key="mode_0").set_value("Flip").run()
    imgs = shown_images(at)
    assert len(imgs) == 1 and imgs[0][0] == "Original"
    assert "width:96px;height:64px" in imgs[0][2] and "pixelated" in imgs[0][2]   # 1:1
    at.segmented_control(key="flip_0").set_value("B").run()
    assert [a for a, _, _ in shown_images(at)] == ["Image B"] and not at.exception
    at.segmented_control(key="mode_0").set_value("Zoom").run()
    at.select_slider(key="zf_0").set_value(6).run()
    at.slider(key="zx_0").set_value(10).run()
    imgs = shown_images(at)
    assert len(imgs) == 3 and not at.exception
    for _, px, body in imgs:
        h, w = px.shape[:2]
        assert f"width:{w * 6}px;height:{h * 6}px" in body                    # exactly 6x
    assert imgs[0][1].shape[:2] == (60, 60)                                   # 360 CSS px / 6
    assert_blind(at)
    answer(at, "left")
    assert current_trial(at) == 1


def test_experimenter_page_needs_token_and_shows_golden_failures(env, tmp_path):
    at = new_app(PROLIFIC_PID="p1", SESSION_ID="x", STUDY_ID="y")
    at.checkbox(key="consent_box").check().run()
    at.button(key="consent_continue").click().run()
    for k in range(N):
        idx = current_trial(at)
        t = (env.trials("tiny", "prolific:p1") or [at.session_state["tentative"][1]])[idx]
        side = ("right" if t.a_left else "left") if t.is_golden else "left"   # fail the golden
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
    assert len(failures) == 1 and failures.iloc[0].rater == "prolific:p1"
    assert failures.iloc[0].degradation.startswith("golden:")


def test_hostile_ids_reach_no_csv_as_formulas(env, tmp_path):
    """Ids that pass the URL pattern but start like a formula ('-', '+' cannot pass '=' or '@')
    and study/session text in the store: export and download neutralise them."""
    at = new_app(PROLIFIC_PID="-2-3", SESSION_ID="-cmd", STUDY_ID="x")
    at.checkbox(key="consent_box").check().run()
    at.button(key="consent_continue").click().run()
    answer(at, "left")
    # a session id stored by an older app or another writer, straight into the store
    env.submit("tiny", "prolific:-2-3", 1, "left", session=HOSTILE)
    out = tmp_path / "votes.csv"
    assert main(["study", "export", "--db", env.url, "--out", str(out)]) == 0
    raw = out.read_text()
    df = pd.read_csv(out, keep_default_na=False)
    assert set(df.session) == {"'-cmd", "'" + HOSTILE}
    assert "\n=" not in raw and ",=" not in raw and ",-" not in raw.replace(",-0", "")
    # the experimenter's download is made by the same function
    exp = new_app(view="experimenter")
    exp.text_input(key="exp_token").input(TOKEN).run()
    assert exp.get("download_button")
    csv = votes_csv(votes_table(env, "tiny"))
    assert "'" + HOSTILE.replace('"', '""') in csv and "'prolific:-2-3" not in csv
    assert "\n=" not in csv and ",=" not in csv
