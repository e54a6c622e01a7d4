"""Pure decisions of the rater and experimenter pages (no Streamlit here; tested directly).

Rater identity policy (docs/study.md, "Identity"):

* URL parameters are validated against ``[A-Za-z0-9_-]{1,64}``; an invalid one is refused with a
  fixed message that never echoes the value.
* ``PROLIFIC_PID`` names a crowd rater (key ``prolific:<PID>``, with ``STUDY_ID``/``SESSION_ID``);
  a typed id or a generated ``r-xxxxxxxx`` names anyone else (key ``id:<id>``): two namespaces.
* Enrolment issues a resume secret that the app puts into the URL (``?resume=<secret>``); a
  refresh, a closed tab or a server restart resumes with it.  An id already enrolled is refused
  without the secret (so nobody can vote in someone else's name).
"""

from __future__ import annotations

import hmac
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass

import pandas as pd

from evalkit.errors import StudyError

PARAM_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
#: The URL parameters the app reads (all others are ignored).
URL_PARAMS = ("PROLIFIC_PID", "STUDY_ID", "SESSION_ID", "resume", "view")


class BadLink(StudyError):
    """A URL parameter or typed id that does not match :data:`PARAM_RE` (message has no value)."""


@dataclass(frozen=True)
class Identity:
    rater: str                  # namespaced key: prolific:<PID> or id:<id>
    session: str = ""
    platform_study: str = ""
    source: str = "generated"   # prolific | entered | generated


def link_params(params: Mapping[str, str]) -> dict[str, str]:
    """The known URL parameters, validated; raises :class:`BadLink` naming only the parameter."""
    out = {}
    for name in URL_PARAMS:
        value = params.get(name)
        if value is None:
            continue
        value = str(value)
        if not PARAM_RE.match(value):
            raise BadLink(f"This link is not valid (parameter {name} must be 1-64 letters, digits, "
                          "_ or -). Please open the link you were given.")
        out[name] = value
    return out


def platform_identity(params: Mapping[str, str]) -> Identity | None:
    """The crowd rater named by validated URL parameters, or None."""
    pid = params.get("PROLIFIC_PID")
    if not pid:
        return None
    return Identity("prolific:" + pid, session=params.get("SESSION_ID", ""),
                    platform_study=params.get("STUDY_ID", ""), source="prolific")


def identity_from_entry(text: str) -> Identity:
    """What the identity page starts with: the entered id, or a generated one when empty."""
    text = (text or "").strip()
    if not text:
        return Identity("id:r-" + secrets.token_hex(4), source="generated")
    if not PARAM_RE.match(text):
        raise BadLink("Your ID must be 1-64 letters, digits, _ or - (no spaces).")
    return Identity("id:" + text, source="entered")


def display_id(rater_key: str) -> str:
    """The id a rater knows (the key without its namespace)."""
    return rater_key.split(":", 1)[1] if ":" in rater_key else rater_key


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
    per_rater["slot"] = per_rater["slot"].astype("Int64")   # no slot before the first vote
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
