"""Every pipeline stage lists, as deps, every package module its notebook imports (transitively).

Without this, editing a module a notebook uses would not rerun the stage, and the
committed outputs would silently go stale.
"""

import re

import pytest
import yaml

from pimh_analysis import paths
from pimh_analysis.depgraph import notebook_modules


def _stages():
    spec = yaml.safe_load((paths.root() / "dvc.yaml").read_text(encoding="utf-8"))
    for name, stage in spec["stages"].items():
        body = stage.get("do", stage)
        cmd = body["cmd"]
        m = re.search(r"papermill (notebooks/\S+\.ipynb)", cmd)
        if m:
            yield name, m.group(1), [str(d) for d in body.get("deps", [])]


STAGES = list(_stages())


@pytest.mark.parametrize("name,notebook,deps", STAGES, ids=[s[0] for s in STAGES])
def test_stage_lists_every_module_its_notebook_imports(name, notebook, deps):
    needed = set(notebook_modules(paths.root() / notebook))
    listed = set(deps)
    assert notebook in listed, f"{name}: the notebook itself is not a dep"
    missing = sorted(needed - listed)
    assert not missing, f"{name}: imports but does not list {missing}"
    unused = sorted(d for d in listed if d.startswith("src/pimh_analysis/") and d.endswith(".py") and d not in needed)
    assert not unused, f"{name}: lists modules its notebook does not import: {unused}"


def test_every_notebook_has_a_stage():
    staged = {nb for _, nb, _ in STAGES}
    notebooks = {p.relative_to(paths.root()).as_posix() for p in (paths.root() / "notebooks").glob("*.ipynb")}
    assert notebooks == staged
