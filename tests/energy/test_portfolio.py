"""Target-seeking planning: the least-cost portfolio that meets the targets, checked by simulation."""

from __future__ import annotations

from dataclasses import replace

import pytest

from tests.energy.conftest import SITE
from urbantwin.energy import portfolio
from urbantwin.energy.model import DISTRICT, BuildingRecord
from urbantwin.energy.scenario import BUNDLED

# One worker prepares the block once (baseline simulation, potentials) for the whole module.
pytestmark = pytest.mark.xdist_group("energy-portfolio")


@pytest.fixture(scope="module")
def context(request: pytest.FixtureRequest) -> portfolio.Context:
    """The six buildings of the test block, the east half of it on a heat network."""
    records = request.getfixturevalue("block_records")
    params = portfolio.PlanParams(district_heating_areas=["Ost"])
    return portfolio.prepare(records, BUNDLED.load("baseline"), params, site=SITE)


@pytest.fixture(scope="module")
def block_records() -> list[BuildingRecord]:
    from tests.energy.conftest import rectangle

    def record(
        key: str, x: float, y: float, w: float, d: float, district: str, **tags: str
    ) -> BuildingRecord:
        return BuildingRecord(key, {**tags, DISTRICT: district}, rectangle(x, y, w, d))

    return [
        record(
            "a1", 0, 0, 40, 14, "West", building="apartments", **{"building:levels": "4", "roof:levels": "1"}
        ),
        record(
            "a2", 40, 0, 30, 14, "Ost", building="apartments", **{"building:levels": "5"}, start_date="1996"
        ),
        record("y1", 70, 0, 20, 14, "Ost", building="yes", **{"addr:housenumber": "12"}),
        record("h1", 0, 60, 10, 9, "West", building="house"),
        record("g1", 20, 60, 6, 3, "West", building="garage"),
        record("o1", 0, 120, 30, 20, "West", building="office", height="12", **{"roof:shape": "flat"}),
    ]


def with_params(context: portfolio.Context, **changes: object) -> portfolio.Context:
    return replace(context, params=replace(context.params, **changes))


def test_the_sparcs_targets_are_met_and_the_simulation_confirms_the_programme(
    context: portfolio.Context,
) -> None:
    plan = portfolio.solve(context)

    assert plan.met
    assert all(miss == 0 for miss in plan.misses.values())
    for key, target in plan.targets.items():
        assert plan.simulated_changes[key] <= target if target < 0 else plan.simulated_changes[key] >= target
    # what the programme claims is what the simulation of its portfolio shows, within 2 %
    assert all(abs(deviation) <= 0.02 for deviation in plan.deviation.values())
    assert plan.investment_eur > 0
    measures = plan.measures
    assert measures["heat_pumps"] + measures["district_heating_connections"] > 0
    # building by building: the garage (unheated) gets nothing, investments add up
    garage = plan.run.buildings.keys.index("g1")
    assert plan.choice["invest"][garage] == 0
    p = context.params
    others = measures["quarter_storage_kwh"] * p.quarter_storage_eur_per_kwh
    assert plan.choice["invest"].sum() + others == pytest.approx(plan.investment_eur, rel=1e-4)
    # the investment by measure adds up to it as well
    assert sum(plan.costs.values()) == pytest.approx(plan.investment_eur, rel=1e-4, abs=2)


def test_a_small_budget_misses_the_targets_and_says_the_budget_binds(context: portfolio.Context) -> None:
    plan = portfolio.solve(with_params(context, budget_eur=50_000.0))

    assert not plan.met
    assert sum(plan.misses.values()) > 0
    assert "budget" in plan.binding
    assert plan.investment_eur <= 50_000.0 + 1e-6


def test_an_unreachable_target_is_missed_and_the_exhausted_measures_are_named(
    context: portfolio.Context,
) -> None:
    plan = portfolio.solve(with_params(context, targets={"final_energy": -0.95}))

    assert not plan.met
    assert plan.misses["final_energy"] > 0.1
    assert "budget" not in plan.binding
    assert any(reason.startswith("refurbishment") for reason in plan.binding)


def test_district_heating_is_offered_only_where_a_network_is_assumed(context: portfolio.Context) -> None:
    options = context.heat_options
    keys = context.buildings.keys
    on_network = {keys[b] for b in options.building[options.system == 2]}

    assert on_network == {"a2", "y1"}


def test_a_plan_for_a_later_year_runs_on_that_years_grid(
    block_records: list[BuildingRecord],
) -> None:
    params = portfolio.PlanParams(year=2035, max_iterations=1)
    ctx = portfolio.prepare(block_records, BUNDLED.load("baseline"), params, site=SITE)

    assert ctx.scenario.grid.co2_g_per_kwh < 380.0
    assert ctx.scenario.grid.renewable_share > 0.8


def test_plan_parameters_are_checked_naming_the_problem() -> None:
    with pytest.raises(ValueError, match="unknown plan parameter 'budget'"):
        portfolio.params_from({"budget": 1})
    with pytest.raises(ValueError, match="unknown target"):
        portfolio.params_from({"targets": {"noise": -0.1}})
    with pytest.raises(ValueError, match="expected a number"):
        portfolio.params_from({"budget_eur": "a lot"})
    with pytest.raises(ValueError, match="outside the grid path"):
        portfolio.params_from({"year": 2070})
    assert portfolio.params_from({"budget_eur": 1e6, "year": 2030}).budget_eur == 1e6


def test_the_planner_prints_nothing(context: portfolio.Context, capfd: pytest.CaptureFixture[str]) -> None:
    portfolio.solve(with_params(context, max_iterations=1))

    assert capfd.readouterr().out == ""


def _with_workplace_charging(records: list[BuildingRecord], eur_per_point: float) -> portfolio.Context:
    """The flats, the house and the office of the block, with charging points at the office's
    workplaces (sessions in the working day, under its PV) and a few at home."""
    keep = [r for r in records if r.key in ("a1", "h1", "o1")]
    base = BUNDLED.load("baseline").with_overrides({"ev.points_per_1000m2_nonresidential": 10.0})
    params = portfolio.PlanParams(targets={"renewable": 0.65}, smart_charging_eur_per_point=eur_per_point)
    return portfolio.prepare(keep, base, params, site=SITE)


def test_smart_charging_is_chosen_where_it_helps_cheaply_and_checked_by_simulation(
    block_records: list[BuildingRecord],
) -> None:
    plan = portfolio.solve(_with_workplace_charging(block_records, 1.0))

    assert plan.met
    office = plan.run.buildings.keys.index("o1")
    # the office's points charge from its PV at noon: control is worth its euro per point
    assert plan.choice["smart"][office] and plan.choice["pv"][office]
    assert plan.measures["smart_charging_points"] >= plan.choice["points"][office] > 0
    assert plan.costs["smart_charging"] == plan.measures["smart_charging_points"]
    # the simulation runs the choice: the office's points are controlled, the others as chosen
    plant = plan.run.plant
    assert (plant.ev_smart == plan.choice["smart"][plant.ev_owner]).all()
    assert all(abs(deviation) <= 0.02 for deviation in plan.deviation.values())
    assert plan.building_measures()[office]["plan_smart_charging"] is True


def test_smart_charging_is_not_chosen_when_it_does_not_pay(block_records: list[BuildingRecord]) -> None:
    plan = portfolio.solve(_with_workplace_charging(block_records, 1e6))

    assert plan.met
    assert plan.measures["smart_charging_points"] == 0 and plan.costs["smart_charging"] == 0
    assert not plan.run.plant.ev_smart.any()
