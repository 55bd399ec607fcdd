"""Exact assignment of answers to respondents.

Nothing here samples answers at random.  Each function receives the exact
number of respondents who must give each answer and decides only *who* gives
it: by a seeded permutation when answers do not interact, and by integer
programming (:func:`scipy.optimize.milp`) when they do (tick-all-that-apply
items with at-least-one, exclusive or implied ticks, and rankings in which each
respondent uses every rank once).  Random costs drawn from the seeded generator
pick one of the many feasible solutions, so the same seed gives the same data.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Mapping, Sequence

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import coo_array


class ReplicaSpecError(ValueError):
    """The replica specification cannot be satisfied (counts do not fit the population)."""


def exact_counts(
    rng: np.random.Generator,
    candidates: np.ndarray,
    counts: Mapping[str, int],
    blank: int,
    what: str,
) -> dict[int, str | None]:
    """Give ``counts[label]`` of the ``candidates`` each label, and ``blank`` of them nothing.

    Returns ``{respondent index: label or None}``.  The order is a seeded permutation.
    """
    total = sum(counts.values()) + blank
    if total != len(candidates):
        raise ReplicaSpecError(
            f"{what}: counts ({sum(counts.values())}) plus blank ({blank}) make {total}, "
            f"but {len(candidates)} respondents are eligible"
        )
    order = rng.permutation(candidates)
    out: dict[int, str | None] = {}
    pos = 0
    for label, n in counts.items():
        if n < 0:
            raise ReplicaSpecError(f"{what}: negative count for {label!r}")
        for idx in order[pos:pos + n]:
            out[int(idx)] = label
        pos += n
    for idx in order[pos:]:
        out[int(idx)] = None
    return out


def apportion(weights: Sequence[float | int | Fraction], total: int) -> list[int]:
    """Largest-remainder apportionment of ``total`` in proportion to ``weights`` (exact arithmetic).

    Ties in the remainders go to the earlier position, so the result is deterministic.
    """
    w = [Fraction(x) for x in weights]
    s = sum(w)
    if total == 0 or s == 0:
        return [0] * len(w)
    quotas = [x * total / s for x in w]
    base = [int(q) for q in quotas]  # floor (quotas are non-negative)
    left = total - sum(base)
    order = sorted(range(len(w)), key=lambda i: (-(quotas[i] - base[i]), i))
    for i in order[:left]:
        base[i] += 1
    return base


@dataclass
class TickProblem:
    """A tick-all-that-apply item for the answering respondents."""

    options: list[str]
    ticks: dict[str, int]
    min_ticks: int = 1
    exclusive: tuple[str, ...] = ()  # options that exclude every other tick ("None of the above")
    exclusive_pairs: tuple[tuple[str, str], ...] = ()
    implies: tuple[tuple[str, str], ...] = ()  # (a, b): ticking a requires ticking b
    at_least_any: tuple[tuple[tuple[str, ...], int], ...] = ()  # at least n respondents tick one of the options


def solve_ticks(rng: np.random.Generator, n_resp: int, problem: TickProblem, what: str) -> np.ndarray:
    """0/1 matrix (respondents x options) meeting every count and constraint exactly."""
    opts = problem.options
    k = len(opts)
    col = {o: j for j, o in enumerate(opts)}
    for o, n in problem.ticks.items():
        if o not in col:
            raise ReplicaSpecError(f"{what}: {o!r} is not an option of this item")
        if not 0 <= n <= n_resp:
            raise ReplicaSpecError(f"{what}: {o} has {n} ticks but only {n_resp} respondents answer")
    missing = [o for o in opts if o not in problem.ticks]
    if missing:
        raise ReplicaSpecError(f"{what}: no tick count given for {', '.join(missing)}")
    if n_resp == 0:
        return np.zeros((0, k), dtype=np.int8)

    n_x = n_resp * k
    n_y = n_resp * len(problem.at_least_any)
    n_var = n_x + n_y

    def x(r: int, j: int) -> int:
        return r * k + j

    rows, cols, vals, lo, hi = [], [], [], [], []
    con = 0

    def add(entries: list[tuple[int, float]], lower: float, upper: float) -> None:
        nonlocal con
        for v, c in entries:
            rows.append(con)
            cols.append(v)
            vals.append(c)
        lo.append(lower)
        hi.append(upper)
        con += 1

    for o, j in col.items():  # column totals
        n = problem.ticks[o]
        add([(x(r, j), 1.0) for r in range(n_resp)], n, n)
    for r in range(n_resp):
        if problem.min_ticks > 0:
            add([(x(r, j), 1.0) for j in range(k)], problem.min_ticks, np.inf)
        for e in problem.exclusive:
            je = col[e]
            for j in range(k):
                if j != je:
                    add([(x(r, je), 1.0), (x(r, j), 1.0)], -np.inf, 1)
        for a, b in problem.exclusive_pairs:
            add([(x(r, col[a]), 1.0), (x(r, col[b]), 1.0)], -np.inf, 1)
        for a, b in problem.implies:
            add([(x(r, col[a]), 1.0), (x(r, col[b]), -1.0)], -np.inf, 0)
    for g, (group, n_min) in enumerate(problem.at_least_any):
        for r in range(n_resp):
            y = n_x + g * n_resp + r
            add([(y, 1.0)] + [(x(r, col[o]), -1.0) for o in group], -np.inf, 0)
        add([(n_x + g * n_resp + r, 1.0) for r in range(n_resp)], n_min, np.inf)

    a_mat = coo_array((vals, (rows, cols)), shape=(con, n_var)).tocsr()
    cost = rng.random(n_var)
    res = milp(
        c=cost,
        constraints=LinearConstraint(a_mat, np.array(lo), np.array(hi)),
        integrality=np.ones(n_var),
        bounds=Bounds(np.zeros(n_var), np.ones(n_var)),
    )
    if res.status != 0 or res.x is None:
        raise ReplicaSpecError(f"{what}: no assignment meets the tick counts and constraints ({res.message})")
    sol = np.rint(res.x[:n_x]).astype(np.int8).reshape(n_resp, k)
    return sol


def solve_ranking(rng: np.random.Generator, n_resp: int, rank_counts: Sequence[Sequence[int]], what: str) -> np.ndarray:
    """Ranks (respondents x items, values 1..m): each respondent uses every rank once,
    and item i is ranked k by exactly ``rank_counts[i][k-1]`` respondents."""
    counts = np.asarray(rank_counts, dtype=int)
    m = counts.shape[0]
    if counts.shape != (m, m):
        raise ReplicaSpecError(f"{what}: rank counts must be a square items x ranks table")
    if (counts.sum(axis=1) != n_resp).any() or (counts.sum(axis=0) != n_resp).any():
        raise ReplicaSpecError(
            f"{what}: every item and every rank must total {n_resp} (rows {counts.sum(axis=1).tolist()}, "
            f"columns {counts.sum(axis=0).tolist()})"
        )
    n_var = n_resp * m * m

    def v(r: int, i: int, k: int) -> int:
        return (r * m + i) * m + k

    rows, cols, vals, bnd = [], [], [], []
    con = 0

    def add(entries: list[int], value: float) -> None:
        nonlocal con
        for e in entries:
            rows.append(con)
            cols.append(e)
            vals.append(1.0)
        bnd.append(value)
        con += 1

    for r in range(n_resp):
        for i in range(m):
            add([v(r, i, k) for k in range(m)], 1)
        for k in range(m):
            add([v(r, i, k) for i in range(m)], 1)
    for i in range(m):
        for k in range(m):
            add([v(r, i, k) for r in range(n_resp)], counts[i, k])
    a_mat = coo_array((vals, (rows, cols)), shape=(con, n_var)).tocsr()
    b = np.array(bnd, dtype=float)
    res = milp(
        c=rng.random(n_var),
        constraints=LinearConstraint(a_mat, b, b),
        integrality=np.ones(n_var),
        bounds=Bounds(np.zeros(n_var), np.ones(n_var)),
    )
    if res.status != 0 or res.x is None:
        raise ReplicaSpecError(f"{what}: no ranking meets the counts ({res.message})")
    sol = np.rint(res.x).astype(int).reshape(n_resp, m, m)
    return sol.argmax(axis=2) + 1


def apportion_matrix(weights: np.ndarray, row_totals: Sequence[int], col_totals: Sequence[int]) -> np.ndarray:
    """Integer matrix with the given margins closest (in L1) to the scaled ``weights``.

    Used to rescale a ranking table to a different number of respondents; solved exactly
    with integer programming.
    """
    w = np.asarray(weights, dtype=float)
    r_n, c_n = w.shape
    total = float(sum(row_totals))
    target = w / w.sum() * total if w.sum() else np.zeros_like(w)
    n_cells = r_n * c_n
    # variables: cells (integers) then deviations d >= |cell - target|
    n_var = 2 * n_cells
    rows, cols, vals, lo, hi = [], [], [], [], []
    con = 0
    for i in range(r_n):
        for j in range(c_n):
            cell, dev = i * c_n + j, n_cells + i * c_n + j
            for sign in (1.0, -1.0):
                rows += [con, con]
                cols += [cell, dev]
                vals += [sign, -1.0]
                lo.append(-np.inf)
                hi.append(sign * target[i, j])
                con += 1
    for i in range(r_n):
        rows += [con] * c_n
        cols += [i * c_n + j for j in range(c_n)]
        vals += [1.0] * c_n
        lo.append(row_totals[i])
        hi.append(row_totals[i])
        con += 1
    for j in range(c_n):
        rows += [con] * r_n
        cols += [i * c_n + j for i in range(r_n)]
        vals += [1.0] * r_n
        lo.append(col_totals[j])
        hi.append(col_totals[j])
        con += 1
    a_mat = coo_array((vals, (rows, cols)), shape=(con, n_var)).tocsr()
    cost = np.concatenate([np.zeros(n_cells), np.ones(n_cells)])
    res = milp(
        c=cost,
        constraints=LinearConstraint(a_mat, np.array(lo), np.array(hi)),
        integrality=np.concatenate([np.ones(n_cells), np.zeros(n_cells)]),
        bounds=Bounds(np.zeros(n_var), np.full(n_var, np.inf)),
    )
    if res.status != 0 or res.x is None:
        raise ReplicaSpecError(f"cannot apportion the table to the given margins ({res.message})")
    return np.rint(res.x[:n_cells]).astype(int).reshape(r_n, c_n)
