"""Binary outcomes on tiny samples: Firth logistic regression, the plain GLM, exact tests.

Why Firth: with ~34 respondents and 16-23 in a subgroup, maximum likelihood
(ML) logistic regression is biased away from zero and breaks down under
(quasi-)complete separation, which is common when a binary predictor has a
small cell.  Firth's penalised likelihood (Jeffreys prior) removes the
first-order bias and always gives finite estimates.  Inference follows Heinze &
Schemper (2002): profile penalised-likelihood confidence intervals and
penalised likelihood-ratio tests (``firthmodels``), not Wald intervals.

What this module gives:

* :func:`check_separation`: linear-programming detection (Konis 2007, via
  ``firthmodels.detect_separation``) with a plain-English message naming the
  predictor, its direction and (for a binary predictor) the empty cell;
* :func:`fit_firth`: coefficients with profile-likelihood CIs, penalised LRT per
  column (constrained fit, 1 df) and per multi-column term (nested penalised
  fits, k df);
* :func:`fit_glm`: the plain ML GLM for comparison, *not reported* when the data
  are separated (its estimates would be arbitrary large numbers);
* :func:`exact_tests`: for every binary predictor, the unadjusted 2x2 table with
  Fisher's and Boschloo's exact tests and the conditional-ML odds ratio with its
  exact interval (``scipy.stats.contingency.odds_ratio``);
* :func:`fit_binary_models`: all of the above for one outcome, and
  :func:`comparison_table` side by side.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from .design import Design, ModelDataError, binary_indicator, captured_warnings, warning_messages

INTERCEPT = "Intercept"
# Boschloo's test costs roughly O(n^2) per table; beyond this n it is skipped (Fisher's
# test and the large-sample methods agree closely there) and the table says so.
BOSCHLOO_MAX_N = 400


@dataclass
class SeparationReport:
    separated: bool
    directions: dict[str, int]
    message: str
    rank_deficient: bool = False

    @property
    def infinite_columns(self) -> list[str]:
        return [c for c, d in self.directions.items() if d != 0]


@dataclass
class LogisticFit:
    method: str                   # "firth" | "glm"
    outcome: str
    n: int
    n_events: int
    n_params: int
    status: str                   # "ok" | "not estimable" | "not fitted"
    message: str = ""
    converged: bool | None = None
    warnings: list[str] = field(default_factory=list)
    coefs: pd.DataFrame = field(default_factory=pd.DataFrame)
    term_tests: pd.DataFrame = field(default_factory=pd.DataFrame)
    loglik: float = math.nan
    intercept: float = math.nan

    @property
    def epp(self) -> float:
        return events_per_parameter(self.n_events, self.n - self.n_events, self.n_params)


def events_per_parameter(n_events: int, n_nonevents: int, n_params: int) -> float:
    """Events per parameter: the rarer outcome class over the non-intercept parameters."""
    if n_params <= 0:
        return math.inf
    return min(n_events, n_nonevents) / n_params


def _with_const(X: pd.DataFrame) -> pd.DataFrame:
    out = X.copy()
    out.insert(0, INTERCEPT, 1.0)
    return out


def _crosstab_phrase(x: pd.Series, y: pd.Series, direction: int, label: str, event: str,
                     non_event: str | None = None) -> str:
    """For a 0/1 predictor: which cell is empty, in words."""
    x = x.astype(int)
    y = y.astype(int)
    parts = []
    for level, name in ((1, f"with '{label}'"), (0, f"without '{label}'")):
        sub = y[x == level]
        k, m = int(sub.sum()), len(sub)
        if m and k in (0, m):
            answer = event if k == m else (non_event or f"not {event}")
            parts.append(f"all {m} respondents {name} answered {answer}")
    return "; ".join(parts)


def check_separation(design: Design, y: pd.Series, *, outcome_label: str, event: str = "Yes",
                     non_event: str | None = None) -> SeparationReport:
    """Detect (quasi-)complete separation before fitting and explain it in words."""
    from firthmodels import detect_separation
    import scipy.linalg

    try:
        res = detect_separation(design.X, np.asarray(y, dtype=float), fit_intercept=True)
    except scipy.linalg.LinAlgError:
        return SeparationReport(True, {}, f"{outcome_label}: the design is rank deficient; no model is fitted.",
                                rank_deficient=True)
    names = list(design.X.columns) + [INTERCEPT]
    directions = {n: int(d) for n, d in zip(names, res.directions)}
    if not res.separation:
        return SeparationReport(False, directions, f"{outcome_label}: no separation; maximum-likelihood estimates exist.")
    bits = []
    for col, d in directions.items():
        if d == 0 or col == INTERCEPT:
            continue
        label = design.label(col)
        phrase = ""
        vals = set(np.unique(design.X[col]))
        if vals <= {0.0, 1.0}:
            phrase = _crosstab_phrase(design.X[col], y, d, label, event, non_event)
        sign = "+Inf (odds ratio infinite)" if d > 0 else "-Inf (odds ratio zero)"
        bits.append(f"'{label}' {sign}" + (f": {phrase}" if phrase else ""))
    if not bits:
        bits.append("the intercept alone (every respondent gave the same answer)")
    msg = (f"SEPARATION in {outcome_label}: " + "; ".join(bits) + ". The plain maximum-likelihood GLM has no finite "
           "estimate here and is not reported. Firth's penalised estimate is finite, but its size comes from the "
           "penalty: read its direction and its profile-likelihood interval, not its point value.")
    return SeparationReport(True, directions, msg)


def _firth_model(**kw):
    from firthmodels import FirthLogisticRegression

    return FirthLogisticRegression(fit_intercept=False, max_iter=200, backend="numpy", **kw)


def fit_firth(design: Design, y: pd.Series, *, outcome: str, ci_level: float = 0.95) -> LogisticFit:
    """Firth logistic regression: profile penalised-likelihood CIs and penalised LRTs."""
    y = np.asarray(y, dtype=float)
    Xc = _with_const(design.X)
    n_events = int(y.sum())
    fit = LogisticFit("firth", outcome, len(y), n_events, design.X.shape[1], "ok")
    if n_events in (0, len(y)):
        fit.status, fit.message = "not fitted", f"every respondent answered the same ({n_events}/{len(y)} events)"
        return fit
    alpha = 1.0 - ci_level
    with captured_warnings() as caught:
        model = _firth_model().fit(Xc, y)
        ci = model.conf_int(alpha=alpha, method="pl", max_iter=100)
        model.lrt(features=list(design.X.columns))
    fit.warnings = warning_messages(caught)
    fit.converged = bool(model.converged_)
    fit.loglik = float(model.loglik_)
    fit.intercept = float(model.coef_[0])
    rows = []
    for j, col in enumerate(Xc.columns):
        if col == INTERCEPT:
            continue
        b = float(model.coef_[j])
        p = float(model.lrt_pvalues_[j])
        chi2 = float(stats.chi2.isf(p, 1)) if np.isfinite(p) else math.nan
        lo, hi = float(ci[j, 0]), float(ci[j, 1])
        rows.append({
            "outcome": outcome, "column": col, "term": design.term_of(col), "label": design.label(col),
            "log_or": b, "se_wald": float(model.bse_[j]), "odds_ratio": math.exp(b),
            "ci_low": math.exp(lo) if np.isfinite(lo) else math.nan,
            "ci_high": math.exp(hi) if np.isfinite(hi) else math.nan,
            "chi2": chi2, "p_value": p, "ci_method": "profile penalised likelihood",
            "test": "penalised likelihood ratio (1 df)",
        })
    fit.coefs = pd.DataFrame(rows)
    fit.term_tests = _term_tests(design, y, fit, penalised=True)
    if not fit.converged:
        fit.message = "Firth fit did not converge; estimates are unreliable"
    return fit


def penalised_loglik(beta: np.ndarray, X: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """Firth's penalised log-likelihood l(b) + 0.5 log|X'WX| and its gradient (the modified score)."""
    eta = X @ beta
    p = 1.0 / (1.0 + np.exp(-eta))
    # log-likelihood, stable in the tails
    ll = float(np.sum(y * eta - np.logaddexp(0.0, eta)))
    w = p * (1.0 - p)
    info = X.T @ (X * w[:, None])
    sign, logdet = np.linalg.slogdet(info)
    if sign <= 0:
        return -math.inf, np.full_like(beta, np.nan)
    inv = np.linalg.inv(info)
    h = w * np.einsum("ij,jk,ik->i", X, inv, X)
    grad = X.T @ (y - p + h * (0.5 - p))
    return ll + 0.5 * logdet, grad


def constrained_penalised_loglik(X: np.ndarray, y: np.ndarray, fixed: list[int], start: np.ndarray) -> tuple[float, bool]:
    """Maximise the penalised log-likelihood with the coefficients in ``fixed`` held at 0.

    The penalty uses the information of the *full* design (Heinze & Schemper
    2002; logistf's penalised likelihood-ratio test), which is what makes the
    k-df test comparable with the full fit; a nested refit without the columns
    would change the penalty and can even give a negative statistic.
    """
    from scipy.optimize import minimize

    free = np.array([j for j in range(X.shape[1]) if j not in set(fixed)], dtype=int)

    def full(b_free):
        b = np.zeros(X.shape[1])
        b[free] = b_free
        return b

    def fun(b_free):
        ll, g = penalised_loglik(full(b_free), X, y)
        if not np.isfinite(ll):
            return 1e300, np.zeros_like(b_free)
        return -ll, -g[free]

    res = minimize(fun, start[free], jac=True, method="BFGS", options={"gtol": 1e-8, "maxiter": 1000})
    return float(-res.fun), bool(res.success or np.max(np.abs(res.jac)) < 1e-5)


def _loglik_ml(X: pd.DataFrame, y: np.ndarray) -> float:
    import statsmodels.api as sm

    return float(sm.GLM(y, X, family=sm.families.Binomial()).fit().llf)


def _term_tests(design: Design, y: np.ndarray, fit: LogisticFit, *, penalised: bool) -> pd.DataFrame:
    """One test per formula term: the 1-df test already computed, or a nested LRT for k columns."""
    rows = []
    Xc = _with_const(design.X)
    for term, cols in design.term_columns.items():
        label = design.label(cols[0]).split(":")[0] if len(cols) > 1 else design.label(cols[0])
        if len(cols) == 1:
            r = fit.coefs.loc[fit.coefs["column"] == cols[0]]
            chi2 = float(r["chi2"].iloc[0]) if len(r) else math.nan
            p = float(r["p_value"].iloc[0]) if len(r) else math.nan
            method = fit.coefs["test"].iloc[0] if len(fit.coefs) else ""
        else:
            with captured_warnings():
                if penalised:
                    start = np.concatenate([[fit.intercept], fit.coefs["log_or"].to_numpy()])
                    idx = [list(Xc.columns).index(c) for c in cols]
                    ll0, ok = constrained_penalised_loglik(Xc.to_numpy(), y, idx, start)
                    ll_full, _ = penalised_loglik(start, Xc.to_numpy(), y)
                else:
                    ll0, ok = _loglik_ml(Xc.drop(columns=cols), y), True
                    ll_full = fit.loglik
            chi2 = max(0.0, 2.0 * (ll_full - ll0)) if ok else math.nan
            p = float(stats.chi2.sf(chi2, len(cols))) if ok else math.nan
            method = ("penalised likelihood ratio" if penalised else "likelihood ratio") + f" ({len(cols)} df)"
        rows.append({"outcome": fit.outcome, "method": fit.method, "term": term, "label": label,
                     "df": len(cols), "chi2": chi2, "p_value": p, "test": method})
    return pd.DataFrame(rows)


def fit_glm(design: Design, y: pd.Series, *, outcome: str, ci_level: float = 0.95,
            separation: SeparationReport | None = None) -> LogisticFit:
    """Plain ML logistic regression (Wald CIs, LR tests); withheld when the data are separated."""
    import statsmodels.api as sm

    y = np.asarray(y, dtype=float)
    n_events = int(y.sum())
    fit = LogisticFit("glm", outcome, len(y), n_events, design.X.shape[1], "ok")
    if separation is not None and separation.separated:
        fit.status = "not estimable"
        fit.message = "separation: maximum-likelihood estimates are infinite; not reported"
        return fit
    if n_events in (0, len(y)):
        fit.status, fit.message = "not fitted", f"every respondent answered the same ({n_events}/{len(y)} events)"
        return fit
    Xc = _with_const(design.X)
    with captured_warnings() as caught:
        res = sm.GLM(y, Xc, family=sm.families.Binomial()).fit()
        ci = np.asarray(res.conf_int(alpha=1.0 - ci_level))
        lr = {}
        for col in design.X.columns:
            ll0 = _loglik_ml(Xc.drop(columns=[col]), y)
            lr[col] = max(0.0, 2.0 * (res.llf - ll0))
    fit.warnings = warning_messages(caught)
    fit.converged = bool(getattr(res, "converged", True))
    fit.loglik = float(res.llf)
    rows = []
    for j, col in enumerate(Xc.columns):
        if col == INTERCEPT:
            continue
        b = float(res.params.iloc[j])
        rows.append({
            "outcome": outcome, "column": col, "term": design.term_of(col), "label": design.label(col),
            "log_or": b, "se_wald": float(res.bse.iloc[j]), "odds_ratio": math.exp(b),
            "ci_low": math.exp(ci[j, 0]), "ci_high": math.exp(ci[j, 1]),
            "chi2": lr[col], "p_value": float(stats.chi2.sf(lr[col], 1)), "ci_method": "Wald",
            "test": "likelihood ratio (1 df)",
        })
    fit.coefs = pd.DataFrame(rows)
    fit.term_tests = _term_tests(design, y, fit, penalised=False)
    if not fit.converged:
        fit.message = "GLM did not converge"
    return fit


def exact_tests(design: Design, y: pd.Series, *, outcome: str, ci_level: float = 0.95) -> pd.DataFrame:
    """Unadjusted 2x2 exact analyses for every binary predictor in the formula."""
    from scipy.stats.contingency import odds_ratio

    y = pd.Series(np.asarray(y, dtype=int), index=design.X.index)
    rows = []
    for var in design.binary_vars:
        x = binary_indicator(design, var)
        col = design.term_columns[var][0]
        a = int(((x == 1) & (y == 1)).sum())
        b = int(((x == 1) & (y == 0)).sum())
        c = int(((x == 0) & (y == 1)).sum())
        d = int(((x == 0) & (y == 0)).sum())
        table = np.array([[a, b], [c, d]])
        fisher = stats.fisher_exact(table, alternative="two-sided")
        n_tab = a + b + c + d
        p_boschloo = (float(stats.boschloo_exact(table, alternative="two-sided").pvalue)
                      if n_tab <= BOSCHLOO_MAX_N else math.nan)
        orr = odds_ratio(table, kind="conditional")
        ci = orr.confidence_interval(confidence_level=ci_level)
        rows.append({
            "outcome": outcome, "column": col, "term": var, "label": design.label(col),
            "n_exposed_event": a, "n_exposed_no_event": b, "n_unexposed_event": c, "n_unexposed_no_event": d,
            "odds_ratio": float(orr.statistic), "ci_low": float(ci.low), "ci_high": float(ci.high),
            "ci_method": "exact (conditional)", "p_fisher": float(fisher.pvalue), "p_boschloo": p_boschloo,
            "zero_cell": bool(min(a, b, c, d) == 0),
            "note": "" if n_tab <= BOSCHLOO_MAX_N else f"Boschloo not computed (n > {BOSCHLOO_MAX_N})",
        })
    return pd.DataFrame(rows)


@dataclass
class BinaryModels:
    outcome: str
    outcome_label: str
    design: Design
    y: pd.Series
    separation: SeparationReport
    firth: LogisticFit
    glm: LogisticFit
    exact: pd.DataFrame


def fit_binary_models(design: Design, y: pd.Series, *, outcome: str, outcome_label: str,
                      event: str = "Yes", non_event: str | None = None, ci_level: float = 0.95) -> BinaryModels:
    """Separation check, Firth, plain GLM and exact tests for one binary outcome."""
    y = pd.Series(np.asarray(y, dtype=int), index=design.X.index, name=outcome)
    sep = check_separation(design, y, outcome_label=outcome_label, event=event, non_event=non_event)
    if sep.rank_deficient:
        raise ModelDataError(sep.message)
    firth = fit_firth(design, y, outcome=outcome, ci_level=ci_level)
    glm = fit_glm(design, y, outcome=outcome, ci_level=ci_level, separation=sep)
    exact = exact_tests(design, y, outcome=outcome, ci_level=ci_level)
    return BinaryModels(outcome, outcome_label, design, y, sep, firth, glm, exact)


def comparison_table(models: BinaryModels) -> pd.DataFrame:
    """Firth vs plain GLM vs exact test, one row per design column."""
    f = models.firth.coefs.set_index("column") if len(models.firth.coefs) else pd.DataFrame()
    g = models.glm.coefs.set_index("column") if len(models.glm.coefs) else pd.DataFrame()
    e = models.exact.set_index("column") if len(models.exact) else pd.DataFrame()
    rows = []
    for col in models.design.columns:
        row = {"outcome": models.outcome, "column": col, "label": models.design.label(col),
               "n": models.firth.n, "n_events": models.firth.n_events,
               "separation": "infinite" if models.separation.directions.get(col, 0) else "none"}
        for prefix, frame in (("firth", f), ("glm", g)):
            if col in frame.index:
                r = frame.loc[col]
                row.update({f"{prefix}_or": r["odds_ratio"], f"{prefix}_ci_low": r["ci_low"],
                            f"{prefix}_ci_high": r["ci_high"], f"{prefix}_p": r["p_value"]})
            else:
                row.update({f"{prefix}_or": math.nan, f"{prefix}_ci_low": math.nan,
                            f"{prefix}_ci_high": math.nan, f"{prefix}_p": math.nan})
        row["glm_status"] = models.glm.status if models.glm.status != "ok" else "ok"
        if col in e.index:
            r = e.loc[col]
            row.update({"exact_or": r["odds_ratio"], "exact_ci_low": r["ci_low"], "exact_ci_high": r["ci_high"],
                        "p_fisher": r["p_fisher"], "p_boschloo": r["p_boschloo"]})
        else:
            row.update({"exact_or": math.nan, "exact_ci_low": math.nan, "exact_ci_high": math.nan,
                        "p_fisher": math.nan, "p_boschloo": math.nan})
        fo, go = row["firth_or"], row["glm_or"]
        row["abs_diff_log_or"] = abs(math.log(fo) - math.log(go)) if (fo > 0 and go > 0 and np.isfinite(go)) else math.nan
        rows.append(row)
    return pd.DataFrame(rows)


def model_info_rows(models: BinaryModels, min_epp: float) -> list[dict]:
    """One convergence/honesty row per fitted model (for the model-information table)."""
    out = []
    for fit in (models.firth, models.glm):
        out.append({
            "outcome": models.outcome, "model": {"firth": "Firth logistic", "glm": "plain ML logistic (GLM)"}[fit.method],
            "n": fit.n, "n_events": fit.n_events, "n_non_events": fit.n - fit.n_events, "parameters": fit.n_params,
            "epp": fit.epp, "epp_below_minimum": bool(fit.epp < min_epp), "status": fit.status,
            "converged": fit.converged, "separation": models.separation.separated,
            "message": fit.message, "warnings": " | ".join(fit.warnings),
        })
    return out
