"""Vote export: one row per stored vote -- the contract read by ``evalkit report``.

Columns: :data:`evalkit.vote_table.VOTE_COLUMNS` (the contract, documented there), in that order;
``rater`` is the namespaced rater key (``prolific:<PID>`` or ``id:<id>``, see docs/study.md).

Text cells that a spreadsheet would run as a formula (starting with ``=``, ``+``, ``-``, ``@``,
tab or CR) get a leading ``'`` (:func:`evalkit.textsafe.csv_safe_frame`), in this file and in the
experimenter's download.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from evalkit.provenance import atomic_write_text, provenance, write_sidecar
from evalkit.textsafe import csv_safe_frame
from evalkit.vote_table import VOTE_COLUMNS, VOTE_DTYPES
from study_app.store import VoteStore
from study_app.store_engine import normalize_url, redact
from study_app.store_schema import as_utc


def _iso(series: pd.Series) -> pd.Series:
    return series.map(lambda v: as_utc(pd.Timestamp(v).to_pydatetime()).isoformat(timespec="milliseconds")
                      .replace("+00:00", "Z"))


def votes_table(store: VoteStore, study: str | None = None) -> pd.DataFrame:
    """All votes (of one study, or every study) joined with their trial plan, sorted."""
    votes = store.frame("votes", study)
    trials = store.frame("trials", study)
    if votes.empty:
        return pd.DataFrame({c: pd.Series(dtype=VOTE_DTYPES.get(c, "object"))
                             for c in VOTE_COLUMNS})
    trials = trials.rename(columns={"idx": "trial"}).drop(columns=["id"])
    df = votes.drop(columns=["id"]).merge(trials, on=["study", "rater", "trial"], how="left",
                                          validate="one_to_one")
    a_left = df["a_left"].astype(bool)
    df["left"] = df["method_a"].where(a_left, df["method_b"])
    df["right"] = df["method_b"].where(a_left, df["method_a"])
    df["is_golden"] = df["is_golden"].astype(bool)
    df["golden_failed"] = df["golden_failed"].astype(bool)
    df["shown_at"] = _iso(df["shown_at"])
    df["answered_at"] = _iso(df["answered_at"])
    df["duration_s"] = df["duration_s"].astype(float)
    df["trial"] = df["trial"].astype(int)
    df["crop"] = df["crop"].fillna("")
    return df.sort_values(["study", "rater", "trial"]).reset_index(drop=True)[list(VOTE_COLUMNS)]


def votes_csv(df: pd.DataFrame) -> str:
    """The CSV text of a votes table, formula-looking text cells neutralised."""
    return csv_safe_frame(df).to_csv(index=False)


def export_votes(db_url: str, out: str | Path, study: str | None = None) -> pd.DataFrame:
    """Write the votes CSV atomically plus a ``.json`` provenance sidecar; returns the table.

    Raises:
        StudyError: the database is missing (no file is created), unreachable or not a vote
            database; the message names it.
    """
    url = normalize_url(db_url)
    store = VoteStore(url, pool_size=1, create=False)
    try:
        df = votes_table(store, study)
        studies = store.frame("studies", study)
    finally:
        store.dispose()
    atomic_write_text(out, votes_csv(df))
    write_sidecar(out, provenance(
        {"db": redact(url), "study": study},
        studies=[{"name": r["name"], "seed": int(r["seed"])} for _, r in studies.iterrows()],
        n_votes=len(df), columns=list(VOTE_COLUMNS)))
    return df
