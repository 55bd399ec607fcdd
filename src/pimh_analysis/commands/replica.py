"""``pimh replica``: regenerate the shipped replica of the published survey wave.

With ``--respondents N`` it writes a benchmark file instead: ``N`` respondents
resampled item by item from the replica's kept respondents
(:mod:`pimh_analysis.replica.scale`), a benchmarking device, not a replica of anything.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

WAVE_YAML = """\
# Wave metadata read by the pipeline (notebooks/01-clean-survey.ipynb).
label: "Sp HV PIMH survey, published wave (replica)"
format: csv
file: survey.csv
replica: true
published_reproduction: true
note: >-
  Respondent-level replica rebuilt by `pimh replica` from the report's published
  aggregates and documented assumptions (src/pimh_analysis/resources/replica_assumptions.yaml).
  It is not the study's data; associations between items are artefacts of the generator.
"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "replica",
        help="regenerate the replica survey file (data/raw/wave1/survey.csv)",
        description="Rebuild respondent-level replica data from the report's published aggregates. "
        "The same seed gives a byte-identical file. The replica is not the study's data.",
    )
    p.add_argument("--seed", type=int, default=None, help="random seed (default: the seed in the replica specification)")
    p.add_argument("--out", type=Path, default=None, help="output folder (default: data/raw/wave1)")
    p.add_argument("--spec", type=Path, default=None, help="replica specification YAML (default: the packaged one)")
    p.add_argument("--respondents", type=int, default=None, metavar="N",
                   help="write a benchmark file of N respondents resampled from the replica's kept respondents "
                   "(skip logic kept; not a replica of anything) to OUT/survey.csv; needs --out")
    p.set_defaults(func=run)


SCALE_WAVE_YAML = """\
# Benchmark file written by `pimh replica --respondents {n} --seed {seed}`.
label: "Benchmark file: {n} respondents resampled from the replica (not a replica of anything)"
format: csv
file: survey.csv
replica: true
published_reproduction: false
note: >-
  {note}
"""


def run_scale(args: argparse.Namespace) -> int:
    from ..replica import ReplicaSpec
    from ..replica.scale import DEFAULT_SCALE_SEED, NOTE, scale_batches
    from ..writers import write_canonical_batches

    if args.out is None:
        print("error: --respondents needs --out (the folder to write survey.csv into)", file=sys.stderr)
        return 2
    if args.respondents < 1:
        print(f"error: --respondents must be at least 1, not {args.respondents}", file=sys.stderr)
        return 2
    seed = DEFAULT_SCALE_SEED if args.seed is None else args.seed
    spec = ReplicaSpec.load(args.spec)
    path = write_canonical_batches(scale_batches(args.respondents, seed, spec=spec), args.out / "survey.csv")
    wave_yaml = args.out / "wave.yaml"
    if not wave_yaml.exists():
        wave_yaml.write_text(SCALE_WAVE_YAML.format(n=args.respondents, seed=seed, note=NOTE), encoding="utf-8")
    size = path.stat().st_size / 1e6
    print(f"wrote {path}: {args.respondents} respondents ({size:.1f} MB), seed {seed}; a benchmark file, "
          "not a replica of anything")
    return 0


def run(args: argparse.Namespace) -> int:
    from .. import paths
    from ..replica import ReplicaSpec, generate, write_canonical

    if args.respondents is not None:
        return run_scale(args)
    spec = ReplicaSpec.load(args.spec)
    out_dir = args.out or paths.wave_raw_dir("wave1")
    df = generate(spec, seed=args.seed)
    path = write_canonical(df, out_dir / "survey.csv")
    wave_yaml = out_dir / "wave.yaml"
    if not wave_yaml.exists():
        wave_yaml.write_text(WAVE_YAML, encoding="utf-8")
    seed = spec.seed if args.seed is None else args.seed
    kept = int((df["status"] == "IP Address").sum())
    print(f"wrote {paths.rel(path)}: {len(df)} raw rows ({kept} with a live status), seed {seed}")
    return 0
