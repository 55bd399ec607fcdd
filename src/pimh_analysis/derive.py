"""Derived analysis variables, each defined once here and documented in :data:`DERIVED`.

Models, tables and the audit use these names; keep them.  Binary flags are
nullable booleans (``boolean`` dtype): ``True``/``False`` for a substantive
answer, missing for a missing code ("Prefer not to say", ...), an empty answer
or a question that did not apply.  Categorical variables keep a fixed category
order.

Region and nation come from the Q7 post-code prefix ("first three characters of
your work post code"): its post-code **area** (the leading one or two letters)
is looked up in ``resources/postcode_areas.csv``, which gives every UK area its
region, in the report's vocabulary, and nation.  Areas straddling a boundary
(e.g. CH, SY, TD) are mapped to their majority region and flagged there.  The
prefix itself is personal data: cleaning drops it after this step.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Callable, Mapping

import numpy as np
import pandas as pd

from . import paths

REGIONS: tuple[str, ...] = (
    "East England", "East Midlands", "Greater London", "North East", "North West", "Northern Ireland",
    "Scotland", "South East", "South West", "Wales", "West Midlands", "Yorkshire and the Humber",
)  # the report's demography table, alphabetical, plus Yorkshire and the Humber (no respondent in the report)
NATIONS: tuple[str, ...] = ("England", "Wales", "Scotland", "Northern Ireland")
YEARS_BANDS: tuple[str, ...] = ("Less than 1 year", "1 to 5 years", "6 or more years")

_PREFIX = re.compile(r"^([A-Z]{1,2})\d")


@lru_cache(maxsize=2)
def load_postcode_areas(path: str | None = None) -> pd.DataFrame:
    """``area, post_town, region, nation, ambiguous, note`` for every UK post-code area."""
    df = pd.read_csv(path or paths.postcode_areas_file(), dtype=str, keep_default_na=False)
    df["ambiguous"] = df["ambiguous"].str.lower().eq("true")
    return df


def postcode_area(prefix: pd.Series) -> pd.Series:
    """The post-code area (``OX`` of ``OX3``, ``B`` of ``B15``) of each prefix; missing if none."""
    codes, uniques = pd.factorize(prefix, use_na_sentinel=True)
    areas = []
    for u in uniques:
        m = _PREFIX.match(re.sub(r"\s+", "", str(u)).upper())
        areas.append(m.group(1) if m else None)
    return _take(areas, np.asarray(codes), prefix.index).astype("string")


def _take(values: list, codes: np.ndarray, index: pd.Index) -> pd.Series:
    lookup = np.array(list(values) + [None], dtype=object)
    return pd.Series(lookup[np.where(codes < 0, len(values), codes)], index=index, dtype=object)


@lru_cache(maxsize=1)
def _area_maps() -> tuple[dict, dict]:
    areas = load_postcode_areas()
    return dict(zip(areas["area"], areas["region"])), dict(zip(areas["area"], areas["nation"]))


def region_nation(prefix: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Region and nation (categoricals in :data:`REGIONS` / :data:`NATIONS` order) of each post-code prefix."""
    to_region, to_nation = _area_maps()
    codes, uniques = pd.factorize(prefix, use_na_sentinel=True)
    codes = np.asarray(codes)
    region, nation = [], []
    for u in uniques:
        m = _PREFIX.match(re.sub(r"\s+", "", str(u)).upper())
        area = m.group(1) if m else None
        region.append(to_region.get(area))
        nation.append(to_nation.get(area))
    r = _take(region, codes, prefix.index)
    n = _take(nation, codes, prefix.index)
    return (pd.Series(pd.Categorical(r, categories=list(REGIONS)), index=prefix.index),
            pd.Series(pd.Categorical(n, categories=list(NATIONS)), index=prefix.index))


def _flag(s: pd.Series, true: set[str], false: set[str]) -> pd.Series:
    """True for ``true`` labels, False for ``false`` labels, missing otherwise (by distinct value)."""
    if isinstance(s.dtype, pd.CategoricalDtype):
        codes = np.asarray(s.cat.codes)
        uniques = list(s.cat.categories)
    else:
        codes, uniques = pd.factorize(s, use_na_sentinel=True)
        codes = np.asarray(codes)
    val = np.array([1 if str(u) in true else (0 if str(u) in false else -1) for u in uniques] + [-1], dtype=np.int8)
    v = val[np.where(codes < 0, len(uniques), codes)]
    return pd.Series(pd.arrays.BooleanArray(v == 1, v < 0), index=s.index)


NEEDS_BELOW = {"far below the level of my needs", "moderately below the level of my needs"}
NEEDS_NOT_BELOW = {"reflective of the level of my needs", "moderately above the level of my needs",
                   "far above the level of my needs"}
DIRECT_YES = "Yes, I work directly with families experiencing mental health difficulties"
DIRECT_NO = "No, my responsibilities are mostly supervisory and training"


def _years_band(df: pd.DataFrame) -> pd.Series:
    s = df["q02_years_in_role"]
    mapping = {"Less than 1 year": YEARS_BANDS[0], "1 to 5 years": YEARS_BANDS[1], "6 to 10 years": YEARS_BANDS[2],
               "Over 10 years": YEARS_BANDS[2]}
    codes, uniques = pd.factorize(s, use_na_sentinel=True)
    vals = _take([mapping.get(str(u)) for u in uniques], np.asarray(codes), df.index)
    return pd.Series(pd.Categorical(vals, categories=list(YEARS_BANDS), ordered=True), index=df.index)


def _tick_matrix(df: pd.DataFrame, cols: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """(ticked, answered) boolean matrices of tick columns (nullable Int8 or text 0/1)."""
    ticked, answered = [], []
    for c in cols:
        s = df[c]
        a = s.notna().to_numpy(dtype=bool)
        if pd.api.types.is_integer_dtype(s.dtype):
            t = s.fillna(0).to_numpy(dtype=np.int64) > 0
        else:
            t = s.astype("string").eq("1").fillna(False).to_numpy(dtype=bool)
        ticked.append(t & a)
        answered.append(a)
    return np.column_stack(ticked), np.column_stack(answered)


def _any_ticked(df: pd.DataFrame, cols: list[str]) -> pd.Series:
    """True if any of ``cols`` is ticked, False if all are 0, missing if the item was not answered."""
    ticked, answered = _tick_matrix(df, cols)
    return pd.Series(pd.arrays.BooleanArray(ticked.any(axis=1), ~answered.all(axis=1)), index=df.index)


def _count_ticked(df: pd.DataFrame, cols: list[str]) -> pd.Series:
    ticked, answered = _tick_matrix(df, cols)
    return pd.Series(pd.arrays.IntegerArray(ticked.sum(axis=1).astype(np.int16), ~answered.all(axis=1)),
                     index=df.index)


Q11_TRAININGS = ["q11_pg_cert_diploma", "q11_masters", "q11_ihv_champions", "q11_itsiey", "q11_solihull",
                 "q11_aimh_workshop", "q11_fatherhood", "q11_pmh_network", "q11_brain_story"]

# name -> (wording, source variables, function)
DERIVED: dict[str, tuple[str, tuple[str, ...], Callable[[pd.DataFrame], pd.Series]]] = {
    "region": ("Region of the work post code (post-code area -> region, resources/postcode_areas.csv; the report's "
               "region names)", ("q07_postcode_prefix",), lambda df: region_nation(df["q07_postcode_prefix"])[0]),
    "nation": ("UK nation of the work post code (England, Wales, Scotland, Northern Ireland)",
               ("q07_postcode_prefix",), lambda df: _nation(df)),
    "years_in_role_band": ("Years in the current role in three bands: less than 1, 1 to 5, 6 or more (Q2)",
                           ("q02_years_in_role",), _years_band),
    "years_6plus": ("Six or more years in the current role (Q2 '6 to 10 years' or 'Over 10 years'; false for the "
                    "other two bands)", ("q02_years_in_role",),
                    lambda df: _flag(df["q02_years_in_role"], {"6 to 10 years", "Over 10 years"},
                                     {"Less than 1 year", "1 to 5 years"})),
    "band_7plus": ("NHS pay band 7 or above (Q4a Band 7-9; false for Band 4-6; missing for 'outside NHS' and "
                   "'Prefer not to say')", ("q04a_pay_band",),
                   lambda df: _flag(df["q04a_pay_band"], {"Band 7", "Band 8", "Band 9"},
                                    {"Band 4", "Band 5", "Band 6"})),
    "commissioned": ("The post is formally commissioned (Q5; false for an informal lead role or 'Other')",
                     ("q05_post_status",),
                     lambda df: _flag(df["q05_post_status"], {"Formally commissioned"},
                                      {"Informal (known within the organisation as informal lead for PIMH)",
                                       "Other"})),
    "part_time": ("Works part time (Q6a; false for full time)", ("q06a_hours",),
                  lambda df: _flag(df["q06a_hours"], {"Part time"}, {"Full time"})),
    "service_universal": ("Works in the universal health visiting service (Q8; false for any other service)",
                          ("q08_service",),
                          lambda df: _flag(df["q08_service"], {"Universal Health Visiting Service"},
                                           {"Not applicable", "CAMHS", "Adult Mental Health Services",
                                            "Perinatal Mental Health Service", "Parent-Infant Mental Health Service",
                                            "Maternity Services", "Local Authority", "Flying Start (Wales)",
                                            "Third Sector (Voluntary) Organisation", "Other"})),
    "postgrad_qualification": ("Holds a postgraduate certificate/diploma or a Master's degree (Q11 reconstructed "
                               "options; missing if Q11 unanswered)", ("q11_pg_cert_diploma", "q11_masters"),
                               lambda df: _any_ticked(df, ["q11_pg_cert_diploma", "q11_masters"])),
    "n_trainings": ("Number of Q11 qualifications and trainings ticked (missing if Q11 unanswered)",
                    tuple(Q11_TRAININGS), lambda df: _count_ticked(df, Q11_TRAININGS)),
    "cpd_funding_below_needs": ("Financial resources for CPD below the respondent's needs (Q13 'far' or "
                                "'moderately below')", ("q13_cpd_funding",),
                                lambda df: _flag(df["q13_cpd_funding"], NEEDS_BELOW, NEEDS_NOT_BELOW)),
    "cpd_time_below_needs": ("Time for CPD below the respondent's needs (Q14 'far' or 'moderately below')",
                             ("q14_cpd_time",), lambda df: _flag(df["q14_cpd_time"], NEEDS_BELOW, NEEDS_NOT_BELOW)),
    "cpd_any_below_needs": ("CPD funding or time below needs (true if Q13 or Q14 is below; false if both are "
                            "answered and neither is below)", ("q13_cpd_funding", "q14_cpd_time"),
                            lambda df: _either(df["cpd_funding_below_needs"], df["cpd_time_below_needs"])),
    "any_supervision": ("Has regular PIMH supervision (Q18 'Yes'; false for 'No'; missing for 'Prefer not to say')",
                        ("q18_supervision",), lambda df: _flag(df["q18_supervision"], {"Yes"}, {"No"})),
    "supervision_monthly_plus": ("Supervision at least monthly (Q19d 'Fortnightly' or 'Once a month'; supervised "
                                 "respondents only)", ("q19d_sup_frequency",),
                                 lambda df: _flag(df["q19d_sup_frequency"], {"Fortnightly", "Once a month"},
                                                  {"Every two to three months", "Every six months", "Once a year"})),
    "satisfied_supervision": ("Satisfied or very satisfied with supervision (Q19e)", ("q19e_sup_satisfaction",),
                              lambda df: _flag(df["q19e_sup_satisfaction"], {"Very satisfied", "Satisfied"},
                                               {"Neither satisfied nor dissatisfied", "Dissatisfied",
                                                "Very dissatisfied"})),
    "consult_access": ("Has access to PIMH consultation (Q19.2 'Yes'; false for 'No'; missing for 'Prefer to not "
                       "answer')", ("q19x_consult_access",),
                       lambda df: _flag(df["q19x_consult_access"], {"Yes"}, {"No"})),
    "satisfied_consultation": ("Satisfied or very satisfied with consultations (Q21e)",
                               ("q21e_consult_satisfaction",),
                               lambda df: _flag(df["q21e_consult_satisfaction"], {"Very satisfied", "Satisfied"},
                                                {"Neither satisfied nor dissatisfied", "Dissatisfied",
                                                 "Very dissatisfied"})),
    "direct_work": ("Works directly with families with mental health difficulties (Q23 yes; false for mostly "
                    "supervisory and training)", ("q23_direct_work",),
                    lambda df: _flag(df["q23_direct_work"], {DIRECT_YES}, {DIRECT_NO})),
    "high_needs_caseload": ("Caseload primarily families with higher mental health needs (Q25; direct workers "
                            "only)", ("q25_caseload_high_needs",),
                            lambda df: _flag(df["q25_caseload_high_needs"],
                                             {"Yes, caseload consists primarily of families with higher levels of "
                                              "mental health needs"},
                                             {"No, a regular caseload within which I encounter families with mental "
                                              "health needs"})),
}


def _nation(df: pd.DataFrame) -> pd.Series:
    """Nation from the region when it is known (one lookup), else from the post code."""
    if "region" in df.columns:
        own = {"Scotland": "Scotland", "Wales": "Wales", "Northern Ireland": "Northern Ireland"}
        cats = list(df["region"].cat.categories)
        nat = [own.get(c, "England") for c in cats]
        codes = np.asarray(df["region"].cat.codes)
        vals = _take(nat, codes, df.index)
        return pd.Series(pd.Categorical(vals, categories=list(NATIONS)), index=df.index)
    return region_nation(df["q07_postcode_prefix"])[1]


def _either(a: pd.Series, b: pd.Series) -> pd.Series:
    """Kleene OR: True if either is True, False if both are False, missing otherwise."""
    return (a.astype("boolean") | b.astype("boolean")).astype("boolean")


def derived_table() -> pd.DataFrame:
    """One row per derived variable: name, wording, source variables."""
    return pd.DataFrame([{"variable": k, "wording": w, "sources": ", ".join(src)}
                         for k, (w, src, _f) in DERIVED.items()])


def derive(df: pd.DataFrame, names: list[str] | None = None) -> pd.DataFrame:
    """``df`` plus every derived variable (in :data:`DERIVED` order) whose sources are present."""
    out = df.copy()
    for name, (_wording, sources, fn) in DERIVED.items():
        if names is not None and name not in names:
            continue
        if not all(s in out.columns for s in sources):
            continue
        out[name] = fn(out)
    return out
