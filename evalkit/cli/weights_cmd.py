"""``evalkit weights status|fetch|import|convert-pim``: manage pretrained weight files.

Resolution order, hashes and the offline workflow are described in :mod:`evalkit.weights`.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "weights", help="list, fetch and import pretrained weight files",
        description="Manage the pretrained files LPIPS, DISTS, FID and PIM need. Nothing is "
                    "ever downloaded implicitly: `fetch` is the only network access. Offline: "
                    "run `fetch` on a connected machine, copy the files over, then `import`.")
    verbs = p.add_subparsers(dest="weights_verb", metavar="ACTION")
    verbs.required = True

    st = verbs.add_parser("status", help="state of every catalogued file",
                          description="One row per catalogued file: present, missing or "
                                      "bad-hash, where it was found and which metrics need it; "
                                      "then the download URL of every file not present.")
    st.set_defaults(func=run_status)

    fe = verbs.add_parser("fetch", help="download files (all when no NAME is given)",
                          description="Download catalogued files with a progress bar, verify "
                                      "their sha256 and move them into the weights directory.")
    fe.add_argument("names", nargs="*", metavar="NAME",
                    help="catalog names or official file names (see `evalkit weights status`)")
    fe.add_argument("--dir", default=None,
                    help="destination (default: $EVALKIT_WEIGHTS_DIR or ~/.cache/evalkit/weights)")
    fe.set_defaults(func=run_fetch)

    im = verbs.add_parser("import", help="copy official files into the weights directory",
                          description="Copy files recognised by their official file name into "
                                      "the weights directory after verifying their sha256. "
                                      "Nothing is copied if any file is unknown or bad.")
    im.add_argument("files", nargs="+", metavar="FILE")
    im.add_argument("--dir", default=None, help="destination (default: the weights directory)")
    im.set_defaults(func=run_import)

    cp = verbs.add_parser("convert-pim", help="convert an official PIM checkpoint archive",
                          description="Convert an official PIM (TensorFlow) checkpoint archive "
                                      "into the PyTorch file evalkit loads.")
    cp.add_argument("archive", metavar="ARCHIVE")
    cp.add_argument("--out", default=None, help="output directory (default: the weights directory)")
    cp.set_defaults(func=run_convert_pim)


def run_status(args: argparse.Namespace) -> int:
    from evalkit.weights import status, weights_dir
    from evalkit.weights.catalog import CATALOG

    rows = status()
    made_from = {made: e for e in CATALOG.values() for made in e.makes}
    header = ("name", "file", "state", "path", "metrics")
    table = [header] + [(r.name, r.filename, r.state, r.path, r.metrics) for r in rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(header) - 1)]
    for row in table:
        print("  ".join(f"{c:<{w}}" for c, w in zip(row, widths)) + "  " + row[-1])
    missing = [r for r in rows if r.state != "present"]
    print(f"\nweights directory: {weights_dir()}  ({len(rows) - len(missing)}/{len(rows)} present)")
    if missing:  # what to download on a connected machine (then `evalkit weights import`)
        print("\nto download (then `evalkit weights import FILE...`):")
        width = max(len(r.filename) for r in missing)
        for r in missing:
            source = made_from.get(r.name)
            if source is not None:  # made locally (e.g. a converted PIM), not downloaded
                print(f"  {r.filename:<{width}}  made from {source.filename} by "
                      f"`evalkit weights convert-pim {source.filename}`")
            else:
                print(f"  {r.filename:<{width}}  {r.url}")
    return 0


def run_fetch(args: argparse.Namespace) -> int:
    from evalkit.weights import fetch

    for path in fetch(args.names or None, dest_dir=args.dir):
        print(f"ok  {path}")
    return 0


def run_import(args: argparse.Namespace) -> int:
    from evalkit.weights import import_files

    for path in import_files(args.files, dest_dir=args.dir):
        print(f"imported  {path}")
    return 0


def run_convert_pim(args: argparse.Namespace) -> int:
    from evalkit.errors import EvalkitError

    try:
        from evalkit.pim.convert import convert_archive
    except ImportError as exc:
        raise EvalkitError(f"PIM conversion is not available in this installation "
                           f"(cannot import evalkit.pim.convert: {exc})") from exc
    out = convert_archive(Path(args.archive), out_dir=Path(args.out) if args.out else None)
    print(f"converted  {out}")
    return 0
