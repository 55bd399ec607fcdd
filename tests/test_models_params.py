"""Changing a model's predictors in params.yaml makes only the model stages stale.

The pipeline tests (test_pipeline.py) rerun the DAG after a numeric parameter
changes; this test covers the change a modeller makes most often, the right-hand
side of a model formula (a string), and asks DVC itself which stages it would
rerun.  Besides the model stages only ``site`` may go stale, because its provenance
manifest records every parameter.  (Stages that read the models' outputs follow once
those outputs change, as test_pipeline's rebuild shows.)  No rebuild is needed:
``dvc status`` runs on a copy of the checkout whose processed data are up to date.
"""

from __future__ import annotations

import json

import pytest
from test_pipeline import ROOT, _git, dvc, lock_stages, model_stages, set_param, stage_params, status_stages


@pytest.fixture(scope="module")
def repo(copy_repo, pipeline_env_for, tmp_path_factory):
    built = ("data/processed", "data/restricted")  # the cleaning stages' outputs (git-ignored)
    if not (ROOT / "dvc.lock").is_file() or not all((ROOT / d).is_dir() for d in built):
        pytest.skip("the checkout has not been built yet (run make repro)")
    root = tmp_path_factory.mktemp("predictors") / "repo"
    copy_repo(ROOT, root, extra_dirs=built, untracked=False)
    _git(root, "init", "-q")
    _git(root, "add", "-A")
    _git(root, "commit", "-q", "-m", "scratch copy")
    env = pipeline_env_for(root)
    dvc(env, root, "commit", "--force")  # the copied outputs into the copy's empty cache (hashes as in dvc.lock)
    status = json.loads(dvc(env, root, "status", "--json").stdout or "{}")
    assert status == {}, f"the copied checkout is not up to date before the edit: {sorted(status_stages(status))}"
    return root, env


@pytest.mark.parametrize("block", ["barriers", "supervision"])
def test_changing_a_predictor_makes_only_that_models_stages_stale(repo, block):
    root, env = repo
    lock = lock_stages(root)
    params = stage_params(lock)
    key = f"{block}.formula"
    users = {stage for stage, keys in params.items() if key in keys}
    assert users, f"no stage lists {key} in dvc.lock"
    every_key = set(params["site"]) if "site" in params else set()
    recorders = {stage for stage, keys in params.items() if keys and set(keys) == every_key}  # provenance: all params
    fitted = users - recorders
    assert fitted <= model_stages(lock), f"non-model stages list {key}: {sorted(fitted - model_stages(lock))}"
    assert fitted == {s for s in lock if s.startswith(f"model_{block}@")}, sorted(users)

    before = (root / "params.yaml").read_text(encoding="utf-8")
    old = params[next(iter(users))][key]
    terms = [t.strip() for t in str(old).split("+")]
    assert len(terms) > 1, f"{key} has a single term; nothing to drop"
    new = " + ".join(terms[:-1])  # drop the last predictor
    try:
        set_param(root / "params.yaml", key, new)
        status = json.loads(dvc(env, root, "status", "--json").stdout or "{}")
    finally:
        (root / "params.yaml").write_text(before, encoding="utf-8")
    stale = status_stages(status)
    assert stale == users, f"after {key}: '{old}' -> '{new}', dvc status reports {sorted(stale)}; expected {sorted(users)}"
    for stage in users:
        assert key.split(".")[0] in json.dumps(status.get(f"dvc.yaml:{stage}", status.get(stage))), stage
