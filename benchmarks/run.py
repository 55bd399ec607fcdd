"""``make bench``: speed and scale of pimh-analysis, measured (benchmarks, not timed tests).

    .venv/bin/python benchmarks/run.py [--runs N] [--only pipeline,scale,tests] [--sizes 10000,100000]

Runs, in this order (``--only`` picks some; the results of the others are kept from
the last run):

* ``pipeline`` (bench_pipeline.py): 1. a forced full ``dvc repro`` against its floor
  (papermill executions of a notebook that only imports the pipeline's libraries),
  per stage; 2. no-op ``dvc repro`` and a rebuild after one model parameter changes;
* ``scale`` (bench_scale.py): 3. validation, cleaning and descriptive tables on survey
  files of 10k, 100k and 1M respondents, against pyarrow's CSV reader; peak memory;
* ``tests`` (bench_tests.py): 4. wall time of ``make test``.

Every figure is the median over ``--runs`` runs (default 3); each ratio is computed
within one run from two measurements taken side by side, then the median is taken.
Writes ``benchmarks/results.json`` and ``benchmarks/RESULTS.md``.  Work files go to
``benchmarks/.work/`` (git-ignored).  Needs the pipeline's environment (``make
setup``) and takes a while: about 25-40 minutes on a 2-core machine.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import ROOT, WORK, git_state, log, machine, now, write_json  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results.json"
SUMMARY = ROOT / "benchmarks" / "RESULTS.md"
SECTIONS = ("pipeline", "scale", "tests")

TARGETS = {
    "rebuild_ratio": 1.3,  # forced full rebuild / floor
    "noop_seconds": 2.0,
    "scale_exponent": 1.1,  # time ~ respondents^exponent between the two largest sizes (1 = linear)
    "scale_ratio_1m": 5.0,  # package / pyarrow read at 1M
    "scale_peak_gb_1m": 4.0,  # GB = 10^9 bytes
    "tests_seconds": 180.0,
}


def targets(results: dict) -> list[dict]:
    rows = []

    def add(name, what, measured, target, unit, ok_if_le=True):
        if measured is None:
            return
        rows.append({"target": name, "what": what, "measured": measured, "limit": target, "unit": unit,
                     "met": measured <= target if ok_if_le else measured >= target})

    p = results.get("pipeline")
    if p:
        add("rebuild_ratio", "forced full rebuild / floor", p["ratio"]["median"], TARGETS["rebuild_ratio"], "x")
        add("noop_seconds", "no-op dvc repro", p["incremental"]["noop_seconds"]["median"], TARGETS["noop_seconds"],
            "s")
    s = results.get("scale")
    if s:
        big = {r["respondents"]: r for r in s["sizes"]}
        if s["growth"]:
            add("scale_exponent", f"growth exponent {s['growth'][-1]['from']:,} -> {s['growth'][-1]['to']:,} "
                "respondents (1 = linear)", s["growth"][-1]["exponent"], TARGETS["scale_exponent"], "")
        if 1_000_000 in big:
            add("scale_ratio_1m", "1M respondents: read+validate+clean+tables / pyarrow read",
                big[1_000_000]["ratio_to_pyarrow_read"]["median"], TARGETS["scale_ratio_1m"], "x")
            add("scale_peak_gb_1m", "1M respondents: peak memory", big[1_000_000]["peak_gb"]["median"],
                TARGETS["scale_peak_gb_1m"], "GB")
    t = results.get("tests")
    if t:
        add("tests_seconds", "make test wall time", t["wall_seconds"]["median"], TARGETS["tests_seconds"], "s")
    return rows


def fmt_s(x: float) -> str:
    return f"{x:.2f} s" if x < 10 else f"{x:.1f} s"


def when(section: dict) -> str:
    """A section's date, and the commit it measured when recorded."""
    g = section.get("git") or {}
    at = f", commit `{g['commit']}`{' with uncommitted changes' if g.get('dirty') else ''}" if g.get("commit") else ""
    return f"{section.get('date', '')}{at}"


def markdown(results: dict) -> str:
    m = results["machine"]
    out = ["# Benchmark results", "",
           f"Written by `make bench` (`benchmarks/run.py`) on {results['date']} at commit "
           f"`{results['git']['commit']}`{' (uncommitted changes)' if results['git']['dirty'] else ''}.",
           "",
           f"Machine: {m['cores']} cores, {m['memory_gb']} GB memory, {m['cpu']}; Python {m['python']}; {m['os']}.",
           "",
           "Every figure is the median of the runs shown (n); every ratio is taken within one run from two "
           "measurements made side by side, then the median ratio is reported.", ""]
    out += ["## Targets", "", "| target | measured | limit | met |", "|---|---|---|---|"]
    for row in results["targets"]:
        out.append(f"| {row['what']} | {row['measured']}{' ' + row['unit'] if row['unit'] else ''} | "
                   f"{row['limit']}{' ' + row['unit'] if row['unit'] else ''} | {'yes' if row['met'] else '**no**'} |")
    p = results.get("pipeline")
    if p:
        out += ["", f"## 1. Full rebuild against its floor ({when(p)})", "",
                f"* forced full `dvc repro` ({p['stages']} stages, {p['papermill_stages']} of them papermill "
                f"notebooks): **{fmt_s(p['rebuild_seconds']['median'])}** (n = {p['rebuild_seconds']['n']}; runs "
                f"{', '.join(str(x) for x in p['rebuild_seconds']['runs'])})",
                f"* floor: {p['papermill_stages']} papermill executions of a notebook importing the "
                f"{p['floor_modules']} modules the pipeline's kernels load ({', '.join(p['floor_packages'])}): "
                f"**{fmt_s(p['floor_seconds']['median'])}** ({fmt_s(p['floor_per_execution_seconds']['median'])} "
                "each)",
                f"* **ratio rebuild / floor: {p['ratio']['median']:.2f}** (runs "
                f"{', '.join(f'{x:.2f}' for x in p['ratio']['runs'])}); against bare kernels (a notebook with one "
                f"trivial cell, {fmt_s(p['bare_kernel_per_execution_seconds']['median'])} each): "
                f"{p['ratio_to_bare_kernels']:.2f}",
                f"* rebuilt outputs identical to the committed ones: {'yes' if p['outputs_identical_to_checkout'] else 'NO'}",
                "", "Where the time goes (median seconds per stage, including DVC's bookkeeping after it; "
                "'above floor' = stage minus one floor execution):", "",
                "| stage | seconds | above floor |", "|---|---|---|"]
        for row in p["per_stage"]:
            above = f"{row['above_floor']:+.1f}" if "above_floor" in row else "(not a notebook)"
            out.append(f"| {row['stage']} | {row['seconds']:.1f} | {above} |")
        out.append(f"| (DVC start-up, before the first stage) | {p['dvc_before_first_stage_seconds']['median']:.1f} | |")
        inc = p["incremental"]
        pc = inc["param_change"]
        out += ["", "## 2. No-op and incremental rebuilds", "",
                f"* no-op `dvc repro`: **{inc['noop_seconds']['median']:.2f} s** (n = {inc['noop_seconds']['n']})",
                f"* `{pc['key']}` {pc['from']} -> {pc['to']}, then `dvc repro`: **{fmt_s(pc['seconds']['median'])}** "
                f"(n = {pc['seconds']['n']}); reran {len(pc['stages_rerun'])} of {p['stages']} stages: "
                f"{', '.join(pc['stages_rerun'])}"]
    s = results.get("scale")
    if s:
        out += ["", f"## 3. Scale ({when(s)})", "",
                "Files from `pimh replica --respondents N` (benchmark files, not a replica of anything). Package = "
                "`read_survey` + `validate_read` + `clean_survey(long_table=False)` + `build_tables` (17 tables), "
                "in one fresh process; floor = pyarrow's CSV reader on the same file, in another. "
                "GB = 10^9 bytes (peak resident memory).", "",
                "| respondents | file | read | validate | clean | tables | total | pyarrow read | ratio | peak | "
                "pyarrow peak |", "|---|---|---|---|---|---|---|---|---|---|---|"]
        for r in s["sizes"]:
            st = r["steps_seconds"]
            out.append(f"| {r['respondents']:,} | {r['file_mb']:.0f} MB | {fmt_s(st['read']['median'])} | "
                       f"{fmt_s(st['validate']['median'])} | {fmt_s(st['clean']['median'])} | "
                       f"{fmt_s(st['tables']['median'])} | **{fmt_s(r['total_seconds']['median'])}** | "
                       f"{fmt_s(r['pyarrow_read_seconds']['median'])} | **{r['ratio_to_pyarrow_read']['median']:.2f}** "
                       f"| **{r['peak_gb']['median']:.2f} GB** | {r['pyarrow_peak_gb']['median']:.2f} GB |")
        out.append("")
        out.append("Growth: " + "; ".join(
            f"{g['from']:,} -> {g['to']:,}: time x{g['time_factor']} (exponent {g['exponent']}), memory "
            f"x{g['memory_factor']}" for g in s["growth"]) + f". Runs per size: {s['sizes'][0]['total_seconds']['n']}.")
    t = results.get("tests")
    if t:
        out += ["", f"## 4. Test suite ({when(t)})", "",
                f"* `make test` (environment set up): **{fmt_s(t['wall_seconds']['median'])}** wall "
                f"(n = {t['wall_seconds']['n']}; runs {', '.join(str(x) for x in t['wall_seconds']['runs'])}); "
                f"{t['outcomes'][-1]}"]
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=3, help="runs per figure (median; default 3)")
    ap.add_argument("--only", default=",".join(SECTIONS), help=f"comma-separated subset of {','.join(SECTIONS)}")
    ap.add_argument("--sizes", default=None, help="scale benchmark sizes (default 10000,100000,1000000)")
    ap.add_argument("--test-runs", type=int, default=None, help="runs of make test (default: --runs)")
    ap.add_argument("--render", action="store_true", help="only rewrite RESULTS.md from results.json")
    args = ap.parse_args(argv)
    if args.render:
        SUMMARY.write_text(markdown(json.loads(RESULTS.read_text())), encoding="utf-8")
        return 0
    only = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = set(only) - set(SECTIONS)
    if unknown:
        ap.error(f"unknown section(s) {sorted(unknown)}; choose from {SECTIONS}")
    if args.runs < 1:
        ap.error("--runs must be at least 1")
    WORK.mkdir(parents=True, exist_ok=True)
    results = json.loads(RESULTS.read_text()) if RESULTS.is_file() else {}
    started = time.perf_counter()
    log(f"benchmarks {', '.join(only)}; {args.runs} run(s) each; work files in {WORK.relative_to(ROOT)}/")
    for section in SECTIONS:
        if section not in only:
            continue
        date = now()
        if section == "pipeline":
            import bench_pipeline

            res = bench_pipeline.run(args.runs)
        elif section == "scale":
            import bench_scale

            sizes = tuple(int(x) for x in args.sizes.split(",")) if args.sizes else bench_scale.SIZES
            res = bench_scale.run(args.runs, sizes)
        else:
            import bench_tests

            res = bench_tests.run(args.test_runs or args.runs)
        res = {"date": date, "machine": machine(), "git": git_state(), **res}
        results[section] = res
        results.update(date=now(), machine=machine(), git=git_state())
        results["targets"] = targets(results)
        write_json(results, RESULTS)  # after every section, so an interrupted run keeps what it measured
        SUMMARY.write_text(markdown(results), encoding="utf-8")
    results.update(date=now(), machine=machine(), git=git_state())
    results["targets"] = targets(results)
    ordered = {k: results[k] for k in ("date", "machine", "git", "targets", *SECTIONS) if k in results}
    write_json(ordered, RESULTS)
    SUMMARY.write_text(markdown(ordered), encoding="utf-8")
    log(f"done in {(time.perf_counter() - started) / 60:.1f} min: {RESULTS.relative_to(ROOT)}, "
        f"{SUMMARY.relative_to(ROOT)}")
    for row in ordered["targets"]:
        log(f"  {'met   ' if row['met'] else 'MISSED'} {row['what']}: {row['measured']} {row['unit']} "
            f"(limit {row['limit']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
