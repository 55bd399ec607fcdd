"""The DVC pipeline, end to end, in a scratch copy of the repository.

The copy holds the git-tracked files of this checkout (as they are in the
working tree) plus ``.dvc/`` without its cache; it is ``git init``-ed and
committed like a fresh clone.  DVC, papermill and ``pimh`` come from this
checkout's environment (the folder of ``sys.executable``), with ``PIMH_ROOT``
set to the copy so notebooks resolve every path there.

Stage lists, parameters and the DAG are read from the pipeline itself
(``dvc stage list``, ``dvc.lock``, the resolved stages), never hard-coded.
While ``dvc.yaml`` has no stages the pipeline tests skip, saying so.
"""

from __future__ import annotations

import difflib
import json
import re
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import pytest
import yaml

pytestmark = pytest.mark.pipeline

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
DVC = BIN / "dvc"
KERNEL = "pimh-analysis"
# Committed pipeline outputs that a forced rebuild must reproduce byte for byte.
OUTPUT_DIRS = ("reports/tables", "reports/figures", "reports/notebooks", "reports/metrics")
PARAMS_FILE = "params.yaml"
REPRO_TIMEOUT = 1800

RUNNING = re.compile(r"^Running stage '([^']+)'", re.MULTILINE)
RESTORED = re.compile(r"^Stage '([^']+)' is cached - skipping run", re.MULTILINE)
SKIPPED = re.compile(r"^Stage '([^']+)' didn't change, skipping", re.MULTILINE)


# --- helpers (also unit-tested below, so the harness itself can fail) ---------------

def dvc(env: dict, root: Path, *args: str, check: bool = True, timeout: float = REPRO_TIMEOUT) -> subprocess.CompletedProcess:
    """Run this environment's dvc in ``root`` with ``env``; fail the test, showing the log tail, on error."""
    result = subprocess.run([str(DVC), *args], cwd=root, env=env, capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).splitlines()[-60:])
        pytest.fail(f"`dvc {' '.join(args)}` exited {result.returncode} in {root}:\n{tail}", pytrace=False)
    return result


def stage_names(env: dict, root: Path) -> list[str]:
    """Every stage of the pipeline, foreach/matrix items expanded (``dvc stage list``)."""
    if not (root / "dvc.yaml").is_file():
        return []
    result = dvc(env, root, "stage", "list", "--all", "--name-only", "--fail", check=False, timeout=120)
    if result.returncode != 0:
        pytest.fail(f"dvc stage list failed (is dvc.yaml valid?):\n{result.stdout}{result.stderr}", pytrace=False)
    return sorted(line.strip() for line in result.stdout.splitlines() if line.strip())


def flatten(prefix: str, value) -> dict[str, object]:
    """``{"a.b": 1}`` leaves of a (possibly nested) parameter value."""
    if isinstance(value, dict) and value:
        out: dict[str, object] = {}
        for key, sub in value.items():
            out.update(flatten(f"{prefix}.{key}" if prefix else str(key), sub))
        return out
    return {prefix: value}


def lock_stages(root: Path) -> dict[str, dict]:
    doc = yaml.safe_load((root / "dvc.lock").read_text(encoding="utf-8")) or {}
    return doc.get("stages", {})


def stage_params(lock: dict[str, dict], params_file: str = PARAMS_FILE) -> dict[str, dict[str, object]]:
    """``{stage: {dotted leaf key: value}}`` for the parameters each stage lists (from dvc.lock)."""
    out = {}
    for name, stage in lock.items():
        listed = (stage.get("params") or {}).get(params_file) or {}
        leaves: dict[str, object] = {}
        for key, value in listed.items():
            leaves.update(flatten(key, value))
        out[name] = leaves
    return out


def _overlaps(a: str, b: str) -> bool:
    pa, pb = PurePosixPath(a), PurePosixPath(b)
    return pa == pb or pa in pb.parents or pb in pa.parents


def descendants(lock: dict[str, dict], starts: set[str]) -> set[str]:
    """Stages downstream of ``starts`` (a dep overlaps an upstream out), excluding ``starts``."""
    outs = {n: [o["path"] for o in s.get("outs", [])] for n, s in lock.items()}
    deps = {n: [d["path"] for d in s.get("deps", [])] for n, s in lock.items()}
    found: set[str] = set()
    frontier = set(starts)
    while frontier:
        nxt = set()
        for up in frontier:
            for down in lock:
                if down in found or down in starts:
                    continue
                if any(_overlaps(o, d) for o in outs[up] for d in deps[down]):
                    nxt.add(down)
        found |= nxt
        frontier = nxt
    return found


MODEL_CODE = "src/pimh_analysis/models"


def model_stages(lock: dict[str, dict]) -> set[str]:
    """Stages that fit models: they depend on the models package, or their name says so."""
    return {
        name for name, stage in lock.items()
        if "model" in name or any(d["path"].startswith(MODEL_CODE) for d in stage.get("deps", []))
    }


def choose_param(params: dict[str, dict[str, object]], prefer: set[str] = frozenset()) -> tuple[str, object, set[str]] | None:
    """A numeric parameter listed by a stage in ``prefer`` (model stages), else by any stage.

    Numbers before booleans, then the key listed by the fewest stages (the
    cheapest rerun), then alphabetical.  Returns ``(dotted key, value, stages
    listing it)``, or None when no stage lists a number or a boolean.
    """
    users: dict[str, set[str]] = {}
    values: dict[str, object] = {}
    for stage, leaves in params.items():
        for key, value in leaves.items():
            users.setdefault(key, set()).add(stage)
            values[key] = value

    def kind(value) -> int:  # 0 number, 1 boolean, 2 anything else
        if isinstance(value, bool):
            return 1
        return 0 if isinstance(value, (int, float)) else 2

    candidates = [k for k in users if kind(values[k]) < 2]
    if not candidates:
        return None
    preferred = [k for k in candidates if users[k] & prefer]
    key = min(preferred or candidates, key=lambda k: (kind(values[k]), len(users[k]), k))
    return key, values[key], users[key]


def nudge(value):
    """A different value of the same type that a notebook should still accept."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 1
    if 0 < value < 1:
        return round(value / 2 if value < 0.5 else (1 + value) / 2, 10)
    return round(value * 1.1, 10) if value else 0.5


def set_param(path: Path, dotted: str, value) -> None:
    """Change one key of a YAML params file, keeping the rest of the file as written."""
    from ruamel.yaml import YAML

    ry = YAML()
    ry.preserve_quotes = True
    doc = ry.load(path.read_text(encoding="utf-8"))
    node = doc
    parts = dotted.split(".")
    for part in parts[:-1]:
        node = node[int(part)] if isinstance(node, list) else node[part]
    last = parts[-1]
    if isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value
    with path.open("w", encoding="utf-8") as fh:
        ry.dump(doc, fh)


def status_stages(status: dict) -> set[str]:
    """Stage names in ``dvc status --json`` output (keys look like ``dvc.yaml:name``)."""
    return {key.split(":", 1)[1] if key.startswith("dvc.yaml:") else key for key in status}


def files_under(root: Path, dirs=OUTPUT_DIRS) -> list[str]:
    return sorted(
        p.relative_to(root).as_posix() for d in dirs if (root / d).is_dir() for p in (root / d).rglob("*") if p.is_file()
    )


def describe_difference(rel: str, expected: bytes, actual: bytes) -> str:
    try:
        a, b = expected.decode("utf-8").splitlines(), actual.decode("utf-8").splitlines()
    except UnicodeDecodeError:
        return f"{rel}: binary content differs ({len(expected)} -> {len(actual)} bytes)"
    diff = list(difflib.unified_diff(a, b, "committed", "rebuilt", n=1, lineterm=""))
    shown = "\n".join("    " + line[:200] for line in diff[:16])
    return f"{rel}:\n{shown}" + ("\n    ..." if len(diff) > 16 else "")


def papermill_problems(name: str, cmd, deps: list[str], outs: dict[str, bool], has_params: bool) -> list[str]:
    """Convention breaches in one resolved stage (``outs``: path -> cached)."""
    problems = []
    commands = cmd if isinstance(cmd, list) else [cmd]
    parts = [shlex.split(c) for full in commands for c in re.split(r"\s*&&\s*", full.strip()) if c.strip()]
    pm = [p for p in parts if p and Path(p[0]).name == "papermill"]
    if not pm and parts and all(p and Path(p[0]).name == "pimh" for p in parts):
        # a tooling stage (disclosure check, site build): no notebook, but the same output rules
        return out_problems(name, outs)
    if len(pm) != 1:
        return [f"{name}: expected one papermill command (or only `pimh` tool commands), found {len(pm)} papermill"]
    argv = pm[0]
    if len(argv) < 3 or not argv[1].endswith(".ipynb") or not argv[2].endswith(".ipynb"):
        return [f"{name}: papermill must start with <notebook> <executed notebook>: {' '.join(argv[:3])}"]
    source, executed = argv[1], argv[2]

    def option(*names: str) -> list[str]:
        values = []
        for i, tok in enumerate(argv):
            for opt in names:
                if tok == opt and i + 1 < len(argv):
                    values.append(argv[i + 1])
                elif tok.startswith(opt + "="):
                    values.append(tok.split("=", 1)[1])
        return values

    if option("-k", "--kernel") != [KERNEL]:
        problems.append(f"{name}: papermill must run with -k {KERNEL} (has {option('-k', '--kernel')})")
    if option("--cwd") != ["."]:
        problems.append(f"{name}: papermill must run with --cwd . (has {option('--cwd')})")
    if "--no-progress-bar" not in argv:
        problems.append(f"{name}: papermill must run with --no-progress-bar")
    if any(tok in ("-p", "--parameters", "-r", "--parameters_raw") or tok.startswith(("--parameters=", "--parameters_raw="))
           for tok in argv):
        problems.append(f"{name}: parameters must be passed with -y, never -p/-r")
    yaml_params = option("-y", "--parameters_yaml")
    if has_params and not yaml_params:
        problems.append(f"{name}: lists params but passes none to papermill with -y")
    for text in yaml_params:
        try:
            values = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            problems.append(f"{name}: -y {text!r} is not YAML ({exc.__class__.__name__})")
            continue
        if not isinstance(values, dict):
            problems.append(f"{name}: -y {text!r} is not a mapping")
        else:
            nested = [k for k, v in values.items() if isinstance(v, (dict, list))]
            if nested:
                problems.append(f"{name}: -y parameters must be scalars; not {nested}")
    if not source.startswith("notebooks/"):
        problems.append(f"{name}: source notebook {source} is not under notebooks/")
    if source not in deps:
        problems.append(f"{name}: its notebook {source} is not listed in deps")
    if not executed.startswith("reports/notebooks/"):
        problems.append(f"{name}: executed notebook {executed} is not under reports/notebooks/")
    if executed not in outs:
        problems.append(f"{name}: executed notebook {executed} is not listed in outs")
    if not any(p[:1] and Path(p[0]).name == "pimh" and p[1:3] == ["nb", "scrub"] and executed in p[3:] for p in parts):
        problems.append(f"{name}: cmd does not run `pimh nb scrub {executed}` after papermill")
    return problems + out_problems(name, outs)


def out_problems(name: str, outs: dict[str, bool]) -> list[str]:
    """Outputs under reports/ are committed (cache: false); data/processed/ is cached."""
    problems = []
    for path, cached in sorted(outs.items()):
        if path.startswith("reports/") and cached:
            problems.append(f"{name}: out {path} is under reports/ but cached (needs cache: false)")
        if path.startswith("data/processed/") and not cached:
            problems.append(f"{name}: out {path} is under data/processed/ but not cached")
    return problems


def test_harness_accepts_tool_stages_and_refuses_other_commands():
    assert papermill_problems("site", "pimh site build", ["src/pimh_analysis"], {"reports/site": False}, True) == []
    assert papermill_problems("site", "pimh site build", [], {"reports/site": True}, False) == [
        "site: out reports/site is under reports/ but cached (needs cache: false)"]
    assert papermill_problems("x", "python make_tables.py", [], {}, False)[0].startswith("x: expected one papermill command")


def top_level_problems(doc: dict, outs: list[str]) -> list[str]:
    """dvc.yaml declares ``metrics:`` once a stage writes reports/metrics/, ``plots:`` once one writes figures."""
    needs = {"metrics": "reports/metrics/", "plots": "reports/figures/"}
    return [
        f"dvc.yaml: stages write {prefix}... but the top-level `{key}:` is missing or empty"
        for key, prefix in needs.items()
        if any((o.rstrip("/") + "/").startswith(prefix) for o in outs) and not doc.get(key)
    ]


# --- the scratch repository ----------------------------------------------------------

@dataclass
class Scratch:
    root: Path
    env: dict[str, str] = field(repr=False)
    committed: dict[str, bytes] = field(repr=False)  # output files of the main checkout, as copied
    stages: list[str] = field(repr=False)
    logs: dict[str, str] = field(default_factory=dict, repr=False)
    seconds: dict[str, float] = field(default_factory=dict)

    def dvc(self, *args: str) -> subprocess.CompletedProcess:
        return dvc(self.env, self.root, *args)

    def status(self) -> dict:
        return json.loads(self.dvc("status", "--json").stdout or "{}")

    def repro(self, label: str, *args: str) -> str:
        start = time.monotonic()
        result = dvc(self.env, self.root, "repro", *args)
        self.seconds[label] = time.monotonic() - start
        self.logs[label] = result.stdout + result.stderr
        return self.logs[label]


def _git(root: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=pimh-tests", "-c", "user.email=pimh-tests@localhost", "-c", "commit.gpgsign=false",
         *args], cwd=root, check=True, capture_output=True,
    )


@pytest.fixture(scope="module")
def main_stages(pipeline_env_for) -> list[str]:
    names = stage_names(pipeline_env_for(ROOT), ROOT)
    if not names:
        pytest.skip("dvc.yaml defines no stages yet (the pipeline is being built); these tests run once stages land")
    return names


@pytest.fixture(scope="module")
def scratch(main_stages, copy_repo, pipeline_env_for, tmp_path_factory) -> Scratch:
    """A fresh-clone-like copy whose pipeline has been rebuilt with ``dvc repro --force``."""
    root = tmp_path_factory.mktemp("pipeline") / "repo"
    copy_repo(ROOT, root, untracked=False)
    _git(root, "init", "-q")
    _git(root, "add", "-A")
    _git(root, "commit", "-q", "-m", "scratch copy")
    committed = {rel: (root / rel).read_bytes() for rel in files_under(root)}
    for rel in committed:  # clean: no output survives; folders stay as in a clone
        (root / rel).unlink()
    sc = Scratch(root=root, env=pipeline_env_for(root), committed=committed, stages=main_stages)
    sc.repro("forced", "--force")
    return sc


# --- a. a forced rebuild reproduces the committed outputs ----------------------------

def test_forced_repro_reproduces_committed_outputs(scratch):
    ran = set(RUNNING.findall(scratch.logs["forced"]))
    assert ran == set(scratch.stages), f"stages not run by --force: {sorted(set(scratch.stages) - ran)}"
    rebuilt = set(files_under(scratch.root))
    committed = set(scratch.committed)
    assert committed, f"no committed files under {', '.join(OUTPUT_DIRS)}: nothing to compare"
    problems = [f"{rel}: committed but not rebuilt" for rel in sorted(committed - rebuilt)]
    problems += [f"{rel}: rebuilt but not committed" for rel in sorted(rebuilt - committed)]
    problems += [
        describe_difference(rel, scratch.committed[rel], (scratch.root / rel).read_bytes())
        for rel in sorted(committed & rebuilt)
        if (scratch.root / rel).read_bytes() != scratch.committed[rel]
    ]
    assert not problems, (
        f"{len(problems)} pipeline output(s) differ from the checkout after `dvc repro --force` "
        f"({scratch.seconds['forced']:.0f} s):\n" + "\n".join(problems)
    )


def test_forced_repro_reproduces_dvc_lock(scratch):
    """Cached outputs (data/processed) are compared through their hashes in dvc.lock."""
    main_lock = ROOT / "dvc.lock"
    if not main_lock.is_file():
        pytest.skip("the checkout has no dvc.lock yet (run make repro and commit it)")
    expected, actual = main_lock.read_bytes(), (scratch.root / "dvc.lock").read_bytes()
    assert actual == expected, (
        "dvc.lock after `dvc repro --force` differs from the checkout's (non-deterministic outputs, "
        "or a stale committed dvc.lock: run make repro and commit):\n"
        + describe_difference("dvc.lock", expected, actual)
    )


# --- b. a second repro is a no-op -----------------------------------------------------

def test_second_repro_is_a_noop(scratch):
    before = {rel: (scratch.root / rel).read_bytes() for rel in files_under(scratch.root)}
    lock_before = (scratch.root / "dvc.lock").read_bytes()
    log = scratch.repro("second")
    assert not RUNNING.findall(log) and not RESTORED.findall(log), f"second repro ran stages:\n{log}"
    assert set(SKIPPED.findall(log)) == set(scratch.stages), log
    status = scratch.status()
    assert status == {}, f"dvc status after two repros: {status}"
    assert "Data and pipelines are up to date." in scratch.dvc("status").stdout
    after = {rel: (scratch.root / rel).read_bytes() for rel in files_under(scratch.root)}
    assert after == before and (scratch.root / "dvc.lock").read_bytes() == lock_before


# --- c. one parameter change reruns only the stages that list it ----------------------

def test_param_change_reruns_only_its_stages(scratch):
    lock = lock_stages(scratch.root)
    chosen = choose_param(stage_params(lock), prefer=model_stages(lock))
    if chosen is None:
        pytest.skip("no stage lists a numeric or boolean parameter in params.yaml to change")
    key, value, users = chosen
    new = nudge(value)
    set_param(scratch.root / PARAMS_FILE, key, new)

    status = scratch.status()
    assert status_stages(status) == users, (
        f"after {key}: {value} -> {new}, dvc status reports {sorted(status_stages(status))}; "
        f"stages listing {key}: {sorted(users)}"
    )
    for stage in users:
        entry = json.dumps(status.get(f"dvc.yaml:{stage}", status.get(stage)))
        assert key.split(".")[0] in entry, f"{stage}: status does not name the changed parameter: {entry}"

    log = scratch.repro("param")
    ran = set(RUNNING.findall(log)) | set(RESTORED.findall(log))
    allowed = users | descendants(lock, users)
    assert users <= ran, f"stages listing {key} did not rerun: {sorted(users - ran)}"
    assert ran <= allowed, f"stages rerun without cause after changing {key}: {sorted(ran - allowed)}"
    assert scratch.status() == {}
    new_lock = stage_params(lock_stages(scratch.root))
    assert all(new_lock[s][key] == new for s in users)


# --- d. source notebooks are committed clean ---------------------------------------------

def test_source_notebooks_carry_no_outputs(pipeline_env_for):
    folder = ROOT / "notebooks"
    sources = [p for p in folder.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts] if folder.is_dir() else []
    if not sources:
        pytest.skip("notebooks/ holds no notebooks yet")
    result = subprocess.run(
        [str(BIN / "pimh"), "nb", "check-clean"], cwd=ROOT, env=pipeline_env_for(ROOT), capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{len(sources)} notebook(s)" in result.stdout


# --- e. dvc.yaml follows the conventions ------------------------------------------------

def test_dvc_yaml_conventions(main_stages):
    from dvc.repo import Repo
    from dvc.stage import PipelineStage

    doc = yaml.safe_load((ROOT / "dvc.yaml").read_text(encoding="utf-8"))
    problems: list[str] = []
    all_outs: list[str] = []
    with Repo(str(ROOT)) as repo:
        stages = [s for s in repo.index.stages if isinstance(s, PipelineStage)]
        assert sorted(s.name for s in stages) == main_stages
        for stage in stages:
            deps = [d.def_path for d in stage.deps if not hasattr(d, "params")]
            has_params = any(getattr(d, "params", None) for d in stage.deps)
            outs = {o.def_path: bool(o.use_cache) for o in stage.outs}
            all_outs += outs
            problems += papermill_problems(stage.name, stage.cmd, deps, outs, has_params)
    problems += top_level_problems(doc, all_outs)
    assert not problems, "dvc.yaml breaks the pipeline conventions (docs/ARCHITECTURE.md section 8):\n" + "\n".join(
        problems
    )


# --- the harness's own logic (runs even without stages) ---------------------------------

GOOD_CMD = (
    "mkdir -p reports/notebooks/wave1 && papermill notebooks/02-model.ipynb reports/notebooks/wave1/02-model.ipynb "
    "-k pimh-analysis --cwd . --no-progress-bar --log-level WARNING -y '{wave: wave1, alpha: 0.05}' "
    "&& pimh nb scrub reports/notebooks/wave1/02-model.ipynb"
)
GOOD_OUTS = {"reports/notebooks/wave1/02-model.ipynb": False, "data/processed/wave1/x.parquet": True}


def test_harness_accepts_conventional_stage():
    assert papermill_problems("model", GOOD_CMD, ["notebooks/02-model.ipynb"], GOOD_OUTS, True) == []


@pytest.mark.parametrize(
    "edit, expected",
    [
        (lambda c: c.replace("-k pimh-analysis", "-k python3"), "-k pimh-analysis"),
        (lambda c: c.replace("--cwd . ", ""), "--cwd ."),
        (lambda c: c.replace("--no-progress-bar ", ""), "--no-progress-bar"),
        (lambda c: c.replace("-y '{wave: wave1, alpha: 0.05}'", "-p wave wave1 -p alpha 0.05"), "never -p"),
        (lambda c: c.replace("alpha: 0.05", "alphas: [0.05, 0.1]"), "scalars"),
        (lambda c: c.split(" && pimh")[0], "pimh nb scrub"),
    ],
)
def test_harness_rejects_broken_commands(edit, expected):
    problems = papermill_problems("model", edit(GOOD_CMD), ["notebooks/02-model.ipynb"], GOOD_OUTS, True)
    assert any(expected in p for p in problems), problems


def test_harness_checks_deps_and_cache_flags():
    outs = {**GOOD_OUTS, "reports/tables/wave1": True, "data/processed/wave1/x.parquet": False}
    problems = papermill_problems("model", GOOD_CMD, [], outs, True)
    assert any("not listed in deps" in p for p in problems)
    assert any("reports/tables/wave1 is under reports/ but cached" in p for p in problems)
    assert any("data/processed/wave1/x.parquet is under data/processed/ but not cached" in p for p in problems)


SYNTHETIC_LOCK = {
    "clean@wave1": {"deps": [{"path": "data/raw/wave1"}], "outs": [{"path": "data/processed/wave1"}],
                    "params": {"params.yaml": {"clean": {"min_progress": 50}}}},
    "model": {"deps": [{"path": "data/processed/wave1/respondents.parquet"}], "outs": [{"path": "reports/tables/wave1/m.csv"}],
              "params": {"params.yaml": {"models.barriers.alpha": 0.05, "models.barriers.formula": "y ~ x"}}},
    "site": {"deps": [{"path": "reports/tables"}], "outs": [{"path": "reports/site"}], "params": {}},
    "interviews": {"deps": [{"path": "data/raw/interviews"}], "outs": [{"path": "reports/tables/interviews"}],
                   "params": {"params.yaml": {"interviews.min_segments": 2}}},
    "barriers": {"deps": [{"path": "src/pimh_analysis/models/likert.py"}], "outs": [{"path": "reports/tables/b"}],
                 "params": {"params.yaml": {"barriers": {"seed": 7, "formula": "y ~ x", "robust": True}}}},
}


def test_harness_top_level_metrics_and_plots():
    outs = ["reports/metrics/audit.json", "reports/figures/interviews", "data/processed/wave1"]
    assert len(top_level_problems({}, outs)) == 2
    assert top_level_problems({"metrics": ["reports/metrics/audit.json"], "plots": [{"x.csv": {}}]}, outs) == []
    assert top_level_problems({}, ["data/processed/wave1"]) == []


def test_harness_param_choice_and_dag():
    params = stage_params(SYNTHETIC_LOCK)
    assert params["clean@wave1"] == {"clean.min_progress": 50}
    assert model_stages(SYNTHETIC_LOCK) == {"model", "barriers"}
    assert choose_param(params, prefer={"model"}) == ("models.barriers.alpha", 0.05, {"model"})
    assert choose_param(params, prefer={"barriers"}) == ("barriers.seed", 7, {"barriers"})
    assert choose_param(params)[0] == "barriers.seed"  # no preference: fewest stages, then name
    assert choose_param({"a": {"x.formula": "y ~ x"}}) is None
    assert descendants(SYNTHETIC_LOCK, {"clean@wave1"}) == {"model", "site"}
    assert descendants(SYNTHETIC_LOCK, {"interviews"}) == {"site"}
    assert descendants(SYNTHETIC_LOCK, {"site"}) == set()
    assert nudge(0.05) == 0.025 and nudge(0.95) == 0.975 and nudge(3) == 4 and nudge(True) is False
    assert status_stages({"dvc.yaml:model": [], "clean@wave1": []}) == {"model", "clean@wave1"}


def test_harness_set_param_keeps_other_keys(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text("# comment\nmodels:\n  barriers:\n    alpha: 0.05  # level\n    formula: \"y ~ x\"\nwaves: [wave1]\n")
    set_param(path, "models.barriers.alpha", 0.025)
    text = path.read_text()
    assert yaml.safe_load(text) == {"models": {"barriers": {"alpha": 0.025, "formula": "y ~ x"}}, "waves": ["wave1"]}
    assert "# comment" in text and "# level" in text
