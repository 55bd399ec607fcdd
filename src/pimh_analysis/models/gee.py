"""Across-items ordinal GEE: all Q43 items in one model, respondents as clusters.

Why: one proportional-odds model per item spends the tiny sample eight times
and multiplies tests.  A marginal cumulative-logit model across items
(``statsmodels`` ``OrdinalGEE``) estimates one odds ratio per respondent
characteristic, shared by every item, with item effects shifting the
thresholds.  Answers from the same respondent are correlated; the working
dependence is the global odds ratio for ordinal data (Heagerty & Zeger 1996;
``GlobalOddsRatio("ordinal")``) and inference uses the Mancl-DeRouen
bias-reduced sandwich (``cov_type="bias_reduced"``), because with ~34 clusters
the ordinary robust sandwich is too small.  Confidence intervals and p-values
use a t reference with (clusters - mean parameters) degrees of freedom, a
further small-sample guard (Li & Redden 2015), and this is stated in the table.

Design notes:

* ``OrdinalGEE`` adds one intercept per cut of the scale; a full set of item
  dummies would be collinear with them, so items enter as dummies against a
  reference item (params ``barriers.gee_reference_item``);
* reverse-worded items (``q43_no_obstacles``: agreeing means *fewer* obstacles)
  are reversed so that a shared odds ratio means "more perceived obstacles";
* the shared-effect model assumes a predictor acts alike on every item: the
  per-item PO models show whether that is plausible.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from .design import Design, ModelDataError, captured_warnings, warning_messages
from .likert import BARRIER_ITEMS, to_codes


def _sparse_safe_global_or():
    """``GlobalOddsRatio("ordinal")`` that survives empty cells in its cut-point tables.

    statsmodels pools the log odds ratios of the 2x2 tables of every pair of
    cut points; at n = 34 some of those tables have an empty cell (nobody below
    the lowest cut on two items, say), the log odds ratio is infinite and the
    working dependence becomes NaN, which crashes the fit.  This subclass adds
    the Haldane-Anscombe 0.5 to the cells of those tables only, so on
    non-sparse data it is identical to statsmodels, and it records that it did.
    """
    from statsmodels.genmod.cov_struct import GlobalOddsRatio

    class SparseSafeGlobalOddsRatio(GlobalOddsRatio):
        corrected_tables = 0

        def pooled_odds_ratio(self, tables):
            fixed = []
            for t in tables:
                if np.any(np.asarray(t) <= 0):
                    t = np.asarray(t, dtype=np.float64) + 0.5
                    self.corrected_tables += 1
                fixed.append(t)
            return super().pooled_odds_ratio(fixed)

    return SparseSafeGlobalOddsRatio("ordinal")


@dataclass
class GEEFit:
    n_clusters: int
    n_obs: int
    items: list[str]
    reference_item: str
    reversed_items: list[str]
    n_params: int
    df_t: int
    status: str
    message: str = ""
    converged: bool | None = None
    warnings: list[str] = field(default_factory=list)
    coefs: pd.DataFrame = field(default_factory=pd.DataFrame)
    global_odds_ratio: float = math.nan
    cov_type: str = "bias_reduced"
    sparse_tables_corrected: int = 0


def long_items(df: pd.DataFrame, design: Design, items: Sequence[str], scale: Sequence[str],
               reverse: Sequence[str] = ()) -> pd.DataFrame:
    """Respondent x item rows (non-missing answers) joined to the design columns."""
    K = len(scale)
    rows = []
    for item in items:
        codes = to_codes(df.loc[design.X.index, item], scale, item)
        ok = codes.notna()
        y = codes[ok].astype(int)
        if item in reverse:
            y = (K - 1) - y
        part = design.X.loc[ok[ok].index].copy()
        part.insert(0, "y", y.to_numpy())
        part.insert(0, "item", item)
        part.insert(0, "cluster", np.asarray(ok[ok].index))
        rows.append(part)
    out = pd.concat(rows, ignore_index=True)
    order = {it: i for i, it in enumerate(items)}
    out["_o"] = out["item"].map(order)
    out = out.sort_values(["cluster", "_o"], kind="mergesort").drop(columns="_o").reset_index(drop=True)
    return out


def fit_ordinal_gee(df: pd.DataFrame, design: Design, items: Sequence[str], scale: Sequence[str], *,
                    reference_item: str, reverse: Sequence[str] = (), ci_level: float = 0.95,
                    item_labels: Mapping[str, str] | None = None, maxiter: int = 200) -> GEEFit:
    """Ordinal GEE with GlobalOddsRatio("ordinal") and the bias-reduced sandwich."""
    import statsmodels.api as sm

    if reference_item not in items:
        raise ModelDataError(f"reference item {reference_item!r} is not among the modelled items {list(items)}")
    item_labels = item_labels or BARRIER_ITEMS
    long = long_items(df, design, items, scale, reverse)
    observed = sorted(set(long["y"].tolist()))
    if len(observed) < 2:
        raise ModelDataError("every answer is the same; nothing to model")
    # consecutive ranks so unused answer levels add no empty threshold
    long["y"] = np.searchsorted(observed, long["y"].to_numpy())
    dummies = []
    for item in items:
        if item == reference_item:
            continue
        col = f"item[{item}]"
        long[col] = (long["item"] == item).astype(float)
        dummies.append(col)
    exog_cols = dummies + list(design.X.columns)
    exog = long[exog_cols]
    n_clusters = int(long["cluster"].nunique())
    n_params = len(observed) - 1 + len(exog_cols)
    df_t = n_clusters - n_params
    fit = GEEFit(n_clusters, len(long), list(items), reference_item, [i for i in reverse if i in items],
                 n_params, df_t, "ok")
    with captured_warnings() as caught:
        cov_struct = _sparse_safe_global_or()
        model = sm.OrdinalGEE(long["y"].to_numpy(), exog, groups=long["cluster"].to_numpy(),
                              cov_struct=cov_struct)
        try:
            res = model.fit(maxiter=maxiter, cov_type="bias_reduced")
        except (ValueError, np.linalg.LinAlgError) as exc:
            res = None
            fit.message = f"GEE failed: {str(exc).splitlines()[0]}"
    fit.warnings = warning_messages(caught)
    fit.sparse_tables_corrected = int(cov_struct.corrected_tables)
    if res is None:
        fit.status, fit.message = "not fitted", fit.message or "GEE did not produce estimates"
        return fit
    fit.converged = bool(getattr(res, "converged", True))
    try:
        fit.global_odds_ratio = float(np.asarray(model.cov_struct.dep_params).ravel()[0])
    except (TypeError, IndexError, ValueError):
        fit.global_odds_ratio = math.nan
    params = pd.Series(np.asarray(res.params), index=res.model.exog_names)
    bse = pd.Series(np.asarray(res.bse), index=res.model.exog_names)
    if df_t >= 1:
        crit = stats.t.ppf(0.5 + ci_level / 2, df_t)
        ref = f"t, {df_t} df"
    else:
        crit = math.nan
        ref = "none: more parameters than clusters"
        fit.message = (f"{n_params} parameters for {n_clusters} respondents: no small-sample reference "
                       "distribution; intervals withheld")
    rows = []
    for col in exog_cols:
        b, se = float(params[col]), float(bse[col])
        is_item = col.startswith("item[")
        if is_item:
            item = col[5:-1]
            label = f"Item: {item_labels.get(item, item)} (vs {item_labels.get(reference_item, reference_item)})"
            term = "item"
        else:
            label = design.label(col)
            term = design.term_of(col)
        tval = b / se if se > 0 else math.nan
        p = float(2 * stats.t.sf(abs(tval), df_t)) if (df_t >= 1 and np.isfinite(tval)) else math.nan
        rows.append({
            "column": col, "term": term, "label": label, "kind": "item" if is_item else "predictor",
            "log_or": b, "se_bias_reduced": se, "odds_ratio": math.exp(b),
            "ci_low": math.exp(b - crit * se) if np.isfinite(crit) else math.nan,
            "ci_high": math.exp(b + crit * se) if np.isfinite(crit) else math.nan,
            "p_value": p, "reference": ref,
        })
    fit.coefs = pd.DataFrame(rows)
    notes = []
    if fit.message:
        notes.append(fit.message)
    if not fit.converged:
        notes.append("GEE iterations did not converge; estimates are unreliable")
    if fit.sparse_tables_corrected:
        notes.append("sparse answers: 0.5 added to the empty cells of some cut-point tables when estimating the "
                     "working global odds ratio (affects the working dependence only; the sandwich keeps inference valid)")
    fit.message = "; ".join(notes)
    return fit
