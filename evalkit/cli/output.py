"""Shared by verbs that print a text table or write it to ``--out`` with a provenance sidecar."""

from __future__ import annotations

import argparse

from evalkit.provenance import atomic_write_text, file_sha256, provenance, write_sidecar


def emit_text(text: str, args: argparse.Namespace, *, input_attr: str = "results") -> None:
    """Print ``text``, or write it atomically to ``args.out`` with ``<out>.json`` recording the
    command's settings and the sha256 of the input file named by ``args.<input_attr>``."""
    if not args.out:
        print(text, end="")
        return
    atomic_write_text(args.out, text)
    settings = {k: v for k, v in vars(args).items() if k != "func"}
    source = getattr(args, input_attr)
    write_sidecar(args.out, provenance(settings, inputs={str(source): file_sha256(source)}))
    print(f"wrote {args.out}")
