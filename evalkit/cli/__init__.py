"""The ``evalkit`` command: one entry point, one thin sub-parser per verb.

Each verb lives in its own module exposing ``add_parser(subparsers)``; the parser it adds sets
``func`` to a function ``run(args) -> int``.  Library errors (:class:`~evalkit.errors.EvalkitError`)
become a one-line message on stderr and exit status 1; only this module turns errors into exit
codes.  Verb modules keep heavy imports (torch, streamlit) inside ``run`` so ``--help`` is fast.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from evalkit import __version__
from evalkit.errors import EvalkitError

#: The module of every verb, in the order ``evalkit --help`` lists them.
VERB_MODULES: tuple[str, ...] = (
    "evalkit.cli.metrics_cmd",      # evalkit metrics
    "evalkit.cli.weights_cmd",      # evalkit weights status|fetch|import|convert-pim
    "evalkit.cli.evaluate_cmd",     # evalkit evaluate
    "evalkit.cli.rd_cmd",           # evalkit rd
    "evalkit.cli.bd_cmd",           # evalkit bd
    "evalkit.cli.table_cmd",        # evalkit table
    "evalkit.cli.ratecontrol_cmd",  # evalkit ratecontrol
    "evalkit.cli.crops_cmd",        # evalkit crops
    "evalkit.cli.compare_cmd",      # evalkit compare
    "baselines.cli",                # evalkit baseline, evalkit import-run
    "study_app.cli",                # evalkit study init|check|serve|export
    "reports.cli",                  # evalkit report
)


class _Parser(argparse.ArgumentParser):
    """argparse with usage errors on one line (exit status 2), like every other error; verbs'
    sub-parsers inherit it."""

    def error(self, message: str):  # noqa: D102 - argparse API
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="evalkit",
        description="Judge image codecs the way CLIC papers do: metrics, RD curves, BD-rate, "
                    "paper tables, blind A/B studies and reports.",
    )
    parser.add_argument("--version", action="version", version=f"evalkit {__version__}")
    sub = parser.add_subparsers(dest="verb", metavar="VERB")
    for mod_name in VERB_MODULES:
        importlib.import_module(mod_name).add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except EvalkitError as exc:
        msg = str(exc)
        print(f"evalkit {args.verb}: error: {msg}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("evalkit: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into e.g. `head`, which stopped reading
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # so the interpreter's final flush stays quiet
        return 141
    except OSError as exc:
        if exc.errno is None:  # not a fault of the file system or the machine: a bug, show it
            raise
        # The environment refused (full disk, permissions, a vanished file): one line naming
        # the file, as for any bad input.  Verbs that write check their outputs first; this
        # catches what no check can foresee.
        print(f"evalkit {args.verb}: error: {_os_fault(exc)}", file=sys.stderr)
        return 1


def _os_fault(exc: OSError) -> str:
    import errno

    where = " -> ".join(str(f) for f in (exc.filename, exc.filename2) if f) or "(no file name)"
    hint = {errno.ENOSPC: "free some space or write elsewhere",
            errno.EDQUOT: "free some space or write elsewhere",
            errno.EACCES: "check the permissions, or choose another path",
            errno.EPERM: "check the permissions, or choose another path",
            errno.EROFS: "choose a folder on a writable file system",
            errno.ENOENT: "check the path"}.get(exc.errno, "check the path and the file system")
    return f"{where}: {exc.strerror or exc}; {hint}"


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
