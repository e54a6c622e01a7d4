"""The Streamlit script started by ``evalkit study serve`` (thin: logic lives in the modules)."""

import streamlit as st

from study_app import experimenter_view, rater_view
from study_app.runtime import context_from_env, open_context

st.set_page_config(page_title="Image comparison", layout="wide", initial_sidebar_state="collapsed")


@st.cache_resource(show_spinner=False)
def _context(study_path: str, db_url: str):
    return open_context(study_path, db_url)


ctx = _context(*context_from_env())
if st.query_params.get("view") == "experimenter":
    experimenter_view.render(ctx)
else:
    rater_view.render(ctx)
