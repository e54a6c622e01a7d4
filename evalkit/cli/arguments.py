"""Parsing helpers shared by the verbs' argument handling."""

from __future__ import annotations

from evalkit.commalist import comma_list

__all__ = ["comma_list"]
