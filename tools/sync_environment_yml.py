#!/usr/bin/env python3
"""Write environment.yml (for conda users) from requirements.lock.

The README's commands install with venv + pip from ``requirements.lock``; that
lock is the single source of truth.  ``environment.yml`` mirrors it for people
who prefer conda: the Python minor version from ``pyproject.toml``
(``requires-python``), ``pip`` from conda, and every pinned package, at the
same version, in a ``pip:`` section, followed by an editable install of this
package.

Usage (from anywhere; standard library only, so the system python3 will do)::

    python3 tools/sync_environment_yml.py           # rewrite environment.yml
    python3 tools/sync_environment_yml.py --check   # exit 1 if it is out of date

``make env-yml`` runs the first form.
"""

from __future__ import annotations

import argparse
import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "requirements.lock"
PYPROJECT = ROOT / "pyproject.toml"
ENV_YML = ROOT / "environment.yml"

ENV_NAME = "pimh-analysis"
CHANNEL = "conda-forge"
# ``name==version`` with nothing else on the line (no markers, URLs or options).
PIN = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>[A-Za-z0-9][A-Za-z0-9.+!_-]*)$")


class LockError(ValueError):
    """requirements.lock holds a line that is not an exact pin."""


def read_lock(path: Path = LOCK) -> list[tuple[str, str]]:
    """The ``(name, version)`` pins of ``path``, in file order, names as written."""
    pins: list[tuple[str, str]] = []
    for lineno, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        match = PIN.match(line)
        if not match:
            raise LockError(f"{path.name}:{lineno}: not an exact 'name==version' pin: {raw!r}")
        pins.append((match["name"], match["version"]))
    if not pins:
        raise LockError(f"{path.name}: no pinned packages found")
    return pins


def python_minor(path: Path = PYPROJECT) -> str:
    """The lowest Python minor version ``requires-python`` allows (``>=3.11`` -> ``3.11``)."""
    spec = tomllib.loads(path.read_text(encoding="utf-8"))["project"]["requires-python"]
    match = re.search(r">=\s*(\d+)\.(\d+)", spec)
    if not match:
        raise ValueError(f"cannot read a minimum Python version from requires-python = {spec!r}")
    return f"{match[1]}.{match[2]}"


def render(pins: list[tuple[str, str]], python: str) -> str:
    lines = [
        "# Generated from requirements.lock by tools/sync_environment_yml.py (make env-yml).",
        "# Do not edit by hand. For conda users: conda env create -f environment.yml",
        "# The README's commands use venv + pip from requirements.lock instead (make setup).",
        f"name: {ENV_NAME}",
        "channels:",
        f"  - {CHANNEL}",
        "dependencies:",
        f"  - python={python}",
        "  - pip",
        "  - pip:",
    ]
    lines += [f"      - {name}=={version}" for name, version in pins]
    lines.append("      - -e .")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if environment.yml differs from what would be written")
    args = parser.parse_args(argv)
    try:
        pins = read_lock()
        text = render(pins, python_minor())
    except (LockError, ValueError, KeyError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    current = ENV_YML.read_text(encoding="utf-8") if ENV_YML.exists() else None
    if args.check:
        if current != text:
            print("environment.yml is out of date with requirements.lock; run: make env-yml", file=sys.stderr)
            return 1
        print("environment.yml is up to date")
        return 0
    if current == text:
        print("environment.yml already up to date")
    else:
        ENV_YML.write_text(text, encoding="utf-8", newline="\n")
        print(f"wrote environment.yml ({len(pins)} pinned packages)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
