"""Cleaning: exclusions in order, duplicates, skip logic, logs, row conservation, processed schema, derived variables."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest

from survey_synth import REPO, make_valid_frame
from pimh_analysis import clean, derive, writers
from pimh_analysis.errors import InputError
from pimh_analysis.readers import read_survey

DIRECT_YES = "Yes, I work directly with families experiencing mental health difficulties"
DIRECT_NO = "No, my responsibilities are mostly supervisory and training"


def run(df, codebook, tmp_path, **kw) -> clean.CleanResult:
    path = writers.write_canonical_csv(df, tmp_path / "survey.csv", codebook)
    return clean.clean_survey(read_survey(path, codebook=codebook), codebook, source_file="survey.csv", **kw)


@pytest.fixture
def designed(codebook):
    """Rows that each trigger one exclusion rule, in the order the rules apply."""
    df = make_valid_frame(codebook, 16, seed=21, text_rate=0.0)
    answers = [c.var for c in codebook.columns]
    df.loc[1, "status"] = "Survey Preview"
    df.loc[2, "status"] = "Survey Test"
    df.loc[3, "status"] = "Spam"
    df.loc[3, "s1_pimh_specialist"] = "No"  # spam and screened out: spam comes first
    df.loc[4, answers] = pd.NA
    df.loc[4, "s1_pimh_specialist"] = "No"
    df.loc[5, "s2_consent"] = pd.NA
    df.loc[6, ["finished", "progress"]] = ["0", "40"]
    df.loc[7, ["finished", "progress"]] = ["0", "100"]  # unfinished but complete enough: kept
    # 8 and 9: the same person (contact e-mail in another case); 9 is less complete
    df.loc[8, "q46_interview_optin"] = "Yes"
    df.loc[8, "q46_contact"] = "Jo.Bloggs@Example.org"
    df.loc[9, answers] = df.loc[8, answers]
    df.loc[9, "q46_contact"] = "jo.bloggs@example.org, 07700 900111"
    df.loc[9, "q42_barriers"] = pd.NA
    df.loc[8, "q42_barriers"] = "Funding"
    # 10 and 11: identical answers (no contact); 11 is later, so 11 is kept
    df.loc[11, answers] = df.loc[10, answers]
    df.loc[10, "recorded_date"] = "2021-02-01T10:00:00"
    df.loc[11, "recorded_date"] = "2021-02-03T10:00:00"
    df.loc[12, "respondent_id"] = "R013"
    df.loc[13, answers] = pd.NA  # a blank row, id and metadata too
    df.loc[13, ["respondent_id", "status", "progress", "finished", "recorded_date"]] = pd.NA
    return df


def test_exclusions_in_order_and_row_conservation(designed, codebook, tmp_path):
    res = run(designed, codebook, tmp_path)
    log = res.rows_log
    assert len(log) == len(designed) == res.summary["rows_kept"] + res.summary["rows_excluded"]
    assert log["line"].tolist() == list(range(2, len(designed) + 2))
    reasons = dict(zip(log["line"] - 2, log["reason"]))
    assert reasons[1] == "preview" and reasons[2] == "test" and reasons[3] == "spam"
    assert reasons[4] == "screened_out" and reasons[5] == "no_consent" and reasons[6] == "incomplete"
    assert reasons[7] == "" and reasons[0] == ""
    assert reasons[9] == f"duplicate_of:{designed.loc[8, 'respondent_id']}"
    assert reasons[10] == f"duplicate_of:{designed.loc[11, 'respondent_id']}"
    assert reasons[13] == "blank_row"
    kept = set(log.loc[log["outcome"] == "kept", "respondent_id"])
    assert kept == set(res.respondents["respondent_id"])
    assert res.summary["excluded_by_reason"] == {"blank_row": 1, "preview": 1, "test": 1, "spam": 1,
                                                 "screened_out": 1, "no_consent": 1, "incomplete": 1,
                                                 "duplicate_of": 2}


def test_min_progress_parameter(designed, codebook, tmp_path):
    res = run(designed, codebook, tmp_path, min_progress=30)
    assert res.rows_log.loc[6, "reason"] == ""
    res = run(designed, codebook, tmp_path, min_progress=101)
    assert res.rows_log.loc[7, "reason"] == "incomplete"


def test_phone_numbers_link_duplicates(codebook, tmp_path):
    df = make_valid_frame(codebook, 6, seed=4, text_rate=0.0)
    for i, contact in ((1, "+44 7700 900 222"), (4, "call 07700900222 after 5")):
        df.loc[i, "q46_interview_optin"] = "Yes"
        df.loc[i, "q46_contact"] = contact
    df.loc[1, "recorded_date"] = "2021-01-01T00:00:00"
    df.loc[4, "recorded_date"] = "2021-03-01T00:00:00"
    res = run(df, codebook, tmp_path)
    reasons = res.rows_log["reason"].tolist()
    complete = [sum(df.loc[i, c.var] is not pd.NA for c in codebook.columns) for i in (1, 4)]
    loser = 1 if (complete[0], "2021-01") < (complete[1], "2021-03") else 4
    winner = 5 - loser
    assert reasons[loser] == f"duplicate_of:{df.loc[winner, 'respondent_id']}"
    assert reasons.count("") == 5


def test_skip_logic_enforced_logged_and_cascaded(codebook, tmp_path):
    df = make_valid_frame(codebook, 20, seed=8, text_rate=0.5)
    r = int(df.index[df["q23_direct_work"] == DIRECT_YES][0])
    df.loc[r, "q23_direct_work"] = DIRECT_NO
    part3 = [c.var for c in codebook.columns if c.part == 3 and c.var != "q23_direct_work"]
    answered = [v for v in part3 if df.loc[r, v] is not pd.NA]
    res = run(df, codebook, tmp_path)
    rid = df.loc[r, "respondent_id"]
    row = res.respondents.set_index("respondent_id").loc[rid]
    assert all(pd.isna(row[v]) for v in part3 if v in row.index)
    log = res.cells_log[res.cells_log["rule"] == "skip_logic_not_applicable"]
    assert sorted(log["variable"]) == sorted(answered)
    assert set(log["line"]) == {r + 2} and set(log["respondent_id"]) == {rid}
    assert (log["after"].isna()).all()
    # free text is never copied into the log
    text_vars = {c.var for c in codebook.columns if c.is_text}
    assert set(log.loc[log["variable"].isin(text_vars), "before"]) <= {clean.TEXT_PLACEHOLDER}
    assert res.summary["cells_changed_by_rule"]["skip_logic_not_applicable"] == len(answered)
    long = res.items_long[(res.items_long["respondent_id"] == rid) & res.items_long["variable"].isin(part3)]
    assert set(long["state"]) == {"not_applicable"}


def test_label_harmonisation_is_logged(codebook, tmp_path):
    df = make_valid_frame(codebook, 10, seed=9, text_rate=0.0)
    df.loc[2, "q03_age"] = "60 and above"
    df.loc[3, "q06a_hours"] = "part-time"
    res = run(df, codebook, tmp_path)
    log = res.cells_log[res.cells_log["rule"] == "harmonise_label"]
    assert set(zip(log["line"], log["variable"], log["before"], log["after"])) == {
        (4, "q03_age", "60 and above", "60+"), (5, "q06a_hours", "part-time", "Part time")}
    assert res.respondents.loc[2, "q03_age"] == "60+"


def test_unresolvable_errors_stop_cleaning(codebook, tmp_path):
    df = make_valid_frame(codebook, 10, seed=9, text_rate=0.0)
    df.loc[2, "q03_age"] = "twenty-five"
    with pytest.raises(InputError) as err:
        run(df, codebook, tmp_path)
    assert [(i.rule, i.line) for i in err.value.issues] == [("unknown_label", 4)]


def test_blank_rows_are_accounted_for(codebook, tmp_path):
    df = make_valid_frame(codebook, 5, seed=1, text_rate=0.0)
    path = writers.write_canonical_csv(df, tmp_path / "s.csv", codebook)
    with open(path, "a", encoding="utf-8") as fh:
        fh.write("," * (len(codebook.all_vars) - 1) + "\n")
    res = clean.clean_survey(read_survey(path, codebook=codebook), codebook, source_file="s.csv")
    assert res.rows_log["reason"].tolist() == [""] * 5 + ["blank_row"]
    assert res.rows_log["line"].tolist()[-1] == 7


def test_processed_schema(codebook, tmp_path):
    df = make_valid_frame(codebook, 30, seed=12, text_rate=0.5)
    res = run(df, codebook, tmp_path)
    out = res.respondents
    assert "q07_postcode_prefix" not in out and "q46_contact" not in out
    for c in codebook.columns:
        if c.var in ("q07_postcode_prefix", "q46_contact"):
            continue
        s = out[c.var]
        if c.is_tick:
            assert str(s.dtype) == "Int8", c.var
        elif c.is_choice:
            assert list(s.cat.categories) == list(c.values), c.var
            assert s.cat.ordered == (c.type in ("likert", "ordinal")), c.var
        else:
            assert str(s.dtype) == "string", c.var
    for name in ("years_6plus", "band_7plus", "commissioned", "direct_work", "any_supervision", "consult_access",
                 "service_universal", "part_time", "cpd_funding_below_needs", "cpd_time_below_needs"):
        assert str(out[name].dtype) == "boolean", name
    assert list(out["region"].cat.categories) == list(derive.REGIONS)
    assert list(out["nation"].cat.categories) == list(derive.NATIONS)
    long = res.items_long
    assert list(long.columns) == ["respondent_id", "item_id", "variable", "value", "code", "state"]
    assert set(long["state"].cat.categories) == {"answered", "missing_code", "skipped", "not_applicable"}
    n_vars = sum(1 for c in codebook.columns if c.var in out.columns)
    assert len(long) == len(out) * n_vars
    # states agree with the wide table
    ans = long[long["state"].isin(["answered", "missing_code"])]
    assert len(ans) == int(out[[c.var for c in codebook.columns if c.var in out.columns]].notna().sum().sum())


def test_mask_free_text_false_drops_free_text(codebook, tmp_path):
    df = make_valid_frame(codebook, 10, seed=2, text_rate=0.9)
    res = run(df, codebook, tmp_path, mask_free_text=False)
    text_vars = {c.var for c in codebook.columns if c.is_text}
    assert not (text_vars & set(res.respondents.columns))
    assert not (text_vars & set(res.items_long["variable"].astype(str)))


def test_write_outputs(scratch_root, codebook, tmp_path, capsys):
    df = make_valid_frame(codebook, 25, seed=5, text_rate=0.5)
    res = run(df, codebook, tmp_path)
    written = clean.write_outputs(res, "wave9")
    printed = capsys.readouterr().out
    for name in ("respondents.parquet", "respondents.csv", "items_long.parquet", "items_long.csv",
                 "cleaning_log_rows.csv", "cleaning_log_cells.csv", "cleaning_summary.json"):
        assert (scratch_root / "data/processed/wave9" / name).is_file()
        assert f"[pimh] wrote data/processed/wave9/{name}" in printed
    assert (scratch_root / "data/restricted/wave9/free_text_raw.parquet").is_file()
    assert str(scratch_root) not in printed and str(tmp_path) not in printed
    back = pd.read_parquet(scratch_root / "data/processed/wave9/respondents.parquet")
    pd.testing.assert_frame_equal(back, res.respondents)
    rows = pd.read_csv(scratch_root / "data/processed/wave9/cleaning_log_rows.csv", dtype=str, keep_default_na=False)
    assert list(rows.columns) == ["source_file", "line", "respondent_id", "outcome", "reason"]
    summary = json.loads((scratch_root / "data/processed/wave9/cleaning_summary.json").read_text())
    assert summary["rows_raw"] == len(rows) == summary["rows_kept"] + summary["rows_excluded"]
    # deterministic: a second run writes the same bytes
    before = {k: p.read_bytes() for k, p in written.items()}
    written2 = clean.write_outputs(run(df, codebook, tmp_path), "wave9")
    assert {k: p.read_bytes() for k, p in written2.items()} == before


def test_region_and_nation_from_postcode_prefix():
    prefix = pd.Series(["OX3", " cf10", "BT7", "EH1", "SW1A", "B15", "ZZ9", None, "12A", "TD15", "LS2"])
    region, nation = derive.region_nation(prefix)
    assert region.tolist()[:6] == ["South East", "Wales", "Northern Ireland", "Scotland", "Greater London",
                                   "West Midlands"]
    assert nation.tolist()[:6] == ["England", "Wales", "Northern Ireland", "Scotland", "England", "England"]
    assert region.isna().tolist()[6:9] == [True, True, True]
    assert region.tolist()[9:] == ["Scotland", "Yorkshire and the Humber"]  # TD: majority Scottish Borders


def test_postcode_areas_resource():
    areas = derive.load_postcode_areas()
    assert len(areas) == 121 and areas["area"].is_unique
    assert areas["area"].str.fullmatch(r"[A-Z]{1,2}").all()
    assert set(areas["region"]) <= set(derive.REGIONS)
    assert set(areas["nation"]) == set(derive.NATIONS)
    own = {"Scotland": "Scotland", "Wales": "Wales", "Northern Ireland": "Northern Ireland"}
    for region, nation in zip(areas["region"], areas["nation"]):
        assert nation == own.get(region, "England")
    assert set(areas.loc[areas["nation"] == "Northern Ireland", "area"]) == {"BT"}
    assert {"CH", "SY", "TD", "LD", "NP"} <= set(areas.loc[areas["ambiguous"], "area"])
    assert (areas.loc[areas["ambiguous"], "note"].str.len() > 20).all()
    # the report's demography table uses exactly these region names (plus Yorkshire, with no respondents)
    report = {"East England", "East Midlands", "Greater London", "North East", "North West", "Northern Ireland",
              "Scotland", "South East", "South West", "Wales", "West Midlands"}
    assert report <= set(areas["region"])


def test_derived_flags():
    df = pd.DataFrame({
        "q02_years_in_role": ["Less than 1 year", "6 to 10 years", "Over 10 years", "Prefer not to say", None],
        "q04a_pay_band": ["Band 6", "Band 7", "My position is outside NHS", "Band 9", None],
        "q13_cpd_funding": ["far below the level of my needs", "reflective of the level of my needs", None,
                            "moderately below the level of my needs", "far above the level of my needs"],
        "q14_cpd_time": [None, "reflective of the level of my needs", None, None,
                         "moderately below the level of my needs"],
        "q18_supervision": ["Yes", "No", "Prefer not to say", None, "Yes"],
    })
    out = derive.derive(df)
    assert out["years_6plus"].tolist() == [False, True, True, pd.NA, pd.NA]
    assert out["band_7plus"].tolist() == [False, True, pd.NA, True, pd.NA]
    assert out["cpd_funding_below_needs"].tolist() == [True, False, pd.NA, True, False]
    assert out["cpd_any_below_needs"].tolist() == [True, False, pd.NA, True, True]
    assert out["any_supervision"].tolist() == [True, False, pd.NA, pd.NA, True]
    assert out["years_in_role_band"].astype(object).tolist()[:3] == ["Less than 1 year", "6 or more years",
                                                                      "6 or more years"]
    assert set(derive.DERIVED) >= {"region", "nation", "years_6plus", "band_7plus", "commissioned", "direct_work",
                                   "any_supervision", "consult_access", "service_universal", "part_time",
                                   "cpd_funding_below_needs", "cpd_time_below_needs"}


def test_cleaning_code_has_no_per_row_python_loops():
    """Vectorised by construction: no iterrows/itertuples/apply(axis=1) over respondents in the cleaning path."""
    for name in ("clean.py", "harmonise.py", "derive.py", "readers/canonical.py", "readers/csvscan.py"):
        text = (REPO / "src/pimh_analysis" / name).read_text()
        assert not re.search(r"\.iterrows\(|\.itertuples\(|apply\([^)]*axis\s*=\s*1", text), name


SHIPPED = REPO / "data" / "raw" / "wave1" / "survey.csv"


@pytest.mark.skipif(not SHIPPED.exists(), reason="the replica has not been generated yet")
def test_shipped_wave_cleans_to_the_published_respondents():
    res = clean.clean_wave("wave1")
    assert res.summary["rows_kept"] == 34
    assert res.summary["rows_raw"] == res.summary["rows_kept"] + res.summary["rows_excluded"]
    counts = res.respondents["region"].value_counts()
    # the report's demography table
    assert counts[["East England", "East Midlands", "Greater London", "North East", "North West",
                   "Northern Ireland", "Scotland", "South East", "South West", "Wales",
                   "West Midlands"]].tolist() == [4, 3, 8, 2, 6, 1, 1, 4, 1, 2, 2]
    assert np.all(res.respondents["respondent_id"].notna())


def test_a_dropped_question_is_expected_and_not_applicable(codebook, tmp_path):
    """A Qualtrics map whose codebook_changes drop Q17: no column, a warning, and not_applicable in items_long."""
    df = make_valid_frame(codebook, 12, seed=6, text_rate=0.0)
    df["q17_mentoring_prereq"] = pd.NA
    cmap = writers.qualtrics_column_map(codebook)
    cmap["columns"] = {k: v for k, v in cmap["columns"].items() if v.get("item") != "Q17"}
    path = writers.write_qualtrics_csv(df, tmp_path / "export.csv", cmap, codebook=codebook)
    strict = read_survey(path, "qualtrics", cmap, codebook=codebook)
    assert [(i.rule, i.severity) for i in strict.issues] == [("missing_column", "error")]
    cmap["codebook_changes"] = {"dropped": [{"item": "Q17", "reason": "not asked again"}]}
    read = read_survey(path, "qualtrics", cmap, codebook=codebook)
    assert [(i.rule, i.severity, i.variable) for i in read.issues] == [
        ("missing_column", "warning", "q17_mentoring_prereq")]
    res = clean.clean_survey(read, codebook, source_file="export.csv", fmt="qualtrics")
    assert res.summary["absent_variables"] == ["q17_mentoring_prereq"]
    states = res.items_long.loc[res.items_long["variable"] == "q17_mentoring_prereq", "state"]
    assert set(states) == {"not_applicable"} and len(states) == res.summary["rows_kept"]


WAVE2 = REPO / "data" / "raw" / "wave2demo" / "wave.yaml"


@pytest.mark.skipif(not WAVE2.exists(), reason="the demo second wave has not been generated yet")
def test_demo_second_wave_validates_and_cleans():
    res = clean.clean_wave("wave2demo")
    assert res.summary["rows_raw"] == res.summary["rows_kept"] + res.summary["rows_excluded"]
    assert res.summary["format"] == "qualtrics"
