"""``pimh disclosure-check``: small cells in released tables, and k-anonymity of respondents.

Exit codes
----------
0  no small cell in any table that is to be *released*.  Small cells in tables
   that reproduce the published report (the wave whose ``wave.yaml`` says
   ``published_reproduction: true``, and the groups in
   ``disclosure.published_groups``: ``audit``, ``interviews``) are still listed,
   marked "already public, kept": the report printed them, so suppressing them
   would only stop the reproduction from matching the report.
1  at least one count below ``min_cell`` (or a percentage on such a base) in a
   table to be released (any other wave, a wave comparison, or a CSV outside
   ``reports/tables`` and ``reports/figures``).  In the pipeline this stops ``dvc repro`` before the
   site is built, so a new wave cannot be published with identifying cells.
   With ``--fail-on-k``, also when some respondents sit in a quasi-identifier
   class smaller than ``k`` (off by default: the respondent table itself is
   never released; the k-anonymity figures are a risk indicator for
   cross-tabulations).
2  the check could not run (unreadable file, missing quasi-identifier column,
   bad arguments).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

EPILOG = __doc__[__doc__.index("Exit codes"):]


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "disclosure-check",
        help="flag small cells in released tables; k-anonymity of the respondent table",
        description="Flag every released count below disclosure.min_cell and every percentage whose base is "
                    "below it; report k-anonymity over the quasi-identifiers of the cleaned respondent table.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("paths", nargs="*", metavar="PATH",
                   help="table CSVs or folders (default: reports/tables and reports/figures, whose *.data.csv are released too)")
    p.add_argument("--min-cell", type=int, default=None, help="threshold (default: params.yaml disclosure.min_cell)")
    p.add_argument("--k", type=int, default=None, help="k for k-anonymity (default: params.yaml disclosure.k)")
    p.add_argument("--respondents", action="append", type=Path, default=None, metavar="FILE",
                   help="cleaned respondent table(s) (.parquet/.csv); default: data/processed/*/respondents.*")
    p.add_argument("--qi", action="append", default=None, metavar="COLUMN",
                   help="quasi-identifier column (repeat; default: params.yaml disclosure.quasi_identifiers, "
                        "else age band, region, pay band, years in role, job title)")
    p.add_argument("--json", type=Path, default=None, metavar="OUT", help="also write the report as JSON")
    p.add_argument("--fail-on-k", action="store_true", help="exit 1 when some class is smaller than k")
    p.add_argument("--quiet", action="store_true",
                   help="do not list the (kept) small cells of the published reproduction one by one; "
                        "small cells in tables for release are always listed")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from .. import disclosure, paths
    from ..errors import InputError

    params = disclosure.load_params()
    min_cell = args.min_cell if args.min_cell is not None else params["min_cell"]
    k = args.k if args.k is not None else params["k"]
    if min_cell < 1 or k < 1:
        print("error: --min-cell and --k must be at least 1", file=sys.stderr)
        return 2
    targets = [Path(p) for p in args.paths] or [p for p in (paths.tables_dir(), paths.figures_dir()) if p.is_dir()]
    try:
        reports = disclosure.check_paths(targets, min_cell, params["published_groups"])
        resp_files = args.respondents if args.respondents is not None else disclosure.default_respondent_files()
        kanon = []
        for f in resp_files:
            if not Path(f).is_file():
                print(f"error: respondent table {f} does not exist", file=sys.stderr)
                return 2
            df = disclosure.read_respondents(Path(f))
            qi = disclosure.resolve_quasi_identifiers(df.columns, args.qi or params["quasi_identifiers"] or None)
            kanon.append(disclosure.k_anonymity(df, qi, k, file=paths.rel(f)))
    except InputError as exc:
        print("error: the input cannot be used:", file=sys.stderr)
        for issue in exc.issues:
            print(f"  {issue}", file=sys.stderr)
        return 2
    except KeyError as exc:
        print(f"error: {exc.args[0]}", file=sys.stderr)
        return 2

    published = [f for r in reports for f in r.findings if r.status == "published"]
    release = [f for r in reports for f in r.findings if r.status == "release"]
    if published:
        print(f"Small cells in tables reproducing the published report (already public, kept): {len(published)}")
        if not args.quiet:
            for f in published:
                print(f"  {f}")
    if release:  # always listed in full, also with --quiet
        print(f"SMALL CELLS IN TABLES FOR RELEASE (suppress or merge them): {len(release)}")
        for f in release:
            print(f"  {f}")
    for ka in kanon:
        print(ka)
    if not kanon:
        print("k-anonymity: no cleaned respondent table found (data/processed/<wave>/respondents.*); not computed")
    k_fail = any(ka.respondents_below_k for ka in kanon)
    print(
        f"disclosure-check: min_cell={min_cell}, k={k}: {len(reports)} tables; "
        f"{len(published)} small cells in published-reproduction tables (kept); "
        f"{len(release)} in tables for release"
    )
    if args.json:
        payload = {
            "min_cell": min_cell,
            "k": k,
            "summary": {
                "tables_checked": len(reports),
                "tables_for_release": sum(r.status == "release" for r in reports),
                "small_cells_published": len(published),
                "small_cells_release": len(release),
                "respondents_below_k": {ka.file: ka.respondents_below_k for ka in kanon},
            },
            "tables": [
                {"file": r.file, "group": r.group, "status": r.status, "findings": [f.as_dict() for f in r.findings]}
                for r in reports
            ],
            "k_anonymity": [ka.as_dict() for ka in kanon],
        }
        from ..outputs import save_json

        save_json(payload, args.json)
    if release:
        return 1
    if args.fail_on_k and k_fail:
        return 1
    return 0
