"""RD points from both sources a comparison may mix: results-table codecs and published curves.

A *published curve* is named like ``compressai-kodak/vtm`` (a curve shipped with evalkit, see
``evalkit baseline --list-references``) or is a CompressAI-format JSON path.  Its points are
means over its dataset's images (CompressAI's convention), so it only mixes with ``"mean"``
pooling.  :func:`curve_points` gives both kinds the same shape as
:func:`evalkit.rd.points.rd_points` (``codec, setting, bpp, value``), the curve's spec string
standing in for the codec name.
"""

from __future__ import annotations

import pandas as pd

from evalkit.errors import RDError
from evalkit.rd.compressai_json import RDCurve, load_reference
from evalkit.rd.imageset import CommonImages, restrict
from evalkit.rd.points import ms_ssim_to_db, rd_points


def load_curves(specs) -> dict[str, RDCurve]:
    """``{spec string: curve}`` of published names / JSON paths / :class:`RDCurve` objects."""
    out: dict[str, RDCurve] = {}
    for s in specs or ():
        if isinstance(s, RDCurve):
            out[s.source or s.name] = s
        else:
            out[str(s)] = load_reference(s)
    return out


def reference_points(key: str, curve: RDCurve, metric: str,
                     ms_ssim_db: bool = False) -> pd.DataFrame | None:
    """Points of a published curve for ``metric`` (None when the curve lacks it)."""
    if metric not in curve.metrics:
        return None
    pts = pd.DataFrame({"codec": key, "setting": [f"p{i}" for i in range(len(curve.bpp))],
                        "bpp": list(curve.bpp), "value": list(curve.metrics[metric])})
    if metric == "ms_ssim" and ms_ssim_db:
        pts["value"] = ms_ssim_to_db(pts["value"])
    return pts.sort_values("bpp").reset_index(drop=True)


def table_points(table: pd.DataFrame | None, metric: str, *, codecs=None, pooling="mean",
                 ms_ssim_db=False, what="compared") -> tuple[pd.DataFrame, CommonImages | None]:
    """:func:`rd_points` of ``codecs`` over the images all of them have (warns what it dropped)."""
    if table is None:
        return pd.DataFrame(columns=["codec", "setting", "bpp", "value"]), None
    common = restrict(table, list(codecs) if codecs else None, what=what, stacklevel=4)
    pts = rd_points(common.table, metric, pooling=pooling, ms_ssim_db=ms_ssim_db,
                    codecs=list(codecs) if codecs else None)
    return pts, common


def split_specs(names, table: pd.DataFrame | None) -> tuple[list[str], list[str]]:
    """Split names into results-table codecs and published-curve specs (a table codec wins)."""
    have = set(table["codec"].astype(str)) if table is not None else set()
    codecs, refs = [], []
    for n in names:
        (codecs if n in have else refs).append(n)
    return codecs, refs


def unknown_message(name: str, table: pd.DataFrame | None, role: str = "curve") -> str:
    have = sorted(set(table["codec"].astype(str))) if table is not None else []
    import difflib

    from evalkit.rd.reference_curves import list_published

    published = list_published()
    near = [p for p in published if p.rsplit("/", 1)[-1] == name]
    near += [p for p in difflib.get_close_matches(name, published, n=3, cutoff=0.6)
             if p not in near]
    examples = ", ".join((near or published)[:3])
    return (f"{role} must be a codec of the results table ({', '.join(have) or 'no table'}), "
            f"a published curve such as {examples} (`evalkit baseline --list-references`) or "
            f"a CompressAI JSON path, got {name!r}")


def check_pooling(refs, pooling: str) -> None:
    if refs and pooling != "mean":
        raise RDError("published curves are means of per-image values (CompressAI's "
                      f"convention): compare them with --pooling mean, got {pooling!r}")
