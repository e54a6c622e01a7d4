"""Bad input, verb by verb: every fault is one line on stderr naming the culprit, exit status 1
(2 for usage errors), no traceback, and nothing written.  Also: outputs follow the umask."""

from __future__ import annotations

import os
import stat

import pytest


@pytest.mark.parametrize("mask, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_atomic_outputs_follow_the_umask(tmp_path, mask, mode):
    from evalkit.provenance import atomic_write_text

    old = os.umask(mask)
    try:
        atomic_write_text(tmp_path / "out.txt", "x\n")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "out.txt").stat().st_mode) == mode
