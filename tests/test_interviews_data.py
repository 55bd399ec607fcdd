"""The committed interview data (data/raw/interviews/) against the contract and the report.

Tests that compare with the report's text read it from ``../shared/seeds/``
relative to the repository root and are skipped (with the reason) when it is
not there.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from pimh_analysis import interviews as iv
from pimh_analysis.errors import errors_only
from pimh_analysis.readers.interview_csv import read_segments_csv

ROOT = Path(__file__).resolve().parents[1]
RAW = ROOT / "data" / "raw" / "interviews"
SEEDS = ROOT.parent / "shared" / "seeds"
REPORT_NAME = "000_d294f42cf5979626.txt"
REGISTER = ROOT / "src" / "pimh_analysis" / "resources" / "published_register.csv"


def _find_report() -> Path | None:
    if (SEEDS / REPORT_NAME).is_file():
        return SEEDS / REPORT_NAME
    if SEEDS.is_dir():
        for path in sorted(SEEDS.glob("*.txt")):
            if "(Interview 4, Champion)" in path.read_text(encoding="utf-8", errors="replace"):
                return path
    return None


REPORT = _find_report()
needs_report = pytest.mark.skipif(REPORT is None, reason=f"report text not found in {SEEDS}")


@pytest.fixture(scope="module")
def data():
    interviews = iv.load_interviews(RAW / "interviews.csv")
    frame = iv.load_code_frame(RAW / "code_frame.yaml")
    segments, issues = read_segments_csv(RAW / "segments.csv", interviews=interviews)
    assert issues == []
    attributes = iv.load_attributes(RAW / "attributes.csv", interviews=interviews)
    return interviews, frame, segments, attributes


@pytest.fixture(scope="module")
def report_text() -> str:
    assert REPORT is not None
    return REPORT.read_text(encoding="utf-8")


# --------------------------------------------------------------------------- interviews and roles

def test_ten_interviews_seven_specialists_three_champions(data):
    interviews = data[0]
    assert interviews["interview_id"].tolist() == [f"I{n:02d}" for n in range(1, 11)]
    assert interviews["report_label"].tolist() == [f"Interview {n}" for n in range(1, 11)]
    assert iv.role_counts(interviews) == {"specialist": 7, "champion": 3}
    champions = interviews.loc[interviews["role"] == "champion", "interview_id"].tolist()
    assert champions == ["I04", "I08", "I09"]
    assert interviews["role_evidence"].str.len().min() > 40


def test_role_tensions_are_recorded(data):
    notes = dict(zip(data[0]["interview_id"], data[0]["role_note"]))
    for iid in ("I06", "I08", "I09"):
        assert notes[iid].startswith("Tension"), iid
    assert "UNICEF" in notes["I09"]
    assert "direct work" in notes["I08"]


# --------------------------------------------------------------------------- code frame and segments

def test_code_frame_shape_and_unique_ids(data):
    frame = data[1]
    assert frame["theme"].nunique() == 6
    assert frame["code_id"].is_unique
    ids = pd.concat([frame["theme"].drop_duplicates(), frame["sub_theme"].drop_duplicates(), frame["code_id"]])
    assert ids.is_unique
    assert (frame[["theme_label", "sub_theme_label", "code_label", "code_description"]] != "").all().all()


def test_every_segment_code_exists_and_matches_its_theme(data):
    interviews, frame, segments, _ = data
    assert set(segments["code_id"]) <= set(frame["code_id"])
    issues = iv.validate_segments(segments, frame, interviews, file="segments.csv")
    assert issues == []


def test_every_code_is_grounded_in_at_least_one_segment(data):
    frame, segments = data[1], data[2]
    assert set(frame["code_id"]) == set(segments["code_id"])


def test_segment_ids_and_quote_order(data):
    segments = data[2]
    assert segments["segment_id"].tolist() == [f"S{n:03d}" for n in range(1, 84)]
    assert segments["quote_order"].tolist() == list(range(1, 84))
    labels = segments.loc[segments["report_role_label"] != "", ["segment_id", "interview_id", "report_role_label"]]
    assert labels.values.tolist() == [["S046", "I08", "Champion"], ["S047", "I04", "Champion"]]


def test_segments_per_interview(data):
    counts = data[2]["interview_id"].value_counts().sort_index().to_dict()
    assert counts == {"I01": 10, "I02": 9, "I03": 6, "I04": 6, "I05": 13,
                      "I06": 6, "I07": 10, "I08": 7, "I09": 4, "I10": 12}


# --------------------------------------------------------------------------- against the report

@needs_report
def test_one_segment_per_attributed_quote_in_report_order(data, report_text):
    attributions = re.findall(r"\(Interview (\d+)(, Champion)?\)", report_text)
    segments = data[2]
    assert len(attributions) == len(segments) == 83
    assert segments["interview_id"].tolist() == [f"I{int(n):02d}" for n, _ in attributions]
    assert (segments["report_role_label"] == "Champion").tolist() == [bool(c) for _, c in attributions]


@needs_report
def test_report_sections_follow_the_report(data, report_text):
    headings = ["Qualifications", "Strategic Planning for the PIMH Pathway",
                "Supervision of PIMH Champions and Workforce Training", "Direct Work with Families",
                "Barriers to promoting PIMH"]
    # Position of each heading (as a line of its own, after the table of contents)
    # and of each attribution.
    findings = report_text.index("The online survey was completed by")
    starts = {h: re.compile(rf"^{re.escape(h)}\s*$", re.M).search(report_text, findings).start() for h in headings}
    positions = [m.start() for m in re.finditer(r"\(Interview \d+(?:, Champion)?\)", report_text)]
    for pos, section in zip(positions, data[2]["report_section"]):
        current = max((h for h in headings if starts[h] < pos), key=lambda h: starts[h])
        assert section.endswith(current), (pos, section, current)


def _words(text: str) -> list[str]:
    text = text.lower().replace("\u2019", "'").replace("\u2018", "'")
    return re.findall(r"[a-z0-9]+(?:'[a-z]+)?", text)


def _ngrams(words: list[str], k: int) -> set[tuple[str, ...]]:
    return {tuple(words[i:i + k]) for i in range(len(words) - k + 1)}


@needs_report
def test_no_paraphrase_copies_eight_words_of_the_report(data, report_text):
    report = _ngrams(_words(report_text), 8)
    interviews, _, segments, attributes = data
    texts = (
        [("segments", s, p) for s, p in zip(segments["segment_id"], segments["paraphrase"])]
        + [("interviews", i, t) for i, t in zip(interviews["interview_id"], interviews["role_evidence"])]
        + [("interviews", i, t) for i, t in zip(interviews["interview_id"], interviews["role_note"])]
        + [("attributes", s, t) for s, t in zip(attributes["segment_id"], attributes["note"])]
    )
    copied = [(f, key, " ".join(g)) for f, key, t in texts for g in _ngrams(_words(t), 8) & report]
    assert copied == []


@needs_report
def test_the_verbatim_check_can_fail(report_text):
    sentence = "the networking is really important, you know, where are the gaps"
    assert _ngrams(_words(sentence), 8) & _ngrams(_words(report_text), 8)


# --------------------------------------------------------------------------- attributes

def test_attributes_point_at_their_segments(data):
    segments, attributes = data[2], data[3]
    seg_iv = dict(zip(segments["segment_id"], segments["interview_id"]))
    assert all(seg_iv[s] == i for s, i in zip(attributes["segment_id"], attributes["interview_id"]))
    assert (attributes["value_min"] <= attributes["value_max"]).all()


@pytest.mark.parametrize("attribute,interview,lo,hi", [
    ("caseload_families", "I01", 20, 20),
    ("caseload_families", "I03", 10, 15),
    ("champions_led", "I10", 14, 14),
    ("hvs_began_vig_training", "I01", 12, 12),
    ("vig_qualified", "I10", 2, 2),
    ("years_building_relationships", "I03", 11, 11),
    ("champion_protected_hours_per_week", "I01", 2, 3),
    ("complex_needs_wait_months", "I05", 8, 18),
    ("champion_training_days", "I06", 2, 2),
    ("pathway_post_time", "I02", 1, 1),
    ("clinical_share_of_week", "I02", 50, 50),
    ("specialist_band", "I04", 7, 7),
    ("champion_band", "I04", 6, 6),
])
def test_stated_numbers(data, attribute, interview, lo, hi):
    att = data[3]
    hit = att[(att["attribute"] == attribute) & (att["interview_id"] == interview)]
    assert hit[["value_min", "value_max"]].astype(float).values.tolist() == [[lo, hi]]


def test_executive_summary_range_is_not_an_attribute(data):
    caseload = data[3][data[3]["attribute"] == "caseload_families"]
    assert sorted(caseload["interview_id"]) == ["I01", "I03"]
    assert (caseload["value_min"].min(), caseload["value_max"].max()) == (10, 20)


@pytest.mark.skipif(not REGISTER.is_file(), reason="published register not present")
def test_register_attributes_exist(data):
    register = pd.read_csv(REGISTER, dtype=str).fillna("")
    wanted = {v.split(":", 1)[1] for v in register.loc[register["source"] == "interviews", "variable"]
              if v.startswith("attribute:")}
    assert wanted <= set(data[3]["attribute"])


def test_validation_errors_make_loading_fail(tmp_path):
    (tmp_path / "interviews.csv").write_text(
        "interview_id,report_label,role,role_evidence\nI01,Interview 1,boss,x\n", encoding="utf-8")
    with pytest.raises(iv.InputError) as exc:
        iv.load_interviews(tmp_path / "interviews.csv")
    assert [i.rule for i in errors_only(exc.value.issues)] == ["csv.invalid_role"]
