"""Disclosure control: suppression with secondary suppression, the check, k-anonymity, the CLI."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from scipy.optimize import linprog

import _sitekit
from pimh_analysis import disclosure
from pimh_analysis.disclosure import check_table, column_families, k_anonymity, suppress_small_cells

PIMH = str(Path(sys.executable).parent / "pimh")


# --- helpers -------------------------------------------------------------------------

def feasible_range(original: pd.DataFrame, released: pd.DataFrame, relations, count_cols) -> dict:
    """For every suppressed count, the [min, max] a reader can derive from the shown totals (LP)."""
    hidden = [(r, c) for c in count_cols for r in range(len(released)) if pd.isna(released[c].iloc[r])
              and not pd.isna(original[c].iloc[r])]
    for members, total in relations:     # a suppressed total (a small base) is unknown too
        hidden += [cell for cell in [*members, total] if cell not in hidden and pd.isna(released[cell[1]].iloc[cell[0]])]
    index = {cell: i for i, cell in enumerate(hidden)}
    a_eq, b_eq = [], []
    for members, total in relations:
        row = np.zeros(len(hidden))
        rhs = 0.0
        for sign, cells in ((1, members), (-1, [total])):
            for cell in cells:
                if cell in index:
                    row[index[cell]] += sign
                else:
                    rhs -= sign * float(released[cell[1]].iloc[cell[0]])
        if row.any():
            a_eq.append(row)
            b_eq.append(rhs)
    out = {}
    for cell, i in index.items():
        c = np.zeros(len(hidden))
        c[i] = 1
        lo = linprog(c, A_eq=a_eq or None, b_eq=b_eq or None, bounds=(0, None), method="highs")
        hi = linprog(-c, A_eq=a_eq or None, b_eq=b_eq or None, bounds=(0, None), method="highs")
        assert lo.status == 0 and hi.status in (0, 3)
        out[cell] = (lo.fun, np.inf if hi.status == 3 else -hi.fun)
    return out


def assert_protected(original, released, relations, count_cols, min_cell):
    ranges = feasible_range(original, released, relations, count_cols)
    for cell, (lo, hi) in ranges.items():
        if cell[1] not in count_cols:
            continue
        assert hi - lo >= 1 - 1e-9, f"suppressed cell {cell} is determined: [{lo}, {hi}]"
    assert check_table(released, min_cell) == []


def freq_table(counts: dict[str, int]) -> pd.DataFrame:
    base = sum(counts.values())
    df = pd.DataFrame({"category": list(counts), "n": list(counts.values())})
    df["denominator"] = base
    df["percent"] = 100 * df["n"] / base
    return df


# --- column families -----------------------------------------------------------------

def test_column_families_follow_the_tables_contract():
    fams = column_families(["label", "n", "percent", "denominator", "ci_low", "ci_high",
                            "n_specialist", "percent_specialist", "ci_low_specialist", "percent_ci_upper_specialist",
                            "n_champion", "denominator_champion", "percent_champion", "mean_age"])
    assert set(fams) == {"", "specialist", "champion"}
    assert fams[""].count == "n" and fams[""].ci == ["ci_low", "ci_high"]
    assert fams["specialist"].denominator == "denominator"          # falls back to the plain base
    assert fams["specialist"].ci == ["ci_low_specialist", "percent_ci_upper_specialist"]
    assert fams["champion"].denominator == "denominator_champion"


# --- suppression -----------------------------------------------------------------------

def test_single_small_cell_gets_a_secondary_suppression_when_rows_add_up_to_the_base():
    df = freq_table({"A": 10, "B": 1, "C": 23})
    out, note = suppress_small_cells(df, 5)
    assert out["n"].isna().tolist() == [True, True, False]           # B primary, A (next smallest) secondary
    assert out["percent"].isna().tolist() == [True, True, False]
    assert out["denominator"].tolist() == [34, 34, 34]
    assert str(out["n"].dtype) == "Int64"
    assert "1 cell suppressed" in note and "1 further cell" in note and "below 5" in note
    assert df["n"].tolist() == [10, 1, 23]                           # input untouched
    rel = [([(0, "n"), (1, "n"), (2, "n")], (0, "denominator"))]
    assert_protected(df, out, rel, ["n"], 5)


def test_without_secondary_suppression_the_cell_would_be_recoverable():
    """The LP check used above can fail: primary suppression alone leaves B = 34 - 10 - 23."""
    df = freq_table({"A": 10, "B": 1, "C": 23})
    only_primary = df.copy()
    only_primary["n"] = only_primary["n"].astype("Int64").mask(only_primary["n"] == 1)
    ranges = feasible_range(df, only_primary, [([(0, "n"), (1, "n"), (2, "n")], (0, "denominator"))], ["n"])
    assert ranges == {(1, "n"): (1.0, 1.0)}


def test_hidden_cells_must_add_up_to_at_least_min_cell():
    df = freq_table({"A": 1, "B": 2, "C": 20, "D": 11})
    out, note = suppress_small_cells(df, 5)
    assert out["n"].isna().tolist() == [True, True, False, True]     # 1 + 2 < 5, so D (11) too
    assert "2 cells suppressed" in note and "1 further cell" in note


def test_multiple_choice_rows_do_not_add_up_and_get_no_secondary_suppression():
    df = pd.DataFrame({"option": ["x", "y", "z"], "n": [1, 30, 20], "denominator": [34, 34, 34]})
    df["percent"] = 100 * df["n"] / df["denominator"]
    out, note = suppress_small_cells(df, 5)
    assert out["n"].isna().tolist() == [True, False, False]
    assert "further" not in note


def test_stacked_blocks_are_split_where_the_running_sum_reaches_the_base():
    age = freq_table({"30-39": 5, "40-49": 11, "50-59": 17, "60+": 1})
    band = freq_table({"Band 6": 5, "Band 7": 27, "Band 8": 2})
    df = pd.concat([age, band], ignore_index=True)
    out, _ = suppress_small_cells(df, 5)
    # 60+ (1) needs a partner in the age block (5: 30-39); Band 8 (2) in the band block (Band 6: 5).
    assert out["n"].isna().tolist() == [True, False, False, True, True, False, True]
    rel = [([(i, "n") for i in range(4)], (0, "denominator")), ([(i, "n") for i in range(4, 7)], (4, "denominator"))]
    assert_protected(df, out, rel, ["n"], 5)


def test_explicit_total_row():
    df = pd.DataFrame({"group": ["A", "B", "C", "Total"], "n": [10, 2, 8, 20]})
    out, _ = suppress_small_cells(df, 5)
    assert out["n"].isna().tolist() == [False, True, True, False]
    assert_protected(df, out, [([(0, "n"), (1, "n"), (2, "n")], (3, "n"))], ["n"], 5)


def test_two_way_table_with_row_and_column_totals():
    df = pd.DataFrame({
        "item": ["r1", "r2", "Total"],
        "n_specialist": [7, 6, 13], "n_champion": [2, 8, 10], "n_total": [9, 14, 23],
    })
    out, note = suppress_small_cells(df, 5)
    hidden = {(r, c) for c in ["n_specialist", "n_champion", "n_total"] for r in range(3) if pd.isna(out[c].iloc[r])}
    assert (0, "n_champion") in hidden and len(hidden) >= 4
    rel = [
        ([(0, "n_specialist"), (0, "n_champion")], (0, "n_total")),
        ([(1, "n_specialist"), (1, "n_champion")], (1, "n_total")),
        ([(2, "n_specialist"), (2, "n_champion")], (2, "n_total")),
        ([(0, "n_specialist"), (1, "n_specialist")], (2, "n_specialist")),
        ([(0, "n_champion"), (1, "n_champion")], (2, "n_champion")),
        ([(0, "n_total"), (1, "n_total")], (2, "n_total")),
    ]
    assert_protected(df, out, rel, ["n_specialist", "n_champion", "n_total"], 5)


def test_zero_counts_are_kept_and_nothing_to_do_is_said():
    df = freq_table({"A": 0, "B": 20, "C": 14})
    out, note = suppress_small_cells(df, 5)
    pd.testing.assert_frame_equal(out.astype({"n": "int64"}), df, check_dtype=False)
    assert "no cell in this table needed suppression" in note


def test_small_base_suppresses_count_percent_ci_and_the_base():
    df = pd.DataFrame({"group": ["england", "wales"], "n": [12, 0], "denominator": [30, 3],
                       "percent": [40.0, 0.0], "ci_low": [24.0, 0.0], "ci_high": [58.0, 56.0]})
    out, _ = suppress_small_cells(df, 5)
    assert out.loc[1, ["n", "denominator", "percent", "ci_low", "ci_high"]].isna().all()
    assert not out.loc[0].isna().any()
    assert check_table(out, 5) == []


def test_marker_and_index_preserved():
    df = freq_table({"A": 10, "B": 1, "C": 23}).set_index(pd.Index([7, 8, 9]))
    out, _ = suppress_small_cells(df, 5, marker="[c]")
    assert out.index.tolist() == [7, 8, 9]
    assert out["n"].tolist() == ["[c]", "[c]", 23]


def test_random_single_choice_tables_are_protected():
    rng = random.Random(20220301)
    for _ in range(60):
        k = rng.randint(2, 8)
        counts = {f"c{i}": rng.choice([0, 1, 2, 3, 4, 6, 9, 15, 30]) for i in range(k)}
        if sum(counts.values()) == 0:
            continue
        df = freq_table(counts)
        out, _ = suppress_small_cells(df, 5)
        rel = [([(i, "n") for i in range(k)], (0, "denominator"))]
        assert_protected(df, out, rel, ["n"], 5)
        hidden = out["n"].isna()
        if hidden.any() and not out["denominator"].isna().any():
            assert df.loc[hidden, "n"].sum() >= 5


def test_csv_round_trip_leaves_suppressed_cells_blank(tmp_path):
    out, _ = suppress_small_cells(freq_table({"A": 10, "B": 1, "C": 23}), 5)
    path = tmp_path / "t.csv"
    out.to_csv(path, index=False, float_format="%.10g", lineterminator="\n")
    assert path.read_text().splitlines()[2] == "B,,34,"


# --- the check ----------------------------------------------------------------------------

def test_check_table_flags_small_counts_and_small_bases():
    df = pd.DataFrame({"region": ["Northern Ireland", "London", "Wales"], "n": [1, 8, 0],
                       "denominator": [34, 34, 3], "percent": [2.9, 23.5, 0.0]})
    found = check_table(df, 5, file="t.csv")
    assert [(f.line, f.column, f.rule, f.row_label) for f in found] == [
        (2, "n", "small_count", "Northern Ireland"), (4, "percent", "small_base", "Wales")]
    assert "count 1 < 5" in str(found[0])


def test_k_anonymity_counts_classes_with_missing_values_as_a_category():
    df = pd.DataFrame({"a": ["x", "x", "x", "y", "y", "y", None], "b": ["1", "1", "2", "1", "1", "1", "1"]})
    ka = k_anonymity(df, ["a", "b"], 2)
    assert (ka.respondents, ka.classes, ka.smallest_class) == (7, 4, 1)
    assert (ka.classes_below_k, ka.respondents_below_k) == (2, 2)
    assert ka.class_sizes == {1: 2, 2: 1, 3: 1}
    assert k_anonymity(df, ["a", "b"], 1).respondents_below_k == 0


def test_quasi_identifier_resolution():
    cols = ["respondent_id", "age_band", "region", "pay_band", "years_in_role", "job_title"]
    assert disclosure.resolve_quasi_identifiers(cols) == cols[1:]
    real = ["q01_job_title", "q02_years_in_role", "q03_age", "q04a_pay_band", "region", "nation"]
    assert disclosure.resolve_quasi_identifiers(real) == ["q03_age", "region", "q04a_pay_band",
                                                          "q02_years_in_role", "q01_job_title"]
    assert disclosure.resolve_quasi_identifiers(["Q1", "Q2", "Q3", "Q4", "region"]) == ["Q3", "region", "Q4", "Q2", "Q1"]
    with pytest.raises(KeyError, match="pay band"):
        disclosure.resolve_quasi_identifiers(["age_band", "region"])
    with pytest.raises(KeyError, match="nope"):
        disclosure.resolve_quasi_identifiers(cols, ["nope"])


# --- the command line on a small repository ------------------------------------------------

@pytest.fixture()
def mini_repo(tmp_path, monkeypatch):
    root = tmp_path / "repo"
    (root / "reports" / "tables" / "wave1").mkdir(parents=True)
    (root / "reports" / "tables" / "wave2").mkdir(parents=True)
    (root / "dvc.yaml").write_text("stages: {}\n")
    (root / "params.yaml").write_text(yaml.safe_dump({"disclosure": {"min_cell": 5, "k": 2}}))
    for wave, flag in (("wave1", True), ("wave2", False)):
        (root / "data" / "raw" / wave).mkdir(parents=True)
        (root / "data" / "raw" / wave / "wave.yaml").write_text(yaml.safe_dump({"published_reproduction": flag}))
    table = freq_table({"Northern Ireland": 1, "London": 8, "Other": 25})
    table.to_csv(root / "reports" / "tables" / "wave1" / "t01.csv", index=False)
    table.to_csv(root / "reports" / "tables" / "wave2" / "t01.csv", index=False)
    (root / "data" / "processed" / "wave1").mkdir(parents=True)
    pd.DataFrame({"age_band": ["30-39", "30-39", "40-49"], "region": ["NI", "NI", "London"],
                  "pay_band": ["Band 7"] * 3, "years_in_role": ["1 to 5 years"] * 3, "job_title": ["Other"] * 3,
                  }).to_csv(root / "data" / "processed" / "wave1" / "respondents.csv", index=False)
    monkeypatch.setenv("PIMH_ROOT", str(root))
    return root


def pimh(root: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([PIMH, "disclosure-check", *args], cwd=root, text=True, capture_output=True,
                          env={**os.environ, "PIMH_ROOT": str(root)})


def test_cli_fails_on_a_new_wave_and_reports_published_cells(mini_repo):
    r = pimh(mini_repo, "--json", "out.json")
    assert r.returncode == 1, r.stdout + r.stderr
    assert "already public, kept): 1" in r.stdout
    assert "reports/tables/wave1/t01.csv:2 [n] Northern Ireland: count 1 < 5" in r.stdout
    assert "FOR RELEASE" in r.stdout and "reports/tables/wave2/t01.csv:2" in r.stdout
    assert "smallest class 1; 1 respondents in 1 classes smaller than k=2" in r.stdout
    report = json.loads((mini_repo / "out.json").read_text())
    assert report["summary"]["small_cells_published"] == 1 and report["summary"]["small_cells_release"] == 1
    assert report["k_anonymity"][0]["smallest_class"] == 1


def test_cli_passes_on_the_published_wave_alone_and_after_suppression(mini_repo):
    r = pimh(mini_repo, "reports/tables/wave1")
    assert r.returncode == 0 and "Northern Ireland: count 1 < 5" in r.stdout
    t = mini_repo / "reports" / "tables" / "wave2" / "t01.csv"
    out, _ = suppress_small_cells(pd.read_csv(t), 5)
    out.to_csv(t, index=False)
    assert pimh(mini_repo).returncode == 0
    assert pimh(mini_repo, "--min-cell", "30").returncode == 1   # "Other" (25) is small at 30
    assert pimh(mini_repo, "--fail-on-k").returncode == 1


def test_cli_input_errors_exit_2(mini_repo):
    assert pimh(mini_repo, "no/such/dir").returncode == 2
    assert pimh(mini_repo, "--qi", "shoe_size").returncode == 2
    assert pimh(mini_repo, "--respondents", "missing.parquet").returncode == 2


def test_apply_release_policy_uses_the_wave_flag(mini_repo):
    df = freq_table({"A": 10, "B": 1, "C": 23})
    kept, note = disclosure.apply_release_policy(df, "wave1")
    assert note is None and kept is df
    released, note = disclosure.apply_release_policy(df, "wave2")
    assert released["n"].isna().sum() == 2 and note.startswith("Disclosure control")


# --- the pipeline ------------------------------------------------------------------------------

def test_fake_pipeline_disclosure_stage(tmp_path_factory):
    repo = _sitekit.built_repo(tmp_path_factory)
    report = json.loads((repo / "reports" / "metrics" / "disclosure.json").read_text())
    assert report["summary"]["small_cells_release"] == 0
    published = [f for t in report["tables"] for f in t["findings"]]
    ni = [f for f in published if f["row_label"] == "Northern Ireland"]
    assert {(f["file"], f["column"], f["value"], f["status"]) for f in ni} == {
        ("reports/tables/wave1/t01_region.csv", "n", 1, "published"),
        ("reports/figures/wave1/f01_region.data.csv", "n", 1, "published")}
    for csv in sorted((repo / "reports" / "tables" / "wave2demo").glob("*.csv")):
        assert check_table(pd.read_csv(csv), 5) == [], csv
    notes = (repo / "reports" / "tables" / "wave2demo" / "t01_region.html").read_text()
    assert "Disclosure control" in notes


REAL = _sitekit.REPO


@pytest.mark.skipif(not (REAL / "reports" / "tables" / "wave1").is_dir(), reason="wave1 tables not built yet")
def test_shipped_replica_reports_the_published_small_cells():
    r = subprocess.run([PIMH, "disclosure-check", "reports/tables/wave1"], cwd=REAL, text=True, capture_output=True)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "already public, kept" in r.stdout
    assert any("Northern Ireland" in line and "count 1 <" in line for line in r.stdout.splitlines()), r.stdout


@pytest.mark.skipif(not (REAL / "reports" / "tables" / "wave2demo").is_dir(), reason="wave2demo tables not built yet")
def test_demo_second_wave_releases_no_small_cell():
    params = disclosure.load_params(REAL)
    targets = [REAL / "reports" / kind / "wave2demo" for kind in ("tables", "figures")]
    reports = disclosure.check_paths([t for t in targets if t.is_dir()], params["min_cell"],
                                     params["published_groups"], REAL)
    assert reports and all(r.status == "release" for r in reports)
    assert [str(f) for r in reports for f in r.findings] == []
