"""Trial plans: which stimuli each rater sees, in which order, on which side -- all from seeds.

Design (pure functions; the store records their output and seeds):

* A *stimulus* is (image, crop, method_a, method_b) for one comparison.  The *pool* holds every
  comparison x image x crop.  Each comparison's items are shuffled with the study seed and the
  comparisons interleaved round-robin into one cyclic sequence.
* Rater number ``slot`` (0, 1, 2... in order of arrival, allocated by the store) gets the window
  ``[slot * n_regular, (slot + 1) * n_regular)`` of that cycle.  Windows tile the cycle, so after
  any number of raters every stimulus -- hence every comparison -- has been planned the same number
  of times, give or take one; a window never repeats a stimulus (``n_regular <= pool size``).
* Golden questions (original vs a strongly degraded copy, ``method_a = "original"``,
  ``method_b = "golden:<kind>"``) are added per rater: images drawn with the rater's seed,
  degradation kinds cycled across raters.
* The rater's trials are shuffled and each trial's left/right assignment drawn at random with the
  rater seed ``rater_seed(study_seed, slot)``.  Same study seed + same slot = same plan (replay).
* ``design = "adaptive"``: the plan fixes the positions of the golden questions and every trial's
  left/right draw as above, but its regular trials are *pending* placeholders (:data:`PENDING`);
  each is decided when the rater reaches it, by :mod:`study_app.adaptive_store` (the comparison
  with the highest expected information gain given the votes so far).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np

from evalkit.errors import StudyError
from study_app.definition import CropSpec, StudyDefinition

ORIGINAL = "original"
GOLDEN_PREFIX = "golden:"
#: ``method_a``/``method_b``/``image`` of an adaptive trial not decided yet.
PENDING = ""
DESIGNS = ("balanced", "adaptive")
Box = tuple[int, int, int, int]   # x, y, w, h


@dataclass(frozen=True)
class Stimulus:
    image: str
    crop: Box | None
    method_a: str
    method_b: str


@dataclass(frozen=True)
class PlannedTrial:
    """One trial of one rater. ``a_left``: method_a is shown on the left (as "A")."""

    index: int
    image: str
    crop: Box | None
    method_a: str
    method_b: str
    a_left: bool
    is_golden: bool

    @property
    def pending(self) -> bool:
        """An adaptive trial whose comparison is not chosen yet (never shown, never voted on)."""
        return not self.is_golden and self.method_a == PENDING

    @property
    def left(self) -> str:
        return self.method_a if self.a_left else self.method_b

    @property
    def right(self) -> str:
        return self.method_b if self.a_left else self.method_a


def format_crop(crop: Box | None) -> str:
    """``"x,y,w,h"`` or ``""`` for the full image (the export format)."""
    return "" if crop is None else ",".join(str(int(v)) for v in crop)


def parse_crop(text: str | None) -> Box | None:
    if not text:
        return None
    parts = text.split(",")
    if len(parts) != 4:
        raise StudyError(f"crop must be 'x,y,w,h', got {text!r}")
    x, y, w, h = (int(p) for p in parts)
    return (x, y, w, h)


def name_key(name: str) -> int:
    """A stable integer for a name (Python's hash() is salted per process)."""
    return zlib.crc32(name.encode("utf-8"))


def crop_boxes(spec: CropSpec | None, image: str, size: tuple[int, int], seed: int) -> list[Box | None]:
    """The crops of one image: ``[None]`` (full image) or ``spec.per_image`` reproducible boxes.

    Images smaller than the crop are cropped to their own size on that axis.
    """
    if spec is None:
        return [None]
    width, height = size
    cw, ch = min(spec.width, width), min(spec.height, height)
    rng = np.random.default_rng([seed, name_key(image)])
    return [(int(rng.integers(0, width - cw + 1)), int(rng.integers(0, height - ch + 1)), cw, ch)
            for _ in range(spec.per_image)]


def stimulus_items(defn: StudyDefinition, sizes: dict[str, tuple[int, int]]) -> list[tuple[str, Box | None]]:
    """Every ``(image, crop)`` a comparison can be shown on, in a fixed order."""
    images = list(defn.images or sizes)
    missing = [im for im in images if im not in sizes]
    if missing:
        raise StudyError(f"image sizes must be known for every study image, missing {missing}")
    return [(im, box) for im in images for box in crop_boxes(defn.crops, im, sizes[im], defn.seed)]


def stimulus_cycle(defn: StudyDefinition, sizes: dict[str, tuple[int, int]]) -> list[Stimulus]:
    """The shuffled, comparison-interleaved cyclic sequence rater windows are cut from."""
    items = stimulus_items(defn, sizes)
    rng = np.random.default_rng([defn.seed, 1])
    per_comp = []
    for a, b in defn.comparisons:
        order = rng.permutation(len(items))
        per_comp.append([Stimulus(items[i][0], items[i][1], a, b) for i in order])
    return [lst[j] for j in range(len(items)) for lst in per_comp]


def rater_seed(study_seed: int, slot: int) -> int:
    """The seed of rater ``slot``'s plan (a 63-bit int, stored with the rater)."""
    state = np.random.SeedSequence([study_seed, slot]).generate_state(1, dtype=np.uint64)[0]
    return int(state >> np.uint64(1))


def plan_trials(defn: StudyDefinition, sizes: dict[str, tuple[int, int]], slot: int,
                cycle: list[Stimulus] | None = None) -> tuple[int, list[PlannedTrial]]:
    """Trials of rater number ``slot``: ``(seed used, trials in display order)``.

    Raises:
        StudyError: more regular trials per rater than distinct stimuli, or a negative slot.
    """
    if slot < 0:
        raise StudyError(f"slot must be >= 0, got {slot}")
    cycle = cycle if cycle is not None else stimulus_cycle(defn, sizes)
    n_reg, n_gold = defn.n_regular, defn.n_golden
    if n_reg > len(cycle):
        raise StudyError(f"study.trials_per_rater must leave at most {len(cycle)} regular trials "
                         f"(the number of distinct stimuli), got {n_reg}")
    if defn.design == "adaptive":
        chosen = [Stimulus(PENDING, None, PENDING, PENDING)] * n_reg
    else:
        start = slot * n_reg
        chosen = [cycle[(start + i) % len(cycle)] for i in range(n_reg)]
    seed = rater_seed(defn.seed, slot)
    rng = np.random.default_rng(seed)
    images = sorted({s.image for s in cycle})
    golden = []
    kinds = defn.golden_degradations
    for g in range(n_gold):
        im = images[int(rng.integers(len(images)))]
        boxes = crop_boxes(defn.crops, im, sizes[im], defn.seed)
        box = boxes[int(rng.integers(len(boxes)))]
        kind = kinds[(slot * n_gold + g) % len(kinds)]
        golden.append(Stimulus(im, box, ORIGINAL, GOLDEN_PREFIX + kind))
    allstim = chosen + golden
    order = rng.permutation(len(allstim))
    a_left = rng.random(len(allstim)) < 0.5
    trials = [PlannedTrial(k, allstim[i].image, allstim[i].crop, allstim[i].method_a,
                           allstim[i].method_b, bool(a_left[k]), allstim[i].method_a == ORIGINAL)
              for k, i in enumerate(order)]
    return seed, trials


def resolve_choice(trial: PlannedTrial, side: str) -> str:
    """The method a rater chose: ``side`` is ``left``, ``right`` or ``tie`` (-> ``"tie"``)."""
    if trial.pending:
        raise StudyError(f"trial {trial.index} must be shown (its comparison chosen) before a vote")
    if side == "left":
        return trial.left
    if side == "right":
        return trial.right
    if side == "tie":
        return "tie"
    raise StudyError(f"choice must be 'left', 'right' or 'tie', got {side!r}")


def golden_failed(trial: PlannedTrial, choice: str) -> bool:
    """A golden trial fails unless the original was chosen ("can't decide" fails too: the
    degradation is meant to be obvious).  Regular trials never fail."""
    return trial.is_golden and choice != ORIGINAL
