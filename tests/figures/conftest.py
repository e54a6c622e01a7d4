"""Fixtures of the figure tests (the layout itself is built by ``_figure_layout``)."""

from __future__ import annotations

import pytest
from _figure_layout import make_layout


@pytest.fixture
def layout(tmp_path):
    """(refs_dir, runs_dir, {image: pixels}, {(method, image): pixels})."""
    return make_layout(tmp_path)
