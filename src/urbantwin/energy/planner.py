"""The optimised strategy's day-ahead planner: a linear programme per day, solved by HiGHS.

Each day it plans over `horizon_hours` with perfect forecasts of load, PV and heat (the TRY),
minimising import cost − export revenue + `co2_weight` × CO2 + battery wear − the value of the
energy left in storage at the horizon; the engine applies the first 24 h as wishes (`engine.Wishes`)
and the next day is planned from the states reached. `exact` mode plans every flexible building;
`aggregate` plans the quarter as one site (sum of batteries, heat pumps, EV flexibility) and shares
the plan out (storage targets as a common state of charge, EV energy by urgency).
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from typing import Any

import numpy as np
from scipy import sparse

from urbantwin.energy.components import Plant
from urbantwin.energy.engine import HEAT_VALUE_COP, INF, Day, Engine, State, Wishes
from urbantwin.energy.loads import STEPS_PER_DAY
from urbantwin.energy.scenario import OptimiserParams


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
        solver = quiet_highs()
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


def quiet_highs():  # noqa: ANN201 - highspy is imported lazily
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
    plant: Plant, state: State, start: int, stop: int, group: np.ndarray, n_groups: int
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
    for waiting in np.flatnonzero(state.ev_depart > start):
        jobs.append((int(waiting), start, int(state.ev_depart[waiting]), float(state.ev_need[waiting])))
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

    def plan(self, start: int, state: State | None = None) -> Wishes:
        """Plan the day starting at step `start` from `state` (default: the initial state); timed."""
        state = state if state is not None else self.engine.initial_state()
        return self(Day(start, min(start + STEPS_PER_DAY, self.engine.plant.steps), state))

    def __call__(self, day: Day) -> Wishes:
        import time

        began = time.perf_counter()
        wishes = self._plan(day)
        self.seconds.append(time.perf_counter() - began)
        return wishes

    def _plan(self, day: Day) -> Wishes:
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
        wishes = Wishes()
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
    pieces: list[tuple[np.ndarray, np.ndarray, Any]] = [(gi, np.arange(u), -1.0), (ge, np.arange(u), 1.0)]
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
