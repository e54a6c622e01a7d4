"""Fixtures of the study tests (helpers live in study_fixtures.py)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from study_fixtures import make_study  # noqa: E402


@pytest.fixture
def study_file(tmp_path) -> Path:
    return make_study(tmp_path)


@pytest.fixture
def pg_url() -> str:
    url = os.environ.get("EVALKIT_TEST_PG_URL")
    if not url:
        pytest.skip("EVALKIT_TEST_PG_URL not set (run .ci/services.sh)")
    return url
