"""What the design can detect: the smallest odds ratio with 80% power at the observed n.

Three calculations, each with its assumptions spelled out in the result:

* :func:`detectable_or_fisher` - binary outcome, binary predictor: exact power
  of the two-sided Fisher test given the observed group sizes and the outcome
  proportion in the reference group (enumerating every 2x2 table, no
  normal approximation: honest at n = 34);
* :func:`detectable_or_wald` - the same with the usual normal approximation
  for the log odds ratio (shown for comparison; optimistic at small n);
* :func:`detectable_or_ordinal` - ordinal outcome, binary predictor: Whitehead
  (1993) proportional-odds sample-size formula solved for the odds ratio, given
  the observed marginal distribution of answers.

All are *unadjusted* (one binary predictor).  Adjusting for other correlated
predictors inflates the variance by 1/(1 - R^2), so the detectable odds ratio
in the multivariable models is, if anything, larger.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Sequence

import numpy as np
from scipy import optimize, stats


@dataclass(frozen=True)
class DetectableOR:
    method: str
    n: int
    n_exposed: int
    baseline: float
    alpha: float
    power: float
    or_up: float          # smallest OR > 1 detectable (inf if none up to the search limit)
    or_down: float        # largest OR < 1 detectable (0 if none)
    assumptions: str

    def as_row(self) -> dict:
        return {"method": self.method, "n": self.n, "n_exposed": self.n_exposed,
                "n_unexposed": self.n - self.n_exposed, "baseline_proportion": self.baseline,
                "alpha": self.alpha, "power": self.power, "detectable_or_above_1": self.or_up,
                "detectable_or_below_1": self.or_down, "assumptions": self.assumptions}

    def sentence(self) -> str:
        head = (f"{self.method}: with {self.n_exposed} vs {self.n - self.n_exposed} respondents, "
                f"{self.power:.0%} power at two-sided {self.alpha:.0%} ")
        if not math.isfinite(self.or_up) and self.or_down <= 0:
            return head + "is not reached by any odds ratio up to 1000 in either direction."
        up = (f"an odds ratio of at least {self.or_up:.1f}" if math.isfinite(self.or_up)
              else "no odds ratio above 1 (up to 1000)")
        down = f"at most {self.or_down:.2g}" if self.or_down > 0 else "none below 1 (down to 1/1000)"
        return head + f"needs {up} (in the other direction: {down})."


def _p1(p0: float, odds_ratio: float) -> float:
    o = odds_ratio * p0 / (1 - p0)
    return o / (1 + o)


@lru_cache(maxsize=256)
def _fisher_rejection(n1: int, n0: int, alpha: float) -> np.ndarray:
    """Boolean (n1+1) x (n0+1): does the two-sided Fisher test reject for (a events of n1, c of n0)?

    For each total number of events the conditional distribution of ``a`` is
    hypergeometric; the two-sided p-value sums the probabilities not larger
    than that of the observed table (relative tolerance 1e-7, as
    ``scipy.stats.fisher_exact`` does).
    """
    N = n1 + n0
    rej = np.zeros((n1 + 1, n0 + 1), dtype=bool)
    for t in range(N + 1):
        a = np.arange(max(0, t - n0), min(n1, t) + 1)
        pmf = stats.hypergeom.pmf(a, N, n1, t)
        order = np.sort(pmf)
        csum = np.cumsum(order)
        idx = np.searchsorted(order, pmf * (1 + 1e-7), side="right")
        pvals = np.minimum(1.0, csum[idx - 1])
        rej[a, t - a] = pvals <= alpha
    return rej


def fisher_power(n1: int, n0: int, p0: float, odds_ratio: float, alpha: float = 0.05) -> float:
    """Exact power of the two-sided Fisher test (group sizes fixed)."""
    rej = _fisher_rejection(int(n1), int(n0), float(alpha))
    pa = stats.binom.pmf(np.arange(n1 + 1), n1, _p1(p0, odds_ratio))
    pc = stats.binom.pmf(np.arange(n0 + 1), n0, p0)
    return float(pa @ rej @ pc)


def _solve(power_fn, target: float, lo: float, hi: float) -> float:
    """Smallest |log OR| in (lo, hi] (log scale, moving away from 0) reaching ``target`` power."""
    grid = np.linspace(lo, hi, 121)
    vals = [power_fn(g) for g in grid]
    for i in range(1, len(grid)):
        if vals[i] >= target:
            if vals[i - 1] >= target:
                return float(grid[i - 1])
            return float(optimize.brentq(lambda g: power_fn(g) - target, grid[i - 1], grid[i], xtol=1e-6))
    return math.inf if hi > 0 else -math.inf


def detectable_or_fisher(n1: int, n0: int, p0: float, alpha: float = 0.05, power: float = 0.8,
                         max_log_or: float = math.log(1000)) -> DetectableOR:
    """Smallest OR detectable by the exact Fisher test (both directions)."""
    up = _solve(lambda g: fisher_power(n1, n0, p0, math.exp(g), alpha), power, 0.0, max_log_or)
    down = _solve(lambda g: fisher_power(n1, n0, p0, math.exp(g), alpha), power, 0.0, -max_log_or)
    return DetectableOR(
        "Binary outcome, exact Fisher test", n1 + n0, n1, p0, alpha, power,
        math.exp(up) if math.isfinite(up) else math.inf, math.exp(down) if math.isfinite(down) else 0.0,
        f"one binary predictor split {n1}/{n0} as observed; outcome proportion {p0:.2f} in the reference group; "
        "exact power of the two-sided Fisher test, no other predictors; ORs searched up to 1000")


def wald_power(n1: int, n0: int, p0: float, odds_ratio: float, alpha: float = 0.05) -> float:
    p1 = _p1(p0, odds_ratio)
    se = math.sqrt(1 / (n1 * p1 * (1 - p1)) + 1 / (n0 * p0 * (1 - p0)))
    z = abs(math.log(odds_ratio)) / se
    zc = stats.norm.ppf(1 - alpha / 2)
    return float(stats.norm.sf(zc - z) + stats.norm.cdf(-zc - z))


def detectable_or_wald(n1: int, n0: int, p0: float, alpha: float = 0.05, power: float = 0.8,
                       max_log_or: float = math.log(1000)) -> DetectableOR:
    up = _solve(lambda g: wald_power(n1, n0, p0, math.exp(g), alpha), power, 0.0, max_log_or)
    down = _solve(lambda g: wald_power(n1, n0, p0, math.exp(g), alpha), power, 0.0, -max_log_or)
    return DetectableOR(
        "Binary outcome, Wald (normal approximation)", n1 + n0, n1, p0, alpha, power,
        math.exp(up) if math.isfinite(up) else math.inf, math.exp(down) if math.isfinite(down) else 0.0,
        f"one binary predictor split {n1}/{n0}; outcome proportion {p0:.2f} in the reference group; "
        "large-sample variance of the log odds ratio (optimistic at this n)")


def detectable_or_ordinal(n: int, allocation: float, marginal: Sequence[float], alpha: float = 0.05,
                          power: float = 0.8) -> DetectableOR:
    """Whitehead (1993): n = 6 (z_a + z_b)^2 / (A (1-A) (log OR)^2 (1 - sum p_k^3)), solved for OR."""
    p = np.asarray(marginal, dtype=float)
    p = p / p.sum()
    za = stats.norm.ppf(1 - alpha / 2)
    zb = stats.norm.ppf(power)
    A = allocation
    denom = n * A * (1 - A) * (1 - float((p ** 3).sum()))
    log_or = math.sqrt(6 * (za + zb) ** 2 / denom) if denom > 0 else math.inf
    n1 = int(round(n * A))
    return DetectableOR(
        "Ordinal outcome, proportional odds (Whitehead 1993)", n, n1, math.nan, alpha, power,
        math.exp(log_or), math.exp(-log_or),
        f"one binary predictor split {n1}/{n - n1}; answer distribution {', '.join(f'{x:.2f}' for x in p)} "
        "(pooled, as observed); proportional odds holds; large-sample formula (optimistic at this n)")
