"""Fixtures of the evaluation tests (the runs themselves are built by ``_evaluate_runs``)."""

from __future__ import annotations

import pytest
from _evaluate_runs import make_layout


@pytest.fixture
def layout(tmp_path):
    """(refs_dir, runs_dir, {image: pixels}) with jpeg q15/q50/q85 of three photos."""
    return make_layout(tmp_path)
