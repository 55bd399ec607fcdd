"""Repository-wide pytest hooks: nbval sandbox, test order, scratch-repository helpers.

``make test`` runs nbval over ``reports/notebooks/``: every executed pipeline
notebook is run again and its outputs compared with the committed ones.  Those
notebooks *write* (tables, figures, processed data) through
:mod:`pimh_analysis.paths`, so rerunning them in the checkout would rewrite
committed files while other tests read them, and two xdist workers would race
on the same files.  Instead, each test process copies the working tree (the
git-tracked and untracked-but-not-ignored files, plus ``data/processed/``) to a
temporary folder once, and every notebook kernel nbval starts gets
``PIMH_ROOT`` pointing there.  The kernel still runs in the notebook's own
folder, as nbval does; only the root the package resolves changes.

:func:`copy_repository` and :func:`pipeline_env` are also what the pipeline
tests use for their scratch copies (fixtures ``copy_repo``, ``pipeline_env_for``),
and tests marked ``pipeline`` are scheduled first (the longest work units).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent

BIN = Path(sys.executable).parent


def makefile_exports(root: Path = ROOT) -> dict[str, str]:
    """The constant ``export NAME := value`` variables of the Makefile (hash seed, backend, DVC flags).

    Exports computed by make (``$(...)``, such as PATH) are left out.
    """
    pattern = re.compile(r"^export\s+([A-Za-z_][A-Za-z0-9_]*)\s*:?=\s*(.*?)\s*$")
    lines = (root / "Makefile").read_text(encoding="utf-8").splitlines()
    return {m[1]: m[2] for m in map(pattern.match, lines) if m and "$" not in m[2]}


# What every pipeline command sees under make, also when pytest is run directly.
PIPELINE_ENV = makefile_exports()


def pipeline_env(root: Path) -> dict[str, str]:
    """Environment for running the pipeline of the repository at ``root``.

    The Makefile's exports, ``PIMH_ROOT=root`` and this environment's ``bin``
    first on PATH (dvc, papermill, pimh).
    """
    env = {**os.environ, **PIPELINE_ENV, "PIMH_ROOT": str(root)}
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    return env


def tracked_files(src: Path, *, untracked: bool = True) -> list[str]:
    """Files git knows in ``src`` (and, if ``untracked``, new files it does not ignore)."""
    cmd = ["git", "-C", str(src), "ls-files", "-z", "--cached"]
    if untracked:
        cmd += ["--others", "--exclude-standard"]
    out = subprocess.run(cmd, check=True, capture_output=True).stdout.decode("utf-8")
    return sorted({f for f in out.split("\0") if f})


def copy_repository(src: Path, dest: Path, *, extra_dirs: tuple[str, ...] = (), untracked: bool = True) -> list[str]:
    """Copy the repository at ``src`` into ``dest``: its git files plus ``extra_dirs``.

    ``.dvc/`` is copied without its cache and tmp folders (so DVC in the copy
    starts with an empty cache).  Files deleted in the working tree are
    skipped.  Returns the repository-relative paths copied from git's list.
    """
    copied = []
    for rel in tracked_files(src, untracked=untracked):
        s = src / rel
        if not s.is_file():
            continue
        d = dest / rel
        d.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(s, d, follow_symlinks=False)
        copied.append(rel)
    if (src / ".dvc").is_dir():
        shutil.copytree(
            src / ".dvc", dest / ".dvc", dirs_exist_ok=True,
            ignore=lambda folder, names: [n for n in names if Path(folder) == src / ".dvc" and n in ("cache", "tmp")],
        )
    for rel in extra_dirs:
        if (src / rel).is_dir():
            shutil.copytree(src / rel, dest / rel, dirs_exist_ok=True)
    return copied


@pytest.fixture(scope="session")
def copy_repo():
    """The :func:`copy_repository` function, for tests that need a scratch repository."""
    return copy_repository


@pytest.fixture(scope="session")
def pipeline_env_for():
    """The :func:`pipeline_env` function: ``pipeline_env_for(root)`` -> environment dict."""
    return pipeline_env


# --- scheduling -------------------------------------------------------------------

def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Run the slow ``pipeline`` tests first (stable sort: every other order is kept).

    With ``-n 2 --dist loadscope --no-loadscope-reorder`` (pyproject.toml) xdist
    hands out modules in this order, so the pipeline module, the longest single
    unit, starts at once on one worker while the other runs everything else.
    """
    items.sort(key=lambda item: item.get_closest_marker("pipeline") is None)


# --- nbval sandbox ----------------------------------------------------------------

try:
    from nbval.plugin import IPyNbCell
except ImportError:  # pragma: no cover - nbval is in the lock
    IPyNbCell = None

_SANDBOX_KEY = pytest.StashKey[Path]()


def _nbval_sandbox(config: pytest.Config) -> Path:
    sandbox = config.stash.get(_SANDBOX_KEY, None)
    if sandbox is None:
        source = Path(os.environ.get("PIMH_ROOT") or ROOT)
        sandbox = Path(tempfile.mkdtemp(prefix="pimh-nbval-")) / "repo"
        copy_repository(source, sandbox, extra_dirs=("data/processed",))
        config.stash[_SANDBOX_KEY] = sandbox
    return sandbox


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_setup(item: pytest.Item):
    """Start nbval kernels with PIMH_ROOT at this process's sandbox copy."""
    if IPyNbCell is None or not isinstance(item, IPyNbCell):
        yield
        return
    env = {**PIPELINE_ENV, "PIMH_ROOT": str(_nbval_sandbox(item.config))}
    saved = {key: os.environ.get(key) for key in env}
    os.environ.update(env)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def pytest_unconfigure(config: pytest.Config) -> None:
    sandbox = config.stash.get(_SANDBOX_KEY, None)
    if sandbox is not None:
        shutil.rmtree(sandbox.parent, ignore_errors=True)
