"""Smallest detectable odds ratios (pimh_analysis.models.power)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from pimh_analysis.models import power


def test_fisher_rejection_region_matches_scipy():
    rej = power._fisher_rejection(9, 13, 0.05)
    for a in range(10):
        for c in range(14):
            assert rej[a, c] == (stats.fisher_exact([[a, 9 - a], [c, 13 - c]]).pvalue <= 0.05)


def test_fisher_power_properties():
    assert power.fisher_power(17, 17, 0.4, 1.0) <= 0.05           # size never exceeds alpha
    assert power.fisher_power(100, 100, 0.3, 3.0) == pytest.approx(power.wald_power(100, 100, 0.3, 3.0), abs=0.03)
    assert power.fisher_power(17, 17, 0.4, 10.0) > power.fisher_power(17, 17, 0.4, 3.0)


def test_detectable_or_at_n34_is_large_and_shrinks_with_n():
    r34 = power.detectable_or_fisher(17, 17, 0.47)
    r80 = power.detectable_or_fisher(40, 40, 0.47)
    assert r34.or_up > 5 and r34.or_down < 0.2
    assert r80.or_up < r34.or_up
    assert power.fisher_power(17, 17, 0.47, r34.or_up) == pytest.approx(0.8, abs=0.01)
    assert "exact power of the two-sided Fisher test" in r34.assumptions
    assert "80% power" in r34.sentence()


def test_tiny_group_has_no_detectable_or():
    r = power.detectable_or_fisher(3, 31, 0.5)
    assert math.isinf(r.or_up) and r.or_down == 0.0
    assert "not reached" in r.sentence()


def test_whitehead_formula_round_trip():
    probs = [0.1, 0.2, 0.2, 0.3, 0.2]
    r = power.detectable_or_ordinal(200, 0.5, probs)
    za, zb = stats.norm.ppf(0.975), stats.norm.ppf(0.8)
    n_back = 6 * (za + zb) ** 2 / (0.25 * math.log(r.or_up) ** 2 * (1 - np.sum(np.array(probs) ** 3)))
    assert n_back == pytest.approx(200)
    assert r.or_down == pytest.approx(1 / r.or_up)
