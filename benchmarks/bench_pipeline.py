"""Benchmarks 1 and 2: the full rebuild against its floor; no-op and incremental rebuilds.

Everything runs in a fresh-clone-like scratch copy (``benchmarks/.work/pipeline/repo``),
never in the checkout.

**1. Full rebuild against its floor.**  A warm-up ``dvc repro --force`` runs first (not
timed); an IPython start-up file records, in every pipeline kernel, the modules loaded
after start-up.  Their union, outside the standard library and the package itself, in
the order they were first loaded, is *the libraries the pipeline imports*; the floor
notebook imports exactly those, one cell, and does nothing else.  Then, ``runs`` times
and side by side: a timed ``dvc repro --force``, then as many papermill executions of
the floor notebook as the pipeline has papermill stages (same kernel, same options),
then three executions of a notebook with one trivial cell (the bare kernel, for
reference).  Each run gives the ratio *rebuild / floor*; the figure is the median
ratio.  Per-stage times come from the rebuild's log: each stage runs from its
``Running stage`` line to the next one (so DVC's own work after a stage, hashing and
lock updates, counts with that stage).

**2. No-op and incremental rebuilds.**  ``dvc repro`` on the up-to-date scratch copy
(several times), then a model parameter changed back and forth (each change one
timed ``dvc repro``), recording which stages reran.
"""

from __future__ import annotations

import json
import re
import shutil
import sys
import time
from pathlib import Path

import yaml

from common import BIN, ROOT, WORK, log, pipeline_env, run_streamed, run_timed, scratch_clone, summary

RUNNING = re.compile(r"^Running stage '([^']+)'")
KERNEL = "pimh-analysis"
PARAM_KEY = "barriers.ci_level"
PARAM_VALUES = (0.95, 0.9)
OUTPUT_DIRS = ("reports/tables", "reports/figures", "reports/notebooks", "reports/metrics")

CENSUS_STARTUP = '''\
# Written by benchmarks/bench_pipeline.py: record the modules each pipeline kernel loads.
import json as _json, os as _os, sys as _sys

_pimh_census_dir = _os.environ.get("PIMH_BENCH_CENSUS")
if _pimh_census_dir:
    _pimh_census_start = list(_sys.modules)

    def _pimh_census_dump(*_args, **_kwargs):
        path = _os.path.join(_pimh_census_dir, f"{_os.getpid()}.json")
        with open(path, "w") as fh:
            _json.dump({"start": _pimh_census_start, "end": list(_sys.modules)}, fh)

    get_ipython().events.register("post_run_cell", _pimh_census_dump)
'''

FLOOR_CELL = '''\
# The floor of the pipeline: import the libraries its kernels import (benchmarks/bench_pipeline.py), nothing else.
import importlib
import warnings

warnings.simplefilter("ignore")
MODULES = {modules!r}
failed = []
for name in MODULES:
    try:
        importlib.import_module(name)
    except Exception:
        failed.append(name)
'''


def notebook(source: str) -> dict:
    return {
        "cells": [{"cell_type": "code", "execution_count": None, "id": "c1", "metadata": {}, "outputs": [],
                   "source": source}],
        "metadata": {"kernelspec": {"display_name": "Python (pimh-analysis)", "language": "python", "name": KERNEL}},
        "nbformat": 4, "nbformat_minor": 5,
    }


def papermill_stages(root: Path) -> list[str]:
    """Stages whose command runs papermill (from dvc.lock, whose commands are resolved)."""
    lock = yaml.safe_load((root / "dvc.lock").read_text(encoding="utf-8"))
    return sorted(name for name, st in lock["stages"].items()
                  if re.search(r"(^|\s)papermill\s", str(st.get("cmd", ""))))


def stage_times(lines: list[tuple[float, str]], total: float) -> tuple[dict[str, float], float]:
    """``({stage: seconds}, seconds before the first stage)`` from a timestamped ``dvc repro`` log."""
    marks = [(t, m[1]) for t, text in lines if (m := RUNNING.match(text))]
    times = {}
    for i, (t, name) in enumerate(marks):
        end = marks[i + 1][0] if i + 1 < len(marks) else total
        times[name] = end - t
    return times, (marks[0][0] if marks else total)


def is_stdlib(name: str) -> bool:
    top = name.split(".")[0]
    return top in sys.stdlib_module_names or top in ("__main__", "__mp_main__")


def census_modules(folder: Path) -> tuple[list[str], int]:
    """The union of modules the kernels loaded after start-up (not stdlib, not the package), first-seen order."""
    seen: dict[str, None] = {}
    files = sorted(folder.glob("*.json"), key=lambda p: p.stat().st_mtime)
    for path in files:
        data = json.loads(path.read_text())
        start = set(data["start"])
        for name in data["end"]:
            if name in start or is_stdlib(name) or name.split(".")[0] == "pimh_analysis":
                continue
            seen.setdefault(name, None)
    return list(seen), len(files)


def papermill_cmd(nb: Path, out: Path) -> list[str]:
    return [str(BIN / "papermill"), str(nb), str(out), "-k", KERNEL, "--cwd", ".", "--no-progress-bar",
            "--log-level", "WARNING"]


def executions(nb: Path, k: int, root: Path, env: dict) -> float:
    """Seconds for ``k`` papermill executions of ``nb`` one after the other."""
    out = nb.with_suffix(".out.ipynb")
    start = time.perf_counter()
    for _ in range(k):
        run_timed(papermill_cmd(nb, out), cwd=root, env=env)
    return time.perf_counter() - start


def outputs_match(root: Path) -> list[str]:
    """Files under the output folders that differ from the checkout's (empty: identical)."""
    differ = []
    for d in OUTPUT_DIRS:
        for p in sorted((root / d).rglob("*")):
            if p.is_file():
                ref = ROOT / p.relative_to(root)
                if not ref.is_file() or ref.read_bytes() != p.read_bytes():
                    differ.append(p.relative_to(root).as_posix())
    return differ


def set_param(path: Path, dotted: str, value) -> None:
    from ruamel.yaml import YAML

    ry = YAML()
    ry.preserve_quotes = True
    doc = ry.load(path.read_text(encoding="utf-8"))
    node = doc
    *parents, last = dotted.split(".")
    for part in parents:
        node = node[part]
    node[last] = value
    with path.open("w", encoding="utf-8") as fh:
        ry.dump(doc, fh)


def run(runs: int) -> dict:
    base = WORK / "pipeline"
    base.mkdir(parents=True, exist_ok=True)
    root = scratch_clone(base / "repo")
    env = pipeline_env(root)
    dvc = str(BIN / "dvc")
    pm_stages = papermill_stages(root)
    k = len(pm_stages)

    # warm-up + census of the libraries the kernels import
    ipython_dir = base / "ipython"
    census = base / "census"
    for d in (ipython_dir, census):
        shutil.rmtree(d, ignore_errors=True)
    (ipython_dir / "profile_default" / "startup").mkdir(parents=True)
    (ipython_dir / "profile_default" / "startup" / "00-pimh-bench-census.py").write_text(CENSUS_STARTUP)
    census.mkdir()
    log(f"pipeline: warm-up dvc repro --force in {root.relative_to(ROOT)} (not timed; records the kernels' imports)")
    warm, _ = run_timed([dvc, "repro", "--force"], cwd=root,
                        env={**env, "IPYTHONDIR": str(ipython_dir), "PIMH_BENCH_CENSUS": str(census)})
    modules, kernels = census_modules(census)
    if kernels != k:
        raise RuntimeError(f"census saw {kernels} kernels, the pipeline has {k} papermill stages")
    floor_nb = base / "floor.ipynb"
    floor_nb.write_text(json.dumps(notebook(FLOOR_CELL.format(modules=modules)), indent=1) + "\n")
    bare_nb = base / "bare.ipynb"
    bare_nb.write_text(json.dumps(notebook("x = 1\n"), indent=1) + "\n")
    tops = sorted({m.split(".")[0] for m in modules})
    log(f"pipeline: warm-up {warm:.1f} s; {k} papermill stages; floor imports {len(modules)} modules of "
        f"{len(tops)} packages")

    rebuild, floor, bare, ratios, per_stage, startup = [], [], [], [], {}, []
    differ: list[str] = []
    for r in range(runs):
        total, lines = run_streamed([dvc, "repro", "--force"], cwd=root, env=env)
        times, before = stage_times(lines, total)
        for name, secs in times.items():
            per_stage.setdefault(name, []).append(secs)
        startup.append(before)
        differ = outputs_match(root)
        f = executions(floor_nb, k, root, env)
        b = executions(bare_nb, 3, root, env) / 3
        rebuild.append(total)
        floor.append(f)
        bare.append(b)
        ratios.append(total / f)
        log(f"pipeline: run {r + 1}/{runs}: rebuild {total:.1f} s, floor {f:.1f} s ({k} x {f / k:.2f} s), "
            f"ratio {total / f:.2f}; bare kernel {b:.2f} s")
    floor_each = [f / k for f in floor]
    stage_rows = []
    for name in sorted(per_stage, key=lambda n: -summary(per_stage[n])["median"]):
        s = summary(per_stage[name], 2)
        row = {"stage": name, "seconds": s["median"], "runs": s["runs"], "papermill": name in pm_stages}
        if name in pm_stages:
            row["above_floor"] = round(s["median"] - summary(floor_each)["median"], 2)
        stage_rows.append(row)
    result = {
        "rebuild_seconds": summary(rebuild, 2),
        "floor_seconds": summary(floor, 2),
        "floor_per_execution_seconds": summary(floor_each, 2),
        "bare_kernel_per_execution_seconds": summary(bare, 2),
        "ratio": summary(ratios, 3),
        "ratio_to_bare_kernels": round(summary(rebuild)["median"] / (k * summary(bare)["median"]), 3),
        "papermill_stages": k,
        "stages": len(per_stage),
        "dvc_before_first_stage_seconds": summary(startup, 2),
        "per_stage": stage_rows,
        "floor_modules": len(modules),
        "floor_packages": tops,
        "warmup_seconds": round(warm, 1),
        "outputs_identical_to_checkout": not differ,
        "outputs_differing": differ[:20],
    }
    result["incremental"] = incremental(root, env, max(runs, 5), runs)
    return result


def incremental(root: Path, env: dict, noop_runs: int, param_runs: int) -> dict:
    dvc = str(BIN / "dvc")
    noop = []
    for _ in range(noop_runs):
        secs, proc = run_timed([dvc, "repro"], cwd=root, env=env)
        if RUNNING.search(proc.stdout) or any(RUNNING.match(x) for x in proc.stdout.splitlines()):
            raise RuntimeError(f"the no-op repro ran stages:\n{proc.stdout}")
        noop.append(secs)
    log(f"incremental: no-op dvc repro {summary(noop)['median']:.2f} s (median of {noop_runs})")

    params = root / "params.yaml"
    original = yaml.safe_load(params.read_text())["barriers"]["ci_level"]
    values = [v for v in PARAM_VALUES if v != original][:1] + [original]
    times, reran = [], []
    for i in range(param_runs * 2):
        value = values[i % 2]
        set_param(params, PARAM_KEY, value)
        secs, lines = run_streamed([dvc, "repro"], cwd=root, env=env)
        ran = sorted(m[1] for _, text in lines if (m := RUNNING.match(text)))
        if i % 2 == 0:  # time the change away from the committed value; changing back restores the copy
            times.append(secs)
            reran.append(ran)
            log(f"incremental: {PARAM_KEY} {original} -> {value}: {secs:.1f} s, reran {', '.join(ran)}")
    return {
        "noop_seconds": summary(noop, 3),
        "param_change": {"key": PARAM_KEY, "from": original, "to": values[0], "seconds": summary(times, 2),
                         "stages_rerun": reran[0] if reran else [],
                         "same_stages_every_run": all(r == reran[0] for r in reran)},
    }
