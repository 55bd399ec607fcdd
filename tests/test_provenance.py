"""The provenance manifest: complete, consistent with dvc.lock and with the notebooks, deterministic."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import _sitekit
from pimh_analysis import provenance

PIMH = str(Path(sys.executable).parent / "pimh")


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Path:
    return _sitekit.built_repo(tmp_path_factory)


@pytest.fixture(scope="module")
def manifest(repo) -> dict:
    return json.loads((repo / "reports" / "provenance.json").read_text())


def test_dir_md5_is_dvcs_tree_hash(repo):
    """Our directory hash equals the one DVC wrote into dvc.lock for every directory out."""
    lock = provenance.load_lock(repo / "dvc.lock")
    checked = 0
    for stage in lock.values():
        for path, out in stage["outs"].items():
            if out["md5"].endswith(".dir") and (repo / path).exists():
                assert provenance.dir_md5(repo / path) == {k: out[k] for k in ("md5", "nfiles", "size")}, path
                checked += 1
    assert checked >= 6


def test_every_table_and_figure_is_in_the_manifest(repo, manifest):
    assert provenance.missing_outputs(manifest, repo) == []
    on_disk = {p.relative_to(repo).as_posix() for d in ("tables", "figures") for p in (repo / "reports" / d).rglob("*")
               if p.is_file()}
    assert on_disk and on_disk <= set(manifest["outputs"])
    assert manifest["warnings"] == []


def test_manifest_hashes_and_params_match_dvc_lock(repo, manifest):
    assert provenance.compare_with_lock(manifest, repo / "dvc.lock") == []
    # and the file hashes are the files' own
    for path, entry in manifest["outputs"].items():
        assert entry["md5"] == provenance.file_md5(repo / path), path


def test_comparison_with_dvc_lock_can_fail(repo, manifest, tmp_path):
    lock = yaml.safe_load((repo / "dvc.lock").read_text())
    stage = lock["stages"]["tables@wave1"]
    stage["deps"][0]["md5"] = "0" * 32
    stage["params"]["params.yaml"]["disclosure.min_cell"] = 3
    bad = tmp_path / "dvc.lock"
    bad.write_text(yaml.safe_dump(lock))
    problems = provenance.compare_with_lock(manifest, bad)
    assert any("input" in p and "0" * 32 in p for p in problems)
    assert any("params" in p for p in problems)
    manifest2 = json.loads(json.dumps(manifest))
    manifest2["outputs"]["reports/tables/reproduction_audit.csv"]["stage_output"]["md5"] = "f" * 32
    assert any("reproduction_audit.csv" in p for p in provenance.compare_with_lock(manifest2, repo / "dvc.lock"))


def test_each_output_names_the_cell_that_wrote_it(repo, manifest):
    for path, entry in manifest["outputs"].items():
        if entry["kind"] not in ("table", "figure"):
            continue
        nb = entry["notebook"]
        assert nb and nb["cell"], path
        cells = json.loads((repo / nb["executed"]).read_text())["cells"]
        cell = cells[nb["cell"]["index"]]
        assert cell["id"] == nb["cell"]["id"]
        text = "".join("".join(o.get("text", "")) for o in cell["outputs"])
        assert f"[pimh] wrote {path}" in text
        assert nb["source"] in ("notebooks/10-tables.ipynb", "notebooks/90-audit.ipynb")
    region = manifest["outputs"]["reports/tables/wave2demo/t01_region.csv"]
    assert region["notebook"]["parameters"] == {"wave": "wave2demo"}
    assert region["stage"] == "tables@wave2demo"
    assert region["params"] == {"params.yaml": {"disclosure.min_cell": 5}}
    assert {d["path"] for d in region["inputs"]} >= {"data/raw/wave2demo", "notebooks/10-tables.ipynb"}
    assert manifest["package"] == {"name": "pimh-analysis", "version": "0.1.0"}


def test_register_ids_from_audit_declared_and_only_for_the_published_reproduction(manifest):
    out = manifest["outputs"]
    t01 = out["reports/tables/wave1/t01_region.csv"]
    assert t01["register_ids"] == ["DEM-REGION-LDN", "DEM-REGION-NI"]
    assert t01["register_sources"]["audit"] == ["DEM-REGION-LDN", "DEM-REGION-NI"]
    assert t01["register_sources"]["declared"] == ["DEM-REGION-LDN", "DEM-REGION-NI"]
    assert out["reports/tables/wave1/t01_region.tex"]["register_ids"] == t01["register_ids"]
    # a bare id in the audit resolves to the published wave, not to wave2demo
    assert out["reports/tables/wave1/t02_pay_band.csv"]["register_ids"] == ["DEM-BAND-7"]
    assert t01["audit_status"] == {"DEM-REGION-LDN": "reproduced", "DEM-REGION-NI": "reproduced"}
    assert out["reports/tables/wave1/t02_pay_band.csv"]["audit_status"] == {"DEM-BAND-7": "differs"}
    assert out["reports/figures/wave1/f01_region.png"]["register_ids"] == ["DEM-FIG-REGION"]
    new_wave = out["reports/tables/wave2demo/t01_region.csv"]
    assert new_wave["reproduces_published"] is False and new_wave["register_ids"] == []
    assert new_wave["register_sources"]["declared"] == ["DEM-REGION-LDN", "DEM-REGION-NI"]
    assert out["reports/tables/wave2demo/t02_pay_band.csv"]["register_ids"] == []
    # a register_ids column in the table CSV (as the tables code writes it) reaches all formats
    for fmt in ("csv", "html", "tex"):
        assert out[f"reports/tables/wave1/t02_pay_band.{fmt}"]["register_sources"]["table"] == ["DEM-BAND-7"]
    assert out["reports/tables/wave2demo/t02_pay_band.csv"]["register_sources"]["table"] == ["DEM-BAND-7"]


def test_manifest_is_deterministic_and_has_no_absolute_paths(repo, manifest, tmp_path):
    copy = _sitekit.copy_repo(repo, tmp_path / "elsewhere")
    again = _sitekit.run([PIMH, "site", "build", "--no-notebooks"], copy)
    assert again.returncode == 0, again.stderr
    assert (copy / "reports" / "provenance.json").read_bytes() == (repo / "reports" / "provenance.json").read_bytes()
    text = (repo / "reports" / "provenance.json").read_text()
    assert str(repo) not in text and "/tmp" not in text and "/work" not in text


def test_site_verify_command(repo, tmp_path):
    assert _sitekit.run([PIMH, "site", "verify"], repo).returncode == 0
    copy = _sitekit.copy_repo(repo, tmp_path / "repo")
    with open(copy / "reports" / "tables" / "wave1" / "t02_pay_band.csv", "a") as fh:
        fh.write("Band 9,0,34,0\n")
    (copy / "reports" / "figures" / "wave1" / "extra.csv").write_text("a\n1\n")
    r = _sitekit.run([PIMH, "site", "verify"], copy)
    assert r.returncode == 1
    assert "t02_pay_band.csv: md5 in the manifest differs" in r.stdout
    assert "reports/figures/wave1/extra.csv: not in the provenance manifest" in r.stdout


REAL = _sitekit.REPO


@pytest.mark.skipif(not (REAL / "reports" / "provenance.json").is_file(), reason="the site stage has not run in this checkout yet")
def test_repo_manifest_is_complete_and_matches_dvc_lock():
    man = provenance.load_manifest(REAL / "reports" / "provenance.json")
    assert provenance.missing_outputs(man, REAL) == []
    assert provenance.compare_with_lock(man, REAL / "dvc.lock") == []
    for path, entry in man["outputs"].items():
        assert entry["md5"] == provenance.file_md5(REAL / path), f"{path} changed since the site was built"
