"""The Streamlit process behind ``evalkit study serve`` (run as ``python -m study_app.server``).

Three things plain ``streamlit run`` does not do:

* dies with its parent: on Linux the kernel sends it SIGTERM when the ``evalkit`` process that
  started it exits for any reason (``PR_SET_PDEATHSIG``), so no orphan keeps serving the port;
* sends no server file path: Streamlit puts the absolute path of ``app.py`` into every new
  session message (``new_session.main_script_path``); it is blanked here (the browser does not
  need it: page routing uses the script hash);
* notes when each image is fetched, so a trial's ``shown_at`` is when the browser got its images
  (:func:`study_app.delivery.note_served`), not when the server started sending them.
"""

from __future__ import annotations

import ctypes
import signal
import sys


def _die_with_parent() -> None:
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, int(signal.SIGTERM))   # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):        # not fatal: serve's signal handler still stops us
        pass


def _hide_script_path() -> None:
    from streamlit.runtime.app_session import AppSession

    original = AppSession._create_new_session_message

    def without_path(self, *args, **kwargs):
        msg = original(self, *args, **kwargs)
        msg.new_session.main_script_path = ""
        return msg

    AppSession._create_new_session_message = without_path


def _note_served_media() -> None:
    """Record when each media file is fetched (the time a trial really appears)."""
    from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage

    from study_app.delivery import note_served

    original = MemoryMediaFileStorage.get_file

    def get_file(self, filename):
        media = original(self, filename)
        note_served(filename)
        return media

    MemoryMediaFileStorage.get_file = get_file


def main(argv: list[str]) -> None:
    _die_with_parent()
    _hide_script_path()
    _note_served_media()
    from streamlit.web import cli

    sys.argv = ["streamlit", "run", *argv]
    cli.main()


if __name__ == "__main__":
    main(sys.argv[1:])
