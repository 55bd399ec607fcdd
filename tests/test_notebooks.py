"""pimh_analysis.notebooks and ``pimh nb``, on notebooks executed for real with papermill."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from pimh_analysis import cli, notebooks, paths

KERNEL = "pimh-analysis"
PAPERMILL = Path(sys.executable).with_name("papermill")

SOURCE_CELLS = [
    ("markdown", "# Scrub fixture\nA small notebook run twice by papermill.", []),
    ("code", "wave = 'wave1'\nalpha = 0.05", ["parameters"]),
    ("code", "import warnings\nimport numpy as np\nprint('wave', wave, 'alpha', alpha)\n"
             "warnings.warn('a warning from the cell itself')\nnp.mean([])", []),
    ("code", "from pimh_analysis import paths\nprint(paths.PACKAGE_DIR)\nprint(object())", []),
    ("code", "import pandas as pd\npd.DataFrame({'n': [1, 2], 'pct': [33.3, 66.7]})", []),
]

TIMING_KEYS = {"start_time", "end_time", "duration", "execution", "ExecuteTime"}


def make_source(path: Path) -> Path:
    nb = nbformat.v4.new_notebook()
    for i, (kind, source, tags) in enumerate(SOURCE_CELLS):
        make = nbformat.v4.new_code_cell if kind == "code" else nbformat.v4.new_markdown_cell
        nb.cells.append(make(source, metadata={"tags": tags}, id=f"cell-{i}"))
    nb.metadata["kernelspec"] = {"name": KERNEL, "display_name": "Python (pimh-analysis)", "language": "python"}
    nbformat.write(nb, str(path))
    return path


def run_papermill(workdir: Path) -> Path:
    """Execute the fixture notebook in ``workdir`` as a pipeline stage would."""
    workdir.mkdir(parents=True, exist_ok=True)
    make_source(workdir / "source.ipynb")
    cmd = [str(PAPERMILL), "source.ipynb", "executed.ipynb", "-k", KERNEL, "--cwd", ".",
           "--no-progress-bar", "--log-level", "WARNING", "-y", "{wave: wave2, alpha: 0.1}"]
    result = subprocess.run(cmd, cwd=workdir, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"papermill failed:\n{result.stderr}"
    return workdir / "executed.ipynb"


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory) -> tuple[Path, Path]:
    """The same notebook executed twice (in two folders, same relative paths); pristine copies."""
    base = tmp_path_factory.mktemp("papermill-runs")
    return run_papermill(base / "run1"), run_papermill(base / "run2")


@pytest.fixture
def runs(two_runs, tmp_path) -> tuple[Path, Path]:
    """Writable copies of the two executed notebooks for one test."""
    copies = []
    for i, src in enumerate(two_runs, start=1):
        dst = tmp_path / f"run{i}" / "executed.ipynb"
        dst.parent.mkdir()
        shutil.copyfile(src, dst)
        copies.append(dst)
    return copies[0], copies[1]


def all_keys(obj) -> set[str]:
    if isinstance(obj, dict):
        return set(obj) | {k for v in obj.values() for k in all_keys(v)}
    if isinstance(obj, list):
        return {k for v in obj for k in all_keys(v)}
    return set()


def output_texts(nb) -> str:
    return json.dumps([c.get("outputs", []) for c in nb.cells])


# --- scrub ---------------------------------------------------------------------------

def test_raw_papermill_runs_differ(runs):
    """Without scrubbing, two runs are not byte-identical (else the next test proves nothing)."""
    a, b = runs
    assert a.read_bytes() != b.read_bytes()
    raw = json.loads(a.read_text())
    assert {"start_time", "end_time", "duration"} <= set(raw["metadata"]["papermill"])
    assert "execution" in raw["cells"][1]["metadata"]


def test_scrubbed_runs_are_byte_identical(runs):
    a, b = runs
    assert notebooks.scrub_file(a) and notebooks.scrub_file(b)
    assert a.read_bytes() == b.read_bytes()


def test_scrub_removes_volatile_content(runs):
    a, _ = runs
    notebooks.scrub_file(a)
    nb = json.loads(a.read_text())
    assert not TIMING_KEYS & all_keys(nb), TIMING_KEYS & all_keys(nb)
    texts = output_texts(nbformat.reads(a.read_text(), as_version=4))
    assert "ipykernel_" not in texts and "<ipykernel>/" in texts
    assert "site-packages/" not in texts.replace("<site-packages>/", "")
    assert "<site-packages>/numpy/" in texts
    assert str(paths.PACKAGE_DIR) not in texts and "src/pimh_analysis" in texts
    assert "object at 0x0>" in texts
    injected = [c for c in nb["cells"] if "injected-parameters" in c["metadata"].get("tags", [])]
    assert [c["id"] for c in injected] == ["injected-parameters"]


def test_scrub_keeps_parameters_kernel_outputs_and_counts(runs):
    a, _ = runs
    before = notebooks.read(a)
    notebooks.scrub_file(a)
    after = notebooks.read(a)
    assert after.metadata.papermill.parameters == {"wave": "wave2", "alpha": 0.1}
    assert after.metadata.papermill.input_path == "source.ipynb"
    assert after.metadata.kernelspec == before.metadata.kernelspec
    assert after.metadata.language_info == before.metadata.language_info
    assert [c.source for c in after.cells] == [c.source for c in before.cells]
    assert [c.get("execution_count") for c in after.cells] == [c.get("execution_count") for c in before.cells]
    assert [len(c.get("outputs", [])) for c in after.cells] == [len(c.get("outputs", [])) for c in before.cells]
    html = [o for c in after.cells for o in c.get("outputs", []) if "text/html" in o.get("data", {})]
    assert html and "66.7" in html[0]["data"]["text/html"]
    nbformat.validate(after)


def test_scrub_is_idempotent_and_stably_formatted(runs):
    a, _ = runs
    notebooks.scrub_file(a)
    first = a.read_bytes()
    assert notebooks.scrub_file(a) is False
    assert a.read_bytes() == first
    text = first.decode("utf-8")
    assert text.endswith("}\n") and not text.endswith("\n\n")
    assert text.startswith('{\n "cells": [\n  {\n')  # nbformat layout: sorted keys, indent=1
    assert text == notebooks.dumps(nbformat.reads(text, as_version=4))


def test_normalise_text_rules():
    roots = ["/home/me/clone", "/srv/copy"]
    text = (
        "/tmp/ipykernel_4242/123456.py:2: UserWarning: x\n"
        "/opt/venv/lib/python3.11/site-packages/scipy/stats/_x.py:9: RuntimeWarning: y\n"
        "/home/me/clone/src/pimh_analysis/stats.py:10: FutureWarning: z\n"
        "<Figure at 0x7f3a2b1c9d50> /srv/copy/reports/tables/t.csv /srv/copyist/keep\n"
    )
    assert notebooks.normalise_text(text, roots) == (
        "<ipykernel>/123456.py:2: UserWarning: x\n"
        "<site-packages>/scipy/stats/_x.py:9: RuntimeWarning: y\n"
        "src/pimh_analysis/stats.py:10: FutureWarning: z\n"
        "<Figure at 0x0> reports/tables/t.csv /srv/copyist/keep\n"
    )
    assert notebooks.normalise_text("plain output 0x1F", roots) == "plain output 0x1F"


def test_read_and_dumps_agree_with_nbformat(runs):
    """notebooks.read/dumps (no nbformat import) give nbformat's reader's and writer's results."""
    repo = Path(__file__).resolve().parents[1]
    files = list(runs) + sorted((repo / "reports" / "notebooks").rglob("*.ipynb")) + sorted(
        (repo / "notebooks").glob("*.ipynb"))
    for path in files:
        text = path.read_text(encoding="utf-8")
        ours, theirs = notebooks.reads(text), nbformat.reads(text, as_version=4)
        assert ours == theirs, path
        expected = nbformat.writes(theirs)
        assert notebooks.dumps(ours) == (expected if expected.endswith("\n") else expected + "\n"), path
        assert notebooks.dumps(theirs) == notebooks.dumps(ours)


def test_nb_commands_do_not_import_nbformat(runs):
    """`pimh nb scrub` runs after every notebook stage: it must stay cheap (nbformat's import alone is ~1 s)."""
    a, _ = runs
    code = ("import sys\nfrom pimh_analysis import cli\ncli.main(['nb', 'scrub', sys.argv[1]])\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('nbformat', 'jsonschema')))")
    out = subprocess.run([sys.executable, "-c", code, str(a)], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "[]", out


# --- strip and check-clean -----------------------------------------------------------

@pytest.fixture
def repo(tmp_path, monkeypatch) -> Path:
    """A minimal repository root (PIMH_ROOT) with a notebooks/ folder."""
    (tmp_path / "dvc.yaml").write_text("stages: {}\n")
    (tmp_path / "params.yaml").write_text("{}\n")
    (tmp_path / "notebooks").mkdir()
    monkeypatch.setenv("PIMH_ROOT", str(tmp_path))
    return tmp_path


def test_strip_clears_outputs_and_counts(runs):
    a, _ = runs
    assert notebooks.unclean_cells(notebooks.read(a))
    assert notebooks.strip_file(a)
    nb = notebooks.read(a)
    assert notebooks.unclean_cells(nb) == []
    assert all(c.outputs == [] and c.execution_count is None for c in nb.cells if c.cell_type == "code")
    assert "papermill" not in nb.metadata and not TIMING_KEYS & all_keys(json.loads(a.read_text()))
    assert any("parameters" in c.metadata.get("tags", []) for c in nb.cells)
    assert nb.metadata.kernelspec.name == KERNEL
    nbformat.validate(nb)
    assert notebooks.strip_file(a) is False


def test_check_clean_cli(repo, runs, capsys):
    a, _ = runs
    clean = repo / "notebooks" / "01-clean.ipynb"
    make_source(clean)
    assert cli.main(["nb", "check-clean"]) == 0
    assert "1 notebook(s) carry no outputs" in capsys.readouterr().out

    dirty = repo / "notebooks" / "02-dirty.ipynb"
    shutil.copyfile(a, dirty)
    assert cli.main(["nb", "check-clean"]) == 1
    out = capsys.readouterr().out
    assert "notebooks/02-dirty.ipynb" in out and "01-clean" not in out.split("fix with")[0]
    assert "execution count" in out and "output" in out

    assert cli.main(["nb", "strip", str(dirty)]) == 0
    assert "strip: notebooks/02-dirty.ipynb" in capsys.readouterr().out
    assert cli.main(["nb", "check-clean"]) == 0


def test_scrub_cli_reports_and_rejects_missing(repo, runs, capsys):
    a, b = runs
    assert cli.main(["nb", "scrub", str(a.parent), str(b)]) == 0
    out = capsys.readouterr().out
    assert out.count("scrub: ") == 2
    assert cli.main(["nb", "scrub", "-v", str(a)]) == 0
    assert "(unchanged)" in capsys.readouterr().out
    assert cli.main(["nb", "scrub", str(repo / "missing.ipynb")]) == 2


# --- nbval sanitisers agree with scrub --------------------------------------------------

def test_nbval_sanitize_cfg_maps_raw_and_scrubbed_output_alike():
    """A fresh nbval run (raw text) and a committed, scrubbed notebook compare equal."""
    import re

    from nbval.plugin import get_sanitize_patterns

    cfg = Path(__file__).with_name("nbval_sanitize.cfg").read_text(encoding="utf-8")
    patterns = get_sanitize_patterns(cfg)
    assert len(patterns) >= len(notebooks.TEXT_RULES)

    def sanitize(text: str) -> str:
        for regex, repl in patterns:
            text = re.sub(regex, repl, text)
        return text

    raw = (
        "/tmp/ipykernel_4242/123456.py:2: UserWarning: x\n"
        "/somewhere/.venv/lib/python3.11/site-packages/scipy/stats/_x.py:9: RuntimeWarning: y\n"
        "/elsewhere/clone/src/pimh_analysis/stats.py:10: FutureWarning: z\n"
        "<matplotlib.lines.Line2D at 0x7f3a2b1c9d50>\n"
    )
    committed = notebooks.normalise_text(raw.replace("/elsewhere/clone/", "/main/"), ["/main"])
    assert committed != raw
    assert sanitize(raw) == sanitize(committed)
    assert sanitize("Wall time: 1.2 s") == sanitize("Wall time: 3 ms")
    assert sanitize("n = 41 (33.3%)") == "n = 41 (33.3%)"


def test_scrub_merges_consecutive_streams_of_the_same_name():
    import nbformat

    from pimh_analysis.notebooks import scrub

    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("print('a'); print('b')")
    cell.outputs = [
        nbformat.v4.new_output("stream", name="stdout", text="a\n"),
        nbformat.v4.new_output("stream", name="stdout", text="b\n"),
        nbformat.v4.new_output("stream", name="stderr", text="w\n"),
        nbformat.v4.new_output("execute_result", data={"text/plain": "1"}, execution_count=1),
        nbformat.v4.new_output("stream", name="stdout", text="c\n"),
    ]
    nb.cells = [cell]
    out = scrub(nb, roots=[]).cells[0].outputs
    assert [(o.output_type, o.get("name"), o.get("text")) for o in out] == [
        ("stream", "stdout", "a\nb\n"), ("stream", "stderr", "w\n"), ("execute_result", None, None), ("stream", "stdout", "c\n")]
