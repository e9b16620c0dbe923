"""The step kernel: the devices with state stepped through one day, compiled by numba.

`step_devices` walks the day's steps and, in each, the EV charging points (sessions arriving and
leaving, charged as the mode says), the heat pumps with their thermal stores and the home batteries,
each driven as today (`FOLLOW`), by the self-consumption rules (`RULES`) or towards a planner's
wishes (`WISHES`); it writes every flow into the arrays it is given and returns the EV energy left
unmet (a point whose `ev_smart` is false is not controlled: it charges as today in every mode).
`net` is PV − base load of the buildings stepped. Both are plain Python on numpy arrays,
compiled on first use (`compiled_step`, `compiled_net`); the engine (`engine.py`) calls them.

The kernel keeps its arrays as positional parameters rather than one record: a record (a numba
structref or named tuple) changes what numba compiles, and the kernel's speed in `bench/README.md`
was measured with plain arrays; a record is worth it only with a measurement that shows no loss.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np

#: How a kind of device is driven in `step_devices`: as today (baseline), by the self-consumption
#: rules, or towards the planner's wishes.
FOLLOW, RULES, WISHES = 0, 1, 2


def step_devices(
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
    (kept as the oracle in tests/energy/test_kernel.py): the same operations in the same
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
                if ev_mode == FOLLOW:
                    # As today: full power from arrival until full.
                    must[j], room[j] = most, 0.0
                elif not ev_smart[j]:
                    # A point without control charges as today under every strategy; what it takes
                    # is taken from its group's surplus or wish first.
                    must[j], room[j] = most, 0.0
                    must_g[ev_group[j]] += most
                else:
                    must[j], room[j] = now, most - now
                    must_g[ev_group[j]] += now
                    room_g[ev_group[j]] += most - now
            # Beyond what must be charged, each group charges its wish (or surplus) in proportion to room.
            if ev_mode != FOLLOW:
                for j in live[:plugged]:
                    g = ev_group[j]
                    wanted = ev_wish[k, g] if ev_mode == WISHES else max(s[g], 0.0)
                    extra = max(wanted - must_g[g], 0.0)
                    share[g] = min(extra / room_g[g], 1.0) if room_g[g] > 1e-12 else 0.0
            for j in live[:plugged]:
                charge = share[ev_group[j]] * room[j] + must[j] if ev_mode != FOLLOW else must[j]
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
            if hp_mode == FOLLOW:
                q = min(max(demand, low), high)
            elif hp_mode == WISHES:
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
            if bat_mode == FOLLOW:
                want = 0.0
            elif bat_mode == WISHES:
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


def net(
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
def compiled_net() -> Callable[..., np.ndarray]:
    """`net` compiled by numba (see `compiled_step`)."""
    import numba

    return numba.njit(cache=True)(net)


@functools.cache
def compiled_step() -> Callable[..., float]:
    """`step_devices` compiled by numba: on first use, from numba's cache on disk when it is there.

    numba is imported here, not with the module, as its import takes about a second and the KPI
    and result modules (and with them the API) import this module without simulating anything.
    `error_model="numpy"` lets a division by zero give inf as in numpy instead of raising.
    """
    import numba

    return numba.njit(cache=True, error_model="numpy")(step_devices)
