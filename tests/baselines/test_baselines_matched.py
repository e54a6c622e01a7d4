"""bpp matching: never above the target, and the highest setting that fits."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from baselines.codecs import get_codec
from baselines.matched import highest_feasible, run_matched
from baselines.sweep import run_sweep
from evalkit.errors import CodecError
from evalkit.images import read_image
from evalkit.layout import discover_runs


def brute_force(rates, target):
    fits = [i for i, r in enumerate(rates) if r <= target]
    return max(fits) if fits else None


def test_search_equals_exhaustive_scan_on_monotone_rates():
    rng = np.random.default_rng(7)
    for _ in range(300):
        n = int(rng.integers(1, 60))
        rates = np.cumsum(rng.uniform(0, 1, n))
        rates[rng.uniform(size=n) < 0.2] = 0  # plateaus
        rates = np.maximum.accumulate(rates)
        target = float(rng.uniform(-0.5, rates[-1] + 0.5))
        calls = []
        res = highest_feasible(lambda i: calls.append(i) or rates[i], n, target)
        assert res.best == brute_force(rates, target)
        assert len(calls) == len(set(calls))  # each setting encoded at most once
        assert len(calls) <= 2 * np.log2(n + 1) + 8


def test_search_follows_local_dips_within_lookahead():
    rates = [0.1, 0.2, 0.3, 0.5, 0.45, 0.48, 0.7, 0.9]  # 0.5 > target but 0.45/0.48 fit
    res = highest_feasible(lambda i: rates[i], len(rates), 0.49, lookahead=3)
    assert res.best == 5 and res.non_monotone
    res = highest_feasible(lambda i: [0.3, 0.2, 0.6][i], 3, 0.25)  # lowest setting overshoots
    assert res.best == 1 and res.non_monotone
    assert highest_feasible(lambda i: [0.3, 0.4][i], 2, 0.2).best is None


def _write_targets(path: Path, targets: dict[str, float]) -> Path:
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["image", "bpp"])
        for k, v in targets.items():
            w.writerow([k, v])
    return path


def test_matched_jpeg_equals_exhaustive_scan(refs_dir, tmp_path):
    codec = get_codec("jpeg")
    qs = list(range(5, 41))
    targets = {"astronaut": 0.9, "chelsea": 0.55}
    manifest = _write_targets(tmp_path / "targets.csv", targets)
    table = run_matched(refs_dir, tmp_path / "runs", ["jpeg"], manifest=manifest, qualities=qs,
                        workers=1, progress=False)
    assert (table["status"] == "matched").all()
    for row in table.itertuples():
        px = read_image(refs_dir / f"{row.image}.png").pixels
        rates = [codec.encode_decode(px, q).nbytes * 8 / px.shape[0] / px.shape[1] for q in qs]
        best = brute_force(rates, targets[row.image])
        assert best is not None and row.value == qs[best]
        assert row.achieved_bpp == pytest.approx(rates[best]) and row.achieved_bpp <= row.target_bpp
        stream = Path(row.run_dir) / f"{row.image}.jpg"
        assert stream.stat().st_size * 8 / px.shape[0] / px.shape[1] <= targets[row.image]
        assert np.array_equal(read_image(stream).pixels,
                              read_image(Path(row.run_dir) / f"{row.image}.png").pixels)
    assert Path(table["run_dir"][0]).name == "match-targets"


def test_match_a_run_never_exceeds_its_bpp(refs_dir, tmp_path):
    runs = tmp_path / "runs"
    run_sweep(refs_dir, runs, ["webp"], [30], workers=1, progress=False)
    run_matched(refs_dir, runs, ["jpeg", "jxl", "jpeg2000"], match=runs / "webp" / "q30",
                workers=2, progress=False)
    entries, _ = discover_runs(refs_dir, runs)
    sizes = {n: read_image(refs_dir / f"{n}.png").size for n in ("astronaut", "chelsea")}
    target = {e.image: e.bpp(*sizes[e.image]) for e in entries if e.method == "webp/q30"}
    got = {(e.codec, e.image): e.bpp(*sizes[e.image]) for e in entries if e.setting == "match-webp-q30"}
    assert len(got) == 6
    for (codec, image), bpp in got.items():
        assert bpp <= target[image]
        assert bpp > 0.8 * target[image], (codec, image, bpp, target[image])  # close, not lazy
    meta = json.loads((runs / "jxl" / "match-webp-q30" / "run.json").read_text())
    assert meta["kind"] == "matched" and meta["settings"]["match_run"].endswith("webp/q30")
    img = meta["images"]["chelsea"]
    assert img["achieved_bpp"] <= img["target_bpp"] == pytest.approx(target["chelsea"])


def test_unreachable_target_is_reported_not_overshot(refs_dir, tmp_path):
    manifest = _write_targets(tmp_path / "t.csv", {"astronaut": 0.01, "chelsea": 1.0})
    table = run_matched(refs_dir, tmp_path / "runs", ["jpeg"], manifest=manifest, workers=1,
                        progress=False)
    bad = table[table["image"] == "astronaut"].iloc[0]
    assert bad["status"] == "infeasible" and bad["lowest_bpp"] > 0.01
    folder = tmp_path / "runs" / "jpeg" / "match-t"
    assert not (folder / "astronaut.jpg").exists() and (folder / "chelsea.jpg").exists()
    meta = json.loads((folder / "run.json").read_text())
    assert meta["infeasible"][0]["image"] == "astronaut"


def test_all_unreachable_writes_no_run(refs_dir, tmp_path):
    manifest = _write_targets(tmp_path / "t.csv", {"astronaut": 0.001})
    table = run_matched(refs_dir, tmp_path / "runs", ["webp"], manifest=manifest, workers=1,
                        progress=False)
    assert table["status"].tolist() == ["infeasible"]
    assert not (tmp_path / "runs" / "webp").exists()


def test_match_needs_exactly_one_target_source(refs_dir, tmp_path):
    with pytest.raises(CodecError, match="exactly one of match"):
        run_matched(refs_dir, tmp_path / "runs", ["jpeg"], progress=False)


def test_search_with_a_start_guess_equals_exhaustive_scan():
    rng = np.random.default_rng(11)
    for _ in range(400):
        n = int(rng.integers(1, 80))
        rates = np.maximum.accumulate(np.cumsum(rng.uniform(0, 1, n)) * (rng.uniform(size=n) > 0.15))
        target = float(rng.uniform(-0.5, rates[-1] + 0.5))
        start = int(rng.integers(-2, n + 2))
        calls = []
        res = highest_feasible(lambda i: calls.append(i) or rates[i], n, target, start=start)
        assert res.best == brute_force(rates, target), (rates, target, start)
        assert len(calls) == len(set(calls))
    # a good guess needs few encodes
    rates = np.linspace(0.01, 10, 1500)
    calls = []
    res = highest_feasible(lambda i: calls.append(i) or rates[i], 1500, 3.0, start=448)
    assert res.best == brute_force(rates, 3.0) and len(calls) <= 6
