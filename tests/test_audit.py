"""The reproduction audit on a small fixture register and a 34-respondent fixture survey.

Every expected value below is worked by hand from the fixture's construction
(see :func:`fixture_survey`), not read off the engine's output.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from pimh_analysis import audit as A
from pimh_analysis.cli import main

FIXTURES = Path(__file__).parent / "fixtures" / "audit"
N = 34
DIRECT_YES = "Yes, I work directly with families experiencing mental health difficulties"
DIRECT_NO = "No, my responsibilities are mostly supervisory and training"
AGREE = ["Strongly disagree", "Disagree", "Neither agree nor disagree", "Agree", "Strongly agree"]


def _cat(values, categories, ordered=False):
    return pd.Categorical(values, categories=categories, ordered=ordered)


def _ticks(ones: range | list, eligible: range | list | None = None) -> pd.Series:
    """Int8 0/1 column: 1 for ``ones``, 0 for the rest of ``eligible`` (default everyone), NA elsewhere."""
    elig = set(range(N) if eligible is None else eligible)
    return pd.Series([(1 if i in set(ones) else 0) if i in elig else pd.NA for i in range(N)], dtype="Int8")


def fixture_survey() -> pd.DataFrame:
    """34 respondents; index i = 0..33."""
    direct = range(0, 23)  # 23 direct workers
    supervised = range(0, 16)  # 16 supervised
    d = {
        "respondent_id": [f"R{i + 1:03d}" for i in range(N)],
        # Q43: 20 Agree + 8 Strongly agree = 28 (82.35%); then 4 Disagree, 2 Neither
        "q43_no_funding": _cat(["Agree"] * 20 + ["Strongly agree"] * 8 + ["Disagree"] * 4
                               + ["Neither agree nor disagree"] * 2, AGREE, True),
        "q43_commissioners_pimh": _cat(["Agree"] * 15 + ["Strongly agree"] * 7 + ["Disagree"] * 12, AGREE, True),  # 22
        "q43_commissioners_hv_role": _cat(["Agree"] * 25 + ["Disagree"] * 9, AGREE, True),  # 25
        "q43_no_obstacles": _cat(["Agree"] * 30 + ["Disagree"] * 4, AGREE, True),  # 30 (reverse-worded)
        "q18_supervision": _cat(["Yes"] * 16 + ["No"] * 18, ["Yes", "No"]),
        "q19a_suptype_safeguarding": _ticks(range(0, 9), supervised),  # 9/16
        "q19b_supby_clin_psych": _ticks(range(0, 5), supervised),  # 5/16
        "q11_pg_cert_diploma": _ticks(range(0, 26)),  # 26/34
        "q02_years_in_role": _cat(["Less than 1 year"] * 7 + ["1 to 5 years"] * 18 + ["6 to 10 years"] * 3
                                  + ["Over 10 years"] * 6,
                                  ["Less than 1 year", "1 to 5 years", "6 to 10 years", "Over 10 years"], True),
        "q12_cpd_frequency": _cat(["Every six months"] * 17 + ["Once a year"] * 15 + ["Less often"] * 2,
                                  ["Every six months", "Once a year", "Less often"]),
        # 22 Yes, 11 No, 1 missing code
        "q19x_consult_access": _cat(["Yes"] * 22 + ["No"] * 11 + ["Prefer not to say"], ["Yes", "No", "Prefer not to say"]),
        # Q39: respondent 33 skipped the whole item
        "q39_trained_hvs": _ticks(range(0, 28), range(0, 33)),  # 28/33
        "q39_trained_school_nurses": _ticks(range(0, 8), range(0, 33)),
        "q23_direct_work": _cat([DIRECT_YES] * 23 + [DIRECT_NO] * 11, [DIRECT_YES, DIRECT_NO]),
        # GAD-7: mothers 0..11 (12), partners 0 and 12 -> either: 13 of 23
        "q30_gad7_mother": _ticks(range(0, 12), direct),
        "q30_gad7_partner": _ticks([0, 12], direct),
        # PIIOS: mothers 0,1,2; partner 1 -> either: 3
        "q30_piios_mother": _ticks([0, 1, 2], direct),
        "q30_piios_partner": _ticks([1], direct),
        "q31_other_tools": pd.Series(["Whooley questions", "whooley", "We use WHOOLEY and ASQ", "ASQ"]
                                     + [pd.NA] * 26 + ["Whooley"] + [pd.NA] * 3, dtype="string"),
        "q32q_vig_practitioner": _ticks(range(0, 16), direct),  # 16
        "q32u_vig": _cat(["Yes"] * 10 + ["No"] * 13 + [None] * 11, ["Yes", "No"]),  # 10
        "q32q_cbt": _ticks(range(0, 5), direct),  # 5/23
    }
    return pd.DataFrame(d)


def fixture_population(df: pd.DataFrame, name: str) -> pd.Series:
    rules = {
        "all_respondents": lambda: pd.Series(True, index=df.index),
        "supervised": lambda: df["q18_supervision"].astype(object) == "Yes",
        "direct_work": lambda: df["q23_direct_work"].astype(object) == DIRECT_YES,
    }
    if name not in rules:
        raise KeyError(f"unknown population {name!r}")
    return rules[name]().fillna(False).astype(bool)


ITEMS = {
    "Q39": ["q39_trained_hvs", "q39_trained_school_nurses", "q39_trained_not_in_data"],
    "Q19.2": ["q19x_consult_access"],
    "Q43": ["q43_no_obstacles", "q43_no_funding", "q43_commissioners_pimh", "q43_commissioners_hv_role"],
}

INTERVIEWS = pd.DataFrame({"interview_id": ["I01", "I02", "I03", "I04"],
                           "role": ["specialist", "specialist", "specialist", "champion"]})
ATTRIBUTES = pd.DataFrame(
    {
        "segment_id": ["S1", "S2", "S3", "S4"],
        "interview_id": ["I01", "I03", "I02", "I03"],
        "attribute": ["caseload_families", "caseload_families", "clinical_share_of_week", "years_building"],
        "value_min": ["20", "10", "0.5", "11"],
        "value_max": ["20", "15", "0.5", "11"],
        "unit": ["families", "families", "proportion of working week", "years"],
        "note": ["", "", "", ""],
    }
)


@pytest.fixture(scope="module")
def register() -> pd.DataFrame:
    return A.load_register(FIXTURES / "register.csv")


@pytest.fixture(scope="module")
def result(register) -> pd.DataFrame:
    out = A.run_audit(
        register, fixture_survey(), interviews=INTERVIEWS, attributes=ATTRIBUTES,
        population_mask=fixture_population, item_columns=ITEMS,
    )
    return out.set_index("id", drop=False)


@pytest.fixture
def scratch_root(tmp_path, monkeypatch) -> Path:
    """A minimal repository root (dvc.yaml + params.yaml) so that paths resolve without the checkout."""
    root = tmp_path / "repo"
    root.mkdir()
    (root / "dvc.yaml").write_text("stages: {}\n")
    (root / "params.yaml").write_text("{}\n")
    monkeypatch.setenv("PIMH_ROOT", str(root))
    return root


def _row(result, rid):
    return result.loc[rid]


# --- statuses -----------------------------------------------------------------------------------
EXPECTED_STATUS = {
    "P-FUND": "reproduced_other_rounding",  # 28/34 = 82.35 -> 82.4; 82.3 by truncation
    "P-SAFE": "reproduced",  # 9/16 = 56.25 -> 56.3 half-up
    "P-PSY": "reproduced_other_rounding",  # 5/16 = 31.25; 31.2 is half-even / truncation
    "P-PG": "differs",  # 26/34 = 76.47 -> 76.5, not 76.6
    "P-YRS6": "reproduced_other_rounding",  # 9/34 = 26.47 -> 26.5; 26.4 truncated
    "P-CPD": "differs",  # 17/34 = 50
    "P-CONS": "reproduced",  # 22/33 = 66.67
    "P-Q39": "reproduced",  # 28/33 = 84.85
    "P-GAD": "reproduced",  # 13/23 = 56.52 -> 57
    "DT-YRS-1_5-N": "differs",  # 18, not 28
    "DT-YRS-1_5-P": "reproduced",  # 18/34 = 52.94
    "F-DW": "differs",  # 23/34, not 23/35
    "V-HALF": "reproduced",  # 50% within 40-60
    "V-TWO3": "differs",  # 76.47% outside 60-72
    "V-NOTE": "reproduced",  # 50% within [45, 55] from the note
    "C-VIG": "reproduced",  # 16 > 10
    "R-TOP": "reproduced",  # 28/34 beats 25/34 and 22/34 once q43_no_obstacles is excluded
    "R-TOP2": "differs",  # q43_no_obstacles 30/34 tops
    "CAM": "reproduced",  # 3 <= 5
    "TXT": "reproduced",  # 3 direct workers mention Whooley (a 4th is not a direct worker)
    "RNG": "differs",  # 10-20 stated, 15-20 published
    "RNG-I01": "reproduced",
    "RNG-PCT": "reproduced",  # 0.5 of the week = 50%
    "CNT-INT": "reproduced",
    "NC": "not_computable",
    "NC-VAR": "not_computable",
    "NC-POP": "not_computable",
    "NP": "not_published",
}


def test_every_status(result):
    assert result["status"].to_dict() == EXPECTED_STATUS
    assert list(result["id"]) == list(EXPECTED_STATUS)  # register order kept


def test_output_columns(result):
    required = ["id", "section", "published", "decimals", "question", "option", "stated_n", "numerator",
                "denominator", "recomputed", "status", "consistent_half_up", "consistent_half_even",
                "consistent_truncate", "feasible_denominators", "closest_at_stated_n", "note"]
    assert all(c in result.columns for c in required)


def test_summary_counts(result):
    assert A.summarise(result.reset_index(drop=True)) == {
        "reproduced": 14, "reproduced_other_rounding": 3, "differs": 7, "not_computable": 3,
        "not_published": 1, "total": 28,
    }


# --- percent rows in detail -------------------------------------------------------------------------
def test_truncated_82_3(result):
    r = _row(result, "P-FUND")
    assert (r.numerator, r.denominator) == (28, 34)
    assert r.recomputed == "82.4" and r.exact == "82.3529"
    assert r.matching_rules == "truncate"
    assert (r.consistent_half_up, r.consistent_half_even, r.consistent_truncate) == (False, False, True)
    # half-up needs 8225 n <= 100000 k < 8235 n: no n in 10..60; truncation: 14/17, 28/34, 42/51
    assert r.feasible_denominators == ""
    assert r.feasible_denominators_other_rules == "17:truncate 34:truncate 51:truncate"
    assert r.closest_at_stated_n == "28/34 = 82.353 (half_up 82.4, half_even 82.4, truncate 82.3; gap 0.053)"
    assert "register: 28/34 truncated." in r.note
    assert "only under truncate" in r.note


def test_tie_9_of_16(result):
    r = _row(result, "P-SAFE")
    assert (r.numerator, r.denominator, r.recomputed) == (9, 16, "56.3")
    assert r.matching_rules == "half_up"
    assert pd.isna(r.consistent_half_up)  # no stated n
    assert r.feasible_denominators == "16 32 48"  # 9/16, 18/32, 27/48 = 56.25
    assert r.feasible_denominators_other_rules == "55:truncate"  # 31/55 = 56.36


def test_tie_5_of_16_half_even(result):
    r = _row(result, "P-PSY")
    assert r.recomputed == "31.3"
    assert r.matching_rules == "half_even truncate"
    assert (r.consistent_half_up, r.consistent_half_even, r.consistent_truncate) == (False, True, True)


def test_76_6_unreachable(result):
    r = _row(result, "P-PG")
    assert (r.numerator, r.denominator, r.recomputed) == (26, 34, "76.5")
    assert (r.consistent_half_up, r.consistent_half_even, r.consistent_truncate) == (False, False, False)
    assert r.feasible_denominators == "47"
    assert r.feasible_denominators_other_rules == "30:truncate 60:truncate"
    assert r.closest_at_stated_n == "26/34 = 76.471 (half_up 76.5, half_even 76.5, truncate 76.4; gap 0.129)"
    assert "76.6% is not reachable at n=34 under any rule" in r.note
    assert "no k/34 prints" not in r.note  # said once: the recomputed n is the stated n


def test_sum_of_rounded_parts_explained(result):
    r = _row(result, "P-YRS6")
    assert (r.numerator, r.denominator, r.recomputed) == (9, 34, "26.5")
    assert r.matching_rules == "truncate"
    assert "sum of rounded parts 8.8 + 17.6 = 26.4" in r.note
    # 82.3 is also 20/34 Agree (58.8) + 8/34 Strongly agree (23.5) added after rounding
    assert "sum of rounded parts 58.8 + 23.5 = 82.3" in _row(result, "P-FUND").note


def test_51_percent(result):
    r = _row(result, "P-CPD")
    assert (r.numerator, r.denominator, r.recomputed) == (17, 34, "50")
    assert "51% is not reachable at n=34" in r.note
    assert r.feasible_denominators.split()[0] == "35"


def test_valid_population_and_stated_n_mismatch(result):
    r = _row(result, "P-CONS")
    assert (r.numerator, r.denominator, r.recomputed) == (22, 33, "66.7")
    assert (r.consistent_half_up, r.consistent_half_even, r.consistent_truncate) == (False, False, False)
    assert "recomputed denominator 33 differs from the stated n 34" in r.note
    assert "no k/34 prints as 66.7% under any rule" in r.note


def test_answered_population_and_any(result):
    assert (_row(result, "P-Q39").numerator, _row(result, "P-Q39").denominator) == (28, 33)
    gad = _row(result, "P-GAD")
    assert (gad.numerator, gad.denominator, gad.recomputed) == (13, 23, "57")


def test_count_percent_pair(result):
    n = _row(result, "DT-YRS-1_5-N")
    assert (n.numerator, n.recomputed) == (18, "18")
    assert "pair check: 28/34 prints as 82.4%, not 52.9%; 52.9% at n=34 implies count 18" in n.note
    assert "pair check" in _row(result, "DT-YRS-1_5-P").note


def test_fraction(result):
    r = _row(result, "F-DW")
    assert r.recomputed == "23/34"
    assert "numerator matches; denominator 34 not 35" in r.note


def test_verbal(result):
    assert _row(result, "V-HALF").recomputed == "50.0"
    r = _row(result, "V-TWO3")
    assert r.exact == "76.4706" and "outside the reading 60-72%" in r.note


def test_comparison_rank_text_and_at_most(result):
    assert _row(result, "C-VIG").recomputed == "16 vs 10"
    assert _row(result, "R-TOP").recomputed == "q43_no_funding"
    assert "q43_no_funding 28/34, q43_commissioners_hv_role 25/34, q43_commissioners_pimh 22/34" in _row(result, "R-TOP").note
    assert _row(result, "R-TOP2").recomputed == "q43_no_obstacles"
    assert (_row(result, "CAM").numerator, _row(result, "CAM").recomputed) == (3, "3")
    txt = _row(result, "TXT")
    assert (txt.numerator, txt.denominator) == (3, 4)


def test_interview_rows(result):
    r = _row(result, "RNG")
    assert r.recomputed == "10-20"
    assert "I01: 20; I03: 10-15" in r.note and "lies within the stated 10-20" in r.note
    assert _row(result, "RNG-I01").recomputed == "20"
    assert _row(result, "RNG-PCT").recomputed == "50"
    assert _row(result, "CNT-INT").recomputed == "3"


def test_not_computable_reasons(result):
    assert "marked not computable" in _row(result, "NC").note
    assert "'q99_absent' is not in the data" in _row(result, "NC-VAR").note
    assert "population 'nobody_named_this': unknown population 'nobody_named_this'" in _row(result, "NC-POP").note


def test_not_published_still_recomputed(result):
    r = _row(result, "NP")
    assert (r.numerator, r.denominator, r.recomputed) == (5, 23, "22")  # 21.74 at 0 decimals


def test_primary_rule_is_a_parameter(register):
    out = A.run_audit(register, fixture_survey(), interviews=INTERVIEWS, attributes=ATTRIBUTES,
                      population_mask=fixture_population, item_columns=ITEMS, primary_rule="truncate")
    s = out.set_index("id")["status"]
    assert s["P-FUND"] == "reproduced" and s["P-YRS6"] == "reproduced"
    assert s["P-SAFE"] == "reproduced_other_rounding"  # 56.3 only half-up now
    assert out.set_index("id").loc["P-SAFE", "recomputed"] == "56.2"


def test_no_data_means_not_computable(register):
    out = A.run_audit(register)
    s = out.set_index("id")["status"]
    assert s["P-FUND"] == "not_computable" and s["NP"] == "not_published"
    # arithmetic on the printed value needs no data
    assert out.set_index("id").loc["P-FUND", "consistent_truncate"] == True  # noqa: E712


# --- parsing helpers ----------------------------------------------------------------------------
def test_parse_variable_forms():
    assert A.parse_variable("q11_masters") == A.VarExpr("column", ("q11_masters",), "q11_masters")
    assert A.parse_variable("any(a|b)").kind == "any" and A.parse_variable("any(a|b)").columns == ("a", "b")
    assert A.parse_variable("sum(a|b|c)").kind == "sum"
    assert A.parse_variable("attribute:caseload_families").columns == ("caseload_families",)


def test_parse_range():
    from fractions import Fraction as F
    assert A.parse_range("15-20") == (F(15), F(20))
    assert A.parse_range("15 to 20") == (F(15), F(20))
    assert A.parse_range("8\u201318") == (F(8), F(18))
    assert A.parse_range("11") == (F(11), F(11))
    assert A.parse_range("27-33.4") == (F(27), F(167, 5))
    with pytest.raises(ValueError):
        A.parse_range("20-15")


def test_as_text_normalises_ticks_and_labels():
    assert A.as_text(pd.Series([1, 0, None], dtype="Int8")).tolist() == ["1", "0", pd.NA]
    assert A.as_text(pd.Series([1.0, float("nan")])).tolist() == ["1", pd.NA]
    assert A.as_text(pd.Series([True, False])).tolist() == ["1", "0"]
    assert A.as_text(pd.Series(pd.Categorical([" Yes", None]))).tolist() == ["Yes", pd.NA]


# --- register validation and files ----------------------------------------------------------------------
def test_validate_register_flags_problems(tmp_path):
    reg = A.load_register(FIXTURES / "register.csv")
    assert A.validate_register(reg) == []
    bad = reg.copy()
    bad.loc[0, "decimals"] = "0"
    bad.loc[1, "statistic"] = "median"
    bad.loc[2, "id"] = bad.loc[0, "id"]
    rules = sorted(i.rule for i in A.validate_register(bad))
    assert rules == ["decimals_mismatch", "duplicate_id", "unknown_statistic"]
    assert {i.line for i in A.validate_register(bad)} == {2, 3, 4}


def test_load_register_requires_columns(tmp_path):
    p = tmp_path / "reg.csv"
    p.write_text("id,published\nX,1\n", encoding="utf-8")
    with pytest.raises(A.InputError) as exc:
        A.load_register(p)
    assert exc.value.issues[0].rule == "register_columns"


def test_write_read_roundtrip(result, scratch_root, capsys):
    tmp_path = scratch_root / "reports" / "tables"
    p = A.write_audit(result.reset_index(drop=True), tmp_path / "audit.csv")
    assert "[pimh] wrote reports/tables/audit.csv" in capsys.readouterr().out
    back = A.read_audit(p)
    assert back["status"].tolist() == list(EXPECTED_STATUS.values())
    assert back.set_index("id").loc["P-FUND", "consistent_truncate"] == "True"
    assert back.set_index("id").loc["P-SAFE", "consistent_truncate"] == ""
    assert back.set_index("id").loc["P-FUND", "numerator"] == "28"
    assert A.summarise(back)["differs"] == 7
    # deterministic bytes
    p2 = A.write_audit(result.reset_index(drop=True), tmp_path / "audit2.csv")
    assert p.read_bytes() == p2.read_bytes()


def test_summarise_rejects_unknown_status():
    with pytest.raises(ValueError):
        A.summarise(pd.DataFrame({"status": ["reproduced", "sort of"]}))


# --- CLI -----------------------------------------------------------------------------------------
def test_cli_reads_audit_file(result, scratch_root, capsys):
    p = A.write_audit(result.reset_index(drop=True), scratch_root / "audit.csv")
    capsys.readouterr()
    assert main(["audit", "--audit-file", str(p)]) == 0
    out = " ".join(capsys.readouterr().out.split())  # the CLI wraps long notes
    assert "28 register entries" in out
    assert "differs 7" in out and "reproduced_other_rounding 3" in out
    assert "P-PG" in out and "76.6% is not reachable" in out
    assert "P-SAFE" not in out  # reproduced rows are not listed
    assert " NP " not in out  # not_published listed only with --all
    assert main(["audit", "--audit-file", str(p), "--all"]) == 0
    assert " NP " in " ".join(capsys.readouterr().out.split())


def test_cli_missing_file_is_an_input_error(tmp_path, capsys):
    # no repository root needed to report a missing file
    assert main(["audit", "--audit-file", str(tmp_path / "none.csv")]) == 1
    assert "audit file not found" in capsys.readouterr().err


def test_cli_recompute_from_processed_data(scratch_root, capsys):
    root = scratch_root
    (root / "data" / "processed" / "wave1").mkdir(parents=True)
    fixture_survey().to_parquet(root / "data" / "processed" / "wave1" / "respondents.parquet")
    out_csv = root / "reports" / "tables" / "reproduction_audit.csv"
    rc = main(["audit", "--recompute", "--register", str(FIXTURES / "register.csv"), "--write"])
    assert rc == 0
    out = capsys.readouterr().out
    assert "recomputed from data/processed/wave1" in out
    assert out_csv.is_file()
    back = A.read_audit(out_csv).set_index("id")
    # populations now come from the real codebook; the arithmetic is unchanged
    assert back.loc["P-FUND", "status"] == "reproduced_other_rounding"
    assert back.loc["P-SAFE", "recomputed"] == "56.3"
    assert back.loc["P-CONS", "denominator"] == "33"
    assert back.loc["RNG", "status"] == "not_computable"  # no interview tables in the scratch repo


# --- the packaged register --------------------------------------------------------------------------
def test_packaged_register_is_understood():
    """Every row of the real register parses and is computable on a codebook-shaped frame.

    The frame has one random valid value per codebook column (plus the derived ``region``);
    the statuses are meaningless, but no row may fail to be read or refer to a column,
    option label, item or population the codebook does not have.
    """
    import numpy as np

    from pimh_analysis import paths
    from pimh_analysis.instrument import load_codebook

    reg = A.load_register()
    assert A.validate_register(reg) == []
    cb = load_codebook()
    rng = np.random.default_rng(0)
    d = {"respondent_id": [f"R{i:03d}" for i in range(N)]}
    for c in cb.columns:
        if c.is_text:
            d[c.var] = pd.Series(rng.choice(["Whooley", "", "ASQ"], N), dtype="string")
        elif c.is_tick:
            d[c.var] = pd.Series(rng.integers(0, 2, N), dtype="Int8")
        elif c.values:
            d[c.var] = pd.Categorical(rng.choice(list(c.values), N), categories=list(c.values))
    regions = sorted(set(reg.loc[reg["variable"] == "region", "options"]))
    d["region"] = pd.Categorical(rng.choice(regions, N), categories=regions)
    idir = paths.PACKAGE_DIR.parents[1] / "data" / "raw" / "interviews"
    kw = {}
    for name in ("interviews", "attributes"):
        f = idir / f"{name}.csv"
        if f.is_file():
            kw[name] = pd.read_csv(f, dtype=str, keep_default_na=False)
    out = A.run_audit(reg, pd.DataFrame(d), **kw, **A.codebook_hooks(cb))
    survey_rows = out[out["source"] != "interviews"]
    bad = survey_rows[survey_rows["status"] == "not_computable"]
    assert bad.empty, bad[["id", "note"]].to_string()
    assert not out["note"].str.contains("not among the categories|cannot be read").any()
    assert (out["status"] == "not_published").sum() == (reg["published_status"] == "not_published").sum()
