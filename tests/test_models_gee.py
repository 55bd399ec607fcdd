"""Ordinal GEE across items with respondent clusters (pimh_analysis.models.gee)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from pimh_analysis.models import gee, likert
from pimh_analysis.models.design import ModelDataError, build_design
from pimh_analysis.models.spec import parse_formula
from pimh_analysis.models.synthetic import synthetic_respondents

ITEMS = ["q43_no_funding", "q43_commissioners_pimh", "q43_recruitment"]


def test_planted_effect_is_covered():
    # conditional log OR 0.8 with a respondent random effect (SD 0.5): the GEE estimates the
    # population-averaged effect, attenuated by about 1/sqrt(1 + 0.346 * sd^2) (Zeger et al. 1988)
    b, sd = 0.8, 0.5
    df = synthetic_respondents(700, seed=21, barrier_log_or={"commissioned": b}, respondent_effect_sd=sd,
                               missing_code_rate=0.0)
    d = build_design(df, parse_formula("commissioned + direct_work"))
    fit = gee.fit_ordinal_gee(df, d, ITEMS, likert.AGREE_SCALE, reference_item="q43_no_funding")
    assert fit.status == "ok" and fit.converged
    c = fit.coefs.set_index("column")
    marginal = math.exp(b / math.sqrt(1 + 0.346 * sd ** 2))
    assert c.loc["commissioned", "ci_low"] < marginal < c.loc["commissioned", "ci_high"]
    assert c.loc["direct_work", "ci_low"] < 1.0 < c.loc["direct_work", "ci_high"]
    assert fit.global_odds_ratio > 1            # answers of one respondent are positively associated
    assert fit.cov_type == "bias_reduced"
    assert fit.df_t == fit.n_clusters - fit.n_params
    assert (c["reference"] == f"t, {fit.df_t} df").all()


def test_item_dummies_use_a_reference_and_reverse_coding_flips_the_sign():
    df = synthetic_respondents(200, seed=22, barrier_log_or={"commissioned": 1.0}, missing_code_rate=0.0)
    d = build_design(df, parse_formula("commissioned"))
    fit = gee.fit_ordinal_gee(df, d, ITEMS, likert.AGREE_SCALE, reference_item="q43_recruitment")
    items = fit.coefs[fit.coefs["kind"] == "item"]
    assert sorted(items["column"]) == ["item[q43_commissioners_pimh]", "item[q43_no_funding]"]
    assert all("(vs It is difficult to recruit" in l for l in items["label"])
    rev = gee.fit_ordinal_gee(df, d, ITEMS, likert.AGREE_SCALE, reference_item="q43_recruitment", reverse=ITEMS)
    b = fit.coefs.set_index("column").loc["commissioned", "log_or"]
    br = rev.coefs.set_index("column").loc["commissioned", "log_or"]
    assert b > 0 and br == pytest.approx(-b, rel=0.05)
    assert rev.reversed_items == ITEMS


def test_reference_item_must_be_modelled():
    df = synthetic_respondents(40, seed=23)
    d = build_design(df, parse_formula("commissioned"))
    with pytest.raises(ModelDataError, match="reference item"):
        gee.fit_ordinal_gee(df, d, ITEMS, likert.AGREE_SCALE, reference_item="q43_retention")


def test_sparse_cut_point_tables_do_not_crash_the_fit():
    df = synthetic_respondents(34, seed=24, missing_code_rate=0.0)
    # nobody below "Agree" on two items: empty cells in the cut-point tables of the global odds ratio
    for item in ITEMS[:2]:
        df[item] = df[item].where(df[item].isin(["Agree", "Strongly agree"]), "Agree")
    df.loc[0, ITEMS[0]] = "Strongly disagree"
    d = build_design(df, parse_formula("commissioned"))
    fit = gee.fit_ordinal_gee(df, d, ITEMS, likert.AGREE_SCALE, reference_item=ITEMS[2])
    assert fit.status == "ok"
    assert np.isfinite(fit.coefs["log_or"]).all()
    assert fit.sparse_tables_corrected > 0 and "0.5 added" in fit.message
