"""Error messages that name the input at fault.

Library functions that work on a DataFrame or on decoded pixels do not know which file the data
came from; the verbs wrap their work in :func:`about` so every :class:`EvalkitError` they let
through starts with the file it concerns (unless it already names it).
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Iterator
from pathlib import Path

from evalkit.errors import CacheError, EvalkitError, OutputError


@contextlib.contextmanager
def about(*sources: str | Path) -> Iterator[None]:
    """Prefix the message of an :class:`EvalkitError` raised in the block with ``sources``
    (``"results.csv: anchor must be..."``) unless the message already names one of them."""
    try:
        yield
    except EvalkitError as exc:
        names = [str(s) for s in sources if s is not None]
        message = str(exc)
        if not names or isinstance(exc, (OutputError, CacheError)) or any(n in message for n in names):
            raise  # already named, or about an output rather than the input
        named = copy.copy(exc)
        named.args = (f"{', '.join(names)}: {message}",)
        raise named from exc.__cause__
