"""Survey waves: names, codebook versions, params.yaml editing, `pimh wave add`, the demo second wave.

`pimh wave add` is exercised in scratch copies of the repository (the git-tracked and
new files, ``PIMH_ROOT`` pointing at the copy), through the real command line.  The
end-to-end test (marked ``pipeline``) adds the demo export to a fresh-clone-like copy and
runs ``dvc repro``: the new wave's stages and its comparison run, no wave-1 stage does.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml
from scipy import stats as ss

from pimh_analysis import compare as C
from pimh_analysis import paths, waves
from pimh_analysis.instrument import load_codebook
from pimh_analysis.replica import ReplicaSpec
from pimh_analysis.replica.waves import DemoSpec, generate_demo, planted_changes, wave1_counts

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
DEMO_EXPORT = ROOT / "examples" / "demo-wave" / "qualtrics_export.csv"
DEMO_MAP = ROOT / "examples" / "demo-wave" / "column_map.yaml"
SHIPPED_DEMO = ROOT / "data" / "raw" / "wave2demo"


@pytest.fixture(scope="module")
def book():
    return load_codebook()


@pytest.fixture(scope="module")
def demo():
    return DemoSpec.load()


# --- names ------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["wave2", "national_2025", "W3", "wave2demo"])
def test_valid_wave_names(name):
    assert waves.check_wave_name(name) == name


@pytest.mark.parametrize("name", ["wave 2", "wave/2", "../wave2", "wave-2", "2025", "", "wave.2", "interviews",
                                  "compare", "x" * 41])
def test_invalid_wave_names_are_refused(name):
    with pytest.raises(waves.WaveError, match="invalid wave name"):
        waves.check_wave_name(name)


# --- codebook versions ---------------------------------------------------------------------------

def changes(**kw) -> waves.CodebookChanges:
    return waves.CodebookChanges.from_dict(kw)


def test_codebook_changes_need_items_and_reasons(book):
    with pytest.raises(waves.WaveError, match="reason"):
        changes(dropped=[{"item": "Q17"}])
    with pytest.raises(waves.WaveError, match="unknown key"):
        waves.CodebookChanges.from_dict({"removed": []})
    problems = changes(dropped=[{"item": "Q99", "reason": "x"}, {"item": "S1", "reason": "x"}],
                       added=[{"id": "Q18", "reason": "x"}]).check(book)
    assert any("Q99" in p for p in problems) and any("screening" in p for p in problems)
    assert any("already a wave-1 item" in p for p in problems)
    assert changes(dropped=[{"item": "Q17", "reason": "x"}]).absent_vars(book) == {"q17_mentoring_prereq"}


def plan_of(base, new, book):
    p = waves.item_plan(base, new, book, base_name="a", new_name="b")
    return p.set_index("item_id")


def test_item_plan_of_the_demo_wave(book, demo):
    new = waves.CodebookChanges.from_dict(demo.codebook_changes)
    p = plan_of(None, new, book)
    assert p.loc["Q17", "status"] == waves.LEFT_OUT and p.loc["Q17", "reason"].startswith("dropped in b")
    assert p.loc["Q13", "status"] == waves.COMPARED_FLAGGED and "reworded in b" in p.loc["Q13", "flag"]
    assert p.loc["N1", "status"] == waves.NEW_NOT_COMPARED and "not in the wave-1 codebook" in p.loc["N1", "reason"]
    assert p.loc["Q18", "status"] == waves.COMPARED and p.loc["Q43", "status"] == waves.COMPARED
    for item in ("S1", "S2", "Q7", "Q22", "Q46a"):
        assert p.loc[item, "status"] == waves.LEFT_OUT, item
    assert (p["reason"].str.len() > 0).eq(p["status"].isin((waves.LEFT_OUT, waves.NEW_NOT_COMPARED))).all()
    assert len(p) == len(book.item_ids) + 1


def test_item_plan_changed_options_and_dropped_filters(book):
    new = changes(dropped=[{"item": "Q18", "reason": "not asked"}],
                  reworded=[{"item": "Q43", "wording": "w", "options_changed": True, "reason": "new scale"}])
    p = plan_of(None, new, book)
    assert p.loc["Q43", "status"] == waves.LEFT_OUT and "changed answer options" in p.loc["Q43", "reason"]
    for item in ("Q19a", "Q19b", "Q19c", "Q19d", "Q19e"):  # asked only of the supervised (Q18 = Yes)
        assert p.loc[item, "status"] == waves.LEFT_OUT and "Q18" in p.loc[item, "reason"], item
    assert p.loc["Q19.2", "status"] == waves.COMPARED  # not filtered by Q18


def test_identical_rewording_in_both_waves_needs_no_flag(book):
    same = changes(reworded=[{"item": "Q13", "wording": "Funding for CPD", "reason": "x"}])
    other = changes(reworded=[{"item": "Q13", "wording": "Money for CPD", "reason": "x"}])
    assert plan_of(same, same, book).loc["Q13", "status"] == waves.COMPARED
    assert plan_of(same, other, book).loc["Q13", "status"] == waves.COMPARED_FLAGGED
    assert plan_of(same, None, book).loc["Q13", "status"] == waves.COMPARED_FLAGGED  # base reworded, new not


def test_flags_reach_every_result_row_of_the_item(book, demo):
    p = waves.item_plan(None, waves.CodebookChanges.from_dict(demo.codebook_changes), book)
    variables = C.variables_for(book, waves.shared_items(p), waves.item_flags(p))
    assert {v.var for v in variables if v.flag} == {"q13_cpd_funding"}
    assert not any(v.item_id in ("Q17", "N1", "Q22") for v in variables)


# --- params.yaml, edited round trip ----------------------------------------------------------------

PARAMS_SHAPES = [
    # the project's own layout: block list, comments above keys, later blocks
    "# header\n\n# Survey waves\nwaves:\n  - wave1\n\n# notebooks/02\ninterviews:\n  segments_format: csv   # csv or qdpx\n",
    # an existing comparison, flow-style entries, comments after the last items
    "waves:\n  - wave1   # published\n  - wave2\n\n# comparisons\ncompare:\n  wave1_vs_wave2: {base: wave1, new: wave2}"
    "   # demo\n\n# later\ncompare_settings:\n  alpha: 0.05\n  primary: \"q18_supervision + q43_no_funding\"\n",
    # dash at the margin, block-style comparison with a trailing comment
    "waves:\n- wave1\n- wave2\ncompare:\n  wave1_vs_wave2:\n    base: wave1\n    new: wave2\n  # more pairs here\n\nx: 1\n",
]


@pytest.mark.parametrize("text", PARAMS_SHAPES + [(ROOT / "params.yaml").read_text(encoding="utf-8")])
def test_add_to_params_keeps_every_line_and_comment(text):
    out = waves.add_to_params(text, "wave3demo", ("wave1_vs_wave3demo", "wave1", "wave3demo"))
    old_lines, new_lines = text.splitlines(), out.splitlines()
    it = iter(new_lines)
    assert all(any(line == n for n in it) for line in old_lines), out  # old lines kept, in order
    added = [line for line in new_lines if line not in old_lines]
    assert any("wave3demo" in line for line in added)
    parsed, before = yaml.safe_load(out), yaml.safe_load(text)
    assert parsed["waves"] == before["waves"] + ["wave3demo"]
    assert parsed["compare"]["wave1_vs_wave3demo"] == {"base": "wave1", "new": "wave3demo"}
    assert {k: v for k, v in parsed.items() if k not in ("waves", "compare")} == \
        {k: v for k, v in before.items() if k not in ("waves", "compare")}
    assert all(c in out for c in re.findall(r"#[^\n]*", text))
    # the new wave goes right after the last listed wave, before the comments that followed it
    waves_block = out.split("compare:")[0] if "compare:" in text else out
    assert waves_block.index("wave3demo") > waves_block.index(before["waves"][-1])


def test_add_to_params_keeps_flow_style_entries():
    out = waves.add_to_params(PARAMS_SHAPES[1], "wave3", ("wave1_vs_wave3", "wave1", "wave3"))
    assert "  wave1_vs_wave3: {base: wave1, new: wave3}\n" in out


def test_add_to_params_refuses_duplicates():
    with pytest.raises(waves.WaveError, match="already"):
        waves.add_to_params(PARAMS_SHAPES[1], "wave2", None)
    with pytest.raises(waves.WaveError, match="already has a comparison"):
        waves.add_to_params(PARAMS_SHAPES[1], "wave9", ("wave1_vs_wave2", "wave1", "wave9"))


# --- pimh wave add, in scratch copies -----------------------------------------------------------------

def snapshot(root: Path) -> dict[str, str]:
    """Hash of every file under data/raw and of params.yaml."""
    files = sorted(p for p in (root / "data" / "raw").rglob("*") if p.is_file()) + [root / "params.yaml"]
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


@pytest.fixture
def scratch(tmp_path, copy_repo, pipeline_env_for):
    root = tmp_path / "repo"
    copy_repo(ROOT, root)
    return root, pipeline_env_for(root)


def pimh(root: Path, env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "pimh"), *args], cwd=root, env=env, capture_output=True, text=True,
                          timeout=600)


def test_wave_add_copies_the_export_and_edits_params_keeping_comments(scratch):
    root, env = scratch
    before = (root / "params.yaml").read_text(encoding="utf-8")
    raw_before = snapshot(root)
    r = pimh(root, env, "wave", "add", str(DEMO_EXPORT), "--wave", "wave3demo", "--format", "qualtrics",
             "--map", str(DEMO_MAP))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Result: VALID" in r.stdout and "added wave 'wave3demo'" in r.stdout and "make repro" in r.stdout
    folder = root / "data" / "raw" / "wave3demo"
    assert (folder / "qualtrics_export.csv").read_bytes() == DEMO_EXPORT.read_bytes()
    assert (folder / "column_map.yaml").read_bytes() == DEMO_MAP.read_bytes()
    wave = waves.load_wave("wave3demo", folder)
    assert (wave.format, wave.file, wave.map, wave.published_reproduction) == (
        "qualtrics", "qualtrics_export.csv", "column_map.yaml", False)
    assert set(wave.changes.dropped_items) == {"Q17"} and set(wave.changes.reworded_items) == {"Q13"}
    assert set(wave.changes.added_items) == {"N1"}
    after = (root / "params.yaml").read_text(encoding="utf-8")
    assert all(line in after.splitlines() for line in before.splitlines())
    assert all(c in after for c in re.findall(r"#[^\n]*", before))
    params = yaml.safe_load(after)
    first = yaml.safe_load(before)["waves"][0]
    assert params["waves"][-1] == "wave3demo"
    assert params["compare"][f"{first}_vs_wave3demo"] == {"base": first, "new": "wave3demo"}
    # nothing else under data/raw changed
    now = snapshot(root)
    assert {k: v for k, v in now.items() if not k.startswith("data/raw/wave3demo/") and k != "params.yaml"} == \
        {k: v for k, v in raw_before.items() if k != "params.yaml"}
    # a second add of the same name is refused
    r2 = pimh(root, env, "wave", "add", str(DEMO_EXPORT), "--wave", "wave3demo", "--map", str(DEMO_MAP))
    assert r2.returncode == 2 and "already exists" in r2.stderr


@pytest.mark.parametrize("fmt", ["csv", "sav"])
def test_wave_add_detects_canonical_csv_and_spss_exports(scratch, tmp_path, fmt):
    root, env = scratch
    source = ROOT / "data" / "raw" / "wave1" / "survey.csv"
    if fmt == "csv":
        export = tmp_path / "export.csv"
        export.write_bytes(source.read_bytes())
    else:
        from pimh_analysis.writers import write_sav

        frame = pd.read_csv(source, dtype=str, keep_default_na=False, na_values=[""])
        export = write_sav(frame, tmp_path / "export.sav")
    r = pimh(root, env, "wave", "add", str(export), "--wave", f"again_{fmt}", "--no-compare", "--label", "A re-run")
    assert r.returncode == 0, r.stdout + r.stderr
    wave = waves.load_wave(f"again_{fmt}", root / "data" / "raw" / f"again_{fmt}")
    assert (wave.format, wave.file, wave.map, wave.label) == (fmt, export.name, None, "A re-run")
    params = yaml.safe_load((root / "params.yaml").read_text(encoding="utf-8"))
    assert params["waves"][-1] == f"again_{fmt}"
    assert not any(pair.endswith(f"_vs_again_{fmt}") for pair in (params.get("compare") or {}))


def _broken_exports(tmp_path: Path) -> dict[str, Path]:
    text = DEMO_EXPORT.read_bytes().decode("utf-8-sig")
    rows = text.split("\r\n")
    out = {}
    out["truncated_header"] = tmp_path / "truncated.csv"
    out["truncated_header"].write_text("\r\n".join(rows[:2] + rows[3:]), encoding="utf-8", newline="")
    bad = list(rows)
    bad[6] = bad[6].replace(",Band 7,", ",Band 77,", 1)
    assert bad[6] != rows[6]
    out["unknown_label"] = tmp_path / "unknown_label.csv"
    out["unknown_label"].write_text("\r\n".join(bad), encoding="utf-8", newline="")
    return out


@pytest.mark.parametrize("case, rule", [("truncated_header", "qualtrics_header"), ("unknown_label", "unknown_label")])
def test_wave_add_refuses_an_invalid_export_with_the_validation_report(scratch, tmp_path, case, rule):
    root, env = scratch
    export = _broken_exports(tmp_path)[case]
    before = snapshot(root)
    r = pimh(root, env, "wave", "add", str(export), "--wave", "wave3demo", "--map", str(DEMO_MAP))
    assert r.returncode == 1, r.stdout + r.stderr
    assert f"pimh validate: {export.name}" in r.stdout and "Result: INVALID" in r.stdout and rule in r.stdout
    # the same report as `pimh validate` on the export (its first lines and its counts by rule)
    from pimh_analysis.validate import validate_file

    expected = waves.relax_dropped(validate_file(export, "qualtrics", str(DEMO_MAP), file=export.name),
                                   {"q17_mentoring_prereq"}).to_text()
    assert expected.strip() in r.stdout
    assert "nothing was added" in r.stderr
    assert snapshot(root) == before
    assert not [p for p in (root / "data" / "raw").iterdir() if p.name.startswith(".")]


@pytest.mark.parametrize("args, message", [
    (["--wave", "wave 3"], "invalid wave name"),
    (["--wave", "wave1"], "already exists"),
    (["--wave", "interviews"], "reserved"),
])
def test_wave_add_refuses_bad_names(scratch, args, message):
    root, env = scratch
    before = snapshot(root)
    r = pimh(root, env, "wave", "add", str(DEMO_EXPORT), "--map", str(DEMO_MAP), *args)
    assert r.returncode == 2 and message in r.stderr, r.stderr
    assert snapshot(root) == before


def test_wave_add_refuses_a_missing_export(scratch):
    root, env = scratch
    before = snapshot(root)
    r = pimh(root, env, "wave", "add", str(root / "no_such_export.csv"), "--wave", "wave3")
    assert r.returncode == 2 and "does not exist" in r.stderr
    assert snapshot(root) == before


def test_wave_add_rolls_back_the_copy_when_params_cannot_be_written(scratch, monkeypatch):
    root, _env = scratch
    before = snapshot(root)
    monkeypatch.setenv("PIMH_ROOT", str(root))

    def fail(path, text):
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(waves, "_write_params", fail)
    with pytest.raises(OSError, match="disk full"):
        waves.add_wave(DEMO_EXPORT, "wave3demo", fmt="qualtrics", map_path=DEMO_MAP)
    assert snapshot(root) == before
    assert not (root / "data" / "raw" / "wave3demo").exists()


# --- the demo second wave ----------------------------------------------------------------------------

def test_demo_spec_states_the_wave1_counts_it_shifts(demo):
    base = ReplicaSpec.load()
    for var, change in demo.changes.items():
        assert wave1_counts(base, var) == (dict(change["wave1"]) if isinstance(change["wave1"], dict)
                                           else list(change["wave1"])), var
        assert change.get("effect"), var
    # the planted changes are the comparison's pre-specified primary variables (notebook default, params)
    import nbformat

    nb = nbformat.read(ROOT / "notebooks" / "07-compare-waves.ipynb", as_version=4)
    cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    default = re.search(r'^primary = "([^"]*)"', cell.source, re.M).group(1)
    assert set(C.parse_primary(default)) == set(planted_changes(demo))
    settings = (waves.load_params().get("compare_settings") or {})
    if "primary" in settings:
        assert set(C.parse_primary(settings["primary"])) == set(planted_changes(demo))


@pytest.fixture(scope="module")
def demo_frame(demo, book):
    return generate_demo(demo, book)


def kept(raw: pd.DataFrame) -> pd.DataFrame:
    """Completed, screened-in, consenting live responses; of two with the same contact the later."""
    live = raw[raw["status"].eq("IP Address") & raw["finished"].eq("1") & raw["s1_pimh_specialist"].eq("Yes")
               & raw["s2_consent"].notna()]
    return live[live["q46_contact"].isna() | ~live["q46_contact"].duplicated(keep="last")]


def test_demo_wave_holds_the_planted_counts_exactly(demo, demo_frame):
    k = kept(demo_frame)
    assert len(k) == demo.n_respondents
    assert k["q18_supervision"].value_counts().to_dict() == {"Yes": 53, "No": 15}
    assert k["q19x_consult_access"].value_counts().to_dict() == {"Yes": 61, "No": 6, "Prefer to not answer": 1}
    assert k["q32u_vig"].value_counts().to_dict() == {"Yes": 35, "No": 11}
    scale = ["Strongly disagree", "Disagree", "Neither agree or disagree", "Agree", "Strongly agree"]
    assert [int((k["q43_no_funding"] == s).sum()) for s in scale] == [4, 14, 14, 20, 16]
    assert int((k["q12_cpd_frequency"] == "Every six months").sum()) == 51
    assert k["n01_protected_time"].value_counts().to_dict() == {"Yes": 38, "No": 27, "Prefer not to say": 3}


def test_demo_wave_keeps_wave1_proportions_elsewhere(demo, demo_frame, book):
    """Every other single-answer variable: within rounding of the wave-1 share among the eligible."""
    w1 = kept(pd.read_csv(paths.wave_raw_dir("wave1") / "survey.csv", dtype=str, keep_default_na=False,
                          na_values=[""]))
    w2 = kept(demo_frame)
    planted = set(demo.changes)
    checked = 0
    for col in book.columns:
        if col.var in planted or col.is_text or col.var == "q17_mentoring_prereq":
            continue
        a, b = w1[col.var].dropna(), w2[col.var].dropna()
        if a.empty:
            continue
        for value in set(a) | set(b):
            pa, pb = (a == value).mean(), (b == value).mean() if len(b) else 0.0
            # largest-remainder apportionment misses each quota by less than one respondent
            assert abs(pa - pb) < 1.0 / max(len(b), 1) + 1e-9, (col.var, value, pa, pb)
        checked += 1
    assert checked > 250


def test_pimh_wave_demo_regenerates_the_shipped_files_byte_for_byte(tmp_path):
    r = subprocess.run([sys.executable, "-m", "pimh_analysis.cli", "wave", "demo", "--out", str(tmp_path)],
                       capture_output=True, text=True, env={**os.environ, "PIMH_ROOT": str(ROOT)})
    assert r.returncode == 0, r.stderr
    pairs = [(tmp_path / "data/raw/wave2demo" / n, SHIPPED_DEMO / n)
             for n in ("qualtrics_export.csv", "column_map.yaml", "wave.yaml")]
    pairs += [(tmp_path / "examples/demo-wave" / n, ROOT / "examples/demo-wave" / n)
              for n in ("qualtrics_export.csv", "column_map.yaml")]
    for new, shipped in pairs:
        assert shipped.is_file(), f"{shipped} is not shipped"
        assert new.read_bytes() == shipped.read_bytes(), f"{shipped.relative_to(ROOT)} differs from its regeneration"


def test_shipped_demo_wave_is_listed_and_validates(book):
    assert "wave2demo" in waves.params_waves()
    report = waves.validate_wave("wave2demo", book)
    assert report.ok, report.to_text()
    assert {i.rule for i in report.warnings} <= {"missing_column"}


# --- the comparison finds the planted changes on the demo wave ------------------------------------------

@pytest.fixture(scope="module")
def demo_comparison(book):
    from pimh_analysis.readers import read_survey

    w1, w2 = waves.load_wave("wave1"), waves.load_wave("wave2demo")
    frames = []
    for w in (w1, w2):
        frames.append(kept(read_survey(w.export_path, w.format, str(w.map_path) if w.map_path else None,
                                       codebook=book).frame).reset_index(drop=True))
    plan = waves.item_plan(w1, w2, book)
    variables = C.variables_for(book, waves.shared_items(plan), waves.item_flags(plan))
    primary = list(planted_changes())
    return C.compare_waves(frames[0], frames[1], variables, primary=primary, n_resamples=1999,
                           base_name="wave1", new_name="wave2demo"), plan


def test_comparison_finds_every_planted_change(demo_comparison):
    comp, _plan = demo_comparison
    res = comp.results.set_index("var")
    for var in planted_changes():
        assert res.loc[var, "family"] == "primary"
        assert res.loc[var, "significant"], (var, res.loc[var, "p_value"], res.loc[var, "p_adjusted"])
    assert res.loc["q18_supervision", "diff"] > 0 and res.loc["q43_no_funding", "prob_superiority"] < 0.5
    assert res.loc["q12_cpd_frequency", "prob_superiority"] > 0.5


def test_comparison_reports_no_change_on_unchanged_items(demo_comparison):
    comp, _plan = demo_comparison
    res = comp.results
    unchanged = res[(res["family"] == "exploratory") & (res["test"] != C.NOT_TESTED)]
    assert len(unchanged) > 200
    assert not unchanged["significant"].any()
    raw = int((unchanged["p_value"] <= C.DEFAULT_ALPHA).sum())
    assert raw <= ss.binom.ppf(0.999, len(unchanged), C.DEFAULT_ALPHA), raw


def test_comparison_lists_the_items_left_out_and_flags_the_reworded_one(demo_comparison):
    comp, plan = demo_comparison
    left = waves.left_out(plan).set_index("item_id")
    assert "Q17" in left.index and "N1" in left.index and "Q13" not in left.index
    assert (comp.results.loc[comp.results["item_id"] == "Q13", "flag"].str.contains("reworded")).all()
    assert not comp.results["item_id"].isin(["Q17", "N1"]).any()


# --- end to end: a fresh clone, pimh wave add, dvc repro ----------------------------------------------

RUNNING = re.compile(r"^Running stage '([^']+)'", re.MULTILINE)


def _git(root: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.name=pimh-tests", "-c", "user.email=pimh-tests@localhost", "-c",
                    "commit.gpgsign=false", *args], cwd=root, check=True, capture_output=True)


def _dvc(root: Path, env: dict, *args: str, timeout: int = 3600) -> subprocess.CompletedProcess:
    r = subprocess.run([str(BIN / "dvc"), *args], cwd=root, env=env, capture_output=True, text=True, timeout=timeout)
    if r.returncode != 0:
        tail = "\n".join((r.stdout + r.stderr).splitlines()[-60:])
        pytest.fail(f"`dvc {' '.join(args)}` exited {r.returncode}:\n{tail}", pytrace=False)
    return r


@pytest.mark.pipeline
def test_wave_add_then_repro_builds_only_the_new_wave(tmp_path_factory, copy_repo, pipeline_env_for):
    env0 = pipeline_env_for(ROOT)
    listed = subprocess.run([str(BIN / "dvc"), "stage", "list", "--all", "--name-only"], cwd=ROOT, env=env0,
                            capture_output=True, text=True)
    names = listed.stdout.split()
    if not any(n.startswith("clean_survey@") for n in names) or not any(n.startswith("compare@") for n in names):
        pytest.skip("dvc.yaml has no foreach stages over waves (clean_survey@<wave>) and comparisons (compare@<pair>) yet")
    root = tmp_path_factory.mktemp("wave_e2e") / "repo"
    copy_repo(ROOT, root, untracked=False)
    _git(root, "init", "-q")
    _git(root, "add", "-A")
    _git(root, "commit", "-q", "-m", "fresh clone")
    env = pipeline_env_for(root)
    _dvc(root, env, "repro")  # bring the clone up to date (as `make repro` would)
    assert json.loads(_dvc(root, env, "status", "--json").stdout or "{}") == {}

    r = subprocess.run([str(BIN / "pimh"), "wave", "add", "examples/demo-wave/qualtrics_export.csv", "--wave",
                        "wave3demo", "--format", "qualtrics", "--map", "examples/demo-wave/column_map.yaml"],
                       cwd=root, env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    first = waves.params_waves(yaml.safe_load((root / "params.yaml").read_text()))[0]
    pair = f"{first}_vs_wave3demo"

    status = json.loads(_dvc(root, env, "status", "--json").stdout or "{}")
    changed = {k.split(":", 1)[-1] for k in status}
    assert f"compare@{pair}" in changed and any(s.endswith("@wave3demo") for s in changed), changed
    assert not any(s.endswith(f"@{first}") for s in changed), f"stages of {first} are out of date: {changed}"

    log = _dvc(root, env, "repro").stdout
    ran = set(RUNNING.findall(log))
    new_wave_stages = {f"{stage}@wave3demo" for stage in ("clean_survey", "describe_survey", "model_barriers", "model_supervision")}
    assert f"compare@{pair}" in ran and new_wave_stages <= ran, log
    assert not any(s.endswith(f"@{first}") for s in ran), f"wave-1 stages rebuilt: {sorted(ran)}"
    assert not any(s.endswith("@wave2demo") or s.endswith("_vs_wave2demo") for s in ran), sorted(ran)
    out = root / "reports" / "tables" / "compare" / pair
    assert (out / "tc03_primary.csv").is_file() and (out / "tc01_items_left_out.csv").is_file()
    primary = pd.read_csv(out / "tc03_primary.csv")
    assert primary["significant"].all(), primary[["var", "p_value", "p_adjusted"]]
    left = pd.read_csv(out / "tc01_items_left_out.csv")
    assert {"Q17", "N1"} <= set(left["item_id"])
    assert (root / "reports" / "tables" / "wave3demo").is_dir()
    assert json.loads(_dvc(root, env, "status", "--json").stdout or "{}") == {}
