"""Siting: choose new sites among candidates to cover the most people not yet covered, under a
budget — the maximum coverage problem, solved greedily and exactly.

The input is, per candidate, the cells it would cover (the coverage model's answer for a site
there) and, per cell, the people in it not covered today. Cells covered by the same candidates
are one element of the problem, weighted by their people (this shrinks a district's tens of
thousands of cells to the few thousand distinct ways of being covered, and changes no answer).

- **Greedy** takes, as long as the budget allows, the candidate with the most uncovered people per
  unit of cost. With equal costs (choose K) its coverage is at least (1 − 1/e) ≈ 63 % of the
  optimum (Nemhauser, Wolsey and Fisher, "An analysis of approximations for maximizing submodular
  set functions", Math. Programming 14, 1978), and in practice usually within a few per cent. With
  costs, the better of the greedy by ratio and the best single affordable candidate keeps at least
  (1 − 1/e)/2 (Khuller, Moss and Naor, "The budgeted maximum coverage problem", Inf. Proc.
  Letters 70, 1999).
- **Exact**: the integer programme  max Σ w_e·y_e  s.t.  y_e ≤ Σ_{i covers e} x_i,
  Σ x_i ≤ K, Σ c_i·x_i ≤ B, x binary, 0 ≤ y ≤ 1, solved with HiGHS (`highspy`, the open-source
  MIP solver of the field) within a time limit; for small K it proves the optimum, and the greedy
  is measured against it (tests/infrastructure/test_siting.py, bench/radio_coverage.py).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from urbantwin.energy.planner import quiet_highs

#: The e in (1 − 1/e): the greedy's guarantee with equal costs.
GREEDY_GUARANTEE = 1.0 - 1.0 / np.e


@dataclass(frozen=True)
class Problem:
    """Elements (groups of cells covered by the same candidates) with their weight, and the
    (candidate, element) pairs of who covers what."""

    candidates: int
    weights: np.ndarray
    pair_candidate: np.ndarray
    pair_element: np.ndarray
    costs: np.ndarray

    @classmethod
    def of(
        cls, covers: Sequence[np.ndarray], weight_of_cell: np.ndarray, costs: Sequence[float] | None = None
    ) -> Problem:
        """`covers[i]`: the (flat) cells candidate i would cover; `weight_of_cell`: the uncovered
        people of each cell (0 where there are none, or where they are covered already)."""
        n = len(covers)
        cand = np.concatenate(
            [np.full(len(c), i, dtype=np.int64) for i, c in enumerate(covers)] or [np.empty(0, np.int64)]
        )
        cell = np.concatenate([np.asarray(c, dtype=np.int64) for c in covers] or [np.empty(0, np.int64)])
        keep = weight_of_cell.ravel()[cell] > 0
        cand, cell = cand[keep], cell[keep]
        # One element per distinct set of candidates: a random 64-bit signature per candidate,
        # summed per cell (two independent ones: a collision of both is never met in practice).
        rng = np.random.default_rng(0)
        sig = rng.integers(0, 2**62, size=(2, max(n, 1)), dtype=np.int64)
        cells, cell_index = np.unique(cell, return_inverse=True)
        a = np.zeros(cells.size, dtype=np.int64)
        b = np.zeros(cells.size, dtype=np.int64)
        with np.errstate(over="ignore"):
            np.add.at(a, cell_index, sig[0][cand])
            np.add.at(b, cell_index, sig[1][cand])
        # group equal (a, b) signatures: sort by both, a new element where either changes
        order = np.lexsort((b, a))
        change = np.ones(cells.size, dtype=bool)
        change[1:] = (a[order][1:] != a[order][:-1]) | (b[order][1:] != b[order][:-1])
        element_of_cell = np.empty(cells.size, dtype=np.int64)
        element_of_cell[order] = np.cumsum(change) - 1
        elements = int(change.sum())
        weights = np.bincount(element_of_cell, weights=weight_of_cell.ravel()[cells], minlength=elements)
        key = np.unique(cand * max(elements, 1) + element_of_cell[cell_index])
        cost = np.ones(n) if costs is None else np.asarray(costs, dtype=float)
        if cost.shape != (n,) or (cost <= 0).any() or not np.isfinite(cost).all():
            raise ValueError("every candidate needs a positive, finite cost")
        return cls(n, weights, key // max(elements, 1), key % max(elements, 1), cost)

    def value(self, chosen: Sequence[int]) -> float:
        """The people the chosen candidates cover together."""
        hit = np.zeros(self.weights.size, dtype=bool)
        hit[self.pair_element[np.isin(self.pair_candidate, list(chosen))]] = True
        return float(self.weights[hit].sum())


@dataclass
class Choice:
    method: str
    chosen: list[int]
    gains: list[float]
    value: float
    cost: float
    seconds: float
    optimal: bool | None = None
    bound: float | None = None
    notes: dict[str, Any] = field(default_factory=dict)


def greedy(problem: Problem, k: int, budget: float | None = None) -> Choice:
    """At most `k` candidates within `budget` (default: no budget beyond k), each the one with the
    most uncovered people per unit of cost."""
    started = time.perf_counter()
    budget = float("inf") if budget is None else float(budget)
    order = np.argsort(problem.pair_element, kind="stable")
    by_element_cand = problem.pair_candidate[order]
    starts = np.searchsorted(problem.pair_element[order], np.arange(problem.weights.size + 1))
    gain = np.bincount(
        problem.pair_candidate, weights=problem.weights[problem.pair_element], minlength=problem.candidates
    )
    covered = np.zeros(problem.weights.size, dtype=bool)
    open_ = np.ones(problem.candidates, dtype=bool)
    by_candidate = np.argsort(problem.pair_candidate, kind="stable")
    cand_starts = np.searchsorted(problem.pair_candidate[by_candidate], np.arange(problem.candidates + 1))
    chosen: list[int] = []
    gains: list[float] = []
    spent = 0.0
    while len(chosen) < k:
        affordable = open_ & (problem.costs <= budget - spent + 1e-9)
        if not affordable.any():
            break
        ratio = np.where(affordable, gain / problem.costs, -1.0)
        best = int(np.argmax(ratio))
        if gain[best] <= 0:
            break
        chosen.append(best)
        gains.append(float(gain[best]))
        spent += float(problem.costs[best])
        open_[best] = False
        elements = problem.pair_element[by_candidate[cand_starts[best] : cand_starts[best + 1]]]
        new = elements[~covered[elements]]
        covered[new] = True
        # those elements no longer count for anyone who covers them
        for e in new:
            who = by_element_cand[starts[e] : starts[e + 1]]
            gain[who] -= problem.weights[e]
    value = float(sum(gains))
    notes: dict[str, Any] = {}
    if budget != float("inf") and not np.allclose(problem.costs, problem.costs[0]):
        # Khuller et al.: the better of the ratio greedy and the best single affordable candidate
        single = np.bincount(
            problem.pair_candidate,
            weights=problem.weights[problem.pair_element],
            minlength=problem.candidates,
        )
        single[problem.costs > budget] = -1
        top = int(np.argmax(single))
        if k >= 1 and single[top] > value:
            chosen, gains, value, spent = (
                [top],
                [float(single[top])],
                float(single[top]),
                float(problem.costs[top]),
            )
            notes["single_best"] = True
    return Choice("greedy", chosen, gains, value, spent, time.perf_counter() - started, notes=notes)


def exact(
    problem: Problem,
    k: int,
    budget: float | None = None,
    time_limit: float = 60.0,
    start: Sequence[int] | None = None,
) -> Choice:
    """The integer programme, solved with HiGHS; `optimal` says whether it was proven within the
    time limit (else the best found and the solver's bound are given). `start`: a feasible choice
    (the greedy's) the solver starts from, so that what it answers is never worse."""
    import highspy

    started = time.perf_counter()
    n, m = problem.candidates, problem.weights.size
    h = quiet_highs()  # highspy.Highs() prints its banner to stdout
    h.setOptionValue("output_flag", False)
    h.setOptionValue("time_limit", float(time_limit))
    h.setOptionValue("mip_rel_gap", 0.0)
    h.setOptionValue("threads", 1)
    inf = highspy.kHighsInf
    # columns: x_0..x_{n-1} (binary), y_0..y_{m-1} (0..1)
    h.addVars(n + m, np.zeros(n + m), np.ones(n + m))
    h.changeColsCost(n + m, np.arange(n + m, dtype=np.int32), np.concatenate([np.zeros(n), problem.weights]))
    h.changeColsIntegrality(
        n, np.arange(n, dtype=np.int32), np.full(n, highspy.HighsVarType.kInteger, dtype=np.uint8)
    )
    h.changeObjectiveSense(highspy.ObjSense.kMaximize)
    # y_e − Σ_{i covers e} x_i ≤ 0, one row per element
    order = np.argsort(problem.pair_element, kind="stable")
    elem, cand = problem.pair_element[order], problem.pair_candidate[order]
    counts = np.bincount(elem, minlength=m)
    starts = np.concatenate([[0], np.cumsum(counts + 1)[:-1]]).astype(np.int32)
    indices = np.empty(int(counts.sum()) + m, dtype=np.int32)
    values = np.empty(indices.size)
    row_of_pair = np.repeat(np.arange(m), counts)
    offset_in_row = np.arange(elem.size) - np.repeat(np.concatenate([[0], np.cumsum(counts)[:-1]]), counts)
    indices[starts] = n + np.arange(m)
    values[starts] = 1.0
    indices[starts[row_of_pair] + 1 + offset_in_row] = cand
    values[starts[row_of_pair] + 1 + offset_in_row] = -1.0
    h.addRows(m, np.full(m, -inf), np.zeros(m), indices.size, starts, indices, values)
    h.addRow(-inf, float(k), n, np.arange(n, dtype=np.int32), np.ones(n))
    if budget is not None:
        h.addRow(-inf, float(budget), n, np.arange(n, dtype=np.int32), problem.costs)
    if start is not None:
        x = np.zeros(n + m)
        x[list(start)] = 1.0
        hit = np.zeros(m, dtype=bool)
        hit[problem.pair_element[np.isin(problem.pair_candidate, list(start))]] = True
        x[n:] = hit
        initial = highspy.HighsSolution()
        initial.col_value = x.tolist()
        h.setSolution(initial)
    h.run()
    status = h.getModelStatus()
    solution = np.asarray(h.getSolution().col_value)
    chosen = [int(i) for i in np.flatnonzero(solution[:n] > 0.5)] if solution.size else []
    info = h.getInfo()
    optimal = status == highspy.HighsModelStatus.kOptimal
    value = problem.value(chosen)
    # each chosen site's gain in the greedy's sense, in the order of its gain, for the report; a
    # candidate the solver set without gain (the objective does not mind it) is not proposed
    gains, ordered = _gains_in_order(problem, chosen)
    kept = [i for i, gain in enumerate(gains) if gain > 0]
    gains, ordered = [gains[i] for i in kept], [ordered[i] for i in kept]
    chosen = ordered
    return Choice(
        "exact",
        ordered,
        gains,
        value,
        float(problem.costs[chosen].sum()) if chosen else 0.0,
        time.perf_counter() - started,
        optimal=bool(optimal),
        bound=float(info.mip_dual_bound) if not optimal else value,
        notes={"status": h.modelStatusToString(status)},
    )


def _gains_in_order(problem: Problem, chosen: Sequence[int]) -> tuple[list[float], list[int]]:
    left = list(chosen)
    ordered: list[int] = []
    gains: list[float] = []
    base = 0.0
    while left:
        values = [problem.value([*ordered, c]) for c in left]
        best = int(np.argmax(values))
        ordered.append(left.pop(best))
        gains.append(values[best] - base)
        base = values[best]
    return gains, ordered
