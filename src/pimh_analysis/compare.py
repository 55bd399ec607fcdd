"""Compare two survey waves item by item, with small-sample statistics and multiplicity control.

For every answer variable the two waves share (see :func:`pimh_analysis.waves.item_plan`
for which questions are shared and why the others are left out) this module computes:

* **binary and tick variables** (``Yes``/``No``, a ticked option, a matrix row with two
  substantive answers): the proportion in each wave, the difference ``new - base`` with
  Newcombe's hybrid score interval (:func:`stats.newcombe_diff_ci`), and an exact test:
  Boschloo's unconditional test by default (exact size like Fisher's test and uniformly
  more powerful than it), or Fisher's exact test or the score test (``binary_test``);
* **ordinal and Likert variables** (and rankings): the shift in the whole distribution,
  as the probability that a new-wave answer lies higher on the scale than a base-wave
  answer (``prob_superiority``, 0.5 = no shift) with the Brunner-Munzel studentised
  permutation test (:func:`stats.ordinal_shift`); a readable proportion with its Newcombe
  interval goes with it (the upper half of a Likert scale, the top category of other ordered
  scales, ranked first for rankings: :func:`_upper`), and every category's difference is in
  the by-category table;
* **nominal variables** (more than two unordered answers): a permutation chi-square test
  of homogeneity, and every category's difference with its Newcombe interval.

Denominators are the respondents of each wave with a substantive answer (missing codes
such as ``Prefer not to say`` and not-applicable cells are left out), so a variable
asked only of the supervised is compared among the supervised of each wave.

**Multiplicity.** The comparisons fall into two families, each controlled at ``alpha``:

* *primary*: a few variables pre-specified in ``params.yaml`` (``compare_settings.primary``)
  before the new wave is seen: Holm's step-down procedure, which controls the
  family-wise error rate (the chance of any false claim of change) under any dependence
  between the tests.  These are the confirmatory questions of the re-survey.
* *exploratory*: every other shared variable: Benjamini-Hochberg, which controls the false
  discovery rate (the expected share of false claims among the changes flagged).  With a
  few hundred variables and a few dozen respondents a family-wise correction would leave
  almost no power; the FDR is the usual compromise for screening, and its findings are
  hypotheses for the next wave, not conclusions.

Every row reports the raw p-value, the adjusted p-value within its family, and, for
reference, Holm's adjustment over *all* tests (``p_holm_all``).  Variables with no
variation in either wave, or no answers in one, cannot be tested; they are listed with
``test = "not tested"`` and do not count in any family.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from . import stats
from .instrument import Codebook, Column

KINDS = ("binary", "tick", "ordinal", "nominal")
BINARY_TESTS = ("boschloo", "fisher", "score")
#: Matrix items typed ``matrix`` in the codebook whose scale is nevertheless ordered (low to high).
ORDERED_MATRIX_SCALES = frozenset({"delivery_frequency"})
DEFAULT_ALPHA = 0.05
DEFAULT_PRIMARY_ADJUST = "holm"
DEFAULT_EXPLORATORY_ADJUST = "bh"
NOT_TESTED = "not tested"

TEST_NAMES = {
    "boschloo": "Boschloo exact",
    "fisher": "Fisher exact",
    "score": "score (z) test",
    "ordinal": "Brunner-Munzel permutation",
    "nominal": "chi-square permutation",
}
ADJUST_NAMES = {"holm": "Holm", "bh": "Benjamini-Hochberg", "fdr_bh": "Benjamini-Hochberg"}
ADJUST_CONTROLS = {"holm": "family-wise error rate", "bh": "false discovery rate", "fdr_bh": "false discovery rate"}

RESULT_COLUMNS = [
    "var", "item_id", "question", "option", "kind", "family", "flag", "proportion_of",
    "n_base", "denominator_base", "percent_base", "n_new", "denominator_new", "percent_new",
    "diff", "ci_low", "ci_high", "prob_superiority", "test", "p_value", "p_adjusted", "adjust_method",
    "significant", "p_holm_all", "note",
]
CATEGORY_COLUMNS = [
    "var", "item_id", "option", "kind", "category", "n_base", "denominator_base", "percent_base",
    "n_new", "denominator_new", "percent_new", "diff", "ci_low", "ci_high",
]


# --- what is compared, and how ------------------------------------------------------------


@dataclass(frozen=True)
class Variable:
    """One answer variable to compare and how.

    ``categories``: the substantive answers (low to high for ordinal variables);
    ``success``: the answer counted by a binary/tick proportion; ``upper``: the
    categories summed into the readable proportion of an ordinal variable.
    """

    var: str
    item_id: str
    question: str
    option: str
    kind: str
    categories: tuple[str, ...]
    success: str | None = None
    upper: tuple[str, ...] = ()
    flag: str = ""

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"{self.var}: kind must be one of {KINDS}, not {self.kind!r}")

    @property
    def proportion_of(self) -> str:
        if self.kind == "tick":
            return "ticked"
        if self.kind == "binary":
            return str(self.success)
        if self.kind == "ordinal":
            return " or ".join(self.upper)
        return ""


def _item_index(book: Codebook) -> dict[str, Mapping]:
    return {str(i["id"]): i for i in book.items}


def column_kind(col: Column, item: Mapping | None = None) -> str | None:
    """How a codebook column is compared (one of :data:`KINDS`), or ``None`` if it is not.

    Free text and personal data are not compared; a question with a single answer option
    (consent) has nothing to compare.
    """
    if col.is_text:
        return None
    if col.is_tick:
        return "tick"
    if col.ranking or col.scale_order:
        return "ordinal"
    if col.type == "matrix" and item is not None and item.get("scale") in ORDERED_MATRIX_SCALES:
        return "ordinal"
    n = len(col.substantive_values)
    if n == 2:
        return "binary"
    if n > 2:
        return "nominal"
    return None


def _upper(categories: Sequence[str], ranking: bool, agreement_like: bool) -> tuple[str, ...]:
    """The categories summed into an ordinal variable's readable proportion.

    Rankings: ranked first (1 = most important).  Likert and ordered matrix scales: the upper
    half of the scale (e.g. agree or strongly agree; satisfied or very satisfied).  Other
    ordinal scales (years, bands, frequencies): the top category (e.g. every six months).
    """
    if ranking:
        return (categories[0],)
    if agreement_like:
        k = len(categories)
        return tuple(categories[k - max(1, k // 2):])
    return (categories[-1],)


def variable_for(col: Column, item: Mapping | None = None, flag: str = "") -> Variable | None:
    """The :class:`Variable` comparing ``col``, or ``None`` when the column is not compared."""
    kind = column_kind(col, item)
    if kind is None:
        return None
    option = col.option_label or ""
    if kind == "tick":
        return Variable(col.var, col.item_id, col.wording, option, kind, ("0", "1"), success="1", flag=flag)
    subst = tuple(col.substantive_values)
    if kind == "binary":
        success = "Yes" if "Yes" in subst else subst[0]
        return Variable(col.var, col.item_id, col.wording, option, kind, subst, success=success, flag=flag)
    if kind == "ordinal":
        cats = tuple(col.scale_order) if col.scale_order else subst
        upper = _upper(cats, col.ranking, col.type in ("likert", "matrix"))
        return Variable(col.var, col.item_id, col.wording, option, kind, cats, upper=upper, flag=flag)
    return Variable(col.var, col.item_id, col.wording, option, kind, subst, flag=flag)


def variables_for(book: Codebook, item_ids: Iterable[str], flags: Mapping[str, str] | None = None) -> list[Variable]:
    """Every comparable answer variable of the items ``item_ids``, in codebook order.

    ``flags`` maps an item id to a note carried on each of its rows (e.g. a rewording).
    """
    wanted = set(item_ids)
    flags = dict(flags or {})
    items = _item_index(book)
    out = []
    for col in book.columns:
        if col.item_id not in wanted:
            continue
        v = variable_for(col, items.get(col.item_id), flags.get(col.item_id, ""))
        if v is not None:
            out.append(v)
    return out


def parse_primary(text: str | Iterable[str] | None) -> tuple[str, ...]:
    """Primary variables from the params string ``"q18_supervision + q43_no_funding"`` (or ``,``-separated).

    A string because DVC cannot pass a list to a notebook parameter.  Order is kept;
    duplicates are dropped.
    """
    if text is None:
        return ()
    if isinstance(text, str):
        parts = [p.strip() for chunk in text.split("+") for p in chunk.split(",")]
    else:
        parts = [str(p).strip() for p in text]
    return tuple(dict.fromkeys(p for p in parts if p))


# --- answers --------------------------------------------------------------------------------


def answers(series: pd.Series) -> pd.Series:
    """Non-missing answers of one variable as text (``"1"`` for a tick stored as 1, 1.0 or True)."""
    s = series
    if isinstance(s.dtype, pd.CategoricalDtype):
        s = s.astype(object)
    if pd.api.types.is_bool_dtype(s.dtype):
        s = s.astype("Int64")
    if pd.api.types.is_numeric_dtype(s.dtype):
        num = pd.to_numeric(s, errors="coerce").dropna()
        return pd.Series([str(int(v)) if float(v).is_integer() else str(v) for v in num], index=num.index, dtype=object)
    s = s.dropna()
    return s.astype(str).str.strip()


def _counts(values: pd.Series, categories: Sequence[str]) -> tuple[dict[str, int], int]:
    """Counts of each category, and the number of other (off-scale or unknown) answers."""
    vc = values.value_counts()
    counts = {c: int(vc.get(c, 0)) for c in categories}
    other = int(len(values) - sum(counts.values()))
    return counts, other


# --- tests ------------------------------------------------------------------------------------


@lru_cache(maxsize=65536)
def _two_proportions(x_new: int, n_new: int, x_base: int, n_base: int, level: float, boschloo: bool) -> tuple:
    import warnings

    with warnings.catch_warnings(), np.errstate(divide="ignore", invalid="ignore"):
        # statsmodels' score test also computes a ratio and odds ratio, which divide by zero
        # when a wave has no successes; the test statistic itself is unaffected
        warnings.simplefilter("ignore", RuntimeWarning)
        row = stats.compare_proportions(x_new, n_new, x_base, n_base, level=level, boschloo=boschloo)
    return tuple(sorted(row.items()))


def two_proportions(x_new: int, n_new: int, x_base: int, n_base: int, *, level: float = 0.95,
                    binary_test: str = "boschloo") -> dict[str, Any]:
    """``new - base`` with Newcombe's interval and the chosen test's p-value (``p_value``); cached."""
    if binary_test not in BINARY_TESTS:
        raise ValueError(f"binary_test must be one of {BINARY_TESTS}, not {binary_test!r}")
    row = dict(_two_proportions(int(x_new), int(n_new), int(x_base), int(n_base), float(level),
                                binary_test == "boschloo"))
    row["p_value"] = row[f"p_{binary_test}"]
    return row


def _chi2_stat(a: np.ndarray, b: np.ndarray, k: int, axis: int = -1) -> np.ndarray:
    """Pearson's chi-square of the 2 x k table of two samples of codes 0..k-1 (vectorised)."""
    a = np.moveaxis(np.asarray(a), axis, -1)
    b = np.moveaxis(np.asarray(b), axis, -1)
    cats = np.arange(k)
    ca = (a[..., None] == cats).sum(axis=-2).astype(float)
    cb = (b[..., None] == cats).sum(axis=-2).astype(float)
    tot = ca + cb
    na, nb = a.shape[-1], b.shape[-1]
    n = na + nb
    with np.errstate(divide="ignore", invalid="ignore"):
        ea, eb = tot * na / n, tot * nb / n
        terms = np.where(tot > 0, (ca - ea) ** 2 / ea + (cb - eb) ** 2 / eb, 0.0)
    return terms.sum(axis=-1)


def nominal_test(base_codes: Sequence[int], new_codes: Sequence[int], k: int, *,
                 n_resamples: int = stats.DEFAULT_RESAMPLES, seed: int = stats.DEFAULT_SEED) -> tuple[float, float]:
    """Permutation chi-square test that two samples of a k-category variable share one distribution.

    Exact (every split enumerated) when there are no more splits than ``n_resamples``,
    else a seeded Monte Carlo sample; returns ``(statistic, p)``.  NaN when either sample
    is empty or only one category occurs.
    """
    from scipy import stats as ss

    a = np.asarray(base_codes, dtype=float)
    b = np.asarray(new_codes, dtype=float)
    if len(a) == 0 or len(b) == 0 or np.unique(np.concatenate([a, b])).size < 2:
        return math.nan, math.nan
    res = ss.permutation_test(
        (a, b), lambda x, y, axis=-1: _chi2_stat(x, y, k, axis), vectorized=True, n_resamples=n_resamples,
        alternative="greater", permutation_type="independent", rng=np.random.default_rng(seed),
    )
    return float(res.statistic), float(res.pvalue)


# --- one variable -----------------------------------------------------------------------------


def _base_row(v: Variable, family: str) -> dict[str, Any]:
    row: dict[str, Any] = {c: math.nan for c in RESULT_COLUMNS}
    row.update(var=v.var, item_id=v.item_id, question=v.question, option=v.option, kind=v.kind, family=family,
               flag=v.flag, proportion_of=v.proportion_of, test=NOT_TESTED, adjust_method="", significant=False,
               note="")
    return row


def _fill_proportion(row: dict, x_base: int, n_base: int, x_new: int, n_new: int, level: float, binary_test: str,
                     test: bool = True) -> dict:
    res = two_proportions(x_new, n_new, x_base, n_base, level=level, binary_test=binary_test if test else "fisher")
    row.update(n_base=x_base, denominator_base=n_base, n_new=x_new, denominator_new=n_new,
               percent_base=100.0 * x_base / n_base if n_base else math.nan,
               percent_new=100.0 * x_new / n_new if n_new else math.nan,
               diff=100.0 * res["diff"], ci_low=100.0 * res["ci_low"], ci_high=100.0 * res["ci_high"])
    return res


def _category_rows(v: Variable, counts_base: Mapping[str, int], counts_new: Mapping[str, int], level: float) -> list[dict]:
    nb, nn = sum(counts_base.values()), sum(counts_new.values())
    rows = []
    for cat in v.categories:
        xb, xn = counts_base[cat], counts_new[cat]
        ci = stats.newcombe_diff_ci(xn, nn, xb, nb, level)
        rows.append({
            "var": v.var, "item_id": v.item_id, "option": v.option, "kind": v.kind, "category": cat,
            "n_base": xb, "denominator_base": nb, "percent_base": 100.0 * xb / nb if nb else math.nan,
            "n_new": xn, "denominator_new": nn, "percent_new": 100.0 * xn / nn if nn else math.nan,
            "diff": 100.0 * ci.diff, "ci_low": 100.0 * ci.ci_low, "ci_high": 100.0 * ci.ci_high,
        })
    return rows


def compare_variable(v: Variable, base: pd.Series, new: pd.Series, *, family: str = "exploratory",
                     level: float = 0.95, binary_test: str = "boschloo", n_resamples: int = stats.DEFAULT_RESAMPLES,
                     seed: int = stats.DEFAULT_SEED) -> tuple[dict[str, Any], list[dict]]:
    """Compare one variable between the waves: ``(result row, by-category rows)``.

    ``base`` and ``new`` are the variable's column in each wave (any dtype; missing =
    not asked / not answered).  Answers outside ``v.categories`` (missing codes, and
    valid answers off an ordinal scale such as 'outside NHS' pay) are left out of the
    denominators and counted in ``note``.
    """
    row = _base_row(v, family)
    a_base, a_new = answers(base), answers(new)
    cb, other_b = _counts(a_base, v.categories)
    cn, other_n = _counts(a_new, v.categories)
    nb, nn = sum(cb.values()), sum(cn.values())
    notes = []
    if other_b or other_n:
        notes.append(f"{other_b} base and {other_n} new answers outside {'/'.join(v.categories)} left out "
                     "(missing codes or off-scale answers)")
    cats: list[dict] = []
    if v.kind in ("binary", "tick"):
        xb, xn = cb[v.success], cn[v.success]
        if nb == 0 or nn == 0:
            notes.append("no answers in one wave")
            row.update(n_base=xb, denominator_base=nb, n_new=xn, denominator_new=nn)
        else:
            varied = 0 < xb + xn < nb + nn
            res = _fill_proportion(row, xb, nb, xn, nn, level, binary_test, test=varied)
            if varied:
                row.update(test=TEST_NAMES[binary_test], p_value=res["p_value"])
            else:
                notes.append(f"every answer in both waves is {'' if xb + xn else 'not '}{v.proportion_of!r}: "
                             "no variation to test")
    else:
        cats = _category_rows(v, cb, cn, level)
        row.update(denominator_base=nb, denominator_new=nn)
        if v.kind == "ordinal" and nb and nn:
            xb, xn = sum(cb[c] for c in v.upper), sum(cn[c] for c in v.upper)
            _fill_proportion(row, xb, nb, xn, nn, level, binary_test, test=False)
        if nb == 0 or nn == 0:
            notes.append("no answers in one wave")
        elif sum(1 for c in v.categories if cb[c] + cn[c] > 0) < 2:
            notes.append("a single answer in both waves: no variation to test")
        elif v.kind == "ordinal":
            vals_b = [c for c in v.categories for _ in range(cb[c])]
            vals_n = [c for c in v.categories for _ in range(cn[c])]
            shift = stats.ordinal_shift(vals_b, vals_n, categories=list(v.categories), level=level,
                                        n_resamples=n_resamples, seed=seed, mann_whitney=False)
            p = shift.summary["bm_p_perm"]
            method = TEST_NAMES["ordinal"]
            if not np.isfinite(p):
                shift = stats.ordinal_shift(vals_b, vals_n, categories=list(v.categories), level=level,
                                            n_resamples=n_resamples, seed=seed)
                p, method = shift.summary["mw_p"], "Mann-Whitney permutation"
                notes.append("Brunner-Munzel undefined (no spread within either wave); Mann-Whitney used")
            row.update(prob_superiority=shift.summary["prob_superiority"], test=method, p_value=p)
        else:
            index = {c: i for i, c in enumerate(v.categories)}
            codes_b = [index[c] for c in v.categories for _ in range(cb[c])]
            codes_n = [index[c] for c in v.categories for _ in range(cn[c])]
            _stat, p = nominal_test(codes_b, codes_n, len(v.categories), n_resamples=n_resamples, seed=seed)
            row.update(test=TEST_NAMES["nominal"], p_value=p)
    if row["test"] == NOT_TESTED:
        row["p_value"] = math.nan
    row["note"] = "; ".join(notes)
    return row, cats


# --- the whole comparison ---------------------------------------------------------------------


@dataclass
class WaveComparison:
    """Results of :func:`compare_waves`."""

    results: pd.DataFrame  # one row per variable (RESULT_COLUMNS)
    categories: pd.DataFrame  # one row per category of each ordinal / nominal variable (CATEGORY_COLUMNS)
    summary: dict[str, Any] = field(default_factory=dict)

    @property
    def tested(self) -> pd.DataFrame:
        return self.results[self.results["test"] != NOT_TESTED]

    def significant(self, family: str | None = None) -> pd.DataFrame:
        r = self.results[self.results["significant"]]
        return r if family is None else r[r["family"] == family]

    def statement(self) -> str:
        return multiplicity_statement(self.summary)


def adjust_families(results: pd.DataFrame, *, alpha: float = DEFAULT_ALPHA, primary_adjust: str = DEFAULT_PRIMARY_ADJUST,
                    exploratory_adjust: str = DEFAULT_EXPLORATORY_ADJUST) -> pd.DataFrame:
    """Adjusted p-values within each family, Holm over all tests, and ``significant`` (adjusted p <= alpha)."""
    out = results.copy()
    out["p_adjusted"] = np.nan
    out["adjust_method"] = ""
    for family, method in (("primary", primary_adjust), ("exploratory", exploratory_adjust)):
        mask = (out["family"] == family).to_numpy()
        if mask.any():
            out.loc[mask, "p_adjusted"] = stats.adjust_pvalues(out.loc[mask, "p_value"].astype(float), method)
            out.loc[mask, "adjust_method"] = ADJUST_NAMES[method.lower()]
    out["p_holm_all"] = stats.adjust_pvalues(out["p_value"].astype(float), "holm")
    out["significant"] = (out["p_adjusted"] <= alpha).fillna(False).astype(bool)
    out.loc[out["test"] == NOT_TESTED, "adjust_method"] = ""
    return out


def compare_waves(base: pd.DataFrame, new: pd.DataFrame, variables: Sequence[Variable], *,
                  primary: Iterable[str] = (), alpha: float = DEFAULT_ALPHA,
                  primary_adjust: str = DEFAULT_PRIMARY_ADJUST, exploratory_adjust: str = DEFAULT_EXPLORATORY_ADJUST,
                  binary_test: str = "boschloo", level: float = 0.95, n_resamples: int = stats.DEFAULT_RESAMPLES,
                  seed: int = stats.DEFAULT_SEED, base_name: str = "base", new_name: str = "new") -> WaveComparison:
    """Compare every variable in ``variables`` between the respondents ``base`` and ``new``.

    ``primary`` names the pre-specified variables (Holm, family-wise error); the rest are
    exploratory (Benjamini-Hochberg, false discovery rate).  A primary name that is not a
    compared variable raises ``ValueError`` (a typo would otherwise silently shrink the
    confirmatory family).  A variable missing from one wave's data is compared as if
    nobody answered it there (and so is not tested).
    """
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha!r}")
    for method in (primary_adjust, exploratory_adjust):
        if method.lower() not in ADJUST_NAMES:
            raise ValueError(f"unknown adjustment {method!r}; expected holm or bh")
    if binary_test not in BINARY_TESTS:
        raise ValueError(f"binary_test must be one of {BINARY_TESTS}, not {binary_test!r}")
    primary = parse_primary(primary)
    names = {v.var for v in variables}
    unknown = [p for p in primary if p not in names]
    if unknown:
        raise ValueError(f"primary variable(s) {unknown} are not among the {len(names)} compared variables "
                         "(a typo, or an item the waves do not share)")
    primary_set = set(primary)
    empty = pd.Series([], dtype=object)
    rows, cats = [], []
    for v in variables:
        row, cat_rows = compare_variable(
            v, base[v.var] if v.var in base.columns else empty, new[v.var] if v.var in new.columns else empty,
            family="primary" if v.var in primary_set else "exploratory", level=level, binary_test=binary_test,
            n_resamples=n_resamples, seed=seed)
        rows.append(row)
        cats.extend(cat_rows)
    results = pd.DataFrame(rows, columns=RESULT_COLUMNS)
    results = adjust_families(results, alpha=alpha, primary_adjust=primary_adjust,
                              exploratory_adjust=exploratory_adjust)
    # primary rows first, in the order given; then the rest in codebook order
    order = {p: i for i, p in enumerate(primary)}
    results["_o"] = [order.get(v, len(order)) for v in results["var"]]
    results = results.sort_values("_o", kind="stable").drop(columns="_o").reset_index(drop=True)
    categories = pd.DataFrame(cats, columns=CATEGORY_COLUMNS)
    tested = results[results["test"] != NOT_TESTED]
    summary = {
        "base": base_name, "new": new_name,
        "n_base": int(len(base)), "n_new": int(len(new)),
        "alpha": alpha, "level": level, "binary_test": binary_test,
        "n_variables": int(len(results)), "n_items": int(results["item_id"].nunique()),
        "n_tests": int(len(tested)), "n_not_tested": int(len(results) - len(tested)),
        "primary_variables": list(primary),
        "n_primary": int((tested["family"] == "primary").sum()),
        "n_exploratory": int((tested["family"] == "exploratory").sum()),
        "primary_adjust": primary_adjust, "exploratory_adjust": exploratory_adjust,
        "n_significant_primary": int((results["significant"] & (results["family"] == "primary")).sum()),
        "n_significant_exploratory": int((results["significant"] & (results["family"] == "exploratory")).sum()),
        "n_raw_below_alpha": int((tested["p_value"] <= alpha).sum()),
        "n_significant_holm_all": int((tested["p_holm_all"] <= alpha).sum()),
        "by_kind": {k: int((tested["kind"] == k).sum()) for k in KINDS},
    }
    return WaveComparison(results=results, categories=categories, summary=summary)


def multiplicity_statement(summary: Mapping[str, Any]) -> str:
    """Plain-English statement of how many comparisons were made and how multiplicity was handled."""
    a = summary["alpha"]
    pa, ea = summary["primary_adjust"].lower(), summary["exploratory_adjust"].lower()
    kinds = summary.get("by_kind", {})
    kind_text = ", ".join(f"{n} {k}" for k, n in kinds.items() if n)
    parts = [
        f"{summary['n_variables']} answer variables from {summary['n_items']} shared questions were compared "
        f"between {summary['base']} (n = {summary['n_base']}) and {summary['new']} (n = {summary['n_new']}); "
        f"{summary['n_tests']} could be tested ({kind_text}) and {summary['n_not_tested']} could not "
        "(no variation in either wave, or no answers in one).",
        f"Primary family: {summary['n_primary']} pre-specified comparison(s) "
        f"({', '.join(summary['primary_variables']) or 'none'}), adjusted by {ADJUST_NAMES[pa]} "
        f"({ADJUST_CONTROLS[pa]} at {a:g}); {summary['n_significant_primary']} significant.",
        f"Exploratory family: the other {summary['n_exploratory']} comparisons, adjusted by {ADJUST_NAMES[ea]} "
        f"({ADJUST_CONTROLS[ea]} at {a:g}); {summary['n_significant_exploratory']} significant. "
        "Exploratory findings are hypotheses for the next wave, not conclusions.",
        f"Without adjustment {summary['n_raw_below_alpha']} of the {summary['n_tests']} raw p-values are at or "
        f"below {a:g} (if nothing had changed, chance alone would give up to about {a * summary['n_tests']:.1f}); "
        f"Holm over all {summary['n_tests']} tests leaves {summary['n_significant_holm_all']}.",
    ]
    return "\n".join(parts)


# --- release (disclosure control) -------------------------------------------------------------

#: Columns derived from both waves' counts: blanked when either side's count is suppressed.
DERIVED_COLUMNS = ("diff", "ci_low", "ci_high")


def release_frame(df: pd.DataFrame, min_cell: int, *, by: Sequence[str], published: bool = False
                  ) -> tuple[pd.DataFrame, str | None]:
    """``df`` as it may be released: small cells suppressed (:func:`disclosure.suppress_small_cells`).

    A comparison is a released table (``pimh disclosure-check`` treats every
    ``compare/<pair>`` group as one), so counts from 1 to ``min_cell - 1`` of *either* wave
    are suppressed, with their percentages and intervals, and with secondary suppression
    where categories add up to a shown base.  A difference between the waves (and its
    interval) would give a suppressed percentage back, so it is blanked too.  Statistics
    are computed on the full data before this step; p-values are kept.  ``published``
    (both waves reproduce already-published tables) releases everything as it is.
    """
    from . import disclosure

    if published:
        return df, None
    if df.empty:
        return df.copy(), disclosure.footnote(min_cell, 0, 0)
    out, note = disclosure.suppress_small_cells(df, min_cell, by=list(by))
    fams = disclosure.column_families(df.columns)
    hidden = pd.Series(False, index=df.index)
    for f in fams.values():
        for col in (f.count, f.percent):
            if col:
                hidden |= df[col].notna() & out[col].isna()
    for col in DERIVED_COLUMNS:
        if col in out.columns:
            out[col] = out[col].astype("Float64").mask(hidden)
    return out, note


def release_results(comparison: "WaveComparison", min_cell: int, *, published: bool = False
                    ) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """The results and by-category tables as they may be released, and the footnotes to print with them."""
    res, note_r = release_frame(comparison.results, min_cell, by=("var",), published=published)
    cats, note_c = release_frame(comparison.categories, min_cell, by=("var",), published=published)
    notes = [n for n in dict.fromkeys((note_r, note_c)) if n]
    return res, cats, notes


# --- figures ----------------------------------------------------------------------------------

WAVE_MARKERS = ("o", "s")


def _wave_colours() -> list:
    import seaborn as sns

    return list(sns.color_palette("colorblind", 2))


def _wrap(text: str, width: int = 48) -> str:
    import textwrap

    return "\n".join(textwrap.wrap(str(text), width)) or str(text)


def variable_label(row: Mapping[str, Any], width: int = 48) -> str:
    """Short label ``Q18: <question>`` or ``Q43: <row label>`` for charts."""
    text = row["option"] if isinstance(row.get("option"), str) and row.get("option") else row["question"]
    return _wrap(f"{row['item_id']}: {text}", width)


def proportions_plot_data(results: pd.DataFrame, base_name: str, new_name: str, level: float = 0.95) -> pd.DataFrame:
    """Tidy frame for :func:`plot_proportions`: one row per variable and wave, with Wilson intervals."""
    rows = []
    r = results[results["kind"].isin(("binary", "tick", "ordinal"))]
    for rec in r.to_dict("records"):
        for wave, x, n in ((base_name, rec["n_base"], rec["denominator_base"]),
                           (new_name, rec["n_new"], rec["denominator_new"])):
            if pd.isna(x) or pd.isna(n) or not n:
                continue
            lo, hi = stats.wilson_ci(int(x), int(n), level)
            label = variable_label(rec) + (f"\n[{_wrap(rec['proportion_of'], 48)}]" if rec["proportion_of"] else "")
            rows.append({"var": rec["var"], "label": label, "proportion_of": rec["proportion_of"],
                         "wave": wave, "n": int(x), "denominator": int(n), "percent": 100.0 * x / n,
                         "ci_low": 100.0 * lo, "ci_high": 100.0 * hi})
    return pd.DataFrame(rows, columns=["var", "label", "proportion_of", "wave", "n", "denominator", "percent",
                                       "ci_low", "ci_high"])


def plot_proportions(data: pd.DataFrame, base_name: str, new_name: str, title: str = ""):
    """Side-by-side proportions of each wave (points with Wilson intervals), one row per variable."""
    import matplotlib.pyplot as plt

    labels = list(dict.fromkeys(data["label"]))
    fig, ax = plt.subplots(figsize=(8.5, 0.75 * len(labels) + 1.4))
    colours = dict(zip((base_name, new_name), _wave_colours()))
    offsets = {base_name: -0.15, new_name: 0.15}
    suppressed = data[data["percent"].isna()]
    data = data[data["percent"].notna()]
    for rec in suppressed.itertuples():
        ax.annotate(f"{rec.wave}: suppressed (count below the disclosure threshold)",
                    (1, labels.index(rec.label) + offsets[rec.wave]), va="center", fontsize=7, color="#555555")
    for wave, grp in data.groupby("wave", sort=False):
        y = [labels.index(lab) + offsets[wave] for lab in grp["label"]]
        ax.errorbar(grp["percent"], y, xerr=[grp["percent"] - grp["ci_low"], grp["ci_high"] - grp["percent"]],
                    fmt=WAVE_MARKERS[0 if wave == base_name else 1], color=colours[wave], ecolor=colours[wave],
                    capsize=2, markersize=6, linewidth=1.2, label=wave)
        for yy, rec in zip(y, grp.itertuples()):
            ax.annotate(f"{rec.n}/{rec.denominator}", (rec.ci_high, yy), xytext=(4, 0), textcoords="offset points",
                        va="center", fontsize=7, color=colours[wave])
    ax.set_yticks(range(len(labels)))
    ax.set_yticklabels(labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(0, 112)
    ax.set_xlabel("Percent of respondents answering (95% Wilson interval); counts n/denominator")
    ax.grid(axis="x", color="#dddddd", linewidth=0.6)
    ax.legend(loc="lower right", bbox_to_anchor=(1.0, 1.0), ncol=2, fontsize=8, frameon=False)
    if title:
        ax.set_title(title, fontsize=10, loc="left")
    fig.tight_layout()
    return fig


def differences_plot_data(results: pd.DataFrame) -> pd.DataFrame:
    r = results[results["diff"].notna()].copy()
    r["label"] = [variable_label(rec, 56) for rec in r.to_dict("records")]
    return r[["var", "label", "family", "proportion_of", "diff", "ci_low", "ci_high", "p_value", "p_adjusted",
              "significant", "denominator_base", "denominator_new"]].reset_index(drop=True)


def plot_differences(data: pd.DataFrame, base_name: str, new_name: str, level: float = 0.95, title: str = ""):
    """Forest plot of ``new - base`` (percentage points, Newcombe interval); filled = significant after adjustment."""
    import matplotlib.pyplot as plt

    colours = _wave_colours()
    fig, ax = plt.subplots(figsize=(8.5, 0.42 * len(data) + 1.5))
    for i, rec in enumerate(data.itertuples()):
        colour = colours[1] if rec.family == "primary" else colours[0]
        ax.errorbar([rec.diff], [i], xerr=[[rec.diff - rec.ci_low], [rec.ci_high - rec.diff]], fmt="o",
                    color=colour, ecolor=colour, capsize=2, markersize=6,
                    markerfacecolor=colour if rec.significant else "white", linewidth=1.2)
    ax.axvline(0, color="#555555", linewidth=0.8)
    ax.set_yticks(range(len(data)))
    ax.set_yticklabels(data["label"], fontsize=7.5)
    ax.invert_yaxis()
    ax.set_xlim(-100, 100)
    ax.set_xlabel(f"Difference {new_name} \u2212 {base_name} (percentage points, {level:.0%} Newcombe interval)")
    ax.grid(axis="x", color="#dddddd", linewidth=0.6)
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], marker="o", linestyle="", color=colours[1], label="primary"),
               Line2D([], [], marker="o", linestyle="", color=colours[0], label="exploratory"),
               Line2D([], [], marker="o", linestyle="", color="#555555", markerfacecolor="white",
                      label="not significant after adjustment")]
    ax.legend(handles=handles, loc="lower right", fontsize=7.5, frameon=False)
    if title:
        ax.set_title(title, fontsize=10, loc="left")
    fig.tight_layout()
    return fig


def distribution_plot_data(categories: pd.DataFrame, results: pd.DataFrame, variables: Sequence[str],
                           base_name: str, new_name: str) -> pd.DataFrame:
    """Tidy frame for :func:`plot_distributions`: per variable, wave and category, count and percent."""
    info = results.set_index("var")
    rows = []
    for var in variables:
        grp = categories[categories["var"] == var]
        rec = info.loc[var].to_dict()
        rec["var"] = var
        label = variable_label(rec, 40)
        for wave, suffix in ((base_name, "base"), (new_name, "new")):
            for c in grp.itertuples():
                rows.append({"var": var, "label": label, "wave": wave, "category": c.category,
                             "n": int(getattr(c, f"n_{suffix}")), "denominator": int(getattr(c, f"denominator_{suffix}")),
                             "percent": float(getattr(c, f"percent_{suffix}"))})
    return pd.DataFrame(rows, columns=["var", "label", "wave", "category", "n", "denominator", "percent"])


def _short(label: str, width: int = 14) -> str:
    return _wrap(label, width)


def plot_distributions(data: pd.DataFrame, base_name: str, new_name: str, title: str = "", ncols: int = 3):
    """Small multiples, one panel per variable: the percent in each category, the two waves side by side.

    Categories run low to high along the x axis.  A category suppressed by disclosure control
    has no bar; it is marked ``c`` at the axis.
    """
    import matplotlib.pyplot as plt

    variables = list(dict.fromkeys(data["var"]))
    n = max(1, len(variables))
    ncols = min(ncols, n)
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.3 * ncols, 3.4 * nrows + 0.8), squeeze=False, sharey=True)
    colours = dict(zip((base_name, new_name), _wave_colours()))
    width = 0.4
    for k, var in enumerate(variables):
        ax = axes[k // ncols][k % ncols]
        grp = data[data["var"] == var]
        cats = list(dict.fromkeys(grp["category"]))
        ns = []
        for j, wave in enumerate((base_name, new_name)):
            w = grp[grp["wave"] == wave].set_index("category").reindex(cats)
            xs = [i + (j - 0.5) * width for i in range(len(cats))]
            pct = w["percent"].astype(float)
            ax.bar([x for x, p in zip(xs, pct) if pd.notna(p)], [p for p in pct if pd.notna(p)], width=width,
                   color=colours[wave], label=wave if k == 0 else None)
            for x, p, c in zip(xs, pct, w["n"]):
                if pd.isna(p):
                    ax.text(x, 1.5, "c", ha="center", va="bottom", fontsize=7, color="#555555", style="italic")
                else:
                    ax.text(x, p + 1.5, f"{int(c)}", ha="center", va="bottom", fontsize=6.5, color="#333333")
            base = w["denominator"].dropna()
            ns.append(f"{wave} n={int(base.iloc[0])}" if len(base) else f"{wave} n suppressed")
        ax.set_xticks(range(len(cats)))
        ax.set_xticklabels([_short(c) for c in cats], fontsize=6.5)
        ax.set_ylim(0, 105)
        ax.set_title(f"{grp['label'].iloc[0]}\n({'; '.join(ns)})", fontsize=7.5, loc="left")
        ax.grid(axis="y", color="#dddddd", linewidth=0.6)
        ax.set_axisbelow(True)
        if k % ncols == 0:
            ax.set_ylabel("Percent of those answering")
    for k in range(len(variables), nrows * ncols):
        axes[k // ncols][k % ncols].set_visible(False)
    fig.legend(loc="upper right", ncol=2, fontsize=8, frameon=False)
    if title:
        fig.suptitle(title, fontsize=10, x=0.01, ha="left")
    fig.text(0.01, 0.005, "Numbers above bars are counts; c = suppressed (count below the disclosure threshold).",
             fontsize=7, color="#555555")
    fig.tight_layout(rect=(0, 0.02, 1, 0.97))
    return fig
