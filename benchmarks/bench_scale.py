"""Benchmark 3: survey scale.

Canonical survey files of each size are written by ``pimh replica --respondents N``
(:mod:`pimh_analysis.replica.scale`: the replica's kept respondents resampled item by
item; a benchmarking device) into ``benchmarks/.work/scale/n<N>/`` and kept there while
the generator is unchanged.  For each size, ``runs`` times and side by side, two fresh
processes (``scale_worker.py``):

* the floor: pyarrow's CSV reader on the same file, every column a string;
* the package: ``readers.read_survey`` -> ``validate.validate_read`` ->
  ``clean.clean_survey(long_table=False)`` -> ``tables.build_tables`` (the 17
  descriptive tables), each step timed.

Cleaning runs without the long table (``items_long``: one row per respondent and
answer column, about 316 million rows at a million respondents, which the package
writes for the pipeline's 34-respondent waves but is not meant for survey files of
that size).  Peak memory is each process's maximum resident set size (``wait4``).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import BIN, ROOT, WORK, log, snapshot_src, summary

SIZES = (10_000, 100_000, 1_000_000)
SEED = 1
GENERATOR_SOURCES = ("src/pimh_analysis/replica/scale.py", "src/pimh_analysis/replica/generate.py",
                     "src/pimh_analysis/writers.py", "src/pimh_analysis/resources/codebook.yaml",
                     "src/pimh_analysis/resources/replica_assumptions.yaml")
WORKER = Path(__file__).with_name("scale_worker.py")
STEPS = ("read", "validate", "clean", "tables")


def generator_stamp(n: int) -> str:
    h = hashlib.sha256(f"{n}:{SEED}".encode())
    for rel in GENERATOR_SOURCES:
        h.update((ROOT / rel).read_bytes())
    return h.hexdigest()


def survey_file(n: int, env: dict) -> tuple[Path, float | None]:
    """The benchmark file of ``n`` respondents (regenerated when the generator changed), and the seconds it took."""
    folder = WORK / "scale" / f"n{n}"
    path, stamp = folder / "survey.csv", folder / "stamp"
    if path.is_file() and stamp.is_file() and stamp.read_text() == generator_stamp(n):
        return path, None
    folder.mkdir(parents=True, exist_ok=True)
    stamp.unlink(missing_ok=True)
    log(f"scale: writing {n:,} respondents with pimh replica --respondents")
    start = time.perf_counter()
    subprocess.run([str(BIN / "pimh"), "replica", "--respondents", str(n), "--seed", str(SEED), "--out", str(folder)],
                   check=True, capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - start
    stamp.write_text(generator_stamp(n))
    return path, seconds


def run_worker(mode: str, path: Path, env: dict) -> dict:
    """Run the worker in a fresh process, reaped with ``wait4``: its JSON plus its own peak memory (bytes)."""
    with tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen([sys.executable, str(WORKER), mode, str(path)], stdout=subprocess.PIPE, stderr=err,
                                text=True, cwd=ROOT, env=env)
        out = proc.stdout.read()
        _pid, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode:
            err.seek(0)
            raise RuntimeError(f"scale worker {mode} {path} failed ({proc.returncode}):\n{err.read()[-3000:]}")
    result = json.loads(out.strip().splitlines()[-1])
    result["peak_bytes"] = int(usage.ru_maxrss) * 1024
    return result


def run(runs: int, sizes=SIZES) -> dict:
    src = snapshot_src(WORK / "scale" / "src")  # the code measured, immune to edits of the checkout meanwhile
    env = {**os.environ, "PYTHONPATH": str(src)}
    rows = []
    for n in sizes:
        path, gen_seconds = survey_file(n, env)
        floors, packages = [], []
        for r in range(runs):
            f = run_worker("floor", path, env)
            p = run_worker("package", path, env)
            if p["rows"] != n or not p["valid"] or p["kept"] != n:
                raise RuntimeError(f"scale {n}: unexpected result {p}")
            floors.append(f)
            packages.append(p)
            total = sum(p[s] for s in STEPS)
            log(f"scale: {n:,} run {r + 1}/{runs}: " + ", ".join(f"{s} {p[s]:.2f} s" for s in STEPS)
                + f" = {total:.2f} s; pyarrow read {f['read']:.2f} s; ratio {total / f['read']:.2f}; "
                f"peak {p['peak_bytes'] / 1e9:.2f} GB (pyarrow {f['peak_bytes'] / 1e9:.2f} GB)")
        totals = [sum(p[s] for s in STEPS) for p in packages]
        row = {
            "respondents": n,
            "file_mb": round(path.stat().st_size / 1e6, 1),
            "generate_seconds": None if gen_seconds is None else round(gen_seconds, 1),
            "pyarrow_read_seconds": summary([f["read"] for f in floors], 3),
            "steps_seconds": {s: summary([p[s] for p in packages], 3) for s in STEPS},
            "total_seconds": summary(totals, 3),
            "ratio_to_pyarrow_read": summary([t / f["read"] for t, f in zip(totals, floors)], 3),
            "peak_gb": summary([p["peak_bytes"] / 1e9 for p in packages], 3),
            "pyarrow_peak_gb": summary([f["peak_bytes"] / 1e9 for f in floors], 3),
            "tables": packages[0]["n_tables"], "table_cells": packages[0]["cells"],
        }
        rows.append(row)
    growth = []
    for a, b in zip(rows, rows[1:]):
        ta, tb = a["total_seconds"]["median"], b["total_seconds"]["median"]
        growth.append({
            "from": a["respondents"], "to": b["respondents"],
            "time_factor": round(tb / ta, 2),
            "respondent_factor": b["respondents"] / a["respondents"],
            "exponent": round(math.log(tb / ta) / math.log(b["respondents"] / a["respondents"]), 3),
            "memory_factor": round(b["peak_gb"]["median"] / a["peak_gb"]["median"], 2),
        })
    return {"sizes": rows, "growth": growth, "seed": SEED,
            "long_table": "not built (clean_survey(long_table=False)); see benchmarks/bench_scale.py"}
