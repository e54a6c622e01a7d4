"""Two `evalkit study serve` processes on one study and one PostgreSQL database: raters move
between them trial by trial (the resume link works on either); no design slot is given twice and
no vote is lost or doubled."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import pytest
from browser_helpers import (
    CHROMIUM,
    CHROMIUM_ARGS,
    IMAGES_LOADED,
    image_srcs,
    launch_serve,
    stop_serve,
    wait_healthy,
)
from study_fixtures import make_study

from study_app.export import votes_table
from study_app.store import VoteStore

pytestmark = [pytest.mark.browser, pytest.mark.postgres, pytest.mark.slow,
              pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs /usr/bin/chromium")]
RATERS, TRIALS = 3, 3


def test_raters_alternate_between_two_servers(tmp_path, pg_url):
    playwright = pytest.importorskip("playwright.sync_api")
    name = "two" + uuid.uuid4().hex[:8]
    study = make_study(tmp_path, trials=TRIALS, golden_share=0.34, name=name)
    servers = [launch_serve(study, pg_url, tmp_path / f"serve{k}.log") for k in range(2)]
    for k, (proc, url, _) in enumerate(servers):      # both start at once
        wait_healthy(proc, url, tmp_path / f"serve{k}.log")
    clicked: dict[tuple[str, int], str] = {}
    try:
        with playwright.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            pages, prev, links = [], {}, {}
            for r in range(RATERS):                      # raters 0, 2 start on server 0; 1, 3 on 1
                page = browser.new_page(viewport={"width": 1200, "height": 800})
                page.goto(servers[r % 2][1] + f"/?PROLIFIC_PID=P{r}&SESSION_ID=s{r}",
                          wait_until="networkidle")
                page.get_by_text("I agree").click()
                page.get_by_role("button", name="Continue").click()
                pages.append(page)
                prev[r] = []
            for k in range(TRIALS):
                for r, page in enumerate(pages):
                    page.wait_for_function(IMAGES_LOADED, arg=prev[r], timeout=60000)
                    prev[r] = image_srcs(page)
                    side = ("left", "right", "tie")[(r + k) % 3]
                    label = {"left": "A is closer", "right": "B is closer",
                             "tie": re.compile("decide")}[side]
                    page.get_by_role("button", name=label).click()
                    clicked[(f"prolific:P{r}", k)] = side
                    if k + 1 < TRIALS:                   # next trial on the other server
                        page.get_by_text(f"{k + 1} of {TRIALS} answered").wait_for(timeout=30000)
                        links[r] = re.search(r"\?.*", page.url).group(0)
                        page.goto(servers[(r + k + 1) % 2][1] + "/" + links[r],
                                  wait_until="domcontentloaded")
                        prev[r] = []
            for r, page in enumerate(pages):
                try:
                    page.get_by_text("DONE42").wait_for(timeout=60000)
                except Exception:
                    page.screenshot(path=f"/tmp/two_fail_{r}.png")
                    print("FAIL", r, page.url)
                    raise
            browser.close()
    finally:
        for proc, _, _ in servers:
            stop_serve(proc)
    store = VoteStore(pg_url)
    try:
        df = votes_table(store, name)
        raters = store.frame("raters", name)
        votes = store.frame("votes", name)
    finally:
        store.dispose()
    assert len(df) == RATERS * TRIALS and not df.duplicated(["rater", "trial"]).any()
    assert sorted(raters.slot) == list(range(RATERS))          # no slot given twice
    for (rater, trial), side in clicked.items():
        assert votes.set_index(["rater", "trial"]).loc[(rater, trial), "side"] == side
    assert set(df.session) == {f"s{r}" for r in range(RATERS)}
