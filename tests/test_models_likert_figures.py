"""Agreement rates, descriptive tables, and the data behind the model figures."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pimh_analysis.models import barriers, figures, likert, supervision
from pimh_analysis.models.synthetic import synthetic_respondents
from pimh_analysis.stats import wilson_ci


def _dist():
    df = pd.DataFrame({"i1": ["Strongly disagree", "Disagree", "Neither agree or disagree", "Agree", "Agree",
                              "Strongly agree", None, "Prefer not to say"],
                       "i2": ["Agree"] * 6 + ["Disagree", "Neither agree or disagree"]})
    return df, likert.likert_distribution(df, ["i1", "i2"], likert.AGREE_SCALE, {"i1": "Item one", "i2": "Item two"})


def test_agreement_rates_with_wilson():
    df, _ = _dist()
    t = likert.agreement_rates(df, ["i1", "i2"], ["Agree", "Strongly agree"], labels={"i1": "one", "i2": "two"})
    r = t.set_index("item").loc["i1"]
    assert (r["n_agree"], r["denominator"], r["n_missing"]) == (3, 6, 2)
    lo, hi = wilson_ci(3, 6)
    assert r["ci_low_pct"] == pytest.approx(100 * lo) and r["ci_high_pct"] == pytest.approx(100 * hi)


def test_unknown_label_is_an_error():
    with pytest.raises(ValueError, match="q43_x: answer 'Agreed'"):
        likert.to_codes(pd.Series(["Agreed"], name="q43_x"), likert.AGREE_SCALE)


def test_diverging_plot_data_geometry():
    _, dist = _dist()
    data = figures.likert_plot_data(dist, list(likert.AGREE_SCALE), "Neither agree or disagree")
    for item, g in data.groupby("item"):
        g = g.set_index("level")
        assert g["width"].sum() == pytest.approx(100)
        neutral = g.loc["Neither agree or disagree"]
        # the neutral segment is centred on zero; disagreement ends where it starts
        assert neutral["left"] == pytest.approx(-neutral["width"] / 2)
        assert g.loc["Disagree", "left"] + g.loc["Disagree", "width"] == pytest.approx(neutral["left"])
        assert g.loc["Agree", "left"] == pytest.approx(neutral["width"] / 2)
    i1 = data[data["item"] == "i1"].set_index("level")
    assert i1.loc["Agree", "n"] == 2 and i1.loc["Agree", "denominator"] == 6
    assert i1["pct_positive"].iloc[0] == pytest.approx(50.0)


def test_diverging_figure_returns_what_it_draws():
    _, dist = _dist()
    fig, data = figures.diverging_likert(dist, list(likert.AGREE_SCALE), neutral="Neither agree or disagree",
                                         title="t", caption="n = 8")
    ax = fig.axes[0]
    bars = [p for p in ax.patches]
    assert len(bars) == len(data) == 10
    widths = sorted(round(b.get_width(), 6) for b in bars)
    assert widths == sorted(round(w, 6) for w in data["width"])
    assert "n = 8" in " ".join(t.get_text() for t in fig.texts)
    import matplotlib.pyplot as plt
    plt.close(fig)


def test_forest_data_clips_and_flags():
    rows = pd.DataFrame({"group": ["g"] * 4, "label": ["a", "a", "b", "c"], "method": ["Firth", "GLM", "Firth", "Firth"],
                         "odds_ratio": [2.0, np.nan, 0.5, 300.0], "ci_low": [0.5, np.nan, 0.001, 5.0],
                         "ci_high": [8.0, np.nan, 2.0, np.inf],
                         "status": ["ok", "not estimable (separation)", "ok", "ok"]})
    d = figures.forest_data(rows, clip=(0.01, 100))
    assert d["plotted"].tolist() == [True, False, True, True]
    assert d.loc[2, "plot_low"] == 0.01 and d.loc[2, "arrow_low"]
    assert d.loc[3, "plot_or"] == 100 and d.loc[3, "arrow_high"]
    assert not d.loc[0, "arrow_low"] and not d.loc[0, "arrow_high"]
    fig, data = figures.forest_plot(rows, title="t", caption="n = 30")
    assert len(data) == 4 and "not estimable (separation)" in " ".join(t.get_text() for t in fig.axes[0].texts)
    import matplotlib.pyplot as plt
    plt.close(fig)


def test_descriptive_tables_use_the_right_bases():
    df = synthetic_respondents(40, seed=3)
    t = supervision.descriptive_tables(df)
    sup = int((df["q18_supervision"].astype(object) == "Yes").sum())
    types = t["m_supervision_types"]
    assert (types["denominator"] == sup).all()
    assert (types["n"] <= types["denominator"]).all()
    freq = t["m_supervision_frequency"]
    last = freq.groupby("variable").tail(1)
    assert (last["pct_cumulative"] == 100).all()


def test_barrier_forest_rows_orient_reverse_items(tmp_path):
    df = synthetic_respondents(120, seed=5, barrier_log_or={"commissioned": 1.0}, missing_code_rate=0.0)
    spec = barriers.parse_barrier_params(df, formula="commissioned", collapse="agree=Agree+Strongly agree",
                                         items="q43_no_obstacles, q43_no_funding", gee_reference_item="q43_no_funding",
                                         reverse_items="q43_no_obstacles", profile_ci=False)
    res = barriers.run_barriers(df, spec)
    rows = barriers.forest_rows(res, spec.reverse)
    po = res.po_coefs.set_index("item")
    rev = rows[(rows["item"] == "q43_no_obstacles")].iloc[0]
    assert rev["reversed"] and rev["odds_ratio"] == pytest.approx(1 / po.loc["q43_no_obstacles", "odds_ratio"])
    assert rows.iloc[0]["method"] == "Across items (ordinal GEE)"
    assert set(res.models["status"]) == {"ok"}


def test_nothing_estimable_still_gives_complete_tables():
    df = synthetic_respondents(30, seed=6)
    df["everyone"] = pd.array([True] * len(df), dtype="boolean")      # a constant predictor
    b = barriers.parse_barrier_params(df, formula="everyone", collapse="agree=Agree+Strongly agree",
                                      items="q43_no_funding, q43_retention", gee_reference_item="q43_no_funding",
                                      profile_ci=False)
    res = barriers.run_barriers(df, b)
    assert set(res.models["status"]) == {"not fitted"}
    assert "single value" in res.models["message"].iloc[0]
    assert list(res.models.columns) == barriers.MODEL_COLUMNS and list(res.power.columns) == barriers.POWER_COLUMNS
    assert res.gee is None and res.po_coefs.empty
    s = supervision.parse_supervision_params(df, formula="everyone", outcomes="q18_supervision")
    sres = supervision.run_supervision(df, s)
    assert list(sres.models.columns) == supervision.MODEL_COLUMNS and sres.models["status"].eq("not fitted").all()
    assert sres.comparison.empty and list(sres.comparison.columns) == supervision.COMPARISON_COLUMNS
    assert supervision.forest_rows(sres).empty


def test_honesty_statements():
    from pimh_analysis.models import honesty

    assert "BELOW the minimum of 10" in honesty.epp_sentence("EPP", 3.2, 10)
    assert "at or above" in honesty.epp_sentence("EPP", 12, 10)
    assert "no model could be fitted" in honesty.epp_sentence("EPP", float("nan"), 10)
    assert "about 12.3 or more" in honesty.cannot_show_lines(12.3, 34)[0]
    assert "no odds ratio up to 1000" in honesty.cannot_show_lines(float("inf"), 34)[0]
    assert "artefacts of the replica generator" in honesty.MODEL_REPLICA_NOTICE


def test_replica_status_reads_wave_yaml(scratch_root):
    from pimh_analysis.models import honesty

    assert honesty.replica_status("w", True) == (True, "notebook parameter replica=True (data/raw/w/wave.yaml not found)")
    (scratch_root / "data/raw/w").mkdir(parents=True)
    (scratch_root / "data/raw/w/wave.yaml").write_text("replica: false\n")
    flag, source = honesty.replica_status("w", True)
    assert flag is False and source.startswith("data/raw/w/wave.yaml")
