"""Shared helpers of the benchmarks: environment, scratch repositories, timing, machine description."""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterable, Sequence

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / "benchmarks" / ".work"
BIN = Path(sys.executable).parent


def log(message: str) -> None:
    """One line of progress (the benchmarks take minutes)."""
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


def makefile_exports(root: Path = ROOT) -> dict[str, str]:
    """The constant ``export NAME := value`` lines of the Makefile (hash seed, backend, DVC flags)."""
    pattern = re.compile(r"^export\s+([A-Za-z_][A-Za-z0-9_]*)\s*:?=\s*(.*?)\s*$")
    lines = (root / "Makefile").read_text(encoding="utf-8").splitlines()
    return {m[1]: m[2] for m in map(pattern.match, lines) if m and "$" not in m[2]}


def pipeline_env(root: Path, **extra: str) -> dict[str, str]:
    """What a pipeline command sees under ``make``: the Makefile's exports, PIMH_ROOT, the venv first on PATH.

    ``PYTHONPATH`` puts ``root/src`` first, so the package imported by the stages (kernels
    and ``pimh``) is the scratch copy's, not the checkout's editable install: editing the
    checkout while a benchmark runs does not change what it measures.
    """
    env = {**os.environ, **makefile_exports(), "PIMH_ROOT": str(root), **extra}
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONPATH"] = str(root / "src")
    return env


def snapshot_src(dest: Path) -> Path:
    """A copy of the checkout's ``src/`` (what the scale benchmark imports, via PYTHONPATH)."""
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(ROOT / "src", dest, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    return dest


def git(root: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-c", "user.name=pimh-bench", "-c", "user.email=pimh-bench@localhost", "-c", "commit.gpgsign=false",
         *args], cwd=root, check=True, capture_output=True, text=True).stdout


def scratch_clone(dest: Path, src: Path = ROOT) -> Path:
    """A fresh-clone-like copy of ``src`` at ``dest``: its git-tracked files (as in the working tree),
    ``.dvc/`` without cache and tmp, ``git init`` and one commit.  Pipeline outputs are kept
    (they are committed), ``data/processed`` is not (a clone has none)."""
    if dest.exists():
        shutil.rmtree(dest)
    files = git(src, "ls-files", "-z", "--cached").split("\0")
    for rel in sorted({f for f in files if f}):
        s = src / rel
        if not s.is_file():
            continue
        d = dest / rel
        d.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(s, d, follow_symlinks=False)
    shutil.copytree(src / ".dvc", dest / ".dvc", dirs_exist_ok=True,
                    ignore=lambda folder, names: [n for n in names if Path(folder) == src / ".dvc"
                                                  and n in ("cache", "tmp")])
    git(dest, "init", "-q")
    git(dest, "add", "-A")
    git(dest, "commit", "-q", "-m", "benchmark scratch copy")
    return dest


def run_timed(cmd: Sequence[str], *, cwd: Path, env: dict, check: bool = True,
              timeout: float = 3600) -> tuple[float, subprocess.CompletedProcess]:
    start = time.perf_counter()
    proc = subprocess.run(list(cmd), cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    seconds = time.perf_counter() - start
    if check and proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-40:])
        raise RuntimeError(f"`{' '.join(cmd)}` exited {proc.returncode} in {cwd}:\n{tail}")
    return seconds, proc


def run_streamed(cmd: Sequence[str], *, cwd: Path, env: dict) -> tuple[float, list[tuple[float, str]]]:
    """Run ``cmd``, stamping every output line (stdout and stderr merged) with its time since the start."""
    start = time.perf_counter()
    proc = subprocess.Popen(list(cmd), cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, bufsize=1)
    lines: list[tuple[float, str]] = []
    assert proc.stdout is not None
    for line in proc.stdout:
        lines.append((time.perf_counter() - start, line.rstrip("\n")))
    proc.wait()
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        tail = "\n".join(text for _, text in lines[-40:])
        raise RuntimeError(f"`{' '.join(cmd)}` exited {proc.returncode} in {cwd}:\n{tail}")
    return seconds, lines


def median(values: Iterable[float]) -> float:
    return float(statistics.median(list(values)))


def summary(values: Sequence[float], digits: int = 3) -> dict:
    """Median, min, max and every run (rounded)."""
    vals = [float(v) for v in values]
    return {"median": round(median(vals), digits), "min": round(min(vals), digits), "max": round(max(vals), digits),
            "runs": [round(v, digits) for v in vals], "n": len(vals)}


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _mem_total_gb() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return None


def machine() -> dict:
    """The machine the figures come from."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "cores": cores,
        "memory_gb": _mem_total_gb(),
        "cpu": _cpu_model(),
        "python": platform.python_version(),
        "os": platform.platform(),
    }


def git_state(root: Path = ROOT) -> dict:
    try:
        head = git(root, "rev-parse", "--short", "HEAD").strip()
        # the benchmark's own result files do not count: they change with every run
        dirty = bool(git(root, "status", "--porcelain", "--untracked-files=no", "--", ".",
                         ":(exclude)benchmarks/results.json", ":(exclude)benchmarks/RESULTS.md").strip())
    except (subprocess.CalledProcessError, FileNotFoundError):
        return {"commit": None, "dirty": None}
    return {"commit": head, "dirty": dirty}


def now() -> str:
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat()


def write_json(obj: dict, path: Path) -> None:
    path.write_text(json.dumps(obj, indent=2, sort_keys=False) + "\n", encoding="utf-8")
