"""The quarter's equipment as arrays: PV, batteries, heat pumps with thermal storage, EV charging, grid.

`equip` turns the district model (buildings and their demand) and a scenario into a `Plant`: per
building the annual demands and the index of their profile, PV peak power and the profile of its
plane, battery and heat-pump sizes; per charging point its owner and its synthetic sessions; the
grid's prices and CO2 signal. All energies are kWh per 15-minute step, powers are given as the kWh
a device can move in one step. Which buildings adopt a measure is a seeded, stable draw per building
(`model.stable_uniform`), so scenarios with the same seed differ only where their parameters do.

Heat pumps: air-source, COP from the regression of Ruhnau, Hirth & Praktiknjo (2019, Scientific
Data 6:189, "Time series of heat demand and heat pump efficiency for energy system modeling"):
COP = f · (6.08 − 0.09 ΔT + 0.0005 ΔT²), ΔT = sink − source, f = 0.85 for real-world operation; the sink
follows the heating curve of radiators (40 − 1.0 · T_out °C) or floor heating (30 − 0.5 · T_out °C),
hot water is made at 50 °C. A heat pump is sized to the year's peak heat demand × `sizing_factor`,
so it covers the demand alone (monovalent); its flexibility is a water buffer plus the building's
thermal mass within a comfort band (c_m × A_N × band), with a standing loss per hour.

EV charging sessions are SYNTHETIC (seeded): home points get sessions on random evenings (arrival
≈ 18:00, departure ≈ 07:30 next morning, normal spread), with energy so that a car's annual mileage ×
consumption is charged at home; workplace points get a session on workdays (08:00–16:30). Each
session's energy varies by a normal factor 1 ± 0.3 (clipped to 0.3–2, an assumption), sessions
shorter than an hour are dropped, and no session asks for more than 90 % of what its point can deliver
while plugged, so every session can be completed.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from urbantwin.energy import loads
from urbantwin.energy.model import PROFILES, RESIDENTIAL, Buildings, Demand, stable_uniform
from urbantwin.energy.pv import PVModel
from urbantwin.energy.scenario import Scenario
from urbantwin.energy.weather import Weather, to_steps

DT_H = 0.25
#: Heat capacity of water [kWh/(l·K)] (4.186 kJ/(kg·K), 1 kg/l).
WATER_KWH_PER_L_K = 4.186 / 3600.0


def cop(sink_c: np.ndarray | float, source_c: np.ndarray | float, correction: float = 0.85) -> np.ndarray:
    """COP of an air-source heat pump (Ruhnau et al. 2019), at least 1.

    The regression is fitted on manufacturer data for temperature lifts of roughly 15-60 K, so lifts
    below 15 K are taken as 15 K (it would otherwise promise COPs no real machine reaches); a COP
    below 1 would be worse than a heating rod and is never used.
    """
    delta = np.maximum(np.asarray(sink_c, dtype=float) - np.asarray(source_c, dtype=float), 15.0)
    return np.maximum(correction * (6.08 - 0.09 * delta + 0.0005 * delta**2), 1.0)


def sink_temperature(outdoor_c: np.ndarray, floor_heating: bool) -> np.ndarray:
    """Flow temperature of the heating curve (Ruhnau et al. 2019): radiators or floor heating."""
    return 30.0 - 0.5 * outdoor_c if floor_heating else 40.0 - 1.0 * outdoor_c


@dataclass
class Sessions:
    """Charging sessions (SYNTHETIC), sorted by arrival: point, arrival and departure step, energy."""

    point: np.ndarray
    arrive: np.ndarray
    depart: np.ndarray
    energy_kwh: np.ndarray

    def __len__(self) -> int:
        return len(self.point)


@dataclass
class Plant:
    """Everything the strategies simulate, as arrays (N buildings, M charging points, T steps)."""

    keys: list[str]
    steps: int
    #: Electricity: annual kWh and profile index per building; profiles (3, T) summing to 1.
    electricity_kwh: np.ndarray
    profile: np.ndarray
    profiles: np.ndarray
    #: PV: kWp per building, plane index, plane profiles (P, T) in kWh per kWp and step.
    pv_kwp: np.ndarray
    pv_plane: np.ndarray
    pv_profiles: np.ndarray
    #: Heat: annual space heating and hot water per building; their shapes over the year (sum 1).
    space_heat_kwh: np.ndarray
    hot_water_kwh: np.ndarray
    heat_shape: np.ndarray
    hot_water_shape: np.ndarray
    boiler_efficiency: float
    #: Heat pumps: has one, max heat per step, thermal storage capacity [kWh], COP tables.
    heat_pump: np.ndarray
    hp_max_kwh: np.ndarray
    storage_kwh: np.ndarray
    storage_loss: float
    floor_heating: np.ndarray
    cop_space: np.ndarray
    cop_hot_water: np.ndarray
    #: Home batteries: capacity [kWh], kWh per step, efficiencies, SOC limits (fractions).
    battery_kwh: np.ndarray
    battery_step_kwh: np.ndarray
    eta_charge: float
    eta_discharge: float
    soc_min: float
    soc_max: float
    #: The shared quarter battery.
    quarter_kwh: float
    quarter_step_kwh: float
    quarter_eta_charge: float
    quarter_eta_discharge: float
    #: EV charging points: owner building, kWh per step; their sessions.
    ev_owner: np.ndarray
    ev_step_kwh: np.ndarray
    sessions: Sessions
    #: Grid: CO2 [kg/kWh] per step, prices [€/kWh] per step.
    co2_kg_per_kwh: np.ndarray
    import_price: np.ndarray
    export_price: np.ndarray
    wear_cost: float
    #: Per charging point: whether it is controlled (smart charging: the strategy decides when it
    #: charges); one that is not charges at full power from arrival under every strategy. All
    #: points are controlled unless a plan chooses otherwise (`portfolio.py`).
    ev_smart: np.ndarray = None  # type: ignore[assignment]

    def __post_init__(self) -> None:
        if self.ev_smart is None:
            self.ev_smart = np.ones(len(self.ev_owner), dtype=bool)

    def window(self, start: int, stop: int) -> Plant:
        """The same plant over the steps `start .. stop` only (profiles cut, sessions moved and cut).

        Annual figures stay annual (the profiles keep their scale), so the window's flows are the
        window's part of the year.
        """
        cut: dict[str, object] = {}
        for name in ("profiles", "pv_profiles", "cop_space"):
            cut[name] = getattr(self, name)[:, start:stop]
        for name in (
            "heat_shape",
            "hot_water_shape",
            "cop_hot_water",
            "co2_kg_per_kwh",
            "import_price",
            "export_price",
        ):
            cut[name] = getattr(self, name)[start:stop]
        s = self.sessions
        keep = (s.arrive >= start) & (s.arrive < stop)
        cut["sessions"] = Sessions(
            s.point[keep],
            s.arrive[keep] - start,
            np.minimum(s.depart[keep], stop) - start,
            s.energy_kwh[keep],
        )
        return replace(self, steps=stop - start, **cut)  # type: ignore[arg-type]

    def select(self, index: np.ndarray) -> Plant:
        """The plant of some buildings only (with their charging points and sessions), no quarter battery."""
        index = np.asarray(index, dtype=int)
        per_building = (
            "electricity_kwh",
            "profile",
            "pv_kwp",
            "pv_plane",
            "space_heat_kwh",
            "hot_water_kwh",
            "heat_pump",
            "hp_max_kwh",
            "storage_kwh",
            "floor_heating",
            "battery_kwh",
            "battery_step_kwh",
        )
        cut: dict[str, object] = {name: getattr(self, name)[index] for name in per_building}
        position = np.full(self.n, -1)
        position[index] = np.arange(len(index))
        points = np.flatnonzero(position[self.ev_owner] >= 0) if len(self.ev_owner) else np.array([], int)
        renumber = np.full(len(self.ev_owner), -1)
        renumber[points] = np.arange(len(points))
        s = self.sessions
        keep = np.isin(s.point, points)
        cut["sessions"] = Sessions(
            renumber[s.point[keep]], s.arrive[keep], s.depart[keep], s.energy_kwh[keep]
        )
        cut["ev_owner"] = position[self.ev_owner[points]]
        cut["ev_step_kwh"] = self.ev_step_kwh[points]
        cut["ev_smart"] = self.ev_smart[points]
        return replace(
            self,
            keys=[self.keys[i] for i in index],
            quarter_kwh=0.0,
            quarter_step_kwh=0.0,
            **cut,  # type: ignore[arg-type]
        )

    def first_steps(self, steps: int) -> Plant:
        """The same plant over its first `steps` steps only."""
        return self.window(0, steps)

    @property
    def n(self) -> int:
        """Number of buildings."""
        return len(self.keys)

    def space_heat(self, start: int, stop: int, index: np.ndarray | slice = slice(None)) -> np.ndarray:
        """Heat demand (space + hot water) [kWh per step], shape (stop − start, buildings)."""
        return np.outer(self.heat_shape[start:stop], self.space_heat_kwh[index]) + np.outer(
            self.hot_water_shape[start:stop], self.hot_water_kwh[index]
        )

    def cop_effective(
        self, start: int, stop: int, index: np.ndarray, heat: np.ndarray | None = None
    ) -> np.ndarray:
        """COP per step of the heat pumps `index`, weighted by their space and hot-water demand.

        `heat` (the demand of `space_heat` for the same steps and buildings) saves computing it again.
        """
        shape, water = self.heat_shape[start:stop], self.hot_water_shape[start:stop]
        floor = self.floor_heating[index]
        space = self.space_heat_kwh[index]
        # Electricity per step = space heat / COP of its heating curve + hot water / COP at 50 °C.
        electricity = np.outer(shape / self.cop_space[0, start:stop], np.where(floor, 0.0, space))
        electricity += np.outer(shape / self.cop_space[1, start:stop], np.where(floor, space, 0.0))
        electricity += np.outer(water / self.cop_hot_water[start:stop], self.hot_water_kwh[index])
        if heat is None:
            heat = self.space_heat(start, stop, index)
        cop = np.divide(heat, electricity, out=np.zeros_like(heat), where=electricity > 0)
        idle = electricity <= 0
        if idle.any():
            cop[idle] = np.broadcast_to(self.cop_hot_water[start:stop, None], cop.shape)[idle]
        return cop

    def base_load(self, start: int, stop: int, index: np.ndarray | slice = slice(None)) -> np.ndarray:
        """Electricity demand without heat pumps and EVs [kWh per step], shape (steps, buildings)."""
        return self.profiles[self.profile[index], start:stop].T * self.electricity_kwh[index]

    def pv(self, start: int, stop: int, index: np.ndarray | slice = slice(None)) -> np.ndarray:
        """PV generation [kWh per step], shape (steps, buildings)."""
        return self.pv_profiles[self.pv_plane[index], start:stop].T * self.pv_kwp[index]


def ev_points(buildings: Buildings, scenario: Scenario) -> tuple[np.ndarray, np.ndarray]:
    """(owner building, is_home) of each charging point: a seeded, stable rounding of the rates."""
    p = scenario.ev
    residential = np.array([u in RESIDENTIAL for u in buildings.use])
    heated_nonres = np.where(~residential, buildings.heated_area_m2, 0.0)
    expected = np.where(
        residential,
        buildings.dwellings * p.points_per_dwelling,
        heated_nonres / 1000.0 * p.points_per_1000m2_nonresidential,
    )
    expected = np.where(np.array([u == "ancillary" for u in buildings.use]), 0.0, expected)
    draw = stable_uniform(scenario.scenario.seed, "ev-points", buildings.keys)
    count = np.floor(expected).astype(int) + (draw < expected - np.floor(expected))
    owner = np.repeat(np.arange(len(buildings)), count)
    return owner, residential[owner]


def ev_sessions(home: np.ndarray, scenario: Scenario, calendar: loads.Calendar) -> Sessions:
    """SYNTHETIC sessions for the points (home or workplace), seeded by the scenario."""
    p = scenario.ev
    days = calendar.steps // loads.STEPS_PER_DAY
    m = len(home)
    rng = np.random.default_rng(scenario.scenario.seed)
    weekday = calendar.day_type[:: loads.STEPS_PER_DAY] == 0
    home_energy = p.km_per_year * p.kwh_per_km / (52.0 * max(p.home_sessions_per_week, 1e-9))
    points, arrive, depart, energy = [], [], [], []
    for index in range(m):
        if home[index]:
            days_with = rng.random(days) < p.home_sessions_per_week / 7.0
            a = p.home_arrival_h + p.spread_h * rng.standard_normal(days)
            d = 24.0 + p.home_departure_h + p.spread_h * rng.standard_normal(days)
            e = home_energy * np.clip(1.0 + 0.3 * rng.standard_normal(days), 0.3, 2.0)
        else:
            days_with = weekday.copy()
            a = p.work_arrival_h + p.spread_h * rng.standard_normal(days)
            d = p.work_departure_h + p.spread_h * rng.standard_normal(days)
            e = p.work_kwh_per_session * np.clip(1.0 + 0.3 * rng.standard_normal(days), 0.3, 2.0)
        day = np.arange(days)
        start = np.clip(np.round((day * 24 + a) * 4).astype(int), 0, calendar.steps - 1)
        stop = np.clip(np.round((day * 24 + d) * 4).astype(int), 0, calendar.steps)
        keep = days_with & (stop - start >= 4)
        start, stop, e = start[keep], stop[keep], e[keep]
        # A session never starts before the previous one at the same point has left.
        last = -1
        for s, t, kwh in zip(start, stop, e, strict=True):
            if s < last:
                continue
            cap = p.power_kw * DT_H * (t - s) * 0.9
            points.append(index)
            arrive.append(s)
            depart.append(t)
            energy.append(min(kwh, cap))
            last = t
    order = (
        np.lexsort((np.array(points, dtype=int), np.array(arrive, dtype=int)))
        if points
        else np.array([], int)
    )
    return Sessions(
        np.array(points, dtype=int)[order],
        np.array(arrive, dtype=int)[order],
        np.array(depart, dtype=int)[order],
        np.array(energy, dtype=float)[order],
    )


def co2_signal(scenario: Scenario, steps: int) -> np.ndarray:
    """Grid CO2 [kg/kWh] per step: the constant factor, or the hourly CSV signal held per hour."""
    g = scenario.grid
    if not g.co2_signal_csv:
        return np.full(steps, g.co2_g_per_kwh / 1000.0)
    path = Path(g.co2_signal_csv)
    try:
        with path.open(encoding="utf-8", newline="") as handle:
            values = [float(row["co2_g_per_kwh"]) for row in csv.DictReader(handle)]
    except (OSError, KeyError, ValueError) as exc:
        raise ValueError(
            f"grid.co2_signal_csv: cannot read an hourly `co2_g_per_kwh` column from {path}: {exc}"
        ) from None
    if len(values) * 4 < steps:
        raise ValueError(f"grid.co2_signal_csv: {path} has {len(values)} hours, {steps // 4} needed")
    return to_steps(np.array(values[: steps // 4])) / 1000.0


def equip(
    buildings: Buildings,
    need: Demand,
    scenario: Scenario,
    weather: Weather,
    calendar: loads.Calendar,
    pv_model: PVModel,
) -> Plant:
    """The plant of the scenario on the district: who has what, how big, on which profiles."""
    n, steps = len(buildings), calendar.steps
    seed = scenario.scenario.seed
    keys = buildings.keys
    pvp, bp, hp, gp = scenario.pv, scenario.battery, scenario.heat_pump, scenario.grid
    # PV: on adopting roofs whose usable area carries at least `min_kwp`.
    usable = np.where(
        np.array([r == "flat" for r in buildings.roof_type]),
        buildings.roof_area_m2 * pvp.usable_share_flat,
        buildings.roof_area_m2 / 2.0 * pvp.usable_share_pitched,
    )
    buildings.pv_area_m2 = usable
    kwp = usable * pvp.kwp_per_m2
    adopt_pv = (stable_uniform(seed, "pv", keys) < pvp.adoption) & (kwp >= pvp.min_kwp)
    kwp = np.where(adopt_pv, kwp, 0.0)
    planes: dict[tuple[float, float, str], int] = {}
    plane = np.zeros(n, dtype=int)
    for i in range(n):
        if buildings.roof_type[i] == "flat":
            key = (pvp.flat_tilt_deg, 180.0, "rack")
        else:
            key = (scenario.buildings.roof_pitch_deg, float(buildings.pv_azimuth[i]), "roof")
        plane[i] = planes.setdefault(key, len(planes))
    pv_profiles = np.zeros((max(len(planes), 1), steps))
    for (tilt, azimuth, mount), index in planes.items():
        pv_profiles[index] = pv_model.steps(tilt, azimuth, mount)[:steps]
    # Batteries: on adopting PV buildings.
    adopt_battery = adopt_pv & (stable_uniform(seed, "battery", keys) < bp.adoption)
    battery = np.where(adopt_battery, np.minimum(kwp * bp.kwh_per_kwp, bp.max_kwh), 0.0)
    eta = np.sqrt(bp.round_trip_efficiency)
    quarter_eta = np.sqrt(bp.quarter_round_trip_efficiency)
    # Heat: shapes over the year; heat pumps on adopting heated buildings.
    shape = to_steps(loads.heating_shape(weather))[:steps] / 4.0
    shape = shape / shape.sum()
    water_shape = np.full(steps, 1.0 / steps)
    heated = (need.space_heat_kwh + need.hot_water_kwh) > 0
    adopt_hp = heated & (stable_uniform(seed, "heat-pump", keys) < hp.adoption)
    peak = need.space_heat_kwh * shape.max() + need.hot_water_kwh * water_shape.max()
    hp_max = np.where(adopt_hp, peak * hp.sizing_factor, 0.0)
    hp_kw = hp_max / DT_H
    buffer = hp_kw * hp.buffer_litres_per_kw * hp.buffer_delta_k * WATER_KWH_PER_L_K
    storage = np.where(adopt_hp, buffer + need.heat_capacity_kwh_per_k * hp.comfort_band_k, 0.0)
    ages = list(loads.AGE_CLASSES)
    floor = np.array([ages.index(a) >= ages.index(hp.floor_heating_from_age) for a in buildings.age_class])
    outdoor = to_steps(weather.temperature)[:steps]
    cop_space = np.stack(
        [
            cop(sink_temperature(outdoor, False), outdoor, hp.cop_correction),
            cop(sink_temperature(outdoor, True), outdoor, hp.cop_correction),
        ]
    )
    cop_water = cop(hp.hot_water_sink_c, outdoor, hp.cop_correction)
    # EV charging points and their sessions.
    owner, home = ev_points(buildings, scenario)
    sessions = ev_sessions(home, scenario, calendar)
    profiles = np.stack(
        [
            loads.slp_profile(name, calendar.year, calendar.region, calendar.time_zone)[:steps]
            for name in PROFILES
        ]
    )
    profiles = profiles / profiles.sum(axis=1, keepdims=True)
    return Plant(
        keys=list(keys),
        steps=steps,
        electricity_kwh=need.electricity_kwh.copy(),
        profile=need.profile.copy(),
        profiles=profiles,
        pv_kwp=kwp,
        pv_plane=plane,
        pv_profiles=pv_profiles,
        space_heat_kwh=need.space_heat_kwh.copy(),
        hot_water_kwh=need.hot_water_kwh.copy(),
        heat_shape=shape,
        hot_water_shape=water_shape,
        boiler_efficiency=scenario.buildings.boiler_efficiency,
        heat_pump=adopt_hp,
        hp_max_kwh=hp_max,
        storage_kwh=storage,
        storage_loss=1.0 - (1.0 - hp.storage_loss_per_hour) ** DT_H,
        floor_heating=floor,
        cop_space=cop_space,
        cop_hot_water=cop_water,
        battery_kwh=battery,
        battery_step_kwh=battery * bp.c_rate * DT_H,
        eta_charge=float(eta),
        eta_discharge=float(eta),
        soc_min=bp.soc_min,
        soc_max=bp.soc_max,
        quarter_kwh=bp.quarter_kwh,
        quarter_step_kwh=bp.quarter_kwh * bp.quarter_c_rate * DT_H,
        quarter_eta_charge=float(quarter_eta),
        quarter_eta_discharge=float(quarter_eta),
        ev_owner=owner,
        ev_step_kwh=np.full(len(owner), scenario.ev.power_kw * DT_H),
        ev_smart=np.ones(len(owner), dtype=bool),
        sessions=sessions,
        co2_kg_per_kwh=co2_signal(scenario, steps),
        import_price=np.full(steps, gp.import_eur_per_kwh),
        export_price=np.full(steps, gp.export_eur_per_kwh),
        wear_cost=bp.wear_cost_eur_per_kwh,
    )
