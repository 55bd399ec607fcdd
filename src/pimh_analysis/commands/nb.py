"""``pimh nb``: keep notebooks reproducible.

* ``pimh nb scrub PATH...``  remove run timings and other volatile content from
  papermill-executed notebooks (files or folders), so reruns are byte-identical;
* ``pimh nb strip PATH...``  clear outputs and execution counts of source notebooks;
* ``pimh nb check-clean [PATH...]``  exit 1, listing them, if any notebook under
  ``notebooks/`` (or the given paths) has outputs or execution counts.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _show(path: Path) -> str:
    from .. import paths

    try:
        return paths.rel(path)
    except FileNotFoundError:  # outside a repository
        return str(path)


def _rewrite(args: argparse.Namespace, action) -> int:
    from .. import notebooks

    try:
        files = list(notebooks.iter_notebooks(args.paths))
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for path in files:
        changed = action(path)
        if args.verbose or changed:
            print(f"{args.nb_command}: {_show(path)}{'' if changed else ' (unchanged)'}")
    return 0


def _scrub(args: argparse.Namespace) -> int:
    from .. import notebooks

    return _rewrite(args, notebooks.scrub_file)


def _strip(args: argparse.Namespace) -> int:
    from .. import notebooks

    return _rewrite(args, notebooks.strip_file)


def _check_clean(args: argparse.Namespace) -> int:
    from .. import notebooks, paths

    targets = args.paths or [d for d in [paths.notebooks_dir()] if d.is_dir()]
    try:
        files = list(notebooks.iter_notebooks(targets))
        unclean = notebooks.check_clean(files)
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not unclean:
        print(f"check-clean: {len(files)} notebook(s) carry no outputs or execution counts")
        return 0
    print(f"check-clean: {len(unclean)} of {len(files)} notebook(s) carry outputs or execution counts:")
    for path, cells in unclean.items():
        print(f"  {_show(path)}")
        for cell in cells:
            print(f"    {cell}")
    print("fix with: pimh nb strip " + " ".join(_show(p) for p in unclean))
    return 1


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "nb",
        help="scrub executed notebooks, strip or check source notebooks",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="nb_command", required=True, metavar="ACTION")

    scrub = sub.add_parser("scrub", help="remove timings and volatile metadata from executed notebooks")
    scrub.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="notebook files or folders")
    scrub.add_argument("-v", "--verbose", action="store_true", help="also list notebooks left unchanged")
    scrub.set_defaults(func=_scrub)

    strip = sub.add_parser("strip", help="clear outputs and execution counts of source notebooks")
    strip.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="notebook files or folders")
    strip.add_argument("-v", "--verbose", action="store_true", help="also list notebooks left unchanged")
    strip.set_defaults(func=_strip)

    check = sub.add_parser("check-clean", help="exit 1 if source notebooks carry outputs or execution counts")
    check.add_argument("paths", nargs="*", type=Path, metavar="PATH", help="default: notebooks/")
    check.set_defaults(func=_check_clean)
