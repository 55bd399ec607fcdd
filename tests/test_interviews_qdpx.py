"""REFI-QDA (.qdpx) reader and writer: real zip archives and real lxml parsing, built here.

Each test writes a small project.qde by hand (not with the package's writer) so
the reader is checked against the standard's layout, then zips it with its
source files.  Positions are Unicode code points, end exclusive.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from pathlib import Path

import pandas as pd
import pytest
import yaml

from pimh_analysis import interviews as iv
from pimh_analysis.readers.interview_csv import SEGMENT_OUTPUT_COLUMNS, read_segments_csv
from pimh_analysis.readers.qdpx import (
    NS,
    guid_for,
    interview_id_from_name,
    iter_rule_ids,
    read_qdpx,
    write_qdpx,
)

ROOT = Path(__file__).resolve().parents[1]
RAW = ROOT / "data" / "raw" / "interviews"
BAD = ROOT / "tests" / "bad_inputs"


def G(n: int) -> str:
    return f"00000000-0000-4000-8000-{n:012d}"


CODES = f"""<CodeBook><Codes>
<Code guid="{G(1)}" name="Theme one" isCodable="false">
<Code guid="{G(2)}" name="Sub one" isCodable="false">
<Code guid="{G(3)}" name="Code A" isCodable="true"><Description>first code</Description></Code>
<Code guid="{G(4)}" name="Code B" isCodable="true"/>
</Code>
</Code>
</Codes></CodeBook>"""


def project(sources: str, *, codes: str = CODES, extra: str = "") -> str:
    return (f'<?xml version="1.0" encoding="utf-8"?>\n<Project xmlns="{NS}" name="test">\n'
            f"{codes}\n{extra}\n<Sources>\n{sources}\n</Sources>\n</Project>\n")


def text_source(guid: int, name: str, selections: str, *, path: str | None = None) -> str:
    path = path or f"internal://{G(guid)}.txt"
    return f'<TextSource guid="{G(guid)}" name="{name}" plainTextPath="{path}">\n{selections}\n</TextSource>'


def selection(guid: int, start: int, end: int, code: int = 3, name: str = "") -> str:
    nm = f' name="{name}"' if name else ""
    return (f'<PlainTextSelection guid="{G(guid)}"{nm} startPosition="{start}" endPosition="{end}">\n'
            f'<Coding guid="{G(guid + 1000)}"><CodeRef targetGUID="{G(code)}"/></Coding>\n'
            f"</PlainTextSelection>")


def qdpx_bytes(qde: str | bytes, files: dict[str, bytes | str] | None = None) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        data = qde.encode("utf-8") if isinstance(qde, str) else qde
        for name, content in [("project.qde", data), *sorted((files or {}).items())]:
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, content.encode("utf-8") if isinstance(content, str) else content)
    return buf.getvalue()


def write(tmp_path: Path, qde: str | bytes, files: dict[str, bytes | str] | None = None, name="p.qdpx") -> Path:
    path = tmp_path / name
    path.write_bytes(qdpx_bytes(qde, files))
    return path


def line_of(qde: str, marker: str) -> int:
    """1-based line of the first line of ``qde`` containing ``marker``."""
    for number, line in enumerate(qde.splitlines(), start=1):
        if marker in line:
            return number
    raise AssertionError(marker)


def rules(issues, severity=None):
    return [i.rule for i in issues if severity is None or i.severity == severity]


# --------------------------------------------------------------------------- happy paths

@pytest.mark.parametrize("folder", ["sources", "Sources", "SOURCES"])
def test_reads_text_from_either_sources_folder(tmp_path, folder):
    text = "Interview text: funding comes and goes."
    start = text.index("funding")
    qde = project(text_source(10, "Interview 3", selection(20, start, start + 7)))
    segs, frame, issues = read_qdpx(write(tmp_path, qde, {f"{folder}/{G(10)}.txt": text}))
    assert issues == []
    assert segs["paraphrase"].tolist() == ["funding"]
    assert segs["interview_id"].tolist() == ["I03"]
    assert segs.index.tolist() == [line_of(qde, G(20))]  # the selection's line in project.qde
    assert frame[["theme_label", "sub_theme_label", "code_label"]].values.tolist() == [
        ["Theme one", "Sub one", "Code A"], ["Theme one", "Sub one", "Code B"]]
    assert segs.loc[:, ["theme", "sub_theme", "code_id"]].values.tolist() == [["theme_one", "sub_one", "code_a"]]
    assert frame.loc[0, "code_description"] == "first code"


def test_internal_path_that_repeats_the_folder(tmp_path):
    qde = project(text_source(10, "Interview 3", selection(20, 0, 3), path=f"internal://Sources/{G(10)}.txt"))
    segs, _, issues = read_qdpx(write(tmp_path, qde, {f"Sources/{G(10)}.txt": "abc"}))
    assert issues == [] and segs["paraphrase"].tolist() == ["abc"]


def test_crlf_counts_two_code_points(tmp_path):
    text = "Line one\r\nLine two\r\nLine three"
    start = text.index("Line two")  # 10: CR and LF both count
    assert start == 10
    qde = project(text_source(10, "I01", selection(20, start, start + 8) + selection(30, 20, 30, code=4)))
    segs, _, issues = read_qdpx(write(tmp_path, qde, {f"Sources/{G(10)}.txt": text.encode("utf-8")}))
    assert issues == []
    assert segs["paraphrase"].tolist() == ["Line two", "Line three"]


def test_positions_are_code_points_not_utf16_or_bytes(tmp_path):
    # Three non-BMP characters before the target: UTF-16 offsets would be 3 larger,
    # UTF-8 byte offsets 9 larger, so only code-point counting selects "smiles".
    text = "Baby \U0001F476\U0001F3FD smiles \U0001F60A at mum"
    start = text.index("smiles")
    assert len(text[:start].encode("utf-16-le")) // 2 == start + 2
    qde = project(text_source(10, "Interview 10", selection(20, start, start + 6)
                              + selection(30, start + 7, start + 8, code=4)))
    segs, _, issues = read_qdpx(write(tmp_path, qde, {f"sources/{G(10)}.txt": text}))
    assert issues == []
    assert segs["paraphrase"].tolist() == ["smiles", "\U0001F60A"]
    assert segs["interview_id"].tolist() == ["I10", "I10"]


def test_bom_is_not_text_and_is_reported(tmp_path):
    text = "abc def"
    qde = project(text_source(10, "Interview 2", selection(20, 4, 7)))
    segs, _, issues = read_qdpx(write(tmp_path, qde, {f"Sources/{G(10)}.txt": b"\xef\xbb\xbf" + text.encode()}))
    assert segs["paraphrase"].tolist() == ["def"]
    assert rules(issues) == ["qdpx.source_bom"]
    assert issues[0].severity == "warning" and issues[0].line == line_of(qde, "<TextSource")


def test_inline_plain_text_content(tmp_path):
    src = (f'<TextSource guid="{G(10)}" name="Interview 7"><PlainTextContent>groups for mums</PlainTextContent>\n'
           f"{selection(20, 0, 6)}\n</TextSource>")
    segs, _, issues = read_qdpx(write(tmp_path, project(src)))
    assert issues == [] and segs["paraphrase"].tolist() == ["groups"]


def test_roles_from_cases_and_variables(tmp_path):
    extra = (f'<Variables><Variable guid="{G(50)}" name="Role" typeOfVariable="Text"/></Variables>\n'
             f'<Cases><Case guid="{G(60)}" name="Interview 8"><VariableValue><VariableRef targetGUID="{G(50)}"/>'
             f'<TextValue>Champion</TextValue></VariableValue><SourceRef targetGUID="{G(10)}"/></Case></Cases>')
    # The source itself has an uninformative name: the case name maps it to I08.
    qde = project(text_source(10, "transcript-b", selection(20, 0, 3)), extra=extra)
    segs, _, issues = read_qdpx(write(tmp_path, qde, {f"Sources/{G(10)}.txt": "abc"}))
    assert issues == []
    assert segs[["interview_id", "role"]].values.tolist() == [["I08", "champion"]]


def test_roles_from_interviews_table_and_conflicts(tmp_path):
    table = pd.DataFrame({"interview_id": ["I01", "I02"], "role": ["specialist", "champion"]})
    qde = project(text_source(10, "Interview 1", selection(20, 0, 3)))
    path = write(tmp_path, qde, {f"Sources/{G(10)}.txt": "abc"})
    segs, _, issues = read_qdpx(path, interviews=table)
    assert issues == [] and segs["role"].tolist() == ["specialist"]

    extra = (f'<Variables><Variable guid="{G(50)}" name="role" typeOfVariable="Text"/></Variables>\n'
             f'<Cases><Case guid="{G(60)}" name="Interview 1"><VariableValue><VariableRef targetGUID="{G(50)}"/>'
             f'<TextValue>champion</TextValue></VariableValue><SourceRef targetGUID="{G(10)}"/></Case></Cases>')
    qde = project(text_source(10, "Interview 1", selection(20, 0, 3)), extra=extra)
    _, _, issues = read_qdpx(write(tmp_path, qde, {f"Sources/{G(10)}.txt": "abc"}, "c.qdpx"), interviews=table)
    assert rules(issues) == ["qdpx.role_conflict"]
    assert issues[0].line == line_of(qde, "<VariableValue>") and issues[0].expected == "specialist"


@pytest.mark.parametrize("name,expected", [
    ("Interview 4", "I04"), ("interview_04.txt", "I04"), ("Interview-10", "I10"), ("I04", "I04"),
    ("i9", "I09"), ("I04 - Champion", "I04"), ("Interview no. 7", "I07"),
    ("Intro", None), ("Interview 4b", None), ("Notes I04", None), ("", None),
])
def test_source_name_rule(name, expected):
    assert interview_id_from_name(name) == expected


def test_unmapped_and_unknown_interviews(tmp_path):
    table = pd.DataFrame({"interview_id": ["I01"], "role": ["specialist"]})
    qde = project(text_source(10, "Focus group", selection(20, 0, 1))
                  + "\n" + text_source(11, "Interview 12", selection(21, 0, 1)))
    files = {f"Sources/{G(10)}.txt": "x", f"Sources/{G(11)}.txt": "y"}
    segs, _, issues = read_qdpx(write(tmp_path, qde, files), interviews=table)
    assert rules(issues) == ["qdpx.unmapped_source", "qdpx.unknown_interview"]
    assert [i.line for i in issues] == [line_of(qde, "Focus group"), line_of(qde, "Interview 12")]
    assert segs["interview_id"].isna().tolist() == [True, False]


def test_multiple_codings_whole_source_coding_and_ids(tmp_path):
    sel = (f'<PlainTextSelection guid="{G(20)}" name="S007" startPosition="0" endPosition="3">\n'
           f'<Coding guid="{G(21)}"><CodeRef targetGUID="{G(3)}"/></Coding>\n'
           f'<Coding guid="{G(22)}"><CodeRef targetGUID="{G(4)}"/></Coding>\n</PlainTextSelection>\n'
           f'<PlainTextSelection guid="{G(30)}" name="a snippet of text" startPosition="4" endPosition="7">\n'
           f'<Coding guid="{G(31)}"><CodeRef targetGUID="{G(4)}"/></Coding>\n</PlainTextSelection>\n'
           f'<Coding guid="{G(40)}"><CodeRef targetGUID="{G(3)}"/></Coding>')
    qde = project(text_source(10, "Interview 5", sel))
    segs, _, issues = read_qdpx(write(tmp_path, qde, {f"Sources/{G(10)}.txt": "abc def"}))
    assert issues == []
    assert segs["segment_id"].tolist() == ["S007", "S007#2", G(30), G(10)]
    assert segs["code_id"].tolist() == ["code_a", "code_b", "code_b", "code_a"]
    assert segs["paraphrase"].tolist() == ["abc", "abc", "def", "abc def"]
    assert segs["quote_order"].tolist() == [1, 2, 3, 4]


def test_warnings_for_uncodable_and_uncoded(tmp_path):
    sel = (f'<PlainTextSelection guid="{G(20)}" startPosition="0" endPosition="1">\n'
           f'<Coding guid="{G(21)}"><CodeRef targetGUID="{G(2)}"/></Coding>\n</PlainTextSelection>\n'
           f'<PlainTextSelection guid="{G(30)}" startPosition="1" endPosition="2"/>')
    qde = project(text_source(10, "Interview 5", sel))
    segs, _, issues = read_qdpx(write(tmp_path, qde, {f"Sources/{G(10)}.txt": "ab"}))
    assert rules(issues) == ["qdpx.code_not_codable", "qdpx.coding_above_code_level", "qdpx.uncoded_selection"]
    assert set(i.severity for i in issues) == {"warning"}
    assert segs[["theme", "sub_theme", "code_id"]].values.tolist() == [["theme_one", "sub_one", "sub_one"]]


# --------------------------------------------------------------------------- bad input

@pytest.mark.parametrize("start,end", [(5, 12), (-1, 2), (4, 3), (11, 11)])
def test_span_outside_text(tmp_path, start, end):
    text = "0123456789"  # 10 code points
    qde = project(text_source(10, "Interview 1", selection(20, 0, 10) + "\n" + selection(30, start, end, code=4)))
    segs, _, issues = read_qdpx(write(tmp_path, qde, {f"Sources/{G(10)}.txt": text}))
    assert rules(issues) == ["qdpx.span_outside_text"]
    issue = issues[0]
    assert issue.line == line_of(qde, G(30)) and issue.value == f"{start}-{end}"
    assert "10" in issue.expected
    assert segs["paraphrase"].tolist() == [text]  # the good selection is kept


def test_span_at_end_and_empty_span_are_inside(tmp_path):
    qde = project(text_source(10, "Interview 1", selection(20, 10, 10) + "\n" + selection(30, 9, 10)))
    segs, _, issues = read_qdpx(write(tmp_path, qde, {f"Sources/{G(10)}.txt": "0123456789"}))
    assert issues == [] and segs["paraphrase"].tolist() == ["", "9"]


def test_missing_code(tmp_path):
    qde = project(text_source(10, "Interview 1", selection(20, 0, 2) + "\n" + selection(30, 2, 4, code=99)))
    segs, _, issues = read_qdpx(write(tmp_path, qde, {f"Sources/{G(10)}.txt": "abcd"}))
    assert rules(issues) == ["qdpx.missing_code"]
    assert issues[0].line == line_of(qde, f'targetGUID="{G(99)}"')
    assert issues[0].value == G(99) and issues[0].severity == "error"
    assert segs["paraphrase"].tolist() == ["ab"]


def test_missing_source_file(tmp_path):
    qde = project(text_source(10, "Interview 1", selection(20, 0, 2)))
    segs, _, issues = read_qdpx(write(tmp_path, qde, {f"Sources/{G(11)}.txt": "abcd"}))
    assert rules(issues) == ["qdpx.missing_source_file"]
    assert issues[0].line == line_of(qde, "<TextSource") and issues[0].value == f"internal://{G(10)}.txt"
    assert segs.empty


def test_external_source_and_bad_encoding(tmp_path):
    qde = project(text_source(10, "Interview 1", selection(20, 0, 2), path="relative:///a.txt")
                  + "\n" + text_source(11, "Interview 2", selection(21, 0, 2)))
    segs, _, issues = read_qdpx(write(tmp_path, qde, {f"Sources/{G(11)}.txt": "caf\xe9".encode("cp1252")}))
    assert rules(issues) == ["qdpx.external_source", "qdpx.source_encoding"]
    assert segs.empty


def test_malformed_xml_reports_the_line(tmp_path):
    qde = project(text_source(10, "Interview 1", selection(20, 0, 2))).replace("</TextSource>", "</TextSourc>")
    segs, frame, issues = read_qdpx(write(tmp_path, qde, {f"Sources/{G(10)}.txt": "abcd"}))
    assert rules(issues) == ["qdpx.malformed_xml"]
    assert issues[0].line == line_of(qde, "</TextSourc>")
    assert segs.empty and frame.empty
    assert list(segs.columns)[: len(SEGMENT_OUTPUT_COLUMNS)] == list(SEGMENT_OUTPUT_COLUMNS)


def test_bad_position_and_missing_attribute(tmp_path):
    sel = (f'<PlainTextSelection guid="{G(20)}" startPosition="one" endPosition="2">'
           f'<Coding guid="{G(21)}"><CodeRef targetGUID="{G(3)}"/></Coding></PlainTextSelection>\n'
           f'<PlainTextSelection guid="{G(30)}" startPosition="0">'
           f'<Coding guid="{G(31)}"><CodeRef targetGUID="{G(3)}"/></Coding></PlainTextSelection>')
    qde = project(text_source(10, "Interview 1", sel))
    _, _, issues = read_qdpx(write(tmp_path, qde, {f"Sources/{G(10)}.txt": "abcd"}))
    assert rules(issues) == ["qdpx.bad_position", "qdpx.missing_attribute"]
    assert [i.column for i in issues] == ["startPosition", "endPosition"]


def test_duplicate_guid(tmp_path):
    qde = project(text_source(10, "Interview 1", selection(20, 0, 2) + "\n" + selection(20, 2, 4)))
    _, _, issues = read_qdpx(write(tmp_path, qde, {f"Sources/{G(10)}.txt": "abcd"}))
    assert "qdpx.duplicate_guid" in rules(issues)


@pytest.mark.parametrize("content,rule", [
    (b"this is not a zip archive", "qdpx.bad_zip"),
    (b"", "qdpx.bad_zip"),
])
def test_not_a_zip(tmp_path, content, rule):
    path = tmp_path / "x.qdpx"
    path.write_bytes(content)
    segs, frame, issues = read_qdpx(path)
    assert rules(issues) == [rule] and segs.empty and frame.empty


def test_missing_file_and_missing_project(tmp_path):
    _, _, issues = read_qdpx(tmp_path / "nope.qdpx")
    assert rules(issues) == ["qdpx.bad_zip"]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("Sources/a.txt", "abc")
    (tmp_path / "np.qdpx").write_bytes(buf.getvalue())
    _, _, issues = read_qdpx(tmp_path / "np.qdpx")
    assert rules(issues) == ["qdpx.no_project"]


def test_wrong_namespace(tmp_path):
    qde = project(text_source(10, "Interview 1", selection(20, 0, 2))).replace(NS, "urn:QDA-XML:codebook:1.0")
    _, _, issues = read_qdpx(write(tmp_path, qde, {f"Sources/{G(10)}.txt": "ab"}))
    assert rules(issues) == ["qdpx.wrong_root"] and issues[0].line == 2


def test_external_entities_are_not_resolved(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET")
    # An external entity in element content (the code's Description): a parser that
    # resolved it would put the file's text into the code frame.
    qde = project(text_source(10, "Interview 1", selection(20, 0, 2)),
                  codes=CODES.replace("first code", "&xxe;"))
    qde = qde.replace('<?xml version="1.0" encoding="utf-8"?>\n',
                      f'<?xml version="1.0" encoding="utf-8"?>\n<!DOCTYPE Project [<!ENTITY xxe SYSTEM "file://{secret}">]>\n')
    segs, frame, issues = read_qdpx(write(tmp_path, qde, {f"Sources/{G(10)}.txt": "ab"}))
    assert "TOP-SECRET" not in repr(segs.to_dict()) + repr(frame.to_dict()) + repr(issues)
    assert segs["paraphrase"].tolist() == ["ab"]


def test_rule_ids_are_documented():
    ids = set(iter_rule_ids())
    assert {"qdpx.missing_code", "qdpx.span_outside_text", "qdpx.malformed_xml",
            "qdpx.missing_source_file", "qdpx.bad_zip"} <= ids


# --------------------------------------------------------------------------- round trip

@pytest.fixture(scope="module")
def shipped():
    interviews = iv.load_interviews(RAW / "interviews.csv")
    frame = iv.load_code_frame(RAW / "code_frame.yaml")
    segments, issues = read_segments_csv(RAW / "segments.csv")
    assert issues == []
    return segments, frame, interviews


@pytest.mark.parametrize("folder", ["Sources", "sources"])
def test_round_trip_of_the_shipped_data(tmp_path, shipped, folder):
    segments, frame, interviews = shipped
    path = write_qdpx(segments, frame, interviews, tmp_path / "rt.qdpx", sources_dir=folder)
    back, back_frame, issues = read_qdpx(path, interviews=interviews, code_frame=frame)
    assert issues == []
    cols = list(SEGMENT_OUTPUT_COLUMNS)
    pd.testing.assert_frame_equal(back[cols].reset_index(drop=True), segments[cols].reset_index(drop=True))
    pd.testing.assert_frame_equal(back_frame[frame.columns].reset_index(drop=True), frame)
    roles = dict(zip(interviews["interview_id"], interviews["role"]))
    assert back["role"].tolist() == [roles[i] for i in back["interview_id"]]
    names = zipfile.ZipFile(path).namelist()
    assert names[0] == "project.qde" and len(names) == 11
    assert all(n.startswith(folder + "/") for n in names[1:])


def test_round_trip_without_code_frame_keeps_hierarchy(tmp_path, shipped):
    segments, frame, interviews = shipped
    path = write_qdpx(segments, frame, interviews, tmp_path / "rt.qdpx")
    back, back_frame, issues = read_qdpx(path)
    assert issues == []
    # Without the frame, ids are slugs of labels; the hierarchy and texts survive.
    label = dict(zip(frame["code_id"], frame["code_label"]))
    assert [label[c] for c in segments["code_id"]] == back_frame.set_index("code_id").loc[back["code_id"], "code_label"].tolist()
    assert back["paraphrase"].tolist() == segments["paraphrase"].tolist()
    assert back["role"].value_counts().to_dict() == {"specialist": 66, "champion": 17}


def test_writer_is_deterministic_and_code_point_exact(tmp_path, shipped):
    _, frame, _ = shipped
    interviews = pd.DataFrame({"interview_id": ["I01", "I02"], "report_label": ["Interview 1", "Interview 2"],
                               "role": ["specialist", "champion"]})
    code = frame["code_id"].iloc[0]
    segments = pd.DataFrame({
        "segment_id": ["S1", "S2", "S3"], "interview_id": ["I01", "I01", "I02"], "code_id": [code] * 3,
        "theme": [frame["theme"].iloc[0]] * 3, "sub_theme": [frame["sub_theme"].iloc[0]] * 3,
        "paraphrase": ["Emoji \U0001F476 first", "line\r\nbreak", "caf\u00e9"],
        "report_section": ["A", "B", "C"], "report_role_label": ["", "Champion", ""],
        "quote_order": pd.array([1, 2, 3], dtype="Int64"),
    }).astype({c: "string" for c in ["segment_id", "interview_id", "code_id", "theme", "sub_theme",
                                      "paraphrase", "report_section", "report_role_label"]})
    a = write_qdpx(segments, frame, interviews, tmp_path / "a.qdpx")
    b = write_qdpx(segments, frame, interviews, tmp_path / "b.qdpx")
    assert hashlib.sha256(a.read_bytes()).digest() == hashlib.sha256(b.read_bytes()).digest()
    back, _, issues = read_qdpx(a, interviews=interviews, code_frame=frame)
    assert issues == []
    cols = list(SEGMENT_OUTPUT_COLUMNS)
    pd.testing.assert_frame_equal(back[cols].reset_index(drop=True), segments[cols])
    raw = zipfile.ZipFile(a).read(f"Sources/{guid_for('source', 'I01')}.txt")
    assert raw == "Emoji \U0001F476 first\n\nline\r\nbreak".encode("utf-8")  # CRLF kept, no BOM


def test_writer_rejects_unknown_codes(tmp_path, shipped):
    segments, frame, interviews = shipped
    bad = segments.copy()
    bad.loc[bad.index[0], "code_id"] = "no_such_code"
    with pytest.raises(ValueError, match="no_such_code"):
        write_qdpx(bad, frame, interviews, tmp_path / "x.qdpx")


# --------------------------------------------------------------------------- bad-input corpus

MISSING_CODE_QDE = project(
    text_source(10, "Interview 4",
                selection(20, 0, 28, code=3, name="S001") + "\n"
                + selection(30, 29, 58, code=77, name="S002")),
)
MISSING_CODE_TEXT = "Champion asks the specialist\nabout a referral for a mother"


def missing_code_qdpx() -> bytes:
    """The committed ``tests/bad_inputs/interview_missing_code.qdpx``, rebuilt."""
    return qdpx_bytes(MISSING_CODE_QDE, {f"Sources/{G(10)}.txt": MISSING_CODE_TEXT})


def test_bad_input_missing_code_is_committed_and_reproducible():
    assert (BAD / "interview_missing_code.qdpx").read_bytes() == missing_code_qdpx()


def test_bad_input_missing_code_matches_expected_yaml():
    expected = yaml.safe_load((BAD / "EXPECTED.yaml").read_text(encoding="utf-8"))
    entry = expected["interview_missing_code.qdpx"]
    assert entry["format"] == "qdpx"
    segs, _, issues = read_qdpx(BAD / "interview_missing_code.qdpx")
    errors = [i for i in issues if i.severity == "error"]
    assert [(i.rule, i.line) for i in errors] == [(entry["rule"], entry["line"])]
    assert entry["line"] == line_of(MISSING_CODE_QDE, f'targetGUID="{G(77)}"')
    assert segs["segment_id"].tolist() == ["S001"]  # the valid coding survives
    assert segs["paraphrase"].tolist() == [MISSING_CODE_TEXT[:28]]
