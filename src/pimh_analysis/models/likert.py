"""Likert and ordinal answer scales, distributions and agreement rates with Wilson intervals.

Answer labels are matched by text, never by the categorical order stored in
the processed file, so a cleaning stage that orders a scale high-to-low cannot
silently flip a model.  Any label outside the expected scale (other than a
missing code) raises a ``ValueError`` naming the variable and the value.
"""

from __future__ import annotations

import math
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from .spec import MISSING_CODES

AGREE_SCALE: tuple[str, ...] = ("Strongly disagree", "Disagree", "Neither agree or disagree", "Agree",
                                "Strongly agree")
# codebook order (positive first), as printed in Appendix 1
SATISFACTION_SCALE: tuple[str, ...] = ("Very satisfied", "Satisfied", "Neither satisfied nor dissatisfied",
                                       "Dissatisfied", "Very dissatisfied")
SATISFACTION_NEG_TO_POS: tuple[str, ...] = tuple(reversed(SATISFACTION_SCALE))
FREQUENCY_SCALE: tuple[str, ...] = ("Fortnightly", "Once a month", "Every two to three months",
                                    "Every six months", "Once a year")

BARRIER_ITEMS: dict[str, str] = {
    "q43_no_obstacles": "There are no obstacles to developing the role",
    "q43_no_funding": "Not enough funding to commission the role",
    "q43_commissioners_pimh": "Commissioners do not understand the importance of PIMH",
    "q43_commissioners_hv_role": "Commissioners do not understand the HV role in PIMH",
    "q43_overestimate_hv": "Commissioners overestimate non-specialist HVs' confidence",
    "q43_recruitment": "It is difficult to recruit to the role",
    "q43_retention": "Retention in the role is very low",
    "q43_hv_confidence": "HVs generally lack confidence with PIMH difficulties",
}
# agreement with this statement means *fewer* barriers
REVERSE_WORDED = ("q43_no_obstacles",)

SUPERVISION_TYPES = ("clinical", "managerial", "safeguarding", "restorative", "reflective", "informal_peer",
                     "formal_peer", "none")
SUPERVISION_TYPE_LABELS = {
    "clinical": "Clinical", "managerial": "Managerial", "safeguarding": "Safeguarding",
    "restorative": "Restorative", "reflective": "Reflective", "informal_peer": "Informal peer group",
    "formal_peer": "Formal peer group", "none": "None",
}
SUPERVISION_PROVIDERS = ("hv_mh", "clin_psych", "child_psychotherapist", "adult_psychiatrist",
                         "adult_psychotherapist", "perinatal_psychiatrist", "mh_nurse", "other")
CONSULT_PROVIDERS = SUPERVISION_PROVIDERS[:-1]
PROVIDER_LABELS = {
    "hv_mh": "Health visitor with mental health training", "clin_psych": "Clinical psychologist",
    "child_psychotherapist": "Child and adolescent psychotherapist", "adult_psychiatrist": "Adult psychiatrist",
    "adult_psychotherapist": "Adult psychotherapist", "perinatal_psychiatrist": "Specialist perinatal psychiatrist",
    "mh_nurse": "Mental health nurse", "other": "Other",
}


def wilson_interval(count: int, nobs: int, ci_level: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for count/nobs (proportion scale), via :func:`pimh_analysis.stats.wilson_ci`."""
    from ..stats import wilson_ci

    if nobs <= 0:
        return (math.nan, math.nan)
    lo, hi = wilson_ci(int(count), int(nobs), ci_level)
    return float(lo), float(hi)


def to_codes(series: pd.Series, scale: Sequence[str], var: str | None = None) -> pd.Series:
    """Answer labels -> 0..K-1 in ``scale`` order (nullable Int64); missing codes -> <NA>."""
    name = var or series.name
    pos = {lab: i for i, lab in enumerate(scale)}
    out = []
    for v in series.astype("object").tolist():
        if v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v)) or str(v) in MISSING_CODES:
            out.append(pd.NA)
        elif str(v) in pos:
            out.append(pos[str(v)])
        else:
            raise ValueError(f"{name}: answer {v!r} is not on the expected scale {list(scale)}")
    return pd.Series(pd.array(out, dtype="Int64"), index=series.index, name=name)


def likert_distribution(df: pd.DataFrame, items: Sequence[str], scale: Sequence[str] = AGREE_SCALE,
                        labels: Mapping[str, str] | None = None) -> pd.DataFrame:
    """Counts and percentages of each answer per item (missing codes and skips excluded)."""
    labels = labels or BARRIER_ITEMS
    rows = []
    for item in items:
        codes = to_codes(df[item], scale, item)
        base = int(codes.notna().sum())
        for k, lev in enumerate(scale):
            cnt = int((codes == k).sum())
            rows.append({"item": item, "label": labels.get(item, item), "level": lev, "level_order": k,
                         "n": cnt, "denominator": base, "pct": 100.0 * cnt / base if base else math.nan})
    return pd.DataFrame(rows)


def agreement_rates(df: pd.DataFrame, items: Sequence[str], event_levels: Sequence[str],
                    scale: Sequence[str] = AGREE_SCALE, ci_level: float = 0.95,
                    labels: Mapping[str, str] | None = None) -> pd.DataFrame:
    """Per item: respondents choosing any of ``event_levels``, the base, % and Wilson CI."""
    labels = labels or BARRIER_ITEMS
    idx = [scale.index(l) for l in event_levels]
    rows = []
    for item in items:
        codes = to_codes(df[item], scale, item)
        base = int(codes.notna().sum())
        cnt = int(codes.isin(idx).sum())
        lo, hi = wilson_interval(cnt, base, ci_level)
        rows.append({"item": item, "label": labels.get(item, item), "n_agree": cnt, "denominator": base,
                     "n_missing": int(len(codes) - base), "pct": 100.0 * cnt / base if base else math.nan,
                     "ci_low_pct": 100.0 * lo, "ci_high_pct": 100.0 * hi,
                     "reverse_worded": item in REVERSE_WORDED})
    return pd.DataFrame(rows)


def tick_rates(df: pd.DataFrame, variables: Mapping[str, str], ci_level: float = 0.95,
               base_mask: pd.Series | None = None) -> pd.DataFrame:
    """Share ticking each multiple-choice option among those shown the item (Wilson CIs).

    The base is the respondents with non-missing ticks in the item (0/1: the
    item was shown), optionally restricted by ``base_mask`` (e.g. Q18 = Yes);
    ``variables`` maps column -> plain label.
    """
    cols = list(variables)
    block = df[cols].astype("Float64")
    answered = block.notna().any(axis=1)
    if base_mask is not None:
        answered &= base_mask.fillna(False).astype(bool)
    base = int(answered.sum())
    rows = []
    for col, label in variables.items():
        cnt = int((block.loc[answered, col].fillna(0) == 1).sum())
        lo, hi = wilson_interval(cnt, base, ci_level)
        rows.append({"variable": col, "label": label, "n": cnt, "denominator": base,
                     "pct": 100.0 * cnt / base if base else math.nan,
                     "ci_low_pct": 100.0 * lo, "ci_high_pct": 100.0 * hi})
    return pd.DataFrame(rows)


def level_rates(series: pd.Series, scale: Sequence[str], ci_level: float = 0.95, *,
                cumulative: bool = False, label: str | None = None) -> pd.DataFrame:
    """Share of each answer (Wilson CIs); ``cumulative`` adds "this or more often/better" shares."""
    codes = to_codes(series, scale, series.name)
    base = int(codes.notna().sum())
    rows = []
    running = 0
    for k, lev in enumerate(scale):
        cnt = int((codes == k).sum())
        running += cnt
        lo, hi = wilson_interval(cnt, base, ci_level)
        row = {"variable": series.name, "question": label or series.name, "level": lev, "n": cnt,
               "denominator": base, "pct": 100.0 * cnt / base if base else math.nan,
               "ci_low_pct": 100.0 * lo, "ci_high_pct": 100.0 * hi}
        if cumulative:
            clo, chi = wilson_interval(running, base, ci_level)
            row.update({"n_cumulative": running, "pct_cumulative": 100.0 * running / base if base else math.nan,
                        "ci_low_pct_cumulative": 100.0 * clo, "ci_high_pct_cumulative": 100.0 * chi})
        rows.append(row)
    return pd.DataFrame(rows)
