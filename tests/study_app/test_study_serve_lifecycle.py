"""`evalkit study serve` stops as a whole: SIGTERM / SIGINT to the evalkit process (and even
SIGKILL, via the child's parent-death signal) leave no Streamlit child serving the port."""

from __future__ import annotations

import os
import signal
import time

import pytest
from browser_helpers import port_is_free, start_serve, stop_serve
from study_fixtures import make_study

pytestmark = pytest.mark.slow


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGKILL])
def test_signal_to_serve_frees_the_port(tmp_path, sig):
    study = make_study(tmp_path)
    proc, url, port = start_serve(study, f"sqlite:///{tmp_path / 'v.sqlite'}", tmp_path / "log")
    try:
        assert not port_is_free(port)
        proc.send_signal(sig)                 # the evalkit process only, not its group
        code = proc.wait(timeout=30)
        deadline = time.time() + 30
        while (_group_alive(proc.pid) or not port_is_free(port)) and time.time() < deadline:
            time.sleep(0.2)
        assert port_is_free(port), (tmp_path / "log").read_text()
        assert not _group_alive(proc.pid)     # the Streamlit child is gone too
        if sig != signal.SIGKILL:
            assert code == 0 and "stopped" in (tmp_path / "log").read_text()
    finally:
        if _group_alive(proc.pid):
            os.killpg(proc.pid, signal.SIGKILL)
        stop_serve(proc)
