"""Compare methods over the same images: restrict a results table to the common images.

A mean over 23 images beside a mean over 24 is no comparison.  :func:`common_images` keeps, of
the compared ``(codec, setting)`` groups of a per-image results table, only the images every
group has, and says which images it dropped and which groups lacked them; :func:`restrict`
does the same and warns (:class:`ImageSetWarning`) naming what was dropped.  Summary tables
(no ``image`` column) pass through unchanged: their image sets cannot be checked.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import pandas as pd

from evalkit.errors import RDError


class ImageSetWarning(UserWarning):
    """The compared methods did not all have the same images; some were left out."""


@dataclass(frozen=True)
class CommonImages:
    """The table restricted to common images, their number and what was dropped.

    ``dropped`` maps each left-out image to the ``codec/setting`` groups that lack it.
    ``images`` is None for a summary table (not checkable).
    """

    table: pd.DataFrame
    images: int | None
    dropped: dict[str, list[str]] = field(default_factory=dict)

    def message(self, what: str = "compared") -> str:
        if not self.dropped:
            return ""
        parts = [f"{img} (missing from {', '.join(groups[:3])}"
                 + (f" and {len(groups) - 3} more" if len(groups) > 3 else "") + ")"
                 for img, groups in list(self.dropped.items())[:8]]
        more = len(self.dropped) - 8
        return (f"{what} over the {self.images} image(s) every method has; left out "
                f"{len(self.dropped)}: " + "; ".join(parts) + (f"; and {more} more" if more > 0
                                                               else ""))


def common_images(table: pd.DataFrame, codecs: list[str] | None = None,
                  group: tuple[str, ...] = ("codec", "setting")) -> CommonImages:
    """Rows of ``codecs`` (all when None) on the images every ``group`` has (see module doc)."""
    if "image" not in table.columns:
        return CommonImages(table, None)
    if codecs:
        available = sorted(set(table["codec"].astype(str)))
        table = table[table["codec"].isin(codecs)]
        if table.empty:
            raise RDError(f"codecs must be in the table, got {', '.join(codecs)}; available: "
                          f"{', '.join(available)}")
    keys = table[list(group)].astype(str).agg("/".join, axis=1)
    images = table["image"].astype(str)
    have = images.groupby(keys).agg(set)
    all_images = set(images)
    if have.empty:
        return CommonImages(table, 0)
    common = set.intersection(*have.tolist())
    dropped = {img: sorted(k for k, s in have.items() if img not in s)
               for img in sorted(all_images - common)}
    if not common:
        raise RDError("the compared methods share no image: "
                      + "; ".join(f"{k} has {len(s)}" for k, s in list(have.items())[:6]))
    return CommonImages(table[images.isin(common)], len(common), dropped)


def restrict(table: pd.DataFrame, codecs: list[str] | None = None, *, what: str = "compared",
             stacklevel: int = 3) -> CommonImages:
    """:func:`common_images`, warning :class:`ImageSetWarning` when images were dropped."""
    res = common_images(table, codecs)
    if res.dropped:
        warnings.warn(res.message(what), ImageSetWarning, stacklevel=stacklevel)
    return res
