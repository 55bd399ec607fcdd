"""Model specifications from params.yaml: clear errors naming the parameter and the bad value."""

from __future__ import annotations

import pandas as pd
import pytest

from pimh_analysis.models import barriers, supervision
from pimh_analysis.models.design import build_design
from pimh_analysis.models.spec import (MISSING_CODES, SpecError, apply_recode, check_formula_against, column_label,
                                       parse_collapse, parse_formula, parse_list, parse_recode, parse_references)
from pimh_analysis.models.likert import AGREE_SCALE
from pimh_analysis.models.synthetic import synthetic_respondents


@pytest.fixture(scope="module")
def df():
    return synthetic_respondents(60, seed=1)


def test_formula_variables_and_references():
    spec = parse_formula("commissioned + C(q04a_pay_band, Treatment('Band 7')) + band_7plus:direct_work", "barriers.formula")
    assert spec.variables == ("commissioned", "q04a_pay_band", "band_7plus", "direct_work")
    assert spec.references == {"q04a_pay_band": "Band 7"}


@pytest.mark.parametrize("rhs, fragment", [
    ("", "empty"),
    ("q18_supervision ~ commissioned", "only the right-hand side"),
    ("commissioned +", "patsy cannot parse"),
    ("1", "names no predictor"),
])
def test_bad_formulas_name_the_param(rhs, fragment):
    with pytest.raises(SpecError) as exc:
        parse_formula(rhs, "supervision.formula")
    assert "params.yaml supervision.formula" in str(exc.value) and fragment in str(exc.value)
    assert exc.value.param == "supervision.formula" and exc.value.value == rhs


def test_unknown_variable_and_bad_reference_level(df):
    with pytest.raises(SpecError, match=r"unknown variable 'comissioned'.*did you mean 'commissioned'"):
        check_formula_against(parse_formula("comissioned + band_7plus", "barriers.formula"), df)
    with pytest.raises(SpecError, match=r"reference level 'Band 77' is not a level of q04a_pay_band"):
        check_formula_against(parse_formula("C(q04a_pay_band, Treatment('Band 77'))"), df)


def test_references_param(df):
    spec = parse_formula("commissioned + q04a_pay_band", "barriers.formula")
    spec = parse_references("q04a_pay_band=Band 7", spec, df, "barriers.references")
    assert spec.reorder == {"q04a_pay_band": "Band 7"}
    d = build_design(df, spec)
    assert list(d.data["q04a_pay_band"].cat.categories)[0] == "Band 7"
    assert all("Band 7" not in c for c in d.columns if "q04a" in c)
    assert d.label("q04a_pay_band[T.Band 6]") == "Pay band: Band 6 (vs Band 7)"
    with pytest.raises(SpecError, match="not a predictor in the formula"):
        parse_references("q02_years_in_role=1 to 5 years", spec, df, "barriers.references")
    with pytest.raises(SpecError, match="not categorical"):
        parse_references("commissioned=True", spec, df, "barriers.references")
    with pytest.raises(SpecError, match=r"'Band 99' is not a level"):
        parse_references("q04a_pay_band=Band 99", parse_formula("q04a_pay_band"), df, "barriers.references")


def test_collapse_rules():
    rule = parse_collapse("agree=Agree+Strongly agree", AGREE_SCALE, "barriers.collapse")
    assert rule.binary and rule.event_levels == ("Agree", "Strongly agree")
    assert parse_collapse("agree: Agree + Strongly agree", AGREE_SCALE).event_levels == rule.event_levels
    s = pd.Series(["Agree", "Disagree", None, "Strongly agree", "Prefer not to say"])
    assert rule.apply(s).tolist() == [1, 0, pd.NA, 1, pd.NA]
    three = parse_collapse("dis=Strongly disagree+Disagree; neutral=Neither agree or disagree; agree=Agree+Strongly agree",
                           AGREE_SCALE)
    assert three.apply(pd.Series(["Disagree", "Agree"])).tolist() == ["dis", "agree"]


@pytest.mark.parametrize("rule, fragment", [
    ("agree=Agree+Strongly agre", "unknown answer label 'Strongly agre'"),
    ("agree", "has no '='"),
    ("agree=Agree; also=Agree", "in two groups"),
    ("dis=Disagree; agree=Agree", "are in no group"),
    ("", "empty"),
])
def test_bad_collapse_rules(rule, fragment):
    with pytest.raises(SpecError) as exc:
        parse_collapse(rule, AGREE_SCALE, "barriers.collapse")
    assert "barriers.collapse" in str(exc.value) and fragment in str(exc.value)


def test_recode_predictors(df):
    rules = parse_recode("q04a_pay_band: Band 6 or below=Band 4+Band 5+Band 6; Band 7 or above=Band 7+Band 8+Band 9",
                         df, "supervision.recode")
    out = apply_recode(df, rules)
    assert set(out["q04a_pay_band"].dropna()) <= {"Band 6 or below", "Band 7 or above"}
    assert out["q04a_pay_band"].isna().sum() == df["q04a_pay_band"].isin(MISSING_CODES).sum()
    with pytest.raises(SpecError, match="unknown variable 'pay_band'"):
        parse_recode("pay_band: a=Band 4", df, "supervision.recode")
    with pytest.raises(SpecError, match="single group"):
        parse_recode("q04a_pay_band: high=Band 7", df, "supervision.recode")


def test_lists():
    assert parse_list("all", "x", ["a", "b"]) == ["a", "b"]
    assert parse_list(" b , a", "x", ["a", "b"]) == ["b", "a"]
    with pytest.raises(SpecError, match="unknown name 'c'"):
        parse_list("a, c", "barriers.items", ["a", "b"])


def test_block_parsers_name_their_keys(df):
    ok = dict(formula="commissioned + band_7plus", collapse="agree=Agree+Strongly agree",
              gee_reference_item="q43_no_funding")
    spec = barriers.parse_barrier_params(df, **ok)
    assert spec.items[0] == "q43_no_obstacles" and spec.ci_level == 0.95
    with pytest.raises(SpecError, match="barriers.gee_reference_item"):
        barriers.parse_barrier_params(df, **{**ok, "gee_reference_item": "q43_nope"})
    with pytest.raises(SpecError, match="barriers.ci_level"):
        barriers.parse_barrier_params(df, **ok, ci_level=95)
    with pytest.raises(SpecError, match="barriers.formula.*outcome item"):
        barriers.parse_barrier_params(df, **{**ok, "formula": "commissioned + q43_retention"})
    with pytest.raises(SpecError, match="supervision.outcomes.*unknown name"):
        supervision.parse_supervision_params(df, formula="commissioned", outcomes="q18_supervisoin")
    with pytest.raises(SpecError, match="supervision.min_events_per_parameter"):
        supervision.parse_supervision_params(df, formula="commissioned", outcomes="q18_supervision",
                                             min_events_per_parameter=-1)


def test_missing_codes_match_the_codebook(codebook):
    assert set(MISSING_CODES) == set(codebook.missing_codes)


def test_column_labels():
    assert column_label("commissioned") == "Formally commissioned post"
    assert column_label("C(q02_years_in_role, Treatment('1 to 5 years'))[T.Over 10 years]") == \
        "Years in role: Over 10 years (vs 1 to 5 years)"
    assert column_label("band_7plus:direct_work") == "Band 7 or above × Works directly with families"
