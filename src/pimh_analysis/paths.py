"""Every file location the package uses, resolved from the repository root.

papermill runs notebooks in the caller's working directory (``--cwd`` at the
repository root), nbval runs them in the notebook's own folder, and the test
suite runs the pipeline in scratch copies of the repository.  No code in this
package may therefore depend on the current working directory: everything goes
through :func:`root` and the helpers below.

The root is found, in order, from

1. the ``PIMH_ROOT`` environment variable;
2. the nearest folder at or above the current working directory that holds
   both ``dvc.yaml`` and ``params.yaml`` (so a scratch copy resolves to itself);
3. the folder two levels above this package (an editable install in a clone).
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

ROOT_MARKERS = ("dvc.yaml", "params.yaml")
PACKAGE_DIR = Path(__file__).resolve().parent
RESOURCES = PACKAGE_DIR / "resources"


def _is_root(path: Path) -> bool:
    return all((path / marker).is_file() for marker in ROOT_MARKERS)


@lru_cache(maxsize=None)
def _root_from(cwd: str, env: str | None) -> Path:
    if env:
        path = Path(env).expanduser().resolve()
        if not _is_root(path):
            raise FileNotFoundError(
                f"PIMH_ROOT={env!r} is not a pimh-analysis repository "
                f"(expected {', '.join(ROOT_MARKERS)} there)"
            )
        return path
    here = Path(cwd).resolve()
    for candidate in (here, *here.parents):
        if _is_root(candidate):
            return candidate
    fallback = PACKAGE_DIR.parents[1]
    if _is_root(fallback):
        return fallback
    raise FileNotFoundError(
        "Cannot find the pimh-analysis repository root: no folder at or above "
        f"{here} holds {' and '.join(ROOT_MARKERS)}. Set PIMH_ROOT."
    )


def root() -> Path:
    """The repository root (see the module docstring for how it is found)."""
    return _root_from(os.getcwd(), os.environ.get("PIMH_ROOT"))


def rel(path: Path | str) -> str:
    """``path`` relative to the repository root, with forward slashes (for logs and manifests)."""
    p = Path(path).resolve()
    try:
        return p.relative_to(root()).as_posix()
    except (ValueError, FileNotFoundError):
        return p.as_posix()


# --- package resources (shipped inside the wheel) ---------------------------

def resource(name: str) -> Path:
    return RESOURCES / name


def codebook_file() -> Path:
    """The instrument codebook: Appendix 1 of the report as data."""
    return resource("codebook.yaml")


def register_file() -> Path:
    """The published-results register: every number the report prints about its own data."""
    return resource("published_register.csv")


def contradictions_file() -> Path:
    return resource("contradictions.yaml")


def replica_assumptions_file() -> Path:
    return resource("replica_assumptions.yaml")


def postcode_areas_file() -> Path:
    return resource("postcode_areas.csv")


# --- repository locations ----------------------------------------------------

def params_file() -> Path:
    return root() / "params.yaml"


def dvc_lock_file() -> Path:
    return root() / "dvc.lock"


def notebooks_dir() -> Path:
    return root() / "notebooks"


def data_dir() -> Path:
    return root() / "data"


def raw_dir() -> Path:
    return data_dir() / "raw"


def wave_raw_dir(wave: str) -> Path:
    """``data/raw/<wave>/``: the wave's export, ``wave.yaml`` and any column map."""
    return raw_dir() / wave


def interviews_raw_dir() -> Path:
    return raw_dir() / "interviews"


def processed_dir() -> Path:
    return data_dir() / "processed"


def wave_processed_dir(wave: str) -> Path:
    return processed_dir() / wave


def interviews_processed_dir() -> Path:
    return processed_dir() / "interviews"


def restricted_dir() -> Path:
    """Git-ignored home of anything that may hold personal data (raw free text)."""
    return data_dir() / "restricted"


def reports_dir() -> Path:
    return root() / "reports"


def tables_dir(group: str | None = None) -> Path:
    base = reports_dir() / "tables"
    return base / group if group else base


def figures_dir(group: str | None = None) -> Path:
    base = reports_dir() / "figures"
    return base / group if group else base


def executed_notebooks_dir(group: str | None = None) -> Path:
    base = reports_dir() / "notebooks"
    return base / group if group else base


def metrics_dir() -> Path:
    return reports_dir() / "metrics"


def site_dir() -> Path:
    return reports_dir() / "site"


def provenance_file() -> Path:
    return reports_dir() / "provenance.json"


def benchmarks_dir() -> Path:
    return root() / "benchmarks"


def ensure_dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path
