"""pimh validate: rules, severities, ordering, personal data in reports, the command line, the shipped data."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from survey_synth import REPO, make_valid_frame
from pimh_analysis import writers
from pimh_analysis.errors import FILE_LEVEL
from pimh_analysis.validate import RULES, ValidationReport, excel_mangled, validate_file

DIRECT_YES = "Yes, I work directly with families experiencing mental health difficulties"
DIRECT_NO = "No, my responsibilities are mostly supervisory and training"


def check(df: pd.DataFrame, codebook, tmp_path: Path, name: str = "survey.csv") -> ValidationReport:
    path = writers.write_canonical_csv(df, tmp_path / name, codebook)
    return validate_file(path, "csv", codebook=codebook, file=name)


def base(codebook, n=12, seed=3) -> pd.DataFrame:
    return make_valid_frame(codebook, n, seed=seed, text_rate=0.0)


def direct_row(df: pd.DataFrame) -> int:
    return int(df.index[df["q23_direct_work"] == DIRECT_YES][0])


def rules_at(report: ValidationReport, severity: str = "error") -> list[tuple[str, int | None, str | None]]:
    return [(i.rule, i.line, i.variable) for i in report.issues if i.severity == severity]


def test_valid_frame_has_no_issues(codebook, tmp_path):
    report = check(base(codebook, 40), codebook, tmp_path)
    assert report.ok and report.issues == []
    assert "Result: VALID" in report.to_text()


def test_label_variants_are_warnings_with_the_harmonised_label(codebook, tmp_path):
    df = base(codebook)
    r = direct_row(df)
    df.loc[0, "q03_age"] = " 40-49 "
    df.loc[1, "q02_years_in_role"] = "More than 10 years"
    df.loc[2, "q09_team_nursery_nurse"] = "1.0" if df.loc[2, "q09_team_gp"] is not pd.NA else pd.NA
    df.loc[r, "q26_anxiety"] = "don’t know"
    report = check(df, codebook, tmp_path)
    assert report.ok
    warned = {(i.variable, i.value, i.expected) for i in report.issues if i.rule == "label_variant"}
    assert ("q03_age", " 40-49 ", "'40-49'") in warned
    assert ("q02_years_in_role", "More than 10 years", "'Over 10 years'") in warned
    assert ("q26_anxiety", "don’t know", '"Don\'t know"') in warned
    assert all(i.severity == "warning" for i in report.issues)


def test_wrong_values_get_specific_rules(codebook, tmp_path):
    df = base(codebook)
    r = direct_row(df)
    df.loc[0, "q06a_hours"] = "2"  # a valid code, not a label
    df.loc[1, "q13_cpd_funding"] = "6"  # outside the 5-point scale
    df.loc[2, "q03_age"] = "25-34"
    df.loc[3, "progress"] = "1.00E+02"
    df.loc[4, "recorded_date"] = "04/01/2021 09:00"
    df.loc[5, "progress"] = "150"
    df.loc[r, "q24_caseload"] = "01-May"  # '1-5' after Excel
    report = check(df, codebook, tmp_path)
    got = set(rules_at(report))
    assert ("code_not_label", 2, "q06a_hours") in got
    assert ("out_of_range", 3, "q13_cpd_funding") in got
    assert ("unknown_label", 4, "q03_age") in got
    assert ("excel_mangled", 5, "progress") in got
    assert ("excel_mangled", 6, "recorded_date") in got
    assert ("out_of_range", 7, "progress") in got
    assert ("excel_mangled", r + 2, "q24_caseload") in got
    code = next(i for i in report.issues if i.rule == "code_not_label")
    assert code.expected == "the label 'Full time'" and code.respondent_id == df.loc[0, "respondent_id"]
    unknown = next(i for i in report.issues if i.rule == "unknown_label")
    assert unknown.expected.startswith("one of: 20-29 | 30-39")


def test_excel_mangled_patterns():
    for v in ("1.23E+05", "1.00e+02", "01/02/2021", "1/2/21", "01-May", "Mar-21", "2021-01-02", "'0123", "=1+2"):
        assert excel_mangled(v), v
    for v in ("101-200 children", "20-29", "Band 7", "60+", "1", "Once a month"):
        assert not excel_mangled(v), v


def test_skip_logic_is_an_error_and_a_broken_routing_answer_does_not_cascade(codebook, tmp_path):
    df = base(codebook)
    r = direct_row(df)
    df.loc[r, "q23_direct_work"] = DIRECT_NO  # Part 3 answers remain: skip-logic errors
    report = check(df, codebook, tmp_path)
    skip = [i for i in report.issues if i.rule == "skip_logic"]
    assert skip and all(i.severity == "error" and i.line == r + 2 for i in skip)
    part3 = {c.var for c in codebook.columns if c.part == 3 and c.var != "q23_direct_work"}
    answered = {v for v in part3 if df.loc[r, v] is not pd.NA}
    assert len(answered) > 10 and {i.variable for i in skip} == answered
    assert "direct_work" in skip[0].message or "q23" in skip[0].message.lower()
    # the same row with an unknown Q23 label: one unknown_label error, no cascade of skip-logic errors
    df.loc[r, "q23_direct_work"] = "Sometimes"
    report = check(df, codebook, tmp_path, "b.csv")
    assert [i.rule for i in report.errors] == ["unknown_label"]


def test_ticks_rankings_and_exclusive_options(codebook, tmp_path):
    df = base(codebook)
    q39 = [c.var for c in codebook.group("Q39") if c.is_tick]
    for v in q39:
        df.loc[0, v] = "0"
    df.loc[0, q39[2]] = pd.NA
    q11 = [c.var for c in codebook.group("Q11") if c.is_tick]
    for v in q11:
        df.loc[1, v] = "0"
    df.loc[1, "q11_none"] = "1"
    df.loc[1, "q11_masters"] = "1"
    df.loc[1, "q11_ihv_champions"] = "0"
    df.loc[1, "q11_itsiey"] = "0"
    df.loc[1, "q11_solihull"] = "0"
    for c in codebook.columns:
        if c.item_id in ("Q11.ihv", "Q11.itsiey", "Q11.solihull"):
            df.loc[1, c.var] = pd.NA
    ranks = ["q41_rank_targeted", "q41_rank_supervision", "q41_rank_advocacy", "q41_rank_training"]
    df.loc[2, ranks] = ["1", "2", "2", pd.NA]
    df.loc[3, "q09_team_gp"] = "2"
    report = check(df, codebook, tmp_path)
    assert ("tick_incomplete", 2, q39[2]) in rules_at(report)
    assert ("ranking", 4, "q41_rank_targeted") in rules_at(report)
    assert any(i.rule == "out_of_range" and i.variable == "q09_team_gp" for i in report.errors)
    assert ("exclusive_tick", 3, "q11_none") in rules_at(report, "warning")


def test_problems_in_rows_cleaning_excludes_are_warnings(codebook, tmp_path):
    df = base(codebook)
    df.loc[0, "status"] = "Survey Preview"
    df.loc[0, "q03_age"] = "nonsense"
    df.loc[1, "s1_pimh_specialist"] = "No"
    df.loc[1, "q13_cpd_funding"] = "9"
    report = check(df, codebook, tmp_path)
    assert report.ok
    downgraded = {(i.rule, i.line) for i in report.warnings}
    assert ("unknown_label", 2) in downgraded and ("out_of_range", 3) in downgraded
    assert all("excluded by cleaning" in i.message for i in report.warnings if i.rule != "skip_logic")


def test_personal_data_never_printed(codebook, tmp_path):
    df = base(codebook)
    i = int(df.index[df["q46_interview_optin"] == "Yes"][0])
    df.loc[i, "q46_interview_optin"] = "No"
    df.loc[i, "q46_contact"] = "secret.person@example.org 07700 900999"
    df.loc[0, "q07_postcode_prefix"] = "ZZ9"
    report = check(df, codebook, tmp_path)
    issue = next(x for x in report.issues if x.variable == "q46_contact")
    assert issue.rule == "skip_logic" and issue.value == "[personal data]"
    assert any(x.rule == "unknown_postcode_area" for x in report.issues)
    for out in (report.to_text(limit=None), report.to_json()):
        assert "secret.person" not in out and "900999" not in out and "ZZ9" not in out


def test_duplicate_ids_are_file_level_and_listed_first(codebook, tmp_path):
    df = base(codebook)
    df.loc[5, "respondent_id"] = df.loc[2, "respondent_id"]
    df.loc[7, "q03_age"] = "bad"
    report = check(df, codebook, tmp_path)
    dup = report.issues[0]
    assert (dup.rule, dup.level, dup.line) == ("duplicate_id", FILE_LEVEL, 7)
    assert "lines 4, 7" in dup.message
    text = report.to_text()
    assert text.index("duplicate_id") < text.index("Cell problems") < text.index("'bad'")


def test_json_report_structure_and_counts(codebook, tmp_path):
    df = base(codebook)
    df.loc[0, "q03_age"] = "bad"
    df.loc[1, "q03_age"] = "worse"
    df.loc[2, "q02_years_in_role"] = "more than 10 years"
    report = check(df, codebook, tmp_path)
    data = json.loads(report.to_json())
    assert data["valid"] is False and data["rows"] == len(df)
    assert {"file", "format", "file_issues", "cell_issues", "counts_by_rule", "n_errors", "n_warnings"} <= set(data)
    assert data["counts_by_rule"] == [{"rule": "unknown_label", "severity": "error", "n": 2},
                                      {"rule": "label_variant", "severity": "warning", "n": 1}]
    cell = data["cell_issues"][0]
    assert {"file", "line", "respondent_id", "column", "variable", "rule", "value", "expected"} <= set(cell)
    assert cell["line"] == 2 and cell["respondent_id"] == df.loc[0, "respondent_id"]


def test_every_rule_is_documented():
    import re

    mine = ["validate.py", "readers/canonical.py", "readers/qualtrics.py", "readers/sav.py", "readers/encoding.py",
            "readers/csvscan.py", "readers/__init__.py"]
    sources = "".join((REPO / "src/pimh_analysis" / p).read_text() for p in mine)
    used = set(re.findall(r'(?:file_issue\([^,]+, |"rule": |rule=|coll\.add\([^,]+, )"([a-z_]+)"', sources))
    used |= {"excel_mangled", "unknown_label", "code_not_label", "out_of_range", "not_a_number", "bad_date",
             "missing_value"}
    undocumented = {u for u in used if u not in RULES} - {"file_not_found", "internal_error", "unsupported_format",
                                                          "missing_wave_spec", "no_data"}
    assert not undocumented


def test_qualtrics_reader_issues_name_the_qualtrics_column(codebook, tmp_path):
    df = base(codebook)
    df.loc[0, "q03_age"] = "bad"
    path = writers.write_qualtrics_csv(df, tmp_path / "q.csv", values="text", codebook=codebook)
    report = validate_file(path, "qualtrics", codebook=codebook)
    issue = next(i for i in report.errors if i.variable == "q03_age")
    assert issue.line == 4 and issue.column.startswith("Q3")


def _pimh() -> list[str]:
    exe = Path(sys.executable).parent / "pimh"
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "pimh_analysis.cli"]


def test_command_line_exit_zero_on_a_valid_file(codebook, tmp_path):
    path = writers.write_canonical_csv(base(codebook), tmp_path / "ok.csv", codebook)
    res = subprocess.run(_pimh() + ["validate", str(path)], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "Result: VALID" in res.stdout and "Traceback" not in res.stderr
    res = subprocess.run(_pimh() + ["validate", str(path), "--json"], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0 and json.loads(res.stdout)["valid"] is True


SHIPPED = REPO / "data" / "raw" / "wave1" / "survey.csv"


@pytest.mark.skipif(not SHIPPED.exists(), reason="the replica has not been generated yet")
def test_shipped_data_is_valid():
    res = subprocess.run(_pimh() + ["validate", str(SHIPPED)], capture_output=True, text=True, timeout=300,
                         cwd=REPO)
    assert res.returncode == 0, res.stdout[-3000:]
    assert "Traceback" not in res.stdout + res.stderr
