"""End to end: `evalkit study serve` + one real rater session in headless Chromium.

Asserts blindness over everything the browser received: HTML, websocket frames, media URLs and
bytes, image alt texts and every non-static response body.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest
from study_fixtures import CODEC, SETTINGS, make_study

from study_app.export import votes_table
from study_app.store import VoteStore

CHROMIUM = "/usr/bin/chromium"
pytestmark = [pytest.mark.browser, pytest.mark.slow,
              pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="needs /usr/bin/chromium")]
N = 6


def _stimulus(url: str) -> bool:
    """Images the app sent (Streamlit media files), not the app's own static assets."""
    return re.match(r"^https?://[^/]+/media/", url) is not None


def _settle(page) -> None:
    """Wait until Streamlit finished the rerun: no stale (faded, old-trial) elements left.
    Clicking a stale button would be ignored by design (its trial is already answered)."""
    page.wait_for_function(
        "() => document.querySelectorAll('[data-stale=\"true\"]').length === 0"
        " && !document.querySelector('[data-testid=\"stStatusWidget\"] img, "
        "[data-testid=\"stStatusWidgetRunningIcon\"]')", timeout=30000)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server(tmp_path):
    study = make_study(tmp_path)
    db = f"sqlite:///{tmp_path / 'votes.sqlite'}"
    port = _free_port()
    log = open(tmp_path / "serve.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "evalkit", "study", "serve", str(study),
                             "--db", db, "--port", str(port)],
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while True:
        try:
            with urllib.request.urlopen(url + "/_stcore/health", timeout=2) as r:
                if r.read().strip() == b"ok":
                    break
        except OSError:
            pass
        if proc.poll() is not None or time.time() > deadline:
            log.close()
            raise RuntimeError("serve did not start:\n" + (tmp_path / "serve.log").read_text())
        time.sleep(0.3)
    yield url, db, tmp_path
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
    log.close()


def test_one_rater_session_in_chromium(server):
    playwright = pytest.importorskip("playwright.sync_api")
    url, db, root = server
    frames: list[str] = []
    responses = []
    seen_imgs: list[tuple[str, str]] = []
    html: list[str] = []
    bodies: list[tuple[str, bytes]] = []
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.on("response", lambda r: responses.append(r))
        page.on("websocket", lambda ws: ws.on(
            "framereceived", lambda payload: frames.append(
                payload.decode("latin-1") if isinstance(payload, bytes) else payload)))
        page.goto(url + "/?PROLIFIC_PID=pw1&STUDY_ID=st&SESSION_ID=se", wait_until="networkidle")
        page.get_by_text("I agree").click()
        page.get_by_role("button", name="Continue").click()
        for k in range(N):
            page.get_by_text(f"{k} of {N} answered").wait_for(timeout=30000)
            _settle(page)
            page.wait_for_function(
                "() => [...document.images].filter(i => i.src.includes('/media/')"
                " && i.complete && i.naturalWidth > 0).length >= 3", timeout=30000)
            if k == 0:
                shot = root / "study_trial.png"
                page.screenshot(path=str(shot), full_page=True)
                shutil.copy(shot, Path(tempfile.gettempdir()) / "evalkit_study_trial.png")
            html.append(page.content())
            seen_imgs += page.eval_on_selector_all("img", "els => els.map(e => [e.src, e.alt])")
            for r in list(responses):
                if _stimulus(r.url) and all(r.url != u for u, _ in bodies):
                    bodies.append((r.url, r.body()))
            label = ("A is closer", "B is closer", re.compile("decide"))[k % 3]
            page.get_by_role("button", name=label).click()
        page.get_by_text("DONE42").wait_for(timeout=30000)
        html.append(page.content())
        page.screenshot(path=str(root / "study_done.png"))
        for r in responses:
            if "/static/" not in r.url and "/media/" not in r.url and r.status == 200:
                try:
                    bodies.append((r.url, r.body()))
                except Exception:   # redirects / bodies the browser already dropped
                    pass
        browser.close()

    # the session really happened and was stored
    store = VoteStore(db)
    df = votes_table(store, "tiny")
    store.dispose()
    assert len(df) == N and set(df.rater) == {"pw1"} and set(df.session) == {"se"}

    # blindness over everything received
    media = [u for u, _ in seen_imgs if _stimulus(u)]
    assert len(media) >= 3 * N
    assert all(u.endswith(".png") for u in media)
    alts = {a for u, a in seen_imgs if _stimulus(u)}
    assert alts == {"Original", "Image A", "Image B"}
    assert len(frames) > 5 and bodies
    received = "\n".join(html + frames + [u for u, _ in seen_imgs] + [a for _, a in seen_imgs]
                         + [u + "\n" + b.decode("latin-1") for u, b in bodies])
    assert "A is closer" in received            # sanity: the haystack holds the page
    for secret in (CODEC, *SETTINGS, "golden", str(root), "runs/", ".jpg"):
        assert secret not in received, f"{secret!r} reached the browser"
    pngs = [b for u, b in bodies if _stimulus(u)]
    assert pngs and all(b.startswith(b"\x89PNG") for b in pngs)
