"""The report's tables (pimh_analysis.tables): cells recomputed independently, published cells,
denominators, register links, release policy (disclosure) and byte-identical output.

The respondent frame is the cleaning stage's ``data/processed/wave1/respondents.parquet`` when it
exists; otherwise :func:`provisional_respondents` builds one from the raw replica with a simple,
independent rule (completed, screened-in, consenting live responses; the later of two
submissions with the same contact; region from the post-code area).  Expected values below are
either recomputed here with plain pandas / statsmodels or taken from the published register
(the report's own numbers), never read off the code under test.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
import yaml
from statsmodels.stats.proportion import proportion_confint

from pimh_analysis import REPLICA_NOTICE, audit, paths
from pimh_analysis import tables as T
from pimh_analysis.disclosure import check_paths, check_table
from pimh_analysis.instrument import load_codebook

PROCESSED = paths.wave_processed_dir("wave1") / "respondents.parquet"
DIRECT = "Yes, I work directly with families experiencing mental health difficulties"


# --- the respondent frame -------------------------------------------------------------------


def provisional_respondents(typed: bool = True) -> pd.DataFrame:
    """A cleaned-like frame from the raw replica (used while the cleaning stage is not run).

    ``typed``: categoricals in codebook order and nullable Int8 ticks, as ARCHITECTURE §5
    describes the processed data; otherwise the raw text.
    """
    book = load_codebook()
    raw = pd.read_csv(paths.wave_raw_dir("wave1") / "survey.csv", dtype=str, keep_default_na=False, na_values=[""])
    live = raw[raw["status"].eq("IP Address") & raw["finished"].eq("1") & raw["s1_pimh_specialist"].eq("Yes")
               & raw["s2_consent"].notna()]
    kept = live[live["q46_contact"].isna() | ~live["q46_contact"].duplicated(keep="last")].copy()
    areas = pd.read_csv(paths.postcode_areas_file(), dtype=str)
    area = kept["q07_postcode_prefix"].str.extract(r"^([A-Z]{1,2})", expand=False)
    kept["region"] = area.map(dict(zip(areas["area"], areas["region"])))
    kept = kept.drop(columns=["q07_postcode_prefix", "q46_contact"]).reset_index(drop=True)
    if typed:
        for c in book.columns:
            if c.var not in kept.columns:
                continue
            if c.is_tick:
                kept[c.var] = pd.to_numeric(kept[c.var]).astype("Int8")
            elif c.is_choice and c.values:
                kept[c.var] = pd.Categorical(kept[c.var], categories=list(c.values),
                                             ordered=c.type in ("likert", "ordinal"))
    return kept


def respondents_frame() -> pd.DataFrame:
    return pd.read_parquet(PROCESSED) if PROCESSED.is_file() else provisional_respondents()


@pytest.fixture(scope="module")
def book():
    return load_codebook()


@pytest.fixture(scope="module")
def register():
    return audit.load_register()


@pytest.fixture(scope="module")
def df():
    return respondents_frame()


@pytest.fixture(scope="module")
def tables(df, book, register):
    return T.build_tables(df, book, register)


@pytest.fixture
def scratch_root(tmp_path, monkeypatch):
    """A repository root with the wave1 metadata and an unpublished wave2, for writing outputs."""
    root = tmp_path / "repo"
    root.mkdir()
    for name in ("dvc.yaml", "params.yaml"):
        (root / name).write_text((paths.root() / name).read_text(encoding="utf-8"), encoding="utf-8")
    for wave, published in (("wave1", True), ("wave2", False)):
        d = root / "data" / "raw" / wave
        d.mkdir(parents=True)
        (d / "wave.yaml").write_text(yaml.safe_dump({"replica": True, "published_reproduction": published}),
                                     encoding="utf-8")
    monkeypatch.setenv("PIMH_ROOT", str(root))
    return root


# --- independent recomputation -----------------------------------------------------------------


def text(s: pd.Series) -> pd.Series:
    """Plain-pandas text view: categoricals as labels, ticks as '1'/'0', missing as None."""
    out = s.astype(object).where(s.notna(), None)
    return out.map(lambda v: None if v is None else (str(int(v)) if isinstance(v, (int, float, np.integer)) else str(v)))


def cell(tables, table_id, **where) -> pd.Series:
    c = tables[table_id].cells
    mask = pd.Series(True, index=c.index)
    for k, v in where.items():
        mask &= c[k].astype(str) == str(v)
    hit = c[mask]
    assert len(hit) == 1, f"{table_id} {where}: {len(hit)} cells"
    return hit.iloc[0]


def check(row: pd.Series, n: int, denominator: int) -> None:
    assert int(row["n"]) == n and int(row["denominator"]) == denominator, (row["variable"], row["category"])
    assert row["percent"] == pytest.approx(100 * n / denominator)
    lo, hi = proportion_confint(n, denominator, alpha=0.05, method="wilson")
    assert row["ci_low"] == pytest.approx(100 * lo, abs=1e-9)
    assert row["ci_high"] == pytest.approx(100 * hi, abs=1e-9)


def test_single_choice_cells_match_plain_pandas(df, tables):
    band = text(df["q04a_pay_band"])
    for label in ("Band 6", "Band 7", "Band 8"):
        check(cell(tables, "t01_demography", variable="q04a_pay_band", category=label),
              int((band == label).sum()), int(band.notna().sum()))
    age = text(df["q03_age"])
    check(cell(tables, "t01_demography", variable="q03_age", category="50-59"), int((age == "50-59").sum()),
          int(age.notna().sum()))
    region = text(df["region"])
    check(cell(tables, "t01_demography", variable="region", category="Greater London"),
          int((region == "Greater London").sum()), int(region.notna().sum()))


def test_skip_logic_denominators_match_plain_pandas(df, tables):
    supervised = text(df["q18_supervision"]) == "Yes"
    clinical = text(df["q19a_suptype_clinical"])
    answered = supervised & clinical.notna()
    check(cell(tables, "t05_supervision", variable="q19a_suptype_clinical"),
          int((answered & (clinical == "1")).sum()), int(answered.sum()))
    direct = text(df["q23_direct_work"]) == DIRECT
    vig = text(df["q32u_vig"])
    check(cell(tables, "t10_interventions", variable="q32u_vig", category="Yes"),
          int((direct & (vig == "Yes")).sum()), int((direct & vig.notna()).sum()))
    q30 = [c for c in df.columns if c.startswith("q30_")]
    answered30 = direct & df[q30].notna().any(axis=1)
    either = (text(df["q30_gad7_mother"]) == "1") | (text(df["q30_gad7_partner"]) == "1")
    check(cell(tables, "t09_tools", variable="any(q30_gad7_mother|q30_gad7_partner)"),
          int((answered30 & either).sum()), int(answered30.sum()))


def test_combined_and_valid_cells_match_plain_pandas(df, tables):
    funding = text(df["q43_no_funding"])
    check(cell(tables, "t16_barriers", variable="q43_no_funding", kind="combined"),
          int(funding.isin(["Agree", "Strongly agree"]).sum()), int(funding.notna().sum()))
    consult = text(df["q19x_consult_access"])
    substantive = consult.isin(["Yes", "No"])
    check(cell(tables, "t06_consultation", variable="q19x_consult_access", category="Yes", base="valid"),
          int((consult == "Yes").sum()), int(substantive.sum()))
    check(cell(tables, "t06_consultation", variable="q19x_consult_access", category="Yes", base="answered"),
          int((consult == "Yes").sum()), int(consult.notna().sum()))


def test_ranking_and_free_text_cells_match_plain_pandas(df, tables):
    ranks = pd.to_numeric(text(df["q41_rank_supervision"]), errors="coerce")
    row = cell(tables, "t15_promotion_ranking", variable="q41_rank_supervision", values="1")
    check(row, int((ranks == 1).sum()), int(ranks.notna().sum()))
    assert row["mean_rank"] == pytest.approx(ranks.mean())
    if "q31_other_tools" in df.columns:
        direct = text(df["q23_direct_work"]) == DIRECT
        answer = df["q31_other_tools"].where(direct).dropna().astype(str)
        answer = answer[answer.str.strip() != ""]
        check(cell(tables, "t09_tools", variable="q31_other_tools", kind="mention", values="whooley"),
              int(answer.str.contains("whooley", case=False).sum()), len(answer))


def test_every_cell_has_wilson_interval_from_statsmodels(tables):
    for t in tables.values():
        c = t.cells
        n, d = c["n"].to_numpy(int), c["denominator"].to_numpy(int)
        assert (d > 0).all(), t.table_id
        lo, hi = proportion_confint(n, d, alpha=0.05, method="wilson")
        np.testing.assert_allclose(c["ci_low"].to_numpy(float), 100 * np.clip(lo, 0, 1), atol=1e-9, err_msg=t.table_id)
        np.testing.assert_allclose(c["ci_high"].to_numpy(float), 100 * np.clip(hi, 0, 1), atol=1e-9, err_msg=t.table_id)
        np.testing.assert_allclose(c["percent"].to_numpy(float), 100 * n / d, err_msg=t.table_id)


def test_ci_level_is_a_parameter(df, book):
    t = T.build_tables(df, book, only=["t01_demography"], level=0.9)["t01_demography"]
    row = t.cells[t.cells["category"] == "Band 7"].iloc[0]
    lo, hi = proportion_confint(int(row["n"]), int(row["denominator"]), alpha=0.10, method="wilson")
    assert row["ci_low"] == pytest.approx(100 * lo) and row["ci_high"] == pytest.approx(100 * hi)


# --- published cells, denominators, contract ------------------------------------------------------


def test_published_demography_cells_appear_in_t01(tables, register):
    """Every count of the report's demography table that is not a listed contradiction."""
    t01 = tables["t01_demography"].cells
    rows = register[register["id"].str.match(r"DT-.*-N$") & register["contradiction"].eq("")]
    assert len(rows) >= 15
    for r in rows.to_dict("records"):
        hit = t01[(t01["variable"] == r["variable"]) & (t01["values"] == r["options"])]
        assert len(hit) == 1, r["id"]
        assert int(hit["n"].iloc[0]) == int(r["published"]), r["id"]
        assert int(hit["denominator"].iloc[0]) == int(r["stated_n"]), r["id"]
        assert r["id"] in str(hit["register_ids"].iloc[0]).split("|")
    band7 = t01[t01["category"] == "Band 7"].iloc[0]
    assert (int(band7["n"]), int(band7["denominator"]), f"{band7['percent']:.1f}") == (27, 34, "79.4")


def test_t13_denominator_is_those_who_answered_q39(tables, df):
    t13 = tables["t13_training_delivered"].cells
    assert set(t13["denominator"]) == {33}
    assert len(df) == 34  # one respondent skipped Q39: the report's 84.8% = 28/33
    hvs = t13[t13["variable"] == "q39_trained_hvs"].iloc[0]
    assert f"{hvs['percent']:.1f}" == "84.8"


def test_q192_is_shown_over_all_respondents_and_over_substantive_answers(tables):
    c = tables["t06_consultation"].cells
    yes = c[(c["item_id"] == "Q19.2") & (c["category"] == "Yes")].set_index("base")
    assert (int(yes.loc["answered", "n"]), int(yes.loc["answered", "denominator"])) == (22, 34)
    assert (int(yes.loc["valid", "n"]), int(yes.loc["valid", "denominator"])) == (22, 33)
    assert f"{yes.loc['valid', 'percent']:.1f}" == "66.7"
    assert "FS-02" in yes.loc["valid", "register_ids"] and "FS-02" not in yes.loc["answered", "register_ids"]


def test_every_table_has_the_contract_columns_and_states_its_population(tables):
    assert set(T.TABLE_IDS) == set(tables)
    for t in tables.values():
        c = t.cells
        for col in T.TIDY_COLUMNS:
            assert col in c.columns, (t.table_id, col)
        assert c["population"].astype(str).str.len().gt(0).all(), t.table_id
        assert c["denominator"].notna().all() and c["n"].notna().all(), t.table_id
        assert (c["n"] <= c["denominator"]).all(), t.table_id
        meta = t.meta()
        assert meta.population and meta.denominator, t.table_id
        assert "N = " in meta.denominator, t.table_id


def test_single_choice_blocks_add_up_to_their_denominator(tables):
    for t in tables.values():
        c = t.cells[t.cells["kind"] == "category"]
        for (block, var, base), g in c.groupby(["block", "variable", "base"]):
            assert g["n"].sum() == g["denominator"].iloc[0], (t.table_id, block)


def test_an_item_missing_from_a_wave_is_left_out_with_a_note(df, book):
    dropped = df.drop(columns=[c.var for c in book.group("Q19b")] + ["q19d_sup_frequency", "q43_retention"])
    t = T.build_tables(dropped, book, only=["t05_supervision", "t16_barriers"])
    t05 = t["t05_supervision"]
    assert set(t05.cells["item_id"]) == {"Q18", "Q19a", "Q19c", "Q19e"}
    assert any("Q19b" in n for n in t05.notes) and any("Q19d" in n for n in t05.notes)
    assert "q43_retention" not in set(t["t16_barriers"].cells["variable"])
    assert len(t["t16_barriers"].cells) == 7 * 6


def test_display_rounds_half_up_like_the_report(tables):
    """9 of 16 is 56.25%: the report prints 56.3 (FS-04); Python's float formatting would give 56.2."""
    shown = T.display_frame(tables["t05_supervision"])
    row = shown[shown["Answer"] == "Safeguarding"].iloc[0]
    assert (row["n"], row["N"], row["%"]) == ("9", "16", "56.3")


def test_unknown_answer_is_an_error(df, book):
    bad = df.copy()
    bad["q03_age"] = bad["q03_age"].astype(object)
    bad.loc[bad.index[0], "q03_age"] = "17"
    with pytest.raises(ValueError, match="q03_age"):
        T.build_tables(bad, book, only=["t01_demography"])


def test_processed_and_raw_text_frames_give_the_same_cells(book):
    only = ["t01_demography", "t09_tools", "t15_promotion_ranking", "t16_barriers"]
    typed = T.build_tables(provisional_respondents(True), book, only=only)
    raw = T.build_tables(provisional_respondents(False), book, only=only)
    for k in typed:
        pd.testing.assert_frame_equal(typed[k].cells, raw[k].cells, obj=k)


# --- register links ---------------------------------------------------------------------------------


def test_every_survey_register_entry_is_rebuilt_by_a_cell(tables, register):
    assert T.unlinked_register_rows(tables, register).empty
    mine = register[register["table"].isin(list(tables)) & register["source"].eq("survey")]
    linked = set().union(*(set(t.register_ids) for t in tables.values()))
    assert set(mine["id"]) == linked


def test_register_links_follow_the_register_not_a_list(df, book, register):
    edited = register.copy()
    edited = edited[edited["id"] != "FS-01"]
    extra = edited.iloc[0].copy()
    extra.update({"id": "XX-01", "table": "t02_roles", "variable": "q06a_hours", "options": "Full time",
                  "population": "all_respondents", "statistic": "percent", "source": "survey"})
    edited = pd.concat([edited, extra.to_frame().T], ignore_index=True)
    t = T.build_tables(df, book, edited, only=["t02_roles", "t05_supervision"])
    full = t["t02_roles"].cells.set_index("category").loc["Full time", "register_ids"]
    assert full == "XX-01"
    assert "FS-01" not in t["t05_supervision"].register_ids


def test_population_must_fit_for_a_link(df, book, register):
    edited = register.copy()
    edited.loc[edited["id"] == "FS-03", "population"] = "valid:Q19a"  # no 'valid' block for Q19a
    t = T.build_tables(df, book, edited, only=["t05_supervision"])
    assert "FS-03" not in t["t05_supervision"].register_ids


def test_in_text_differences_are_all_known_contradictions(tables, register):
    it = T.in_text_statistics(tables, register)
    assert {"register_ids", "published", "rebuilt", "same", "population"} <= set(it.columns)
    differ = it[it["same"] == "no"]
    assert differ["contradiction"].str.match(r"C\d{2}").all(), differ[["register_ids", "published", "rebuilt"]]
    # the demography counts and Q39 percentages print as published
    same = it.drop_duplicates("register_ids").set_index("register_ids")["same"]
    assert same["DT-BAND-B7-N"] == "yes" and same["FW-04"] == "yes"


# --- release policy and writing --------------------------------------------------------------------


def _small_counts(df: pd.DataFrame, min_cell: int) -> pd.DataFrame:
    n = pd.to_numeric(df["n"], errors="coerce")
    return df[(n > 0) & (n < min_cell)]


def test_published_wave_keeps_small_cells(tables):
    out, note = T.release(tables["t01_demography"], published=True, min_cell=5)
    assert note is None
    assert not _small_counts(out.cells, 5).empty  # one respondent from Northern Ireland is public


def test_unpublished_wave_is_suppressed_with_a_footnote(tables):
    for table_id in ("t01_demography", "t16_barriers", "t09_tools"):
        out, note = T.release(tables[table_id], published=False, min_cell=5)
        assert note and note.startswith("Disclosure control")
        assert _small_counts(out.cells, 5).empty, table_id
        assert check_table(T.tidy_csv_frame(out), 5) == [], table_id
        # nothing suppressed can be rebuilt from a combined / either row
        for r in out.cells[out.cells["kind"].isin(T.DERIVED_KINDS)].to_dict("records"):
            if pd.isna(r["n"]):
                continue
            if r["kind"] == "combined":
                members = r["values"].split("|")
                comp = out.cells[(out.cells["block"] == r["block"]) & out.cells["values"].isin(members)
                                 & (out.cells["kind"] == "category")]
            else:
                members = re.findall(r"q30_\w+?(?=[|)])", r["variable"])
                comp = out.cells[out.cells["variable"].isin(members)]
            assert comp["n"].notna().all(), (table_id, r["category"])
    t01, _ = T.release(tables["t01_demography"], published=False, min_cell=5)
    years6 = t01.cells[t01.cells["category"] == "6 years or more"].iloc[0]
    assert pd.isna(years6["n"])  # 9 = 3 + 6: shown, it would give back the suppressed 3


def test_save_tables_follows_wave_yaml(tables, scratch_root, capsys):
    chosen = {k: tables[k] for k in ("t01_demography", "t13_training_delivered")}
    for wave in ("wave1", "wave2"):
        meta = T.wave_meta(wave)
        T.save_tables(chosen, wave, published=meta["published_reproduction"], min_cell=5, replica=meta["replica"])
    out = capsys.readouterr().out
    assert "[pimh] wrote reports/tables/wave2/t01_demography.html" in out
    w1 = scratch_root / "reports" / "tables" / "wave1"
    w2 = scratch_root / "reports" / "tables" / "wave2"
    published = pd.read_csv(w1 / "t01_demography.csv", dtype={"register_ids": str}, keep_default_na=False)
    assert list(published.columns[:len(T.TIDY_COLUMNS)]) == [c for c in T.TIDY_COLUMNS]
    assert not _small_counts(published, 5).empty
    assert check_table(pd.read_csv(w2 / "t01_demography.csv"), 5) == []
    html1 = (w1 / "t01_demography.html").read_text(encoding="utf-8")
    html2 = (w2 / "t01_demography.html").read_text(encoding="utf-8")
    tex2 = (w2 / "t01_demography.tex").read_text(encoding="utf-8")
    assert "Population: " in html1 and "Denominator: " in html1 and REPLICA_NOTICE in html1
    assert "Disclosure control" not in html1 and "Disclosure control" in html2 and "Disclosure control" in tex2
    assert "\\caption{" in tex2 and "95\\% CI" in tex2
    # the disclosure check sees wave1 as the published reproduction and wave2 as clean
    reports = {r.group: r for r in check_paths([scratch_root / "reports" / "tables"], 5, [], scratch_root)
               if r.file.endswith("t01_demography.csv")}
    assert reports["wave1"].status == "published" and reports["wave1"].findings
    assert reports["wave2"].status == "release" and not reports["wave2"].findings


def test_two_saves_are_byte_identical(tables, scratch_root):
    chosen = {k: tables[k] for k in ("t10_interventions", "t15_promotion_ranking")}
    folder = scratch_root / "reports" / "tables" / "wave1"
    T.save_tables(chosen, "wave1", published=True, min_cell=5, replica=True)
    first = {p.name: p.read_bytes() for p in sorted(folder.iterdir())}
    T.save_tables(chosen, "wave1", published=True, min_cell=5, replica=True)
    second = {p.name: p.read_bytes() for p in sorted(folder.iterdir())}
    assert len(first) == 6 and first == second


def test_table_1_is_shown_side_by_side(tables):
    shown = T.display_frame(tables["t10_interventions"])
    vig = shown[shown["Intervention"] == "Video Interaction Guidance (qualified practitioner)"].iloc[0]
    c = tables["t10_interventions"].cells.set_index("variable")
    q, u = c.loc["q32q_vig_practitioner"], c[(c.index == "q32u_vig") & (c["values"] == "Yes")].iloc[0]
    assert vig["Qualified n/N"] == f"{q['n']}/{q['denominator']}" and vig["Used n/N"] == f"{u['n']}/{u['denominator']}"


def test_text_conversion_fast_paths_agree_with_the_general_rules():
    """text_frame converts each column by its distinct values; the text equals audit.as_text row by row."""
    from pimh_analysis.audit import as_text
    from pimh_analysis.tables import text_frame

    df = pd.DataFrame({
        "tick": pd.Series([1, 0, None, 1], dtype="Int8"),
        "rank": pd.Series([3, None, 12, 3], dtype="Int16"),
        "flag": pd.Series([True, None, False, True], dtype="boolean"),
        "label": pd.Categorical([" Yes", "No", None, "No"], categories=[" Yes", "No", "Unused"]),
        "when": pd.Series(pd.to_datetime(["2022-03-01 10:00:00", "2022-03-01 00:00:00", None,
                                          "2022-04-01 23:59:59"])).astype("datetime64[ms]"),
        "when_ms": pd.Series(pd.to_datetime(["2022-03-01 10:00:00.250", None, "2022-03-01 10:00:01",
                                             "2022-03-01 10:00:01"], format="ISO8601")).astype("datetime64[ms]"),
        "score": [1.0, 2.0, None, 3.0],
    })
    fast = text_frame(df)
    for col in df.columns:
        general = as_text(df[col]).str.strip()
        assert str(fast[col].dtype) in ("string", "category"), col
        assert fast[col].isna().tolist() == general.isna().tolist(), col
        assert fast[col].dropna().tolist() == general.dropna().tolist(), (col, fast[col].tolist(), general.tolist())
    # few distinct values: one byte per cell, not a string per cell
    assert {c for c in df.columns if str(fast[c].dtype) == "category"} >= {"tick", "rank", "flag", "label"}
