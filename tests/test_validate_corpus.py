"""`pimh validate` on every file of the bad-input corpus: exit 1, the expected rule at the expected line, no traceback."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

CORPUS = Path(__file__).resolve().parent / "bad_inputs"
EXPECTED = yaml.safe_load((CORPUS / "EXPECTED.yaml").read_text(encoding="utf-8"))
NOT_CASES = {"EXPECTED.yaml", "README.md", "make_corpus.py"}


def _pimh() -> list[str]:
    exe = Path(sys.executable).parent / "pimh"
    if exe.exists():
        return [str(exe)]
    found = shutil.which("pimh")
    return [found] if found else [sys.executable, "-m", "pimh_analysis.cli"]


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(_pimh() + ["validate", *args], capture_output=True, text=True, timeout=300,
                          cwd=CORPUS.parents[1])


def test_corpus_has_at_least_fifteen_survey_cases_and_every_file_is_listed():
    files = {p.name for p in CORPUS.iterdir() if p.is_file() and p.name not in NOT_CASES
             and not p.name.startswith(".")}
    assert files == set(EXPECTED), f"unlisted: {files - set(EXPECTED)}; missing: {set(EXPECTED) - files}"
    survey = [k for k, v in EXPECTED.items() if v["format"] in ("csv", "qualtrics", "sav")]
    assert len(survey) >= 15
    wanted = {"missing_column", "unknown_label", "duplicate_id", "out_of_range", "skip_logic", "empty_file",
              "no_data", "wrong_delimiter", "excel_mangled", "unknown_column", "blank_row", "qualtrics_header"}
    assert wanted <= {EXPECTED[k]["rule"] for k in survey}
    assert any(CORPUS.joinpath(k).read_bytes().startswith(b"\xef\xbb\xbf") for k in survey)
    assert any(_is_cp1252(CORPUS / k) for k in survey if k.endswith(".csv"))


def _is_cp1252(path: Path) -> bool:
    data = path.read_bytes()
    try:
        data.decode("utf-8")
        return False
    except UnicodeDecodeError:
        data.decode("cp1252")
        return True


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_validate_reports_the_expected_rule_and_line(name):
    exp = EXPECTED[name]
    path = str(CORPUS / name)
    res = _run(path, "--format", exp["format"], "--json")
    assert "Traceback" not in res.stdout + res.stderr
    assert res.returncode == 1, res.stdout[-2000:] + res.stderr[-2000:]
    report = json.loads(res.stdout)
    assert report["valid"] is False
    errors = [(i["rule"], i["line"]) for i in report["file_issues"] + report["cell_issues"]
              if i["severity"] == "error"]
    assert (exp["rule"], exp["line"]) in errors, errors[:20]
    # the text report (same code path as the CLI's default output) names the same rule and line
    if exp["format"] != "qdpx":
        from pimh_analysis.validate import validate_file

        _assert_text_names(validate_file(path, exp["format"]).to_text(limit=None), exp)


def _assert_text_names(text: str, exp: dict) -> None:
    pattern = re.compile(rf"(\bline {exp['line']}\b.*\b{re.escape(exp['rule'])}\b)|"
                         rf"(\s{exp['line']}\s.*\s{re.escape(exp['rule'])}\s)")
    assert any(pattern.search(line + " ") for line in text.splitlines()), text[-3000:]


@pytest.mark.parametrize("name", ["skip_logic.csv", "qualtrics_truncated_header.csv", "sav_out_of_range.sav",
                                  "empty.csv"])
def test_text_report_from_the_command_line(name):
    exp = EXPECTED[name]
    res = _run(str(CORPUS / name), "--format", exp["format"])
    assert res.returncode == 1
    assert "Traceback" not in res.stdout + res.stderr
    _assert_text_names(res.stdout, exp)
    assert res.stdout.index("File-level problems") < res.stdout.index("Cell problems") < \
        res.stdout.index("Counts by rule")


def test_corpus_generator_reproduces_the_csv_files(tmp_path):
    res = subprocess.run([sys.executable, str(CORPUS / "make_corpus.py"), str(tmp_path)], capture_output=True,
                         text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-2000:]
    survey = {k: v for k, v in EXPECTED.items() if v["format"] in ("csv", "qualtrics", "sav")}
    listed = yaml.safe_load(res.stdout)
    assert listed == survey
    for name in survey:
        if name.endswith(".csv"):
            assert (tmp_path / name).read_bytes() == (CORPUS / name).read_bytes(), name
