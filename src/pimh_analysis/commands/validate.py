"""``pimh validate PATH``: check a survey export (or a .qdpx) against the codebook before cleaning.

Reports file-level problems first (encoding, header, delimiter, empty file,
duplicate respondent ids, columns missing from or unknown to the codebook),
then one row per cell problem (file, line in the file, respondent id, column,
codebook variable, rule, offending value, expected), then counts by rule.
Exit status: 0 when the file is valid (warnings allowed), 1 when it has
errors or cannot be read; never a traceback.  ``--json`` prints the same
report as JSON on stdout.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

FORMATS = ("csv", "qualtrics", "sav", "qdpx")


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "validate",
        help="check a survey export against the codebook (exit 0 valid, 1 invalid)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("path", type=Path, help="the file to check")
    p.add_argument("--format", dest="fmt", choices=FORMATS, default=None,
                   help="file format (default: guessed from the extension and first lines)")
    p.add_argument("--map", dest="column_map", type=Path, default=None,
                   help="Qualtrics column map (YAML); default: the map generated from the codebook")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--limit", type=int, default=200,
                   help="cell problems to print in the text report (0 = all; default 200)")
    p.add_argument("--min-progress", type=int, default=None,
                   help="also treat unfinished responses below this progress as excluded by cleaning")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..errors import FILE_LEVEL, InputIssue
    from ..validate import ValidationReport, validate_file, validate_interviews_qdpx

    path: Path = args.path
    name = str(path)
    if not path.exists() or not path.is_file():
        report = ValidationReport(name, args.fmt or "unknown", 0, [InputIssue(
            file=name, line=None, rule="file_not_found", message="no such file", level=FILE_LEVEL,
            expected="an existing file")])
    elif args.column_map is not None and not args.column_map.is_file():
        report = ValidationReport(name, args.fmt or "qualtrics", 0, [InputIssue(
            file=name, line=None, rule="column_map", message=f"column map {args.column_map} not found",
            level=FILE_LEVEL, expected="an existing YAML column map")])
    else:
        try:
            from ..readers import sniff_format

            fmt = args.fmt or sniff_format(path)
            if fmt == "qdpx":
                report = validate_interviews_qdpx(path, file=name)
            else:
                report = validate_file(path, fmt, args.column_map, file=name, min_progress=args.min_progress)
        except (MemoryError, KeyboardInterrupt):
            raise
        except Exception as exc:  # a reader bug must still give a report, not a traceback
            report = ValidationReport(name, args.fmt or "unknown", 0, [InputIssue(
                file=name, line=None, rule="internal_error",
                message=f"the file could not be checked ({type(exc).__name__}: {exc})", level=FILE_LEVEL)])
    if args.json:
        sys.stdout.write(report.to_json())
    else:
        sys.stdout.write(report.to_text(limit=None if args.limit == 0 else args.limit))
    return 0 if report.ok else 1
