"""KPIs on a two-building case small enough to compute by hand."""

from __future__ import annotations

import pytest

from urbantwin.energy import kpi, strategies
from urbantwin.energy.scenario import Scenario

# Four quarter-hours. Building A: load 1 kWh per step, PV 2 kWh in the first two steps.
# Building B: load 2 kWh per step, no PV, 9 kWh of heat from its gas boiler over the four steps.
LOAD = [[1, 1, 1, 1], [2, 2, 2, 2]]
PV = [[2, 2, 0, 0], [0, 0, 0, 0]]
HEAT = [[0, 0, 0, 0], [3, 3, 2, 1]]


def test_baseline_kpis_by_hand(plant_factory) -> None:  # noqa: ANN001
    plant = plant_factory(LOAD, PV, heat=HEAT)
    result = strategies.simulate(plant, "baseline")
    scenario = Scenario()
    per_building = kpi.buildings(result, scenario)
    # A: PV 4, exports 1+1 = 2, imports 1+1 = 2 → self-consumption (4−2)/4, self-sufficiency (4−2)/4.
    assert per_building["pv_kwh"].tolist() == [4, 0]
    assert per_building["export_kwh"].tolist() == [2, 0]
    assert per_building["import_kwh"].tolist() == [2, 8]
    assert per_building["self_consumption"][0] == pytest.approx(0.5)
    assert per_building["self_sufficiency"].tolist() == pytest.approx([0.5, 0.0])
    # B: gas = 9 / 0.9 = 10 kWh; CO2 = 8 × 0.38 + 10 × 0.201; final energy 8 + 10.
    assert per_building["gas_kwh"][1] == pytest.approx(10.0)
    assert per_building["co2_kg"][1] == pytest.approx(8 * 0.38 + 10 * 0.201)
    assert per_building["final_energy_kwh"].tolist() == pytest.approx([4.0, 18.0])
    assert per_building["primary_energy_kwh"][1] == pytest.approx(1.8 * 8 + 1.1 * 10)
    assert per_building["energy_balance_kwh"].tolist() == pytest.approx([0.0, -18.0])
    assert per_building["positive_energy"].tolist() == [True, False]
    # The quarter: A's surplus feeds B in steps 0-1, so the grid sees 1+1+3+3 = 8 kWh, no export.
    district = kpi.district(result, scenario)
    assert district["import_kwh"] == pytest.approx(8.0)
    assert district["export_kwh"] == pytest.approx(0.0)
    assert district["self_consumption"] == pytest.approx(1.0)
    assert district["self_sufficiency"] == pytest.approx(4 / 12)
    assert district["renewable_kwh"] == pytest.approx(4 + 8 * 0.518)
    assert district["renewable_share"] == pytest.approx((4 + 8 * 0.518) / (12 + 10))
    assert district["co2_kg"] == pytest.approx(8 * 0.38 + 10 * 0.201)
    assert district["cost_eur"] == pytest.approx(8 * 0.40 + 10 * 0.12)


def test_a_battery_moves_the_surplus_to_the_evening(plant_factory) -> None:  # noqa: ANN001
    # A lossless 2 kWh battery in A (1 kWh per step): charged with the two surplus kWh, emptied after.
    plant = plant_factory(LOAD, PV, battery_kwh=[2.0, 0.0], battery_step_kwh=[1.0, 0.0])
    result = strategies.simulate(plant, "rule_based", record=True)
    assert result.recorded["battery_charge"][:, 0].tolist() == pytest.approx([1, 1, 0, 0])
    assert result.recorded["battery_discharge"][:, 0].tolist() == pytest.approx([0, 0, 1, 1])
    per_building = kpi.buildings(result, Scenario())
    assert per_building["self_consumption"][0] == pytest.approx(1.0)
    assert per_building["self_sufficiency"][0] == pytest.approx(1.0)
    assert per_building["import_kwh"].tolist() == pytest.approx([0.0, 8.0])
    # The baseline strategy leaves the battery idle.
    idle = kpi.buildings(strategies.simulate(plant, "baseline"), Scenario())
    assert idle["import_kwh"][0] == pytest.approx(2.0)


def test_block_kpis_sum_their_buildings(plant_factory) -> None:  # noqa: ANN001
    plant = plant_factory(LOAD, PV)
    result = strategies.simulate(plant, "baseline")
    blocks = kpi.groups(result, Scenario(), ["x", "x"])
    assert blocks["x"]["buildings"] == 2
    assert blocks["x"]["import_kwh"] == pytest.approx(10.0)  # meters of the buildings, not netted
    assert blocks["x"]["self_sufficiency"] == pytest.approx(2 / 12)


def test_the_targets_table_compares_with_the_baseline() -> None:
    base = {"co2_kg": 100.0, "renewable_kwh": 10.0, "final_energy_kwh": 200.0}
    better = {"co2_kg": 30.0, "renewable_kwh": 20.0, "final_energy_kwh": 150.0}
    row = kpi.against_baseline("better", better, base)
    assert row.co2 == pytest.approx(-0.70)
    assert row.renewable == pytest.approx(1.0)
    assert row.final_energy == pytest.approx(-0.25)
    assert row.met("co2") and row.met("renewable") and not row.met("final_energy")
    table = kpi.targets_table([row])
    assert "| better | -70.0% ✔ | +100.0% ✔ | -25.0% ✘ |" in table
