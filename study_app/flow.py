"""Pure decisions of the rater and experimenter pages (no Streamlit here; tested directly).

Rater identity policy:

1. URL parameters ``PROLIFIC_PID`` (rater), ``STUDY_ID`` and ``SESSION_ID`` when present;
2. else URL parameter ``rater`` (the app writes it into the URL once a rater starts, so a refresh
   or a server restart resumes them);
3. else an id the rater enters, or a generated ``r-xxxxxxxx`` when left empty.
"""

from __future__ import annotations

import hmac
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass

import pandas as pd

from evalkit.errors import StudyError

_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@+-]{0,127}$")


@dataclass(frozen=True)
class Identity:
    rater: str
    session: str = ""
    platform_study: str = ""
    source: str = "generated"   # prolific | url | entered | generated


def clean_rater_id(text: str) -> str:
    """Validate an id typed by a rater or given in the URL."""
    text = (text or "").strip()
    if not _ID_RE.match(text):
        raise StudyError("rater id must be 1-128 letters, digits or . _ @ + - (starting with a "
                         f"letter or digit), got {text!r}")
    return text


def identity_from_params(params: Mapping[str, str]) -> Identity | None:
    """The rater named by the URL, or None when the page must ask (see module doc)."""
    pid = params.get("PROLIFIC_PID")
    if pid:
        return Identity(clean_rater_id(pid), session=str(params.get("SESSION_ID", ""))[:128],
                        platform_study=str(params.get("STUDY_ID", ""))[:128], source="prolific")
    rater = params.get("rater")
    if rater:
        return Identity(clean_rater_id(rater), source="url")
    return None


def identity_from_entry(text: str) -> Identity:
    """What the identity page starts with: the entered id, or a generated one when empty."""
    if text and text.strip():
        return Identity(clean_rater_id(text), source="entered")
    return Identity("r-" + secrets.token_hex(4), source="generated")


def progress_text(answered: int, total: int) -> tuple[float, str]:
    """Fraction for the progress bar and its label."""
    return (answered / total if total else 1.0), f"{answered} of {total} answered"


def token_ok(given: str, expected: str) -> bool:
    """Constant-time check of the experimenter secret; an empty secret never matches."""
    return bool(expected) and hmac.compare_digest((given or "").encode(), expected.encode())


def completion_message(code: str, redirect_url: str) -> str:
    if code and redirect_url:
        return f"Thank you! Your completion code is **{code}**. Use the button below to return."
    if code:
        return f"Thank you! Your completion code is **{code}**."
    if redirect_url:
        return "Thank you! Use the button below to finish."
    return "Thank you! You have answered every question; you may close this page."


def experimenter_tables(votes: pd.DataFrame, trials: pd.DataFrame,
                        raters: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Progress per comparison and per rater, and every golden failure.

    ``votes`` is the export table (:func:`study_app.export.votes_table`); ``trials`` and
    ``raters`` are the raw store tables.
    """
    reg_plan = trials[~trials["is_golden"].astype(bool) & (trials["method_a"] != "")]   # "": pending
    per_comp = (reg_plan.groupby(["method_a", "method_b"]).size().rename("planned").to_frame())
    reg = votes[~votes["is_golden"].astype(bool)]
    if len(reg):
        flags = pd.DataFrame({
            "method_a": reg["method_a"], "method_b": reg["method_b"], "votes": 1,
            "a_chosen": (reg["choice"] == reg["method_a"]).astype(int),
            "b_chosen": (reg["choice"] == reg["method_b"]).astype(int),
            "ties": (reg["choice"] == "tie").astype(int)})
        counts = flags.groupby(["method_a", "method_b"]).sum()
        per_comp = per_comp.join(counts, how="left")
    for c in ("votes", "a_chosen", "b_chosen", "ties"):
        per_comp[c] = per_comp.get(c, pd.Series(dtype=float)).fillna(0).astype(int)
    per_comp = per_comp.reset_index()

    planned = trials.groupby("rater").size().rename("planned")
    answered = votes.groupby("rater").size().rename("answered")
    gold = votes[votes["is_golden"].astype(bool)].groupby("rater")
    per_rater = raters.set_index("rater")[["slot", "source", "completed_at"]].join(planned).join(answered)
    per_rater = per_rater.join(gold.size().rename("golden_answered"))
    per_rater = per_rater.join(gold["golden_failed"].sum().rename("golden_failed"))
    per_rater = per_rater.join(votes.groupby("rater")["duration_s"].median().rename("median_s"))
    for c in ("planned", "answered", "golden_answered", "golden_failed"):
        per_rater[c] = per_rater[c].fillna(0).astype(int)
    per_rater["completed"] = per_rater.pop("completed_at").notna()
    per_rater = per_rater.reset_index().sort_values("slot")

    failures = votes[votes["golden_failed"].astype(bool)][
        ["rater", "trial", "image", "crop", "method_b", "choice", "answered_at"]]
    failures = failures.rename(columns={"method_b": "degradation"}).reset_index(drop=True)
    return {"comparisons": per_comp, "raters": per_rater, "golden_failures": failures}
