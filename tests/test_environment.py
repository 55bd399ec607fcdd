"""requirements.lock, environment.yml and pyproject.toml agree with one another.

The lock is the source of truth (the README installs from it); environment.yml
mirrors it for conda users and pyproject.toml states the direct dependencies.
Each file is parsed here independently of tools/sync_environment_yml.py, so a
bug in the generator cannot hide a mismatch.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "requirements.lock"
ENV_YML = ROOT / "environment.yml"
PYPROJECT = ROOT / "pyproject.toml"


def canonical(name: str) -> str:
    """PEP 503 normalised project name."""
    return re.sub(r"[-_.]+", "-", name).lower()


def parse_pins(lines: list[str], where: str) -> dict[str, str]:
    """``{canonical name: version}`` from ``name==version`` lines; duplicates and loose specs fail."""
    pins: dict[str, str] = {}
    for line in lines:
        req = Requirement(line)
        specs = list(req.specifier)
        assert len(specs) == 1 and specs[0].operator == "==", f"{where}: {line!r} is not an exact pin"
        assert not req.marker and not req.url and not req.extras, f"{where}: {line!r} has markers/URL/extras"
        name = canonical(req.name)
        assert name not in pins, f"{where}: {req.name} is pinned twice"
        pins[name] = specs[0].version
    return pins


def lock_pins(path: Path = LOCK) -> dict[str, str]:
    lines = [
        ln.strip()
        for ln in path.read_text(encoding="utf-8").splitlines()
        if ln.strip() and not ln.lstrip().startswith("#")
    ]
    return parse_pins(lines, path.name)


def env_yml_parts(path: Path = ENV_YML) -> tuple[list[str], dict[str, str], list[str]]:
    """(conda dependencies, pip pins, other pip lines such as ``-e .``) of an environment.yml."""
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    conda_deps: list[str] = []
    pip_lines: list[str] = []
    for dep in doc["dependencies"]:
        if isinstance(dep, dict):
            assert list(dep) == ["pip"], f"{path.name}: unexpected mapping in dependencies: {dep}"
            pip_lines += [str(x) for x in dep["pip"]]
        else:
            conda_deps.append(str(dep))
    options = [ln for ln in pip_lines if ln.startswith("-")]
    pins = parse_pins([ln for ln in pip_lines if not ln.startswith("-")], path.name)
    return conda_deps, pins, options


def pin_differences(lock: dict[str, str], env: dict[str, str]) -> list[str]:
    problems = []
    for name in sorted(lock.keys() - env.keys()):
        problems.append(f"{name}=={lock[name]} is in requirements.lock but not in environment.yml")
    for name in sorted(env.keys() - lock.keys()):
        problems.append(f"{name}=={env[name]} is in environment.yml but not in requirements.lock")
    for name in sorted(lock.keys() & env.keys()):
        if Version(lock[name]) != Version(env[name]):
            problems.append(f"{name}: requirements.lock pins {lock[name]}, environment.yml {env[name]}")
    return problems


def direct_requirements() -> list[Requirement]:
    project = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["project"]
    reqs = [Requirement(r) for r in project["dependencies"]]
    for extra in sorted(project.get("optional-dependencies", {})):
        reqs += [Requirement(r) for r in project["optional-dependencies"][extra]]
    return reqs


def unpinned_direct(reqs: list[Requirement], lock: dict[str, str]) -> list[str]:
    problems = []
    for req in reqs:
        name = canonical(req.name)
        if name not in lock:
            problems.append(f"{req} (pyproject.toml) is not pinned in requirements.lock")
        elif not req.specifier.contains(lock[name], prereleases=True):
            problems.append(f"{req} (pyproject.toml) is not satisfied by the lock's {name}=={lock[name]}")
    return problems


# --- the real files -----------------------------------------------------------

def test_lock_is_nonempty_exact_pins():
    pins = lock_pins()
    assert len(pins) > 50, "requirements.lock looks truncated"


def test_environment_yml_matches_lock():
    conda_deps, env, options = env_yml_parts()
    assert pin_differences(lock_pins(), env) == []
    assert options == ["-e ."], f"environment.yml pip options: {options}"


def test_environment_yml_python_and_pip():
    conda_deps, _, _ = env_yml_parts()
    requires = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["project"]["requires-python"]
    pythons = [d for d in conda_deps if d.startswith("python")]
    assert pythons == ["python=3.11"], pythons
    assert Version("3.11") in Requirement(f"python{requires}").specifier
    assert "pip" in conda_deps


def test_pyproject_direct_dependencies_are_pinned_in_lock():
    reqs = direct_requirements()
    assert any(canonical(r.name) == "dvc" for r in reqs)  # sanity: we did read the file
    assert unpinned_direct(reqs, lock_pins()) == []


def test_generator_agrees_with_committed_file():
    """``make env-yml`` would not change environment.yml (its --check mode)."""
    result = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "sync_environment_yml.py"), "--check"],
        capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stderr


# --- the checks themselves can fail -------------------------------------------

def test_pin_differences_detects_drift():
    lock = {"pandas": "3.1.1", "pyyaml": "6.0.3", "numpy": "2.4.6"}
    env = {"pandas": "3.1.0", "pyyaml": "6.0.3", "scipy": "1.17.1"}
    problems = pin_differences(lock, env)
    assert len(problems) == 3
    assert any("numpy" in p and "not in environment.yml" in p for p in problems)
    assert any("scipy" in p and "not in requirements.lock" in p for p in problems)
    assert any("pandas" in p and "3.1.0" in p for p in problems)


def test_names_are_normalised_per_pep503(tmp_path):
    yml = tmp_path / "environment.yml"
    yml.write_text(
        "name: x\ndependencies:\n  - python=3.11\n  - pip\n  - pip:\n"
        "      - PyYAML==6.0.3\n      - ruamel_yaml==0.19.1\n      - Zc.LockFile==4.0\n",
        encoding="utf-8",
    )
    lock = tmp_path / "requirements.lock"
    lock.write_text("# c\npyyaml==6.0.3\nruamel.yaml==0.19.1\nzc-lockfile==4.0\n", encoding="utf-8")
    _, env, _ = env_yml_parts(yml)
    assert pin_differences(lock_pins(lock), env) == []


def test_loose_or_duplicate_pins_are_rejected(tmp_path):
    lock = tmp_path / "requirements.lock"
    lock.write_text("pandas>=2\n", encoding="utf-8")
    with pytest.raises(AssertionError, match="not an exact pin"):
        lock_pins(lock)
    lock.write_text("PyYAML==6.0.3\npyyaml==6.0.2\n", encoding="utf-8")
    with pytest.raises(AssertionError, match="pinned twice"):
        lock_pins(lock)


def test_unpinned_direct_dependency_is_reported():
    reqs = [Requirement("pandas>=2.2"), Requirement("nbval>=0.11"), Requirement("seaborn>=0.14")]
    problems = unpinned_direct(reqs, {"pandas": "3.1.1", "seaborn": "0.13.2"})
    assert len(problems) == 2
    assert any("nbval" in p and "not pinned" in p for p in problems)
    assert any("seaborn" in p and "not satisfied" in p for p in problems)
