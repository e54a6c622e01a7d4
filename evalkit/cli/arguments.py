"""Parsing helpers shared by the verbs' argument handling."""

from __future__ import annotations


def comma_list(text: str | None) -> list[str] | None:
    """``"a, b,,c"`` -> ``["a", "b", "c"]``; None for an empty or missing option."""
    return [t.strip() for t in (text or "").split(",") if t.strip()] or None
