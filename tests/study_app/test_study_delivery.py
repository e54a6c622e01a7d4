"""Unlinkable stimuli: a bot that reads URLs, bytes, hashes, sizes, chunk lengths or order of
what the browser receives must not find the intact side of golden trials better than chance.

The bot sees what the rater page sends: the ``<img>`` HTML (``study_app.delivery.img_html``) with
the media URL Streamlit derives from the bytes (its own ``_calculate_file_id``) and the bytes
served there (``unlinkable_pngs``; the flow tests check the page uses them, the Chromium test
that responses carry no other header than type and length).  As a control, the same
bot against the previous delivery (deterministic PNG bytes, as Streamlit's content-hash media
URLs served them) wins nearly every time, so the bound below can fail.
"""

from __future__ import annotations

import hashlib
import io
import re
import struct

import numpy as np
import pytest
from PIL import Image
from streamlit.runtime.memory_media_file_storage import _calculate_file_id
from study_fixtures import make_study

from study_app.definition import load_study
from study_app.delivery import img_html, unlinkable_pngs
from study_app.stimuli import StimulusSource, crop
from study_app.study_check import check_study

N_TRIALS = 400
BOUND = 3.3 * (N_TRIALS * 0.25) ** 0.5     # two-sided p ~ 0.001 under "coin flip"


def _chunks(png: bytes) -> dict[bytes, bytes]:
    out, i = {}, 8
    while i < len(png):
        n = struct.unpack(">I", png[i:i + 4])[0]
        out[png[i + 4:i + 8]] = out.get(png[i + 4:i + 8], b"") + png[i + 8:i + 8 + n]
        i += 12 + n
    return out


def _src(html: str) -> str:
    return re.search(r'src="([^"]+)"', html).group(1)


SERVED: dict[str, bytes] = {}


def _png(html: str) -> bytes:
    return SERVED[_src(html)]


def _serve(png: bytes) -> str:
    """The URL Streamlit's media manager gives these bytes."""
    url = f"/media/{_calculate_file_id(png, 'image/png')}.png"
    SERVED[url] = png
    return url


def _common_prefix(a: bytes, b: bytes) -> int:
    n = min(len(a), len(b))
    diff = np.flatnonzero(np.frombuffer(a[:n], np.uint8) != np.frombuffer(b[:n], np.uint8))
    return int(diff[0]) if len(diff) else n


# feature of (original, candidate) -> score; the bot picks the side with the higher score
STRATEGIES = {
    "same URL": lambda o, c: float(_src(o) == _src(c)),
    "same sha256": lambda o, c: float(hashlib.sha256(_png(o)).digest() == hashlib.sha256(_png(c)).digest()),
    "closest file size": lambda o, c: -abs(len(_png(o)) - len(_png(c))),
    "closest IDAT length": lambda o, c: -abs(len(_chunks(_png(o))[b"IDAT"]) - len(_chunks(_png(c))[b"IDAT"])),
    "same IDAT bytes": lambda o, c: float(_chunks(_png(o))[b"IDAT"] == _chunks(_png(c))[b"IDAT"]),
    "longest common prefix": lambda o, c: _common_prefix(_png(o), _png(c)),
    "closest HTML length": lambda o, c: -abs(len(o) - len(c)),
    "left position": lambda o, c: 0.0,   # ties -> placement alone decides
}


def _bot_wins(trials, rng) -> dict[str, int]:
    """trials: (html of Original, html of A, html of B, intact side 0/1)."""
    wins = dict.fromkeys(STRATEGIES, 0)
    for o, a, b, intact in trials:
        for name, f in STRATEGIES.items():
            sa, sb = f(o, a), f(o, b)
            pick = (0 if sa > sb else 1) if sa != sb else (0 if name == "left position"
                                                             else int(rng.integers(2)))
            wins[name] += pick == intact
    return wins


@pytest.fixture(scope="module")
def golden_views(tmp_path_factory):
    root = tmp_path_factory.mktemp("golden")
    defn = load_study(make_study(root))
    src = StimulusSource(check_study(defn), defn.seed)
    rng = np.random.default_rng(0)
    out = []
    for k in range(N_TRIALS):
        image = ("astronaut", "chelsea", "coffee")[k % 3]
        kind = ("blur", "noise", "jpeg", "pixelate")[k % 4]
        w, h = int(rng.integers(24, 97)), int(rng.integers(16, 65))
        box = (int(rng.integers(0, 97 - w)), int(rng.integers(0, 65 - h)), w, h)
        orig = crop(src.pixels("original", image), box)
        deg = crop(src.pixels(f"golden:{kind}", image), box)
        intact = int(rng.integers(2))                  # which side shows the original
        out.append((orig, (orig, deg) if intact == 0 else (deg, orig), intact))
    return out


def _deliver(views, encode):
    trials = []
    for orig, (a, b), intact in views:
        pngs = encode([orig, a, b])
        h, w = orig.shape[:2]
        html = [img_html(_serve(p), w, h, alt, cap, scale=1) for p, alt, cap in
                zip(pngs, ("Original", "Image A", "Image B"), ("Original", "A", "B"))]
        trials.append((*html, intact))
    return trials


def _old_png(px: np.ndarray) -> bytes:     # the previous delivery: same pixels, same bytes
    buf = io.BytesIO()
    Image.fromarray(px).save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


def test_bot_stays_at_chance_on_golden_trials(golden_views):
    trials = _deliver(golden_views, unlinkable_pngs)
    wins = _bot_wins(trials, np.random.default_rng(1))
    report = {k: f"{v}/{N_TRIALS}" for k, v in wins.items()}
    print("bot wins on golden trials:", report)
    for name, k in wins.items():
        assert abs(k - N_TRIALS / 2) <= BOUND, f"{name}: {k}/{N_TRIALS} is not chance"
    # pixels are exactly the stimulus
    o, a, b, intact = trials[0]
    orig, (pa, pb), _ = golden_views[0]
    for html, px in ((o, orig), (a, pa), (b, pb)):
        assert np.array_equal(np.asarray(Image.open(io.BytesIO(_png(html))).convert("RGB")), px)


def test_control_bot_beats_the_old_content_hash_delivery(golden_views):
    """The same bound catches the leak of deterministic bytes (what the old app sent)."""
    trials = _deliver(golden_views, lambda ims: [_old_png(im) for im in ims])
    wins = _bot_wins(trials, np.random.default_rng(1))
    for name in ("same URL", "same sha256", "closest file size", "same IDAT bytes"):
        assert wins[name] - N_TRIALS / 2 > BOUND, (name, wins[name])


def test_same_image_twice_is_not_linkable(golden_views):
    orig = golden_views[0][0]
    p1, p2 = unlinkable_pngs([orig]), unlinkable_pngs([orig])
    assert p1 != p2
    i1, i2 = _chunks(p1[0])[b"IDAT"], _chunks(p2[0])[b"IDAT"]
    assert _common_prefix(i1[2:], i2[2:]) < 16       # streams differ from the first bytes on
    for p in (p1[0], p2[0]):
        assert np.array_equal(np.asarray(Image.open(io.BytesIO(p)).convert("RGB")), orig)


def test_sizes_are_equal_within_a_view():
    rng = np.random.default_rng(3)
    flat = np.full((40, 50, 3), 128, np.uint8)
    noisy = rng.integers(0, 256, (40, 50, 3), dtype=np.uint8)
    pngs = unlinkable_pngs([flat, noisy, flat])
    assert len({len(p) for p in pngs}) == 1
    idat = [len(_chunks(p)[b"IDAT"]) for p in pngs]
    assert max(idat) - min(idat) <= 4
    for p, px in zip(pngs, (flat, noisy, flat)):
        im = Image.open(io.BytesIO(p))
        im.load()
        assert np.array_equal(np.asarray(im.convert("RGB")), px)
