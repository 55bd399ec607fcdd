"""Reviewer summaries of the audit, on hand-made audit rows with hand-worked arithmetic."""

import pandas as pd

from pimh_analysis import audit_report as ar


def _audit(rows):
    base = {"section": "S", "unit": "%", "decimals": "1", "question": "Q", "population": "", "contradiction": "",
            "note": "", "recomputed": "", "status": "reproduced", "numerator": pd.NA, "denominator": pd.NA}
    return pd.DataFrame([{**base, **r} for r in rows])


def test_implied_denominators_hand_worked():
    a = _audit([
        {"id": "A", "published": "56.3", "numerator": 9, "denominator": 16},   # 9/16 = 56.25 -> 56.3 half-up
        {"id": "B", "published": "84.8", "numerator": 28, "denominator": 33},  # 28/33 = 84.85; 28/34 = 82.35
        {"id": "C", "published": "51", "decimals": "0"},                        # needs n >= 35, odd
        {"id": "D", "published": "", "status": "not_published"},
    ])
    imp = ar.implied_denominators(a, candidates=(16, 33, 34, 35))
    assert list(imp["id"]) == ["A", "B", "C"]
    row = imp.set_index("id")
    assert row.loc["A", "k_at_16"] == "9" and row.loc["A", "k_at_34"] == ""
    assert row.loc["B", "k_at_33"] == "28" and row.loc["B", "k_at_34"] == ""
    assert row.loc["C", "compatible_candidates"] == "35" and row.loc["C", "k_at_35"] == "18"
    clusters = ar.denominator_clusters(imp, candidates=(16, 33, 34, 35)).set_index("candidate_n")
    assert clusters.loc[35, "n_entries_only_this"] == 1 and clusters.loc[34, "n_entries_compatible"] == 0


def test_rounding_sensitive_finds_ties_and_truncations_only():
    a = _audit([
        {"id": "tie", "published": "56.3", "numerator": 9, "denominator": 16},
        {"id": "trunc", "published": "82.3", "numerator": 28, "denominator": 34, "status": "reproduced_other_rounding"},
        {"id": "plain", "published": "64.7", "numerator": 22, "denominator": 34},  # 64.705... -> 64.7 under every rule
    ])
    out = ar.rounding_sensitive(a).set_index("id")
    assert set(out.index) == {"tie", "trunc"}
    assert out.loc["tie", "prints_half_even"] == "56.2" and bool(out.loc["tie", "tie"])
    assert out.loc["trunc", "prints_half_up"] == "82.4" and out.loc["trunc", "prints_truncate"] == "82.3"


def test_status_by_section_totals():
    a = _audit([{"id": "1", "published": "1", "section": "X"}, {"id": "2", "published": "2", "section": "X", "status": "differs"},
                {"id": "3", "published": "", "section": "Y", "status": "not_published"}])
    t = ar.status_by_section(a).set_index("section")
    assert t.loc["X", "n_total"] == 2 and t.loc["X", "n_differs"] == 1
    assert t.loc["All sections", "n_total"] == 3 and t.loc["All sections", "n_not_published"] == 1


def test_contradictions_table_reports_each_entry_status():
    a = _audit([{"id": "E1", "published": "1", "status": "differs"}])
    t = ar.contradictions_table(a, [{"id": "C99", "title": "t", "register": ["E1", "E2"], "evidence": "e", "resolution": "r"}])
    assert t.loc[0, "statuses"] == "E1:differs E2:missing" and t.loc[0, "n_entries"] == 2


def test_every_recorded_contradiction_points_at_register_entries():
    from pimh_analysis import audit
    ids = set(audit.load_register()["id"])
    for c in ar.load_contradictions():
        assert set(c["register"]) <= ids, c["id"]
        assert c["evidence"] and c["resolution"]
