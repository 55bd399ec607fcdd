"""``pimh site build`` / ``pimh site verify``: the reviewer's site and the provenance manifest.

``build`` writes ``reports/provenance.json`` and ``reports/site/`` (the last
pipeline stage).  ``verify`` checks, after ``dvc repro``, that every file in
``reports/tables`` and ``reports/figures`` is in the manifest and that the
manifest's hashes and parameters equal those in ``dvc.lock`` (exit 1 if not).
"""

from __future__ import annotations

import argparse
import sys


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("site", help="build or verify the static site and provenance manifest",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="site_command", required=True, metavar="ACTION")
    b = sub.add_parser("build", help="write reports/provenance.json and reports/site/")
    b.add_argument("--no-notebooks", action="store_true", help="skip rendering executed notebooks (faster previews)")
    b.add_argument("--strict", action="store_true", help="exit 1 when the manifest has warnings")
    b.set_defaults(func=_build)
    v = sub.add_parser("verify", help="compare reports/provenance.json with dvc.lock and reports/")
    v.set_defaults(func=_verify)


def _build(args: argparse.Namespace) -> int:
    from .. import paths, site

    from dvc.exceptions import DvcException

    try:
        result = site.build_site(notebooks=not args.no_notebooks)
    except DvcException as exc:
        print(f"error: cannot read the DVC pipeline: {exc}", file=sys.stderr)
        return 1
    print(f"site: {len(result.pages)} files in {paths.rel(result.site_dir)}; open {paths.rel(result.site_dir / 'index.html')}")
    for w in result.warnings:
        print(f"warning: {w}", file=sys.stderr)
    return 1 if (args.strict and result.warnings) else 0


def _verify(args: argparse.Namespace) -> int:
    from .. import paths, provenance

    if not paths.provenance_file().is_file():
        print("error: reports/provenance.json does not exist; run `pimh site build` (or `make site`)", file=sys.stderr)
        return 1
    manifest = provenance.load_manifest()
    problems = provenance.compare_with_lock(manifest)
    problems += [f"{f}: not in the provenance manifest" for f in provenance.missing_outputs(manifest)]
    current = {f: provenance.file_md5(paths.root() / f) for f in manifest["outputs"] if (paths.root() / f).is_file()}
    problems += [f"{f}: md5 in the manifest differs from the file" for f, md5 in sorted(current.items())
                 if manifest["outputs"][f]["md5"] != md5]
    problems += [f"{f}: in the manifest but absent" for f in sorted(set(manifest["outputs"]) - set(current))]
    for p in problems:
        print(p)
    print(f"site verify: {len(manifest['outputs'])} outputs; {len(problems)} problem(s)")
    return 1 if problems else 0
