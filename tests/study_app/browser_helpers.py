"""Serving the study app and driving it in headless Chromium (shared by the browser tests)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
IMAGES_LOADED = """prev => {
    const imgs = [...document.images].filter(i => i.src.includes('/media/'));
    return imgs.length >= 3 && imgs.every(i => i.complete && i.naturalWidth > 0
                                          && !prev.includes(i.src.slice(-80)));
}"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_is_free(port: int) -> bool:
    """True when a new server could listen on ``port`` (SO_REUSEADDR, as servers bind: the
    TIME_WAIT leftovers of closed connections do not count)."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def launch_serve(study: Path, db: str, log: Path, port: int | None = None):
    """Start ``evalkit study serve`` in its own process group; returns (process, base URL, port)
    without waiting (see :func:`wait_healthy`)."""
    port = port or free_port()
    out = open(log, "w")
    proc = subprocess.Popen([sys.executable, "-m", "evalkit", "study", "serve", str(study),
                             "--db", db, "--port", str(port)],
                            stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    return proc, f"http://127.0.0.1:{port}", port


def wait_healthy(proc, url: str, log: Path) -> None:
    deadline = time.time() + 90
    while True:
        try:
            with urllib.request.urlopen(url + "/_stcore/health", timeout=2) as r:
                if r.read().strip() == b"ok":
                    return
        except OSError:
            pass
        if proc.poll() is not None or time.time() > deadline:
            stop_serve(proc)
            raise RuntimeError("serve did not start:\n" + log.read_text())
        time.sleep(0.3)


def start_serve(study: Path, db: str, log: Path, port: int | None = None):
    """``evalkit study serve``, started and healthy; returns (process, base URL, port)."""
    proc, url, port = launch_serve(study, db, log, port)
    wait_healthy(proc, url, log)
    return proc, url, port


def stop_serve(proc) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def image_srcs(page) -> list[str]:
    return page.eval_on_selector_all(
        "img", "els => els.filter(e => e.src.includes('/media/')).map(e => e.src.slice(-80))")
