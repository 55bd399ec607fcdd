"""Interview x code matrix, role split and summaries on a hand-made fixture (answers worked by hand)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from pimh_analysis import interviews as iv
from pimh_analysis.readers.interview_csv import read_segments_csv

ROOT = Path(__file__).resolve().parents[1]
RAW = ROOT / "data" / "raw" / "interviews"

# Three interviews; the champion has the middle id so role ordering is visible.
INTERVIEWS = pd.DataFrame({
    "interview_id": ["I01", "I02", "I03"],
    "report_label": ["Interview 1", "Interview 2", "Interview 3"],
    "role": ["specialist", "champion", "specialist"],
})
FRAME = pd.DataFrame({
    "theme": ["t1", "t1", "t2"], "theme_label": ["Theme one", "Theme one", "Theme two"],
    "theme_description": ["", "", ""],
    "sub_theme": ["s1", "s1", "s2"], "sub_theme_label": ["Sub one", "Sub one", "Sub two"],
    "sub_theme_description": ["", "", ""],
    "code_id": ["c1", "c2", "c3"], "code_label": ["Code one", "Code two", "Code three"],
    "code_description": ["", "", ""],
})
# I01 (specialist): c1, c1, c3.  I02 (champion): c3.  I03 (specialist): c2.
SEGMENTS = pd.DataFrame({
    "segment_id": ["S1", "S2", "S3", "S4", "S5"],
    "interview_id": ["I01", "I01", "I01", "I02", "I03"],
    "code_id": ["c1", "c1", "c3", "c3", "c2"],
    "theme": ["t1", "t1", "t2", "t2", "t1"],
    "sub_theme": ["s1", "s1", "s2", "s2", "s1"],
    "paraphrase": ["a", "b", "c", "d", "e"],
    "report_section": [""] * 5,
    "report_role_label": ["", "", "", "Champion", ""],
    "quote_order": [1, 2, 3, 4, 5],
})


def test_code_matrix_long():
    m = iv.code_matrix(SEGMENTS, FRAME, INTERVIEWS)
    assert len(m) == 9  # 3 interviews x 3 codes, zeros included
    # specialists first (I01, I03), then the champion (I02); codes in frame order
    assert list(dict.fromkeys(m["interview_id"])) == ["I01", "I03", "I02"]
    got = {(r.interview_id, r.code_id): (r.n, r.present) for r in m.itertuples()}
    assert got == {
        ("I01", "c1"): (2, 1), ("I01", "c2"): (0, 0), ("I01", "c3"): (1, 1),
        ("I03", "c1"): (0, 0), ("I03", "c2"): (1, 1), ("I03", "c3"): (0, 0),
        ("I02", "c1"): (0, 0), ("I02", "c2"): (0, 0), ("I02", "c3"): (1, 1),
    }
    assert m["n"].sum() == len(SEGMENTS)


def test_matrix_wide():
    w = iv.matrix_wide(iv.code_matrix(SEGMENTS, FRAME, INTERVIEWS))
    assert list(w.columns) == ["theme", "sub_theme", "code_id", "code_label", "n_I01", "n_I03", "n_I02",
                               "n_all", "n_interviews"]
    assert w[["n_I01", "n_I03", "n_I02", "n_all", "n_interviews"]].values.tolist() == [
        [2, 0, 0, 2, 1], [0, 1, 0, 1, 1], [1, 0, 1, 2, 2]]
    p = iv.matrix_wide(iv.code_matrix(SEGMENTS, FRAME, INTERVIEWS), value="present")
    assert p[["n_I01", "n_I03", "n_I02"]].values.tolist() == [[1, 0, 0], [0, 1, 0], [1, 0, 1]]


def test_theme_summary_by_role():
    s = iv.summary_by_role(SEGMENTS, FRAME, INTERVIEWS, level="theme")
    assert s["theme"].tolist() == ["t1", "t2"]
    cols = ["n_specialist", "denominator_specialist", "n_champion", "denominator_champion",
            "n_all", "denominator_all", "n_segments", "n_segments_specialist", "n_segments_champion"]
    assert s[cols].values.tolist() == [
        [2, 2, 0, 1, 2, 3, 3, 3, 0],   # t1: I01 (c1 x2) and I03 (c2), both specialists
        [1, 2, 1, 1, 2, 3, 2, 1, 1],   # t2: I01 and I02 (champion)
    ]
    assert s["pct_specialist"].tolist() == [100.0, 50.0]
    assert s["pct_champion"].tolist() == [0.0, 100.0]


def test_code_and_sub_theme_summaries():
    c = iv.summary_by_role(SEGMENTS, FRAME, INTERVIEWS, level="code")
    assert c[["code_id", "n_specialist", "n_champion", "n_segments"]].values.tolist() == [
        ["c1", 1, 0, 2], ["c2", 1, 0, 1], ["c3", 1, 1, 2]]
    st = iv.summary_by_role(SEGMENTS, FRAME, INTERVIEWS, level="sub_theme")
    assert st["sub_theme"].tolist() == ["s1", "s2"] and st["n_all"].tolist() == [2, 2]
    with pytest.raises(ValueError):
        iv.summary_by_role(SEGMENTS, FRAME, INTERVIEWS, level="nope")


def test_segments_per_interview():
    p = iv.segments_per_interview(SEGMENTS, FRAME, INTERVIEWS)
    assert p[["interview_id", "role", "n_segments", "n_themes", "denominator_themes", "n_codes"]].values.tolist() == [
        ["I01", "specialist", 3, 2, 2, 2], ["I03", "specialist", 1, 1, 2, 1], ["I02", "champion", 1, 1, 2, 1]]


def test_theme_interview_long_is_the_figure_data():
    long = iv.theme_interview_long(SEGMENTS, FRAME, INTERVIEWS)
    assert len(long) == 6
    assert long[["theme", "interview_id", "n"]].values.tolist() == [
        ["t1", "I01", 2], ["t1", "I03", 1], ["t1", "I02", 0],
        ["t2", "I01", 1], ["t2", "I03", 0], ["t2", "I02", 1]]


def test_figure_has_one_panel_per_role_with_n():
    import matplotlib.pyplot as plt

    fig = iv.plot_theme_interview_matrix(iv.theme_interview_long(SEGMENTS, FRAME, INTERVIEWS))
    try:
        titles = [ax.get_title() for ax in fig.axes]
        assert titles == ["Specialist health visitors (n = 2)", "PIMH Champions (n = 1)"]
        assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["1", "3"]
        assert "5 quotes from 3 interviews" in " ".join(t.get_text() for t in fig.texts)
    finally:
        plt.close(fig)


def test_validate_segments_reports_each_problem_with_its_line():
    bad = SEGMENTS.copy()
    bad.index = pd.Index([2, 3, 4, 5, 6], name="line")
    bad.loc[3, "code_id"] = "c9"            # unknown code
    bad.loc[4, "theme"] = "t1"              # c3 belongs to t2
    bad.loc[5, "interview_id"] = "I07"      # unknown interview
    bad.loc[6, "segment_id"] = "S1"         # duplicate
    bad.loc[2, "report_role_label"] = "Champion"  # I01 is a specialist
    issues = iv.validate_segments(bad, FRAME, INTERVIEWS, file="segments.csv")
    got = [(i.rule, i.line, i.severity) for i in issues]
    assert got == [
        ("segments.role_label_mismatch", 2, "warning"),
        ("segments.unknown_code", 3, "error"),
        ("segments.theme_mismatch", 4, "error"),
        ("segments.unknown_interview", 5, "error"),
        ("segments.duplicate_id", 6, "error"),
        ("segments.interview_without_segments", None, "warning"),  # I02 lost its only segment
    ]


def test_validate_segments_flags_invalid_roles():
    ivs = INTERVIEWS.assign(role=["specialist", "manager", "specialist"])
    assert [i.rule for i in iv.validate_segments(SEGMENTS, FRAME, ivs)] == [
        "segments.invalid_role", "segments.role_label_mismatch"]  # S4 is labelled Champion


def test_attributes_summary():
    att = pd.DataFrame({
        "segment_id": ["S1", "S5", "S4"], "interview_id": ["I01", "I03", "I02"],
        "attribute": ["caseload_families", "caseload_families", "champions_led"],
        "value_min": [20.0, 10.0, 14.0], "value_max": [20.0, 15.0, 14.0],
        "unit": ["families", "families", "champions"], "note": ["", "", ""],
    })
    s = iv.attributes_summary(att, INTERVIEWS)
    assert s.to_dict("records") == [
        {"attribute": "caseload_families", "unit": "families", "n_statements": 2, "n_interviews": 2,
         "value_min": 10.0, "value_max": 20.0, "roles": "specialist",
         "statements": "I01 (specialist): 20; I03 (specialist): 10-15"},
        {"attribute": "champions_led", "unit": "champions", "n_statements": 1, "n_interviews": 1,
         "value_min": 14.0, "value_max": 14.0, "roles": "champion", "statements": "I02 (champion): 14"},
    ]


# --------------------------------------------------------------------------- the shipped data

@pytest.fixture(scope="module")
def shipped():
    interviews = iv.load_interviews(RAW / "interviews.csv")
    frame = iv.load_code_frame(RAW / "code_frame.yaml")
    segments, _ = read_segments_csv(RAW / "segments.csv")
    return segments, frame, interviews


def test_shipped_role_split_denominators_and_a_hand_count(shipped):
    segments, frame, interviews = shipped
    s = iv.summary_by_role(segments, frame, interviews).set_index("theme")
    assert set(s["denominator_specialist"]) == {7} and set(s["denominator_champion"]) == {3}
    assert s["n_segments"].sum() == 83
    # Barriers, counted by hand from segments.csv: I01, I02, I03, I05, I10 (specialists) and I09.
    assert s.loc["barriers", ["n_specialist", "n_champion", "n_segments"]].tolist() == [5, 1, 11]
    m = iv.code_matrix(segments, frame, interviews)
    assert len(m) == 10 * 43 and m["n"].sum() == 83


def test_outputs_are_deterministic(shipped):
    segments, frame, interviews = shipped
    shuffled = segments.sample(frac=1.0, random_state=3)
    a = iv.summary_by_role(segments, frame, interviews, level="code")
    b = iv.summary_by_role(shuffled, frame, interviews.iloc[::-1], level="code")
    pd.testing.assert_frame_equal(a, b)
    pd.testing.assert_frame_equal(iv.code_matrix(segments, frame, interviews),
                                  iv.code_matrix(shuffled, frame, interviews.iloc[::-1]))
