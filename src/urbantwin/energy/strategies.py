"""Control strategies over a year at 15-minute resolution: baseline, rule-based, optimised day-ahead.

One engine runs all three. It walks the year a day at a time: what needs no state (base load, PV)
is computed for all buildings × 96 steps as arrays; only the devices with state — home batteries,
heat pumps with their thermal storage, EV charging points, the quarter battery — are stepped
through the day, in a compiled loop over the buildings that have them (`_step_devices`, numba).
A strategy only says what each device *wants* in a step; the engine clips that to what the device
can do in its state and books every flow, so the energy balance closes by construction in every
step:

    electricity, per building:  pv + import = load + heat pump + EV + export + Δbattery + battery losses
    heat, per building:         heat pump + boiler = heat demand + Δthermal storage + storage losses
    quarter:  Σ building import − Σ export = grid import − grid export − quarter discharge + quarter charge

- **baseline** ("as today"): no control. PV feeds the building's load, the rest is exported; batteries
  idle; heat pumps follow the demand; EVs charge at full power from arrival until full.
- **rule_based** (self-consumption): PV surplus goes first to plugged EVs (which are in any case charged
  just in time to be full at departure), then into the heat pump's thermal storage (heat pump boosted
  by the surplus, stored heat used first), then the home battery; a deficit is drawn from the battery.
  The quarter battery takes the quarter's net surplus and covers its net deficit.
- **optimised**: a day-ahead linear programme per day (HiGHS via highspy) over `horizon_hours` with
  perfect forecasts of load, PV and heat (the TRY), minimising import cost − export revenue +
  `co2_weight` × CO2 + battery wear − the value of the energy left in storage at the horizon; the
  first 24 h are applied, then the next day is planned from the states reached. `exact` mode plans
  every flexible building; `aggregate` plans the quarter as one site (sum of batteries, heat pumps,
  EV flexibility) and shares the plan out (storage targets as a common state of charge, EV energy by
  urgency) — how a quarter of thousands of buildings is planned in seconds.
"""

from __future__ import annotations

import contextlib
import functools
import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np
from scipy import sparse

from urbantwin.energy.components import Plant
from urbantwin.energy.loads import STEPS_PER_DAY
from urbantwin.energy.scenario import OptimiserParams

STRATEGIES = ("baseline", "rule_based", "optimised")
#: Per building quantities (kWh per step, or kg for CO2) the engine books.
BUILDING_FLOWS = (
    "pv",
    "load",
    "ev",
    "hp_electricity",
    "import",
    "export",
    "battery_charge",
    "battery_discharge",
    "battery_delta",
    "battery_loss",
    "heat_demand",
    "hp_heat",
    "boiler_heat",
    "gas",
    "storage_delta",
    "storage_loss",
    "co2_kg",
)
#: District-level series in addition to the sums of BUILDING_FLOWS.
QUARTER_FLOWS = (
    "quarter_charge",
    "quarter_discharge",
    "quarter_delta",
    "quarter_loss",
    "grid_import",
    "grid_export",
    "grid_co2_kg",
)
INF = np.inf
#: Flows booked for the whole year in closed form (the engine's per-step values only go to `recorded`).
CLOSED_FORM = ("heat_demand", "boiler_heat", "gas", "pv", "load", "co2_kg")
#: Stored heat left at the horizon is valued as the electricity it saves at a COP of 3 (an assumption).
HEAT_VALUE_COP = 3.0


@dataclass
class Result:
    """What a strategy did: annual sums per building, district series, optionally per-building series."""

    plant: Plant
    strategy: str
    #: Per building, summed over the year: name → (N,).
    annual: dict[str, np.ndarray]
    #: District, per step: name → (T,).
    series: dict[str, np.ndarray]
    #: Per building and step, when recorded: name → (T, N).
    recorded: dict[str, np.ndarray] | None = None
    #: EV energy that could not be charged before departure [kWh] (0 unless a session was infeasible).
    ev_unmet_kwh: float = 0.0
    #: Seconds per planned day of the optimiser (empty for other strategies).
    lp_seconds: list[float] = field(default_factory=list)
    #: Planning mode actually used (exact / aggregate) for the optimised strategy.
    mode: str = ""
    #: Final states (for the objective's terminal value): battery, thermal, quarter [kWh].
    final_battery_kwh: float = 0.0
    final_storage_kwh: float = 0.0
    final_quarter_kwh: float = 0.0


# --- the engine -----------------------------------------------------------------------------------


@dataclass
class _State:
    battery: np.ndarray
    storage: np.ndarray
    quarter: float
    ev_need: np.ndarray
    ev_depart: np.ndarray
    unmet: float = 0.0


@dataclass
class _Day:
    """Arrays of one day for the flexible buildings, handed to a planner."""

    start: int
    stop: int
    state: _State


#: A planner gets the day and returns, per step, the wishes of the devices (see `_Wishes`).
Planner = Callable[[_Day], "_Wishes"]


@dataclass
class _Wishes:
    """Per step of a day: battery target or net charge, heat pump heat, EV energy, quarter net charge."""

    #: (steps, batteries) target state of charge [kWh] — the engine moves toward it within limits.
    battery_target: np.ndarray | None = None
    #: (steps, heat pumps) target of stored heat [kWh]; the heat pump makes demand + the gap, clipped.
    storage_target: np.ndarray | None = None
    #: (steps, groups) EV energy wished per group (owner building, or one group for the quarter).
    ev_energy: np.ndarray | None = None
    ev_group: np.ndarray | None = None
    #: (steps,) quarter battery target state of charge [kWh].
    quarter_target: np.ndarray | None = None


class Engine:
    """Runs a plant through the year (or its `steps`) under a strategy."""

    def __init__(self, plant: Plant) -> None:
        self.plant = plant
        p = plant
        # The flexible buildings in the order heat pump only, heat pump and battery, battery only, EV only:
        # heat pumps and batteries are then contiguous slices of the per-step vectors (views, no copies).
        heat_pump, battery = p.heat_pump, p.battery_kwh > 0
        ev = np.zeros(p.n, dtype=bool)
        ev[p.ev_owner] = True
        groups = [heat_pump & ~battery, heat_pump & battery, battery & ~heat_pump, ev & ~heat_pump & ~battery]
        sizes = [int(g.sum()) for g in groups]
        self.flex = np.concatenate([np.flatnonzero(g) for g in groups]).astype(int)
        self.hp_sl = slice(0, sizes[0] + sizes[1])
        self.bat_sl = slice(sizes[0], sizes[0] + sizes[1] + sizes[2])
        self.hp_idx = self.flex[self.hp_sl]
        self.battery_idx = self.flex[self.bat_sl]
        self.hp_f = np.arange(self.hp_sl.start, self.hp_sl.stop)
        self.bat_f = np.arange(self.bat_sl.start, self.bat_sl.stop)
        position = np.full(p.n, -1)
        position[self.flex] = np.arange(len(self.flex))
        self.ev_f = position[p.ev_owner].astype(int)
        self.bat_min = p.battery_kwh[self.battery_idx] * p.soc_min
        self.bat_max = p.battery_kwh[self.battery_idx] * p.soc_max
        self.bat_step = p.battery_step_kwh[self.battery_idx]
        self.hp_max = p.hp_max_kwh[self.hp_idx]
        self.store_max = p.storage_kwh[self.hp_idx]
        # Per heat pump, the annual demands `Plant.space_heat` and `Plant.cop_effective` weigh (space heat
        # on radiators or on floor heating, hot water): the step kernel evaluates them per element.
        floor, space = p.floor_heating[self.hp_idx], p.space_heat_kwh[self.hp_idx]
        self.hp_space = space
        self.hp_radiators = np.where(floor, 0.0, space)
        self.hp_floor = np.where(floor, space, 0.0)
        self.hp_water = p.hot_water_kwh[self.hp_idx]
        # Session events by step: arrivals[t]..arrivals[t+1] arrive at t; departures likewise leave at t.
        every = np.arange(p.steps + 2)
        self.arrivals = np.searchsorted(p.sessions.arrive, every)
        self.by_departure = np.argsort(p.sessions.depart, kind="stable")
        self.departures = np.searchsorted(p.sessions.depart[self.by_departure], every)
        self.q_min = p.quarter_kwh * p.soc_min
        self.q_max = p.quarter_kwh * p.soc_max

    def initial_state(self) -> _State:
        """Batteries at their lowest charge, thermal stores empty, no EV plugged."""
        m = len(self.plant.ev_owner)
        return _State(
            battery=self.bat_min.copy(),
            storage=np.zeros(len(self.hp_idx)),
            quarter=self.q_min,
            ev_need=np.zeros(m),
            ev_depart=np.full(m, -1, dtype=np.int64),
        )

    def run(
        self,
        strategy: str,
        planner: Planner | None = None,
        record: bool = False,
        progress: Callable[[int], None] | None = None,
    ) -> Result:
        """Simulate every step; `planner` gives the optimised strategy's wishes per day.

        Buildings without PV or devices with state need no stepping: their year follows from their
        profiles in closed form (import = load), so only the others are walked through the days.
        With `record`, every building is walked and every flow kept per step (for tests).
        """
        if strategy not in STRATEGIES:
            raise ValueError(f"unknown strategy {strategy!r} (known: {', '.join(STRATEGIES)})")
        p = self.plant
        n, steps = p.n, p.steps
        annual = {name: np.zeros(n) for name in BUILDING_FLOWS}
        series = {name: np.zeros(steps) for name in (*BUILDING_FLOWS, *QUARTER_FLOWS)}
        recorded = {name: np.zeros((steps, n)) for name in BUILDING_FLOWS} if record else None
        active = np.ones(n, dtype=bool) if record else (p.pv_kwp > 0)
        active[self.flex] = True
        self.active = np.flatnonzero(active)
        self.flex_in_active = np.searchsorted(self.active, self.flex)
        self.active_net = (
            p.pv_profiles,
            p.pv_plane[self.active],
            p.pv_kwp[self.active],
            p.profiles,
            p.profile[self.active],
            p.electricity_kwh[self.active],
        )
        passive = np.flatnonzero(~active)
        self._closed_form(annual, series, passive)
        self.co2_active = np.zeros(len(self.active))
        state = self.initial_state()
        for start in range(0, steps, STEPS_PER_DAY):
            stop = min(start + STEPS_PER_DAY, steps)
            wishes = planner(_Day(start, stop, state)) if planner is not None else None
            flows, index, quarter, totals = self._day(strategy, start, stop, state, wishes, record)
            for name, values in flows.items():
                columns = index[name]
                if name not in CLOSED_FORM:
                    # The sums the day already made (the same sums, in numpy's order), or numpy's.
                    over_steps, over_buildings = totals.get(name, (None, None))
                    annual[name][columns] += values.sum(axis=0) if over_steps is None else over_steps
                    series[name][start:stop] += (
                        values.sum(axis=1) if over_buildings is None else over_buildings
                    )
                if recorded is not None:
                    recorded[name][start:stop, columns] = values
            for name, values in quarter.items():
                series[name][start:stop] = values
            if progress is not None:
                progress(stop - start)
        annual["co2_kg"][self.active] = self.co2_active
        series["co2_kg"][:] = series["import"] * p.co2_kg_per_kwh[:steps]
        return Result(
            plant=p,
            strategy=strategy,
            annual=annual,
            series=series,
            recorded=recorded,
            ev_unmet_kwh=state.unmet,
            final_battery_kwh=float(state.battery.sum()),
            final_storage_kwh=float(state.storage.sum()),
            final_quarter_kwh=float(state.quarter),
        )

    def _closed_form(
        self, annual: dict[str, np.ndarray], series: dict[str, np.ndarray], passive: np.ndarray
    ) -> None:
        """Heat of boiler buildings, and the whole electricity year of buildings without PV or devices."""
        p = self.plant
        steps = p.steps
        boiler = ~p.heat_pump
        shape, water = p.heat_shape[:steps], p.hot_water_shape[:steps]
        heat = p.space_heat_kwh * shape.sum() + p.hot_water_kwh * water.sum()
        annual["heat_demand"][:] = heat
        annual["boiler_heat"][:] = np.where(boiler, heat, 0.0)
        annual["gas"][:] = annual["boiler_heat"] / p.boiler_efficiency
        series["heat_demand"][:] = p.space_heat_kwh.sum() * shape + p.hot_water_kwh.sum() * water
        series["boiler_heat"][:] = (
            p.space_heat_kwh[boiler].sum() * shape + p.hot_water_kwh[boiler].sum() * water
        )
        series["gas"][:] = series["boiler_heat"] / p.boiler_efficiency
        # PV and load of every building follow from their profiles.
        kinds, planes = p.profiles.shape[0], p.pv_profiles.shape[0]
        annual["load"][:] = p.electricity_kwh * p.profiles[:, :steps].sum(axis=1)[p.profile]
        annual["pv"][:] = p.pv_kwp * p.pv_profiles[:, :steps].sum(axis=1)[p.pv_plane]
        series["load"][:] = (
            np.bincount(p.profile, weights=p.electricity_kwh, minlength=kinds) @ p.profiles[:, :steps]
        )
        series["pv"][:] = (
            np.bincount(p.pv_plane, weights=p.pv_kwp, minlength=planes) @ p.pv_profiles[:, :steps]
        )
        if len(passive):
            per_profile = np.bincount(p.profile[passive], weights=p.electricity_kwh[passive], minlength=kinds)
            kind = p.profile[passive]
            weighted = p.profiles[:, :steps] @ p.co2_kg_per_kwh[:steps]
            annual["import"][passive] = annual["load"][passive]
            annual["co2_kg"][passive] = p.electricity_kwh[passive] * weighted[kind]
            series["import"] += per_profile @ p.profiles[:, :steps]

    def _day(
        self, strategy: str, start: int, stop: int, state: _State, wishes: _Wishes | None, record: bool
    ) -> tuple[
        dict[str, np.ndarray],
        dict[str, np.ndarray],
        dict[str, np.ndarray],
        dict[str, tuple[np.ndarray | None, np.ndarray | None]],
    ]:
        """Step one day: flows (steps × columns), their columns, the quarter's series, and sums.

        The sums are of flows over the day's steps per column and over the columns per step where the
        day has them already (`None` where not), in the order numpy's `sum` adds.
        """
        p = self.plant
        k_steps = stop - start
        act = self.active
        if record:
            pv = p.pv(start, stop, act)
            load = p.base_load(start, stop, act)
            net = pv - load
        else:
            # PV − base load in one compiled pass over the day's slice of the profiles (no pv and load
            # arrays); buildings × steps, so `.T` has the layout `pv - load` had.
            net = _compiled_net()(*self.active_net, start, stop).T
        flex = self.flex
        f = len(flex)
        fa = self.flex_in_active
        # Flows of the flexible buildings, filled step by step.
        ev_f = np.zeros((k_steps, f))
        hp_el_h = np.zeros((k_steps, len(self.hp_idx)))
        hp_q_h = np.zeros((k_steps, len(self.hp_idx)))
        st_delta_h = np.zeros((k_steps, len(self.hp_idx)))
        st_loss_h = np.zeros((k_steps, len(self.hp_idx)))
        ch_b = np.zeros((k_steps, len(self.battery_idx)))
        dis_b = np.zeros((k_steps, len(self.battery_idx)))
        delta_b = np.zeros((k_steps, len(self.battery_idx)))
        loss_b = np.zeros((k_steps, len(self.battery_idx)))
        # The kernel's sums over the day per device (`sum(axis=0)` of the arrays above adds row by row).
        ev_day = np.zeros(f)
        hp_day = np.zeros((4, len(self.hp_idx)))
        battery_day = np.zeros((4, len(self.battery_idx)))
        # Heat demand and COP of the heat pumps are made per element in the kernel from these (saving a
        # dozen passes over steps × heat pumps): the shapes of the year, and electricity per kWh of
        # space heat on radiators, on floor heating and of hot water (`Plant.cop_effective`).
        heat_shape, water_shape = p.heat_shape[start:stop], p.hot_water_shape[start:stop]
        cop_water = p.cop_hot_water[start:stop]
        hp_per_kwh = np.stack(
            [
                heat_shape / p.cop_space[0, start:stop],
                heat_shape / p.cop_space[1, start:stop],
                water_shape / cop_water,
            ]
        )
        surplus_f = net[:, fa]
        quarter_target = wishes.quarter_target if wishes is not None else None
        quarter_by_rule = p.quarter_kwh > 0 and strategy != "baseline" and quarter_target is None
        if quarter_by_rule:
            # The net surplus of all other buildings, per step (for the quarter battery).
            rest = p.pv_profiles[:, start:stop].T @ np.bincount(
                p.pv_plane, weights=p.pv_kwp, minlength=p.pv_profiles.shape[0]
            )
            rest -= p.profiles[:, start:stop].T @ np.bincount(
                p.profile, weights=p.electricity_kwh, minlength=p.profiles.shape[0]
            )
            rest -= surplus_f.sum(axis=1)
        q_ch = np.zeros(k_steps)
        q_dis = np.zeros(k_steps)
        q_delta = np.zeros(k_steps)
        sessions = p.sessions
        loss = p.storage_loss
        eta_c, eta_d = p.eta_charge, p.eta_discharge
        qeta_c, qeta_d = p.quarter_eta_charge, p.quarter_eta_discharge
        ev_group_of_point = self.ev_f
        n_groups = f
        if wishes is not None and wishes.ev_group is not None and wishes.ev_energy is not None:
            ev_group_of_point = wishes.ev_group
            n_groups = wishes.ev_energy.shape[1]
        ev_pmax = p.ev_step_kwh
        hp_sl, bat_sl = self.hp_sl, self.bat_sl
        depart = sessions.depart
        session_point, session_energy = sessions.point, sessions.energy_kwh
        # Per point: departure step × power, so "must charge now" is need − (departure − t − 1) × power.
        deadline = state.ev_depart * ev_pmax
        no_wish = np.zeros((k_steps, 0))

        def wish(values: np.ndarray | None) -> np.ndarray:
            return no_wish if values is None else np.ascontiguousarray(values, dtype=float)

        def mode(wished: np.ndarray | None) -> int:
            return _FOLLOW if strategy == "baseline" else _RULES if wished is None else _WISHES

        ev_wish = wishes.ev_energy if wishes is not None else None
        storage_wish = wishes.storage_target if wishes is not None else None
        battery_wish = wishes.battery_target if wishes is not None else None
        # Buildings × steps, C-ordered: the transpose of `surplus_f` as numpy made it (column-major), so
        # a view, and one array layout for every plant (numba compiles one kernel per layout).
        surplus_by_building = np.ascontiguousarray(surplus_f.T)
        state.unmet = _compiled_step()(
            start,
            surplus_by_building,
            (mode(ev_wish), mode(storage_wish), mode(battery_wish)),
            state.unmet,
            # EV charging points and their sessions.
            self.arrivals,
            self.departures,
            self.by_departure,
            session_point,
            session_energy,
            depart,
            state.ev_need,
            state.ev_depart,
            deadline,
            ev_pmax,
            self.ev_f,
            np.asarray(ev_group_of_point, dtype=np.int64),
            n_groups,
            wish(ev_wish),
            ev_f,
            # Heat pumps and their thermal storage.
            hp_sl.start,
            heat_shape,
            water_shape,
            hp_per_kwh,
            cop_water,
            self.hp_space,
            self.hp_radiators,
            self.hp_floor,
            self.hp_water,
            self.hp_max,
            self.store_max,
            state.storage,
            loss,
            wish(storage_wish),
            hp_q_h,
            hp_el_h,
            st_delta_h,
            st_loss_h,
            # Home batteries.
            bat_sl.start,
            state.battery,
            self.bat_min,
            self.bat_max,
            self.bat_step,
            eta_c,
            eta_d,
            wish(battery_wish),
            ch_b,
            dis_b,
            delta_b,
            loss_b,
            ev_day,
            hp_day,
            battery_day,
        )
        surplus_f = surplus_by_building.T
        if p.quarter_kwh > 0 and strategy != "baseline":
            # The quarter battery sees only the sum over the buildings after their devices, so it is
            # stepped after them. Each step's row is summed on its own as before: `sum(axis=1)` of the
            # matrix adds in another order than a row's pairwise sum (results differing by ~1e-16).
            net_after = [row.sum() for row in surplus_f] if quarter_by_rule else []
            for k in range(k_steps):
                if quarter_target is not None:
                    gap = quarter_target[k] - state.quarter
                    want_q = gap / qeta_c if gap > 0 else gap * qeta_d
                else:
                    want_q = net_after[k] + rest[k]
                qc = min(
                    max(want_q, 0.0), p.quarter_step_kwh, max((self.q_max - state.quarter) / qeta_c, 0.0)
                )
                qd = min(
                    max(-want_q, 0.0), p.quarter_step_kwh, max((state.quarter - self.q_min) * qeta_d, 0.0)
                )
                new_q = state.quarter + qc * qeta_c - qd / qeta_d
                q_delta[k] = new_q - state.quarter
                state.quarter = new_q
                q_ch[k], q_dis[k] = qc, qd
        # Book the flows: the active buildings' electricity, the devices' own flows.
        net[:, fa] = surplus_f
        exports = np.maximum(net, 0.0)
        imports = exports - net
        co2 = p.co2_kg_per_kwh[start:stop]
        # CO2 of the active buildings' imports; pv and load are booked in closed form (`_closed_form`).
        self.co2_active += co2 @ imports
        flows = {
            "import": imports,
            "export": exports,
            "ev": ev_f,
            "hp_electricity": hp_el_h,
            "hp_heat": hp_q_h,
            "storage_delta": st_delta_h,
            "storage_loss": st_loss_h,
            "battery_charge": ch_b,
            "battery_discharge": dis_b,
            "battery_delta": delta_b,
            "battery_loss": loss_b,
        }
        index = {
            "import": act,
            "export": act,
            "ev": flex,
            "hp_electricity": self.hp_idx,
            "hp_heat": self.hp_idx,
            "storage_delta": self.hp_idx,
            "storage_loss": self.hp_idx,
            "battery_charge": self.battery_idx,
            "battery_discharge": self.battery_idx,
            "battery_delta": self.battery_idx,
            "battery_loss": self.battery_idx,
        }
        if record:
            flows.update({"pv": pv, "load": load, "co2_kg": imports * co2[:, None]})
            index.update({"pv": act, "load": act, "co2_kg": act})
            heat = p.space_heat(start, stop)
            boiler = np.where(p.heat_pump[None, :], 0.0, heat)
            flows.update({"heat_demand": heat, "boiler_heat": boiler, "gas": boiler / p.boiler_efficiency})
            everything = np.arange(p.n)
            index.update({"heat_demand": everything, "boiler_heat": everything, "gas": everything})
        imported, exported = imports.sum(axis=1), exports.sum(axis=1)
        grid_net = imported - exported + q_ch - q_dis
        if len(act) < p.n:
            passive = np.ones(p.n, dtype=bool)
            passive[act] = False
            grid_net += p.profiles[:, start:stop].T @ np.bincount(
                p.profile[passive], weights=p.electricity_kwh[passive], minlength=p.profiles.shape[0]
            )
        grid_import = np.maximum(grid_net, 0.0)
        quarter = {
            "quarter_charge": q_ch,
            "quarter_discharge": q_dis,
            "quarter_delta": q_delta,
            "quarter_loss": q_ch - q_dis - q_delta,
            "grid_import": grid_import,
            "grid_export": np.maximum(-grid_net, 0.0),
            "grid_co2_kg": grid_import * co2,
        }
        totals: dict[str, tuple[np.ndarray | None, np.ndarray | None]] = {
            "import": (None, imported),
            "export": (None, exported),
            "ev": (ev_day, None),
        }
        for row, name in enumerate(("hp_heat", "hp_electricity", "storage_delta", "storage_loss")):
            totals[name] = (hp_day[row], None)
        for row, name in enumerate(("battery_charge", "battery_discharge", "battery_delta", "battery_loss")):
            totals[name] = (battery_day[row], None)
        return flows, index, quarter, totals


# --- the step kernel ----------------------------------------------------------------------------------

#: How a kind of device is driven in `_step_devices`: as today (baseline), by the self-consumption
#: rules, or towards the planner's wishes.
_FOLLOW, _RULES, _WISHES = 0, 1, 2


def _step_devices(
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
    """Step the devices with state of the flexible buildings through one day; returns the unmet EV energy.

    `surplus` (flexible buildings × steps: PV − base load) becomes what is left after the devices; the
    device states (`ev_need`, `ev_depart`, `deadline`, `storage`, `battery`) are updated in place and
    every device flow is written to the `ev_out`, `hp_…`, `storage_…` and `…_out` arrays (steps ×
    devices) and added to its sum over the day in `ev_day`, `hp_day` (heat, electricity, Δstorage,
    storage loss) and `battery_day` (charge, discharge, Δ, loss), step by step as numpy sums rows.
    Heat demand and COP are made here per heat pump and step from the annual demands and the day's
    shapes, as `Plant.space_heat` and `Plant.cop_effective` make them.

    Why a compiled loop: a quarter-hour touches a few thousand devices with a handful of operations
    each; as numpy vectors that was ~60 calls of a few microseconds each, 35,040 times a year, and the
    calls' overhead and temporaries cost more than the arithmetic. Here a step is one pass over the
    devices, and idle charging points (need exactly 0, so every flow they would book is exactly 0) are
    skipped. The loop runs step by step over all devices, not building by building over the day,
    because the planner's wishes can couple buildings within a step (the aggregate plan shares EV
    energy over every point of the quarter). It is a literal transcription of the vectorised rules
    (kept as the oracle in tests/energy/test_engine_equivalence.py): the same operations in the same
    order on the same doubles — no fast-math, so no reassociation or fused multiply-add; per-group sums
    accumulated point by point as `np.bincount` does — so the flows are bit for bit those of numpy.
    Only the unmet EV energy, a float-noise figure (~1e-7 kWh a year), is summed in order here where
    numpy summed each step's points pairwise, and may differ in its last digits. The quarter battery
    is not stepped here: it only sees the sum over the buildings, see `_day`.
    """
    ev_mode, hp_mode, bat_mode = modes
    points, heat_pumps, batteries, flexible = len(ev_need), len(storage), len(battery), surplus.shape[0]
    must = np.zeros(points)
    room = np.zeros(points)
    live = np.zeros(points, dtype=np.int64)
    must_g = np.zeros(n_groups)
    room_g = np.zeros(n_groups)
    share = np.zeros(n_groups)
    # The step's surplus as a contiguous copy.
    s = np.empty(flexible)
    for k in range(surplus.shape[1]):
        t = start + k
        s[:] = surplus[:, k]
        if points > 0:
            # Arrivals (sessions are sorted by arrival): a new session replaces what was left (unmet).
            left = 0.0
            for j in range(arrivals[t], arrivals[t + 1]):
                point = session_point[j]
                left += ev_need[point]
                ev_need[point] = session_energy[j]
                ev_depart[point] = session_depart[j]
                deadline[point] = session_depart[j] * ev_pmax[point]
            unmet += left
            # Just in time: what must be charged now to be full at departure, and the most a point takes.
            # Only plugged points (need ≠ 0) are visited; an idle one would book exactly 0 everywhere.
            must_g[:] = 0.0
            room_g[:] = 0.0
            plugged = 0
            for j in range(points):
                need = ev_need[j]
                if need == 0.0:
                    continue
                live[plugged] = j
                plugged += 1
                most = min(ev_pmax[j], need)
                now = need - deadline[j]
                now += ev_pmax[j] * (t + 1)
                now = min(max(now, 0.0), most)
                if ev_mode == _FOLLOW:
                    # As today: full power from arrival until full.
                    must[j], room[j] = most, 0.0
                else:
                    must[j], room[j] = now, most - now
                    must_g[ev_group[j]] += now
                    room_g[ev_group[j]] += most - now
            # Beyond what must be charged, each group charges its wish (or surplus) in proportion to room.
            if ev_mode != _FOLLOW:
                for j in live[:plugged]:
                    g = ev_group[j]
                    wanted = ev_wish[k, g] if ev_mode == _WISHES else max(s[g], 0.0)
                    extra = max(wanted - must_g[g], 0.0)
                    share[g] = min(extra / room_g[g], 1.0) if room_g[g] > 1e-12 else 0.0
            for j in live[:plugged]:
                charge = share[ev_group[j]] * room[j] + must[j] if ev_mode != _FOLLOW else must[j]
                ev_need[j] -= charge
                ev_out[k, ev_building[j]] += charge
            # Departures at the end of this step: what is left is unmet (0 unless infeasible).
            left = 0.0
            for j in range(departures[t + 1], departures[t + 2]):
                point = session_point[by_departure[j]]
                left += max(ev_need[point], 0.0)
                ev_need[point] = 0.0
                ev_depart[point] = -1
                deadline[point] = -ev_pmax[point]
            unmet += left
            for i in range(flexible):
                s[i] -= ev_out[k, i]
                ev_day[i] += ev_out[k, i]
        # Heat pumps: the stored heat loses its standing loss, then the heat pump makes at least what the
        # store cannot cover and at most what fits — the demand, the rule's surplus heat or the wish.
        for i in range(heat_pumps):
            # Demand and COP as `Plant.space_heat` and `Plant.cop_effective` make them, element by element.
            demand = heat_shape[k] * hp_space[i] + water_shape[k] * hp_water[i]
            needs = hp_per_kwh[0, k] * hp_radiators[i] + hp_per_kwh[1, k] * hp_floor[i]
            needs += hp_per_kwh[2, k] * hp_water[i]
            cop = demand / needs if needs > 0 else cop_water[k]
            before = storage[i]
            lost = before * loss
            kept = before - lost
            low = max(demand - kept, 0.0)
            high = max(min(hp_max[i], demand + store_max[i] - kept), low)
            if hp_mode == _FOLLOW:
                q = min(max(demand, low), high)
            elif hp_mode == _WISHES:
                q = min(max(demand + storage_wish[k, i] - kept, low), high)
            else:
                q = min(max(max(s[hp_start + i], 0.0) * cop, low), high)
            after = kept + q - demand
            storage_delta[k, i] = after - before
            storage_loss[k, i] = lost
            storage[i] = after
            electricity = q / cop
            hp_heat[k, i] = q
            hp_el[k, i] = electricity
            hp_day[0, i] += q
            hp_day[1, i] += electricity
            hp_day[2, i] += after - before
            hp_day[3, i] += lost
            s[hp_start + i] -= electricity
        # Home batteries: charge the surplus (or toward the wish), discharge the deficit, within limits.
        for i in range(batteries):
            level = battery[i]
            if bat_mode == _FOLLOW:
                want = 0.0
            elif bat_mode == _WISHES:
                gap = battery_wish[k, i] - level
                want = gap / eta_c if gap > 0 else gap * eta_d
            else:
                want = s[bat_start + i]
            charge = max(min(max(want, 0.0), min(bat_step[i], (bat_max[i] - level) / eta_c)), 0.0)
            discharge = max(min(max(-want, 0.0), min(bat_step[i], (level - bat_min[i]) * eta_d)), 0.0)
            after = level + charge * eta_c - discharge / eta_d
            delta_out[k, i] = after - level
            loss_out[k, i] = charge - discharge - (after - level)
            battery_day[0, i] += charge
            battery_day[1, i] += discharge
            battery_day[2, i] += after - level
            battery_day[3, i] += loss_out[k, i]
            battery[i] = after
            charge_out[k, i] = charge
            discharge_out[k, i] = discharge
            s[bat_start + i] -= charge - discharge
        surplus[:, k] = s
    return unmet


def _net(
    pv_profiles: np.ndarray,
    pv_plane: np.ndarray,
    pv_kwp: np.ndarray,
    profiles: np.ndarray,
    profile: np.ndarray,
    electricity_kwh: np.ndarray,
    start: int,
    stop: int,
) -> np.ndarray:
    """PV − base load of buildings (their planes, kWp, profiles, annual kWh) per step: buildings × steps.

    The same products and difference as `Plant.pv(…) - Plant.base_load(…)`, made in one pass.
    """
    net = np.empty((len(pv_plane), stop - start))
    for i in range(len(pv_plane)):
        plane, kind, kwp, annual = pv_plane[i], profile[i], pv_kwp[i], electricity_kwh[i]
        for k in range(stop - start):
            net[i, k] = pv_profiles[plane, start + k] * kwp - profiles[kind, start + k] * annual
    return net


@functools.cache
def _compiled_net() -> Callable[..., np.ndarray]:
    """`_net` compiled by numba (see `_compiled_step`)."""
    import numba

    return numba.njit(cache=True)(_net)


@functools.cache
def _compiled_step() -> Callable[..., float]:
    """`_step_devices` compiled by numba: on first use, from numba's cache on disk when it is there.

    numba is imported here, not with the module, as its import takes about a second and the KPI
    and result modules (and with them the API) import this module without simulating anything.
    `error_model="numpy"` lets a division by zero give inf as in numpy instead of raising.
    """
    import numba

    return numba.njit(cache=True, error_model="numpy")(_step_devices)


# --- the day-ahead LP --------------------------------------------------------------------------------


class _LP:
    """A linear programme assembled from blocks of variables and sparse rows, solved by HiGHS."""

    def __init__(self) -> None:
        self.lower: list[np.ndarray] = []
        self.upper: list[np.ndarray] = []
        self.cost: list[np.ndarray] = []
        self.size = 0
        self.rows: list[np.ndarray] = []
        self.cols: list[np.ndarray] = []
        self.vals: list[np.ndarray] = []
        self.row_lower: list[np.ndarray] = []
        self.row_upper: list[np.ndarray] = []
        self.n_rows = 0

    def variables(
        self, shape: tuple[int, ...], lower: object, upper: object, cost: object = 0.0
    ) -> np.ndarray:
        count = int(np.prod(shape))
        index = np.arange(self.size, self.size + count).reshape(shape)
        self.lower.append(np.broadcast_to(np.asarray(lower, dtype=float), shape).ravel())
        self.upper.append(np.broadcast_to(np.asarray(upper, dtype=float), shape).ravel())
        self.cost.append(np.broadcast_to(np.asarray(cost, dtype=float), shape).ravel())
        self.size += count
        return index

    def equal(self, terms: list[tuple[np.ndarray, object]], rhs: object) -> None:
        """Rows Σ coefficient × variable = rhs, elementwise over the shape of the index arrays."""
        shape = np.broadcast_shapes(*(np.shape(index) for index, _ in terms))
        count = int(np.prod(shape))
        row = np.arange(self.n_rows, self.n_rows + count).reshape(shape)
        for index, coefficient in terms:
            index_b = np.broadcast_to(index, shape)
            coef_b = np.broadcast_to(np.asarray(coefficient, dtype=float), shape)
            self.rows.append(row.ravel())
            self.cols.append(index_b.ravel())
            self.vals.append(coef_b.ravel())
        bound = np.broadcast_to(np.asarray(rhs, dtype=float), shape).ravel()
        self.row_lower.append(bound)
        self.row_upper.append(bound)
        self.n_rows += count

    def solve(self, warm: dict | None = None) -> np.ndarray:
        """Solve with HiGHS (dual simplex); `warm` carries the last basis of an LP of the same shape.

        Day after day the planner's LPs have the same structure, so yesterday's optimal basis is a
        good start for today's (the dual simplex then needs a fraction of the iterations).
        """
        import highspy

        matrix = sparse.csc_matrix(
            (np.concatenate(self.vals), (np.concatenate(self.rows), np.concatenate(self.cols))),
            shape=(self.n_rows, self.size),
        )
        matrix.sum_duplicates()
        lp = highspy.HighsLp()
        lp.num_col_ = self.size
        lp.num_row_ = self.n_rows
        lp.col_cost_ = np.concatenate(self.cost)
        lp.col_lower_ = np.concatenate(self.lower)
        lp.col_upper_ = np.concatenate(self.upper)
        lp.row_lower_ = np.concatenate(self.row_lower)
        lp.row_upper_ = np.concatenate(self.row_upper)
        lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        lp.a_matrix_.start_ = matrix.indptr
        lp.a_matrix_.index_ = matrix.indices
        lp.a_matrix_.value_ = matrix.data
        solver = _highs()
        solver.passModel(lp)
        shape = (self.size, self.n_rows)
        if warm is not None and warm.get("shape") == shape:
            solver.setBasis(warm["basis"])
        solver.run()
        status = solver.getModelStatus()
        if status != highspy.HighsModelStatus.kOptimal:
            raise RuntimeError(f"the day-ahead LP was not solved: {solver.modelStatusToString(status)}")
        if warm is not None:
            warm["shape"], warm["basis"] = shape, solver.getBasis()
        return np.asarray(solver.getSolution().col_value)


def _highs():  # noqa: ANN202 - highspy is imported lazily
    """A silent HiGHS instance (its banner goes to stdout on creation, so that is swallowed)."""
    import highspy

    with _quiet_stdout():
        solver = highspy.Highs()
    solver.setOptionValue("output_flag", False)
    solver.setOptionValue("threads", 1)
    solver.setOptionValue("random_seed", 0)
    return solver


@contextlib.contextmanager
def _quiet_stdout() -> Iterator[None]:
    """Silence the process's standard output (file descriptor 1) for C++ code that prints to it."""
    sys.stdout.flush()
    try:
        saved = os.dup(1)
    except OSError:
        yield
        return
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 1)
            yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)


def _ev_envelope(
    plant: Plant, state: _State, start: int, stop: int, group: np.ndarray, n_groups: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per group and step: the most EV energy per step, and the cumulative energy bounds.

    Lower bound: every session charged as late as possible (still full at departure); upper bound:
    as early as possible. For one point the two bounds and the power limit are exactly its feasible
    set; for several they are the usual outer approximation of the sum (the engine's just-in-time
    rule keeps every session whole).
    """
    h = stop - start
    power = np.zeros((h, n_groups))
    low = np.zeros((h, n_groups))
    high = np.zeros((h, n_groups))
    pmax_all = plant.ev_step_kwh
    jobs = []
    for point in np.flatnonzero(state.ev_depart > start):
        jobs.append((point, start, int(state.ev_depart[point]), float(state.ev_need[point])))
    s = plant.sessions
    first = np.searchsorted(s.arrive, start)
    last = np.searchsorted(s.arrive, stop)
    open_at = {int(p): int(state.ev_depart[p]) for p in np.flatnonzero(state.ev_depart > start)}
    for j in range(first, last):
        point = int(s.point[j])
        if open_at.get(point, -1) > s.arrive[j]:
            continue
        jobs.append((point, int(s.arrive[j]), int(s.depart[j]), float(s.energy_kwh[j])))
        open_at[point] = int(s.depart[j])
    steps = np.arange(start, stop)
    for point, begin, end, energy in jobs:
        if energy <= 0:
            continue
        pmax = pmax_all[point]
        g = group[point]
        active = (steps >= begin) & (steps < end)
        power[active, g] += pmax
        late = np.clip(energy - pmax * (end - (steps + 1)), 0.0, energy)
        early = np.clip(pmax * (steps + 1 - begin), 0.0, energy)
        low[:, g] += np.where(steps >= begin, late, 0.0)
        high[:, g] += np.where(steps >= begin, early, 0.0)
    return power, low, high


class DayAheadPlanner:
    """Plans each day by LP (see the module doc); an `Engine` planner."""

    def __init__(self, engine: Engine, params: OptimiserParams, mode: str = "exact") -> None:
        self.engine = engine
        self.params = params
        self.mode = mode
        self.seconds: list[float] = []
        self.warm: dict = {}
        plant = engine.plant
        self.horizon = int(params.horizon_hours * 4)
        self.weight = params.co2_weight_eur_per_kg
        if mode == "aggregate" and params.scope == "building":
            raise ValueError("optimiser: the aggregate mode plans the quarter as one site (scope district)")
        self.scope = params.scope
        e = engine
        if mode == "exact":
            self.units = e.flex
            self.bat_unit = e.bat_f
            self.hp_unit = e.hp_f
            self.ev_group = e.ev_f
        else:
            self.units = np.array([0])
            self.bat_unit = np.zeros(len(e.battery_idx), dtype=int)
            self.hp_unit = np.zeros(len(e.hp_idx), dtype=int)
            self.ev_group = np.zeros(len(plant.ev_owner), dtype=int)

    def plan(self, start: int, state: _State | None = None) -> _Wishes:
        """Plan the day starting at step `start` from `state` (default: the initial state); timed."""
        state = state if state is not None else self.engine.initial_state()
        return self(_Day(start, min(start + STEPS_PER_DAY, self.engine.plant.steps), state))

    def __call__(self, day: _Day) -> _Wishes:
        import time

        began = time.perf_counter()
        wishes = self._plan(day)
        self.seconds.append(time.perf_counter() - began)
        return wishes

    def _plan(self, day: _Day) -> _Wishes:
        e, p, state = self.engine, self.engine.plant, day.state
        start = day.start
        stop = min(start + self.horizon, p.steps)
        h = stop - start
        u = len(self.units)
        exact = self.mode == "exact"
        lp = _LP()

        # Device sizes per unit (sums over a unit's devices).
        def per_unit(values: np.ndarray, unit: np.ndarray) -> np.ndarray:
            return np.bincount(unit, weights=values, minlength=u) if len(unit) else np.zeros(u)

        b_units = np.unique(self.bat_unit)
        h_units = np.unique(self.hp_unit)
        bat_min = per_unit(e.bat_min, self.bat_unit)[b_units]
        bat_max = per_unit(e.bat_max, self.bat_unit)[b_units]
        bat_step = per_unit(e.bat_step, self.bat_unit)[b_units]
        bat_now = per_unit(state.battery, self.bat_unit)[b_units]
        hp_max = per_unit(e.hp_max, self.hp_unit)[h_units]
        st_max = per_unit(e.store_max, self.hp_unit)[h_units]
        st_now = per_unit(state.storage, self.hp_unit)[h_units]
        heat = p.space_heat(start, stop, e.hp_idx)
        if len(e.hp_idx):
            cop = p.cop_effective(start, stop, e.hp_idx)
            heat_u = np.zeros((h, u))
            el_u = np.zeros((h, u))
            np.add.at(heat_u.T, self.hp_unit, heat.T)
            np.add.at(el_u.T, self.hp_unit, (heat / cop).T)
            cop_u = np.where(el_u > 0, heat_u / np.where(el_u > 0, el_u, 1.0), 3.0)[:, h_units]
            heat_u = heat_u[:, h_units]
        else:
            cop_u = heat_u = np.zeros((h, 0))
        price_in = p.import_price[start:stop] + self.weight * p.co2_kg_per_kwh[start:stop]
        price_out = p.export_price[start:stop]
        eta_c, eta_d = p.eta_charge, p.eta_discharge
        value_kwh = float(price_out.mean())
        # Variables.
        bc = lp.variables((h, len(b_units)), 0.0, bat_step[None, :], p.wear_cost)
        bd = lp.variables((h, len(b_units)), 0.0, bat_step[None, :], p.wear_cost)
        terminal_bat = np.zeros((h, len(b_units)))
        terminal_bat[-1] = -value_kwh * eta_d
        be = lp.variables((h, len(b_units)), bat_min[None, :], bat_max[None, :], terminal_bat)
        q = lp.variables((h, len(h_units)), 0.0, hp_max[None, :])
        terminal_st = np.zeros((h, len(h_units)))
        terminal_st[-1] = -value_kwh / HEAT_VALUE_COP
        se = lp.variables((h, len(h_units)), 0.0, st_max[None, :], terminal_st)
        # EV envelope.
        n_groups = u
        ev_power, ev_low, ev_high = _ev_envelope(p, state, start, stop, self.ev_group, n_groups)
        ev_units = np.flatnonzero(ev_power.sum(axis=0) > 0)
        v = lp.variables((h, len(ev_units)), 0.0, ev_power[:, ev_units])
        c = lp.variables(
            (h, len(ev_units)), ev_low[:, ev_units], np.maximum(ev_high[:, ev_units], ev_low[:, ev_units])
        )
        # Dynamics.
        if len(b_units):
            lp.equal([(be[0], 1.0), (bc[0], -eta_c), (bd[0], 1.0 / eta_d)], bat_now)
            lp.equal([(be[1:], 1.0), (be[:-1], -1.0), (bc[1:], -eta_c), (bd[1:], 1.0 / eta_d)], 0.0)
        if len(h_units):
            keep = 1.0 - p.storage_loss
            lp.equal([(se[0], 1.0), (q[0], -1.0)], keep * st_now - heat_u[0])
            lp.equal([(se[1:], 1.0), (se[:-1], -keep), (q[1:], -1.0)], -heat_u[1:])
        if len(ev_units):
            lp.equal([(c[0], 1.0), (v[0], -1.0)], 0.0)
            lp.equal([(c[1:], 1.0), (c[:-1], -1.0), (v[1:], -1.0)], 0.0)
        # Electricity balance.
        pv = p.pv(start, stop)
        load = p.base_load(start, stop)
        if self.scope == "district":
            gi = lp.variables((h,), 0.0, INF, price_in)
            ge = lp.variables((h,), 0.0, INF, -price_out)
            terms: list[tuple[np.ndarray, object]] = [(gi, -1.0), (ge, 1.0)]
            terms += _summed(bc, 1.0) + _summed(bd, -1.0) + _summed(q, 1.0 / cop_u) + _summed(v, 1.0)
            if p.quarter_kwh > 0:
                qstep = p.quarter_step_kwh
                qc = lp.variables((h,), 0.0, qstep, p.wear_cost)
                qd = lp.variables((h,), 0.0, qstep, p.wear_cost)
                terminal_q = np.zeros(h)
                terminal_q[-1] = -value_kwh * p.quarter_eta_discharge
                qe = lp.variables((h,), e.q_min, e.q_max, terminal_q)
                lp.equal(
                    [(qe[:1], 1.0), (qc[:1], -p.quarter_eta_charge), (qd[:1], 1.0 / p.quarter_eta_discharge)],
                    state.quarter,
                )
                lp.equal(
                    [
                        (qe[1:], 1.0),
                        (qe[:-1], -1.0),
                        (qc[1:], -p.quarter_eta_charge),
                        (qd[1:], 1.0 / p.quarter_eta_discharge),
                    ],
                    0.0,
                )
                terms += [(qc, 1.0), (qd, -1.0)]
            _balance_rows(lp, terms, (pv - load).sum(axis=1), h)
        else:
            units = self.units
            gi = lp.variables((h, u), 0.0, INF, price_in[:, None])
            ge = lp.variables((h, u), 0.0, INF, -price_out[:, None])
            net = (pv - load)[:, units]
            _unit_balance(lp, gi, ge, bc, bd, q, v, b_units, h_units, ev_units, cop_u, net)
        x = lp.solve(self.warm if self.params.warm_start else None)
        # Wishes for the day's steps, per device.
        days = min(STEPS_PER_DAY, h, day.stop - day.start)
        wishes = _Wishes()
        if len(b_units):
            level = x[be[:days]]
            if exact:
                share = np.ones(len(e.battery_idx))
                target = level[:, np.searchsorted(b_units, self.bat_unit)] * share
            else:
                total = np.maximum(bat_max.sum(), 1e-12)
                fraction = (level.sum(axis=1) - bat_min.sum()) / max(total - bat_min.sum(), 1e-12)
                target = e.bat_min[None, :] + fraction[:, None] * (e.bat_max - e.bat_min)[None, :]
            wishes.battery_target = target
        if len(h_units):
            level = x[se[:days]]
            if exact:
                wishes.storage_target = level[:, np.searchsorted(h_units, self.hp_unit)]
            else:
                # Each store is brought to the planned common fill level; the engine clips what is infeasible.
                fraction = level.sum(axis=1) / max(st_max.sum(), 1e-12)
                wishes.storage_target = fraction[:, None] * e.store_max[None, :]
        if len(ev_units):
            energy = np.zeros((days, u))
            energy[:, ev_units] = x[v[:days]]
            wishes.ev_energy = energy
            wishes.ev_group = self.ev_group
        if self.scope == "district" and p.quarter_kwh > 0:
            wishes.quarter_target = x[qe[:days]]
        return wishes


def _summed(index: np.ndarray, coefficient: object) -> list[tuple[np.ndarray, object]]:
    """Terms adding a (h, k) block per step (row per step, k columns each)."""
    if index.size == 0:
        return []
    return [(index, coefficient)]


def _balance_rows(lp: _LP, terms: list[tuple[np.ndarray, object]], rhs: np.ndarray, h: int) -> None:
    """One row per step: Σ over every term's columns of coefficient × variable = rhs[step]."""
    row = np.arange(lp.n_rows, lp.n_rows + h)
    for index, coefficient in terms:
        index2 = index.reshape(h, -1)
        coef = np.broadcast_to(np.asarray(coefficient, dtype=float), index2.shape)
        lp.rows.append(np.repeat(row, index2.shape[1]))
        lp.cols.append(index2.ravel())
        lp.vals.append(coef.ravel())
    lp.row_lower.append(rhs.astype(float))
    lp.row_upper.append(rhs.astype(float))
    lp.n_rows += h


def _unit_balance(
    lp: _LP,
    gi: np.ndarray,
    ge: np.ndarray,
    bc: np.ndarray,
    bd: np.ndarray,
    q: np.ndarray,
    v: np.ndarray,
    b_units: np.ndarray,
    h_units: np.ndarray,
    ev_units: np.ndarray,
    cop_u: np.ndarray,
    net: np.ndarray,
) -> None:
    """One row per unit and step: own devices − import + export = own PV − own load."""
    h, u = gi.shape
    row = np.arange(lp.n_rows, lp.n_rows + h * u).reshape(h, u)
    pieces = [(gi, np.arange(u), -1.0), (ge, np.arange(u), 1.0)]
    pieces += [(bc, b_units, 1.0), (bd, b_units, -1.0), (q, h_units, 1.0 / cop_u if cop_u.size else 1.0)]
    pieces += [(v, ev_units, 1.0)]
    for index, units, coefficient in pieces:
        if index.size == 0:
            continue
        lp.rows.append(row[:, units].ravel())
        lp.cols.append(index.ravel())
        lp.vals.append(np.broadcast_to(np.asarray(coefficient, dtype=float), index.shape).ravel())
    lp.row_lower.append(net.ravel())
    lp.row_upper.append(net.ravel())
    lp.n_rows += h * u


def simulate(
    plant: Plant,
    strategy: str,
    optimiser: OptimiserParams | None = None,
    record: bool = False,
    progress: Callable[[int], None] | None = None,
) -> Result:
    """Run `strategy` on the plant over its steps (see the module doc)."""
    engine = Engine(plant)
    if strategy != "optimised":
        return engine.run(strategy, record=record, progress=progress)
    params = optimiser or OptimiserParams()
    mode = params.mode
    if mode == "auto":
        mode = (
            "exact"
            if len(engine.flex) <= params.exact_max_buildings or params.scope == "building"
            else "aggregate"
        )
    planner = DayAheadPlanner(engine, params, mode)
    result = engine.run(strategy, planner=planner, record=record, progress=progress)
    result.lp_seconds = planner.seconds
    result.mode = mode
    return result


def objective(result: Result, weight: float = 0.0, scope: str = "district") -> float:
    """The optimiser's objective on a result: cost + weight × CO2 + wear − value of what is stored.

    Evaluated at the quarter's grid connection (scope district) or summed over the buildings' own
    meters (scope building), with the energy stored at the end valued as the planner values it at
    its horizon (feed-in price × discharge efficiency; heat ÷ COP 3).
    """
    p, s = result.plant, result.series
    price_in = p.import_price + weight * p.co2_kg_per_kwh
    imports, exports = (
        (s["grid_import"], s["grid_export"]) if scope == "district" else (s["import"], s["export"])
    )
    cost = float(price_in @ imports - p.export_price @ exports)
    wear = p.wear_cost * float(
        s["battery_charge"].sum()
        + s["battery_discharge"].sum()
        + s["quarter_charge"].sum()
        + s["quarter_discharge"].sum()
    )
    value = float(p.export_price.mean())
    stored = value * (
        p.eta_discharge * result.final_battery_kwh
        + p.quarter_eta_discharge * result.final_quarter_kwh
        + result.final_storage_kwh / HEAT_VALUE_COP
    )
    return cost + wear - stored
