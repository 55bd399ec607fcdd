"""Tidy interview CSV readers: encodings, line numbers and every reported rule."""

from __future__ import annotations

import codecs
from pathlib import Path

import pandas as pd
import pytest

from pimh_analysis.readers.interview_csv import (
    SEGMENT_OUTPUT_COLUMNS,
    read_attributes_csv,
    read_interviews_csv,
    read_segments_csv,
)

ROOT = Path(__file__).resolve().parents[1]
RAW = ROOT / "data" / "raw" / "interviews"
HEADER = "segment_id,interview_id,code_id,theme,sub_theme,paraphrase,report_section,report_role_label,quote_order"


def csv_file(tmp_path: Path, text: str, *, name="segments.csv", encoding="utf-8", bom=False, crlf=False) -> Path:
    if crlf:
        text = text.replace("\n", "\r\n")
    data = text.encode(encoding)
    if bom:
        data = codecs.BOM_UTF8 + data
    path = tmp_path / name
    path.write_bytes(data)
    return path


def row(sid="S001", iid="I01", code="c1", para="A paraphrase.", order="1", label=""):
    return f"{sid},{iid},{code},t1,s1,{para},Section,{label},{order}"


def rules(issues):
    return [i.rule for i in issues]


def test_shipped_segments_read_cleanly():
    df, issues = read_segments_csv(RAW / "segments.csv")
    assert issues == []
    assert list(df.columns) == list(SEGMENT_OUTPUT_COLUMNS)
    assert len(df) == 83
    assert df.index.name == "line" and df.index.tolist() == list(range(2, 85))
    assert df["quote_order"].dtype == "Int64"


@pytest.mark.parametrize("bom,crlf", [(True, False), (False, True), (True, True)])
def test_bom_and_crlf_read_identically(tmp_path, bom, crlf):
    text = "\n".join([HEADER, row(), row("S002", para='"Two, with a comma"', order="2")]) + "\n"
    plain, _ = read_segments_csv(csv_file(tmp_path, text, name="a.csv"))
    other, issues = read_segments_csv(csv_file(tmp_path, text, name="b.csv", bom=bom, crlf=crlf))
    assert issues == []
    pd.testing.assert_frame_equal(plain, other)
    assert other.columns[0] == "segment_id"  # no BOM glued to the first header
    assert other["paraphrase"].tolist() == ["A paraphrase.", "Two, with a comma"]


def test_cp1252_is_accepted_with_a_warning(tmp_path):
    text = "\n".join([HEADER, row(), row("S002", para="Mother\u2019s caf\u00e9 group", order="2")]) + "\n"
    df, issues = read_segments_csv(csv_file(tmp_path, text, encoding="cp1252"))
    assert rules(issues) == ["csv.encoding"]
    assert issues[0].severity == "warning" and issues[0].line == 3
    assert df["paraphrase"].tolist()[1] == "Mother\u2019s caf\u00e9 group"


def test_undecodable_and_utf16_are_errors(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_bytes((HEADER + "\n").encode() + b"S001,I01,c1,t1,s1,x\x81y,S,,1\n")
    df, issues = read_segments_csv(path)
    assert rules(issues) == ["csv.encoding"] and issues[0].severity == "error" and issues[0].line == 2
    assert df.empty
    path.write_bytes((HEADER + "\n").encode("utf-16"))
    _, issues = read_segments_csv(path)
    assert rules(issues) == ["csv.encoding"] and issues[0].severity == "error"


def test_empty_file_and_header_only(tmp_path):
    df, issues = read_segments_csv(csv_file(tmp_path, ""))
    assert rules(issues) == ["csv.empty_file"] and df.empty
    assert list(df.columns) == list(SEGMENT_OUTPUT_COLUMNS)
    df, issues = read_segments_csv(csv_file(tmp_path, "\n\n"))
    assert rules(issues) == ["csv.empty_file"]
    df, issues = read_segments_csv(csv_file(tmp_path, HEADER + "\n"))
    assert rules(issues) == ["csv.no_rows"] and issues[0].line == 1 and df.empty


def test_missing_duplicate_and_unexpected_columns(tmp_path):
    header = "segment_id,interview_id,theme,sub_theme,paraphrase,report_section,report_role_label,extra,extra"
    df, issues = read_segments_csv(csv_file(tmp_path, header + "\nS001,I01,t,s,p,S,,x,y\n"))
    found = [(i.rule, i.column, i.line, i.severity) for i in issues]
    assert ("csv.missing_column", "code_id", 1, "error") in found
    assert ("csv.duplicate_column", "extra", 1, "error") in found
    assert ("csv.unexpected_column", "extra", 1, "warning") in found
    assert df["code_id"].tolist() == [""]  # filled, so later checks can still run
    assert df["quote_order"].tolist() == [1]  # absent column: file order


def test_duplicate_ids_report_the_physical_line(tmp_path):
    # A quoted paraphrase spanning three physical lines moves every later record down.
    text = "\n".join([
        HEADER,
        row("S001", para='"first line\nsecond line\nthird line"'),   # lines 2-4
        row("S002", order="2"),                                      # line 5
        row("S001", order="3"),                                      # line 6
    ]) + "\n"
    df, issues = read_segments_csv(csv_file(tmp_path, text, crlf=True))
    assert df.index.tolist() == [2, 5, 6]
    assert [(i.rule, i.line, i.column, i.value) for i in issues] == [("csv.duplicate_id", 6, "segment_id", "S001")]
    assert "line 2" in issues[0].expected
    assert df["paraphrase"].iloc[0] == "first line\r\nsecond line\r\nthird line"


def test_unknown_interview_with_a_table(tmp_path):
    text = "\n".join([HEADER, row(), row("S002", iid="I99", order="2")]) + "\n"
    df, issues = read_segments_csv(csv_file(tmp_path, text), interviews=["I01", "I02"])
    assert [(i.rule, i.line, i.column, i.value) for i in issues] == [("csv.unknown_interview", 3, "interview_id", "I99")]
    assert "I01" in issues[0].expected


def test_sibling_interviews_csv_is_used(tmp_path):
    (tmp_path / "interviews.csv").write_text(
        "interview_id,report_label,role,role_evidence\nI01,Interview 1,specialist,x\n", encoding="utf-8")
    text = "\n".join([HEADER, row(), row("S002", iid="I02", order="2")]) + "\n"
    _, issues = read_segments_csv(csv_file(tmp_path, text))
    assert rules(issues) == ["csv.unknown_interview"]


def test_id_format_without_a_table(tmp_path):
    text = "\n".join([HEADER, row(iid="Interview 1")]) + "\n"
    _, issues = read_segments_csv(csv_file(tmp_path, text))
    assert rules(issues) == ["csv.interview_id_format"]


def test_field_count_blank_values_and_bad_order(tmp_path):
    text = "\n".join([
        HEADER,
        row() + ",surplus",                       # line 2: 10 fields
        row("S002", code="", order="two"),        # line 3
        "S003,I01,c1,t1,s1",                      # line 4: 5 fields, padded
    ]) + "\n"
    df, issues = read_segments_csv(csv_file(tmp_path, text))
    got = [(i.rule, i.line, i.column) for i in issues]
    assert got == [
        ("csv.field_count", 2, None),
        ("csv.required_value", 3, "code_id"),
        ("csv.not_integer", 3, "quote_order"),
        ("csv.field_count", 4, None),
        ("csv.required_value", 4, "paraphrase"),
        ("csv.not_integer", 4, "quote_order"),
    ]
    assert df["quote_order"].isna().tolist() == [False, True, True]


def test_interviews_reader(tmp_path):
    text = ("interview_id,report_label,role,role_evidence,role_note\n"
            "I01,Interview 1,Specialist,e,n\n"
            "I01,Interview 1,champion,e,n\n"
            "I3,Interview 3,manager,e,n\n")
    df, issues = read_interviews_csv(csv_file(tmp_path, text, name="interviews.csv"))
    assert [(i.rule, i.line) for i in issues] == [
        ("csv.duplicate_id", 3), ("csv.interview_id_format", 4), ("csv.invalid_role", 4)]
    assert df["role"].tolist() == ["specialist", "champion", "manager"]  # lower-cased


def test_shipped_interviews_and_attributes_read_cleanly():
    interviews, issues = read_interviews_csv(RAW / "interviews.csv")
    assert issues == [] and len(interviews) == 10
    att, issues = read_attributes_csv(RAW / "attributes.csv", interviews=interviews)
    assert issues == []
    assert att["value_min"].dtype == "Float64"


def test_attributes_reader_errors(tmp_path):
    text = ("segment_id,interview_id,attribute,value_min,value_max,unit,note\n"
            "S001,I01,caseload_families,about 20,20,families,\n"
            "S002,I01,wait,18,8,months,\n"
            "S003,I09,x,1,1,u,\n")
    df, issues = read_attributes_csv(csv_file(tmp_path, text, name="attributes.csv"), interviews=["I01"])
    assert [(i.rule, i.line, i.column) for i in issues] == [
        ("csv.not_number", 2, "value_min"), ("csv.range_order", 3, "value_max"),
        ("csv.unknown_interview", 4, "interview_id")]
    assert df["value_min"].isna().tolist() == [True, False, False]
