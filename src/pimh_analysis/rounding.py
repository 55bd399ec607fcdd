"""GRIM-style arithmetic on exact fractions: which counts and denominators can print a value.

A percentage printed as ``82.3`` says that some count ``k`` out of some denominator
``n`` gave ``100 k / n`` which, rounded to one decimal by *some* rule, reads
``82.3``.  This module answers the questions a reproduction audit asks about such a
number, exactly:

* does ``k/n`` print as the published value (:func:`consistent`)?
* which ``k`` out of ``n`` print as it, under which rule (:func:`consistent_any`)?
* which denominators in a range can produce it at all (:func:`feasible_denominators`)?
* what is the nearest value achievable at the stated ``n`` (:func:`closest_at_n`)?
* do a printed count and its percentage agree (:func:`check_count_percent`)?
* is a printed total the sum of printed (already rounded) parts rather than the
  rounded exact total (:func:`check_sum`)?

Everything is computed on :class:`fractions.Fraction`; no binary float is ever
rounded.  (Python's :func:`round` rounds half to even *on the binary value*, so
``round(0.125, 2)`` and ``round(2.675, 2)`` are not what a report author's software
printed.)  Printed values are parsed from their *strings* so that trailing zeros,
which carry the number of decimals, are kept: ``"12.0"`` has one decimal, ``"12"``
none.

Rounding rules (all applied to the exact value, ``x >= 0`` in every use here):

``half_up``
    ties away from zero (SPSS, Excel, ``ROUND_HALF_UP``): 56.25 -> 56.3.
``half_even``
    ties to the even last digit (banker's rounding, IEEE default): 56.25 -> 56.2,
    43.75 -> 43.8.
``half_down``
    ties toward zero: 56.25 -> 56.2, 43.75 -> 43.7.
``truncate``
    drop the extra digits, toward zero: 82.3529... -> 82.3.

Values are *percentages* by default (``scale=100``); pass ``scale=1`` for proportions
printed like ``0.82``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction
from typing import Iterable, Mapping, Sequence

HALF_UP = "half_up"
HALF_EVEN = "half_even"
HALF_DOWN = "half_down"
TRUNCATE = "truncate"

RULES: tuple[str, ...] = (HALF_UP, HALF_EVEN, HALF_DOWN, TRUNCATE)
#: The three rules a reproduction audit reports on.
AUDIT_RULES: tuple[str, ...] = (HALF_UP, HALF_EVEN, TRUNCATE)

_NUMBER_RE = re.compile(r"^([+-]?)(\d+)(?:\.(\d+))?$")
_COUNT_PERCENT_RE = re.compile(r"^\s*(\d+)\s*\(\s*([+-]?\d+(?:\.\d+)?)\s*%?\s*\)\s*$")

Number = int | Fraction


# --- parsing and formatting ---------------------------------------------------


@dataclass(frozen=True)
class Printed:
    """A number as printed: its text, its exact value and its number of decimals."""

    text: str
    value: Fraction
    decimals: int

    def __str__(self) -> str:
        return self.text

    @property
    def half_unit(self) -> Fraction:
        """Half of one unit in the last printed place (0.05 for one decimal)."""
        return Fraction(1, 2 * 10**self.decimals)


def parse_printed(text: "str | int | Printed") -> Printed:
    """Parse a printed number, keeping the decimals it was printed with.

    Accepts ``"82.3"``, ``"50"``, ``"12.0"``, ``" 82.3% "`` (whitespace and one
    trailing ``%`` are dropped) and plain ``int``.  Floats are refused: ``12.0`` as a
    float has lost the information that it was printed with one decimal.
    """
    if isinstance(text, Printed):
        return text
    if isinstance(text, bool) or not isinstance(text, (str, int)):
        raise TypeError(
            f"parse_printed needs the printed string (or an int), not {type(text).__name__} {text!r}: "
            "a float has lost its trailing zeros"
        )
    s = str(text).strip()
    if s.endswith("%"):
        s = s[:-1].strip()
    s = s.replace("\u2212", "-")  # a typographic minus
    m = _NUMBER_RE.match(s)
    if not m:
        raise ValueError(f"not a printed number: {text!r}")
    sign, whole, frac = m.groups()
    frac = frac or ""
    value = Fraction(int(whole + frac), 10 ** len(frac))
    if sign == "-":
        value = -value
    canonical = ("-" if sign == "-" and value != 0 else "") + whole.lstrip("0").rjust(1, "0")
    if frac:
        canonical += "." + frac
    return Printed(text=canonical, value=value, decimals=len(frac))


def round_fraction(x: Number, decimals: int, rule: str = HALF_UP) -> Fraction:
    """``x`` rounded to ``decimals`` places under ``rule``, exactly (a Fraction)."""
    if decimals < 0:
        raise ValueError("decimals must be >= 0")
    if rule not in RULES:
        raise ValueError(f"unknown rounding rule {rule!r}; expected one of {', '.join(RULES)}")
    x = Fraction(x)
    unit = 10**decimals
    scaled = abs(x) * unit
    q, r = divmod(scaled.numerator, scaled.denominator)  # floor and remainder of |x| * 10^d
    rem = Fraction(r, scaled.denominator)  # in [0, 1)
    half = Fraction(1, 2)
    if rule == TRUNCATE:
        m = q
    elif rem > half:
        m = q + 1
    elif rem < half:
        m = q
    elif rule == HALF_UP:
        m = q + 1
    elif rule == HALF_DOWN:
        m = q
    else:  # HALF_EVEN
        m = q if q % 2 == 0 else q + 1
    return Fraction(-m if x < 0 else m, unit)


def format_fixed(x: Number, decimals: int, rule: str = HALF_UP) -> str:
    """``x`` rounded under ``rule`` and written with exactly ``decimals`` places."""
    r = round_fraction(x, decimals, rule)
    m = r * 10**decimals
    assert m.denominator == 1
    mi = int(m)
    digits = str(abs(mi)).rjust(decimals + 1, "0")
    body = digits if decimals == 0 else digits[:-decimals] + "." + digits[-decimals:]
    return ("-" if mi < 0 else "") + body


def percent_value(k: int, n: int, scale: int = 100) -> Fraction:
    """The exact value ``scale * k / n`` (a percentage by default)."""
    _check_kn(k, n)
    return Fraction(scale * k, n)


def percent_string(k: int, n: int, decimals: int = 1, rule: str = HALF_UP, scale: int = 100) -> str:
    """How ``k/n`` prints as a percentage with ``decimals`` places under ``rule``.

    >>> percent_string(28, 34, 1, "half_up"), percent_string(28, 34, 1, "truncate")
    ('82.4', '82.3')
    """
    return format_fixed(percent_value(k, n, scale), decimals, rule)


def _check_kn(k: int, n: int) -> None:
    if isinstance(k, bool) or isinstance(n, bool) or int(k) != k or int(n) != n:
        raise TypeError(f"k and n must be integers, got {k!r}, {n!r}")
    if n <= 0:
        raise ValueError(f"denominator must be positive, got n={n}")
    if k < 0:
        raise ValueError(f"count must be non-negative, got k={k}")


# --- which k print as the value -----------------------------------------------


@dataclass(frozen=True)
class _Interval:
    lo: Fraction
    lo_closed: bool
    hi: Fraction
    hi_closed: bool


def preimage(printed: "str | Printed", rule: str = HALF_UP) -> _Interval | None:
    """The set of exact values ``x >= 0`` that print as ``printed`` under ``rule``.

    Returned as an interval; ``None`` if no non-negative value prints so
    (a negative printed value).
    """
    p = parse_printed(printed)
    v, h = p.value, p.half_unit
    if v < 0:
        return None
    if rule == TRUNCATE:
        return _Interval(v, True, v + 2 * h, False)
    if rule == HALF_UP:
        lo, lo_c, hi, hi_c = v - h, True, v + h, False
    elif rule == HALF_DOWN:
        lo, lo_c, hi, hi_c = v - h, False, v + h, True
    elif rule == HALF_EVEN:
        last_digit_even = int(v * 10**p.decimals) % 2 == 0
        lo, lo_c, hi, hi_c = v - h, last_digit_even, v + h, last_digit_even
    else:
        raise ValueError(f"unknown rounding rule {rule!r}; expected one of {', '.join(RULES)}")
    if lo < 0:  # printed zero: only x >= 0 is possible
        lo, lo_c = Fraction(0), True
    return _Interval(lo, lo_c, hi, hi_c)


def _ceil(x: Fraction) -> int:
    return -((-x.numerator) // x.denominator)


def _floor(x: Fraction) -> int:
    return x.numerator // x.denominator


def grim_count(printed: "str | Printed", n: int, rule: str = HALF_UP, scale: int = 100) -> tuple[int, ...]:
    """Every count ``k`` in ``0..n`` whose ``scale*k/n`` prints as ``printed`` under ``rule``."""
    _check_kn(0, n)
    iv = preimage(printed, rule)
    if iv is None:
        return ()
    # x = scale * k / n  <=>  k = x * n / scale
    klo = iv.lo * n / scale
    khi = iv.hi * n / scale
    k0 = _ceil(klo)
    if not iv.lo_closed and k0 == klo:
        k0 += 1
    k1 = _floor(khi)
    if not iv.hi_closed and k1 == khi:
        k1 -= 1
    k0, k1 = max(k0, 0), min(k1, n)
    return tuple(range(k0, k1 + 1))


def consistent(printed: "str | Printed", k: int, n: int, rule: str = HALF_UP, scale: int = 100) -> bool:
    """Whether ``k/n`` prints exactly as ``printed`` (at its decimals) under ``rule``."""
    p = parse_printed(printed)
    return round_fraction(percent_value(k, n, scale), p.decimals, rule) == p.value


def consistent_any(
    printed: "str | Printed", n: int, rules: Iterable[str] = RULES, scale: int = 100
) -> dict[str, tuple[int, ...]]:
    """For each rule under which *some* ``k/n`` prints as ``printed``, the ``k`` that do.

    Rules that cannot produce the value at this ``n`` are left out, so an empty dict
    means the printed value is GRIM-inconsistent with ``n`` under every rule.
    """
    out: dict[str, tuple[int, ...]] = {}
    for rule in rules:
        ks = grim_count(printed, n, rule, scale)
        if ks:
            out[rule] = ks
    return out


@dataclass(frozen=True)
class Feasible:
    """A denominator ``n`` that can print the value, and the ``k`` that do so under each rule."""

    n: int
    ks: Mapping[str, tuple[int, ...]]

    @property
    def rules(self) -> tuple[str, ...]:
        return tuple(self.ks)


def feasible_denominators(
    printed: "str | Printed",
    decimals: int | None = None,
    n_min: int = 10,
    n_max: int = 60,
    rules: Iterable[str] = RULES,
    scale: int = 100,
) -> list[Feasible]:
    """The denominators ``n_min..n_max`` for which some ``k/n`` prints as ``printed``.

    ``decimals`` defaults to the decimals ``printed`` carries; if given and different,
    the value is re-read at that precision (``"51"`` with ``decimals=1`` means 51.0).
    """
    p = parse_printed(printed)
    if decimals is not None and decimals != p.decimals:
        if decimals < p.decimals:
            raise ValueError(f"{p.text!r} has {p.decimals} decimals; cannot read it at {decimals}")
        p = parse_printed(format_fixed(p.value, decimals))
    rules = tuple(rules)
    out: list[Feasible] = []
    for n in range(max(n_min, 1), n_max + 1):
        ks = consistent_any(p, n, rules, scale)
        if ks:
            out.append(Feasible(n=n, ks=ks))
    return out


def feasible_n(printed: "str | Printed", rule: str = HALF_UP, n_min: int = 10, n_max: int = 60, scale: int = 100) -> list[int]:
    """Just the list of denominators that print ``printed`` under one rule."""
    return [f.n for f in feasible_denominators(printed, None, n_min, n_max, (rule,), scale)]


# --- nearest achievable value ---------------------------------------------------


@dataclass(frozen=True)
class Closest:
    """The ``k/n`` nearest the printed value at a given ``n``."""

    k: int
    n: int
    exact: Fraction  # scale * k / n
    printed: Mapping[str, str]  # how exact prints under each rule, at the printed decimals
    gap: Fraction  # |exact - printed value|
    target: str  # the printed value, canonical text

    def matches(self, rule: str) -> bool:
        """Whether the closest value prints as the target under ``rule``."""
        return self.printed.get(rule) == self.target

    def describe(self, decimals: int = 3) -> str:
        """E.g. ``26/34 = 76.471 (half_up 76.5, half_even 76.5, truncate 76.4; gap 0.129)``."""
        forms = ", ".join(f"{r} {s}" for r, s in self.printed.items())
        return (
            f"{self.k}/{self.n} = {format_fixed(self.exact, decimals)} "
            f"({forms}; gap {format_fixed(self.gap, decimals)})"
        )


def closest_at_n(
    printed: "str | Printed", n: int, rules: Iterable[str] = AUDIT_RULES, scale: int = 100
) -> Closest:
    """The ``k`` in ``0..n`` whose exact ``scale*k/n`` is nearest the printed value.

    The comparison is with the printed value itself (``76.6`` exactly), not with a
    rounding interval.  **Ties** (two counts equally far from the printed value, e.g.
    printed ``50`` at ``n = 3``: 1/3 and 2/3 are both 16.67 away) **go to the lower k.**
    """
    p = parse_printed(printed)
    _check_kn(0, n)
    target = p.value * n / scale  # the real-valued count that would hit the value exactly
    lo = min(max(_floor(target), 0), n)
    hi = min(max(_ceil(target), 0), n)
    d_lo = abs(Fraction(scale * lo, n) - p.value)
    d_hi = abs(Fraction(scale * hi, n) - p.value)
    k = lo if d_lo <= d_hi else hi
    exact = Fraction(scale * k, n)
    forms = {rule: format_fixed(exact, p.decimals, rule) for rule in rules}
    return Closest(k=k, n=n, exact=exact, printed=forms, gap=abs(exact - p.value), target=p.text)


# --- count + percent pairs ------------------------------------------------------------


def parse_count_percent(text: str) -> tuple[int, Printed]:
    """Split ``"28 (52.9%)"`` into ``(28, Printed("52.9"))``."""
    m = _COUNT_PERCENT_RE.match(text)
    if not m:
        raise ValueError(f"not a 'count (percent%)' pair: {text!r}")
    return int(m.group(1)), parse_printed(m.group(2))


@dataclass(frozen=True)
class CountPercentCheck:
    """Whether a printed count and its printed percentage agree at ``n``."""

    count: int
    percent: Printed
    n: int | None
    percent_from_count: str | None  # count/n printed under the primary rule
    agrees: dict[str, bool]  # rule -> count/n prints as the percent
    counts_for_percent: dict[str, tuple[int, ...]]  # rule -> k at n that print as the percent
    denominators_for_count: list[int]  # n' in range where count/n' prints as the percent (primary rule)

    @property
    def agree(self) -> bool:
        return any(self.agrees.values())

    def describe(self) -> str:
        pct = self.percent.text
        if self.n is None:
            ns = ", ".join(map(str, self.denominators_for_count)) or "none in range"
            return f"{self.count} ({pct}%): denominators that fit: {ns}"
        if self.agree:
            rules = ", ".join(r for r, ok in self.agrees.items() if ok)
            return f"{self.count}/{self.n} prints as {pct}% ({rules})"
        parts = [f"{self.count}/{self.n} prints as {self.percent_from_count}%, not {pct}%"]
        ks = sorted({k for v in self.counts_for_percent.values() for k in v})
        if ks:
            parts.append(f"{pct}% at n={self.n} implies count " + " or ".join(map(str, ks)))
        else:
            parts.append(f"{pct}% is not reachable at n={self.n}")
        if self.denominators_for_count:
            parts.append(f"count {self.count} fits {pct}% at n=" + ", ".join(map(str, self.denominators_for_count)))
        return "; ".join(parts)


def check_count_percent(
    count: int,
    percent: "str | Printed",
    n: int | None = None,
    rules: Sequence[str] = AUDIT_RULES,
    n_min: int = 10,
    n_max: int = 60,
    scale: int = 100,
) -> CountPercentCheck:
    """Check a pair like ``"28 (52.9%)"`` of ``n`` respondents.

    The first rule in ``rules`` is the primary rule used for ``percent_from_count``
    and ``denominators_for_count``.
    """
    p = parse_printed(percent)
    primary = rules[0]
    if n is not None:
        _check_kn(count, n)
        from_count = format_fixed(percent_value(count, n, scale), p.decimals, primary)
        agrees = {r: consistent(p, count, n, r, scale) for r in rules}
        ks = {r: grim_count(p, n, r, scale) for r in rules}
    else:
        from_count, agrees, ks = None, {}, {}
    dens = [m for m in range(max(n_min, 1, count), n_max + 1) if consistent(p, count, m, primary, scale)]
    return CountPercentCheck(count, p, n, from_count, agrees, ks, dens)


# --- sums of printed parts ------------------------------------------------------------


def sum_printed(parts: Iterable["str | Printed"]) -> Printed:
    """The exact sum of printed values, written at the largest number of decimals among them."""
    ps = [parse_printed(x) for x in parts]
    if not ps:
        raise ValueError("sum_printed needs at least one part")
    d = max(p.decimals for p in ps)
    total = sum((p.value for p in ps), Fraction(0))
    return parse_printed(format_fixed(total, d))


@dataclass(frozen=True)
class SumCheck:
    """A printed total of several categories against two ways of computing it."""

    published: Printed
    exact_total: Fraction  # scale * sum(k) / n
    rounded_total: str  # the exact total rounded under the rule
    sum_of_rounded_parts: str  # each part rounded under the rule, then added
    parts: tuple[str, ...]

    @property
    def matches_rounded_total(self) -> bool:
        return self.rounded_total == self.published.text

    @property
    def matches_sum_of_parts(self) -> bool:
        return self.sum_of_rounded_parts == self.published.text

    def describe(self) -> str:
        return (
            f"exact total {format_fixed(self.exact_total, self.published.decimals + 2)} rounds to "
            f"{self.rounded_total}; sum of rounded parts {' + '.join(self.parts)} = {self.sum_of_rounded_parts}"
        )


def check_sum(
    published: "str | Printed", ks: Sequence[int], n: int, rule: str = HALF_UP, scale: int = 100
) -> SumCheck:
    """Is ``published`` the rounded exact total of ``ks`` out of ``n``, or the sum of the rounded parts?

    The report prints 26.4% for "more than six years" (3 + 6 = 9 of 34 = 26.47...%,
    which rounds half-up to 26.5); 8.8 + 17.6, the two printed parts, is 26.4.
    """
    p = parse_printed(published)
    d = p.decimals
    exact = Fraction(scale * sum(ks), n)
    parts = tuple(format_fixed(Fraction(scale * k, n), d, rule) for k in ks)
    total_parts = sum((Fraction(x) for x in (parse_printed(s).value for s in parts)), Fraction(0))
    return SumCheck(
        published=p,
        exact_total=exact,
        rounded_total=format_fixed(exact, d, rule),
        sum_of_rounded_parts=format_fixed(total_parts, d),
        parts=parts,
    )
