"""``evalkit study init|check|serve|export``: the blind A/B study from the command line."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from evalkit.errors import StudyError


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("study", help="blind A/B study: init, check, serve, export",
                              description="Blind A/B study of codec outputs with a vote database.")
    sub = p.add_subparsers(dest="study_verb", metavar="ACTION", required=True)

    i = sub.add_parser("init", help="write a starter study file from refs/runs folders",
                       description="Write a starter TOML study comparing every pair of methods.")
    i.add_argument("--refs", required=True, help="folder of originals")
    i.add_argument("--runs", required=True, help="folder of runs/<codec>/<setting>/")
    i.add_argument("--out", required=True, help="study file to write (e.g. study.toml)")
    i.add_argument("--name", default=None, help="study name (default: the file's stem)")
    i.add_argument("--methods", nargs="+", default=None, metavar="CODEC/SETTING",
                   help="methods to compare pairwise (default: every one found)")
    i.add_argument("--seed", type=int, default=None, help="study seed (default: random, recorded)")
    i.add_argument("--force", action="store_true", help="overwrite an existing file")
    i.set_defaults(func=run_init)

    c = sub.add_parser("check", help="validate a study file against its folders")
    c.add_argument("study", help="study TOML file")
    c.set_defaults(func=run_check)

    s = sub.add_parser("serve", help="start the Streamlit study app",
                       description="Check the study, create the vote tables and start the app.")
    s.add_argument("study", help="study TOML file")
    s.add_argument("--db", default=None,
                   help="database URL: sqlite:///FILE or postgresql://user:pw@host/db "
                        "(default: <study>.votes.sqlite beside the study file)")
    s.add_argument("--port", type=int, default=8501)
    s.add_argument("--address", default="127.0.0.1",
                   help="interface to listen on (0.0.0.0 to accept remote raters)")
    s.set_defaults(func=run_serve)

    e = sub.add_parser("export", help="write one row per vote to CSV",
                       description="Export votes (documented columns) plus a .json provenance sidecar.")
    e.add_argument("--db", required=True, help="database URL or SQLite file")
    e.add_argument("--out", required=True, help="CSV file to write")
    e.add_argument("--study", default=None, help="only this study (default: all in the DB)")
    e.add_argument("--choices", default=None, metavar="CSV",
                   help="also write the adaptive design's choices and their state (one row per "
                        "chosen trial; design = \"adaptive\" studies)")
    e.set_defaults(func=run_export)


def run_init(args) -> int:
    import tomli_w

    from evalkit.layout import discover_runs
    from evalkit.provenance import atomic_write_text
    from study_app.definition import load_study, parse_study
    from study_app.starter import starter_study

    out = Path(args.out)
    if out.exists() and not args.force:
        raise StudyError(f"--out must not exist (use --force to overwrite), got {out}")
    entries, _ = discover_runs(args.refs, args.runs)
    found = sorted({e.method for e in entries})
    methods = args.methods or found
    unknown = [m for m in methods if m not in found]
    if unknown:
        raise StudyError(f"--methods must be among {found}, got {unknown}")
    # images every chosen method has (what `study check` will find)
    have = [{e.image for e in entries if e.method == m} for m in methods]
    n_images = len(set.intersection(*have)) if have else 0
    if n_images == 0:
        raise StudyError(f"--runs must hold reconstructions of at least one image common to "
                         f"{methods}, got none under {args.runs}")

    def rel(p: str) -> str:
        return os.path.relpath(Path(p).resolve(), out.resolve().parent)

    data = starter_study(args.name or out.stem, rel(args.refs), rel(args.runs), methods,
                         n_images=n_images, seed=args.seed)
    parse_study(data, out.resolve().parent)   # refuse (e.g. a bad name) before writing
    text = ("# evalkit blind A/B study -- edit, then: evalkit study check " + out.name + "\n"
            + tomli_w.dumps(data, multiline_strings=True))
    atomic_write_text(out, text)
    defn = load_study(out)   # the written file must read back
    print(f"wrote {out}: {len(defn.comparisons)} comparisons among {len(methods)} methods, "
          f"{n_images} images, {defn.trials_per_rater} trials per rater ({defn.n_golden} golden)")
    return 0


def run_check(args) -> int:
    from study_app.definition import load_study
    from study_app.design import stimulus_cycle
    from study_app.study_check import check_capacity, check_study

    defn = load_study(args.study)
    check = check_study(defn)
    cycle = stimulus_cycle(defn, check.sizes)
    check_capacity(defn, len(cycle))
    per_comp = len(cycle) // len(defn.comparisons)
    print(f"study {defn.name}: OK")
    print(f"  {len(check.images)} images, {len(defn.comparisons)} comparisons, "
          f"{per_comp} stimuli per comparison, {len(cycle)} in all")
    print(f"  {defn.trials_per_rater} trials per rater ({defn.n_golden} golden), seed {defn.seed}")
    raters = -(-len(cycle) // defn.n_regular)
    print(f"  {raters} raters give every stimulus one vote")
    for w in check.warnings:
        print(f"  warning: {w}")
    return 0


def streamlit_command(study: str, port: int, address: str) -> list[str]:
    app = Path(__file__).with_name("app.py")
    return [sys.executable, "-m", "study_app.server", str(app),
            "--server.port", str(port), "--server.address", address,
            "--server.headless", "true", "--browser.gatherUsageStats", "false",
            "--server.fileWatcherType", "none", "--server.runOnSave", "false",
            "--client.showErrorDetails", "none", "--client.toolbarMode", "minimal",
            "--global.developmentMode", "false", "--theme.base", "light",
            "--server.enableAgentApi", "false"]   # no scripted driving of the page (bots)


def run_serve(args) -> int:
    from study_app.runtime import DB_ENV, STUDY_ENV, default_db_url, open_context
    from study_app.store_engine import redact

    study = str(Path(args.study).resolve())
    db = args.db or default_db_url(study)
    ctx = open_context(study, db)   # fail here, before starting a server, on any problem
    ctx.store.dispose()
    env = {**os.environ, STUDY_ENV: study, DB_ENV: db}
    root = str(Path(__file__).resolve().parents[1])   # the child imports study_app from here
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH", "")) if p)
    print(f"serving study {ctx.defn.name} on http://{args.address}:{args.port} "
          f"(votes: {redact(ctx.store.url)})", file=sys.stderr)
    proc = subprocess.Popen(streamlit_command(study, args.port, args.address), env=env)
    return supervise(proc)


def supervise(proc: subprocess.Popen) -> int:
    """Wait for the Streamlit child; SIGTERM/SIGINT/SIGHUP stop it (and then us) cleanly."""
    stopping: list[int] = []

    def stop(signum, _frame):
        stopping.append(signum)
        if proc.poll() is None:
            proc.terminate()

    old = {s: signal.signal(s, stop) for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)}
    try:
        while True:
            try:
                code = proc.wait(timeout=0.5)
                break
            except subprocess.TimeoutExpired:
                if stopping and _stopped_late(proc):
                    proc.kill()
    finally:
        for s, h in old.items():
            signal.signal(s, h)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    if stopping:
        print(f"evalkit study serve: stopped ({signal.Signals(stopping[0]).name})", file=sys.stderr)
        return 0
    return code


def _stopped_late(proc: subprocess.Popen, grace_s: float = 10.0) -> bool:
    import time

    start = getattr(proc, "_evalkit_stop_at", None)
    if start is None:
        proc._evalkit_stop_at = time.monotonic()
        return False
    return time.monotonic() - start > grace_s


def run_export(args) -> int:
    from study_app.export import export_votes

    df = export_votes(args.db, args.out, args.study)
    print(f"wrote {len(df)} votes to {args.out}")
    if args.choices:
        from study_app.adaptive_store import export_choices

        ch = export_choices(args.db, args.choices, args.study)
        print(f"wrote {len(ch)} adaptive choices to {args.choices}")
    return 0
