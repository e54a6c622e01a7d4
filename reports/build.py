"""``build_report``: votes (+ optional metric results) -> every report file in one directory.

Three phases, each returning data:

1. :func:`compute_report` -- every statistic, as one frozen :class:`ReportData` (no file written);
2. :func:`document` + :func:`render_files` -- the report blocks (figures drawn into a scratch
   folder) and the text/bytes of every output file, in memory;
3. :func:`write_files` -- each file written atomically (:func:`evalkit.provenance.atomic_target`),
   only after phases 1 and 2 succeeded, so bad input leaves nothing behind.

Files written to ``out_dir``:

``report.md``, ``report.html`` (self-contained, figures embedded), ``summary.json``,
``comparisons.csv``, ``ranking.csv``, ``per_image.csv``, ``raters.csv`` and with a results table
``metric_agreement.csv``, ``metric_vs_human_per_image.csv``, ``bitrate_savings.csv``;
LaTeX booktabs tables ``table_*.tex``; figures ``*.png`` + ``*.pdf``; a provenance sidecar
``<file>.json`` beside each CSV.  CSV text cells are formula-safe
(:func:`evalkit.textsafe.csv_safe_frame`).
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from evalkit.evaluate.annotations import STAND_IN_NOTE, stand_in_used
from evalkit.provenance import (
    atomic_write_bytes,
    atomic_write_text,
    file_sha256,
    provenance,
    sidecar_path,
    sidecar_text,
)
from evalkit.table_render import csv_text
from reports import figures
from reports.agreement import krippendorff_alpha, rater_table
from reports.bitrate import MethodBpp, bitrate_view, family_of, read_bpp_file
from reports.counts import check_level, check_tie_policy, comparison_table, per_item_table, to_jsonable
from reports.exclusion import ExclusionPolicy, apply_policy
from reports.matching import check_results_match
from reports.metric_agreement import MetricResults, agreement_table, per_image_agreement, prepare_results
from reports.position import PositionBias, position_bias
from reports.ranking import Ranking, rank_methods
from reports.render import Figure, Heading, Para, Table, to_html, to_latex, to_markdown
from reports.votes import NO_RATER, ColumnMapping, canonical_votes, read_table

TITLE = "Pairwise preference study report"


@dataclass(frozen=True)
class ReportResult:
    out_dir: Path
    files: tuple[str, ...]
    comparisons: pd.DataFrame = field(repr=False)
    ranking: Ranking | None = field(repr=False)
    raters: pd.DataFrame = field(repr=False)
    alpha: dict = field(repr=False)
    agreement: pd.DataFrame | None = field(repr=False)
    summary: dict = field(repr=False)


@dataclass(frozen=True)
class ReportData:
    """Everything a report shows, computed by :func:`compute_report` (phase 1).

    Attributes:
        summary: the ``summary.json`` document (inputs, counts, settings, provenance...).
        comparisons: :data:`reports.counts.COMPARISON_COLUMNS` (+ ``sentence``), one row per pair.
        per_item: included votes per comparison and image.
        ranking: Bradley-Terry / Thurstone fit with bootstrap CIs; None without a decided vote.
        raters: per-rater view.
        alpha: Krippendorff's alpha record.
        results: prepared metric results (None without a results table).
        agreement: metric-vs-human agreement (None without results).
        agreement_per_image: per-image agreement, long format (None without results).
        savings: bitrate savings at equal score (None without a rate or ranking).
        bpp: each method's rate (None without results or a bpp file).
        savings_note: why there is no savings table ("" when there is one).
        families: method -> codec family given by the caller (None: ``codec`` of ``codec/setting``).
    """

    summary: dict = field(repr=False)
    comparisons: pd.DataFrame = field(repr=False)
    per_item: pd.DataFrame = field(repr=False)
    ranking: Ranking | None = field(repr=False)
    raters: pd.DataFrame = field(repr=False)
    alpha: dict = field(repr=False)
    results: MetricResults | None = field(repr=False)
    agreement: pd.DataFrame | None = field(repr=False)
    agreement_per_image: pd.DataFrame | None = field(repr=False)
    savings: pd.DataFrame | None = field(repr=False)
    bpp: MethodBpp | None = field(repr=False)
    families: dict[str, str] | None = None
    savings_note: str | None = None

    @property
    def level(self) -> float:
        return self.summary["level"]

    def csv_tables(self) -> dict[str, pd.DataFrame]:
        """``{file stem: table}`` of the CSV outputs."""
        out = {"comparisons": self.comparisons.drop(columns=["sentence"]),
               "per_image": self.per_item, "raters": self.raters}
        if self.ranking is not None:
            out["ranking"] = self.ranking.table
        if self.agreement is not None:
            out["metric_agreement"] = self.agreement
            out["metric_vs_human_per_image"] = self.agreement_per_image
        if self.savings is not None:
            out["bitrate_savings"] = self.savings
        return out


def _source(obj, what: str) -> tuple[pd.DataFrame, dict]:
    if isinstance(obj, pd.DataFrame):
        return obj, {"what": what, "path": None, "sha256": None, "rows": len(obj)}
    df = read_table(obj)
    return df, {"what": what, "path": str(obj), "sha256": file_sha256(obj), "rows": len(df)}


def _pct(level: float) -> str:
    return f"{round(level * 100, 2):g}%"


def build_report(votes, out_dir, *, mapping: ColumnMapping | None = None, results=None,
                 policy: ExclusionPolicy | None = None, tie_policy: str = "exclude",
                 level: float = 0.95, n_boot: int = 1000, seed: int = 0, model: str = "bt",
                 families: dict[str, str] | None = None,
                 metric_directions: dict[str, bool] | None = None,
                 saving_pairs: list[tuple[str, str]] | None = None, resample: str = "both",
                 title: str = TITLE, progress: bool = False, bpp=None) -> ReportResult:
    """Build the full report.  ``votes``/``results``: a path (CSV/parquet) or a raw DataFrame;
    ``mapping``: how a generic pairwise CSV maps (None: study export, detected by its columns);
    ``families``: method -> codec family for the bitrate savings (default: ``codec`` of
    ``codec/setting``); ``seed``: numpy Generator seed of the bootstrap (recorded); ``bpp``:
    a ``method,bpp`` file (or :class:`reports.bitrate.MethodBpp`) giving each method's rate
    when the votes come without a results table (it wins over the results table's bpp).
    The other arguments are those of :func:`compute_report`."""
    data = compute_report(votes, mapping=mapping, results=results, policy=policy,
                          tie_policy=tie_policy, level=level, n_boot=n_boot, seed=seed,
                          model=model, families=families, metric_directions=metric_directions,
                          saving_pairs=saving_pairs, resample=resample, progress=progress,
                          bpp=bpp)
    with tempfile.TemporaryDirectory(prefix="evalkit-report-figures-") as scratch:
        blocks = document(data, Path(scratch))
        contents = render_files(data, blocks, title, Path(scratch))
    files = write_files(contents, out_dir)
    return ReportResult(Path(out_dir), files, data.comparisons, data.ranking, data.raters,
                        data.alpha, data.agreement, data.summary)


def compute_report(votes, *, mapping: ColumnMapping | None = None, results=None,
                   policy: ExclusionPolicy | None = None, tie_policy: str = "exclude",
                   level: float = 0.95, n_boot: int = 1000, seed: int = 0, model: str = "bt",
                   families: dict[str, str] | None = None,
                   metric_directions: dict[str, bool] | None = None,
                   saving_pairs: list[tuple[str, str]] | None = None, resample: str = "both",
                   progress: bool = False, bpp=None) -> ReportData:
    """Phase 1: read and validate the inputs and compute every statistic (nothing written)."""
    check_tie_policy(tie_policy)
    check_level(level)
    policy = policy or ExclusionPolicy()
    raw, vote_src = _source(votes, "votes")
    canon = canonical_votes(raw, mapping)
    res: MetricResults | None = None
    stand_in = False
    sources = [vote_src]
    if results is not None:
        rdf, res_src = _source(results, "metric results")
        res = prepare_results(rdf, metric_directions)
        check_results_match(res.table, canon, vote_src["path"], res_src["path"])
        stand_in = stand_in_used(rdf)
        sources.append(res_src)
    if bpp is not None and not isinstance(bpp, MethodBpp):
        path, bpp = bpp, read_bpp_file(bpp)
        sources.append({"what": "bpp per method", "path": str(path), "sha256": file_sha256(path),
                        "rows": len(bpp.bpp)})

    policed = apply_policy(canon, policy)
    comps = comparison_table(policed, tie_policy, level)
    per_item = per_item_table(policed)
    kept = policed[~policed["excluded"]]
    side = position_bias(policed, level)
    decided_any = kept["winner"].isin(["a", "b"]).any() or (
        tie_policy == "split" and (kept["winner"] == "tie").any())
    ranking = (rank_methods(policed, model=model, tie_policy=tie_policy, level=level,
                            n_boot=n_boot, seed=seed, resample=resample,
                            progress=progress) if decided_any else None)
    raters = rater_table(canon, policed)
    alpha = krippendorff_alpha(policed)
    long = agreement = None
    if res is not None:
        long = per_image_agreement(per_item, res)
        agreement = agreement_table(long, res.directions, level)
    bpp, savings, savings_note = bitrate_view(res, canon, ranking, bpp_file=bpp,
                                              families=families, saving_pairs=saving_pairs)
    counts = {
        "rows": int(len(canon)), "golden": int(canon["is_golden"].sum()),
        "votes": int(len(policed)), "excluded": int(policed["excluded"].sum()),
        "included": int(len(kept)), "ties_included": int((kept["winner"] == "tie").sum()),
        "raters": int(canon["rater"].nunique()), "items": int(policed["item"].nunique()),
        "methods": int(len(set(policed["method_a"]) | set(policed["method_b"]))),
        "comparisons": int(len(comps)),
        "excluded_reasons": {str(k): int(v) for k, v in
                             policed.loc[policed["excluded"], "exclusion_reason"]
                             .value_counts().items()},
    }
    settings = {"tie_policy": tie_policy, "level": level, "n_boot": n_boot, "seed": seed,
                "model": model, "resample": resample, "exclusion_policy": policy.as_dict(),
                "mapping": None if mapping is None else {
                    k: v for k, v in mapping.__dict__.items()},
                "metric_directions": metric_directions or {}, "families": families or {}}
    prov = provenance(settings, inputs=sources)
    if stand_in:
        prov["note"] = f"metric values {STAND_IN_NOTE}"
    summary = {
        "inputs": sources, "counts": counts, "tie_policy": tie_policy, "level": level,
        "exclusion_policy": policy.describe(),
        "comparisons": [to_jsonable(r) for r in comps.drop(columns=["n"]).to_dict("records")],
        "ranking": None if ranking is None else {
            "model": model, "scale": ranking.scale, "level": level, "n_boot": n_boot,
            "seed": seed, "resampled": ranking.resampled, "connected": ranking.connected,
            "prior_precision": ranking.prior,
            "methods": to_jsonable(ranking.table.to_dict("records"))},
        "position_bias": None if side is None else side.as_dict(),
        "krippendorff_alpha": to_jsonable(alpha),
        "metric_agreement": None if agreement is None else to_jsonable(
            agreement.to_dict("records")),
        "no_rater": bool((canon["rater"] == NO_RATER).all()),
        "ignored_result_columns": [] if res is None else list(res.ignored),
        "stand_in_weights": stand_in,
        "bitrate": None if bpp is None else {
            "bpp": bpp.note(), "images": bpp.images, "dropped_images": bpp.dropped,
            "savings_note": savings_note},
        "provenance": prov,
    }

    return ReportData(summary, comps, per_item, ranking, raters, alpha, res, agreement, long,
                      savings, bpp, families, savings_note)


def render_files(data: ReportData, blocks: list, title: str, fig_dir: Path) -> dict[str, str | bytes]:
    """Phase 2b: ``{file name: content}`` of every output (figures read from ``fig_dir``)."""
    prov = data.summary["provenance"]
    out: dict[str, str | bytes] = {}
    for name, df in data.csv_tables().items():
        df = df.copy()
        if "excluded_reasons" in df:
            df["excluded_reasons"] = df["excluded_reasons"].map(json.dumps)
        out[f"{name}.csv"] = csv_text(df)
        note = data.savings_note if name == "bitrate_savings" and data.savings_note else None
        out[sidecar_path(f"{name}.csv").name] = sidecar_text({**prov, "note": note} if note
                                                             else prov)
    for b in blocks:
        if isinstance(b, Table):
            out[f"table_{b.name}.tex"] = to_latex(b)
    out["summary.json"] = json.dumps(data.summary, indent=2, default=str) + "\n"
    out["report.md"] = to_markdown(blocks, title)
    out["report.html"] = to_html(blocks, title)
    for p in sorted(fig_dir.iterdir()):
        out[p.name] = p.read_bytes()
    return out


def write_files(contents: dict[str, str | bytes], out_dir) -> tuple[str, ...]:
    """Phase 3: write every file into ``out_dir`` atomically; returns the sorted names."""
    out_dir = Path(out_dir)
    for name, content in contents.items():
        if isinstance(content, bytes):
            atomic_write_bytes(out_dir / name, content)
        else:
            atomic_write_text(out_dir / name, content)
    return tuple(sorted(contents))


def document(data: ReportData, fig_dir: Path) -> list:
    """Phase 2a: the report as blocks (:mod:`reports.render`); figures are drawn into
    ``fig_dir``."""
    return (_data_section(data) + _comparisons_section(data, fig_dir)
            + _ranking_section(data, fig_dir) + _per_image_section(data, fig_dir)
            + _raters_section(data) + _metrics_section(data, fig_dir)
            + _provenance_section(data))


def _data_section(data: ReportData) -> list:
    summary = data.summary
    c, lvl = summary["counts"], summary["level"]
    no_rater = " (no rater column)" if c["raters"] == 1 and summary["no_rater"] else ""
    blocks: list = [Heading("Data"), Para(
        f"{c['votes']} votes on {c['comparisons']} comparisons of {c['methods']} methods over "
        f"{c['items']} images by {c['raters']} rater(s){no_rater}; {c['golden']} golden "
        f"question(s) (never counted as votes); {c['excluded']} vote(s) excluded"
        + (f" ({'; '.join(f'{k}: {v}' for k, v in c['excluded_reasons'].items())})"
           if c["excluded_reasons"] else "") + f"; {c['included']} included, of which "
        f"{c['ties_included']} tie(s).")]
    for s in summary["inputs"]:
        blocks.append(Para(f"Input ({s['what']}): {s['path'] or 'in-memory table'}, "
                           f"{s['rows']} rows"
                           + (f", sha256 {s['sha256']}" if s["sha256"] else "")))
    tie_text = ("ties are excluded from win rates (reported separately)"
                if summary["tie_policy"] == "exclude" else "each tie counts half for each side")
    blocks.append(Para(f"Exclusion policy: {summary['exclusion_policy']} Tie policy: {tie_text}. "
                       f"Confidence level: {_pct(lvl)}. P-values are two-sided exact binomial "
                       f"sign tests; the sentences quote unadjusted p, and the table adds p_holm, "
                       f"Holm-Bonferroni adjusted over all {len(data.comparisons)} comparisons."))
    return blocks


def _comparisons_section(data: ReportData, fig_dir: Path) -> list:
    comps, lvl = data.comparisons, data.level
    blocks: list = [Heading("Pairwise comparisons")]
    top = comps.sort_values("votes", ascending=False, kind="stable")
    if len(comps) > 25:
        blocks.append(Para(f"The {25} comparisons with the most votes (all {len(comps)} "
                           f"sentences are in summary.json):"))
    for s in top["sentence"].head(25):
        blocks.append(Para(s))
    show = comps[["method_a", "method_b", "votes", "excluded", "decided", "ties", "wins_a",
                  "wins_b", "win_rate", "ci_low", "ci_high", "p_value", "p_holm"]]
    blocks.append(Table("comparisons", f"Pairwise comparisons: win rate of method_a "
                        f"({_pct(lvl)} Wilson CI, tie policy: {data.summary['tie_policy']}).",
                        show, max_rows=60))
    blocks += _figure(figures.win_rate_figure(comps, lvl, fig_dir),
                      "Win rates of the most-voted comparisons with Wilson CIs.")
    if data.summary["position_bias"] is not None:
        blocks.append(Para(PositionBias(**data.summary["position_bias"]).sentence()))
    return blocks


def _ranking_section(data: ReportData, fig_dir: Path) -> list:
    ranking, lvl = data.ranking, data.level
    blocks: list = [Heading("Ranking")]
    if ranking is None:
        return blocks + [Para("No ranking: there is no decided vote.")]
    unit = "Elo" if ranking.model == "bt" else "JOD"
    blocks.append(Para(
        f"Model: {'Bradley-Terry' if ranking.model == 'bt' else 'Thurstone Case V'} by "
        f"maximum likelihood; scale {ranking.scale}. CIs: {_pct(lvl)} percentile bootstrap, "
        f"{ranking.n_boot} resamples of {ranking.resampled}, numpy seed {ranking.seed}"
        + (" (crossed bootstrap: conservative when raters or items have no real effect)"
           if ranking.resampled == "raters and items" else "") + ". "
        f"n_votes counts the votes entering the fit. Weak Gaussian prior precision "
        f"{ranking.prior:g} keeps scores finite."
        + ("" if ranking.connected else " WARNING: the comparison graph is not connected; "
           "scores of different components are not comparable.")))
    score_digits = 1 if unit == "Elo" else 3
    blocks.append(Table("ranking", f"Ranking ({unit}, {_pct(lvl)} bootstrap CI).",
                        ranking.table, digits={"score": score_digits, "ci_low": score_digits,
                                               "ci_high": score_digits}))
    blocks += _figure(figures.ranking_figure(ranking.table, ranking.scale, lvl, fig_dir),
                      f"Ranking with {_pct(lvl)} bootstrap CIs.")
    bpp = data.bpp
    if bpp is not None:
        fam = {m: family_of(m, data.families) for m in ranking.methods}
        blocks += _figure(figures.score_vs_bpp_figure(ranking.table, bpp.bpp, fam,
                                                      ranking.scale, lvl, fig_dir),
                          f"Score vs bits per pixel, per codec family ({bpp.note()}).")
        if bpp.dropped:
            blocks.append(Para(f"Bits per pixel: {bpp.note()}."))
        if data.summary["bitrate"]["savings_note"]:
            blocks.append(Para("No bitrate saving table: "
                               f"{data.summary['bitrate']['savings_note']}."))
    if data.savings is not None and len(data.savings):
        blocks.append(Table("bitrate_savings", "Bitrate saving of `test` against "
                            f"`reference` at equal {unit} score (negative = fewer bits), "
                            f"{_pct(lvl)} bootstrap CI.", data.savings, digits={"saving_pct": 1}))
    return blocks


def _per_image_section(data: ReportData, fig_dir: Path) -> list:
    blocks: list = [Heading("Per image")]
    blocks += _figure(figures.per_image_figure(data.per_item, fig_dir),
                      "Per-image preference (share of votes) for the most-voted comparisons.")
    blocks.append(Table("per_image", "Included votes per comparison and image.", data.per_item,
                        max_rows=40))
    return blocks


def _raters_section(data: ReportData) -> list:
    a = data.alpha
    return [Heading("Raters"),
            Table("raters", "Per-rater view (circular triads: inconsistent preference cycles "
                  "within one image).", data.raters, max_rows=60),
            Para("Krippendorff's alpha (nominal, units = image x pair): "
                 + (f"{a['alpha']:.3f}" if np.isfinite(a["alpha"]) else "n/a")
                 + f" over {a['pairable_units']} unit(s) judged by two or more of "
                 f"{a['raters']} rater(s)" + (f"; {a['note']}" if a["note"] else "") + ".")]


def _metrics_section(data: ReportData, fig_dir: Path) -> list:
    res, lvl = data.results, data.level
    if res is None:
        return []
    blocks: list = [Heading("Metrics vs humans")]
    stand_in = data.summary.get("stand_in_weights")
    if stand_in:
        blocks.append(Para(f"WARNING: the metric values were {STAND_IN_NOTE}."))
    if res.ignored:
        blocks.append(Para("Result columns ignored (direction unknown; give one with "
                           f"--metric-direction): {', '.join(res.ignored)}."))
    if not res.directions:
        return blocks + [Para("The results table has no metric column: no agreement table.")]
    blocks.append(Table("metric_agreement", f"2AFC agreement of each metric with the human "
                        f"majority ({_pct(lvl)} Wilson CI).", data.agreement))
    blocks += _figure(figures.metric_agreement_figure(
        data.agreement, lvl, fig_dir,
        note="stand-in weights: not comparable" if stand_in else None),
                      "Per-image agreement of metrics with the human majority.")
    long = data.agreement_per_image
    dis = long[long["agrees"].eq(False).fillna(False).astype(bool)] if long is not None \
        else pd.DataFrame()
    if len(dis):
        blocks.append(Table("metric_disagreements", "Images where a metric prefers the "
                            "reconstruction humans did not.", dis, max_rows=40))
    return blocks


def _provenance_section(data: ReportData) -> list:
    prov = data.summary["provenance"]
    versions = ", ".join(f"{k} {v}" for k, v in prov["packages"].items() if v)
    return [Heading("Provenance"), Para(f"Built {prov['created']} with Python "
                                        f"{prov['python']} on {prov['platform']}; {versions}.")]


def _figure(paths: list[str], caption: str) -> list:
    if not paths:
        return []
    pdf = next((p for p in paths if p.endswith(".pdf")), "")
    return [Figure(caption, paths[0], pdf)]
