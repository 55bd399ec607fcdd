"""Survey readers: each format round-trips a frame written by the writers, and all give the same clean data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyreadstat
import pytest

from survey_synth import make_valid_frame
from pimh_analysis import writers
from pimh_analysis.clean import clean_survey
from pimh_analysis.readers import read_survey, sniff_format
from pimh_analysis.readers.canonical import read_canonical
from pimh_analysis.readers.qualtrics import _split_joined, load_column_map, read_qualtrics
from pimh_analysis.readers.sav import read_sav
from pimh_analysis.validate import validate_file

QUALTRICS_VARIANTS = [("text", "split"), ("text", "joined"), ("numeric", "split"), ("numeric", "joined")]


@pytest.fixture(scope="module")
def frame(codebook):
    df = make_valid_frame(codebook, 60, seed=7)
    # make sure the awkward cases are present whatever the seed did
    df.loc[0, "q22_training_comments"] = 'Line one, with a comma\nline two with "quotes"\nline three'
    df.loc[1, "q42_barriers"] = "Café staff, ‘curly’ quotes – and a dash"
    sol = [c.var for c in codebook.group("Q11.solihull")]
    df.loc[2, "q11_solihull"] = "1"
    for v in sol:
        df.loc[2, v] = "0"
    df.loc[2, "q11_sol_foundation_fostering"] = "1"  # a choice text with commas, for joined exports
    df.loc[2, "q11_sol_foundation_adult"] = "1"  # and one with quotes and brackets
    return df


@pytest.fixture(scope="module")
def column_map(codebook, tmp_path_factory):
    path = tmp_path_factory.mktemp("map") / "qualtrics_map.yaml"
    writers.write_column_map(path, writers.qualtrics_column_map(codebook))
    return path


def _plain(df: pd.DataFrame) -> pd.DataFrame:
    out = df.copy()
    out.attrs = {}
    return out


def test_canonical_round_trip_and_lines(frame, codebook, tmp_path):
    path = writers.write_canonical_csv(frame, tmp_path / "survey.csv", codebook)
    read = read_canonical(path, codebook)
    assert read.issues == []
    pd.testing.assert_frame_equal(_plain(read.frame), frame)
    assert list(read.frame.columns) == codebook.all_vars
    # quoted answers with line breaks push every later row down: line = 2 + row + line breaks in earlier rows
    breaks = [_newlines(frame.iloc[i]) for i in range(len(frame))]
    assert breaks[0] >= 2
    expected = 2 + np.arange(len(frame)) + np.concatenate([[0], np.cumsum(breaks)[:-1]])
    assert read.lines.tolist() == expected.tolist()


def _newlines(row: pd.Series) -> int:
    return int(sum(str(v).count("\n") for v in row.tolist() if v is not pd.NA and v is not None))


@pytest.mark.parametrize("values,multiselect", QUALTRICS_VARIANTS)
def test_qualtrics_round_trip(frame, codebook, column_map, tmp_path, values, multiselect):
    path = writers.write_qualtrics_csv(frame, tmp_path / "export.csv", load_map_dict(column_map),
                                       values=values, multiselect=multiselect, codebook=codebook)
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") and b"\r\n" in raw
    assert raw.decode("utf-8-sig").splitlines()[2].startswith('"{""ImportId"":""startDate""')
    assert sniff_format(path) == "qualtrics"
    read = read_qualtrics(path, column_map, codebook)
    assert [i for i in read.issues if i.severity == "error"] == []
    pd.testing.assert_frame_equal(_plain(read.frame), frame)
    breaks = [_newlines(frame.iloc[i]) for i in range(len(frame))]
    assert read.lines.tolist() == (4 + np.arange(len(frame)) + np.concatenate([[0], np.cumsum(breaks)[:-1]])).tolist()


def load_map_dict(path):
    import yaml

    return yaml.safe_load(path.read_text(encoding="utf-8"))


def test_qualtrics_unselected_choices_left_empty_are_read_as_zero(frame, codebook, column_map, tmp_path):
    """Without 'recode seen but unanswered as 0', Qualtrics leaves unselected choices empty."""
    path = writers.write_qualtrics_csv(frame, tmp_path / "export.csv", load_map_dict(column_map), values="numeric",
                                       multiselect="split", codebook=codebook)
    text = path.read_bytes().decode("utf-8-sig").split("\r\n")
    import csv
    import io

    rows = list(csv.reader(io.StringIO("\r\n".join(text), newline="")))
    cmap = load_map_dict(column_map)["columns"]
    tick_tags = {s["tag"] for s in cmap.values() if s["kind"] == "tick"}
    cols = [j for j, name in enumerate(rows[0]) if name in tick_tags]
    for r in rows[3:]:
        for j in cols:
            if r[j] == "0":
                r[j] = ""
    buf = io.StringIO(newline="")
    csv.writer(buf, lineterminator="\r\n").writerows(rows)
    path.write_text(buf.getvalue(), encoding="utf-8")
    read = read_qualtrics(path, column_map, codebook)
    # items where nothing was ticked cannot be told from unanswered ones; everything else matches
    ticks = [c.var for c in codebook.columns if c.is_tick]
    got, want = read.frame[ticks], frame[ticks]
    some_ticked = {}
    for item in codebook.item_ids:
        t = [c.var for c in codebook.group(item) if c.is_tick]
        if t:
            mask = (frame[t] == "1").any(axis=1).to_numpy(dtype=bool)
            for v in t:
                some_ticked[v] = mask
    for v in ticks:
        m = some_ticked[v]
        assert got.loc[m, v].tolist() == want.loc[m, v].tolist(), v


def test_qualtrics_columns_matched_by_export_tag(frame, codebook, column_map, tmp_path):
    """A column whose ImportId the map does not know is matched by its field name (the export tag)."""
    path = writers.write_qualtrics_csv(frame, tmp_path / "export.csv", load_map_dict(column_map), codebook=codebook)
    text = path.read_bytes().decode("utf-8-sig").replace('""ImportId"":""QID2""', '""ImportId"":""QID902""')
    path.write_text(text, encoding="utf-8")
    read = read_qualtrics(path, column_map, codebook)
    assert [i for i in read.issues if i.severity == "error"] == []
    pd.testing.assert_frame_equal(_plain(read.frame), frame)


def test_split_joined_handles_choice_texts_with_commas():
    by_text = {"two day foundation training: fostering, adoption, and social work": "fost",
               "online course": "online", "a": "a"}
    ticked, bad = _split_joined("Two Day Foundation Training: Fostering, Adoption, and Social Work,Online Course",
                                by_text, {"1": "a"})
    assert ticked == {"fost", "online"} and bad == []
    ticked, bad = _split_joined("1,Online Course,Nope", by_text, {"1": "a"})
    assert ticked == {"a", "online"} and bad == ["Nope"]


def test_sav_round_trip_with_labels_and_user_missing(frame, codebook, tmp_path):
    df = frame.copy()
    df.loc[3, "q02_years_in_role"] = "Prefer not to say"
    df.loc[4, "q26_anxiety"] = pd.NA
    df.loc[4, "q23_direct_work"] = df.loc[4, "q23_direct_work"]
    path = writers.write_sav(df, tmp_path / "survey.sav", codebook)
    raw, meta = pyreadstat.read_sav(str(path), user_missing=True)
    assert meta.variable_value_labels["q02_years_in_role"][5.0] == "Prefer not to say"
    assert 5.0 in [m if not isinstance(m, dict) else m["lo"] for m in meta.missing_ranges["q02_years_in_role"]]
    assert raw.loc[3, "q02_years_in_role"] == 5.0
    # without user_missing the code would be lost: the reader must not do that
    lost, _ = pyreadstat.read_sav(str(path), user_missing=False)
    assert np.isnan(lost.loc[3, "q02_years_in_role"])
    read = read_sav(path, codebook)
    assert read.issues == []
    pd.testing.assert_frame_equal(_plain(read.frame), df)
    assert read.frame.loc[3, "q02_years_in_role"] == "Prefer not to say"
    assert read.lines.tolist() == list(range(1, len(df) + 1))


def test_sav_uses_the_files_value_labels(frame, codebook, tmp_path):
    """A .sav whose codes differ from the codebook's is read through its own value labels."""
    df = frame.copy()
    path = writers.write_sav(df, tmp_path / "survey.sav", codebook)
    sav, meta = pyreadstat.read_sav(str(path), user_missing=True)
    sav["q06a_hours"] = sav["q06a_hours"].map({1.0: 20.0, 2.0: 10.0})
    labels = dict(meta.variable_value_labels)
    labels["q06a_hours"] = {20.0: "Part time", 10.0: "Full time"}
    pyreadstat.write_sav(sav, str(path), variable_value_labels=labels)
    read = read_sav(path, codebook)
    assert read.frame["q06a_hours"].tolist() == df["q06a_hours"].tolist()


def test_every_format_cleans_to_the_same_data(frame, codebook, column_map, tmp_path):
    csv_path = writers.write_canonical_csv(frame, tmp_path / "survey.csv", codebook)
    sav_path = writers.write_sav(frame, tmp_path / "survey.sav", codebook)
    cmap = load_map_dict(column_map)
    reads = {"csv": read_survey(csv_path, codebook=codebook), "sav": read_survey(sav_path, codebook=codebook)}
    for values, multiselect in QUALTRICS_VARIANTS:
        q = writers.write_qualtrics_csv(frame, tmp_path / f"q_{values}_{multiselect}.csv", cmap, values=values,
                                        multiselect=multiselect, codebook=codebook)
        reads[f"qualtrics-{values}-{multiselect}"] = read_survey(q, column_map=column_map, codebook=codebook)
    cleaned = {k: clean_survey(r, codebook, source_file="x") for k, r in reads.items()}
    ref = cleaned["csv"]
    assert ref.summary["rows_kept"] == len(frame)
    for name, res in cleaned.items():
        pd.testing.assert_frame_equal(res.respondents, ref.respondents, obj=name)
        pd.testing.assert_frame_equal(res.items_long, ref.items_long, obj=name)
        pd.testing.assert_frame_equal(res.cells_log, ref.cells_log.assign(
            line=res.cells_log["line"]) if name.startswith(("sav", "qualtrics")) else ref.cells_log, obj=name)
        assert res.rows_log["outcome"].tolist() == ref.rows_log["outcome"].tolist()


def test_bom_and_crlf_are_accepted_silently(frame, codebook, tmp_path):
    path = writers.write_canonical_csv(frame, tmp_path / "survey.csv", codebook)
    data = path.read_bytes()
    bom = tmp_path / "bom.csv"
    bom.write_bytes(b"\xef\xbb\xbf" + data.replace(b"\n", b"\r\n"))
    read = read_canonical(bom, codebook)
    assert read.issues == []
    pd.testing.assert_frame_equal(_plain(read.frame), frame)
    assert read.lines.tolist() == read_canonical(path, codebook).lines.tolist()
    report = validate_file(bom, codebook=codebook)
    assert report.ok and report.issues == []


def test_cp1252_is_accepted_with_a_warning(codebook, tmp_path):
    df = make_valid_frame(codebook, 8, seed=2, text_rate=0.0)
    df.loc[5, "q42_barriers"] = "Café – ‘tea’ and £5 budgets"
    text = writers._as_text_frame(df, codebook.all_vars).to_csv(index=False, lineterminator="\n", na_rep="")
    path = tmp_path / "cp1252.csv"
    path.write_bytes(text.encode("cp1252"))
    read = read_canonical(path, codebook)
    assert [(i.rule, i.severity, i.line) for i in read.issues] == [("encoding_cp1252", "warning", 7)]
    assert read.frame.loc[5, "q42_barriers"] == "Café – ‘tea’ and £5 budgets"
    report = validate_file(path, codebook=codebook)
    assert report.ok and report.encoding == "cp1252"
    assert [i.rule for i in report.issues] == ["encoding_cp1252"]


def test_utf16_is_accepted_with_a_warning(frame, codebook, tmp_path):
    path = writers.write_canonical_csv(frame, tmp_path / "survey.csv", codebook)
    u16 = tmp_path / "u16.csv"
    u16.write_bytes(path.read_text(encoding="utf-8").encode("utf-16"))
    read = read_canonical(u16, codebook)
    assert [i.rule for i in read.issues] == ["encoding_utf16"]
    pd.testing.assert_frame_equal(_plain(read.frame), frame)


def test_undecodable_bytes_are_an_error_at_their_line(codebook, tmp_path):
    path = tmp_path / "bad.csv"
    path.write_bytes((",".join(codebook.all_vars) + "\nR001,IP Address\n").encode() + b"R002,\x81\x8d\n")
    read = read_canonical(path, codebook)
    assert [(i.rule, i.line) for i in read.issues] == [("encoding", 3)]


def test_sniff_format(frame, codebook, column_map, tmp_path):
    assert sniff_format(writers.write_canonical_csv(frame, tmp_path / "a.csv", codebook)) == "csv"
    assert sniff_format(writers.write_sav(frame, tmp_path / "a.sav", codebook)) == "sav"
    q = writers.write_qualtrics_csv(frame, tmp_path / "q.csv", load_map_dict(column_map), codebook=codebook)
    assert sniff_format(q) == "qualtrics"
    renamed = tmp_path / "export.data"
    renamed.write_bytes(q.read_bytes())
    assert sniff_format(renamed) == "qualtrics"


def test_column_map_file_round_trips(codebook, column_map):
    cmap = load_column_map(column_map)
    fed = set()
    for spec in cmap.columns.values():
        if spec["kind"] == "multi":
            fed |= {c["var"] for c in spec["choices"].values()}
        else:
            fed.add(spec["var"])
    fed |= {m["var"] for m in cmap.metadata.values()}
    assert fed == set(codebook.all_vars)
    assert "IPAddress" in cmap.drop and "RecipientEmail" in cmap.drop


def test_reader_returns_codebook_columns_for_a_reordered_file(frame, codebook, tmp_path):
    cols = codebook.all_vars[::-1]
    path = tmp_path / "reordered.csv"
    writers._as_text_frame(frame, cols).to_csv(path, index=False, lineterminator="\n", na_rep="")
    read = read_canonical(path, codebook)
    assert [i.rule for i in read.issues] == ["column_order"]
    pd.testing.assert_frame_equal(_plain(read.frame), frame)


REPLICA = Path(__file__).resolve().parents[1] / "data" / "raw" / "wave1" / "survey.csv"


@pytest.mark.skipif(not REPLICA.exists(), reason="the replica has not been generated yet")
def test_replica_round_trips_through_every_format(codebook, column_map, tmp_path):
    """The shipped replica, written as a Qualtrics export (4 styles) and as .sav, reads and cleans to the same data."""
    read = read_canonical(REPLICA, codebook)
    assert [i for i in read.issues if i.severity == "error"] == []
    frame = _plain(read.frame)
    ref = clean_survey(read, codebook, source_file="survey.csv")
    cmap = load_map_dict(column_map)
    others = {"sav": writers.write_sav(frame, tmp_path / "replica.sav", codebook)}
    for values, multiselect in QUALTRICS_VARIANTS:
        others[f"qualtrics-{values}-{multiselect}"] = writers.write_qualtrics_csv(
            frame, tmp_path / f"replica_{values}_{multiselect}.csv", cmap, values=values, multiselect=multiselect,
            codebook=codebook)
    for name, path in others.items():
        back = read_survey(path, column_map=column_map, codebook=codebook)
        pd.testing.assert_frame_equal(_plain(back.frame), frame, obj=name)
        res = clean_survey(back, codebook, source_file="survey.csv")
        pd.testing.assert_frame_equal(res.respondents, ref.respondents, obj=name)
        pd.testing.assert_frame_equal(res.items_long, ref.items_long, obj=name)
        assert res.rows_log["reason"].tolist() == ref.rows_log["reason"].tolist()
        assert res.summary["rows_kept"] == ref.summary["rows_kept"]
