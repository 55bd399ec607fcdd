"""Per-item proportional-odds models for 5-point agreement items, with honest small-sample checks.

For each Likert item we fit a cumulative-logit proportional-odds (PO) model
(``statsmodels`` ``OrderedModel``, ``distr="logit"``) of the answer on the
respondent characteristics in the formula.  An odds ratio above 1 means higher
odds of *more agreement* (of being above any cut of the scale).

Because n is about 34, every item also gets:

* an **ordinal separation check** before fitting: Konis's linear program on the
  stacked cumulative splits with a common slope (``firthmodels.detect_separation``
  on the stacked data).  If a predictor would have an infinite PO estimate the
  item is reported as "not estimable" with the reason, never as an absurd number;
* **likelihood-ratio tests** per term (refits without the term) and
  **profile-likelihood confidence intervals** (better than Wald when the
  likelihood is asymmetric, as it is at this n);
* a **proportional-odds check** (:func:`brant_test`): Brant's (1990) Wald test
  comparing the slopes of the separate cumulative binary logits, restricted to
  splits with at least ``min_split_n`` respondents on each side, and withheld
  ("not assessable") when a split is separated.  At n = 34 it has little power:
  a non-significant result is not evidence that the assumption holds;
* a **collapsed sensitivity analysis** (:func:`collapsed_sensitivity`): Firth
  logistic regression of agree vs not agree, compared with the PO estimate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import pandas as pd
from scipy import optimize, stats

from .design import Design, captured_warnings, warning_messages
from .firth import check_separation, fit_firth


# --- effective sample size -------------------------------------------------------

def effective_n_ordinal(counts: Sequence[int]) -> float:
    """Harrell's effective sample size for an ordinal outcome: n - sum(n_k^3)/n^2.

    Equals n for a continuous outcome, and min-class-like for a binary one
    (for binary it is 3 * n1 * n2 / n).
    """
    c = np.asarray(counts, dtype=float)
    n = c.sum()
    return float(n - (c ** 3).sum() / n ** 2) if n else 0.0


# --- separation for cumulative-link models ---------------------------------------

def ordinal_separation(X: pd.DataFrame, y_rank: np.ndarray) -> dict[str, int]:
    """Directions (+1/-1/0) of infinite PO estimates; {} when the MLE exists.

    The PO likelihood can be increased without bound along (b, t) iff the
    stacked cumulative binary data ``1[y > k]`` with split-specific intercepts
    and a common slope are (quasi-)separated, so Konis's LP on the stacked data
    answers the question exactly.
    """
    from firthmodels import detect_separation

    y_rank = np.asarray(y_rank, dtype=int)
    K = int(y_rank.max()) + 1
    blocks, zs = [], []
    for k in range(K - 1):
        thr = np.zeros((len(y_rank), K - 1))
        thr[:, k] = 1.0
        blocks.append(np.column_stack([X.to_numpy(dtype=float), thr]))
        zs.append((y_rank > k).astype(float))
    Xs = np.vstack(blocks)
    zs = np.concatenate(zs)
    res = detect_separation(Xs, zs, fit_intercept=False)
    if not res.separation:
        return {}
    return {c: int(d) for c, d in zip(X.columns, res.directions[: X.shape[1]]) if d != 0}


# --- fast PO log-likelihood (for profiling) --------------------------------------

def _po_negll(params: np.ndarray, X: np.ndarray, y: np.ndarray, offset: np.ndarray, K: int):
    """Negative log-likelihood and gradient, statsmodels' threshold parameterisation."""
    p = X.shape[1]
    beta, a = params[:p], params[p:]
    incr = np.concatenate([[a[0]], np.exp(a[1:])])
    theta = np.cumsum(incr)
    eta = X @ beta + offset
    upper = np.where(y < K - 1, theta[np.minimum(y, K - 2)], np.inf)
    lower = np.where(y > 0, theta[np.maximum(y - 1, 0)], -np.inf)
    Fu = np.where(np.isfinite(upper), 1 / (1 + np.exp(-(upper - eta))), 1.0)
    Fl = np.where(np.isfinite(lower), 1 / (1 + np.exp(-(lower - eta))), 0.0)
    pr = np.maximum(Fu - Fl, 1e-300)
    fu = Fu * (1 - Fu)
    fl = Fl * (1 - Fl)
    nll = -np.sum(np.log(pr))
    g_eta = (fu - fl) / pr          # d(-log p)/d eta
    g_beta = X.T @ g_eta
    g_theta = np.zeros(K - 1)
    np.add.at(g_theta, np.minimum(y, K - 2)[y < K - 1], -(fu / pr)[y < K - 1])
    np.add.at(g_theta, np.maximum(y - 1, 0)[y > 0], (fl / pr)[y > 0])
    # chain rule theta -> a
    J = np.zeros((K - 1, K - 1))
    J[:, 0] = 1.0
    for m in range(1, K - 1):
        J[m:, m] = incr[m]
    g_a = J.T @ g_theta
    return nll, np.concatenate([g_beta, g_a])


def _profile_ll(X: np.ndarray, y: np.ndarray, j: int, b: float, start: np.ndarray, K: int) -> float:
    keep = [i for i in range(X.shape[1]) if i != j]
    Xr = X[:, keep]
    off = b * X[:, j]
    st = np.concatenate([start[keep], start[X.shape[1]:]])
    res = optimize.minimize(_po_negll, st, args=(Xr, y, off, K), jac=True, method="BFGS",
                            options={"gtol": 1e-7, "maxiter": 2000})
    return -float(res.fun)


def profile_ci(X: np.ndarray, y: np.ndarray, params: np.ndarray, se: np.ndarray, llf: float, K: int,
               ci_level: float = 0.95, limit: float = 15.0) -> np.ndarray:
    """Profile-likelihood CIs (log-OR scale) for every slope; +/-inf if the bound passes +/-``limit``."""
    q = stats.chi2.ppf(ci_level, 1)
    out = np.full((X.shape[1], 2), np.nan)
    for j in range(X.shape[1]):
        bhat = params[j]
        step = se[j] if np.isfinite(se[j]) and se[j] > 0 else 1.0

        def g(b):
            return 2.0 * (llf - _profile_ll(X, y, j, b, params, K)) - q

        for side, sgn in ((0, -1.0), (1, 1.0)):
            inner = bhat
            outer = bhat + sgn * 2.0 * step
            found = False
            while abs(outer) <= limit + abs(bhat):
                if g(outer) > 0:
                    found = True
                    break
                inner, outer = outer, bhat + sgn * 2.0 * (abs(outer - bhat))
            if not found:
                out[j, side] = sgn * np.inf
                continue
            out[j, side] = optimize.brentq(g, min(inner, outer), max(inner, outer), xtol=1e-6)
    return out


# --- the per-item PO fit ------------------------------------------------------------

@dataclass
class OrdinalFit:
    item: str
    n: int
    levels: list[str]                 # answer labels observed, low to high
    counts: list[int]
    n_params: int                     # slopes (thresholds are extra)
    status: str                       # "ok" | "not estimable" | "not fitted"
    message: str = ""
    converged: bool | None = None
    warnings: list[str] = field(default_factory=list)
    coefs: pd.DataFrame = field(default_factory=pd.DataFrame)
    term_tests: pd.DataFrame = field(default_factory=pd.DataFrame)
    thresholds: list[float] = field(default_factory=list)
    llf: float = math.nan
    separation: dict[str, int] = field(default_factory=dict)

    @property
    def effective_n(self) -> float:
        return effective_n_ordinal(self.counts)

    @property
    def epp(self) -> float:
        return self.effective_n / self.n_params if self.n_params else math.inf


def _rank(y_codes: pd.Series, scale: Sequence[str]) -> tuple[np.ndarray, list[str], list[int]]:
    codes = np.asarray(y_codes, dtype=int)
    observed = sorted(set(codes.tolist()))
    rank = np.searchsorted(observed, codes)
    counts = [int((codes == c).sum()) for c in observed]
    return rank, [scale[c] for c in observed], counts


def _om_fit(y, X, offset=None):
    from statsmodels.miscmodels.ordinal_model import OrderedModel

    exog = X if (X is not None and X.shape[1] > 0) else None
    model = OrderedModel(y, exog, offset=offset, distr="logit")
    return model.fit(method="bfgs", maxiter=5000, disp=False, gtol=1e-7)


def fit_po(design: Design, y_codes: pd.Series, *, item: str, scale: Sequence[str], ci_level: float = 0.95,
           profile: bool = True) -> OrdinalFit:
    """Proportional-odds model of one item on the design (complete cases in ``design``)."""
    y_rank, levels, counts = _rank(y_codes, scale)
    fit = OrdinalFit(item, len(y_rank), levels, counts, design.X.shape[1], "ok")
    if len(levels) < 2:
        fit.status, fit.message = "not fitted", "every respondent gave the same answer"
        return fit
    sep = ordinal_separation(design.X, y_rank)
    fit.separation = sep
    if sep:
        names = ", ".join(f"'{design.label(c)}' ({'+' if d > 0 else '-'}Inf)" for c, d in sep.items())
        fit.status = "not estimable"
        fit.message = (f"SEPARATION: the proportional-odds estimate is infinite for {names}; the model is not "
                       "reported for this item (see the collapsed Firth analysis, which stays finite)")
        return fit
    K = len(levels)
    with captured_warnings() as caught:
        res = _om_fit(y_rank, design.X)
        params = np.asarray(res.params, dtype=float)
        se = np.asarray(res.bse, dtype=float)
        p = design.X.shape[1]
        if profile:
            ci = profile_ci(design.X.to_numpy(float), y_rank, params, se, float(res.llf), K, ci_level)
            ci_method = "profile likelihood"
        else:
            z = stats.norm.ppf(0.5 + ci_level / 2)
            ci = np.column_stack([params[:p] - z * se[:p], params[:p] + z * se[:p]])
            ci_method = "Wald"
        lr = {}
        for term, cols in design.term_columns.items():
            r0 = _om_fit(y_rank, design.X.drop(columns=cols))
            lr[term] = (max(0.0, 2.0 * (res.llf - r0.llf)), len(cols))
    fit.warnings = warning_messages(caught)
    fit.converged = bool(res.mle_retvals.get("converged", False))
    fit.llf = float(res.llf)
    fit.thresholds = [float(t) for t in res.model.transform_threshold_params(res.params)[1:-1]]
    rows = []
    for j, col in enumerate(design.X.columns):
        term = design.term_of(col)
        chi2, df = lr[term]
        rows.append({
            "item": item, "column": col, "term": term, "label": design.label(col), "log_or": params[j],
            "se_wald": se[j], "odds_ratio": math.exp(params[j]),
            "ci_low": math.exp(ci[j, 0]), "ci_high": math.exp(ci[j, 1]), "ci_method": ci_method,
            "p_value": float(stats.chi2.sf(chi2, df)) if df == 1 else math.nan,
            "p_wald": float(2 * stats.norm.sf(abs(params[j] / se[j]))) if se[j] > 0 else math.nan,
        })
    fit.coefs = pd.DataFrame(rows)
    fit.term_tests = pd.DataFrame([
        {"item": item, "term": t, "label": design.label(design.term_columns[t][0]).split(":")[0]
         if df > 1 else design.label(design.term_columns[t][0]),
         "df": df, "chi2": c, "p_value": float(stats.chi2.sf(c, df)), "test": f"likelihood ratio ({df} df)"}
        for t, (c, df) in lr.items()])
    if not fit.converged:
        fit.message = "the optimiser did not converge; estimates are unreliable"
    return fit


# --- proportional-odds check ---------------------------------------------------------

@dataclass
class POCheck:
    item: str
    assessable: bool
    reason: str
    splits_used: list[str]
    tests: pd.DataFrame                # overall + per column
    split_estimates: pd.DataFrame      # per split x column: ML (if assessable) and Firth log-ORs


def brant_test(design: Design, y_codes: pd.Series, *, item: str, scale: Sequence[str],
               min_split_n: int = 5) -> POCheck:
    """Brant's Wald test of proportional odds over the usable cumulative splits."""
    import statsmodels.api as sm
    from firthmodels import FirthLogisticRegression, detect_separation

    y_rank, levels, counts = _rank(y_codes, scale)
    n = len(y_rank)
    X = design.X.to_numpy(float)
    Xc = np.column_stack([np.ones(n), X])
    p = X.shape[1]
    splits = []
    for k in range(len(levels) - 1):
        above = int((y_rank > k).sum())
        splits.append((k, f"above '{levels[k]}'", above))
    usable = [(k, name) for k, name, above in splits if min(above, n - above) >= min_split_n]
    est_rows = []
    fits = {}
    separated = []
    with captured_warnings():
        for k, name, above in splits:
            z = (y_rank > k).astype(float)
            if z.min() == z.max():
                continue
            firth = FirthLogisticRegression(fit_intercept=True, backend="numpy", max_iter=200).fit(X, z)
            sep = detect_separation(X, z, fit_intercept=True).separation
            ml = None
            if not sep:
                ml = sm.GLM(z, Xc, family=sm.families.Binomial()).fit()
                fits[k] = ml
            elif (k, name) in usable:
                separated.append(name)
                usable.remove((k, name))
            for j, col in enumerate(design.X.columns):
                est_rows.append({"item": item, "split": name, "n_above": above, "n_below": n - above,
                                 "used_in_test": (k, name) in usable, "column": col, "label": design.label(col),
                                 "log_or_ml": float(ml.params[j + 1]) if ml is not None else math.nan,
                                 "log_or_firth": float(firth.coef_[j])})
    split_est = pd.DataFrame(est_rows)
    if len(split_est):
        used = {name for _, name in usable}
        split_est["used_in_test"] = split_est["split"].isin(used)
    names = [name for _, name in usable]
    note = f"split(s) {', '.join(separated)} dropped: separated" if separated else ""
    if len(usable) < 2:
        reason = (f"fewer than two cumulative splits have {min_split_n}+ respondents on each side "
                  "and no separation") + (f" ({note})" if note else "")
        return POCheck(item, False, reason, names, pd.DataFrame(), split_est)
    ks = [k for k, _ in usable]
    pis = {k: np.asarray(fits[k].mu) for k in ks}
    S = len(ks)
    V = np.zeros((S * p, S * p))
    inv = {}
    for k in ks:
        w = pis[k] * (1 - pis[k])
        inv[k] = np.linalg.inv(Xc.T @ (Xc * w[:, None]))
    for a, k in enumerate(ks):
        for b, l in enumerate(ks):
            if b < a:
                continue
            if k == l:
                cov = inv[k]
            else:
                # k < l: P(y>l) <= P(y>k); w_kl = pi_l - pi_k * pi_l
                w = pis[l] - pis[k] * pis[l]
                cov = inv[k] @ (Xc.T @ (Xc * w[:, None])) @ inv[l]
            blk = cov[1:, 1:]
            V[a * p:(a + 1) * p, b * p:(b + 1) * p] = blk
            V[b * p:(b + 1) * p, a * p:(a + 1) * p] = blk.T
    beta = np.concatenate([np.asarray(fits[k].params)[1:] for k in ks])
    D = np.zeros(((S - 1) * p, S * p))
    for s in range(1, S):
        D[(s - 1) * p:s * p, 0:p] = np.eye(p)
        D[(s - 1) * p:s * p, s * p:(s + 1) * p] = -np.eye(p)
    rows = []
    d = D @ beta
    M = D @ V @ D.T
    chi2 = float(d @ np.linalg.solve(M, d))
    df = (S - 1) * p
    rows.append({"item": item, "column": "(omnibus)", "label": "All predictors", "chi2": chi2, "df": df,
                 "p_value": float(stats.chi2.sf(chi2, df))})
    for j, col in enumerate(design.X.columns):
        idx = [s * p + j for s in range(S)]
        Dj = np.zeros((S - 1, S * p))
        for s in range(1, S):
            Dj[s - 1, idx[0]] = 1.0
            Dj[s - 1, idx[s]] = -1.0
        dj = Dj @ beta
        cj = float(dj @ np.linalg.solve(Dj @ V @ Dj.T, dj))
        rows.append({"item": item, "column": col, "label": design.label(col), "chi2": cj, "df": S - 1,
                     "p_value": float(stats.chi2.sf(cj, S - 1))})
    return POCheck(item, True, note, names, pd.DataFrame(rows), split_est)


# --- collapsed sensitivity -------------------------------------------------------------

def collapsed_sensitivity(design: Design, y_binary: pd.Series, po: OrdinalFit | None, *, item: str,
                          event_label: str, ci_level: float = 0.95) -> tuple[pd.DataFrame, dict]:
    """Firth logistic regression of the collapsed outcome, side by side with the PO odds ratios."""
    y = pd.Series(np.asarray(y_binary, dtype=int), index=design.X.index)
    n_ev = int(y.sum())
    info = {"item": item, "n": len(y), "n_events": n_ev, "separation": False, "status": "ok", "message": ""}
    if n_ev in (0, len(y)):
        info.update(status="not fitted", message=f"every respondent is on one side ({n_ev}/{len(y)} {event_label})")
        return pd.DataFrame(), info
    sep = check_separation(design, y, outcome_label=f"{item} ({event_label})", event=event_label,
                           non_event=f"not {event_label}")
    f = fit_firth(design, y, outcome=item, ci_level=ci_level)
    info.update(separation=sep.separated, message=sep.message if sep.separated else f.message,
                converged=f.converged, warnings=" | ".join(f.warnings))
    po_coefs = po.coefs.set_index("column") if (po is not None and len(po.coefs)) else pd.DataFrame()
    rows = []
    for _, r in f.coefs.iterrows():
        row = {"item": item, "column": r["column"], "label": r["label"], "n": len(y), "n_events": n_ev,
               "firth_or": r["odds_ratio"], "firth_ci_low": r["ci_low"], "firth_ci_high": r["ci_high"],
               "firth_p": r["p_value"], "separation": "infinite" if sep.directions.get(r["column"], 0) else "none"}
        if r["column"] in po_coefs.index:
            pr = po_coefs.loc[r["column"]]
            row.update({"po_or": pr["odds_ratio"], "po_ci_low": pr["ci_low"], "po_ci_high": pr["ci_high"],
                        "po_p": pr["p_value"]})
            row["same_direction"] = bool(np.sign(math.log(pr["odds_ratio"])) == np.sign(math.log(r["odds_ratio"])))
        else:
            row.update({"po_or": math.nan, "po_ci_low": math.nan, "po_ci_high": math.nan, "po_p": math.nan,
                        "same_direction": None})
        rows.append(row)
    return pd.DataFrame(rows), info
