"""The replica generator: byte-for-byte regeneration, codebook conformance, skip logic."""

import re
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from pimh_analysis import paths
from pimh_analysis.instrument import load_codebook
from pimh_analysis.replica import ReplicaSpec, ReplicaSpecError, generate, write_canonical
from pimh_analysis.replica.assign import TickProblem, apportion, solve_ranking, solve_ticks

SHIPPED = paths.wave_raw_dir("wave1") / "survey.csv"


@pytest.fixture(scope="module")
def book():
    return load_codebook()


def kept(raw):
    """Completed, screened-in, consenting live responses; of two submissions with the same
    contact details the later one (a simple rule, independent of the generator)."""
    live = raw[raw["status"].eq("IP Address") & raw["finished"].eq("1") & raw["s1_pimh_specialist"].eq("Yes")
               & raw["s2_consent"].notna()]
    return live[live["q46_contact"].isna() | ~live["q46_contact"].duplicated(keep="last")]


@pytest.fixture(scope="module")
def raw():
    return pd.read_csv(SHIPPED, dtype=str, keep_default_na=False, na_values=[""])


def test_cli_default_seed_regenerates_the_shipped_file_byte_for_byte(tmp_path):
    out = tmp_path / "wave1"
    proc = subprocess.run([sys.executable, "-m", "pimh_analysis.cli", "replica", "--out", str(out)],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert (out / "survey.csv").read_bytes() == SHIPPED.read_bytes()


def test_other_seed_changes_who_answers_not_what_is_answered(tmp_path, book):
    a = kept(generate(seed=1))
    b = kept(generate(seed=2))
    assert len(a) == len(b) == 34
    assert not a.equals(b)
    for var in ["q03_age", "q43_no_funding", "q19a_suptype_clinical", "q41_rank_training"]:
        assert a[var].value_counts().to_dict() == b[var].value_counts().to_dict(), var


def test_header_is_the_codebook(raw, book):
    assert list(raw.columns) == book.all_vars


def test_every_value_is_an_option_of_its_variable(raw, book):
    for col in book.columns:
        values = set(raw[col.var].dropna().unique())
        if col.values is not None:
            assert values <= set(col.values), (col.var, values - set(col.values))


def test_skip_logic_is_respected(raw, book):
    live = raw[raw["status"].eq("IP Address") & raw["s1_pimh_specialist"].eq("Yes") & raw["s2_consent"].notna()]
    for col in book.columns:
        answered = live[col.var].notna()
        eligible = book.eligible(live, col.var)
        assert not (answered & ~eligible).any(), f"{col.var} answered by ineligible respondents"


def test_multiple_choice_items_are_all_or_nothing(raw, book):
    for item in book.item_ids:
        ticks = [c.var for c in book.group(item) if c.is_tick]
        if ticks:
            filled = raw[ticks].notna().sum(axis=1)
            assert set(filled.unique()) <= {0, len(ticks)}, item


def test_ranking_uses_each_rank_once(raw):
    ranks = raw[[c for c in raw.columns if c.startswith("q41_rank_")]].dropna()
    assert len(ranks) == 37  # 34 kept + the preview, test and duplicate copies
    assert (ranks.apply(lambda r: sorted(r.astype(int).tolist()), axis=1).map(tuple) == (1, 2, 3, 4)).all()


def test_raw_rows_include_the_rows_cleaning_must_exclude(raw):
    assert len(raw) == 41
    assert raw["respondent_id"].is_unique
    assert raw["status"].value_counts().to_dict() == {"IP Address": 39, "Survey Preview": 1, "Survey Test": 1}
    assert (raw["s1_pimh_specialist"] == "No").sum() == 2
    contacts = raw["q46_contact"].dropna()
    assert contacts.duplicated().sum() >= 1  # the duplicate submission shares its twin's contact
    assert all(c.endswith("@example.org") or c.startswith("07700 900") for c in contacts)


def test_postcodes_map_to_the_published_regions(raw):
    areas = pd.read_csv(paths.postcode_areas_file(), dtype=str)
    lookup = dict(zip(areas["area"], areas["region"]))
    live = kept(raw)
    assert len(live) == 34
    area = live["q07_postcode_prefix"].str.extract(r"^([A-Z]{1,2})", expand=False)
    regions = area.map(lookup).value_counts().to_dict()
    assert regions == {"Greater London": 8, "North West": 6, "East England": 4, "South East": 4, "East Midlands": 3,
                       "North East": 2, "Wales": 2, "West Midlands": 2, "Northern Ireland": 1, "Scotland": 1, "South West": 1}


# --- the exact-assignment machinery ------------------------------------------

def test_apportion_is_exact_and_deterministic():
    assert apportion([1, 1, 1], 10) == [4, 3, 3]
    assert apportion([17, 15, 1, 1], 68) == [34, 30, 2, 2]
    assert sum(apportion([0.2, 0.3, 0.5], 7)) == 7


def test_tick_solver_meets_counts_and_constraints():
    rng = np.random.default_rng(0)
    prob = TickProblem(options=["a", "b", "c", "none"], ticks={"a": 5, "b": 3, "c": 2, "none": 1}, min_ticks=1,
                       exclusive=("none",), implies=(("c", "a"),), at_least_any=((("a", "b"), 8),))
    sol = solve_ticks(rng, 9, prob, "test")
    assert sol.sum(axis=0).tolist() == [5, 3, 2, 1]
    assert (sol.sum(axis=1) >= 1).all()
    none_rows = sol[:, 3] == 1
    assert (sol[none_rows, :3].sum(axis=1) == 0).all()
    assert (sol[:, 2] <= sol[:, 0]).all()
    assert ((sol[:, 0] + sol[:, 1]) > 0).sum() >= 8


def test_tick_solver_reports_infeasible_counts_clearly():
    with pytest.raises(ReplicaSpecError, match="no assignment"):
        solve_ticks(np.random.default_rng(0), 3, TickProblem(options=["a"], ticks={"a": 1}, min_ticks=1), "item X")


def test_ranking_solver():
    counts = [[2, 1, 0], [1, 1, 1], [0, 1, 2]]
    ranks = solve_ranking(np.random.default_rng(0), 3, counts, "rank")
    for i in range(3):
        assert [int((ranks[:, i] == k).sum()) for k in (1, 2, 3)] == counts[i]
    assert all(sorted(r) == [1, 2, 3] for r in ranks.tolist())


def test_counts_that_do_not_fit_the_population_are_refused(book):
    spec = ReplicaSpec.load()
    spec.items["q18_supervision"] = {"counts": {"Yes": 15, "No": 18}}
    with pytest.raises(ReplicaSpecError, match="q18_supervision.*33.*34"):
        generate(spec)


# --- every register entry, recomputed from the raw file -----------------------

@pytest.fixture(scope="module")
def audit_of_raw(raw, book):
    """Run the audit engine on the raw file: respondents selected by the simple rule in
    `kept`, region looked up from the post-code areas table, text compared as written.
    Nothing from the generator is used except the file it wrote."""
    from pimh_analysis import audit

    survey = kept(raw).copy()
    areas = pd.read_csv(paths.postcode_areas_file(), dtype=str)
    area = survey["q07_postcode_prefix"].str.extract(r"^([A-Z]{1,2})", expand=False)
    survey["region"] = area.map(dict(zip(areas["area"], areas["region"])))
    register = audit.load_register()
    idir = paths.interviews_raw_dir()
    interviews = pd.read_csv(idir / "interviews.csv", dtype=str, keep_default_na=False)
    attributes = pd.read_csv(idir / "attributes.csv", dtype=str, keep_default_na=False)
    return audit.run_audit(register, survey.reset_index(drop=True), interviews=interviews, attributes=attributes,
                           **audit.codebook_hooks(book))


def test_every_reproducible_survey_entry_reproduces_exactly(audit_of_raw):
    spec = ReplicaSpec.load()
    survey_rows = audit_of_raw[~audit_of_raw["id"].isin(_interview_ids())]
    published = survey_rows[survey_rows["status"] != "not_published"]
    failing = published[(published["status"] != "reproduced") & ~published["id"].isin(spec.not_reproduced)]
    assert failing.empty, failing[["id", "published", "recomputed", "status", "note"]].to_string()


def test_every_unreproducible_entry_is_listed_with_its_reason(audit_of_raw):
    spec = ReplicaSpec.load()
    status = dict(zip(audit_of_raw["id"], audit_of_raw["status"]))
    for entry_id, reason in spec.not_reproduced.items():
        assert entry_id in status, f"{entry_id} is not a register id"
        assert status[entry_id] in ("differs", "reproduced_other_rounding"), (entry_id, status[entry_id])
        assert re.match(r"C\d{2}: ", reason), f"{entry_id}: the reason must cite its contradiction id ({reason!r})"


def test_unpublished_table_cells_are_filled_and_flagged(audit_of_raw):
    unpublished = audit_of_raw[audit_of_raw["status"] == "not_published"]
    assert len(unpublished) == 30
    assert unpublished["recomputed"].astype(str).str.len().gt(0).all()


def _interview_ids():
    reg = pd.read_csv(paths.register_file(), dtype=str, keep_default_na=False)
    return set(reg.loc[reg["source"] == "interviews", "id"])


def test_every_published_entry_that_does_not_reproduce_belongs_to_a_recorded_contradiction(audit_of_raw):
    published = audit_of_raw[audit_of_raw["status"] != "not_published"]
    off = published[published["status"] != "reproduced"]
    assert not off.empty
    unexplained = off[off["contradiction"].fillna("").astype(str).str.len() == 0]
    assert unexplained.empty, unexplained[["id", "status", "published", "recomputed"]].to_string()
