"""Published reference RD points: the curves evalkit ships (moved into the core,
:mod:`evalkit.rd.reference_curves`; data in ``evalkit/rd/published/``).

Kept as the baselines' face with the historical names: :func:`list_references`,
:func:`resolve_reference` (name -> JSON path) and :func:`load_reference` (name -> parsed JSON).
"""

from __future__ import annotations

from evalkit.rd.reference_curves import list_published as list_references
from evalkit.rd.reference_curves import load_published as load_reference
from evalkit.rd.reference_curves import published_path as resolve_reference

__all__ = ["list_references", "load_reference", "resolve_reference"]
