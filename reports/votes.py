"""Load pairwise votes from any source into one canonical vote table.

Two inputs are understood:

* the study app's export (detected by its columns, :data:`STUDY_COLUMNS`);
* any other pairwise CSV, through a :class:`ColumnMapping` naming the two method columns, the item
  (image) column, the answer column, optionally a rater column, and which answer values mean
  "A wins", "B wins" or "tie".

The canonical table (:data:`CANONICAL_COLUMNS`), one row per vote:

``rater``        str, ``"(all)"`` when the source has no rater column
``item``         str, the image the two reconstructions show
``method_a``     str, alphabetically first method of the pair (votes are re-oriented on load)
``method_b``     str, alphabetically second method
``winner``       ``"a"``, ``"b"``, ``"tie"`` or ``"none"`` (unanswered trial)
``is_golden``    bool, a golden (attention-check) question; never enters a comparison
``golden_failed`` bool, the rater answered a golden question wrongly
``duration_s``   float seconds spent on the trial (NaN when unknown)
``session``, ``trial``, ``crop``: str, empty when unknown
``chosen_side``  ``"left"`` / ``"right"``: where the chosen image was shown (study export only);
                 empty for ties, unanswered trials and sources that don't record sides

All validation of vote input happens here and raises :class:`~evalkit.errors.VoteDataError`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from evalkit.commalist import comma_list
from evalkit.errors import VoteDataError
from evalkit.vote_table import TIE_CHOICE, VOTE_COLUMNS

#: Columns of the study app's export (the contract :data:`evalkit.vote_table.VOTE_COLUMNS`);
#: a table holding all of them is read as a study export.
STUDY_COLUMNS = VOTE_COLUMNS

CANONICAL_COLUMNS = ("rater", "item", "method_a", "method_b", "winner", "is_golden",
                     "golden_failed", "duration_s", "session", "trial", "crop", "chosen_side")

NO_RATER = "(all)"


def _split_values(text: str | tuple[str, ...] | list[str]) -> tuple[str, ...]:
    if isinstance(text, str):
        return tuple(comma_list(text) or ())
    return tuple(str(v).strip() for v in text)


@dataclass(frozen=True)
class ColumnMapping:
    """How a generic pairwise CSV maps onto the canonical vote table.

    ``answer_a``/``answer_b``/``answer_tie`` are comma-separated lists (or tuples) of the answer
    values meaning "the method in column ``a`` was chosen", "... ``b`` was chosen", "no
    preference".  For data where the letter names the option *not* chosen (e.g. mucped23), pass
    ``answer_a="B", answer_b="A"``.  Values are compared as stripped strings, exactly.
    """

    a: str = "methodA"
    b: str = "methodB"
    item: str = "originalName"
    answer: str = "answerValue"
    rater: str | None = None
    answer_a: str | tuple[str, ...] = "A"
    answer_b: str | tuple[str, ...] = "B"
    answer_tie: str | tuple[str, ...] = "tie,draw,none"

    def values(self) -> dict[str, tuple[str, ...]]:
        out = {"a": _split_values(self.answer_a), "b": _split_values(self.answer_b),
               "tie": _split_values(self.answer_tie)}
        seen: dict[str, str] = {}
        for meaning, vals in out.items():
            if not vals and meaning != "tie":
                raise VoteDataError(f"answer values for {meaning!r} must be non-empty, got none")
            for v in vals:
                if v in seen and seen[v] != meaning:
                    raise VoteDataError(f"answer value {v!r} must mean one thing, got both "
                                        f"{seen[v]!r} and {meaning!r}")
                seen[v] = meaning
        return out


def is_study_export(df: pd.DataFrame) -> bool:
    return set(STUDY_COLUMNS) <= set(df.columns)


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a CSV or parquet file as strings-preserving DataFrame; clear error when unreadable."""
    path = Path(path)
    if not path.is_file():
        raise VoteDataError(f"vote/result file must exist, got {str(path)!r}")
    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            return pd.read_parquet(path)
        return pd.read_csv(path, keep_default_na=False, na_values=[""])
    except (ValueError, OSError, pd.errors.ParserError) as exc:
        raise VoteDataError(f"{path.name} must be a readable CSV or parquet table, got: {exc}") \
            from None


def _require(df: pd.DataFrame, cols: list[str], what: str) -> None:
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise VoteDataError(f"{what} must have column(s) {', '.join(map(repr, missing))}; "
                            f"columns present: {', '.join(map(str, df.columns))}")


def _as_bool(series: pd.Series, col: str) -> np.ndarray:
    if series.dtype == bool:
        return series.to_numpy()
    mapping = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False,
               "": False, "nan": False, "none": False}
    text = series.astype("string").fillna("").str.strip().str.lower()
    bad = sorted(set(text) - set(mapping))
    if bad:
        raise VoteDataError(f"column {col!r} must hold booleans (true/false/1/0), got {bad[:5]}")
    return text.map(mapping).to_numpy(dtype=bool)


def _text(series: pd.Series) -> pd.Series:
    return series.astype("string").fillna("").str.strip().astype(object)


def _orient(df: pd.DataFrame) -> pd.DataFrame:
    """Put the alphabetically first method in ``method_a`` and flip the winner accordingly."""
    swap = (df["method_a"] > df["method_b"]).to_numpy()
    a = np.where(swap, df["method_b"], df["method_a"])
    b = np.where(swap, df["method_a"], df["method_b"])
    w = df["winner"].to_numpy(dtype=object).copy()
    flip = {"a": "b", "b": "a"}
    w[swap] = [flip.get(x, x) for x in w[swap]]
    df = df.copy()
    df["method_a"], df["method_b"], df["winner"] = a, b, w
    return df


def _finish(out: pd.DataFrame, source: str) -> pd.DataFrame:
    empty_method = (out["method_a"] == "") | (out["method_b"] == "")
    if empty_method.any():
        row = int(np.flatnonzero(empty_method.to_numpy())[0])
        raise VoteDataError(f"method names must be non-empty, got an empty one in {source} "
                            f"row {row + 1}")
    same = (out["method_a"] == out["method_b"]).to_numpy() & ~out["is_golden"].to_numpy()
    if same.any():
        row = int(np.flatnonzero(same)[0])
        raise VoteDataError(f"the two methods of a vote must differ, got "
                            f"{out['method_a'].iloc[row]!r} twice in {source} row {row + 1}")
    out = _orient(out)
    return out.loc[:, list(CANONICAL_COLUMNS)].reset_index(drop=True)


def _from_study(df: pd.DataFrame) -> pd.DataFrame:
    out = pd.DataFrame({
        "rater": _text(df["rater"]), "item": _text(df["image"]),
        "method_a": _text(df["method_a"]), "method_b": _text(df["method_b"]),
        "session": _text(df["session"]), "trial": _text(df["trial"]), "crop": _text(df["crop"]),
        "is_golden": _as_bool(df["is_golden"], "is_golden"),
        "golden_failed": _as_bool(df["golden_failed"], "golden_failed"),
        "duration_s": pd.to_numeric(df["duration_s"], errors="coerce").astype(float),
    })
    choice = _text(df["choice"]).to_numpy(dtype=object)
    a, b = out["method_a"].to_numpy(dtype=object), out["method_b"].to_numpy(dtype=object)
    winner = np.full(len(out), "", dtype=object)
    winner[choice == a] = "a"
    winner[choice == b] = "b"
    winner[np.char.lower(choice.astype(str)) == TIE_CHOICE] = "tie"
    winner[choice == ""] = "none"
    bad = winner == ""
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise VoteDataError(f"column 'choice' must be method_a, method_b or 'tie', got "
                            f"{choice[i]!r} in row {i + 1} (method_a={a[i]!r}, method_b={b[i]!r})")
    out["winner"] = winner
    side = np.full(len(out), "", dtype=object)
    side[choice == _text(df["left"]).to_numpy(dtype=object)] = "left"
    side[choice == _text(df["right"]).to_numpy(dtype=object)] = "right"
    side[(winner == "tie") | (winner == "none")] = ""
    out["chosen_side"] = side
    return _finish(out, "study export")


def _from_mapping(df: pd.DataFrame, m: ColumnMapping) -> pd.DataFrame:
    values = m.values()
    cols = [m.a, m.b, m.item, m.answer] + ([m.rater] if m.rater else [])
    _require(df, cols, "the vote table")
    answers = _text(df[m.answer]).to_numpy(dtype=object)
    winner = np.full(len(df), "", dtype=object)
    for meaning, vals in values.items():
        winner[np.isin(answers, list(vals))] = meaning
    bad = winner == ""
    if bad.any():
        unknown = sorted(set(answers[bad]))
        known = ", ".join(f"{k}={','.join(v) or '-'}" for k, v in values.items())
        raise VoteDataError(f"column {m.answer!r} must hold only the mapped answer values "
                            f"({known}), got unknown value(s) {unknown[:5]!r} in "
                            f"{int(bad.sum())} row(s)")
    n = len(df)
    out = pd.DataFrame({
        "rater": _text(df[m.rater]) if m.rater else pd.Series([NO_RATER] * n, dtype=object),
        "item": _text(df[m.item]), "method_a": _text(df[m.a]), "method_b": _text(df[m.b]),
        "winner": winner, "is_golden": np.zeros(n, bool), "golden_failed": np.zeros(n, bool),
        "duration_s": np.full(n, np.nan), "session": [""] * n, "trial": [""] * n,
        "crop": [""] * n, "chosen_side": [""] * n,
    })
    return _finish(out, "vote table")


def canonical_votes(df: pd.DataFrame, mapping: ColumnMapping | None = None) -> pd.DataFrame:
    """The canonical vote table of ``df``: study export when its columns say so and no mapping is
    given, otherwise read through ``mapping`` (default :class:`ColumnMapping`)."""
    if mapping is None and is_study_export(df):
        return _from_study(df)
    return _from_mapping(df, mapping or ColumnMapping())


def load_votes(path: str | Path, mapping: ColumnMapping | None = None) -> pd.DataFrame:
    """Read a vote CSV/parquet file and return the canonical vote table."""
    return canonical_votes(read_table(path), mapping)
