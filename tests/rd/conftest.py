"""Fixtures of the RD tests."""

from __future__ import annotations

import pytest
from _rd_tables import results_table


@pytest.fixture
def table():
    """anchor, a codec needing 80% of its bits, and one needing 150%."""
    return results_table({"anchor": 1.0, "better": 0.8, "worse": 1.5})


@pytest.fixture
def results_csv(tmp_path, table):
    from evalkit.evaluate.results import write_table

    return write_table(table, tmp_path / "results.csv")
