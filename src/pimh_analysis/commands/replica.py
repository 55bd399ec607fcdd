"""``pimh replica``: regenerate the shipped replica of the published survey wave."""

from __future__ import annotations

import argparse
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
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from .. import paths
    from ..replica import ReplicaSpec, generate, write_canonical

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
