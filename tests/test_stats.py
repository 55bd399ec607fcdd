"""Proportion statistics against published worked examples and independent re-implementations.

Published values: Newcombe (1998a) "Two-sided confidence intervals for the single
proportion", Table I, method 3 (Wilson score, no continuity correction); Newcombe (1998b)
"Interval estimation for the difference between independent proportions", Table II,
method 10 (hybrid score).  Independent implementations use only the standard library
(``statistics.NormalDist``, ``math.comb``) so that they share no code with statsmodels/scipy.
"""

from __future__ import annotations

import itertools
import math
from statistics import NormalDist

import numpy as np
import pandas as pd
import pytest

from pimh_analysis import stats as S

Z95 = NormalDist().inv_cdf(0.975)


def _wilson(x: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson (1927) score interval, written out."""
    p = x / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


def _newcombe10(x1, n1, x2, n2):
    p1, p2 = x1 / n1, x2 / n2
    l1, u1 = _wilson(x1, n1)
    l2, u2 = _wilson(x2, n2)
    d = p1 - p2
    return d, d - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2), d + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)


# --- Wilson ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "x, n, low, high",
    [(81, 263, 0.2553, 0.3662), (15, 148, 0.0624, 0.1605), (0, 20, 0.0, 0.1611), (1, 29, 0.0061, 0.1718)],
)
def test_wilson_newcombe_1998a_table(x, n, low, high):
    lo, hi = S.wilson_ci(x, n)
    assert lo == pytest.approx(low, abs=5e-5)
    assert hi == pytest.approx(high, abs=5e-5)


def test_wilson_matches_formula_and_edges():
    for x, n in [(28, 34), (9, 16), (1, 3), (17, 34), (23, 35)]:
        assert S.wilson_ci(x, n) == pytest.approx(_wilson(x, n), abs=1e-12)
    # level: 90% uses z = 1.6449
    assert S.wilson_ci(28, 34, level=0.90) == pytest.approx(_wilson(28, 34, NormalDist().inv_cdf(0.95)), abs=1e-12)
    assert S.wilson_ci(0, 34)[0] == 0.0
    assert S.wilson_ci(34, 34)[1] == 1.0
    lo, hi = S.wilson_ci(0, 0)
    assert math.isnan(lo) and math.isnan(hi)


def test_wilson_vectorised():
    lo, hi = S.wilson_ci(np.array([0, 28, 5, 0]), np.array([34, 34, 16, 0]))
    assert lo.shape == (4,)
    assert lo[1] == pytest.approx(_wilson(28, 34)[0], abs=1e-12)
    assert hi[2] == pytest.approx(_wilson(5, 16)[1], abs=1e-12)
    assert lo[0] == 0.0 and np.isnan(lo[3]) and np.isnan(hi[3])
    lo, hi = S.wilson_ci(pd.Series([3, 4], index=["a", "b"]), 10)  # broadcasting a scalar n
    assert isinstance(hi, pd.Series) and hi.index.tolist() == ["a", "b"]
    assert hi["b"] == pytest.approx(_wilson(4, 10)[1], abs=1e-12)


def test_wilson_rejects_bad_counts():
    with pytest.raises(ValueError):
        S.wilson_ci(35, 34)
    with pytest.raises(ValueError):
        S.wilson_ci(-1, 34)
    with pytest.raises(ValueError):
        S.wilson_ci(2.5, 34)
    with pytest.raises(ValueError):
        S.wilson_ci(3, 10, level=95)


# --- tables ------------------------------------------------------------------------------------
def test_proportion_row():
    row = S.proportion_row(28, 34)
    assert list(row) == list(S.PROPORTION_COLUMNS)
    assert row["n"] == 28 and row["denominator"] == 34
    assert row["percent"] == pytest.approx(100 * 14 / 17)
    assert row["ci_low"] == pytest.approx(100 * _wilson(28, 34)[0])
    empty = S.proportion_row(0, 0)
    assert empty["n"] == 0 and empty["denominator"] == 0
    assert all(math.isnan(empty[c]) for c in ("percent", "ci_low", "ci_high"))


def test_proportion_table_shared_and_per_row_denominators():
    t = S.proportion_table({"Clinical": 12, "Safeguarding": 9, "Peer": 6}, 16, index_name="type")
    assert list(t.columns) == list(S.PROPORTION_COLUMNS)
    assert t.index.name == "type"
    assert t.loc["Safeguarding", "percent"] == 56.25
    assert t.loc["Clinical", "ci_high"] == pytest.approx(100 * _wilson(12, 16)[1])
    t2 = S.proportion_table(pd.Series({"a": 0, "b": 5, "c": 0}), {"a": 10, "b": 5, "c": 0})
    assert t2.loc["a", "ci_low"] == 0.0 and t2.loc["a", "percent"] == 0.0
    assert t2.loc["b", "ci_high"] == 100.0 and t2.loc["b", "percent"] == 100.0
    assert t2.loc["c", ["percent", "ci_low", "ci_high"]].isna().all()
    with pytest.raises(ValueError):
        S.proportion_table({"a": 1}, {"b": 2})


def test_count_table_keeps_zero_categories():
    s = pd.Series(pd.Categorical(["Band 7", "Band 6", None, "Band 7"], categories=["Band 6", "Band 7", "Band 8"]), name="band")
    t = S.count_table(s)
    assert t.index.tolist() == ["Band 6", "Band 7", "Band 8"]
    assert t["n"].tolist() == [1, 2, 0]
    assert t["denominator"].tolist() == [3, 3, 3]  # the missing answer is not in the denominator
    assert S.count_table(s, dropna=False)["denominator"].tolist() == [4, 4, 4]


# --- Newcombe -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "x1, n1, x2, n2, diff, low, high",
    [
        (56, 70, 48, 80, 0.2, 0.0524, 0.3339),  # Newcombe 1998b Table II, example (a)
        (9, 10, 3, 10, 0.6, 0.1705, 0.8090),  # (b)
        (5, 56, 0, 29, 5 / 56, -0.0381, 0.1926),  # (d)
        (0, 10, 0, 20, 0.0, -0.1611, 0.2775),  # (e)
        (10, 10, 0, 20, 1.0, 0.6791, 1.0),  # (f)
    ],
)
def test_newcombe_published_examples(x1, n1, x2, n2, diff, low, high):
    r = S.newcombe_diff_ci(x1, n1, x2, n2)
    assert r.diff == pytest.approx(diff, abs=1e-12)
    assert r.ci_low == pytest.approx(low, abs=5e-5)
    assert r.ci_high == pytest.approx(high, abs=5e-5)


@pytest.mark.parametrize("x1, n1, x2, n2", [(6, 7, 2, 7), (28, 34, 20, 35), (16, 34, 9, 16), (0, 34, 3, 35)])
def test_newcombe_matches_independent_method10(x1, n1, x2, n2):
    d, lo, hi = _newcombe10(x1, n1, x2, n2)
    r = S.newcombe_diff_ci(x1, n1, x2, n2)
    assert (r.diff, r.ci_low, r.ci_high) == pytest.approx((d, lo, hi), abs=1e-10)


def test_newcombe_antisymmetric_and_empty():
    a = S.newcombe_diff_ci(28, 34, 20, 35)
    b = S.newcombe_diff_ci(20, 35, 28, 34)
    assert (a.ci_low, a.ci_high) == pytest.approx((-b.ci_high, -b.ci_low), abs=1e-12)
    e = S.newcombe_diff_ci(0, 0, 3, 10)
    assert math.isnan(e.diff) and math.isnan(e.ci_low)


# --- 2x2 tests ------------------------------------------------------------------------------------
def test_table_layout():
    assert S.table_2x2(7, 10, 2, 10).tolist() == [[7, 3], [2, 8]]


def test_fisher_hand_worked():
    # [[7,3],[2,8]]: margins 10,10 / 9,11. P(k) = C(9,k) C(11,10-k) / C(20,10), C(20,10) = 184756.
    # P(7) = P(2) = 36*165 = 5940; P(8) = P(1) = 9*55 = 495; P(9) = P(0) = 11.
    # Two-sided: every table no more likely than the observed one: 2*(5940+495+11) = 12892.
    r = S.fisher_exact(7, 10, 2, 10)
    assert r.pvalue == pytest.approx(12892 / 184756, rel=1e-12)
    assert r.statistic == pytest.approx(7 * 8 / (3 * 2))
    # one-sided p1 > p2: k >= 7
    assert S.fisher_exact(7, 10, 2, 10, "greater").pvalue == pytest.approx(6446 / 184756, rel=1e-12)
    assert S.fisher_exact(7, 10, 2, 10, "less").pvalue == pytest.approx(1 - (6446 - 5940) / 184756, rel=1e-12)


def _boschloo_oracle(x1, n1, x2, n2, alternative, grid=20001):
    """Sup over the common p of P(Fisher one-sided p <= observed), by brute force."""
    N, big = n1 + n2, None

    def fisher_greater(a, b):  # P(X >= a | margins), X = successes in group 1
        s = a + b
        lo, hi = max(0, s - n2), min(n1, s)
        tot = math.comb(N, s)
        return sum(math.comb(n1, k) * math.comb(n2, s - k) for k in range(a, hi + 1)) / tot

    def fisher_less(a, b):
        s = a + b
        lo = max(0, s - n2)
        tot = math.comb(N, s)
        return sum(math.comb(n1, k) * math.comb(n2, s - k) for k in range(lo, a + 1)) / tot

    f = fisher_greater if alternative == "greater" else fisher_less
    obs = f(x1, x2)
    extreme = [(a, b) for a in range(n1 + 1) for b in range(n2 + 1) if f(a, b) <= obs * (1 + 1e-13)]
    best = 0.0
    for p in np.linspace(0, 1, grid):
        tot = sum(math.comb(n1, a) * p**a * (1 - p) ** (n1 - a) * math.comb(n2, b) * p**b * (1 - p) ** (n2 - b) for a, b in extreme)
        best = max(best, tot)
    return obs, best


@pytest.mark.parametrize("x1, n1, x2, n2", [(7, 10, 2, 10), (5, 6, 1, 6)])
def test_boschloo_against_brute_force(x1, n1, x2, n2):
    obs_g, p_g = _boschloo_oracle(x1, n1, x2, n2, "greater", grid=2001)
    _, p_l = _boschloo_oracle(x1, n1, x2, n2, "less", grid=2001)
    r = S.boschloo_exact(x1, n1, x2, n2, "greater")
    assert r.statistic == pytest.approx(obs_g, rel=1e-9)
    assert r.pvalue == pytest.approx(p_g, abs=2e-4)
    two = S.boschloo_exact(x1, n1, x2, n2)
    assert two.pvalue == pytest.approx(min(1.0, 2 * min(p_g, p_l)), abs=4e-4)
    # uniformly more powerful than Fisher: never a larger one-sided p-value
    assert r.pvalue <= S.fisher_exact(x1, n1, x2, n2, "greater").pvalue + 1e-12


def test_boschloo_deterministic_and_degenerate():
    a = S.boschloo_exact(28, 34, 20, 35)
    b = S.boschloo_exact(28, 34, 20, 35)
    assert a == b
    assert math.isnan(S.boschloo_exact(0, 0, 3, 5).pvalue)


def test_score_test_is_pooled_z():
    # 7/10 vs 2/10: pooled p = 9/20, var = 0.45*0.55*(1/10+1/10) = 0.0495; z = 0.5/sqrt(0.0495)
    z = 0.5 / math.sqrt(0.0495)
    r = S.score_test_2prop(7, 10, 2, 10)
    assert r.statistic == pytest.approx(z, rel=1e-10)
    assert r.pvalue == pytest.approx(2 * (1 - NormalDist().cdf(z)), rel=1e-9)
    assert S.score_test_2prop(7, 10, 2, 10, "greater").pvalue == pytest.approx(1 - NormalDist().cdf(z), rel=1e-9)
    # Miettinen-Nurminen: variance times N/(N-1) = 20/19
    rc = S.score_test_2prop(7, 10, 2, 10, correction=True)
    assert rc.statistic == pytest.approx(z / math.sqrt(20 / 19), rel=1e-10)
    assert math.isnan(S.score_test_2prop(0, 10, 0, 12).pvalue)


def test_compare_proportions_row():
    row = S.compare_proportions(28, 34, 20, 35)
    d, lo, hi = _newcombe10(28, 34, 20, 35)
    assert row["diff"] == pytest.approx(d) and row["ci_low"] == pytest.approx(lo) and row["ci_high"] == pytest.approx(hi)
    assert row["p_fisher"] == S.fisher_exact(28, 34, 20, 35).pvalue
    assert set(row) >= {"p1", "p2", "p_boschloo", "p_score"}


# --- ordinal --------------------------------------------------------------------------------------
CATS = ["Disagree", "Neutral", "Agree"]


def test_prob_superiority_hand_worked():
    # x codes [0,1,1,2], y codes [1,2,2,2]; of 16 pairs: x=0 -> 4 wins for y; each x=1 -> 3 wins + 1 tie;
    # x=2 -> 3 ties. (4 + 2*3.5 + 1.5) / 16 = 12.5/16
    x = ["Disagree", "Neutral", "Neutral", "Agree"]
    y = ["Neutral", "Agree", "Agree", "Agree"]
    assert S.prob_superiority(x, y, CATS) == 12.5 / 16
    assert S.prob_superiority([1, 2], [2, 3]) == 3.5 / 4


def _exact_mw_p(a, b):
    pooled = list(a) + list(b)
    def u(xs, ys):
        return sum((xi > yj) + 0.5 * (xi == yj) for xi in xs for yj in ys)
    obs = u(a, b)
    us = []
    for idx in itertools.combinations(range(len(pooled)), len(a)):
        xs = [pooled[i] for i in idx]
        ys = [pooled[i] for i in range(len(pooled)) if i not in idx]
        us.append(u(xs, ys))
    us = np.array(us)
    return obs, min(1.0, 2 * min(np.mean(us <= obs + 1e-9), np.mean(us >= obs - 1e-9)))


def test_ordinal_shift_small_sample_exact():
    x = pd.Series(["Disagree", "Neutral", "Neutral", "Agree", None])
    y = pd.Series(["Neutral", "Agree", "Agree", "Agree"])
    r = S.ordinal_shift(x, y, CATS)
    s = r.summary
    assert (s["n_x"], s["n_y"]) == (4, 4)
    assert s["perm_exact"] is True and s["n_resamples"] == 70  # C(8,4)
    obs, p = _exact_mw_p([0, 1, 1, 2], [1, 2, 2, 2])
    assert s["mw_u"] == obs == 3.5
    assert s["mw_p"] == pytest.approx(p, abs=1e-12)
    assert s["prob_superiority"] == 12.5 / 16
    assert 0 < s["bm_p_perm"] <= 1 and 0 < s["bm_p"] <= 1
    bc = r.by_category.set_index("category")
    assert bc.loc["Agree", ["n_x", "n_y"]].tolist() == [1, 3]
    assert bc.loc["Agree", "diff"] == pytest.approx(50.0)  # 3/4 - 1/4
    d, lo, hi = _newcombe10(3, 4, 1, 4)
    assert bc.loc["Agree", "ci_low"] == pytest.approx(100 * lo)
    assert bc["diff"].sum() == pytest.approx(0.0)


def test_ordinal_shift_separated_and_constant():
    r = S.ordinal_shift([1, 1, 1], [2, 2, 2])
    assert r.summary["mw_p"] == pytest.approx(2 / 20)  # one extreme split of C(6,3) each side
    assert r.summary["prob_superiority"] == 1.0
    assert math.isnan(r.summary["bm_statistic"])  # Brunner-Munzel undefined under complete separation
    c = S.ordinal_shift([1, 1], [1, 1, 1])
    assert math.isnan(c.summary["mw_p"]) and c.summary["prob_superiority"] == 0.5


def test_ordinal_shift_is_seeded():
    rng = np.random.default_rng(7)
    x, y = rng.integers(1, 6, 34), rng.integers(2, 6, 35)
    a = S.ordinal_shift(x, y).summary
    b = S.ordinal_shift(x, y).summary
    assert a == b and a["perm_exact"] is False
    c = S.ordinal_shift(x, y, seed=1).summary
    assert c["mw_u"] == a["mw_u"]


def test_ordinal_shift_ordered_categorical_and_unknown_labels():
    dtype = pd.CategoricalDtype(CATS, ordered=True)
    x = pd.Series(["Disagree", "Agree"], dtype=dtype)
    y = pd.Series(["Agree", "Agree"], dtype=dtype)
    assert S.ordinal_shift(x, y).summary["prob_superiority"] == 0.75
    with pytest.raises(ValueError):
        S.ordinal_shift(["Strongly agree"], ["Agree"], CATS)


# --- multiplicity -------------------------------------------------------------------------------------
def test_holm_and_bh_hand_worked():
    p = [0.01, 0.04, 0.03, 0.005]
    # Holm: sorted 0.005*4=0.02, 0.01*3=0.03, 0.03*2=0.06, 0.04*1=0.04 -> monotone 0.02,0.03,0.06,0.06
    assert S.holm(p) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    # BH: 0.005*4/1=0.02, 0.01*4/2=0.02, 0.03*4/3=0.04, 0.04*4/4=0.04
    assert S.benjamini_hochberg(p) == pytest.approx([0.02, 0.04, 0.04, 0.02])


def test_adjust_keeps_nan_out_of_the_family():
    out = S.adjust_pvalues([0.01, float("nan"), 0.04], "holm")
    assert out[0] == pytest.approx(0.02) and math.isnan(out[1]) and out[2] == pytest.approx(0.04)
    with pytest.raises(ValueError):
        S.adjust_pvalues([0.1], "bonferroni-ish")
    with pytest.raises(ValueError):
        S.adjust_pvalues([1.5])


# --- bit-identical to statsmodels (the package computes the same arithmetic without importing it) --

def test_wilson_and_newcombe_are_bit_identical_to_statsmodels():
    from statsmodels.stats.proportion import confint_proportions_2indep, proportion_confint

    for level in (0.9, 0.95, 0.99):
        alpha = 1 - level
        c = np.concatenate([np.arange(0, n + 1) for n in range(1, 81)])
        m = np.concatenate([np.full(n + 1, n) for n in range(1, 81)])
        lo, hi = proportion_confint(c, m, alpha=alpha, method="wilson")
        lo, hi = np.clip(lo, 0, 1), np.clip(hi, 0, 1)
        lo[c == 0], hi[c == m] = 0.0, 1.0
        ours = S.wilson_ci(c, m, level)
        assert np.array_equal(ours[0], lo) and np.array_equal(ours[1], hi)
        rng = np.random.default_rng(5)
        for _ in range(300):
            n1, n2 = (int(v) for v in rng.integers(1, 70, 2))
            x1, x2 = int(rng.integers(0, n1 + 1)), int(rng.integers(0, n2 + 1))
            low, high = confint_proportions_2indep(x1, n1, x2, n2, method="newcomb", compare="diff", alpha=alpha)
            d = S.newcombe_diff_ci(x1, n1, x2, n2, level)
            assert (d.ci_low, d.ci_high) == (float(max(low, -1.0)), float(min(high, 1.0))), (x1, n1, x2, n2)


def test_bm_statistic_from_counts_matches_scipy():
    """The count-based Brunner-Munzel statistic (used in the permutation test) agrees with scipy's."""
    from scipy import stats as ss

    rng = np.random.default_rng(11)
    for k, offset in ((2, 0.0), (3, 0.0), (5, 0.0), (4, 2.5), (6, -1.0)):
        x = rng.integers(0, k, (400, 17)).astype(float) + offset
        y = rng.integers(0, k, (400, 23)).astype(float) + offset
        x[0], y[0] = offset, offset  # no variance at all: undefined (NaN)
        x[1], y[1] = offset, offset + 1  # separated, no variance within: infinite
        ours = S.bm_statistic_from_counts(np.concatenate([x.ravel(), y.ravel()]))(x, y)
        with np.errstate(divide="ignore", invalid="ignore"):
            ref = ss.brunnermunzel(x, y, axis=-1, distribution="normal").statistic
        assert np.allclose(ours, ref, rtol=1e-13, atol=0, equal_nan=True)
        assert np.isnan(ours[0]) and np.isinf(ours[1])


def test_ordinal_shift_without_mann_whitney_gives_the_same_brunner_munzel_p():
    x, y = [0, 1, 1, 2, 2, 2, 3] * 4, [1, 2, 2, 3, 3, 3, 3] * 4
    full = S.ordinal_shift(x, y, [0, 1, 2, 3], n_resamples=999)
    short = S.ordinal_shift(x, y, [0, 1, 2, 3], n_resamples=999, mann_whitney=False)
    assert short.summary["bm_p_perm"] == full.summary["bm_p_perm"] and 0 < full.summary["bm_p_perm"] < 0.05
    assert math.isnan(short.summary["mw_p"]) and not math.isnan(full.summary["mw_p"])


def test_boschloo_cache_gives_what_scipy_gives():
    from scipy import stats as ss

    for x1, n1, x2, n2 in ((3, 10, 7, 10), (0, 12, 4, 9), (3, 10, 7, 10)):
        ours = S.boschloo_exact(x1, n1, x2, n2)
        ref = ss.boschloo_exact(np.array([[x1, x2], [n1 - x1, n2 - x2]]), n=32)
        assert (ours.statistic, ours.pvalue) == (float(ref.statistic), float(ref.pvalue))
