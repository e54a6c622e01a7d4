"""Study files, checks against folders, trial plans, balancing, golden questions, stimuli."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import tomli_w
from PIL import Image
from study_fixtures import CODEC, METHODS, make_study

from evalkit.errors import StudyError
from study_app.definition import load_study, parse_study
from study_app.design import (
    ORIGINAL,
    crop_boxes,
    golden_failed,
    plan_trials,
    rater_seed,
    resolve_choice,
    stimulus_cycle,
)
from study_app.stimuli import StimulusSource, degrade, zoom_region
from study_app.study_check import check_study


def _parse(study=None, comparisons=None, **top):
    data = {"study": {"name": "s", **(study or {})},
            "comparisons": comparisons if comparisons is not None else [{"a": "x/1", "b": "y/2"}],
            **top}
    return parse_study(data, Path("/tmp"))


def test_parse_comparisons_and_defaults():
    d = _parse(comparisons=[{"all_pairs": ["x/1", "y/2", "z/3"]}])
    assert d.comparisons == (("x/1", "y/2"), ("x/1", "z/3"), ("y/2", "z/3"))
    assert d.methods == ("x/1", "y/2", "z/3")
    assert (d.trials_per_rater, d.n_golden, d.n_regular) == (20, 2, 18)
    mixed = _parse(comparisons=[{"a": "w/4", "b": "x/1"}, {"all_pairs": ["x/1", "y/2"]}])
    assert mixed.comparisons == (("w/4", "x/1"), ("x/1", "y/2"))


@pytest.mark.parametrize("study,comparisons,match", [
    ({"name": "bad name!"}, None, "study.name must be"),
    ({"trials_per_rater": 0}, None, "trials_per_rater must be >= 1"),
    ({"golden_share": 1.5}, None, r"golden_share must be in \[0, 1\)"),
    ({"golden_degradations": ["sepia"]}, None, "golden_degradations must be"),
    ({"redirect_url": "javascript:alert(1)"}, None, "redirect_url must start"),
    ({"colour": "red"}, None, "keys must be among"),
    ({}, [], "non-empty list"),
    ({}, [{"a": "x/1", "b": "x/1"}], "two different methods"),
    ({}, [{"a": "x", "b": "y/2"}], "codec/setting"),
    ({}, [{"a": "x/1", "b": "y/2"}, {"a": "y/2", "b": "x/1"}], "must be distinct"),
    ({}, [{"all_pairs": ["x/1"]}], "at least 2 methods"),
    ({"trials_per_rater": 1, "golden_share": 0.5}, None, "leaves no regular trial"),
])
def test_parse_errors(study, comparisons, match):
    with pytest.raises(StudyError, match=match):
        _parse(study, comparisons)


def test_load_errors(tmp_path):
    with pytest.raises(StudyError, match="does not exist"):
        load_study(tmp_path / "nope.toml")
    (tmp_path / "bad.toml").write_text("[study\nname=")
    with pytest.raises(StudyError, match="not valid TOML"):
        load_study(tmp_path / "bad.toml")
    (tmp_path / "bin.toml").write_bytes(bytes(range(256)) * 4)     # binary garbage
    with pytest.raises(StudyError, match="must be UTF-8 text") as exc:
        load_study(tmp_path / "bin.toml")
    assert "\n" not in str(exc.value)
    (tmp_path / "nul.toml").write_bytes(b"[study]\x00\x00name = 1")
    with pytest.raises(StudyError, match="not valid TOML") as exc:
        load_study(tmp_path / "nul.toml")
    assert "\n" not in str(exc.value)
    with pytest.raises(StudyError, match="got a folder"):
        load_study(tmp_path)


@pytest.mark.parametrize("n_stimuli,trials,golden", [(1, 2, 1), (3, 4, 1), (9, 10, 1), (17, 19, 2),
                                                     (18, 20, 2), (500, 20, 2)])
def test_starter_sizes_trials_to_the_stimuli(n_stimuli, trials, golden):
    from study_app.starter import sized_trials

    t, share = sized_trials(n_stimuli)
    d = _parse({"trials_per_rater": t, "golden_share": share})
    assert (d.trials_per_rater, d.n_golden) == (trials, golden)
    assert 1 <= d.n_regular <= n_stimuli


def test_check_study_finds_missing_and_mismatched_files(tmp_path):
    path = make_study(tmp_path)
    check = check_study(load_study(path))
    assert check.images == ("astronaut", "chelsea", "coffee")
    assert check.sizes["coffee"] == (96, 64)
    (tmp_path / "runs" / CODEC / "quality33" / "chelsea.jpg").unlink()
    with pytest.raises(StudyError, match="missing reconstruction of 'chelsea'"):
        check_study(load_study(path))
    path2 = make_study(tmp_path / "b", methods=(*METHODS, "othercodec/q1"))
    with pytest.raises(StudyError, match="no such codec folder.*othercodec"):
        check_study(load_study(path2))
    Image.open(tmp_path / "refs" / "chelsea.png").save(
        tmp_path / "runs" / CODEC / "quality33" / "chelsea.jpg")
    check_study(load_study(path))
    (tmp_path / "runs" / CODEC / "quality61" / "coffee.jpg").unlink()
    Image.new("RGB", (40, 30)).save(tmp_path / "runs" / CODEC / "quality61" / "coffee.jpg")
    with pytest.raises(StudyError, match="'coffee' is 40x30, original is 96x64"):
        check_study(load_study(path))
    path3 = make_study(tmp_path / "c", images=["astronaut", "zebra"])
    with pytest.raises(StudyError, match="image 'zebra' is not in"):
        check_study(load_study(path3))


SIZES = {f"im{i}": (120, 80) for i in range(5)}


def _defn(**kw):
    study = {"name": "s", "trials_per_rater": 10, "golden_share": 0.2, "seed": 11,
             "golden_degradations": ["blur", "noise"], **kw}
    return parse_study({"study": study, "comparisons": [{"all_pairs": ["a/1", "b/1", "c/1", "d/1"]}]},
                       Path("/tmp"))


def test_plans_are_replayable_and_seed_dependent():
    d = _defn()
    assert plan_trials(d, SIZES, 3) == plan_trials(d, SIZES, 3)
    assert plan_trials(d, SIZES, 3)[0] == rater_seed(11, 3)
    assert plan_trials(d, SIZES, 3)[1] != plan_trials(d, SIZES, 4)[1]
    assert plan_trials(d, SIZES, 3)[1] != plan_trials(_defn(seed=12), SIZES, 3)[1]


def test_each_plan_has_no_repeats_and_the_golden_share():
    d = _defn()
    for slot in range(12):
        _, trials = plan_trials(d, SIZES, slot)
        assert [t.index for t in trials] == list(range(10))
        reg = [(t.image, t.crop, t.method_a, t.method_b) for t in trials if not t.is_golden]
        assert len(reg) == 8 and len(set(reg)) == 8
        gold = [t for t in trials if t.is_golden]
        assert len(gold) == 2 and all(t.method_a == ORIGINAL and t.method_b.startswith("golden:")
                                      for t in gold)


def test_comparisons_and_stimuli_are_balanced_across_raters():
    d = _defn()
    cycle = stimulus_cycle(d, SIZES)                # 6 comparisons x 5 images = 30 stimuli
    assert len(cycle) == 30
    per_comp, per_stim, sides = Counter(), Counter(), Counter()
    for slot in range(15):                          # 15 raters x 8 regular = 120 = 4 per stimulus
        for t in plan_trials(d, SIZES, slot, cycle)[1]:
            if not t.is_golden:
                per_comp[(t.method_a, t.method_b)] += 1
                per_stim[(t.image, t.method_a, t.method_b)] += 1
                sides[t.a_left] += 1
    assert set(per_comp.values()) == {20}
    assert set(per_stim.values()) == {4}
    assert 40 <= sides[True] <= 80                  # left/right drawn at random, not fixed
    # at any point, comparisons differ by at most a couple of votes
    counts = Counter()
    for slot in range(7):
        counts.update((t.method_a, t.method_b) for t in plan_trials(d, SIZES, slot, cycle)[1]
                      if not t.is_golden)
        assert max(counts.values()) - min(counts.values()) <= 2


def test_too_many_trials_is_an_error():
    with pytest.raises(StudyError, match="at most 30 regular trials"):
        plan_trials(_defn(trials_per_rater=40, golden_share=0.0), SIZES, 0)


def test_crops_are_reproducible_and_inside_the_image():
    d = parse_study({"study": {"name": "s", "seed": 5}, "crops": {"width": 64, "height": 48, "per_image": 3},
                     "comparisons": [{"a": "a/1", "b": "b/1"}]}, Path("/tmp"))
    boxes = crop_boxes(d.crops, "im0", (120, 80), 5)
    assert boxes == crop_boxes(d.crops, "im0", (120, 80), 5) and len(boxes) == 3
    for x, y, w, h in boxes:
        assert (w, h) == (64, 48) and 0 <= x <= 56 and 0 <= y <= 32
    assert crop_boxes(d.crops, "im0", (50, 40), 5) == [(0, 0, 50, 40)] * 3   # small: whole image
    assert len(stimulus_cycle(d, {"im0": (120, 80), "im1": (120, 80)})) == 6


def test_choices_and_golden_failures():
    _, trials = plan_trials(_defn(), SIZES, 0)
    t = next(t for t in trials if not t.is_golden)
    assert resolve_choice(t, "left") == t.left and resolve_choice(t, "right") == t.right
    assert {t.left, t.right} == {t.method_a, t.method_b}
    assert resolve_choice(t, "tie") == "tie" and not golden_failed(t, "tie")
    g = next(t for t in trials if t.is_golden)
    assert not golden_failed(g, ORIGINAL)
    assert golden_failed(g, g.method_b) and golden_failed(g, "tie")
    with pytest.raises(StudyError):
        resolve_choice(t, "A")


def test_stimuli_golden_degradations_are_strong(tmp_path):
    path = make_study(tmp_path)
    d = load_study(path)
    src = StimulusSource(check_study(d), d.seed)
    orig = src.pixels(ORIGINAL, "coffee").astype(float)
    for kind in ("blur", "noise", "jpeg", "pixelate"):
        deg = src.pixels(f"golden:{kind}", "coffee").astype(float)
        assert deg.shape == orig.shape
        mse = ((deg - orig) ** 2).mean()
        assert mse > 60, kind                       # PSNR < ~30 dB: clearly visible
    q12 = src.pixels(METHODS[0], "coffee")
    assert q12.shape == orig.shape and not np.array_equal(q12, orig)
    assert np.array_equal(src.view(ORIGINAL, "coffee", (10, 5, 20, 30)), orig[5:35, 10:30])
    with pytest.raises(StudyError):
        src.pixels("nope/x", "coffee")
    with pytest.raises(StudyError):
        degrade(q12, "sepia", 0)


def test_zoom_region_fills_the_view_and_stays_inside():
    assert zoom_region(100, 80, 0.5, 0.5, 4, 80) == (40, 30, 20, 20)    # 20 px x 4 = 80 CSS px
    assert zoom_region(100, 80, 0.0, 1.0, 2, 80) == (0, 40, 40, 40)
    assert zoom_region(30, 20, 0.5, 0.5, 2, 360) == (0, 0, 30, 20)       # never beyond the image
    with pytest.raises(StudyError):
        zoom_region(100, 80, 0.5, 0.5, 0, 80)


def test_starter_file_round_trips(tmp_path):
    from study_app.starter import starter_study

    data = starter_study("s1", "refs", "runs", list(METHODS), n_images=10, seed=3)
    (tmp_path / "s.toml").write_text(tomli_w.dumps(data))
    d = load_study(tmp_path / "s.toml")
    assert len(d.comparisons) == 3 and d.seed == 3 and d.experimenter_token and d.completion_code
