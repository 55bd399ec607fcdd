"""Benchmark files (``pimh replica --respondents``) and the canonical CSV writer they go through."""

from __future__ import annotations

import csv
import random
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from pimh_analysis import writers
from pimh_analysis.clean import clean_survey
from pimh_analysis.readers import read_survey
from pimh_analysis.replica import generate
from pimh_analysis.replica.generate import kept_respondents
from pimh_analysis.replica.scale import scale_batches, write_scale_csv
from pimh_analysis.validate import validate_file

N = 1500


@pytest.fixture(scope="module")
def scale_file(tmp_path_factory, codebook):
    return write_scale_csv(N, tmp_path_factory.mktemp("scale") / "survey.csv", codebook=codebook)


@pytest.fixture(scope="module")
def scale_frame(scale_file, codebook):
    return read_survey(scale_file, "csv", codebook=codebook).frame


def test_scale_file_is_valid_and_cleaning_keeps_every_row(scale_file, codebook):
    report = validate_file(scale_file, codebook=codebook)
    assert report.ok and report.issues == [], report.to_text(limit=20)
    result = clean_survey(read_survey(scale_file, codebook=codebook), codebook, source_file="scale.csv",
                          long_table=False)
    assert result.summary["rows_raw"] == result.summary["rows_kept"] == N
    assert result.summary["cells_changed"] == 0


def test_scale_rows_are_new_combinations_of_donor_answers(scale_frame, codebook):
    donors = kept_respondents(codebook=codebook)
    answers = scale_frame[codebook.answer_vars].drop(columns=["q46_contact"])
    assert not answers.duplicated().any()
    # every answer given is one a donor gave to that question
    for var in ["q03_age", "q43_no_funding", "q19a_suptype_clinical", "q41_rank_training", "q07_postcode_prefix"]:
        assert set(scale_frame[var].dropna()) <= set(donors[var].dropna()), var
    # marginal shares follow the donors' (34 donors, 1500 draws: within a few points)
    share = scale_frame["q18_supervision"].value_counts(normalize=True)
    donor_share = donors["q18_supervision"].value_counts(normalize=True)
    assert (share - donor_share).abs().max() < 0.06


def test_scale_metadata_and_contacts_are_fresh(scale_frame):
    ids = scale_frame["respondent_id"]
    assert ids.is_unique and ids.iloc[0] == "R0001" and ids.iloc[-1] == f"R{N:04d}"
    assert scale_frame["recorded_date"].is_monotonic_increasing
    assert set(scale_frame["status"]) == {"IP Address"} and set(scale_frame["progress"]) == {"100"}
    contacts = scale_frame["q46_contact"].dropna()
    assert len(contacts) > 0 and contacts.is_unique and contacts.str.endswith("@example.org").all()
    opted_in = scale_frame["q46_interview_optin"].eq("Yes").fillna(False)
    assert scale_frame.loc[~opted_in, "q46_contact"].isna().all()


def test_scale_file_is_deterministic_per_seed(scale_file, tmp_path, codebook):
    again = write_scale_csv(N, tmp_path / "again.csv", codebook=codebook)
    assert again.read_bytes() == scale_file.read_bytes()
    other = write_scale_csv(N, tmp_path / "other.csv", seed=2, codebook=codebook)
    assert other.read_bytes() != scale_file.read_bytes()


def test_scale_batches_split_rows_exactly(codebook):
    batches = list(scale_batches(25, batch_rows=10, codebook=codebook))
    assert [len(b["respondent_id"]) for b in batches] == [10, 10, 5]
    assert batches[2]["respondent_id"].to_pylist()[-1] == "R025"


def test_cli_writes_a_benchmark_file(tmp_path):
    out = tmp_path / "bench"
    proc = subprocess.run([sys.executable, "-m", "pimh_analysis.cli", "replica", "--respondents", "40", "--out",
                           str(out)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "not a replica of anything" in proc.stdout
    assert len(pd.read_csv(out / "survey.csv", dtype=str)) == 40
    assert "published_reproduction: false" in (out / "wave.yaml").read_text()
    proc = subprocess.run([sys.executable, "-m", "pimh_analysis.cli", "replica", "--respondents", "40"],
                          capture_output=True, text=True)
    assert proc.returncode == 2 and "--out" in proc.stderr


# --- the canonical writer writes what pandas' to_csv (QUOTE_MINIMAL) writes --------------------------

def _pandas_csv(df: pd.DataFrame, path, codebook) -> bytes:
    writers._as_text_frame(df, codebook.all_vars).to_csv(path, index=False, lineterminator="\n", encoding="utf-8",
                                                           na_rep="", quoting=csv.QUOTE_MINIMAL)
    return path.read_bytes()


def test_canonical_writer_matches_pandas_on_awkward_values(tmp_path, codebook):
    rng = random.Random(3)
    alphabet = list('ab ,"\n\r\t\u00e9x') + ['""', "\u2028"]
    df = generate()
    for c in df.columns[:150]:
        df[c] = [None if rng.random() < 0.3 else "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 6)))
                 for _ in range(len(df))]
    df["progress"] = [1, 2.5, None, np.nan] * 10 + [7]
    df["finished"] = pd.array([1, None] * 20 + [0], dtype="Int64")
    df["status"] = pd.Categorical(["IP Address"] * len(df))
    df["q03_age"] = pd.array(df["q03_age"], dtype="string[pyarrow]")
    for frame in (df, df.iloc[:0], generate()):
        expected = _pandas_csv(frame, tmp_path / "pandas.csv", codebook)
        assert writers.write_canonical_csv(frame, tmp_path / "arrow.csv", codebook).read_bytes() == expected

