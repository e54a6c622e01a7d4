"""The rater's pages: consent -> identity -> trials -> completion.

Blindness: widget keys, captions and alt texts name only trial numbers and the on-screen labels
"Original", "A" and "B"; images are sent as fresh PNG bytes (see :mod:`study_app.stimuli`).
Votes are committed by :meth:`VoteStore.submit` before the page reruns to the next trial, and the
trial shown is always the first unanswered one in the database (refresh/restart safe).
"""

from __future__ import annotations

import secrets

import streamlit as st

from evalkit.errors import StudyError
from study_app import flow
from study_app.runtime import StudyContext
from study_app.stimuli import magnify, png_bytes, zoom_box
from study_app.store import utcnow

LABELS = {"left": "A", "right": "B"}


def _consent(ctx: StudyContext) -> None:
    st.title("Image comparison study")
    st.markdown(ctx.defn.instructions)
    st.markdown(f"You will answer {ctx.defn.trials_per_rater} questions. You can look at each "
                "trial side by side, flip between the images in place, or zoom into a region.")
    agree = st.checkbox(ctx.defn.consent, key="consent_box")
    if st.button("Continue", key="consent_continue", disabled=not agree, type="primary"):
        st.session_state["consented"] = True
        st.rerun()


def _ask_identity(ctx: StudyContext) -> flow.Identity | None:
    st.title("Your participant ID")
    entered = st.text_input("Participant ID (leave empty to get a random one)", key="rater_entry")
    if st.button("Start", key="identity_start", type="primary"):
        try:
            return flow.identity_from_entry(entered)
        except StudyError as exc:
            st.error(str(exc))
    return None


def _enroll(ctx: StudyContext, ident: flow.Identity) -> None:
    ctx.store.enroll(ctx.defn.name, ident.rater, ctx.plan, source=ident.source,
                     platform_study=ident.platform_study)
    st.session_state["rater"] = ident.rater
    if "session" not in st.session_state:
        st.session_state["session"] = ident.session or "s-" + secrets.token_hex(6)
    if "PROLIFIC_PID" not in st.query_params:
        st.query_params["rater"] = ident.rater   # a refresh keeps the rater


def _show(img, alt: str, caption: str | None = None, width="stretch") -> None:
    # output_format="PNG": "auto" would re-encode as lossy JPEG and alter the stimulus
    st.image(png_bytes(img), caption=caption, alt=alt, width=width, output_format="PNG")


def _trial(ctx: StudyContext, trials, idx: int, answered: int) -> None:
    study, rater = ctx.defn.name, st.session_state["rater"]
    t = trials[idx]
    shown_key = f"shown_{idx}"
    if shown_key not in st.session_state:
        st.session_state[shown_key] = utcnow()
    frac, text = flow.progress_text(answered, len(trials))
    st.progress(frac, text=text)
    st.markdown("**Which image, A or B, is closer to the original?**")
    src = ctx.source
    orig = src.view("original", t.image, t.crop)
    imgs = {"Original": orig, "A": src.view(t.left, t.image, t.crop),
            "B": src.view(t.right, t.image, t.crop)}
    mode = st.segmented_control("View", ["Side by side", "Flip", "Zoom"], default="Side by side",
                                key=f"mode_{idx}") or "Side by side"
    if mode == "Flip":
        which = st.segmented_control("Show", list(imgs), default="Original", key=f"flip_{idx}",
                                     help="Switch between the images in place to spot differences")
        which = which or "Original"
        _show(imgs[which], alt=f"Image {which}" if which != "Original" else "Original",
              caption=which, width="content")   # native pixels (capped to the page width)
    elif mode == "Zoom":
        h, w = orig.shape[:2]
        c1, c2, c3 = st.columns(3)
        cx = c1.slider("Horizontal position (%)", 0, 100, 50, key=f"zx_{idx}") / 100
        cy = c2.slider("Vertical position (%)", 0, 100, 50, key=f"zy_{idx}") / 100
        factor = c3.select_slider("Zoom", [2, 3, 4, 6, 8], value=4, key=f"zf_{idx}")
        x, y, zw, zh = zoom_box(w, h, cx, cy, factor)
        out_w = min(640, zw * factor)
        size = (out_w, max(1, round(out_w * zh / zw)))
        for col, (label, img) in zip(st.columns(3), imgs.items()):
            with col:
                _show(magnify(img[y:y + zh, x:x + zw], size), alt=f"Zoomed {label}", caption=label)
    else:
        for col, (label, img) in zip(st.columns(3), imgs.items()):
            with col:
                # native pixels, never enlarged (browser smoothing would hide artifacts);
                # images wider than a column are scaled down -- Flip shows them 1:1
                _show(img, alt=label if label == "Original" else f"Image {label}", caption=label,
                      width="content")
    b1, b2, b3 = st.columns(3)
    side = None
    if b1.button("A is closer", key=f"t{idx}_left", width="stretch"):
        side = "left"
    if b2.button("Can't decide", key=f"t{idx}_tie", width="stretch"):
        side = "tie"
    if b3.button("B is closer", key=f"t{idx}_right", width="stretch"):
        side = "right"
    if side is not None:
        ctx.store.submit(study, rater, idx, side, session=st.session_state["session"],
                         shown_at=st.session_state[shown_key], answered_at=utcnow())
        st.rerun()


def _done(ctx: StudyContext) -> None:
    st.title("Done")
    st.success(flow.completion_message(ctx.defn.completion_code, ctx.defn.redirect_url))
    if ctx.defn.redirect_url:
        st.link_button("Finish and return", ctx.defn.redirect_url, type="primary")


def render(ctx: StudyContext) -> None:
    try:
        ident = flow.identity_from_params(st.query_params)
    except StudyError as exc:
        st.error(str(exc))
        return
    study = ctx.defn.name
    if "rater" not in st.session_state:
        known = ident is not None and ctx.store.get_rater(study, ident.rater) is not None
        if not known:   # new rater: consent first, then identity
            if not st.session_state.get("consented"):
                _consent(ctx)
                return
            if ident is None:
                ident = _ask_identity(ctx)
                if ident is None:
                    return
            _enroll(ctx, ident)
            st.rerun()   # drop the consent/identity widgets before the first trial
        _enroll(ctx, ident)
    rater = st.session_state["rater"]
    trials = ctx.store.trials(study, rater)
    done = ctx.store.answered(study, rater)
    nxt = next((t.index for t in trials if t.index not in done), None)
    if nxt is None:
        ctx.store.mark_completed(study, rater)
        _done(ctx)
        return
    trials[nxt] = ctx.shown_trial(rater, trials[nxt])   # adaptive: choose the comparison now
    _trial(ctx, trials, nxt, len(done))
