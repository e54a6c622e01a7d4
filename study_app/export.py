"""Vote export: one row per stored vote -- the contract read by ``evalkit report``.

Columns: :data:`evalkit.vote_table.VOTE_COLUMNS` (the contract, documented there), in that order.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from evalkit.provenance import atomic_write_text, provenance, write_sidecar
from evalkit.vote_table import VOTE_COLUMNS, VOTE_DTYPES
from study_app.store import VoteStore, as_utc


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


def export_votes(db_url: str, out: str | Path, study: str | None = None) -> pd.DataFrame:
    """Write the votes CSV atomically plus a ``.json`` provenance sidecar; returns the table."""
    store = VoteStore(db_url, pool_size=1)
    try:
        df = votes_table(store, study)
        studies = store.frame("studies", study)
    finally:
        store.dispose()
    atomic_write_text(out, df.to_csv(index=False))
    write_sidecar(out, provenance(
        {"db": _redact(db_url), "study": study},
        studies=[{"name": r["name"], "seed": int(r["seed"])} for _, r in studies.iterrows()],
        n_votes=len(df), columns=list(VOTE_COLUMNS)))
    return df


def _redact(url: str) -> str:
    """Drop a password from a database URL before recording it."""
    from sqlalchemy.engine import make_url

    from study_app.store import normalize_url
    try:
        return make_url(normalize_url(url)).render_as_string(hide_password=True)
    except Exception:
        return "<unparsable>"
