"""Siting by hand: an instance where the greedy misses the optimum and the exact programme finds it,
the (1 − 1/e) guarantee held on random instances, budgets with costs, and cells merged into elements."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from urbantwin.infrastructure.siting import GREEDY_GUARANTEE, Problem, exact, greedy

#: Cells 0..3 with 3, 3, 2.5 and 2.5 people; X covers 0 and 1, Y covers 0 and 2, Z covers 1 and 3.
WEIGHTS = np.array([3.0, 3.0, 2.5, 2.5])
COVERS = [np.array([0, 1]), np.array([0, 2]), np.array([1, 3])]


def test_greedy_takes_the_largest_first_and_misses_the_optimum() -> None:
    problem = Problem.of(COVERS, WEIGHTS)
    g = greedy(problem, 2)
    # X (6) first, then Y or Z adds 2.5: 8.5
    assert g.chosen[0] == 0 and g.gains == [6.0, 2.5] and g.value == 8.5
    e = exact(problem, 2)
    # Y and Z together cover all four cells: 11
    assert e.optimal and sorted(e.chosen) == [1, 2] and e.value == pytest.approx(11.0)
    assert g.value / e.value >= GREEDY_GUARANTEE
    # started from the greedy's choice, the solver still finds the optimum
    assert exact(problem, 2, start=g.chosen).value == pytest.approx(11.0)
    # with room for three, both cover everything
    assert greedy(problem, 3).value == exact(problem, 3).value == pytest.approx(11.0)


def test_cells_covered_by_the_same_candidates_are_one_element() -> None:
    # cells 0 and 4 are covered by X and Y alike: one element of 3 + 1 people
    problem = Problem.of(
        [np.array([0, 1, 4]), np.array([0, 2, 4]), np.array([1, 3])], np.append(WEIGHTS, 1.0)
    )
    assert problem.weights.size == 4
    assert sorted(problem.weights.tolist()) == [2.5, 2.5, 3.0, 4.0]
    assert problem.value([1, 2]) == pytest.approx(12.0)
    # cells without people (or covered today) do not count
    assert Problem.of(COVERS, np.array([0.0, 3.0, 0.0, 0.0])).weights.tolist() == [3.0]


def test_greedy_holds_its_guarantee_against_the_exact_programme() -> None:
    rng = np.random.default_rng(7)
    for _ in range(5):
        cells = 300
        weights = rng.integers(0, 20, size=cells).astype(float)
        covers = [rng.choice(cells, size=int(rng.integers(5, 40)), replace=False) for _ in range(40)]
        problem = Problem.of(covers, weights)
        g, e = greedy(problem, 5), exact(problem, 5)
        assert e.optimal
        assert e.value >= g.value - 1e-9
        assert g.value >= GREEDY_GUARANTEE * e.value
        assert problem.value(g.chosen) == pytest.approx(g.value)


def test_a_budget_with_costs() -> None:
    # X costs 3, Y and Z 1 each; a budget of 2: Y and Z (11), and the greedy by ratio finds them too
    problem = Problem.of(COVERS, WEIGHTS, costs=[3.0, 1.0, 1.0])
    e = exact(problem, 3, budget=2.0)
    assert sorted(e.chosen) == [1, 2] and e.cost == 2.0
    g = greedy(problem, 3, budget=2.0)
    assert sorted(g.chosen) == [1, 2] and g.cost == 2.0
    # a budget of 3 buys X alone or Y and Z: Y and Z are worth more
    assert exact(problem, 3, budget=3.0).value == pytest.approx(11.0)
    with pytest.raises(ValueError, match="positive"):
        Problem.of(COVERS, WEIGHTS, costs=[1.0, 0.0, 1.0])


def test_the_exact_programme_prints_nothing() -> None:
    # HiGHS prints its banner once per process, on the first solver made: hence a fresh process
    code = (
        "import numpy as np\n"
        "from urbantwin.infrastructure.siting import Problem, exact\n"
        "exact(Problem.of([np.array([0, 1]), np.array([1])], np.array([1.0, 2.0])), 1)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)

    assert done.stdout == ""
