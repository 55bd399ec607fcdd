"""Firth logistic regression, the plain GLM, exact tests and separation messages (pimh_analysis.models.firth)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from pimh_analysis.models import firth
from pimh_analysis.models.design import ModelDataError, build_design
from pimh_analysis.models.spec import parse_formula


def _binary_frame(n: int, log_or: dict[str, float], seed: int, intercept: float = -0.3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({
        "a": pd.array(rng.random(n) < 0.5, dtype="boolean"),
        "b": pd.array(rng.random(n) < 0.35, dtype="boolean"),
        "g": pd.Categorical(rng.choice(["low", "mid", "high"], n, p=[0.3, 0.4, 0.3]), categories=["low", "mid", "high"]),
    })
    eta = intercept + sum(v * df[k].astype(float).to_numpy() for k, v in log_or.items())
    df["y"] = (rng.random(n) < 1 / (1 + np.exp(-eta))).astype(int)
    return df


def _fit(df, rhs="a + b"):
    d = build_design(df, parse_formula(rhs), {"y": df["y"]})
    return d, firth.fit_binary_models(d, d.data["y"], outcome="y", outcome_label="Outcome Y")


def test_planted_odds_ratio_is_covered_n2000():
    truth = {"a": math.log(2.5), "b": math.log(0.6)}
    d, m = _fit(_binary_frame(2000, truth, seed=11))
    coefs = m.firth.coefs.set_index("column")
    for col, b in truth.items():
        r = coefs.loc[col]
        assert r["ci_low"] < math.exp(b) < r["ci_high"], (col, r.to_dict())
        assert r["ci_method"] == "profile penalised likelihood"
    # the design detects the big effect and the p-value comes from the penalised LRT
    assert coefs.loc["a", "p_value"] < 1e-10
    assert m.firth.converged and not m.separation.separated


def test_interval_excludes_a_wrong_value():
    """The coverage test can fail: a CI must not cover an odds ratio far from the truth."""
    d, m = _fit(_binary_frame(2000, {"a": math.log(2.5)}, seed=12))
    r = m.firth.coefs.set_index("column").loc["a"]
    assert not (r["ci_low"] < 1.0 < r["ci_high"])
    assert not (r["ci_low"] < 5.0 < r["ci_high"])


def test_firth_and_glm_agree_on_non_separated_data():
    d, m = _fit(_binary_frame(600, {"a": 0.7, "b": -0.4}, seed=3))
    assert not m.separation.separated
    assert m.glm.status == "ok"
    f = m.firth.coefs.set_index("column")
    g = m.glm.coefs.set_index("column")
    for col in ("a", "b"):
        assert abs(f.loc[col, "log_or"] - g.loc[col, "log_or"]) < 0.03
        # Firth shrinks towards zero
        assert abs(f.loc[col, "log_or"]) <= abs(g.loc[col, "log_or"]) + 1e-9
        assert f.loc[col, "p_value"] == pytest.approx(g.loc[col, "p_value"], abs=0.02)
    cmp = firth.comparison_table(m)
    assert cmp["abs_diff_log_or"].max() < 0.03


def test_separated_data_gives_a_clear_message_and_no_absurd_estimates():
    rng = np.random.default_rng(5)
    n = 30
    a = np.r_[np.ones(9), np.zeros(n - 9)].astype(bool)
    y = np.where(a, 1, (rng.random(n) < 0.4).astype(int))   # every a=1 respondent is an event
    df = pd.DataFrame({"a": pd.array(a, dtype="boolean"), "b": pd.array(rng.random(n) < 0.5, dtype="boolean"), "y": y})
    d, m = _fit(df)
    assert m.separation.separated
    assert m.separation.directions["a"] == 1
    msg = m.separation.message
    assert "SEPARATION" in msg and "'a'" in msg and "+Inf" in msg
    assert "all 9 respondents with 'a' answered Yes" in msg
    # the plain GLM is withheld, not reported with a huge number
    assert m.glm.status == "not estimable"
    assert m.glm.coefs.empty
    cmp = firth.comparison_table(m).set_index("column")
    assert np.isnan(cmp.loc["a", "glm_or"])
    assert cmp.loc["a", "separation"] == "infinite"
    # Firth stays finite and moderate, with a finite lower profile bound above 1
    r = m.firth.coefs.set_index("column").loc["a"]
    assert np.isfinite(r["odds_ratio"]) and 1 < r["odds_ratio"] < 1000
    assert r["ci_low"] > 1
    # the exact test still works and says the cell is empty
    e = m.exact.set_index("column").loc["a"]
    assert e["zero_cell"] and e["p_fisher"] < 0.05 and np.isinf(e["odds_ratio"])


def test_constant_predictor_is_a_data_error_not_a_crash():
    df = pd.DataFrame({"a": pd.array([True] * 10, dtype="boolean"), "b": pd.array([True, False] * 5, dtype="boolean"),
                       "y": [0, 1] * 5})
    with pytest.raises(ModelDataError, match="single value"):
        build_design(df, parse_formula("a + b"), {"y": df["y"]})


def test_multi_df_penalised_lrt_matches_firthmodels_1df_and_is_sensible():
    df = _binary_frame(120, {"a": 0.8}, seed=8)
    d, m = _fit(df, "a + b + g")
    f = m.firth
    Xc = firth._with_const(d.X).to_numpy()
    y = d.data["y"].to_numpy(float)
    start = np.concatenate([[f.intercept], f.coefs["log_or"].to_numpy()])
    ll, _ = firth.penalised_loglik(start, Xc, y)
    assert ll == pytest.approx(f.loglik, abs=1e-8)
    # my constrained fit reproduces firthmodels' 1-df penalised LRT
    for j, col in enumerate(d.columns, start=1):
        ll0, ok = firth.constrained_penalised_loglik(Xc, y, [j], start)
        assert ok
        p = stats.chi2.sf(2 * (ll - ll0), 1)
        assert p == pytest.approx(f.coefs.set_index("column").loc[col, "p_value"], rel=1e-5, abs=1e-8)
    terms = f.term_tests.set_index("term")
    g = [t for t in terms.index if t.startswith("g")][0]
    assert terms.loc[g, "df"] == 2 and terms.loc[g, "chi2"] >= 0 and 0 <= terms.loc[g, "p_value"] <= 1


def test_exact_tests_match_scipy():
    df = _binary_frame(60, {"a": 1.0}, seed=2)
    d, m = _fit(df)
    e = m.exact.set_index("column").loc["a"]
    table = [[e["n_exposed_event"], e["n_exposed_no_event"]], [e["n_unexposed_event"], e["n_unexposed_no_event"]]]
    assert sum(map(sum, table)) == d.n
    assert e["p_fisher"] == pytest.approx(stats.fisher_exact(table).pvalue)
    assert e["p_boschloo"] == pytest.approx(stats.boschloo_exact(table).pvalue)
    assert set(m.exact["column"]) == {"a", "b"}   # every binary predictor, and only those


def test_epp_and_model_info():
    df = _binary_frame(40, {"a": 0.5}, seed=4)
    d, m = _fit(df)
    ev = int(d.data["y"].sum())
    assert m.firth.epp == pytest.approx(min(ev, d.n - ev) / 2)
    rows = firth.model_info_rows(m, min_epp=10)
    assert {r["model"] for r in rows} == {"Firth logistic", "plain ML logistic (GLM)"}
    assert all(r["epp_below_minimum"] for r in rows)


def test_boschloo_is_skipped_with_a_note_for_large_n():
    df = _binary_frame(firth.BOSCHLOO_MAX_N + 50, {"a": 0.5}, seed=9)
    d = build_design(df, parse_formula("a"), {"y": df["y"]})
    e = firth.exact_tests(d, d.data["y"], outcome="y").iloc[0]
    assert np.isnan(e["p_boschloo"]) and "not computed" in e["note"]
    assert 0 < e["p_fisher"] <= 1
