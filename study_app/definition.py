"""The study file: a TOML document describing one blind A/B study, read and validated here.

Example (paths are relative to the study file)::

    [study]
    name = "clic-demo"
    refs = "refs"                  # originals (evaluation layout)
    runs = "runs"                  # runs/<codec>/<setting>/<image>.png
    images = []                    # [] or missing = every reference image
    trials_per_rater = 20          # golden questions included
    design = "balanced"            # or "adaptive": next comparison by expected information gain
    golden_share = 0.1             # share of golden questions per rater (0 disables them)
    golden_degradations = ["blur", "noise", "jpeg"]
    seed = 20261122                # every random choice derives from it (recorded in the DB)
    instructions = "Pick the image closer to the original."
    consent = "I agree that my answers are stored anonymously."
    completion_code = "C1A2B3"     # shown at the end ...
    redirect_url = ""              # ... and/or a link back to the crowd platform
    experimenter_token = "..."     # or env EVALKIT_STUDY_TOKEN (which wins)

    [crops]                        # optional: fixed-size crops like CLIC's 768x768
    width = 768
    height = 768
    per_image = 1                  # crops drawn reproducibly per image from the seed

    [[comparisons]]                # one pair, in canonical order (method_a, method_b)
    a = "jpeg/q20"
    b = "hific/low"

    [[comparisons]]                # or every pair among these (in listed order)
    all_pairs = ["jpeg/q20", "webp/q30", "hific/low"]

Here: the file's content (:func:`parse_study`, :func:`load_study`).  Checking it against the
folders is :mod:`study_app.study_check`, the starter file :mod:`study_app.starter`, the defaults
:mod:`study_app.defaults`.  Errors are :class:`~evalkit.errors.StudyError` with one-line
"X must be ..., got ..." messages.
"""

from __future__ import annotations

import itertools
import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evalkit.errors import StudyError
from study_app import defaults
from study_app.defaults import GOLDEN_KINDS, TOKEN_ENV

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_METHOD_RE = re.compile(r"^[^/\s]+/[^/\s]+$")


@dataclass(frozen=True)
class CropSpec:
    """Fixed-size crops: ``per_image`` boxes of ``width`` x ``height`` per image."""

    width: int
    height: int
    per_image: int = 1


@dataclass(frozen=True)
class StudyDefinition:
    """A parsed study file. ``comparisons`` hold ``(method_a, method_b)`` in canonical order."""

    name: str
    path: Path | None
    refs_dir: Path
    runs_dir: Path
    comparisons: tuple[tuple[str, str], ...]
    images: tuple[str, ...] | None = None
    crops: CropSpec | None = None
    trials_per_rater: int = defaults.TRIALS_PER_RATER
    golden_share: float = defaults.GOLDEN_SHARE
    golden_degradations: tuple[str, ...] = defaults.GOLDEN_DEGRADATIONS
    seed: int = 0
    design: str = defaults.DESIGN   # balanced | adaptive (study_app.design)
    instructions: str = defaults.INSTRUCTIONS
    consent: str = defaults.CONSENT
    completion_code: str = ""
    redirect_url: str = ""
    experimenter_token: str = ""
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def methods(self) -> tuple[str, ...]:
        """Every ``codec/setting`` of the comparisons, first-seen order."""
        return tuple(dict.fromkeys(m for pair in self.comparisons for m in pair))

    @property
    def n_golden(self) -> int:
        """Golden questions per rater: ``round(share * trials)``, at least 1 when share > 0."""
        if self.golden_share <= 0:
            return 0
        return max(1, round(self.golden_share * self.trials_per_rater))

    @property
    def n_regular(self) -> int:
        return self.trials_per_rater - self.n_golden

    def token(self) -> str:
        """The experimenter secret: env ``EVALKIT_STUDY_TOKEN`` wins over the file; "" = none."""
        return os.environ.get(TOKEN_ENV) or self.experimenter_token


def _get(table: dict, key: str, kind, default, where: str):
    value = table.get(key, default)
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise StudyError(f"{where}.{key} must be {kind.__name__}, got {value!r}")
    return value


def _check_method(m: Any, where: str) -> str:
    if not isinstance(m, str) or not _METHOD_RE.match(m):
        raise StudyError(f"{where} must be a method named 'codec/setting', got {m!r}")
    return m


def _parse_comparisons(items: Any) -> tuple[tuple[str, str], ...]:
    if not isinstance(items, list) or not items:
        raise StudyError(f"[[comparisons]] must be a non-empty list of tables, got {items!r}")
    pairs: list[tuple[str, str]] = []
    for i, item in enumerate(items):
        where = f"comparisons[{i}]"
        if not isinstance(item, dict):
            raise StudyError(f"{where} must be a table, got {item!r}")
        if "all_pairs" in item:
            ms = item["all_pairs"]
            if not isinstance(ms, list) or len(ms) < 2:
                raise StudyError(f"{where}.all_pairs must list at least 2 methods, got {ms!r}")
            ms = [_check_method(m, f"{where}.all_pairs") for m in ms]
            if len(set(ms)) != len(ms):
                raise StudyError(f"{where}.all_pairs must not repeat a method, got {ms}")
            pairs.extend(itertools.combinations(ms, 2))
        elif "a" in item and "b" in item:
            a = _check_method(item["a"], f"{where}.a")
            b = _check_method(item["b"], f"{where}.b")
            if a == b:
                raise StudyError(f"{where} must compare two different methods, got {a} twice")
            pairs.append((a, b))
        else:
            raise StudyError(f"{where} must have keys a and b, or all_pairs, got {sorted(item)}")
    seen: dict[frozenset, tuple[str, str]] = {}
    for p in pairs:
        key = frozenset(p)
        if key in seen:
            raise StudyError(f"comparisons must be distinct, got {seen[key]} and {p}")
        seen[key] = p
    return tuple(pairs)


def _parse_golden(study: dict) -> tuple[float, list[str]]:
    """``golden_share`` and ``golden_degradations`` of the [study] table."""
    share = _get(study, "golden_share", float, defaults.GOLDEN_SHARE, "study")
    if not 0.0 <= share < 1.0:
        raise StudyError(f"study.golden_share must be in [0, 1), got {share}")
    kinds = study.get("golden_degradations", list(defaults.GOLDEN_DEGRADATIONS))
    if (not isinstance(kinds, list) or not kinds
            or any(k not in GOLDEN_KINDS for k in kinds) or len(set(kinds)) != len(kinds)):
        raise StudyError(f"study.golden_degradations must be distinct names among {list(GOLDEN_KINDS)}, "
                         f"got {kinds!r}")
    return share, kinds


def _parse_crops(c: Any) -> CropSpec:
    """The [crops] table."""
    if not isinstance(c, dict):
        raise StudyError(f"[crops] must be a table, got {c!r}")
    cw, ch = _get(c, "width", int, 0, "crops"), _get(c, "height", int, 0, "crops")
    per = _get(c, "per_image", int, 1, "crops")
    if cw < 16 or ch < 16 or per < 1:
        raise StudyError(f"crops must be at least 16x16 with per_image >= 1, got {cw}x{ch}, "
                         f"per_image={per}")
    return CropSpec(cw, ch, per)


def parse_study(data: dict[str, Any], base_dir: Path, path: Path | None = None) -> StudyDefinition:
    """Build a :class:`StudyDefinition` from parsed TOML (relative paths against ``base_dir``)."""
    study = data.get("study")
    if not isinstance(study, dict):
        raise StudyError("the study file must have a [study] table")
    unknown = set(data) - {"study", "crops", "comparisons"}
    if unknown:
        raise StudyError(f"top-level keys must be study, crops, comparisons; got also {sorted(unknown)}")
    w = "study"
    name = _get(study, "name", str, "", w)
    if not _NAME_RE.match(name):
        raise StudyError(f"study.name must be 1-64 letters, digits, '.', '_' or '-', got {name!r}")
    refs = base_dir / _get(study, "refs", str, "refs", w)
    runs = base_dir / _get(study, "runs", str, "runs", w)
    images = study.get("images", [])
    if not isinstance(images, list) or not all(isinstance(x, str) and x for x in images):
        raise StudyError(f"study.images must be a list of image names, got {images!r}")
    trials = _get(study, "trials_per_rater", int, defaults.TRIALS_PER_RATER, w)
    if trials < 1:
        raise StudyError(f"study.trials_per_rater must be >= 1, got {trials}")
    share, kinds = _parse_golden(study)
    seed = _get(study, "seed", int, 0, w)
    if not 0 <= seed < 2**63:
        raise StudyError(f"study.seed must be a non-negative 63-bit integer, got {seed}")
    design = _get(study, "design", str, defaults.DESIGN, w)
    if design not in defaults.DESIGNS:
        raise StudyError(f"study.design must be 'balanced' or 'adaptive', got {design!r}")
    redirect = _get(study, "redirect_url", str, "", w)
    if redirect and not redirect.startswith(("https://", "http://")):
        raise StudyError(f"study.redirect_url must start with http:// or https://, got {redirect!r}")
    crops = _parse_crops(data["crops"]) if "crops" in data else None
    kw = {k: _get(study, k, str, getattr(StudyDefinition, k), w)
          for k in ("instructions", "consent", "completion_code", "experimenter_token")}
    known = {"name", "refs", "runs", "images", "trials_per_rater", "golden_share",
             "golden_degradations", "seed", "redirect_url", "design", *kw}
    if set(study) - known:
        raise StudyError(f"[study] keys must be among {sorted(known)}, got also {sorted(set(study) - known)}")
    defn = StudyDefinition(
        name=name, path=path, refs_dir=refs, runs_dir=runs,
        comparisons=_parse_comparisons(data.get("comparisons")),
        images=tuple(images) or None, crops=crops, trials_per_rater=trials, golden_share=share,
        golden_degradations=tuple(kinds), seed=seed, design=design, redirect_url=redirect, raw=data,
        **kw)
    if defn.n_regular < 1:
        raise StudyError(f"study.golden_share leaves no regular trial: {defn.n_golden} golden of "
                         f"{trials} trials")
    return defn


def load_study(path: str | Path) -> StudyDefinition:
    """Read and validate a study file (content only; see :func:`check_study` for the folders)."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_bytes().decode("utf-8"))
    except FileNotFoundError:
        raise StudyError(f"study file {path} does not exist") from None
    except IsADirectoryError:
        raise StudyError(f"study file {path} must be a TOML file, got a folder") from None
    except OSError as exc:
        raise StudyError(f"study file {path} cannot be read: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise StudyError(f"study file {path} must be UTF-8 text (TOML), got binary data") from None
    except tomllib.TOMLDecodeError as exc:
        raise StudyError(f"study file {path} is not valid TOML: {exc}") from None
    if not isinstance(data, dict):
        raise StudyError(f"study file {path} must hold a TOML table")
    return parse_study(data, path.resolve().parent, path.resolve())
