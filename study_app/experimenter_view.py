"""The experimenter page (``?view=experimenter``): progress and golden failures behind a token.

The token comes from env ``EVALKIT_STUDY_TOKEN`` or ``experimenter_token`` in the study file;
without one the page stays closed.  Nothing here is reachable by raters without the secret.
"""

from __future__ import annotations

import streamlit as st

from study_app import flow
from study_app.export import votes_csv, votes_table
from study_app.runtime import StudyContext


def render(ctx: StudyContext) -> None:
    st.title("Experimenter")
    expected = ctx.defn.token()
    if not expected:
        st.warning("The experimenter page is off: set experimenter_token in the study file "
                   "or the environment variable EVALKIT_STUDY_TOKEN.")
        return
    given = st.text_input("Token", type="password", key="exp_token")
    if not flow.token_ok(given, expected):
        if given:
            st.error("Wrong token.")
        return
    store, study = ctx.store, ctx.defn.name
    votes = votes_table(store, study)
    tables = flow.experimenter_tables(votes, store.frame("trials", study), store.frame("raters", study))
    raters = tables["raters"]
    c1, c2, c3, c4 = st.columns(4)
    c1.metric("Raters", len(raters))
    c2.metric("Completed", int(raters["completed"].sum()) if len(raters) else 0)
    c3.metric("Votes", len(votes))
    c4.metric("Golden failures", len(tables["golden_failures"]))
    st.subheader("Progress per comparison")
    st.dataframe(tables["comparisons"], hide_index=True)
    st.subheader("Progress per rater")
    st.dataframe(raters, hide_index=True)
    st.subheader("Golden-question failures")
    if len(tables["golden_failures"]):
        st.dataframe(tables["golden_failures"], hide_index=True)
    else:
        st.write("None so far.")
    st.download_button("Download votes.csv", votes_csv(votes), file_name="votes.csv",
                       mime="text/csv", key="exp_download")
