"""Proportional-odds models per item, ordinal separation, the Brant check, collapsed sensitivity."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from pimh_analysis.models import likert, ordinal
from pimh_analysis.models.design import build_design
from pimh_analysis.models.spec import parse_formula
from pimh_analysis.models.synthetic import _ordinal_draw

SCALE = likert.AGREE_SCALE
CUTS = np.array([-1.6, -0.5, 0.3, 1.4])


def _frame(n, seed, slopes_by_cut=None, log_or=0.9):
    rng = np.random.default_rng(seed)
    a = rng.random(n) < 0.5
    z = rng.normal(size=n)
    if slopes_by_cut is None:
        y = _ordinal_draw(rng, log_or * a + 0.4 * z, CUTS)
    else:  # non-proportional odds: the effect of a differs by cut
        u = rng.random(n)
        cum = 1 / (1 + np.exp(-(CUTS[None, :] - (np.asarray(slopes_by_cut)[None, :] * a[:, None] + 0.4 * z[:, None]))))
        y = (u[:, None] > cum).sum(axis=1)
    labels = np.array(SCALE, dtype=object)[y]
    return pd.DataFrame({"a": pd.array(a, dtype="boolean"), "z": z,
                         "item": pd.Categorical(labels, categories=list(SCALE), ordered=True)})


def _design(df, rhs="a + z"):
    codes = likert.to_codes(df["item"], SCALE)
    d = build_design(df, parse_formula(rhs), {"y": codes})
    return d, d.data["y"].astype(int)


def test_planted_po_odds_ratio_is_covered_n2000():
    truth = 0.9
    d, y = _design(_frame(2000, seed=1, log_or=truth))
    fit = ordinal.fit_po(d, y, item="item", scale=SCALE, profile=False)
    r = fit.coefs.set_index("column").loc["a"]
    assert fit.status == "ok" and fit.converged
    assert r["ci_low"] < math.exp(truth) < r["ci_high"]
    assert not (r["ci_low"] < 1.0 < r["ci_high"])
    assert len(fit.thresholds) == 4 and np.all(np.diff(fit.thresholds) > 0)


def test_profile_ci_matches_wald_at_large_n_and_own_loglik_matches_statsmodels():
    d, y = _design(_frame(800, seed=2))
    prof = ordinal.fit_po(d, y, item="item", scale=SCALE, profile=True).coefs.set_index("column")
    wald = ordinal.fit_po(d, y, item="item", scale=SCALE, profile=False).coefs.set_index("column")
    for col in ("a", "z"):
        assert prof.loc[col, "ci_low"] == pytest.approx(wald.loc[col, "ci_low"], rel=0.03)
        assert prof.loc[col, "ci_high"] == pytest.approx(wald.loc[col, "ci_high"], rel=0.03)
    res = ordinal._om_fit(y.to_numpy(), d.X)
    nll, _ = ordinal._po_negll(np.asarray(res.params), d.X.to_numpy(float), y.to_numpy(), np.zeros(d.n), 5)
    assert -nll == pytest.approx(res.llf, abs=1e-8)


def test_profile_ci_is_asymmetric_at_small_n():
    d, y = _design(_frame(34, seed=3, log_or=1.5))
    fit = ordinal.fit_po(d, y, item="item", scale=SCALE, profile=True)
    r = fit.coefs.set_index("column").loc["a"]
    lo, hi, b = math.log(r["ci_low"]), math.log(r["ci_high"]), r["log_or"]
    assert lo < b < hi
    assert abs((hi - b) - (b - lo)) > 1e-3        # not a Wald interval
    assert 0 <= r["p_value"] <= 1 and r["ci_method"] == "profile likelihood"


def test_ordinal_separation_is_reported_not_estimated():
    rng = np.random.default_rng(4)
    n = 30
    a = np.r_[np.ones(10), np.zeros(20)].astype(bool)
    codes = np.where(a, rng.choice([3, 4], n), rng.choice([0, 1, 2, 3], n))  # every a=1 answer >= every a=0 answer? not yet
    codes = np.where(a, 4, np.minimum(codes, 3))                              # now a=1 -> always the top answer
    df = pd.DataFrame({"a": pd.array(a, dtype="boolean"), "z": rng.normal(size=n),
                       "item": pd.Categorical(np.array(SCALE, dtype=object)[codes], categories=list(SCALE), ordered=True)})
    d, y = _design(df)
    assert ordinal.ordinal_separation(d.X, y.to_numpy()) == {"a": 1}
    fit = ordinal.fit_po(d, y, item="item", scale=SCALE, profile=False)
    assert fit.status == "not estimable" and fit.coefs.empty
    assert "SEPARATION" in fit.message and "'a' (+Inf)" in fit.message


def test_no_ordinal_separation_on_overlapping_data():
    d, y = _design(_frame(60, seed=5))
    assert ordinal.ordinal_separation(d.X, y.to_numpy()) == {}


def test_brant_detects_non_proportional_odds_and_not_po():
    d, y = _design(_frame(1500, seed=6, slopes_by_cut=[-0.5, 0.3, 1.0, 1.8]))
    chk = ordinal.brant_test(d, y, item="item", scale=SCALE)
    assert chk.assessable and len(chk.splits_used) == 4
    t = chk.tests.set_index("column")
    assert t.loc["a", "p_value"] < 1e-6
    assert t.loc["a", "df"] == 3
    d2, y2 = _design(_frame(1500, seed=7))
    t2 = ordinal.brant_test(d2, y2, item="item", scale=SCALE).tests.set_index("column")
    assert t2.loc["a", "p_value"] > 0.01


def test_brant_not_assessable_when_splits_are_too_small():
    df = _frame(34, seed=8)
    df["item"] = pd.Categorical(np.where(np.arange(34) < 2, "Strongly disagree", "Agree"), categories=list(SCALE), ordered=True)
    d, y = _design(df)
    chk = ordinal.brant_test(d, y, item="item", scale=SCALE, min_split_n=5)
    assert not chk.assessable and "fewer than two" in chk.reason


def test_collapsed_sensitivity_agrees_in_direction():
    d, y = _design(_frame(400, seed=9, log_or=1.0))
    po = ordinal.fit_po(d, y, item="item", scale=SCALE, profile=False)
    yb = (y >= 3).astype(int)
    tab, info = ordinal.collapsed_sensitivity(d, yb, po, item="item", event_label="agree")
    r = tab.set_index("column").loc["a"]
    assert r["same_direction"] and r["firth_or"] > 1 and r["po_or"] > 1
    assert info["status"] == "ok" and not info["separation"]


def test_effective_n():
    assert ordinal.effective_n_ordinal([10, 10]) == pytest.approx(3 * 10 * 10 / 20)
    assert ordinal.effective_n_ordinal([1] * 100) == pytest.approx(100 - 100 / 100 ** 2)
