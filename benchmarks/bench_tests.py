"""Benchmark 4: wall time of ``make test`` with the environment already set up.

``make test`` brings the pipeline up to date (a no-op here) and runs pytest (unit and
pipeline tests, nbval over the executed notebooks; two xdist workers, see
pyproject.toml).  It runs in the checkout, ``runs`` times; a failing run is reported,
not hidden.
"""

from __future__ import annotations

import os
import re
import subprocess
import time

from common import ROOT, log, summary

OUTCOME = re.compile(r"=+ (.*?) in ([0-9.]+)s")


def run(runs: int) -> dict:
    walls, outcomes, returncodes = [], [], []
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS")}
    for r in range(runs):
        start = time.perf_counter()
        proc = subprocess.run(["make", "test"], cwd=ROOT, env=env, capture_output=True, text=True)
        wall = time.perf_counter() - start
        found = OUTCOME.findall(proc.stdout)
        outcome = found[-1][0] if found else "no pytest summary"
        walls.append(wall)
        outcomes.append(outcome)
        returncodes.append(proc.returncode)
        log(f"tests: make test run {r + 1}/{runs}: {wall:.1f} s ({outcome}; exit {proc.returncode})")
        if proc.returncode:
            tail = "\n".join(proc.stdout.splitlines()[-30:])
            log(f"tests: make test failed:\n{tail}")
    return {"wall_seconds": summary(walls, 1), "outcomes": outcomes, "exit_codes": returncodes,
            "passed_every_run": all(rc == 0 for rc in returncodes)}
