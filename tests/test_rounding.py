"""GRIM-style arithmetic: expected values are worked by hand (shown in comments).

An independent brute-force oracle written with integer arithmetic only
(:func:`_oracle_ks`) cross-checks the interval arithmetic of ``grim_count``.
"""

from __future__ import annotations

from fractions import Fraction

import pytest

from pimh_analysis import rounding as R


# --- oracle: integer-only statement of each rounding rule -------------------------------
def _oracle_ks(m: int, d: int, n: int, rule: str, scale: int = 100) -> list[int]:
    """k in 0..n with scale*k/n printing as m / 10**d, using integers only.

    Let y = scale * 10**d * k / n. half_up: m - 1/2 <= y < m + 1/2, i.e.
    (2m-1) n <= 2 scale 10^d k < (2m+1) n; the other rules change the ends.
    """
    out = []
    s = scale * 10**d
    for k in range(n + 1):
        a, lo, hi = 2 * s * k, (2 * m - 1) * n, (2 * m + 1) * n
        if rule == "half_up":
            ok = lo <= a < hi
        elif rule == "half_down":
            ok = lo < a <= hi
        elif rule == "half_even":
            ok = (lo <= a <= hi) if m % 2 == 0 else (lo < a < hi)
        elif rule == "truncate":
            ok = m * n <= s * k < (m + 1) * n
        else:
            raise AssertionError(rule)
        out.append(k) if ok else None
    return out


# --- parsing ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "text, value, decimals, canonical",
    [
        ("82.3", Fraction(823, 10), 1, "82.3"),
        ("50", Fraction(50), 0, "50"),
        ("12.0", Fraction(12), 1, "12.0"),
        (" 82.3% ", Fraction(823, 10), 1, "82.3"),
        ("0.05", Fraction(1, 20), 2, "0.05"),
        ("007", Fraction(7), 0, "7"),
        (34, Fraction(34), 0, "34"),
    ],
)
def test_parse_printed_keeps_decimals(text, value, decimals, canonical):
    p = R.parse_printed(text)
    assert (p.value, p.decimals, p.text) == (value, decimals, canonical)


def test_parse_printed_refuses_floats_and_junk():
    with pytest.raises(TypeError):
        R.parse_printed(12.0)
    for bad in ["", "abc", "1.2.3", "12,5", "1e3", "."]:
        with pytest.raises(ValueError):
            R.parse_printed(bad)


# --- rounding rules on exact values ---------------------------------------------------------
def test_round_fraction_beats_binary_floats():
    # 2.675 is stored as 2.67499999... in binary; the exact decimal rounds half-up to 2.68.
    assert round(2.675, 2) == 2.67
    assert R.format_fixed(Fraction("2.675"), 2, "half_up") == "2.68"
    assert R.format_fixed(Fraction("2.675"), 2, "half_even") == "2.68"  # 7 is odd -> up
    assert R.format_fixed(Fraction("2.665"), 2, "half_even") == "2.66"  # 6 is even -> stays
    # 1/8 = 0.125: half_up 0.13, half_even 0.12, half_down 0.12, truncate 0.12
    assert [R.format_fixed(Fraction(1, 8), 2, r) for r in ("half_up", "half_even", "half_down", "truncate")] == [
        "0.13", "0.12", "0.12", "0.12"
    ]


def test_format_fixed_pads_and_handles_signs():
    assert R.format_fixed(Fraction(0), 1) == "0.0"
    assert R.format_fixed(Fraction(1, 20), 0) == "0"  # 0.05 -> 0
    assert R.format_fixed(Fraction(1, 2), 0) == "1"  # 0.5 half-up -> 1
    assert R.format_fixed(Fraction(1, 2), 0, "half_even") == "0"
    assert R.format_fixed(Fraction(-5, 2), 0, "half_up") == "-3"  # ties away from zero
    assert R.format_fixed(Fraction(-27, 10), 0, "truncate") == "-2"  # toward zero
    assert R.format_fixed(Fraction(-1, 100), 1) == "0.0"  # no negative zero
    assert R.format_fixed(Fraction(7, 1000), 2) == "0.01"


def test_unknown_rule_rejected():
    with pytest.raises(ValueError):
        R.round_fraction(Fraction(1, 3), 1, "nearest")
    with pytest.raises(ValueError):
        R.grim_count("50", 10, "nearest")


# --- the report's cases ------------------------------------------------------------------------
def test_28_of_34():
    # 28/34 = 14/17 = 82.352941...%: one decimal -> 82.4 (half up and half even); truncated 82.3
    assert R.percent_value(28, 34) == Fraction(1400, 17)
    assert R.percent_string(28, 34, 1, "half_up") == "82.4"
    assert R.percent_string(28, 34, 1, "half_even") == "82.4"
    assert R.percent_string(28, 34, 1, "truncate") == "82.3"
    assert R.percent_string(28, 34, 0) == "82"
    assert R.percent_string(28, 34, 2) == "82.35"
    assert not R.consistent("82.3", 28, 34, "half_up")
    assert not R.consistent("82.3", 28, 34, "half_even")
    assert R.consistent("82.3", 28, 34, "truncate")
    # 82.3 at n=34: only k=28 and only by truncation (27/34 = 79.41, 29/34 = 85.29)
    assert R.consistent_any("82.3", 34, R.AUDIT_RULES) == {"truncate": (28,)}


@pytest.mark.parametrize(
    "k, n, half_up, half_even, half_down, truncate",
    [
        (9, 16, "56.3", "56.2", "56.2", "56.2"),  # 56.25: tie, 2 even -> stays
        (5, 16, "31.3", "31.2", "31.2", "31.2"),  # 31.25: tie, 2 even -> stays
        (7, 16, "43.8", "43.8", "43.7", "43.7"),  # 43.75: tie, 7 odd -> up to 8
        (3, 16, "18.8", "18.8", "18.7", "18.7"),  # 18.75: tie, 7 odd -> up
        (12, 16, "75.0", "75.0", "75.0", "75.0"),
        (6, 16, "37.5", "37.5", "37.5", "37.5"),
        (22, 33, "66.7", "66.7", "66.7", "66.6"),  # 66.666...
        (12, 35, "34.3", "34.3", "34.3", "34.2"),  # 34.2857...
        (0, 34, "0.0", "0.0", "0.0", "0.0"),
        (34, 34, "100.0", "100.0", "100.0", "100.0"),
    ],
)
def test_sixteenths_and_others(k, n, half_up, half_even, half_down, truncate):
    got = [R.percent_string(k, n, 1, r) for r in ("half_up", "half_even", "half_down", "truncate")]
    assert got == [half_up, half_even, half_down, truncate]


def test_ties_at_16_identify_the_rule():
    # The report prints 56.3 (9/16) and 31.3 (5/16): only half-up produces both.
    assert R.consistent_any("56.3", 16, R.AUDIT_RULES) == {"half_up": (9,)}
    assert R.consistent_any("31.3", 16, R.AUDIT_RULES) == {"half_up": (5,)}
    # 56.2 at n=16 would have been half-even (or truncation)
    assert R.consistent_any("56.2", 16, R.AUDIT_RULES) == {"half_even": (9,), "truncate": (9,)}
    assert R.grim_count("31.2", 16, "half_up") == ()


def test_two_decimals():
    assert R.percent_string(22, 33, 2) == "66.67"
    assert R.grim_count("66.67", 33) == (22,)
    assert R.grim_count("66.67", 34) == ()  # 22/34 = 64.71, 23/34 = 67.65


def test_51_percent_needs_n_35():
    # half up: 50.5 <= 100k/n < 51.5. For n <= 34 the interval [0.505n, 0.515n) is narrower
    # than 1/3 of a count and misses every integer (e.g. n=33: [16.67, 17.00) -> 17/33 = 51.52 rounds to 52).
    for n in range(1, 35):
        assert R.grim_count("51", n, "half_up") == (), n
    assert R.grim_count("51", 35, "half_up") == (18,)  # 18/35 = 51.43
    assert R.feasible_n("51", "half_up", 10, 40) == [35, 37, 39]  # 19/37 = 51.35, 20/39 = 51.28
    # truncation reaches 51 earlier: 14/27 = 51.85 -> 51
    assert R.feasible_n("51", "truncate", 10, 28) == [27]


def test_43_and_other_integers_fit_35_not_34():
    # 15/35 = 42.86 -> 43; at 34: 14/34 = 41.18, 15/34 = 44.12
    assert R.grim_count("43", 35) == (15,)
    assert R.grim_count("43", 34) == ()


def test_76_6_not_at_34():
    # 26/34 = 76.47 -> 76.5; 27/34 = 79.41
    assert R.consistent_any("76.6", 34, R.AUDIT_RULES) == {}
    c = R.closest_at_n("76.6", 34)
    assert (c.k, c.n) == (26, 34)
    assert c.exact == Fraction(1300, 17)
    assert c.printed == {"half_up": "76.5", "half_even": "76.5", "truncate": "76.4"}
    assert c.gap == Fraction(11, 85)  # 383/5 - 1300/17 = (6511 - 6500)/85
    assert not any(c.matches(r) for r in R.AUDIT_RULES)
    assert c.describe() == "26/34 = 76.471 (half_up 76.5, half_even 76.5, truncate 76.4; gap 0.129)"
    # 36/47 = 76.596 -> 76.6 half-up; 23/30 = 76.67 and 46/60 truncate to 76.6
    feas = {f.n: dict(f.ks) for f in R.feasible_denominators("76.6", rules=R.AUDIT_RULES)}
    assert feas[47] == {"half_up": (36,), "half_even": (36,)}
    assert feas[30] == {"truncate": (23,)}
    assert feas[60] == {"truncate": (46,)}
    assert sorted(feas) == [30, 47, 60]


def test_closest_ties_go_to_lower_k():
    # 50% at n=3: 1/3 = 33.3 and 2/3 = 66.7 are both 16.67 away -> k=1
    c = R.closest_at_n("50", 3)
    assert c.k == 1 and c.gap == Fraction(50, 3)
    # exact hit
    c = R.closest_at_n("50", 34)
    assert c.k == 17 and c.gap == 0 and c.matches("half_up")


def test_closest_clamps_to_range():
    c = R.closest_at_n("100.0", 10)
    assert c.k == 10
    c = R.closest_at_n("0", 10)
    assert c.k == 0


def test_count_percent_pair_disagreement():
    # Years in role "28 (52.9%)" of 34: 28/34 = 82.4; 52.9% is 18/34 = 52.94
    k, p = R.parse_count_percent("28 (52.9%)")
    assert (k, p.text) == (28, "52.9")
    chk = R.check_count_percent(28, "52.9", 34)
    assert not chk.agree
    assert chk.percent_from_count == "82.4"
    assert chk.counts_for_percent["half_up"] == (18,)
    assert chk.denominators_for_count == []  # 28/52 = 53.85, 28/53 = 52.83
    assert "implies count 18" in chk.describe()
    ok = R.check_count_percent(18, "52.9", 34)
    assert ok.agree and ok.agrees == {"half_up": True, "half_even": True, "truncate": True}


def test_count_percent_pair_without_n():
    # 23 (69.6%): 16/23 would be 69.6 but 23/n = 0.696 -> n = 33.05: 23/33 = 69.70
    chk = R.check_count_percent(23, "69.7", None)
    assert chk.denominators_for_count == [33]


def test_sum_of_rounded_parts():
    # 9/34 = 26.470588...% rounds half-up to 26.5; printed parts 8.8 (3/34) + 17.6 (6/34) = 26.4
    s = R.check_sum("26.4", [3, 6], 34)
    assert s.rounded_total == "26.5"
    assert s.parts == ("8.8", "17.6")
    assert s.sum_of_rounded_parts == "26.4"
    assert s.matches_sum_of_parts and not s.matches_rounded_total
    assert R.sum_printed(["8.8", "17.6"]).text == "26.4"
    assert R.sum_printed(["20.6", "52.9", "8.8", "17.6"]).text == "99.9"


def test_feasible_denominators_decimals_override():
    # "51" read at one decimal is 51.0: 51.0 needs [50.95, 51.05) -> n = 49 (25/49 = 51.02), n = 51 has 26/51 = 50.98
    assert R.feasible_n(R.parse_printed("51.0"), "half_up", 10, 60) == [49, 51]
    assert [f.n for f in R.feasible_denominators("51", decimals=1, rules=("half_up",))] == [49, 51]
    with pytest.raises(ValueError):
        R.feasible_denominators("51.0", decimals=0)


def test_proportion_scale():
    # scale=1: 0.82 from 28/34 = 0.8235 -> 0.82
    assert R.consistent("0.82", 28, 34, scale=1)
    assert R.grim_count("0.82", 34, scale=1) == (28,)


@pytest.mark.parametrize("rule", ["half_up", "half_even", "half_down", "truncate"])
@pytest.mark.parametrize("d", [0, 1])
def test_grim_count_matches_integer_oracle(rule, d):
    # every printed value that any k/n with n <= 40 can produce, plus near misses
    for n in range(1, 41):
        for m in range(0, 100 * 10**d + 1, 7 if d else 1):
            printed = R.format_fixed(Fraction(m, 10**d), d)
            assert list(R.grim_count(printed, n, rule)) == _oracle_ks(m, d, n, rule), (printed, n, rule)


def test_consistent_agrees_with_percent_string():
    for n in (16, 33, 34, 35):
        for k in range(n + 1):
            for rule in R.RULES:
                s = R.percent_string(k, n, 1, rule)
                assert R.consistent(s, k, n, rule)
                assert k in R.grim_count(s, n, rule)


def test_input_checks():
    with pytest.raises(ValueError):
        R.percent_value(1, 0)
    with pytest.raises(ValueError):
        R.percent_value(-1, 10)
    with pytest.raises(TypeError):
        R.percent_value(1.5, 10)
