"""The bookkeeping: energy balances close in every step, for every building and strategy."""

from __future__ import annotations

import numpy as np
import pytest

from urbantwin.energy import run, strategies
from urbantwin.energy.scenario import Scenario

# One worker runs the whole module (`pytest -n --dist loadgroup`): the module's plant, prepared once,
# not again on the other worker.
pytestmark = pytest.mark.xdist_group("energy-engine")

EVERYTHING = {
    "pv.adoption": 1.0,
    "battery.adoption": 1.0,
    "battery.quarter_kwh": 40.0,
    "heat_pump.adoption": 1.0,
    "ev.points_per_dwelling": 0.3,
    "ev.points_per_1000m2_nonresidential": 5.0,
}
#: Three days in April (PV surplus at noon, heating in the mornings), and three in January.
WINDOWS = [(100 * 96, 103 * 96), (10 * 96, 13 * 96)]
CASES = [
    ("baseline", {}),
    ("rule_based", {}),
    ("optimised", {"optimiser.mode": "exact"}),
    ("optimised", {"optimiser.mode": "aggregate"}),
    (
        "optimised",
        {"optimiser.mode": "exact", "optimiser.scope": "building", "optimiser.co2_weight_eur_per_kg": 0.5},
    ),
]


@pytest.fixture(scope="module")
def plant(request: pytest.FixtureRequest):  # noqa: ANN201
    from tests.energy.conftest import rectangle
    from urbantwin.energy.model import BuildingRecord

    records = [
        BuildingRecord("a1", {"building": "apartments", "building:levels": "4"}, rectangle(0, 0, 40, 14)),
        BuildingRecord("a2", {"building": "apartments", "building:levels": "5"}, rectangle(40, 0, 30, 14)),
        BuildingRecord("h1", {"building": "house"}, rectangle(0, 60, 10, 9)),
        BuildingRecord("o1", {"building": "office", "roof:shape": "flat"}, rectangle(0, 120, 30, 20)),
        BuildingRecord("g1", {"building": "garage"}, rectangle(20, 60, 6, 3)),
    ]
    scenario = Scenario().with_overrides(EVERYTHING)
    _, _, full = run.prepare(records, scenario)
    return scenario, full


@pytest.mark.parametrize("window", WINDOWS, ids=["april", "january"])
@pytest.mark.parametrize(("strategy", "overrides"), CASES, ids=[f"{s}-{i}" for i, (s, _) in enumerate(CASES)])
def test_energy_balance_closes_in_every_step(plant, window, strategy, overrides) -> None:  # noqa: ANN001
    scenario, full = plant
    scenario = scenario.with_overrides(overrides) if overrides else scenario
    part = full.window(*window)
    assert (part.pv_kwp > 0).any() and part.heat_pump.any() and (part.battery_kwh > 0).any()
    assert len(part.sessions) > 0, "the window must have EV sessions"
    result = strategies.simulate(part, strategy, scenario.optimiser, record=True)
    r = result.recorded
    # Electricity, per building and step: generation + import = load + export + storage change + losses.
    supply = r["pv"] + r["import"]
    use = r["load"] + r["ev"] + r["hp_electricity"] + r["export"] + r["battery_delta"] + r["battery_loss"]
    np.testing.assert_allclose(supply, use, atol=1e-9)
    assert (r["import"] >= 0).all() and (r["export"] >= 0).all() and (r["battery_loss"] >= -1e-12).all()
    assert not ((r["import"] > 1e-12) & (r["export"] > 1e-12)).any()
    # Heat, per building and step: heat pump + boiler = demand + storage change + storage losses.
    np.testing.assert_allclose(
        r["hp_heat"] + r["boiler_heat"], r["heat_demand"] + r["storage_delta"] + r["storage_loss"], atol=1e-9
    )
    np.testing.assert_allclose(r["gas"] * part.boiler_efficiency, r["boiler_heat"], atol=1e-12)
    # The quarter, per step: the grid sees the buildings' net exchange and the quarter battery.
    s = result.series
    np.testing.assert_allclose(
        s["grid_import"] - s["grid_export"],
        s["import"] - s["export"] + s["quarter_charge"] - s["quarter_discharge"],
        atol=1e-9,
    )
    np.testing.assert_allclose(
        s["quarter_charge"] - s["quarter_discharge"], s["quarter_delta"] + s["quarter_loss"], atol=1e-9
    )
    # The district series are the sums of the buildings' recorded flows, and the annual sums too.
    for name in (
        "pv",
        "load",
        "import",
        "export",
        "ev",
        "hp_electricity",
        "battery_delta",
        "gas",
        "heat_demand",
    ):
        np.testing.assert_allclose(s[name], r[name].sum(axis=1), atol=1e-9)
        np.testing.assert_allclose(result.annual[name], r[name].sum(axis=0), atol=1e-9)
    # Every EV left as full as its session asked, and no store went beyond its limits.
    assert result.ev_unmet_kwh == pytest.approx(0.0, abs=1e-6)
    level = part.battery_kwh * part.soc_min + np.cumsum(r["battery_delta"], axis=0)
    assert (level <= part.battery_kwh * part.soc_max + 1e-9).all()
    assert (level >= part.battery_kwh * part.soc_min - 1e-9).all()
    stored = np.cumsum(r["storage_delta"], axis=0)
    assert (stored >= -1e-9).all() and (stored <= part.storage_kwh + 1e-9).all()


def test_the_fast_path_books_what_the_recorded_path_books(plant) -> None:  # noqa: ANN001
    """Buildings without PV or devices are booked in closed form; the sums must not change."""
    scenario, full = plant
    part = full.window(*WINDOWS[0])
    fast = strategies.simulate(part, "rule_based")
    slow = strategies.simulate(part, "rule_based", record=True)
    for name in (*strategies.BUILDING_FLOWS, *strategies.QUARTER_FLOWS):
        np.testing.assert_allclose(fast.series[name], slow.series[name], atol=1e-9, err_msg=name)
        if name in fast.annual:
            np.testing.assert_allclose(fast.annual[name], slow.annual[name], atol=1e-9, err_msg=name)


def test_the_rules_use_the_surplus_the_baseline_exports(plant) -> None:  # noqa: ANN001
    scenario, full = plant
    part = full.window(*WINDOWS[0])
    baseline = strategies.simulate(part, "baseline")
    rules = strategies.simulate(part, "rule_based")
    assert rules.series["grid_export"].sum() < baseline.series["grid_export"].sum()
    assert rules.series["battery_charge"].sum() > 0 and baseline.series["battery_charge"].sum() == 0


@pytest.mark.parametrize("strategy", ["baseline", "rule_based", "optimised"])
def test_a_watch_keeps_each_groups_flows_and_they_add_up_to_the_quarters(plant, strategy) -> None:  # noqa: ANN001
    """A block's plan: the groups' own flows at the watched steps, the sums of their buildings'."""
    scenario, full = plant
    part = full.window(*WINDOWS[0])
    groups = np.array([0, 0, 1, 1, 2])  # two blocks of two, one alone
    steps = np.array([3, 40, 41, 42, 95, 96, 200, 287])  # across the days, the first and last
    watch = strategies.Watch(groups, 3, steps)
    fast = strategies.simulate(part, strategy, scenario.optimiser, watch=watch)
    slow = strategies.simulate(part, strategy, scenario.optimiser, record=True)
    assert fast.watched is not None and slow.recorded is not None
    for name in strategies.WATCH_FLOWS:
        per_building = slow.recorded[name][steps]
        expected = np.column_stack([per_building[:, groups == g].sum(axis=1) for g in range(3)])
        np.testing.assert_allclose(fast.watched[name], expected, atol=1e-9, err_msg=name)
        np.testing.assert_allclose(
            fast.watched[name].sum(axis=1), fast.series[name][steps], atol=1e-9, err_msg=name
        )
    alone = strategies.simulate(
        part, strategy, scenario.optimiser, watch=strategies.Watch(np.array([-1, -1, 0, -1, -1]), 1, steps)
    )
    assert alone.watched is not None
    np.testing.assert_allclose(alone.watched["pv"][:, 0], slow.recorded["pv"][steps, 2], atol=1e-9)
