"""The barriers analysis (Q43) end to end: what notebook 05 calls.

:func:`parse_barrier_params` turns the scalar notebook parameters (from
params.yaml ``barriers:``) into a validated :class:`BarrierSpec`, raising
:class:`~pimh_analysis.models.spec.SpecError` that names the ``barriers.<key>``
at fault.  :func:`run_barriers` fits every model and returns plain tables.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from . import gee as gee_mod
from . import likert, ordinal, power
from .design import ModelDataError, build_design
from .spec import (CollapseRule, FormulaSpec, SpecError, apply_recode, check_formula_against, check_level,
                   check_positive, parse_collapse, parse_formula, parse_list, parse_recode, parse_references)

BLOCK = "barriers"
MODEL_COLUMNS = ["item", "label", "model", "n", "parameters", "thresholds", "effective_n", "epp", "epp_below_minimum",
                 "status", "converged", "separation", "message", "warnings"]
PO_COLUMNS = ["item", "column", "term", "label", "log_or", "se_wald", "odds_ratio", "ci_low", "ci_high", "ci_method",
              "p_value", "p_wald", "n"]
PO_TERM_COLUMNS = ["item", "term", "label", "df", "chi2", "p_value", "test"]
PO_CHECK_COLUMNS = ["item", "column", "label", "chi2", "df", "p_value", "assessable", "splits_used", "note"]
PO_SPLIT_COLUMNS = ["item", "split", "n_above", "n_below", "used_in_test", "column", "label", "log_or_ml", "log_or_firth"]
COLLAPSED_COLUMNS = ["item", "column", "label", "n", "n_events", "firth_or", "firth_ci_low", "firth_ci_high", "firth_p",
                     "separation", "po_or", "po_ci_low", "po_ci_high", "po_p", "same_direction"]
GEE_COLUMNS = ["column", "term", "label", "kind", "log_or", "se_bias_reduced", "odds_ratio", "ci_low", "ci_high",
               "p_value", "reference", "n_clusters", "n_obs"]
POWER_COLUMNS = ["predictor", "label", "method", "n", "n_exposed", "n_unexposed", "baseline_proportion", "alpha",
                 "power", "detectable_or_above_1", "detectable_or_below_1", "assumptions"]


@dataclass
class BarrierSpec:
    formula: FormulaSpec
    items: list[str]
    collapse: CollapseRule
    reference_item: str
    reverse: list[str]
    recode: dict
    ci_level: float
    min_epp: float
    min_split_n: int
    profile: bool = True


def parse_barrier_params(df: pd.DataFrame, *, formula: str, items: str = "all", collapse: str,
                         gee_reference_item: str, reverse_items: str = "", recode: str | None = "",
                         references: str | None = "",
                         ci_level: float = 0.95, min_events_per_parameter: float = 10,
                         po_check_min_split_n: int = 5, profile_ci: bool = True) -> BarrierSpec:
    rec = parse_recode(recode or "", df, f"{BLOCK}.recode")
    recoded = apply_recode(df, rec)
    spec = parse_formula(formula, f"{BLOCK}.formula")
    check_formula_against(spec, recoded)
    spec = parse_references(references, spec, recoded, f"{BLOCK}.references")
    item_list = parse_list(items, f"{BLOCK}.items", list(likert.BARRIER_ITEMS))
    missing = [i for i in item_list if i not in df.columns]
    if missing:
        raise SpecError(f"{BLOCK}.items", items, f"the data have no column {missing[0]!r}", "Q43 item columns")
    rule = parse_collapse(collapse, likert.AGREE_SCALE, f"{BLOCK}.collapse")
    if not rule.binary:
        raise SpecError(f"{BLOCK}.collapse", collapse, "the sensitivity analysis needs one event group",
                        "e.g. 'agree=Agree+Strongly agree'")
    if gee_reference_item not in item_list:
        raise SpecError(f"{BLOCK}.gee_reference_item", gee_reference_item, "not one of the modelled items",
                        f"one of {item_list}")
    reverse = [] if not (reverse_items or "").strip() else parse_list(reverse_items, f"{BLOCK}.reverse_items", item_list)
    for var in spec.variables:
        if var in item_list:
            raise SpecError(f"{BLOCK}.formula", formula, f"{var} is an outcome item, not a predictor")
    return BarrierSpec(spec, item_list, rule, gee_reference_item, reverse, rec,
                       check_level(ci_level, f"{BLOCK}.ci_level"),
                       check_positive(min_events_per_parameter, f"{BLOCK}.min_events_per_parameter"),
                       check_positive(po_check_min_split_n, f"{BLOCK}.po_check_min_split_n", integer=True),
                       bool(profile_ci))


@dataclass
class BarrierResults:
    n_kept: int
    agreement: pd.DataFrame
    distribution: pd.DataFrame
    po_coefs: pd.DataFrame
    po_terms: pd.DataFrame
    po_check: pd.DataFrame
    po_splits: pd.DataFrame
    collapsed: pd.DataFrame
    gee_coefs: pd.DataFrame
    models: pd.DataFrame
    power: pd.DataFrame
    gee: gee_mod.GEEFit | None
    design_n: int = 0
    design_dropped: dict = field(default_factory=dict)
    n_params: int = 0


def run_barriers(df: pd.DataFrame, spec: BarrierSpec) -> BarrierResults:
    data = apply_recode(df, spec.recode)
    labels = likert.BARRIER_ITEMS
    agreement = likert.agreement_rates(data, spec.items, spec.collapse.event_levels, likert.AGREE_SCALE,
                                       spec.ci_level, labels)
    distribution = likert.likert_distribution(data, spec.items, likert.AGREE_SCALE, labels)
    po_rows, term_rows, check_rows, split_rows, coll_rows, model_rows = [], [], [], [], [], []
    for item in spec.items:
        codes = likert.to_codes(data[item], likert.AGREE_SCALE, item)
        base = {"item": item, "label": labels.get(item, item)}
        try:
            design = build_design(data, spec.formula, {"y": codes})
        except ModelDataError as exc:
            model_rows.append({**base, "model": "proportional odds", "status": "not fitted", "message": str(exc)})
            continue
        y = design.data["y"].astype(int)
        po = ordinal.fit_po(design, y, item=item, scale=likert.AGREE_SCALE, ci_level=spec.ci_level,
                            profile=spec.profile)
        model_rows.append({**base, "model": "proportional odds", "n": po.n, "parameters": po.n_params,
                           "thresholds": max(len(po.levels) - 1, 0), "effective_n": po.effective_n,
                           "epp": po.epp, "epp_below_minimum": bool(po.epp < spec.min_epp),
                           "status": po.status, "converged": po.converged,
                           "separation": bool(po.separation), "message": po.message,
                           "warnings": " | ".join(po.warnings)})
        if len(po.coefs):
            po_rows.append(po.coefs.assign(n=po.n))
            term_rows.append(po.term_tests)
        chk = ordinal.brant_test(design, y, item=item, scale=likert.AGREE_SCALE, min_split_n=spec.min_split_n)
        if chk.assessable:
            check_rows.append(chk.tests.assign(assessable=True, splits_used=len(chk.splits_used), note=chk.reason))
        else:
            check_rows.append(pd.DataFrame([{"item": item, "column": "(omnibus)", "label": "All predictors",
                                             "chi2": math.nan, "df": math.nan, "p_value": math.nan,
                                             "assessable": False, "splits_used": len(chk.splits_used),
                                             "note": chk.reason}]))
        if len(chk.split_estimates):
            split_rows.append(chk.split_estimates)
        yb = spec.collapse.apply(data.loc[design.X.index, item], likert.AGREE_SCALE)
        tab, info = ordinal.collapsed_sensitivity(design, yb, po if po.status == "ok" else None, item=item,
                                                  event_label=spec.collapse.event_label, ci_level=spec.ci_level)
        n_ev = int(info["n_events"])
        epp_b = min(n_ev, info["n"] - n_ev) / design.X.shape[1]
        model_rows.append({**base, "model": f"Firth logistic ({spec.collapse.event_label} vs not)", "n": info["n"],
                           "parameters": design.X.shape[1], "thresholds": 0, "effective_n": math.nan,
                           "epp": epp_b, "epp_below_minimum": bool(epp_b < spec.min_epp), "status": info["status"],
                           "converged": info.get("converged"), "separation": bool(info["separation"]),
                           "message": info["message"], "warnings": info.get("warnings", "")})
        if len(tab):
            coll_rows.append(tab)
    # across items
    gee_fit = None
    gee_coefs = pd.DataFrame()
    try:
        gdesign = build_design(data, spec.formula)
        gee_fit = gee_mod.fit_ordinal_gee(data, gdesign, spec.items, likert.AGREE_SCALE,
                                          reference_item=spec.reference_item, reverse=spec.reverse,
                                          ci_level=spec.ci_level, item_labels=labels)
        gee_coefs = gee_fit.coefs.assign(n_clusters=gee_fit.n_clusters, n_obs=gee_fit.n_obs)
        model_rows.append({"item": "(all items)", "label": "All Q43 items",
                           "model": "ordinal GEE (global odds ratio, bias-reduced sandwich)",
                           "n": gee_fit.n_clusters, "parameters": gee_fit.n_params, "thresholds": math.nan,
                           "effective_n": math.nan, "epp": math.nan, "epp_below_minimum": None,
                           "status": gee_fit.status, "converged": gee_fit.converged, "separation": None,
                           "message": gee_fit.message, "warnings": " | ".join(gee_fit.warnings)})
    except ModelDataError as exc:
        model_rows.append({"item": "(all items)", "label": "All Q43 items", "model": "ordinal GEE",
                           "status": "not fitted", "message": str(exc)})
        gdesign = None
    pw = barrier_power(data, spec, gdesign)
    return BarrierResults(
        n_kept=len(df), agreement=agreement, distribution=distribution, po_coefs=_cat(po_rows, PO_COLUMNS),
        po_terms=_cat(term_rows, PO_TERM_COLUMNS), po_check=_cat(check_rows, PO_CHECK_COLUMNS),
        po_splits=_cat(split_rows, PO_SPLIT_COLUMNS), collapsed=_cat(coll_rows, COLLAPSED_COLUMNS),
        gee_coefs=_cat([gee_coefs], GEE_COLUMNS), models=pd.DataFrame(model_rows).reindex(columns=MODEL_COLUMNS),
        power=pw, gee=gee_fit,
        design_n=gdesign.n if gdesign is not None else 0,
        design_dropped=gdesign.dropped if gdesign is not None else {},
        n_params=gdesign.X.shape[1] if gdesign is not None else 0)


def _cat(frames: list[pd.DataFrame], columns: list[str]) -> pd.DataFrame:
    """Concatenate, always with at least ``columns`` (so notebooks can index an empty result)."""
    frames = [f for f in frames if len(f)]
    out = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)
    return out.reindex(columns=columns + [c for c in out.columns if c not in columns])


def barrier_power(data: pd.DataFrame, spec: BarrierSpec, design) -> pd.DataFrame:
    """Smallest detectable OR for each binary predictor: ordinal (Whitehead) and collapsed (exact Fisher)."""
    if design is None:
        return pd.DataFrame(columns=POWER_COLUMNS)
    pooled = np.zeros(len(likert.AGREE_SCALE))
    agree_n = agree_base = 0
    for item in spec.items:
        codes = likert.to_codes(data.loc[design.X.index, item], likert.AGREE_SCALE, item).dropna().astype(int)
        pooled += np.bincount(codes, minlength=len(likert.AGREE_SCALE))
        agree_n += int(codes.isin([likert.AGREE_SCALE.index(l) for l in spec.collapse.event_levels]).sum())
        agree_base += len(codes)
    pooled = pooled[pooled > 0]
    p0 = agree_n / agree_base if agree_base else math.nan
    rows = []
    for var in design.binary_vars:
        x = design.X[design.term_columns[var][0]]
        n1 = int((x == 1).sum())
        n = len(x)
        for res in (power.detectable_or_ordinal(n, n1 / n, pooled, 0.05, 0.8),
                    power.detectable_or_fisher(n1, n - n1, p0, 0.05, 0.8)):
            rows.append({"predictor": var, "label": design.label(design.term_columns[var][0]), **res.as_row()})
    return pd.DataFrame(rows).reindex(columns=POWER_COLUMNS)


def forest_rows(res: BarrierResults, reverse: list[str] | tuple[str, ...] = ()) -> pd.DataFrame:
    """GEE (all items) and per-item PO odds ratios for each predictor, oriented as "more perceived obstacles".

    Reverse-worded items (agreeing = fewer obstacles) have their per-item odds
    ratio inverted (so it matches the GEE, which reverses them) and say so in
    the label.  Items whose PO model is not estimable appear with that status.
    """
    rows = []
    if len(res.gee_coefs):
        for r in res.gee_coefs[res.gee_coefs["kind"] == "predictor"].itertuples():
            rows.append({"group": r.label, "label": "All items (across-items GEE)", "item": "(all items)",
                         "method": "Across items (ordinal GEE)", "odds_ratio": r.odds_ratio, "ci_low": r.ci_low,
                         "ci_high": r.ci_high, "status": "ok", "reversed": False})
    predictors = list(dict.fromkeys(res.po_coefs["label"])) if len(res.po_coefs) else [r["group"] for r in rows]
    if len(res.po_coefs):
        for r in res.po_coefs.itertuples():
            rev = r.item in reverse
            label = likert.BARRIER_ITEMS.get(r.item, r.item) + (" (reversed)" if rev else "")
            o, lo, hi = (r.odds_ratio, r.ci_low, r.ci_high)
            if rev:
                o, lo, hi = 1 / o, (1 / hi if hi > 0 else math.inf), (1 / lo if lo > 0 else math.inf)
            rows.append({"group": r.label, "label": label, "item": r.item, "method": "Per item (proportional odds)",
                         "odds_ratio": o, "ci_low": lo, "ci_high": hi, "status": "ok", "reversed": rev})
    if len(res.models):
        bad = res.models[(res.models["model"] == "proportional odds") & (res.models["status"] != "ok")]
        for r in bad.itertuples():
            for g in predictors:
                rows.append({"group": g, "label": likert.BARRIER_ITEMS.get(r.item, r.item), "item": r.item,
                             "method": "Per item (proportional odds)", "odds_ratio": math.nan, "ci_low": math.nan,
                             "ci_high": math.nan, "status": f"{r.status}", "reversed": r.item in reverse})
    out = pd.DataFrame(rows)
    if len(out):
        order = list(dict.fromkeys(out["group"]))
        out["_g"] = out["group"].map({g: i for i, g in enumerate(order)})
        out["_m"] = (out["method"] != "Across items (ordinal GEE)").astype(int)
        out = out.sort_values(["_g", "_m"], kind="mergesort").drop(columns=["_g", "_m"]).reset_index(drop=True)
    return out
