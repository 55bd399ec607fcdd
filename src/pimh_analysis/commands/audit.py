"""``pimh audit``: the reproduction audit's summary and the numbers that do not reproduce.

By default it reads the audit the pipeline wrote (``reports/tables/reproduction_audit.csv``);
``--recompute`` reruns the audit from the processed data of ``--wave`` (and ``--write``
saves it).  It exits 0 whatever the audit found: non-reproduced numbers are findings
about the report, not failures of the package.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "audit",
        help="summarise the reproduction audit (counts by status, non-reproduced numbers)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--audit-file", type=Path, default=None,
                   help="audit CSV to read or write (default reports/tables/reproduction_audit.csv)")
    p.add_argument("--recompute", action="store_true",
                   help="recompute the audit from the processed data instead of reading the CSV")
    p.add_argument("--wave", default="wave1", help="wave whose processed data --recompute uses (default wave1)")
    p.add_argument("--register", type=Path, default=None,
                   help="published-results register (default: the packaged resources/published_register.csv)")
    p.add_argument("--primary-rule", default="half_up",
                   choices=["half_up", "half_even", "half_down", "truncate"],
                   help="rounding rule that defines 'reproduced' with --recompute (default half_up)")
    p.add_argument("--write", action="store_true", help="with --recompute: also write the audit CSV")
    p.add_argument("--all", action="store_true", help="also list not_published rows")
    p.set_defaults(func=run)


def _wrap(text: str, indent: int = 19, width: int = 110) -> str:
    import textwrap

    pad = " " * indent
    parts = [p.strip() for p in str(text).split(" || ") if p.strip()]
    return "\n".join(textwrap.fill(p, width=width, initial_indent=pad, subsequent_indent=pad + "  ") for p in parts)


def run(args: argparse.Namespace) -> int:
    from .. import audit, paths

    if args.recompute:
        register_df = audit.load_register(args.register)
        for issue in audit.validate_register(register_df, audit.display_path(args.register or paths.register_file())):
            print(f"warning: {issue}")
        df = audit.audit_wave(args.wave, register_df, primary_rule=args.primary_rule)
        if args.write:
            audit.write_audit(df, args.audit_file)
        df = df.astype(object).where(df.notna(), "").astype(str)
        source = f"recomputed from data/processed/{args.wave} (primary rule {args.primary_rule})"
    else:
        path = args.audit_file or audit.default_audit_file()
        df = audit.read_audit(path)
        source = audit.display_path(path)

    summary = audit.summarise(df)
    print(f"Reproduction audit: {source}")
    print(f"{summary['total']} register entries")
    width = max(len(s) for s in audit.STATUSES)
    for status in audit.STATUSES:
        print(f"  {status:<{width}}  {summary[status]:>4}")

    rows = audit.not_reproduced(df, include_not_published=args.all)
    if rows.empty:
        print("\nEvery published number reproduces.")
        return 0
    print(f"\nNot reproduced ({len(rows)}):")
    for status in audit.STATUSES:
        part = rows[rows["status"] == status]
        if part.empty:
            continue
        print(f"\n[{status}]")
        for r in part.to_dict("records"):
            pub = r.get("published", "") or "-"
            unit = r.get("unit", "")
            rec = r.get("recomputed", "") or "-"
            frac = ""
            if str(r.get("numerator", "")) not in ("", "nan", "<NA>") and str(r.get("denominator", "")) not in ("", "nan", "<NA>") \
                    and r.get("statistic") in ("percent", "verbal"):
                frac = f" ({r['numerator']}/{r['denominator']})"
            print(f"  {r['id']:<16} published {pub}{'%' if unit == '%' and pub != '-' else ''}"
                  f"  recomputed {rec}{frac}")
            reason = r.get("note", "")
            if reason:
                print(_wrap(reason))
    return 0
