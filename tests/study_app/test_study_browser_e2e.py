"""End to end: `evalkit study serve` + real rater sessions in headless Chromium.

* every click counts: each answer is clicked 0.2 s after the trial's images loaded; all are stored,
  with durations within 1 s of the real ones;
* blindness over everything the browser received (HTML, websocket frames, image sources, alt
  texts, response bodies): no method name, golden kind, server path or app file name;
* Flip and Zoom show exactly 1 image pixel per CSS pixel (x zoom) at two window sizes and device
  pixel ratios 1 and 2, with the answer buttons inside the window.
"""

from __future__ import annotations

import re
import shutil
import tempfile
import time
from pathlib import Path

import pytest
from browser_helpers import CHROMIUM, CHROMIUM_ARGS, IMAGES_LOADED, image_srcs, start_serve, stop_serve
from study_fixtures import CODEC, SETTINGS, make_study

import study_app
from study_app.export import votes_table
from study_app.store import VoteStore

pytestmark = [pytest.mark.browser, pytest.mark.slow,
              pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs /usr/bin/chromium")]
N = 10
W, H = 900, 700            # taller than the small window: Flip must scroll inside its box


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("e2e")
    study = make_study(root, trials=N, golden_share=0.1, size=(W, H))
    db = f"sqlite:///{root / 'votes.sqlite'}"
    proc, url, _ = start_serve(study, db, root / "serve.log")
    yield url, db, root
    stop_serve(proc)


@pytest.fixture(scope="module")
def browser():
    playwright = pytest.importorskip("playwright.sync_api")
    with playwright.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


def test_every_click_counts_and_nothing_leaks(server, browser):
    url, db, root = server
    frames: list[str] = []
    responses, html, seen = [], [], []
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.on("response", lambda r: responses.append(r))
    page.on("websocket", lambda ws: ws.on(
        "framereceived", lambda payload: frames.append(
            payload.decode("latin-1") if isinstance(payload, bytes) else payload)))
    page.goto(url + "/?PROLIFIC_PID=pw1&STUDY_ID=st&SESSION_ID=se", wait_until="networkidle")
    page.get_by_text("I agree").click()
    page.get_by_role("button", name="Continue").click()
    real, prev = [], []
    for k in range(N):
        page.wait_for_function(IMAGES_LOADED, arg=prev, timeout=60000, polling=20)
        loaded = time.monotonic()
        assert page.get_by_text(f"{k} of {N} answered").is_visible()
        if k == 0:
            shot = root / "study_trial.png"
            page.screenshot(path=str(shot))
            shutil.copy(shot, Path(tempfile.gettempdir()) / "evalkit_study_trial.png")
        prev = image_srcs(page)
        seen += page.eval_on_selector_all("img", "els => els.map(e => e.alt)")
        html.append(page.content())
        label = ("A is closer", "B is closer", re.compile("decide"))[k % 3]
        time.sleep(0.2)                                   # a fast rater: 0.2 s after the images
        page.get_by_role("button", name=label).click()
        real.append(time.monotonic() - loaded)
    page.get_by_text("DONE42").wait_for(timeout=30000)
    html.append(page.content())
    bodies = []
    for r in responses:
        if "/static/" not in r.url and "/media/" not in r.url and r.status == 200:
            try:
                bodies.append(r.url + "\n" + r.body().decode("latin-1"))
            except Exception:   # redirects / bodies the browser already dropped
                pass
    page.close()

    store = VoteStore(db)
    df = votes_table(store, "tiny")
    store.dispose()
    assert len(df) == N and set(df.rater) == {"prolific:pw1"} and set(df.session) == {"se"}
    assert sorted(df.trial) == list(range(N))             # every first click was stored
    durations = df.sort_values("trial").duration_s.to_numpy()
    assert all(abs(d - r) < 1.0 for d, r in zip(durations, real)), (durations, real)

    assert {a for a in seen if a} == {"Original", "Image A", "Image B"}
    media = [r for r in responses if re.match(r"^https?://[^/]+/media/", r.url)]
    assert len({r.url for r in media}) >= 3 * N                 # fresh URLs for every trial
    for r in media:                                             # nothing but type and length
        assert r.headers.get("content-type") == "image/png"
    received = "\n".join(html + frames + bodies)
    assert "A is closer" in received and "/media/" in received   # sanity: the page is in there
    app_dir = str(Path(study_app.__file__).resolve().parent)
    for secret in (CODEC, *SETTINGS, "golden", str(root), app_dir, "app.py", "runs/", ".jpg"):
        assert secret not in received, f"{secret!r} reached the browser"


@pytest.mark.parametrize("viewport,dpr", [((1400, 900), 1), ((800, 600), 2)])
def test_flip_and_zoom_are_pixel_exact_with_buttons_in_view(server, browser, viewport, dpr):
    url, _, root = server
    ctx = browser.new_context(viewport=dict(zip(("width", "height"), viewport)),
                              device_scale_factor=dpr)
    page = ctx.new_page()
    page.goto(url + "/", wait_until="networkidle")
    page.get_by_text("I agree").click()
    page.get_by_role("button", name="Continue").click()
    page.get_by_role("button", name="Start").click()      # generated id
    page.wait_for_function(IMAGES_LOADED, arg=[], timeout=60000)

    def shown():
        return page.eval_on_selector_all("img", """els => els.filter(e => e.src.includes('/media/'))
            .map(e => [e.naturalWidth, e.naturalHeight, e.getBoundingClientRect().width,
                       e.getBoundingClientRect().height, getComputedStyle(e).imageRendering])""")

    def buttons_in_view():
        boxes = [page.get_by_role("button", name=n).bounding_box()
                 for n in ("A is closer", "B is closer")]
        return all(0 <= b["y"] and b["y"] + b["height"] <= viewport[1] for b in boxes)

    assert buttons_in_view()
    page.get_by_role("radio", name="Flip").click()
    page.wait_for_function("() => [...document.images].filter(i => i.src.includes('/media/')"
                           " && i.complete).length === 1", timeout=30000)
    [(nw, nh, cw, ch, rendering)] = shown()
    assert (nw, nh) == (W, H) and (cw, ch) == (W, H) and rendering == "pixelated"
    assert buttons_in_view()
    assert page.evaluate("() => document.scrollingElement.scrollHeight") <= viewport[1] + 40
    page.screenshot(path=str(root / f"flip_{viewport[0]}_{dpr}.png"))
    page.get_by_role("radio", name="Zoom").click()
    page.wait_for_function("() => [...document.images].filter(i => i.src.includes('/media/')"
                           " && i.complete).length === 3"
                           " && document.querySelector('[data-testid=\"stSlider\"]')", timeout=30000)
    time.sleep(0.5)
    for nw, nh, cw, ch, rendering in shown():
        assert (cw, ch) == (4 * nw, 4 * nh) and rendering == "pixelated"       # default 4x
    assert buttons_in_view()
    page.screenshot(path=str(root / f"zoom_{viewport[0]}_{dpr}.png"))
    shutil.copy(root / f"zoom_{viewport[0]}_{dpr}.png", Path(tempfile.gettempdir()))
    shutil.copy(root / f"flip_{viewport[0]}_{dpr}.png", Path(tempfile.gettempdir()))
    ctx.close()
