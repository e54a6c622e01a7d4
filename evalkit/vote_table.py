"""The vote table contract: the columns the study app exports and ``evalkit report`` reads.

One row per stored vote, columns :data:`VOTE_COLUMNS` in this order:

=============  ===========================================================================
study          study name
rater          rater id (PROLIFIC_PID, the entered id, or a generated ``r-xxxxxxxx``)
session        SESSION_ID from the URL, else the browser session that answered
trial          position of the trial in the rater's plan (0-based)
image          image name (file stem of the original)
crop           ``x,y,w,h`` of the shown region, empty for the full image
method_a       ``codec/setting``, first method of the comparison in the study's canonical order
method_b       second method; golden trials: ``method_a = original``, ``method_b = golden:<kind>``
left           method shown on the left ("A" on screen)
right          method shown on the right ("B" on screen)
choice         the chosen ``codec/setting`` (``original``/``golden:<kind>`` on golden trials),
               or the literal ``tie`` for "can't decide"
is_golden      bool: a golden question (original vs a strongly degraded copy)
golden_failed  bool: golden trial where the original was not chosen (a tie fails too)
shown_at       ISO 8601 UTC time the trial was displayed
answered_at    ISO 8601 UTC time the answer was stored
duration_s     float seconds between the two
=============  ===========================================================================

The writer is :mod:`study_app.export`; the reader :mod:`reports.votes` (which recognises a table
holding all these columns as a study export).  Both import the names from here.
"""

from __future__ import annotations

VOTE_COLUMNS = ("study", "rater", "session", "trial", "image", "crop", "method_a", "method_b",
                "left", "right", "choice", "is_golden", "golden_failed", "shown_at", "answered_at",
                "duration_s")

#: pandas dtype of each column in an empty export (the others are ``object``).
VOTE_DTYPES = {"trial": "int", "is_golden": "bool", "golden_failed": "bool", "duration_s": "float"}

#: Literal ``choice`` of a "can't decide" answer.
TIE_CHOICE = "tie"
