"""Objective metrics vs human votes: the 2AFC agreement table.

The results table of ``evalkit evaluate`` (CSV or parquet) has columns ``codec, setting, image,
width, height, bytes, bpp`` plus one column per metric; a table with a ``method`` column instead of
``codec``/``setting`` is accepted too.  The method name is ``codec/setting``.  Metric directions
come from :func:`evalkit.metrics.get_spec`; numeric columns that are not registered metrics are
ignored (and listed) unless ``metric_directions`` gives their direction explicitly.

Agreement (2AFC): a *unit* is one comparison on one image (``level="image"``) or one comparison
over all its images (``level="comparison"``, metric averaged over the images the humans saw).  The
human side is the majority of decided included votes (units with equal wins are "human ties" and
skipped); the metric side prefers the reconstruction with the better value (equal values are
"metric ties" and skipped; units with a missing value are "missing").  Agreement = agreeing units /
judged units, with a Wilson CI.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from evalkit.errors import VoteDataError
from reports.counts import wilson_interval
from reports.votes import read_table

NON_METRIC_COLUMNS = {"codec", "setting", "method", "image", "width", "height", "bytes", "bpp",
                      "family", "path", "ref", "dist", "reference", "reconstruction", "run",
                      "pixels", "seconds", "time_s", "encode_s", "decode_s", "quality",
                      "model", "weights_verified"}

AGREEMENT_COLUMNS = ("metric", "level", "judged", "agree", "agreement", "ci_low", "ci_high",
                     "human_ties", "metric_ties", "missing")


@dataclass(frozen=True)
class MetricResults:
    """``table``: ``method, image, bpp`` plus metric columns; ``directions``: metric ->
    higher_is_better; ``ignored``: numeric columns left out (unknown direction)."""

    table: pd.DataFrame
    directions: dict[str, bool]
    ignored: tuple[str, ...]


def prepare_results(df: pd.DataFrame, metric_directions: dict[str, bool] | None = None
                    ) -> MetricResults:
    from evalkit.errors import MetricError
    from evalkit.metrics import get_spec

    metric_directions = dict(metric_directions or {})
    if "method" not in df.columns:
        missing = [c for c in ("codec", "setting") if c not in df.columns]
        if missing:
            raise VoteDataError(f"the results table must have a 'method' column or 'codec' and "
                                f"'setting' columns; missing {missing}")
        method = df["codec"].astype(str) + "/" + df["setting"].astype(str)
    else:
        method = df["method"].astype(str)
    for col in ("image", "bpp"):
        if col not in df.columns:
            raise VoteDataError(f"the results table must have column {col!r}; columns present: "
                                f"{', '.join(map(str, df.columns))}")
    unknown = sorted(set(metric_directions) - set(df.columns))
    if unknown:
        raise VoteDataError(f"metric directions must name columns of the results table, got "
                            f"{unknown}")
    out = pd.DataFrame({"method": method.to_numpy(), "image": df["image"].astype(str).to_numpy(),
                        "bpp": pd.to_numeric(df["bpp"], errors="coerce").to_numpy()})
    directions: dict[str, bool] = {}
    ignored = []
    for col in df.columns:
        if col in NON_METRIC_COLUMNS or not pd.api.types.is_numeric_dtype(df[col]):
            continue
        if col in metric_directions:
            directions[col] = bool(metric_directions[col])
        else:
            try:
                directions[col] = bool(get_spec(col).higher_is_better)
            except MetricError:
                ignored.append(str(col))
                continue
        out[col] = pd.to_numeric(df[col], errors="coerce").to_numpy()
    return MetricResults(out, directions, tuple(ignored))


def load_results(path: str | Path, metric_directions: dict[str, bool] | None = None
                 ) -> MetricResults:
    return prepare_results(read_table(path), metric_directions)


def _item_key(vote_items, images) -> dict[str, str]:
    """Map vote items to result image names: exact names, else file stems."""
    images = set(map(str, images))
    items = set(map(str, vote_items))
    if items & images:
        return {i: i for i in items if i in images}
    by_stem = {Path(im).stem: im for im in images}
    return {i: by_stem[Path(i).stem] for i in items if Path(i).stem in by_stem}


def _pick(va: np.ndarray, vb: np.ndarray, higher: bool) -> np.ndarray:
    d = (va - vb) if higher else (vb - va)
    return np.where(np.isnan(d), "missing", np.where(d > 0, "a", np.where(d < 0, "b", "tie")))


def per_image_agreement(per_item: pd.DataFrame, results: MetricResults) -> pd.DataFrame:
    """Long table, one row per (comparison, image, metric): ``method_a, method_b, item, wins_a,
    wins_b, ties, human, metric, value_a, value_b, metric_pick, agrees`` (agrees is NA where
    the human or the metric has no preference or a value is missing)."""
    cols = ["method_a", "method_b", "item", "wins_a", "wins_b", "ties", "human", "metric",
            "value_a", "value_b", "metric_pick", "agrees"]
    if per_item.empty or not results.directions:
        return pd.DataFrame(columns=cols)
    key = _item_key(per_item["item"], results.table["image"])
    t = per_item.copy()
    t["human"] = np.where(t["wins_a"] > t["wins_b"], "a",
                          np.where(t["wins_b"] > t["wins_a"], "b", "tie"))
    t["image"] = t["item"].map(key)
    vals = results.table.groupby(["method", "image"])[list(results.directions)].mean()
    frames = []
    for metric, higher in results.directions.items():
        s = vals[metric]
        va = np.array([s.get((m, im), np.nan) if isinstance(im, str) else np.nan
                       for m, im in zip(t["method_a"], t["image"])], float)
        vb = np.array([s.get((m, im), np.nan) if isinstance(im, str) else np.nan
                       for m, im in zip(t["method_b"], t["image"])], float)
        pick = _pick(va, vb, higher)
        judged = (t["human"].to_numpy() != "tie") & np.isin(pick, ["a", "b"])
        agrees = pd.array(np.where(judged, pick == t["human"].to_numpy(), False), dtype="boolean")
        agrees[~judged] = pd.NA
        frames.append(t.assign(metric=metric, value_a=va, value_b=vb, metric_pick=pick,
                               agrees=agrees))
    return pd.concat(frames, ignore_index=True).loc[:, cols]


def _summarise(long: pd.DataFrame, level: str, ci_level: float) -> list[dict]:
    rows = []
    for metric, g in long.groupby("metric", sort=False):
        human_tie = g["human"] == "tie"
        missing = g["metric_pick"] == "missing"
        metric_tie = g["metric_pick"] == "tie"
        judged = ~human_tie & ~missing & ~metric_tie
        agree = int((g.loc[judged, "metric_pick"] == g.loc[judged, "human"]).sum())
        n = int(judged.sum())
        lo, hi = wilson_interval(agree, n, ci_level)
        rows.append({"metric": metric, "level": level, "judged": n, "agree": agree,
                     "agreement": agree / n if n else np.nan, "ci_low": lo, "ci_high": hi,
                     "human_ties": int(human_tie.sum()), "metric_ties": int((metric_tie &
                                                                            ~human_tie).sum()),
                     "missing": int((missing & ~human_tie).sum())})
    return rows


def agreement_table(long: pd.DataFrame, directions: dict[str, bool],
                    ci_level: float = 0.95) -> pd.DataFrame:
    """Summary per metric at image level and comparison level (see module doc)."""
    if long.empty:
        return pd.DataFrame(columns=list(AGREEMENT_COLUMNS))
    rows = _summarise(long, "image", ci_level)
    # comparison level: pool the votes, average the metric over the images humans judged
    keys = ["metric", "method_a", "method_b"]
    comp = long.groupby(keys, sort=False).agg(wins_a=("wins_a", "sum"),
                                              wins_b=("wins_b", "sum")).reset_index()
    means = (long.dropna(subset=["value_a", "value_b"]).groupby(keys, sort=False)
             [["value_a", "value_b"]].mean().reset_index())
    comp = comp.merge(means, on=keys, how="left")
    comp["human"] = np.where(comp["wins_a"] > comp["wins_b"], "a",
                             np.where(comp["wins_b"] > comp["wins_a"], "b", "tie"))
    comp["metric_pick"] = "missing"
    for metric, idx in comp.groupby("metric", sort=False).groups.items():
        g = comp.loc[idx]
        comp.loc[idx, "metric_pick"] = _pick(g["value_a"].to_numpy(float),
                                             g["value_b"].to_numpy(float), directions[metric])
    rows += _summarise(comp, "comparison", ci_level)
    return pd.DataFrame(rows, columns=list(AGREEMENT_COLUMNS))
