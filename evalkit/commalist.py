"""Comma-separated lists, as options and settings spell them: ``"jpeg, webp,,avif"``."""

from __future__ import annotations

from typing import Iterable


def comma_list(text: str | Iterable[str] | None) -> list[str] | None:
    """``"a, b,,c"`` -> ``["a", "b", "c"]``; None for an empty or missing value.

    A list/tuple is accepted too; each of its items may itself hold commas
    (``["a,b", "c"]`` -> ``["a", "b", "c"]``, as repeated options give).  Order and
    duplicates are kept; callers that validate names drop duplicates themselves.
    """
    if text is None:
        return None
    items = [text] if isinstance(text, str) else [str(t) for t in text]
    return [t.strip() for item in items for t in item.split(",") if t.strip()] or None
