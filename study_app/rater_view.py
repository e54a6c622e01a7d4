"""The rater's pages: consent -> identity -> trials -> completion.

Blindness: widget keys, captions and alt texts name only trial numbers and the on-screen labels
"Original", "A" and "B"; images are freshly encoded per rater and trial and served under the
hash of those bytes (:mod:`study_app.delivery`).  No text from the URL or typed by a rater is ever rendered as
markdown or HTML (errors use fixed messages).

Every click counts: a trial's images are encoded *before* the run emits anything, then progress,
question, answer buttons and images follow within milliseconds, buttons first (at the top: visible
without scrolling).  So the buttons a rater can click always belong to the images on screen, and a
click during a rerun restarts it with the click applied.

Votes are committed by :meth:`VoteStore.submit` before the page moves on; the trial shown is the
first one without a stored vote (refresh/restart safe).  When the store is unreachable the answer
stays in the session and is retried (button, and every few seconds) -- stored once, never twice.
"""

from __future__ import annotations

import secrets

import streamlit as st
from streamlit import runtime

from evalkit.errors import StudyError
from study_app import flow
from study_app.delivery import img_html, served_at, unlinkable_pngs
from study_app.design import PlannedTrial
from study_app.runtime import StudyContext
from study_app.stimuli import zoom_region
from study_app.store import RaterExists, StoreUnavailable
from study_app.store_schema import utcnow

SAVE_FAILED = "Your answer could not be saved yet — retrying"
STORE_DOWN = "The study cannot reach its database right now — retrying"
PID_IN_USE = ("This Prolific ID is already taking part in this study in another browser session. "
              "To continue, open the page of your first session (its address holds your personal "
              "key). If you cannot, please contact the researcher.")
ID_TAKEN = ("This ID is already taken. If it is yours, continue with your personal link (the "
            "address of your first session); otherwise choose another ID.")
BAD_SECRET = "This personal link is not valid for this study. Please open the link you were given."
OTHER_SECRET = "This personal link belongs to another participant."
FIT_HEIGHT = "max(300px, calc(100vh - 430px))"   # scroll boxes end above the window bottom
ZOOM_VIEW = 360                        # CSS px per side of each zoomed view
VIEWS = ["Side by side", "Flip", "Zoom"]


# ---- identity ---------------------------------------------------------------------------------
def _consent(ctx: StudyContext) -> None:
    st.title("Image comparison study")
    st.markdown(ctx.defn.instructions)   # experimenter's text from the study file
    st.markdown(f"You will answer {ctx.defn.trials_per_rater} questions. You can look at each "
                "trial side by side, flip between the images in place, or zoom into a region.")
    agree = st.checkbox(ctx.defn.consent, key="consent_box")
    if st.button("Continue", key="consent_continue", disabled=not agree, type="primary"):
        st.session_state["consented"] = True
        st.rerun()


def _ask_identity() -> flow.Identity | None:
    st.title("Your participant ID")
    entered = st.text_input("Participant ID (leave empty to get a random one)", key="rater_entry")
    if st.button("Start", key="identity_start", type="primary"):
        try:
            return flow.identity_from_entry(entered)
        except flow.BadLink as exc:
            st.error(str(exc))   # fixed text, no user input
    return None


def _start(rater: str, session: str) -> None:
    st.session_state["rater"] = rater
    st.session_state.setdefault("session", session or "s-" + secrets.token_hex(6))


def _identify(ctx: StudyContext, params: dict[str, str]) -> bool:
    """Sets ``session_state.rater`` (True) or renders the page that leads there (False)."""
    study = ctx.defn.name
    ident = flow.platform_identity(params)
    secret = params.get("resume")
    if secret:
        rec = ctx.store.rater_by_secret(study, secret)
        if rec is None:
            st.error(BAD_SECRET)
            return False
        if ident is not None and rec.rater != ident.rater:
            st.error(OTHER_SECRET)
            return False
        _start(rec.rater, ident.session if ident else "")
        return True
    if ident is not None and ctx.store.get_rater(study, ident.rater) is not None:
        st.error(PID_IN_USE)
        return False
    if not st.session_state.get("consented"):
        _consent(ctx)
        return False
    if ident is None:
        ident = _ask_identity()
        if ident is None:
            return False
    for _ in range(5):
        try:
            _rec, secret = ctx.store.enroll(study, ident.rater, source=ident.source,
                                            platform_study=ident.platform_study)
            break
        except RaterExists:
            if ident.source != "generated":
                st.error(PID_IN_USE if ident.source == "prolific" else ID_TAKEN)
                return False
            ident = flow.identity_from_entry("")
    else:
        raise StudyError("could not generate a free rater id")
    _start(ident.rater, ident.session)
    st.query_params["resume"] = secret      # a refresh or a new tab resumes with the secret
    st.rerun()                              # drop the consent/identity widgets
    return True


# ---- answers ----------------------------------------------------------------------------------
def _flush_pending(ctx: StudyContext) -> None:
    """Store the answer kept in the session (raises StoreUnavailable while the DB is down)."""
    p = st.session_state["pending"]
    ctx.store.submit(ctx.defn.name, p["rater"], p["trial"], p["side"], session=p["session"],
                     shown_at=p["shown_at"], answered_at=p["answered_at"], first=p["first"],
                     planner=ctx.plan)
    del st.session_state["pending"]


@st.fragment(run_every=3)
def _outage(ctx: StudyContext) -> None:
    """Retry every few seconds and on the button; back to the study once the store answers."""
    try:
        if "pending" in st.session_state:
            _flush_pending(ctx)
        else:
            ctx.store.next_slot(ctx.defn.name)
    except StoreUnavailable:
        st.warning(SAVE_FAILED if "pending" in st.session_state else STORE_DOWN)
        st.button("Retry now", key="retry_now", type="primary")
        return
    st.rerun(scope="app")


def _media_url(png: bytes, where: str) -> str:
    """Serve ``png`` through Streamlit's media files (``/media/<hash>.png``, kept while the
    session shows it); ``where`` names the element's place like Streamlit's own coordinates."""
    return runtime.get_instance().media_file_mgr.add(png, "image/png", f"evalkit.{where}")


# ---- a trial ----------------------------------------------------------------------------------
def _encoded(ctx: StudyContext, t: PlannedTrial, region) -> list[bytes]:
    """Original, A, B PNGs of this trial and region, encoded once per session (fresh random
    bytes per rater and trial, see study_app.delivery)."""
    cache = st.session_state.setdefault("png_cache", {})
    key = (t.index, region)
    if key not in cache:
        if any(k[0] != t.index for k in cache):
            cache.clear()
        src = ctx.source
        views = [src.view(m, t.image, t.crop) for m in ("original", t.left, t.right)]
        if region is not None:
            x, y, w, h = region
            views = [v[y:y + h, x:x + w] for v in views]
        cache[key] = unlinkable_pngs(views)
    return cache[key]


def _trial(ctx: StudyContext, t: PlannedTrial, n_trials: int, answered: int,
           first: tuple[int, PlannedTrial] | None) -> None:
    idx = t.index
    ss = st.session_state
    mode = ss.get(f"mode_{idx}") or "Side by side"
    h, w = ctx.check.sizes[t.image][::-1] if t.crop is None else (t.crop[3], t.crop[2])
    factor = ss.get(f"zf_{idx}", 4)
    region = None
    if mode == "Zoom":
        region = zoom_region(w, h, ss.get(f"zx_{idx}", 50) / 100, ss.get(f"zy_{idx}", 50) / 100,
                             factor, ZOOM_VIEW)
    pngs = _encoded(ctx, t, region)          # the slow part, before anything is emitted
    ss.setdefault(f"shown_{idx}", utcnow())

    frac, text = flow.progress_text(answered, n_trials)
    st.progress(frac, text=text)
    st.markdown("**Which image, A or B, is closer to the original?**")
    b1, b2, b3 = st.columns(3)
    side = None
    if b1.button("A is closer", key=f"t{idx}_left", width="stretch"):
        side = "left"
    if b2.button("Can't decide", key=f"t{idx}_tie", width="stretch"):
        side = "tie"
    if b3.button("B is closer", key=f"t{idx}_right", width="stretch"):
        side = "right"
    if side is not None:
        now = utcnow()
        shown = min(served_at(ss.get(f"urls_{idx}", [])) or ss[f"shown_{idx}"], now)
        ss["pending"] = dict(rater=ss["rater"], trial=idx, side=side, session=ss["session"],
                             shown_at=shown, answered_at=now, first=first)
        try:   # store now (no Streamlit call before it: a closing tab cannot stop it midway)
            _flush_pending(ctx)
        except StoreUnavailable:
            pass   # kept; the next run shows the outage box alone and retries
        st.rerun()

    st.segmented_control("View", VIEWS, default="Side by side", key=f"mode_{idx}")
    labels = [("Original", "Original"), ("Image A", "A"), ("Image B", "B")]
    if mode == "Flip":
        which = st.segmented_control("Show", ["Original", "A", "B"], default="Original",
                                     key=f"flip_{idx}",
                                     help="Switch between the images in place to spot differences")
        k = ["Original", "A", "B"].index(which or "Original")
        urls = [_media_url(pngs[k], "flip")]
        st.html(img_html(urls[0], w, h, *labels[k], scale=1, max_height=FIT_HEIGHT))
    elif mode == "Zoom":
        c1, c2, c3 = st.columns(3)
        c1.slider("Horizontal position (%)", 0, 100, 50, key=f"zx_{idx}")
        c2.slider("Vertical position (%)", 0, 100, 50, key=f"zy_{idx}")
        c3.select_slider("Zoom", [2, 3, 4, 6, 8], value=4, key=f"zf_{idx}")
        _, _, zw, zh = region
        urls = [_media_url(png, f"zoom.{lab[1]}") for png, lab in zip(pngs, labels)]
        for col, url, lab in zip(st.columns(3), urls, labels):
            with col:
                st.html(img_html(url, zw, zh, *lab, scale=factor, max_height=FIT_HEIGHT))
    else:
        urls = [_media_url(png, f"side.{lab[1]}") for png, lab in zip(pngs, labels)]
        for col, url, lab in zip(st.columns(3), urls, labels):
            with col:
                st.html(img_html(url, w, h, *lab, scale=None))
        st.caption("Side by side is an overview (large images are scaled down); Flip and Zoom "
                   "show the exact pixels.")
    ss.setdefault(f"urls_{idx}", urls)   # the first view: shown once these were fetched


def _done(ctx: StudyContext) -> None:
    st.title("Done")
    st.success(flow.completion_message(ctx.defn.completion_code, ctx.defn.redirect_url))
    if ctx.defn.redirect_url:
        st.link_button("Finish and return", ctx.defn.redirect_url, type="primary")


def _render(ctx: StudyContext, params: dict[str, str]) -> None:
    study = ctx.defn.name
    if "rater" not in st.session_state and not _identify(ctx, params):
        return
    rater = st.session_state["rater"]
    trials = ctx.store.trials(study, rater)
    if not trials:   # no slot before the first vote: trial 0 of the next free slot's plan
        if "tentative" not in st.session_state:
            slot = ctx.store.next_slot(study)
            st.session_state["tentative"] = (slot, ctx.first_trial(slot))
        slot, shown = st.session_state["tentative"]
        shown = ctx.shown_trial(rater, shown)   # adaptive: choose the comparison now
        _trial(ctx, shown, ctx.defn.trials_per_rater, 0, first=(slot, shown))
        return
    done = ctx.store.answered(study, rater)
    nxt = next((t for t in trials if t.index not in done), None)
    if nxt is None:
        ctx.store.mark_completed(study, rater)
        _done(ctx)
        return
    nxt = ctx.shown_trial(rater, nxt)        # adaptive: choose the comparison now
    _trial(ctx, nxt, len(trials), len(done), first=None)


def render(ctx: StudyContext) -> None:
    try:
        params = flow.link_params(st.query_params)
    except flow.BadLink as exc:
        st.error(str(exc))   # names the parameter, never its value
        return
    try:
        if "pending" in st.session_state:
            _flush_pending(ctx)
        _render(ctx, params)
    except StoreUnavailable:
        _outage(ctx)
