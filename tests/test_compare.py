"""Wave comparison statistics: per-variable results, families and multiplicity, error rates, power.

The error-rate tests simulate many comparisons where nothing changed and check the
rejection rate against a one-sided binomial bound: with ``N`` tests at level ``alpha``
a valid procedure rejects at most ``alpha`` of them on average, so more than the
99.9% quantile of Binomial(N, alpha) rejections means the procedure is anti-conservative
(a false alarm has probability below 0.001 per check).  The same check is shown to
fail on a procedure known to be invalid, so it can fail.  Every simulation is seeded.
"""

from __future__ import annotations

import gc
import itertools
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats as ss

from pimh_analysis import compare as C
from pimh_analysis import stats
from pimh_analysis.instrument import load_codebook

ALPHA = 0.05


@pytest.fixture(scope="module")
def book():
    return load_codebook()


def within_error_rate(rejections: int, n: int, alpha: float = ALPHA, confidence: float = 0.999) -> bool:
    """True when ``rejections`` of ``n`` is compatible with a rate of at most ``alpha``."""
    return rejections <= ss.binom.ppf(confidence, n, alpha)


# --- what is compared, and how ------------------------------------------------------------

def test_parse_primary():
    assert C.parse_primary("q18_supervision + q43_no_funding") == ("q18_supervision", "q43_no_funding")
    assert C.parse_primary(" a, b + a ") == ("a", "b")
    assert C.parse_primary("") == () and C.parse_primary(None) == ()
    assert C.parse_primary(["x", "y"]) == ("x", "y")


@pytest.mark.parametrize("var, kind, extra", [
    ("q18_supervision", "binary", {"success": "Yes", "categories": ("Yes", "No")}),
    ("q21x_other_experience", "binary", {"success": "Yes"}),
    ("q19a_suptype_clinical", "tick", {"success": "1"}),
    ("q43_no_funding", "ordinal", {"upper": ("Agree", "Strongly agree")}),
    ("q12_cpd_frequency", "ordinal", {"upper": ("Every six months",),
                                      "categories": ("Never", "Every three years", "Every two years", "Once a year",
                                                     "Every six months")}),
    ("q19e_sup_satisfaction", "ordinal", {"upper": ("Satisfied", "Very satisfied")}),
    ("q36_phone", "ordinal", {"upper": ("Often", "Always")}),  # an ordered matrix scale
    ("q41_rank_targeted", "ordinal", {"upper": ("1",)}),  # ranking: ranked first
    ("q20x_orgsupport_ihv", "nominal", {}),
    ("q08_service", "nominal", {}),
    ("q26_psychosis", "binary", {"success": "Yes", "categories": ("Yes", "No")}),  # Don't know is a missing code
])
def test_column_kinds(book, var, kind, extra):
    col = book.column(var)
    item = next(i for i in book.items if str(i["id"]) == col.item_id)
    v = C.variable_for(col, item)
    assert v.kind == kind
    for key, value in extra.items():
        assert getattr(v, key) == value, key


def test_free_text_consent_and_personal_data_are_not_compared(book):
    for var in ("q22_training_comments", "q07_postcode_prefix", "q46_contact", "s2_consent"):
        assert C.variable_for(book.column(var)) is None, var


def test_missing_codes_stay_out_of_the_categories(book):
    v = C.variable_for(book.column("q19x_consult_access"))
    assert v.categories == ("Yes", "No") and v.kind == "binary"


# --- one variable ---------------------------------------------------------------------------

def _series(values, dtype=object):
    return pd.Series(values, dtype=dtype)


def test_binary_difference_is_new_minus_base_with_newcombe_interval():
    v = C.Variable("x", "Q1", "q", "", "binary", ("Yes", "No"), success="Yes")
    base = _series(["Yes"] * 16 + ["No"] * 18 + [None] * 3)
    new = _series(["Yes"] * 53 + ["No"] * 15 + ["Prefer not to say"] * 2)
    row, cats = C.compare_variable(v, base, new, binary_test="fisher")
    ci = stats.newcombe_diff_ci(53, 68, 16, 34)
    assert (row["n_base"], row["denominator_base"], row["n_new"], row["denominator_new"]) == (16, 34, 53, 68)
    assert row["diff"] == pytest.approx(100 * (53 / 68 - 16 / 34))
    assert (row["ci_low"], row["ci_high"]) == pytest.approx((100 * ci.ci_low, 100 * ci.ci_high))
    assert row["p_value"] == pytest.approx(stats.fisher_exact(53, 68, 16, 34).pvalue)
    assert row["test"] == "Fisher exact" and "2 new answers outside" in row["note"] and cats == []


def test_boschloo_is_the_default_and_matches_stats():
    v = C.Variable("x", "Q1", "q", "", "binary", ("Yes", "No"), success="Yes")
    row, _ = C.compare_variable(v, _series(["Yes"] * 10 + ["No"] * 13), _series(["Yes"] * 35 + ["No"] * 11))
    assert row["test"] == "Boschloo exact"
    assert row["p_value"] == pytest.approx(stats.boschloo_exact(35, 46, 10, 23).pvalue)


def test_ticks_read_from_nullable_integers_and_floats():
    v = C.Variable("t", "Q9", "q", "GP", "tick", ("0", "1"), success="1")
    base = pd.Series([1, 0, 0, pd.NA, 1], dtype="Int8")
    new = pd.Series([1.0, 1.0, 0.0, np.nan])
    row, _ = C.compare_variable(v, base, new, binary_test="score")
    assert (row["n_base"], row["denominator_base"], row["n_new"], row["denominator_new"]) == (2, 4, 2, 3)


def test_categorical_answers_are_read_as_labels():
    v = C.Variable("x", "Q1", "q", "", "binary", ("Yes", "No"), success="Yes")
    base = pd.Categorical(["Yes", "No", None, "No"], categories=["Yes", "No", "Prefer not to say"])
    row, _ = C.compare_variable(v, pd.Series(base), _series(["Yes", "Yes"]), binary_test="fisher")
    assert (row["n_base"], row["denominator_base"]) == (1, 3)


def test_no_variation_is_not_tested_and_not_counted():
    v = C.Variable("t", "Q11", "q", "None", "tick", ("0", "1"), success="1")
    row, _ = C.compare_variable(v, _series(["0"] * 34), _series(["0"] * 68))
    assert row["test"] == C.NOT_TESTED and math.isnan(row["p_value"])
    assert row["diff"] == 0.0
    res = C.compare_waves(pd.DataFrame({"t": ["0"] * 5}), pd.DataFrame({"t": ["0"] * 6}), [v])
    assert res.summary["n_tests"] == 0 and res.summary["n_not_tested"] == 1
    assert not res.results["significant"].any()


def test_ordinal_shift_direction_and_p_value():
    cats = ("Strongly disagree", "Disagree", "Neither agree or disagree", "Agree", "Strongly agree")
    v = C.Variable("q43", "Q43", "q", "funding", "ordinal", cats, upper=cats[3:])
    counts_b, counts_n = [0, 2, 4, 12, 16], [4, 14, 14, 20, 16]
    base = _series([c for c, k in zip(cats, counts_b) for _ in range(k)])
    new = _series([c for c, k in zip(cats, counts_n) for _ in range(k)])
    row, cat_rows = C.compare_variable(v, base, new, n_resamples=999)
    expected = stats.ordinal_shift(list(base), list(new), categories=list(cats), n_resamples=999)
    assert row["prob_superiority"] == pytest.approx(expected.summary["prob_superiority"]) and row["prob_superiority"] < 0.5
    assert row["p_value"] == pytest.approx(expected.summary["bm_p_perm"])
    assert (row["n_base"], row["n_new"]) == (28, 36)  # agree or strongly agree
    assert [r["n_base"] for r in cat_rows] == counts_b and [r["n_new"] for r in cat_rows] == counts_n
    assert sum(r["diff"] for r in cat_rows) == pytest.approx(0.0, abs=1e-9)


def test_nominal_permutation_chi_square_is_exact_for_small_samples():
    a, b = [0, 0, 1, 2], [1, 1, 2, 2, 2]
    stat, p = C.nominal_test(a, b, 3, n_resamples=9999)
    table = np.array([[a.count(k) for k in range(3)], [b.count(k) for k in range(3)]])
    assert stat == pytest.approx(ss.chi2_contingency(table, correction=False)[0])
    # brute force over every split of the pooled sample
    pooled = a + b
    extreme = total = 0
    for idx in itertools.combinations(range(len(pooled)), len(a)):
        xa = [pooled[i] for i in idx]
        xb = [pooled[i] for i in range(len(pooled)) if i not in idx]
        total += 1
        extreme += C._chi2_stat(np.array(xa), np.array(xb), 3) >= stat - 1e-12
    assert p == pytest.approx(extreme / total)


# --- families and multiplicity ---------------------------------------------------------------

def test_families_are_adjusted_separately_and_holm_over_all_is_reported():
    rng = np.random.default_rng(5)
    p = rng.uniform(0, 0.2, 12)
    df = pd.DataFrame({"family": ["primary"] * 3 + ["exploratory"] * 9, "p_value": p, "test": "x"})
    out = C.adjust_families(df, alpha=ALPHA)
    assert np.allclose(out["p_adjusted"][:3], stats.adjust_pvalues(p[:3], "holm"))
    assert np.allclose(out["p_adjusted"][3:], stats.adjust_pvalues(p[3:], "bh"))
    assert np.allclose(out["p_holm_all"], stats.adjust_pvalues(p, "holm"))
    assert (out["significant"] == (out["p_adjusted"] <= ALPHA)).all()
    assert set(out["adjust_method"]) == {"Holm", "Benjamini-Hochberg"}


def test_unknown_primary_variable_is_refused():
    v = C.Variable("x", "Q1", "q", "", "binary", ("Yes", "No"), success="Yes")
    with pytest.raises(ValueError, match="q18_supervison"):
        C.compare_waves(pd.DataFrame({"x": ["Yes"]}), pd.DataFrame({"x": ["No"]}), [v], primary="q18_supervison")


def test_statement_counts_every_comparison():
    summary = {"alpha": 0.05, "primary_adjust": "holm", "exploratory_adjust": "bh", "by_kind": {"binary": 3, "tick": 7},
               "n_variables": 11, "n_items": 4, "base": "a", "new": "b", "n_base": 34, "n_new": 68, "n_tests": 10,
               "n_not_tested": 1, "n_primary": 2, "primary_variables": ["x", "y"], "n_significant_primary": 1,
               "n_exploratory": 8, "n_significant_exploratory": 0, "n_raw_below_alpha": 2, "n_significant_holm_all": 1}
    text = C.multiplicity_statement(summary)
    for needle in ("11 answer variables", "10 could be tested", "1 could not", "2 pre-specified", "Holm",
                   "family-wise error rate at 0.05", "other 8 comparisons", "Benjamini-Hochberg",
                   "false discovery rate", "up to about 0.5"):
        assert needle in text, needle


# --- disclosure control of released outputs ----------------------------------------------------

def test_release_suppresses_small_counts_and_the_differences_that_would_reveal_them():
    from pimh_analysis import disclosure

    v1 = C.Variable("a", "Q1", "q", "", "binary", ("Yes", "No"), success="Yes")
    v2 = C.Variable("b", "Q2", "q", "", "binary", ("Yes", "No"), success="Yes")
    base = pd.DataFrame({"a": ["Yes"] * 3 + ["No"] * 31, "b": ["Yes"] * 17 + ["No"] * 17})
    new = pd.DataFrame({"a": ["Yes"] * 20 + ["No"] * 48, "b": ["Yes"] * 40 + ["No"] * 28})
    comp = C.compare_waves(base, new, [v1, v2], binary_test="fisher")
    res, _cats, notes = C.release_results(comp, 5)
    a, b = res.set_index("var").loc["a"], res.set_index("var").loc["b"]
    assert pd.isna(a["n_base"]) and pd.isna(a["percent_base"]) and pd.isna(a["diff"]) and pd.isna(a["ci_low"])
    assert a["n_new"] == 20 and a["p_value"] == comp.results.set_index("var").loc["a", "p_value"]
    assert b["n_base"] == 17 and not pd.isna(b["diff"])
    assert notes and "Disclosure control" in notes[0]
    assert disclosure.check_table(res, 5) == []
    kept, none = C.release_frame(comp.results, 5, by=("var",), published=True)
    assert none is None and kept["n_base"].tolist() == comp.results["n_base"].tolist()


# --- error rates when nothing changed -----------------------------------------------------------

#: Base-wave proportions like the wave-1 replica's (low, middling and high shares).
NULL_PROPORTIONS = (0.1, 0.25, 0.47, 0.65, 0.82)


def _null_binary_pvalues(n_tests: int, n_base: int, n_new: int, binary_test: str, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    p0 = rng.choice(NULL_PROPORTIONS, n_tests)
    xb, xn = rng.binomial(n_base, p0), rng.binomial(n_new, p0)
    out = []
    for b, n in zip(xb, xn):
        if 0 < b + n < n_base + n_new:
            out.append(C.two_proportions(int(n), n_new, int(b), n_base, binary_test=binary_test)["p_value"])
    return np.asarray(out)


def test_the_error_rate_check_can_fail():
    # a Wald z-test at n = 34 vs 68 with small shares is anti-conservative, and 20 unadjusted tests
    # per family reject somewhere far more often than alpha: the check must flag both
    rng = np.random.default_rng(11)
    n_b, n_n, p0 = 34, 68, 0.1
    xb, xn = rng.binomial(n_b, p0, 4000), rng.binomial(n_n, p0, 4000)
    pb, pn = xb / n_b, xn / n_n
    se = np.sqrt(pb * (1 - pb) / n_b + pn * (1 - pn) / n_n)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(se > 0, (pn - pb) / se, 0.0)
    wald_rejections = int((2 * ss.norm.sf(np.abs(z)) <= ALPHA).sum())
    assert not within_error_rate(wald_rejections, 4000)
    p = _null_binary_pvalues(20 * 150, 34, 68, "fisher", seed=3)[: 20 * 140].reshape(140, 20)
    any_raw = int((p <= ALPHA).any(axis=1).sum())
    assert not within_error_rate(any_raw, 140)


@pytest.mark.parametrize("binary_test, n_tests", [("fisher", 3000), ("boschloo", 300)])
def test_binary_tests_keep_their_level_when_nothing_changed(binary_test, n_tests):
    p = _null_binary_pvalues(n_tests, 34, 68, binary_test, seed=2024)
    rejections = int((p <= ALPHA).sum())
    assert within_error_rate(rejections, len(p)), (binary_test, rejections, len(p))


def test_ordinal_and_nominal_tests_keep_their_level_when_nothing_changed():
    rng = np.random.default_rng(7)
    cats = ("a", "b", "c", "d", "e")
    probs = np.array([0.05, 0.15, 0.3, 0.3, 0.2])
    vo = C.Variable("o", "Q", "q", "", "ordinal", cats, upper=cats[3:])
    vn = C.Variable("m", "Q", "q", "", "nominal", cats[:4])
    rej_o = rej_n = n_o = n_n = 0
    for _ in range(250):
        b = pd.Series(rng.choice(cats, 34, p=probs))
        n = pd.Series(rng.choice(cats, 68, p=probs))
        ro, _ = C.compare_variable(vo, b, n, n_resamples=199, seed=int(rng.integers(1 << 30)))
        bn, nn = b[b != "e"], n[n != "e"]
        rn, _ = C.compare_variable(vn, bn, nn, n_resamples=199, seed=int(rng.integers(1 << 30)))
        for row, kind in ((ro, "o"), (rn, "n")):
            if np.isfinite(row["p_value"]):
                if kind == "o":
                    n_o += 1
                    rej_o += row["p_value"] <= ALPHA
                else:
                    n_n += 1
                    rej_n += row["p_value"] <= ALPHA
    assert n_o == 250 and n_n == 250
    assert within_error_rate(rej_o, n_o) and within_error_rate(rej_n, n_n), (rej_o, rej_n)


def test_family_wise_error_after_adjustment_when_nothing_changed():
    families, m = 300, 20
    p = _null_binary_pvalues(families * m + 400, 34, 68, "fisher", seed=99)[: families * m].reshape(families, m)
    holm_any = bh_any = 0
    gc.freeze()  # statsmodels' multipletests calls gc.collect(); keep it cheap
    try:
        for row in p:
            df = pd.DataFrame({"family": ["primary"] * m, "p_value": row, "test": "x"})
            holm_any += C.adjust_families(df, primary_adjust="holm")["significant"].any()
            bh_any += C.adjust_families(df, primary_adjust="bh")["significant"].any()  # complete null: FDR = FWER
    finally:
        gc.unfreeze()
    assert within_error_rate(holm_any, families) and within_error_rate(bh_any, families), (holm_any, bh_any)


# --- planted changes on larger simulated data ----------------------------------------------------

def _simulated_waves(rng, n_base: int, n_new: int, planted: dict[str, tuple[float, float]], null: dict[str, float]):
    """Respondent frames of two waves: binary items; planted ones change proportion, the rest do not."""
    def draw(n, p):
        return np.where(rng.random(n) < p, "Yes", "No")

    base = {v: draw(n_base, p0) for v, (p0, _p1) in planted.items()} | {v: draw(n_base, p) for v, p in null.items()}
    new = {v: draw(n_new, p1) for v, (_p0, p1) in planted.items()} | {v: draw(n_new, p) for v, p in null.items()}
    return pd.DataFrame(base), pd.DataFrame(new)


def test_planted_changes_are_found_and_unchanged_items_are_not_on_larger_simulated_data():
    planted = {"supervision": (0.47, 0.78), "consultation": (0.67, 0.91), "funding": (0.82, 0.53),
               "vig": (0.43, 0.76), "cpd": (0.50, 0.75)}
    rng = np.random.default_rng(20250)
    null = {f"item{k:02d}": float(p) for k, p in enumerate(rng.choice(NULL_PROPORTIONS, 45))}
    variables = [C.Variable(v, v, v, "", "binary", ("Yes", "No"), success="Yes") for v in [*planted, *null]]
    found_primary = found_exploratory = false_exploratory = 0
    reps = 10
    for r in range(reps):
        base, new = _simulated_waves(np.random.default_rng([20250, r]), 150, 300, planted, null)
        res = C.compare_waves(base, new, variables, primary=list(planted), binary_test="fisher").results
        found_primary += int(res[res["family"] == "primary"]["significant"].sum())
        # the same planted changes must also stand out when nobody pre-specified them
        res_all = C.compare_waves(base, new, variables, binary_test="fisher").results.set_index("var")
        found_exploratory += int(res_all.loc[list(planted), "significant"].sum())
        false_exploratory += int(res_all.loc[list(null), "significant"].sum())
    assert found_primary == reps * len(planted)
    assert found_exploratory >= 0.95 * reps * len(planted)
    # BH keeps the expected share of false discoveries at or below alpha; here few nulls should be flagged
    assert within_error_rate(false_exploratory, reps * len(null))
