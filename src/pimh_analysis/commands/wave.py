"""``pimh wave``: add a survey wave, list the waves, show what two waves share, regenerate the demo wave.

* ``pimh wave add EXPORT --wave NAME [--format csv|qualtrics|sav] [--map FILE] [--changes FILE]``
  validates the export (the report of ``pimh validate``), stops on errors, then copies it
  into ``data/raw/NAME/`` with its column map and a ``wave.yaml``, and adds the wave (and
  its comparison with the first wave, unless ``--no-compare``) to ``params.yaml``.  The
  next ``dvc repro`` (``make repro``) builds it.  On any failure nothing changes.
* ``pimh wave list``: the waves and comparisons in ``params.yaml``.
* ``pimh wave items BASE NEW``: the questions two waves share and those left out, with reasons.
* ``pimh wave demo``: regenerate the demo second wave (``data/raw/wave2demo/``) and the demo
  export under ``examples/demo-wave/``, byte for byte (``--add`` adds it as a new wave instead).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "wave", help="add a survey wave, list waves, compare codebook versions, regenerate the demo wave",
        description="Survey waves: each lives in data/raw/<wave>/ and is listed in params.yaml. "
        "See docs/NEW_WAVE.md.",
    )
    wsub = p.add_subparsers(dest="wave_command", required=True, metavar="ACTION")

    a = wsub.add_parser(
        "add", help="validate an export and add it as a new wave",
        description="Validate EXPORT with the same checks and report as `pimh validate` and stop on errors. "
        "Then copy it (and its column map) into data/raw/NAME/, write data/raw/NAME/wave.yaml and add NAME to "
        "params.yaml (waves, and a comparison with the first wave), keeping the file's comments and layout. "
        "If anything fails, data/raw and params.yaml are left as they were. Then run `make repro`.",
    )
    a.add_argument("export", type=Path, help="the survey export (canonical CSV, Qualtrics CSV or SPSS .sav)")
    a.add_argument("--wave", required=True, metavar="NAME",
                   help="name of the new wave: a letter, then letters, digits or underscores (e.g. wave2)")
    a.add_argument("--format", choices=("csv", "qualtrics", "sav"), default=None,
                   help="export format (default: guessed from the file; a CSV with --map is qualtrics)")
    a.add_argument("--map", type=Path, default=None, metavar="FILE",
                   help="column map onto the wave-1 codebook (Qualtrics exports); it may carry codebook_changes")
    a.add_argument("--changes", type=Path, default=None, metavar="FILE",
                   help="YAML of codebook_changes (questions dropped, reworded or added relative to wave 1); "
                   "default: the column map's codebook_changes")
    a.add_argument("--label", default=None, help="a human-readable label for the wave (default: its name)")
    a.add_argument("--replica", action="store_true", help="mark the wave as generated data, not real responses")
    a.add_argument("--no-compare", action="store_true",
                   help="do not add a comparison of the new wave with the first wave to params.yaml")
    a.add_argument("--limit", type=int, default=200,
                   help="cell problems shown in the validation report (0 = all; default 200)")
    a.set_defaults(func=run_add)

    ls = wsub.add_parser("list", help="the waves and comparisons in params.yaml")
    ls.set_defaults(func=run_list)

    it = wsub.add_parser("items", help="questions two waves share, and those left out with the reason",
                         description="Question by question: compared, compared with a flag (reworded, same "
                         "options), left out (dropped, filter dropped, options changed, free text, screening) or "
                         "new (added; not compared).")
    it.add_argument("base")
    it.add_argument("new")
    it.add_argument("--all", action="store_true", help="list the compared questions too")
    it.set_defaults(func=run_items)

    d = wsub.add_parser(
        "demo", help="regenerate the demo second wave and the demo export (byte for byte)",
        description="Regenerate data/raw/wave2demo/ (Qualtrics export, column map, wave.yaml) and "
        "examples/demo-wave/ (export and map) from src/pimh_analysis/resources/replica_wave2demo.yaml. "
        "The files are generated data with planted changes, not real responses.",
    )
    d.add_argument("--out", type=Path, default=None, metavar="DIR",
                   help="write under DIR instead of the repository (DIR/data/raw/wave2demo, DIR/examples/demo-wave)")
    d.add_argument("--add", action="store_true",
                   help="add the demo wave with `pimh wave add` (when data/raw/wave2demo does not exist yet)")
    d.set_defaults(func=run_demo)


def print_report(report, limit: int | None, stream=None) -> None:
    stream = stream or sys.stdout
    print(report.to_text(limit=limit or None), file=stream)


def run_add(args: argparse.Namespace) -> int:
    from .. import paths, waves

    try:
        result = waves.add_wave(args.export, args.wave, fmt=args.format, map_path=args.map,
                                changes_path=args.changes, label=args.label, replica=args.replica,
                                compare=not args.no_compare)
    except waves.WaveError as exc:
        print(f"error: {exc}", file=sys.stderr)
        print("nothing was added: data/raw and params.yaml are unchanged", file=sys.stderr)
        return 2
    print_report(result.report, args.limit)
    if not result.added:
        print(f"\nerror: {result.message}.", file=sys.stderr)
        print("Fix the export (or its column map) and run `pimh wave add` again; data/raw and params.yaml "
              "are unchanged.", file=sys.stderr)
        return 1
    print()
    print(f"added wave {result.wave!r}:")
    for f in result.files:
        print(f"  {f}")
    print(f"  params.yaml: waves += {result.wave}" + (f"; compare += {result.pair}" if result.pair else ""))
    wave = waves.load_wave(result.wave)
    if wave.changes:
        ch = wave.changes
        print(f"  codebook changes: {len(ch.dropped)} dropped, {len(ch.reworded)} reworded, {len(ch.added)} added "
              f"(see {paths.rel(wave.folder / waves.WAVE_YAML)})")
    print("\nnext: make repro   (builds the new wave's cleaning, tables, figures, models"
          + (" and the comparison" if result.pair else "") + "; other waves are not rebuilt)")
    return 0


def run_list(args: argparse.Namespace) -> int:
    from .. import waves

    params = waves.load_params()
    names = waves.params_waves(params)
    print(f"{len(names)} wave(s) in params.yaml:")
    for name in names:
        try:
            w = waves.load_wave(name)
            flags = ", ".join(f for f, on in (("replica", w.replica), ("published", w.published_reproduction)) if on)
            ch = w.changes
            changes = (f"; codebook changes: {len(ch.dropped)} dropped, {len(ch.reworded)} reworded, "
                       f"{len(ch.added)} added") if ch else ""
            print(f"  {name}: {w.label} [{w.format}: {w.file}{', ' + flags if flags else ''}]{changes}")
        except waves.WaveError as exc:
            print(f"  {name}: PROBLEM: {exc}")
    comps = waves.params_comparisons(params)
    print(f"{len(comps)} comparison(s):")
    for pair, (base, new) in comps.items():
        print(f"  {pair}: {base} -> {new}")
    problems = waves.check_params(params)
    for p in problems:
        print(f"problem: {p}", file=sys.stderr)
    return 1 if problems else 0


def run_items(args: argparse.Namespace) -> int:
    from .. import waves

    plan = waves.item_plan(waves.load_wave(args.base), waves.load_wave(args.new))
    shown = plan if args.all else plan[plan["status"] != waves.COMPARED]
    counts = plan["status"].value_counts()
    print(f"{args.base} vs {args.new}: " + ", ".join(f"{counts.get(s, 0)} {s}" for s in
          (waves.COMPARED, waves.COMPARED_FLAGGED, waves.LEFT_OUT, waves.NEW_NOT_COMPARED)))
    for rec in shown.itertuples():
        note = rec.reason or rec.flag
        print(f"  {rec.item_id:12} {rec.status:20} {note}")
    return 0


def run_demo(args: argparse.Namespace) -> int:
    import tempfile

    from .. import paths, waves
    from ..replica.waves import DEMO_NOTE, DemoSpec, write_demo_files

    demo = DemoSpec.load()
    if args.add:
        with tempfile.TemporaryDirectory(prefix="pimh-demo-wave-") as tmp:
            written = write_demo_files(Path(tmp), demo, wave_yaml=False)
            raw = written["raw"]
            result = waves.add_wave(raw["export"], demo.wave, fmt="qualtrics", map_path=raw["map"],
                                    label=demo.label, replica=True, note=DEMO_NOTE)
            if not result.added:
                print_report(result.report, 200)
                print(f"error: {result.message}", file=sys.stderr)
                return 1
            target = paths.root()
            for rel, src in written["example"].items():
                dest = target / demo.example["folder"] / src.name
                dest.parent.mkdir(parents=True, exist_ok=True)
                dest.write_bytes(src.read_bytes())
        print(f"added {demo.wave} with `pimh wave add` and wrote {demo.example['folder']}/")
        return 0
    root = args.out or paths.root()
    written = write_demo_files(root, demo)
    for group in ("raw", "example"):
        for path in written[group].values():
            print(f"wrote {paths.rel(path) if args.out is None else path}")
    return 0

