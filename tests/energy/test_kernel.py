"""The compiled step kernel does what the vectorised numpy step did, flow for flow.

The engine steps the devices with state (EV charging points, heat pumps with their stores, home
batteries) through each day in `kernel.step_devices`, a numba-compiled loop over devices. Here the
same day is stepped by `numpy_step_devices` below — the per-step vector formulation the kernel
replaced, kept as a readable oracle with the same signature — and every recorded flow, district
series and final state must agree, for every strategy (as today, the rules, the planner's wishes).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from tests.energy.conftest import rectangle
from urbantwin.energy import engine, kernel, run, strategies
from urbantwin.energy.components import Plant
from urbantwin.energy.model import BuildingRecord
from urbantwin.energy.scenario import Scenario

EVERYTHING = {
    "pv.adoption": 1.0,
    "battery.adoption": 0.7,
    "battery.quarter_kwh": 40.0,
    "heat_pump.adoption": 0.8,
    "ev.points_per_dwelling": 0.3,
    "ev.points_per_1000m2_nonresidential": 5.0,
}


def numpy_step_devices(
    start: int,
    surplus: np.ndarray,
    modes: tuple[int, int, int],
    unmet: float,
    arrivals: np.ndarray,
    departures: np.ndarray,
    by_departure: np.ndarray,
    session_point: np.ndarray,
    session_energy: np.ndarray,
    session_depart: np.ndarray,
    ev_need: np.ndarray,
    ev_depart: np.ndarray,
    deadline: np.ndarray,
    ev_pmax: np.ndarray,
    ev_smart: np.ndarray,
    ev_building: np.ndarray,
    ev_group: np.ndarray,
    n_groups: int,
    ev_wish: np.ndarray,
    ev_out: np.ndarray,
    hp_start: int,
    heat_shape: np.ndarray,
    water_shape: np.ndarray,
    hp_per_kwh: np.ndarray,
    cop_water: np.ndarray,
    hp_space: np.ndarray,
    hp_radiators: np.ndarray,
    hp_floor: np.ndarray,
    hp_water: np.ndarray,
    hp_max: np.ndarray,
    store_max: np.ndarray,
    storage: np.ndarray,
    loss: float,
    storage_wish: np.ndarray,
    hp_heat: np.ndarray,
    hp_el: np.ndarray,
    storage_delta: np.ndarray,
    storage_loss: np.ndarray,
    bat_start: int,
    battery: np.ndarray,
    bat_min: np.ndarray,
    bat_max: np.ndarray,
    bat_step: np.ndarray,
    eta_c: float,
    eta_d: float,
    battery_wish: np.ndarray,
    charge_out: np.ndarray,
    discharge_out: np.ndarray,
    delta_out: np.ndarray,
    loss_out: np.ndarray,
    ev_day: np.ndarray,
    hp_day: np.ndarray,
    battery_day: np.ndarray,
) -> float:
    """The day's device steps as whole-vector numpy operations (one step after the other)."""
    follow, wishes = kernel.FOLLOW, kernel.WISHES
    ev_mode, hp_mode, bat_mode = modes
    heat = np.outer(heat_shape, hp_space) + np.outer(water_shape, hp_water)
    electricity = np.outer(hp_per_kwh[0], hp_radiators) + np.outer(hp_per_kwh[1], hp_floor)
    electricity += np.outer(hp_per_kwh[2], hp_water)
    cop = np.where(electricity > 0, heat / np.where(electricity > 0, electricity, 1.0), cop_water[:, None])
    hp = slice(hp_start, hp_start + len(storage))
    bat = slice(bat_start, bat_start + len(battery))
    for k in range(surplus.shape[1]):
        t = start + k
        s = surplus[:, k].copy()
        if len(ev_need):
            arriving = slice(arrivals[t], arrivals[t + 1])
            points = session_point[arriving]
            unmet += ev_need[points].sum()
            ev_need[points] = session_energy[arriving]
            ev_depart[points] = session_depart[arriving]
            deadline[points] = session_depart[arriving] * ev_pmax[points]
            most = np.minimum(ev_pmax, ev_need)
            must = np.minimum(np.maximum(ev_need - deadline + ev_pmax * (t + 1), 0.0), most)
            must = np.where(ev_smart, must, most)  # a point without control charges as today
            if ev_mode == follow:
                charge = most
            else:
                wanted = ev_wish[k] if ev_mode == wishes else np.maximum(s, 0.0)
                room = most - must
                must_g = np.bincount(ev_group, weights=must, minlength=n_groups)
                room_g = np.bincount(ev_group, weights=room, minlength=n_groups)
                extra = np.maximum(wanted - must_g, 0.0)
                share = np.divide(extra, room_g, out=np.zeros(n_groups), where=room_g > 1e-12)
                charge = np.minimum(share, 1.0)[ev_group] * room + must
            ev_need -= charge
            points = session_point[by_departure[departures[t + 1] : departures[t + 2]]]
            unmet += np.maximum(ev_need[points], 0.0).sum()
            ev_need[points] = 0.0
            ev_depart[points] = -1
            deadline[points] = -ev_pmax[points]
            ev_out[k] = np.bincount(ev_building, weights=charge, minlength=surplus.shape[0])
            s -= ev_out[k]
        lost = storage * loss
        kept = storage - lost
        low = np.maximum(heat[k] - kept, 0.0)
        high = np.maximum(np.minimum(hp_max, heat[k] + store_max - kept), low)
        if hp_mode == follow:
            q = np.minimum(np.maximum(heat[k], low), high)
        elif hp_mode == wishes:
            q = np.minimum(np.maximum(heat[k] + storage_wish[k] - kept, low), high)
        else:
            q = np.minimum(np.maximum(np.maximum(s[hp], 0.0) * cop[k], low), high)
        after = kept + q - heat[k]
        storage_delta[k], storage_loss[k], hp_heat[k], hp_el[k] = after - storage, lost, q, q / cop[k]
        storage[:] = after
        s[hp] -= hp_el[k]
        if bat_mode == follow:
            want = np.zeros_like(battery)
        elif bat_mode == wishes:
            gap = battery_wish[k] - battery
            want = np.where(gap > 0, gap / eta_c, gap * eta_d)
        else:
            want = s[bat]
        charge_b = np.maximum(
            np.minimum(np.maximum(want, 0.0), np.minimum(bat_step, (bat_max - battery) / eta_c)), 0.0
        )
        discharge_b = np.maximum(
            np.minimum(np.maximum(-want, 0.0), np.minimum(bat_step, (battery - bat_min) * eta_d)), 0.0
        )
        after = battery + charge_b * eta_c - discharge_b / eta_d
        charge_out[k], discharge_out[k], delta_out[k] = charge_b, discharge_b, after - battery
        loss_out[k] = charge_b - discharge_b - delta_out[k]
        battery[:] = after
        s[bat] -= charge_b - discharge_b
        surplus[:, k] = s
    ev_day += ev_out.sum(axis=0)
    hp_day += [hp_heat.sum(axis=0), hp_el.sum(axis=0), storage_delta.sum(axis=0), storage_loss.sum(axis=0)]
    battery_day += [
        charge_out.sum(axis=0),
        discharge_out.sum(axis=0),
        delta_out.sum(axis=0),
        loss_out.sum(axis=0),
    ]
    return unmet


@pytest.fixture(scope="module")
def district() -> tuple[Scenario, Plant]:
    records = [
        BuildingRecord("a1", {"building": "apartments", "building:levels": "4"}, rectangle(0, 0, 40, 14)),
        BuildingRecord("a2", {"building": "apartments", "building:levels": "5"}, rectangle(40, 0, 30, 14)),
        BuildingRecord("a3", {"building": "apartments", "building:levels": "3"}, rectangle(80, 0, 25, 12)),
        BuildingRecord("h1", {"building": "house"}, rectangle(0, 60, 10, 9)),
        BuildingRecord("h2", {"building": "house"}, rectangle(20, 60, 11, 9)),
        BuildingRecord("o1", {"building": "office", "roof:shape": "flat"}, rectangle(0, 120, 30, 20)),
        BuildingRecord("g1", {"building": "garage"}, rectangle(40, 60, 6, 3)),
    ]
    scenario = Scenario().with_overrides(EVERYTHING)
    _, _, plant = run.prepare(records, scenario)
    return scenario, plant


CASES = [
    ("baseline", {}),
    ("rule_based", {}),
    ("optimised", {"optimiser.mode": "exact"}),
    ("optimised", {"optimiser.mode": "aggregate"}),
]


@pytest.mark.parametrize(("strategy", "overrides"), CASES, ids=["baseline", "rules", "exact", "aggregate"])
def test_the_kernel_steps_the_devices_as_the_vectorised_rules_do(
    district: tuple[Scenario, Plant], strategy: str, overrides: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    scenario, plant = district
    scenario = scenario.with_overrides(overrides) if overrides else scenario
    # Two days of April (PV surplus at noon, heating in the mornings) with EVs arriving and leaving.
    part = plant.window(100 * 96, 102 * 96)
    stepping = engine.Engine(part)
    assert len(stepping.hp_idx) and len(stepping.battery_idx) and len(part.sessions)
    assert len(set(stepping.hp_idx) ^ set(stepping.battery_idx)), "some buildings have only one of the two"
    compiled = strategies.simulate(part, strategy, scenario.optimiser, record=True)
    monkeypatch.setattr(kernel, "compiled_step", lambda: numpy_step_devices)
    vectorised = strategies.simulate(part, strategy, scenario.optimiser, record=True)
    for name, values in vectorised.recorded.items():
        np.testing.assert_allclose(compiled.recorded[name], values, rtol=1e-12, atol=1e-12, err_msg=name)
    for name, values in vectorised.series.items():
        np.testing.assert_allclose(compiled.series[name], values, rtol=1e-12, atol=1e-12, err_msg=name)
    for name in ("final_battery_kwh", "final_storage_kwh", "final_quarter_kwh", "ev_unmet_kwh"):
        assert getattr(compiled, name) == pytest.approx(getattr(vectorised, name), rel=1e-12, abs=1e-9), name
    # The days did something: EVs charged, heat pumps ran, batteries cycled.
    assert compiled.series["ev"].sum() > 0 and compiled.series["hp_heat"].sum() > 0
    if strategy != "baseline":
        assert compiled.series["battery_charge"].sum() > 0


def test_points_without_control_charge_as_today_under_the_rules(
    district: tuple[Scenario, Plant], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A charging point a plan leaves without control (`Plant.ev_smart` false) charges at full power
    from arrival under the rule-based strategy as under the baseline; the kernel and the vectorised
    rules agree on a quarter where only some points are controlled."""
    _, plant = district
    part = plant.window(100 * 96, 102 * 96)
    none = replace(part, ev_smart=np.zeros(len(part.ev_owner), dtype=bool))
    today = strategies.simulate(part, "baseline", record=True)
    uncontrolled = strategies.simulate(none, "rule_based", record=True)
    np.testing.assert_allclose(uncontrolled.recorded["ev"], today.recorded["ev"], rtol=1e-12, atol=1e-12)
    controlled = strategies.simulate(part, "rule_based", record=True)
    assert not np.allclose(controlled.recorded["ev"], today.recorded["ev"])
    some = replace(part, ev_smart=np.arange(len(part.ev_owner)) % 2 == 0)
    compiled = strategies.simulate(some, "rule_based", record=True)
    monkeypatch.setattr(kernel, "compiled_step", lambda: numpy_step_devices)
    vectorised = strategies.simulate(some, "rule_based", record=True)
    for name, values in vectorised.series.items():
        np.testing.assert_allclose(compiled.series[name], values, rtol=1e-12, atol=1e-12, err_msg=name)
    assert not np.allclose(compiled.recorded["ev"], controlled.recorded["ev"])
