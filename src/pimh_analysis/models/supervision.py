"""The supervision / consultation analysis (Q18-Q21e) end to end: what notebook 06 calls.

Two binary outcomes (access to regular PIMH supervision, Q18; access to
consultation, the second Q19), each modelled by Firth logistic regression with
the plain GLM and exact tests alongside (:mod:`.firth`), plus descriptive
tables of who supervises and consults, how often and how satisfied respondents
are, with Wilson intervals.  Descriptive only for the follow-up questions: with
about 16 supervised respondents no model of them is defensible.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import pandas as pd

from . import firth, likert, power
from .design import ModelDataError, build_design
from .spec import (CollapseRule, FormulaSpec, SpecError, apply_recode, check_formula_against, check_level,
                   check_positive, parse_collapse, parse_formula, parse_list, parse_recode, parse_references)

BLOCK = "supervision"
OUTCOME_LABELS = {
    "q18_supervision": "Access to regular PIMH supervision (Q18)",
    "q19x_consult_access": "Access to PIMH consultation (Q19, second)",
}
YES_NO = ("Yes", "No")
MODEL_COLUMNS = ["outcome", "model", "n", "n_events", "n_non_events", "parameters", "epp", "epp_below_minimum", "status",
                 "converged", "separation", "message", "warnings"]
POWER_COLUMNS = ["outcome", "predictor", "label", "method", "n", "n_exposed", "n_unexposed", "baseline_proportion",
                 "alpha", "power", "detectable_or_above_1", "detectable_or_below_1", "assumptions"]
COMPARISON_COLUMNS = ["outcome", "column", "label", "n", "n_events", "separation", "firth_or", "firth_ci_low",
                      "firth_ci_high", "firth_p", "glm_or", "glm_ci_low", "glm_ci_high", "glm_p", "glm_status",
                      "exact_or", "exact_ci_low", "exact_ci_high", "p_fisher", "p_boschloo", "abs_diff_log_or"]


@dataclass
class SupervisionSpec:
    formula: FormulaSpec
    outcomes: list[str]
    collapse: CollapseRule
    recode: dict
    ci_level: float
    min_epp: float


def parse_supervision_params(df: pd.DataFrame, *, formula: str, outcomes: str, collapse: str = "access=Yes",
                             recode: str | None = "", references: str | None = "", ci_level: float = 0.95,
                             min_events_per_parameter: float = 10) -> SupervisionSpec:
    rec = parse_recode(recode or "", df, f"{BLOCK}.recode")
    recoded = apply_recode(df, rec)
    spec = parse_formula(formula, f"{BLOCK}.formula")
    check_formula_against(spec, recoded)
    spec = parse_references(references, spec, recoded, f"{BLOCK}.references")
    outs = parse_list(outcomes, f"{BLOCK}.outcomes", [c for c in df.columns], list(OUTCOME_LABELS))
    rule = parse_collapse(collapse, YES_NO, f"{BLOCK}.collapse")
    if not rule.binary:
        raise SpecError(f"{BLOCK}.collapse", collapse, "a binary outcome needs one event group", "e.g. 'access=Yes'")
    for var in spec.variables:
        if var in outs:
            raise SpecError(f"{BLOCK}.formula", formula, f"{var} is an outcome, not a predictor")
    return SupervisionSpec(spec, outs, rule, rec,
                           check_level(ci_level, f"{BLOCK}.ci_level"),
                           check_positive(min_events_per_parameter, f"{BLOCK}.min_events_per_parameter"))


@dataclass
class SupervisionResults:
    n_kept: int
    fits: dict = field(default_factory=dict)           # outcome -> firth.BinaryModels
    firth_coefs: pd.DataFrame = field(default_factory=pd.DataFrame)
    glm_coefs: pd.DataFrame = field(default_factory=pd.DataFrame)
    comparison: pd.DataFrame = field(default_factory=pd.DataFrame)
    term_tests: pd.DataFrame = field(default_factory=pd.DataFrame)
    exact: pd.DataFrame = field(default_factory=pd.DataFrame)
    separation: pd.DataFrame = field(default_factory=pd.DataFrame)
    models: pd.DataFrame = field(default_factory=pd.DataFrame)
    power: pd.DataFrame = field(default_factory=pd.DataFrame)


def outcome_label(outcome: str) -> str:
    return OUTCOME_LABELS.get(outcome, outcome)


def run_supervision(df: pd.DataFrame, spec: SupervisionSpec) -> SupervisionResults:
    data = apply_recode(df, spec.recode)
    res = SupervisionResults(n_kept=len(df))
    firths, glms, comps, terms, exacts, seps, infos, pws = [], [], [], [], [], [], [], []
    for outcome in spec.outcomes:
        label = outcome_label(outcome)
        y = spec.collapse.apply(data[outcome], None)
        try:
            design = build_design(data, spec.formula, {"y": y})
            others = [v for v in YES_NO if v not in spec.collapse.event_levels]
            models = firth.fit_binary_models(design, design.data["y"], outcome=outcome, outcome_label=label,
                                             event=" or ".join(spec.collapse.event_levels),
                                             non_event=" or ".join(others) or None, ci_level=spec.ci_level)
        except ModelDataError as exc:
            infos.append({"outcome": outcome, "model": "Firth logistic", "status": "not fitted", "message": str(exc)})
            seps.append({"outcome": outcome, "separated": None, "infinite_columns": "", "message": str(exc)})
            continue
        res.fits[outcome] = models
        firths.append(models.firth.coefs)
        glms.append(models.glm.coefs)
        comps.append(firth.comparison_table(models))
        terms.append(pd.concat([models.firth.term_tests, models.glm.term_tests], ignore_index=True))
        exacts.append(models.exact)
        seps.append({"outcome": outcome, "separated": models.separation.separated,
                     "infinite_columns": "; ".join(design.label(c) for c in models.separation.infinite_columns
                                                   if c != firth.INTERCEPT),
                     "message": models.separation.message})
        infos.extend(firth.model_info_rows(models, spec.min_epp))
        p0 = float(models.y.mean())
        for var in design.binary_vars:
            x = design.X[design.term_columns[var][0]]
            n1 = int((x == 1).sum())
            r = power.detectable_or_fisher(n1, len(x) - n1, p0, 0.05, 0.8)
            pws.append({"outcome": outcome, "predictor": var, "label": design.label(design.term_columns[var][0]),
                        **r.as_row()})
    cat = lambda rows: pd.concat([r for r in rows if len(r)], ignore_index=True) if any(len(r) for r in rows) else pd.DataFrame()
    res.firth_coefs, res.glm_coefs = cat(firths), cat(glms)
    res.comparison = cat(comps).reindex(columns=COMPARISON_COLUMNS)
    res.term_tests, res.exact = cat(terms), cat(exacts)
    res.separation = pd.DataFrame(seps).reindex(columns=["outcome", "separated", "infinite_columns", "message"])
    res.models = pd.DataFrame(infos).reindex(columns=MODEL_COLUMNS)
    res.power = pd.DataFrame(pws).reindex(columns=POWER_COLUMNS)
    return res


def forest_rows(res: SupervisionResults) -> pd.DataFrame:
    """Firth, plain GLM and exact odds ratios per outcome and predictor, for the forest plot."""
    rows = []
    for r in res.comparison.itertuples() if len(res.comparison) else []:
        group = outcome_label(r.outcome)
        rows.append({"group": group, "label": r.label, "method": "Firth (profile-likelihood CI)",
                     "odds_ratio": r.firth_or, "ci_low": r.firth_ci_low, "ci_high": r.firth_ci_high, "status": "ok"})
        rows.append({"group": group, "label": r.label, "method": "Plain GLM (Wald CI)", "odds_ratio": r.glm_or,
                     "ci_low": r.glm_ci_low, "ci_high": r.glm_ci_high,
                     "status": "ok" if r.glm_status == "ok" else "not estimable (separation)"})
        if not pd.isna(r.exact_or) or not pd.isna(r.exact_ci_low):
            rows.append({"group": group, "label": r.label, "method": "Exact, unadjusted (conditional MLE)",
                         "odds_ratio": r.exact_or, "ci_low": r.exact_ci_low, "ci_high": r.exact_ci_high,
                         "status": "ok" if (0 < r.exact_or < math.inf) else "zero cell: odds ratio 0 or infinite"})
    return pd.DataFrame(rows)


# --- descriptive tables ------------------------------------------------------------------

def descriptive_tables(df: pd.DataFrame, ci_level: float = 0.95) -> dict[str, pd.DataFrame]:
    """Who supervises and consults, how often, how satisfied (Q19a-e, Q20a-b, Q21e)."""
    out: dict[str, pd.DataFrame] = {}
    sup_yes = df["q18_supervision"].astype("object") == "Yes" if "q18_supervision" in df else None
    con_yes = df["q19x_consult_access"].astype("object") == "Yes" if "q19x_consult_access" in df else None
    types = {f"q19a_suptype_{k}": likert.SUPERVISION_TYPE_LABELS[k] for k in likert.SUPERVISION_TYPES
             if f"q19a_suptype_{k}" in df}
    if types:
        out["m_supervision_types"] = likert.tick_rates(df, types, ci_level, sup_yes)
    provs = {f"q19b_supby_{k}": likert.PROVIDER_LABELS[k] for k in likert.SUPERVISION_PROVIDERS
             if f"q19b_supby_{k}" in df}
    if provs:
        out["m_supervision_providers"] = likert.tick_rates(df, provs, ci_level, sup_yes)
    cprovs = {f"q20a_consultby_{k}": likert.PROVIDER_LABELS[k] for k in likert.CONSULT_PROVIDERS
              if f"q20a_consultby_{k}" in df}
    if cprovs:
        out["m_consult_providers"] = likert.tick_rates(df, cprovs, ci_level, con_yes)
    if "q19c_sup_funding" in df:
        out["m_supervision_funding"] = likert.level_rates(df["q19c_sup_funding"], ("Self-funded", "Funded by the employer"),
                                                          ci_level, label="Supervision funding (Q19c)")
    freq = []
    for var, q in (("q19d_sup_frequency", "Supervision frequency (Q19d)"),
                   ("q20b_consult_frequency", "Consultation frequency (Q20b)")):
        if var in df:
            freq.append(likert.level_rates(df[var], likert.FREQUENCY_SCALE, ci_level, cumulative=True, label=q))
    if freq:
        out["m_supervision_frequency"] = pd.concat(freq, ignore_index=True)
    sat = []
    for var, q in (("q19e_sup_satisfaction", "Satisfaction with supervision (Q19e)"),
                   ("q21e_consult_satisfaction", "Satisfaction with consultation (Q21e)")):
        if var in df:
            sat.append(likert.level_rates(df[var], likert.SATISFACTION_SCALE, ci_level, cumulative=True, label=q))
    if sat:
        out["m_supervision_satisfaction"] = pd.concat(sat, ignore_index=True)
    return out


def satisfaction_distribution(df: pd.DataFrame) -> pd.DataFrame:
    """Satisfaction answers (negative to positive) for the diverging chart."""
    labels = {"q19e_sup_satisfaction": "Supervision (Q19e)", "q21e_consult_satisfaction": "Consultation (Q21e)"}
    items = [v for v in labels if v in df]
    return likert.likert_distribution(df, items, likert.SATISFACTION_NEG_TO_POS, labels)
