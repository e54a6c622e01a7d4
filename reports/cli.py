"""``evalkit report VOTES --out DIR``: the full report from votes (and optional metric results)."""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "report", help="report from pairwise votes (win rates, ranking, raters, metrics vs humans)",
        description="Turn pairwise votes (the study app's export, detected by its columns, or any "
                    "CSV through the mapping options) and optionally an `evalkit evaluate` "
                    "results table into report.md/.html, summary.json, CSV and LaTeX tables and "
                    "figures.",
        epilog="Example (mucped23, whose letter names the option NOT chosen):\n"
               "  evalkit report answers.csv --out rep --a methodA --b methodB "
               "--item originalName --answer answerValue --answer-a B --answer-b A "
               "--bpp elo.csv",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("votes", help="vote table (CSV or parquet)")
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--results", help="results table of `evalkit evaluate` (CSV or parquet); "
                   "must name voted methods (codec/setting or a method column)")
    p.add_argument("--bpp", metavar="FILE",
                   help="CSV/parquet with columns method,bpp (e.g. mucped23's elo.csv): each "
                        "method's rate for the ranking-vs-bpp figure and bitrate savings when "
                        "the votes come without a results table (wins over --results' bpp)")
    m = p.add_argument_group("column mapping (generic pairwise CSV; giving any of these "
                             "disables study-export detection)")
    m.add_argument("--a", help="column of the first method (default methodA)")
    m.add_argument("--b", help="column of the second method (default methodB)")
    m.add_argument("--item", help="column of the image/item (default originalName)")
    m.add_argument("--answer", help="column of the answer (default answerValue)")
    m.add_argument("--rater", help="column of the rater id (default: none, one pseudo-rater)")
    m.add_argument("--answer-a", help="comma-separated answer values meaning the --a method was "
                                      "chosen (required for any non-study CSV: there is no safe "
                                      "default, see mucped23)")
    m.add_argument("--answer-b", help="values meaning the --b method was chosen (required with "
                                      "--answer-a)")
    m.add_argument("--answer-tie", help="values meaning no preference (default tie,draw,none)")
    s = p.add_argument_group("statistics")
    s.add_argument("--tie-policy", choices=("exclude", "split"), default="exclude",
                   help="ties left out of win rates, or counted half for each side "
                        "(default exclude)")
    s.add_argument("--level", type=float, default=0.95, help="confidence level (default 0.95)")
    s.add_argument("--bootstrap", type=int, default=1000,
                   help="bootstrap resamples for ranking CIs (default 1000)")
    s.add_argument("--resample", choices=("both", "raters", "items"), default="both",
                   help="bootstrap units: raters and items (crossed, default; conservative "
                        "when raters/items have no effect), raters only or items only")
    s.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    s.add_argument("--model", choices=("bt", "thurstone"), default="bt",
                   help="bt: Bradley-Terry on the Elo scale; thurstone: Case V in JOD")
    s.add_argument("--max-golden-failures", type=int, default=0,
                   help="exclude raters failing more golden questions (default 0; -1: never)")
    s.add_argument("--min-votes", type=int, default=0,
                   help="exclude raters with fewer votes as incomplete (default 0: never)")
    s.add_argument("--exclude-rater", action="append", default=[], help="exclude a rater by id")
    s.add_argument("--metric-direction", action="append", default=[], metavar="NAME=higher|lower",
                   help="direction of a results column that is not a registered metric")
    s.add_argument("--family", action="append", default=[], metavar="METHOD=FAMILY",
                   help="codec family of a method for bitrate savings (default: codec of "
                        "codec/setting)")
    p.add_argument("--title", default="Pairwise preference study report")
    p.set_defaults(func=run)


def _pairs(items: list[str], what: str) -> dict[str, str]:
    from evalkit.errors import VoteDataError

    out = {}
    for it in items:
        k, sep, v = it.partition("=")
        if not sep or not k.strip() or not v.strip():
            raise VoteDataError(f"{what} must look like NAME=VALUE, got {it!r}")
        out[k.strip()] = v.strip()
    return out


def _columns(path: str) -> list[str]:
    """Column names of a CSV/parquet vote file (header only); [] when unreadable (the full
    read then reports the problem)."""
    from pathlib import Path

    import pandas as pd

    try:
        if Path(path).suffix.lower() in (".parquet", ".pq"):
            import pyarrow.parquet as pq

            return list(pq.read_schema(path).names)
        return [str(c) for c in pd.read_csv(path, nrows=0).columns]
    except Exception:  # noqa: BLE001 -- any read problem is reported by the real read
        return []


MUCPED23_COLUMNS = ("methodA", "methodB", "originalName", "answerValue")


def _require_answer_convention(args: argparse.Namespace) -> None:
    """A generic pairwise CSV must say which answer value means which method won: the same
    column names come with opposite conventions (mucped23's letter names the option NOT
    chosen), and a wrong guess silently inverts the ranking."""
    from evalkit.errors import VoteDataError
    from reports.votes import STUDY_COLUMNS

    if args.answer_a is not None and args.answer_b is not None:
        return
    cols = _columns(args.votes)
    if not cols:
        return  # unreadable or missing: the full read names the problem
    mapped = any(getattr(args, k) is not None for k in ("a", "b", "item", "answer", "rater",
                                                         "answer_tie", "answer_a", "answer_b"))
    if not mapped and set(STUDY_COLUMNS) <= set(cols):
        return  # a study export says who won by name
    hint = ""
    if set(MUCPED23_COLUMNS) <= set(cols):
        hint = (" These columns look like mucped23, whose letter names the option NOT chosen: "
                "--answer-a B --answer-b A.")
    raise VoteDataError(f"{args.votes} is a generic pairwise table, so its answer convention "
                        "must be explicit: give --answer-a VALUES (the --a method was chosen) "
                        "and --answer-b VALUES (the --b method was chosen)." + hint)


def run(args: argparse.Namespace) -> int:
    import sys

    from evalkit.errors import VoteDataError
    from reports.build import build_report
    from reports.exclusion import ExclusionPolicy
    from reports.votes import ColumnMapping

    _require_answer_convention(args)
    fields = {"a": args.a, "b": args.b, "item": args.item, "answer": args.answer,
              "rater": args.rater, "answer_a": args.answer_a, "answer_b": args.answer_b,
              "answer_tie": args.answer_tie}
    given = {k: v for k, v in fields.items() if v is not None}
    mapping = ColumnMapping(**given) if given else None
    directions = {}
    for k, v in _pairs(args.metric_direction, "--metric-direction").items():
        if v not in ("higher", "lower"):
            raise VoteDataError(f"--metric-direction value must be higher or lower, got {v!r}")
        directions[k] = v == "higher"
    policy = ExclusionPolicy(
        max_golden_failures=None if args.max_golden_failures < 0 else args.max_golden_failures,
        min_votes=args.min_votes, exclude_raters=tuple(args.exclude_rater))
    res = build_report(args.votes, args.out, mapping=mapping, results=args.results,
                       policy=policy, tie_policy=args.tie_policy, level=args.level,
                       n_boot=args.bootstrap, seed=args.seed, model=args.model,
                       resample=args.resample,
                       families=_pairs(args.family, "--family") or None,
                       metric_directions=directions or None, title=args.title,
                       progress=sys.stderr.isatty(), bpp=args.bpp)
    print(f"report written to {res.out_dir} ({len(res.files)} files): "
          f"{res.out_dir / 'report.html'}")
    return 0
