"""The engine that walks a plant through the year a day at a time, booking every flow.

What needs no state (base load, PV) is computed for all buildings × 96 steps as arrays; only the
devices with state — home batteries, heat pumps with their thermal storage, EV charging points, the
quarter battery — are stepped through the day, in the compiled loop of `kernel.py` over the
buildings that have them. A strategy only says what each device *wants* in a step (`Wishes`, made
by a planner such as `planner.DayAheadPlanner`, or none: as today, or by the rules); the engine
clips that to what the device can do in its state and books every flow, so the energy balance
closes by construction in every step:

    electricity, per building:  pv + import = load + heat pump + EV + export + Δbattery + battery losses
    heat, per building:         heat pump + boiler = heat demand + Δthermal storage + storage losses
    quarter:  Σ building import − Σ export = grid import − grid export − quarter discharge + quarter charge

The strategies themselves are described in `strategies.py`, which runs them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from urbantwin.energy import kernel
from urbantwin.energy.components import Plant
from urbantwin.energy.loads import STEPS_PER_DAY

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
    #: The watched groups' flows at the watched steps (`Watch`): name → (len(steps), groups).
    watched: dict[str, np.ndarray] | None = None


#: Flows a `Watch` keeps per group: what a building's or a block's own meters see (kWh per step;
#: CO2 of its imports in kg).
WATCH_FLOWS = ("pv", "load", "ev", "hp_electricity", "import", "export", "gas", "co2_kg")


@dataclass(frozen=True)
class Watch:
    """Buildings whose flows a run keeps per group at some steps: a block's or a building's plan.

    `groups[i]` is the group of building i (-1: not watched), `steps` the (sorted, unique) steps of
    the year kept. The sums are those of the buildings' own connections (import and export at each
    building; the quarter battery is no building's), so a block's are the sums of its buildings', and
    the groups of all buildings add up to the quarter's building flows. Memory is
    len(steps) × count × 8 flows, so a run watches a period (the days meters are written for), not
    the year of every block.
    """

    groups: np.ndarray
    count: int
    steps: np.ndarray

    def rows(self, start: int, stop: int) -> tuple[np.ndarray, np.ndarray]:
        """The day's positions in [start, stop) that are watched, and their rows in the result."""
        position = np.searchsorted(self.steps, np.arange(start, stop))
        position = np.minimum(position, len(self.steps) - 1)
        kept = self.steps[position] == np.arange(start, stop)
        return np.flatnonzero(kept), position[kept]


# --- the engine -----------------------------------------------------------------------------------


@dataclass
class State:
    battery: np.ndarray
    storage: np.ndarray
    quarter: float
    ev_need: np.ndarray
    ev_depart: np.ndarray
    unmet: float = 0.0


@dataclass
class Day:
    """Arrays of one day for the flexible buildings, handed to a planner."""

    start: int
    stop: int
    state: State


#: A planner gets the day and returns, per step, the wishes of the devices (see `Wishes`).
Planner = Callable[[Day], "Wishes"]


@dataclass
class Wishes:
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

    def initial_state(self) -> State:
        """Batteries at their lowest charge, thermal stores empty, no EV plugged."""
        m = len(self.plant.ev_owner)
        return State(
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
        watch: Watch | None = None,
    ) -> Result:
        """Simulate every step; `planner` gives the optimised strategy's wishes per day; `watch`
        keeps the flows of groups of buildings at some steps (`Result.watched`).

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
        watched = self._watch_closed_form(watch, passive) if watch is not None else None
        state = self.initial_state()
        for start in range(0, steps, STEPS_PER_DAY):
            stop = min(start + STEPS_PER_DAY, steps)
            wishes = planner(Day(start, stop, state)) if planner is not None else None
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
            if watched is not None and watch is not None:
                self._watch_day(watch, watched, start, stop, flows, index)
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
            watched=watched,
        )

    def _watch_closed_form(self, watch: Watch, passive: np.ndarray) -> dict[str, np.ndarray]:
        """The watched groups' flows that need no stepping (PV, load, gas; import of the buildings
        without PV or devices), at the watched steps; the stepped ones start at 0."""
        p = self.plant
        groups, count, steps = watch.groups, watch.count, watch.steps
        if len(groups) != p.n or (len(steps) and (steps.min() < 0 or steps.max() >= p.steps)):
            raise ValueError("a watch needs a group for every building and steps within the year")
        seen = groups >= 0
        out = {name: np.zeros((len(steps), count)) for name in WATCH_FLOWS}

        def by_group(
            kinds: np.ndarray, weights: np.ndarray, shapes: np.ndarray, chosen: np.ndarray
        ) -> np.ndarray:
            table = np.zeros((count, shapes.shape[0]))
            np.add.at(table, (groups[chosen], kinds[chosen]), weights[chosen])
            return (table @ shapes[:, steps]).T

        out["load"] = by_group(p.profile, p.electricity_kwh, p.profiles, seen)
        out["pv"] = by_group(p.pv_plane, p.pv_kwp, p.pv_profiles, seen)
        boiler = seen & ~p.heat_pump
        heat = np.zeros((count, 2))
        np.add.at(heat, groups[boiler], np.column_stack([p.space_heat_kwh[boiler], p.hot_water_kwh[boiler]]))
        shapes = np.vstack([p.heat_shape[steps], p.hot_water_shape[steps]])
        out["gas"] = (heat @ shapes).T / p.boiler_efficiency
        lazy = np.zeros(p.n, dtype=bool)
        lazy[passive] = True
        out["import"] = by_group(p.profile, p.electricity_kwh, p.profiles, seen & lazy)
        out["co2_kg"] = out["import"] * p.co2_kg_per_kwh[steps][:, None]
        return out

    def _watch_day(
        self,
        watch: Watch,
        watched: dict[str, np.ndarray],
        start: int,
        stop: int,
        flows: dict[str, np.ndarray],
        index: dict[str, np.ndarray],
    ) -> None:
        """Add the day's stepped flows of the watched buildings to their groups."""
        positions, rows = watch.rows(start, stop)
        if not len(positions):
            return
        co2 = self.plant.co2_kg_per_kwh[start:stop][positions]
        for name in ("import", "export", "ev", "hp_electricity"):
            columns = index[name]
            groups = watch.groups[columns]
            chosen = np.flatnonzero(groups >= 0)
            if not len(chosen):
                continue
            values = flows[name][positions][:, chosen]
            summed = np.zeros((len(positions), watch.count))
            for k in range(len(positions)):
                summed[k] = np.bincount(groups[chosen], weights=values[k], minlength=watch.count)
            watched[name][rows] += summed
            if name == "import":
                watched["co2_kg"][rows] += summed * co2[:, None]

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
        self, strategy: str, start: int, stop: int, state: State, wishes: Wishes | None, record: bool
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
            net = kernel.compiled_net()(*self.active_net, start, stop).T
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
            if strategy == "baseline":
                return kernel.FOLLOW
            return kernel.RULES if wished is None else kernel.WISHES

        ev_wish = wishes.ev_energy if wishes is not None else None
        storage_wish = wishes.storage_target if wishes is not None else None
        battery_wish = wishes.battery_target if wishes is not None else None
        # Buildings × steps, C-ordered: the transpose of `surplus_f` as numpy made it (column-major), so
        # a view, and one array layout for every plant (numba compiles one kernel per layout).
        surplus_by_building = np.ascontiguousarray(surplus_f.T)
        state.unmet = kernel.compiled_step()(
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
            p.ev_smart,
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
