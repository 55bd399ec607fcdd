"""The codebook: Appendix 1 as data."""

import pandas as pd
import pytest
import yaml

from pimh_analysis import paths
from pimh_analysis.instrument import COLUMN_TYPES, CodebookError, load_codebook, columns_table


@pytest.fixture(scope="module")
def book():
    return load_codebook()


def test_every_column_is_described(book):
    assert len(book.columns) > 300
    for c in book.columns:
        assert c.type in COLUMN_TYPES, c.var
        assert c.appendix and c.wording and c.item_id, c.var
        if c.is_choice or c.is_tick:
            assert c.values and len(c.values) == len(c.codes), c.var


def test_questions_1_to_46_and_subitems_are_present(book):
    import re
    numbers = set()
    for c in book.columns:
        numbers.update(int(n) for n in re.findall(r"\d+", c.appendix))
    assert set(range(1, 47)) <= numbers, sorted(set(range(1, 47)) - numbers)
    for sub in ["19a", "19b", "19c", "19d", "19e", "20a", "20b", "21e", "37a (misnumbered)"]:
        assert any(c.appendix == sub for c in book.columns), sub
    # every matrix row of Q26, Q28, Q30, Q32, Q36, Q37, Q43
    assert len(book.group("Q26")) == 27
    assert len([c for c in book.group("Q28") if c.type == "matrix"]) == 9
    assert len(book.group("Q30")) == 18
    assert len([c for c in book.group("Q32b") if c.type == "matrix"]) == 13
    assert len(book.group("Q36")) == 5 and len(book.group("Q37")) == 5
    assert len(book.group("Q43")) == 8


def test_personal_data_flags(book):
    assert book.column("q07_postcode_prefix").type == "personal_data"
    assert book.column("q46_contact").type == "personal_data"
    for c in book.columns:
        if c.type in ("free_text", "personal_data"):
            assert c.personal_data, c.var
        else:
            assert not c.personal_data, c.var


def test_numbering_faults_are_recorded(book):
    faults = " ".join(f["fault"] for f in book.numbering_faults)
    for needle in ["Q15 and Q16", "19 is used twice", "20 is used twice", "21 is used twice", "MERGE WITH QUESTION 32", "Q11 stem missing", "37a"]:
        assert needle in faults, needle
    assert book.column("q19x_consult_access").item_id == "Q19.2"
    assert book.column("q11_pg_cert_diploma").reconstructed
    assert book.column("q32u_vig").reconstructed
    assert not any(c.appendix.startswith("16") for c in book.columns)  # Q16 merged into Q15


def test_missing_codes_and_ordinal_order(book):
    assert book.column("q02_years_in_role").missing == ("Prefer not to say",)
    assert book.column("q26_psychosis").missing == ("Don't know",)
    assert book.column("q12_cpd_frequency").scale_order == ("Never", "Every three years", "Every two years", "Once a year", "Every six months")
    assert book.column("q19e_sup_satisfaction").scale_order[-1] == "Very satisfied"


def test_skip_logic_populations(book):
    df = pd.DataFrame({v: pd.Series([pd.NA] * 3, dtype="object") for v in book.answer_vars})
    df["q23_direct_work"] = ["Yes, I work directly with families experiencing mental health difficulties",
                             "No, my responsibilities are mostly supervisory and training", pd.NA]
    df["q18_supervision"] = ["Yes", "No", "Prefer not to say"]
    df["q19x_consult_access"] = ["No", "Yes", pd.NA]
    assert book.eligible(df, "q24_caseload").tolist() == [True, False, False]
    assert book.eligible(df, "q19a_suptype_clinical").tolist() == [True, False, False]
    assert book.eligible(df, "q20a_consultby_hv_mh").tolist() == [False, True, False]
    df["q28_other"] = ["Yes", pd.NA, pd.NA]
    assert book.eligible(df, "q28_other_text").tolist() == [True, False, False]
    assert book.eligible(df, "q43_no_funding").all()


def test_malformed_codebook_is_refused(tmp_path):
    raw = yaml.safe_load(paths.codebook_file().read_text(encoding="utf-8"))
    raw["items"].append(dict(raw["items"][2]))  # Q1 again: duplicate variable names
    bad = tmp_path / "codebook.yaml"
    bad.write_text(yaml.safe_dump(raw), encoding="utf-8")
    with pytest.raises(CodebookError, match="duplicate variable name"):
        load_codebook(bad)


def test_flat_table_has_one_row_per_column(book):
    t = columns_table(book)
    assert len(t) == len(book.columns) and t["var"].is_unique
