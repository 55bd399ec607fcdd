"""Synthetic respondent frames with the processed-data schema, for tests and demos only.

These are *not* the replica: they are random draws with effects planted on
purpose, so that tests can check that a model recovers a known odds ratio.
The columns, dtypes and labels follow docs/ARCHITECTURE.md section 5 and the
model contract (ordered categoricals for Likert/ordinal items, nullable Int8
ticks, nullable booleans for derived flags, not-applicable = missing).
"""

from __future__ import annotations

from typing import Mapping

import numpy as np
import pandas as pd

from .likert import (AGREE_SCALE, BARRIER_ITEMS, CONSULT_PROVIDERS, FREQUENCY_SCALE, SATISFACTION_SCALE,
                     SUPERVISION_PROVIDERS, SUPERVISION_TYPES)

PAY_BANDS = ("Band 4", "Band 5", "Band 6", "Band 7", "Band 8", "Band 9", "Prefer not to say")
YEARS = ("Less than 1 year", "1 to 5 years", "6 to 10 years", "Over 10 years")
SERVICES = ("Universal health visiting service", "Perinatal mental health service", "Other")
NATIONS = ("England", "Scotland", "Wales", "Northern Ireland")
REGIONS = ("East of England", "East Midlands", "London", "North East", "North West", "South East", "South West",
           "West Midlands", "Yorkshire and the Humber", "Scotland", "Wales", "Northern Ireland")


def _cat(values, categories, ordered=False) -> pd.Categorical:
    return pd.Categorical(values, categories=list(categories), ordered=ordered)


def _ordinal_draw(rng, eta: np.ndarray, cuts: np.ndarray) -> np.ndarray:
    """Proportional-odds draw: P(Y <= k) = expit(cut_k - eta)."""
    u = rng.random(len(eta))
    cum = 1.0 / (1.0 + np.exp(-(cuts[None, :] - eta[:, None])))
    return (u[:, None] > cum).sum(axis=1)


def synthetic_respondents(
    n: int = 34,
    seed: int = 0,
    *,
    barrier_log_or: Mapping[str, float] | None = None,
    supervision_log_or: Mapping[str, float] | None = None,
    consult_log_or: Mapping[str, float] | None = None,
    respondent_effect_sd: float = 0.8,
    missing_code_rate: float = 0.03,
) -> pd.DataFrame:
    """A frame like ``respondents.parquet`` with planted effects.

    ``barrier_log_or`` maps derived predictors (``commissioned``, ...) to the
    log odds ratio of higher agreement on every Q43 item (a proportional-odds
    model with a shared respondent effect of SD ``respondent_effect_sd``, so
    items are correlated within respondents).  ``supervision_log_or`` and
    ``consult_log_or`` plant log odds ratios on Q18 = Yes and consultation = Yes.
    """
    rng = np.random.default_rng(seed)
    band = rng.choice(["Band 5", "Band 6", "Band 7", "Band 8"], size=n, p=[0.04, 0.16, 0.72, 0.08])
    years = rng.choice(list(YEARS), size=n, p=[0.2, 0.5, 0.15, 0.15])
    service = rng.choice(list(SERVICES), size=n, p=[0.8, 0.15, 0.05])
    nation = rng.choice(list(NATIONS), size=n, p=[0.85, 0.05, 0.06, 0.04])
    region = np.where(nation == "England", rng.choice(list(REGIONS[:9]), size=n), nation)
    commissioned = rng.random(n) < 0.55
    direct_work = rng.random(n) < 0.65
    part_time = rng.random(n) < 0.45
    df = pd.DataFrame({"respondent_id": [f"R{i + 1:03d}" for i in range(n)]})
    band = np.where(rng.random(n) < missing_code_rate, "Prefer not to say", band)
    df["q04a_pay_band"] = _cat(band, PAY_BANDS)
    df["q02_years_in_role"] = _cat(years, YEARS, ordered=True)
    df["q08_service"] = _cat(service, SERVICES)
    df["nation"] = _cat(nation, NATIONS)
    df["region"] = _cat(region, REGIONS)
    df["commissioned"] = pd.array(commissioned, dtype="boolean")
    df["band_7plus"] = pd.array(np.isin(band, ["Band 7", "Band 8", "Band 9"]), dtype="boolean")
    df.loc[band == "Prefer not to say", "band_7plus"] = pd.NA
    df["years_6plus"] = pd.array(np.isin(years, ["6 to 10 years", "Over 10 years"]), dtype="boolean")
    df["service_universal"] = pd.array(service == SERVICES[0], dtype="boolean")
    df["direct_work"] = pd.array(direct_work, dtype="boolean")
    df["part_time"] = pd.array(part_time, dtype="boolean")

    def lin(effects: Mapping[str, float] | None) -> np.ndarray:
        eta = np.zeros(n)
        for var, b in (effects or {}).items():
            eta += b * df[var].astype("Float64").fillna(0).to_numpy(dtype=float)
        return eta

    # Q43: correlated ordinal items, proportional odds in the planted predictors
    resp = rng.normal(0.0, respondent_effect_sd, n)
    eta_b = lin(barrier_log_or) + resp
    item_shift = np.linspace(-1.0, 1.2, len(BARRIER_ITEMS))
    base_cuts = np.array([-2.5, -1.2, -0.2, 1.6])
    for j, item in enumerate(BARRIER_ITEMS):
        codes = _ordinal_draw(rng, eta_b + item_shift[j], base_cuts)
        labels = np.array(AGREE_SCALE, dtype=object)[codes]
        labels[rng.random(n) < missing_code_rate] = None
        df[item] = _cat(labels, AGREE_SCALE, ordered=True)

    # Q18 supervision, consultation access
    p_sup = 1 / (1 + np.exp(-(-0.2 + lin(supervision_log_or) - np.mean(lin(supervision_log_or)))))
    sup = np.where(rng.random(n) < p_sup, "Yes", "No").astype(object)
    sup[rng.random(n) < missing_code_rate] = "Prefer not to say"
    df["q18_supervision"] = _cat(sup, ("Yes", "No", "Prefer not to say"))
    p_con = 1 / (1 + np.exp(-(0.7 + lin(consult_log_or) - np.mean(lin(consult_log_or)))))
    con = np.where(rng.random(n) < p_con, "Yes", "No").astype(object)
    con[rng.random(n) < missing_code_rate] = "Prefer to not answer"
    df["q19x_consult_access"] = _cat(con, ("Yes", "No", "Prefer to not answer"))

    has_sup = sup == "Yes"
    has_con = con == "Yes"

    def ticks(prefix_vars, probs, mask):
        for var, p in zip(prefix_vars, probs):
            vals = (rng.random(n) < p).astype(int)
            df[var] = pd.array(np.where(mask, vals, 0), dtype="Int8")
            df.loc[~mask, var] = pd.NA

    ticks([f"q19a_suptype_{k}" for k in SUPERVISION_TYPES],
          [0.75, 0.3, 0.56, 0.2, 0.3, 0.37, 0.15, 0.0], has_sup)
    ticks([f"q19b_supby_{k}" for k in SUPERVISION_PROVIDERS],
          [0.44, 0.31, 0.19, 0.02, 0.05, 0.1, 0.12, 0.1], has_sup)
    fund = np.where(rng.random(n) < 0.9, "Funded by the employer", "Self-funded").astype(object)
    fund[~has_sup] = None
    df["q19c_sup_funding"] = _cat(fund, ("Self-funded", "Funded by the employer"))
    for var, mask, p in (("q19d_sup_frequency", has_sup, [0.18, 0.23, 0.4, 0.12, 0.07]),
                         ("q20b_consult_frequency", has_con, [0.1, 0.3, 0.35, 0.15, 0.1])):
        v = rng.choice(list(FREQUENCY_SCALE), size=n, p=p).astype(object)
        v[~mask] = None
        df[var] = _cat(v, FREQUENCY_SCALE, ordered=True)
    for var, mask in (("q19e_sup_satisfaction", has_sup), ("q21e_consult_satisfaction", has_con)):
        v = rng.choice(list(SATISFACTION_SCALE), size=n, p=[0.3, 0.4, 0.15, 0.1, 0.05]).astype(object)
        v[~mask] = None
        df[var] = _cat(v, SATISFACTION_SCALE, ordered=True)
    ticks([f"q20a_consultby_{k}" for k in CONSULT_PROVIDERS],
          [0.5, 0.45, 0.25, 0.1, 0.08, 0.3, 0.35], has_con)
    return df
