"""The day-ahead optimiser: never worse than the rules on its own objective, and it reacts to its weight."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from tests.energy.conftest import rectangle
from urbantwin.energy import run, strategies
from urbantwin.energy.components import Plant, Sessions
from urbantwin.energy.model import BuildingRecord
from urbantwin.energy.scenario import Scenario

# One worker runs the whole module (`pytest -n --dist loadgroup`): the module's plant, prepared once,
# not again on the other worker.
pytestmark = pytest.mark.xdist_group("energy-planner")

EVERYTHING = {
    "pv.adoption": 1.0,
    "battery.adoption": 1.0,
    "battery.quarter_kwh": 60.0,
    "heat_pump.adoption": 1.0,
    "ev.points_per_dwelling": 0.2,
}


def one_point_per_building(plant: Plant) -> Plant:
    """Keep the first charging point of each building (for one point the LP's EV model is exact)."""
    owners, first = np.unique(plant.ev_owner, return_index=True)
    keep = np.isin(plant.sessions.point, first)
    renumber = {int(old): new for new, old in enumerate(first)}
    s = plant.sessions
    points = np.array([renumber[int(p)] for p in s.point[keep]], dtype=int)
    return replace(
        plant,
        ev_owner=owners,
        ev_step_kwh=plant.ev_step_kwh[first],
        sessions=Sessions(points, s.arrive[keep], s.depart[keep], s.energy_kwh[keep]),
    )


@pytest.fixture(scope="module")
def plant() -> Plant:
    records = [
        BuildingRecord("a1", {"building": "apartments", "building:levels": "4"}, rectangle(0, 0, 40, 14)),
        BuildingRecord("a2", {"building": "apartments", "building:levels": "3"}, rectangle(40, 0, 20, 14)),
        BuildingRecord("t1", {"building": "terrace"}, rectangle(0, 40, 8, 10)),
        BuildingRecord("h1", {"building": "house"}, rectangle(0, 60, 10, 9)),
    ]
    _, _, full = run.prepare(records, Scenario().with_overrides(EVERYTHING))
    return one_point_per_building(full)


@pytest.mark.parametrize("day", [15, 110, 190, 300])
@pytest.mark.parametrize(
    ("scope", "weight"),
    [("district", 0.0), ("district", 1.0), ("building", 0.0)],
    ids=["cost", "co2", "per-site"],
)
def test_the_optimiser_is_never_worse_than_the_rules(plant, day, scope, weight) -> None:  # noqa: ANN001
    part = plant.window(day * 96, (day + 1) * 96)
    if scope == "building":
        part = replace(part, quarter_kwh=0.0, quarter_step_kwh=0.0)
    params = Scenario().optimiser
    params = replace(params, mode="exact", scope=scope, co2_weight_eur_per_kg=weight)
    rules = strategies.simulate(part, "rule_based")
    optimised = strategies.simulate(part, "optimised", params)
    assert optimised.ev_unmet_kwh == pytest.approx(0.0, abs=1e-6)
    by_rules = strategies.objective(rules, weight, scope)
    by_optimiser = strategies.objective(optimised, weight, scope)
    assert by_optimiser <= by_rules + 1e-6 * abs(by_rules) + 1e-6
    assert optimised.mode == "exact" and len(optimised.lp_seconds) == 1


def test_over_a_week_the_plans_chain_their_states(plant) -> None:  # noqa: ANN001
    part = plant.window(100 * 96, 107 * 96)
    params = replace(Scenario().optimiser, mode="exact")
    rules = strategies.simulate(part, "rule_based")
    optimised = strategies.simulate(part, "optimised", params)
    assert len(optimised.lp_seconds) == 7
    assert strategies.objective(optimised) <= strategies.objective(rules) * 1.001
    aggregate = strategies.simulate(part, "optimised", replace(params, mode="aggregate"))
    assert aggregate.mode == "aggregate"
    assert strategies.objective(aggregate) <= strategies.objective(rules) * 1.01


def test_a_co2_weight_moves_imports_to_cleaner_hours(plant) -> None:  # noqa: ANN001
    part = plant.window(20 * 96, 21 * 96)  # a January day: imports around the clock
    # An hourly CO2 signal: dirty in the evening, clean at night.
    hours = (np.arange(part.steps) // 4) % 24
    signal = np.where((hours >= 17) & (hours < 22), 0.8, 0.2)
    part = replace(part, co2_kg_per_kwh=signal)
    params = replace(Scenario().optimiser, mode="exact")
    cost_only = strategies.simulate(part, "optimised", params)
    weighted = strategies.simulate(part, "optimised", replace(params, co2_weight_eur_per_kg=2.0))

    def co2(result: strategies.Result) -> float:
        return float(result.series["grid_co2_kg"].sum())

    assert co2(weighted) < co2(cost_only)
