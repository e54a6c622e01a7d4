"""Fixtures for the PIM tests (helpers in ``pim_layout.py``)."""

from __future__ import annotations

import pytest
from pim_layout import official_config, official_variables, write_official_zip


@pytest.fixture(scope="session")
def pim1_archive(tmp_path_factory):
    """(zip path, variables) of a random PIM-1 checkpoint in the official layout."""
    variables = official_variables(1, seed=1)
    root = tmp_path_factory.mktemp("pim1_archive")
    return write_official_zip(root / "pim-1.zip", "pim-1", variables, official_config(1)), variables


@pytest.fixture(scope="session")
def pim5_archive(tmp_path_factory):
    variables = official_variables(5, seed=5)
    root = tmp_path_factory.mktemp("pim5_archive")
    return write_official_zip(root / "pim-5.zip", "pim-5", variables, official_config(5)), variables


@pytest.fixture
def skip_hash(monkeypatch):
    monkeypatch.setenv("EVALKIT_SKIP_WEIGHT_HASH", "1")
