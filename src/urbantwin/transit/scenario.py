"""Scenarios of the public-transport model: one feed and day, and changes to it (issue 17, point 3).

A scenario is a TOML file (or the same as JSON for `POST /api/transit/runs`) with these tables,
every one but `[scenario]` optional; an unknown or bad key is refused naming it:

- `[scenario]` name, title, description, `feed` (an imported feed's id), `day` (YYYY-MM-DD; default
  the feed's typical weekday);
- `[coefficients]` overrides of the model's coefficients by name (as `--set`), `"units.4" = 2`;
- `[electrify]` `lines` (bus lines run with battery buses instead of diesel ones), `reserve_factor`
  (battery size = longest vehicle day's km × kWh/km × this), `charging_loss_share` (of the energy
  drawn at the depot, lost in charger and battery), `charging_start` and `charging_hours` (the
  night window the depot charges in, hours of the service day);
- `[pv]` `depots` × `depot_kwp` and `stop_roofs` × `stop_roof_kwp` with their tilt and azimuth,
  simulated with the energy quarter's PV model where the city profile says the city lies;
- `[driving]` `recuperation_share` per vehicle type (`{ tram = 0.35 }`), and `saving_share` of an
  energy-saving driving style on the traction energy of `vehicles` (default all);
- `[[timetable]]` `line`, `from`, `to` (HH:MM of the service day, `24:00` allowed) and `headway_min`:
  the line's runs starting in the window scaled (per direction) from the feed's headway there to
  this one.

The model itself (`energy.compute`) is unchanged: electrification and driving become coefficient
overrides, the timetable a per-trip scale; battery sizing, depot charging and PV are computed
here on its per-trip and hourly results.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from urbantwin.energy.pv import PVModel
from urbantwin.energy.weather import Weather, region4
from urbantwin.errors import BadRequest
from urbantwin.transit.energy import ELECTRIC, VEHICLE_TYPES, Coefficients, EnergyResult, FeedTables, compute

#: Defaults of the scenario parameters (documented in docs/transit.md, all assumptions to be set).
RESERVE_FACTOR = 1.3
CHARGING_LOSS_SHARE = 0.1
CHARGING_START = 22
CHARGING_HOURS = 8
DEPOT_TILT, DEPOT_AZIMUTH = 10.0, 180.0
STOP_TILT, STOP_AZIMUTH = 5.0, 180.0

_TABLES: dict[str, set[str]] = {
    "scenario": {"name", "title", "description", "feed", "day"},
    "coefficients": set(),  # any coefficient name, checked by the model
    "electrify": {
        "lines",
        "reserve_factor",
        "charging_loss_share",
        "charging_start",
        "charging_hours",
        "vehicle_day_km",
    },
    "pv": {
        "depots",
        "depot_kwp",
        "depot_tilt",
        "depot_azimuth",
        "stop_roofs",
        "stop_roof_kwp",
        "stop_tilt",
        "stop_azimuth",
    },
    "driving": {"recuperation_share", "saving_share", "vehicles"},
    "prices": {"electricity_eur_per_kwh", "diesel_eur_per_l"},
    "timetable": {"line", "from", "to", "headway_min"},
}


def _bad(key: str, problem: str) -> BadRequest:
    return BadRequest(f"{key}: {problem}")


def _number(key: str, raw: Any, low: float = 0.0, high: float = math.inf, below: bool = False) -> float:
    if isinstance(raw, bool) or not isinstance(raw, int | float) or not math.isfinite(raw):
        raise _bad(key, f"expected a number, got {raw!r}")
    value = float(raw)
    if value < low or value > high or (below and value >= high):
        upper = f"below {high:g}" if below else f"at most {high:g}"
        raise _bad(key, f"expected a number of at least {low:g} and {upper}, got {raw!r}")
    return value


def _clock(key: str, raw: Any) -> int:
    """Seconds of the service day of `HH:MM` (hours may pass 24)."""
    hours, sep, minutes = str(raw).partition(":")
    if not (isinstance(raw, str) and sep and hours.isdigit() and minutes.isdigit() and int(minutes) < 60):
        raise _bad(key, f"expected a time HH:MM of the service day, e.g. 20:00 or 24:00, got {raw!r}")
    return int(hours) * 3600 + int(minutes) * 60


@dataclass(frozen=True)
class HeadwayChange:
    line: str
    start: int
    end: int
    headway_min: float


@dataclass(frozen=True)
class Scenario:
    """A checked scenario (see the module doc)."""

    name: str
    feed: str
    title: str = ""
    description: str = ""
    day: str | None = None
    coefficients: dict[str, Any] = field(default_factory=dict)
    electrify: tuple[str, ...] = ()
    reserve_factor: float = RESERVE_FACTOR
    #: The longest vehicle day (km) when given; else from the feed's blocks (or its longest trip).
    vehicle_day_km: float | None = None
    charging_loss_share: float = CHARGING_LOSS_SHARE
    charging_start: int = CHARGING_START
    charging_hours: int = CHARGING_HOURS
    #: (count, kWp each, tilt, azimuth) of depot roofs and of stop roofs.
    depots: tuple[int, float, float, float] = (0, 0.0, DEPOT_TILT, DEPOT_AZIMUTH)
    stop_roofs: tuple[int, float, float, float] = (0, 0.0, STOP_TILT, STOP_AZIMUTH)
    recuperation: dict[str, float] = field(default_factory=dict)
    saving_share: float = 0.0
    saving_vehicles: tuple[str, ...] = VEHICLE_TYPES
    electricity_eur_per_kwh: float | None = None
    diesel_eur_per_l: float | None = None
    timetable: tuple[HeadwayChange, ...] = ()
    #: The tables as given, stored with the run.
    document: dict[str, Any] = field(default_factory=dict)

    @property
    def pv_kwp(self) -> float:
        return self.depots[0] * self.depots[1] + self.stop_roofs[0] * self.stop_roofs[1]

    def overrides(self, base: Coefficients) -> dict[str, Any]:
        """The coefficient overrides of the scenario: its own, electrified lines, recuperation and
        the driving-style saving on the gross traction coefficients."""
        out: dict[str, Any] = dict(self.coefficients)
        for line in self.electrify:
            out[f"vehicle.{line}"] = "battery_bus"
        for vehicle, share in self.recuperation.items():
            out[f"{vehicle}.recuperation_share"] = share
        if self.saving_share:
            checked = base.with_overrides(out)
            for vehicle in self.saving_vehicles:
                if vehicle == "diesel_bus":
                    key = "diesel_bus.l_per_100km"
                else:
                    key = (
                        f"{vehicle}.kwh_per_vkm"
                        if vehicle in ("tram", "light_rail")
                        else f"{vehicle}.kwh_per_km"
                    )
                out[key] = checked.value(key) * (1.0 - self.saving_share)
        return out


def load(path: Path | str) -> Scenario:
    """A scenario TOML file; a 400 naming the file and the bad key."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise BadRequest(f"scenario file {path}: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise BadRequest(f"scenario file {path}: not TOML: {exc}") from None
    try:
        return parse(data)
    except BadRequest as exc:
        raise BadRequest(f"scenario file {path}: {exc.message}") from None


def parse(data: Any) -> Scenario:
    """A `Scenario` of the tables of a TOML file or a JSON body; a 400 naming the first bad key."""
    if not isinstance(data, dict):
        raise BadRequest("a scenario is an object (a TOML file) with at least [scenario] feed")
    unknown = sorted(set(data) - set(_TABLES))
    if unknown:
        raise _bad(unknown[0], f"unknown table (known: {', '.join(_TABLES)})")
    for table, value in data.items():
        if table == "timetable":
            if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
                raise _bad(
                    "timetable", "expected a list of tables [[timetable]] with line, from, to, headway_min"
                )
            entries = [(f"timetable[{n}]", v) for n, v in enumerate(value)]
        elif not isinstance(value, dict):
            raise _bad(table, f"expected a table, got {value!r}")
        else:
            entries = [(table, value)]
        if table == "coefficients":
            continue
        for name, entry in entries:
            extra = sorted(set(entry) - _TABLES[table])
            if extra:
                raise _bad(f"{name}.{extra[0]}", f"unknown key (known: {', '.join(sorted(_TABLES[table]))})")
    head = data.get("scenario") or {}
    feed = head.get("feed")
    if not isinstance(feed, str) or not feed:
        raise _bad("scenario.feed", "required, the id of an imported feed (urbantwin import gtfs)")
    name = head.get("name", feed)
    if not isinstance(name, str) or not name:
        raise _bad("scenario.name", f"expected a text, got {name!r}")
    for key in ("title", "description"):
        if not isinstance(head.get(key, ""), str):
            raise _bad(f"scenario.{key}", f"expected a text, got {head[key]!r}")
    day = head.get("day")
    if isinstance(day, date):
        day = day.isoformat()
    if day is not None and not isinstance(day, str):
        raise _bad("scenario.day", f"expected a date YYYY-MM-DD, got {day!r}")
    values: dict[str, Any] = {}
    electrify = data.get("electrify") or {}
    if electrify:
        lines = electrify.get("lines")
        if not isinstance(lines, list) or not lines or not all(isinstance(x, str | int) for x in lines):
            raise _bad("electrify.lines", f'expected a list of line names, e.g. ["30", "33"], got {lines!r}')
        values["electrify"] = tuple(str(x) for x in lines)
        if "reserve_factor" in electrify:
            values["reserve_factor"] = _number(
                "electrify.reserve_factor", electrify["reserve_factor"], 1.0, 3.0
            )
        if "charging_loss_share" in electrify:
            values["charging_loss_share"] = _number(
                "electrify.charging_loss_share", electrify["charging_loss_share"], 0.0, 1.0, below=True
            )
        if "vehicle_day_km" in electrify:
            values["vehicle_day_km"] = _number(
                "electrify.vehicle_day_km", electrify["vehicle_day_km"], 1.0, 2000.0
            )
        if "charging_start" in electrify:
            values["charging_start"] = int(
                _number("electrify.charging_start", electrify["charging_start"], 0, 36)
            )
        if "charging_hours" in electrify:
            values["charging_hours"] = int(
                _number("electrify.charging_hours", electrify["charging_hours"], 1, 12)
            )
    pv = data.get("pv") or {}
    for kind, default_tilt, default_azimuth in (
        ("depot", DEPOT_TILT, DEPOT_AZIMUTH),
        ("stop", STOP_TILT, STOP_AZIMUTH),
    ):
        count_key, kwp_key = ("depots", "depot_kwp") if kind == "depot" else ("stop_roofs", "stop_roof_kwp")
        count = _number(f"pv.{count_key}", pv.get(count_key, 0), 0, 100_000)
        if count != int(count):
            raise _bad(f"pv.{count_key}", f"expected a whole number, got {pv[count_key]!r}")
        kwp = _number(f"pv.{kwp_key}", pv.get(kwp_key, 0.0), 0.0, 100_000.0)
        if count and not kwp:
            raise _bad(f"pv.{kwp_key}", f"required with pv.{count_key}: the kWp of each")
        tilt = _number(f"pv.{kind}_tilt", pv.get(f"{kind}_tilt", default_tilt), 0.0, 90.0)
        azimuth = _number(f"pv.{kind}_azimuth", pv.get(f"{kind}_azimuth", default_azimuth), 0.0, 360.0)
        values["depots" if kind == "depot" else "stop_roofs"] = (int(count), kwp, tilt, azimuth)
    driving = data.get("driving") or {}
    recuperation = driving.get("recuperation_share", {})
    if not isinstance(recuperation, dict):
        raise _bad(
            "driving.recuperation_share", "expected a table of vehicle type = share, e.g. { tram = 0.35 }"
        )
    for vehicle, share in recuperation.items():
        if vehicle not in ELECTRIC:
            raise _bad(
                f"driving.recuperation_share.{vehicle}",
                f"not an electric vehicle type ({', '.join(ELECTRIC)})",
            )
        _number(f"driving.recuperation_share.{vehicle}", share, 0.0, 1.0, below=True)
    values["recuperation"] = {k: float(v) for k, v in recuperation.items()}
    if "saving_share" in driving:
        values["saving_share"] = _number(
            "driving.saving_share", driving["saving_share"], 0.0, 1.0, below=True
        )
    if "vehicles" in driving:
        chosen = driving["vehicles"]
        if not isinstance(chosen, list) or not chosen or any(v not in VEHICLE_TYPES for v in chosen):
            raise _bad("driving.vehicles", f"expected a list of {', '.join(VEHICLE_TYPES)}, got {chosen!r}")
        values["saving_vehicles"] = tuple(chosen)
    prices = data.get("prices") or {}
    for key in ("electricity_eur_per_kwh", "diesel_eur_per_l"):
        if key in prices:
            values[key] = _number(f"prices.{key}", prices[key], 0.0, 100.0)
    changes = []
    for n, entry in enumerate(data.get("timetable") or []):
        key = f"timetable[{n}]"
        line = entry.get("line")
        if not isinstance(line, str | int) or isinstance(line, bool) or str(line) == "":
            raise _bad(f"{key}.line", f"required, a line name, got {line!r}")
        start, end = _clock(f"{key}.from", entry.get("from")), _clock(f"{key}.to", entry.get("to"))
        if end <= start:
            raise _bad(f"{key}.to", f"{entry['to']} is not after from {entry['from']}")
        if "headway_min" not in entry:
            raise _bad(f"{key}.headway_min", "required, the new headway in minutes")
        headway = _number(f"{key}.headway_min", entry["headway_min"], 0.5, 240.0)
        changes.append(HeadwayChange(str(line), start, end, headway))
    values["timetable"] = tuple(changes)
    coefficients = data.get("coefficients") or {}
    return Scenario(
        name=name,
        feed=feed,
        title=head.get("title", "") or name,
        description=head.get("description", ""),
        day=day,
        coefficients=dict(coefficients),
        document=_plain(data),
        **values,
    )


def _plain(value: Any) -> Any:
    """The tables as JSON (TOML dates as text)."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, date):
        return value.isoformat()
    return value


# --- applying a scenario -----------------------------------------------------------------------


def line_names(routes: pd.DataFrame) -> pd.Series:
    return routes["short_name"].where(routes["short_name"] != "", routes["route_id"])


def _routes_of(routes: pd.DataFrame, key: str, line: str) -> pd.DataFrame:
    """The routes of a line name (every route of that short name, as the model's per-line settings
    take it) or of a route_id; a 400 naming `key` for none."""
    found = routes[routes["route_id"] == line]
    if found.empty:
        found = routes[line_names(routes) == line]
    if found.empty:
        raise _bad(key, f"the feed has no line {line!r}")
    return found


def scaled_trips(tables: FeedTables, changes: tuple[HeadwayChange, ...]) -> pd.DataFrame:
    """The feed's trips with a `scale` per trip for the headway changes: the runs of a line that
    start in a window are scaled, per direction, by (window ÷ new headway) ÷ runs there on the day
    (frequency-based trips of changed lines are split into one trip per departure first)."""
    trips = tables.trips.copy()
    trips["scale"] = 1.0
    if not changes:
        return trips
    day = tables.period.first
    active = set(tables.days.loc[tables.days["day"] == day, "service_id"])
    for n, change in enumerate(changes):
        route_ids = set(_routes_of(tables.routes, f"timetable[{n}].line", change.line)["route_id"])
        mine = trips["route_id"].isin(route_ids)
        frequency = mine & trips["starts"].map(lambda s: isinstance(s, list) and len(s) > 0)
        if frequency.any():
            trips = pd.concat([trips[~frequency], _split(trips[frequency])], ignore_index=True)
            mine = trips["route_id"].isin(route_ids)
        window = mine & trips["service_id"].isin(active)
        window &= (trips["first_departure"] >= change.start) & (trips["first_departure"] < change.end)
        if not window.any():
            raise _bad(
                f"timetable[{n}]",
                f"line {change.line!r} has no run starting from {_hhmm(change.start)} "
                f"to {_hhmm(change.end)} on {day}",
            )
        wanted = (change.end - change.start) / (change.headway_min * 60.0)
        directions = trips.loc[window, "direction_id"].fillna(-1)
        for direction in pd.unique(directions):
            chosen = window & (trips["direction_id"].fillna(-1) == direction)
            trips.loc[chosen, "scale"] *= wanted / float(chosen.sum())
    return trips


def _split(trips: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for row in trips.to_dict("records"):
        starts = sorted(row["starts"])
        duration = row["last_arrival"] - starts[-1]
        for k, start in enumerate(starts):
            rows.append(
                {
                    **row,
                    "trip_id": f"{row['trip_id']}#{k}",
                    "starts": None,
                    "first_departure": start,
                    "last_arrival": start + duration,
                }
            )
    return pd.DataFrame(rows, columns=trips.columns)


def _hhmm(seconds: int) -> str:
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}"


@dataclass
class Outcome:
    """A scenario's result: the model's, and what the scenario adds (batteries, charging, PV)."""

    result: EnergyResult
    kpis: dict[str, Any]


def _try_rows(day: date, hours: int) -> np.ndarray:
    """The TRY hour (row of 8,760) of each hour of `day`'s service day (as `energy.temperatures`)."""
    rows = np.empty(hours, dtype=np.int64)
    for h in range(hours):
        moment = day + timedelta(h // 24)
        dom = min(moment.day, 28) if moment.month == 2 else moment.day
        rows[h] = (date(2023, moment.month, dom) - date(2023, 1, 1)).days * 24 + h % 24
    return rows


def run(
    scenario: Scenario,
    tables: FeedTables,
    base: Coefficients,
    site: tuple[float, float, float] | None,
    weather: Weather | None = None,
) -> Outcome:
    """The scenario on a feed's tables for one day: the model with the scenario's overrides and
    timetable, then battery sizes, depot charging and PV against the electric load hour by hour."""
    weather = weather or region4()
    if tables.period.first != tables.period.last:
        raise _bad("scenario.day", "a scenario runs on one day")
    routes = tables.routes
    for line in scenario.electrify:
        for mode in _routes_of(routes, "electrify.lines", line)["mode"]:
            if mode != "bus":
                raise _bad("electrify.lines", f"line {line!r} is a {mode} line, not a bus line")
    try:
        coefficients = base.with_overrides(scenario.overrides(base))
    except BadRequest as exc:
        raise BadRequest(f"coefficients: {exc.message}") from None
    trips = scaled_trips(tables, scenario.timetable)
    result = compute(tables.feed_id, routes, trips, tables.days, tables.period, coefficients, weather)
    lines = result.lines
    kinds = lines["vehicle_type"].fillna("")
    # hours of the service day: to its last run, or to the end of the night's charging
    hours = max(24, result.hours, scenario.charging_start + scenario.charging_hours)

    def pad(values: np.ndarray) -> np.ndarray:
        out = np.zeros(hours)
        out[: len(values)] = values
        return out

    electric_rows = kinds.isin(["tram", "light_rail", "trolleybus"]).to_numpy()
    battery_rows = (kinds == "battery_bus").to_numpy()
    # tram, light rail and trolleybus draw in the hour they run
    network = pad(result.hourly_energy_kwh[electric_rows].sum(axis=0))
    battery_kwh = float(lines.loc[battery_rows, "energy_kwh"].sum())
    loss = scenario.charging_loss_share
    charging_kwh = battery_kwh / (1.0 - loss) if battery_kwh else 0.0
    charging = np.zeros(hours)
    window = np.arange(scenario.charging_start, scenario.charging_start + scenario.charging_hours)
    charging[window[window < hours]] = charging_kwh / scenario.charging_hours
    load = network + charging

    pv = np.zeros(hours)
    if scenario.pv_kwp:
        if site is None:
            raise _bad(
                "pv",
                "the PV model needs where the city lies: give the city profile a site or an extent "
                "(urbantwin city init)",
            )
        model = PVModel(weather, site=(site[0], site[1], site[2]))
        rows = _try_rows(tables.period.first, hours)
        for count, kwp, tilt, azimuth in (scenario.depots, scenario.stop_roofs):
            if count and kwp:
                pv += count * kwp * model.hourly(tilt, azimuth, "rack")[rows]
    self_used = np.minimum(pv, load)
    c = coefficients
    green = c.value("grid.green_share")
    grid_kg = (
        (1.0 - green) * c.value("grid.co2_g_per_kwh") + green * c.value("grid.green_co2_g_per_kwh")
    ) / 1000
    totals = result.totals()
    losses_kwh = charging_kwh - battery_kwh
    grid_kwh = float(load.sum() - self_used.sum())
    co2_saved = float(self_used.sum()) * grid_kg
    co2_wtw = totals["co2_wtw_kg"] + losses_kwh * grid_kg - co2_saved
    kpis: dict[str, Any] = {
        "feed": tables.feed_id,
        "day": str(tables.period.first),
        "runs": totals["runs"],
        "vehicle_km": totals["vehicle_km"],
        "electric_kwh": totals["energy_kwh"],
        "battery_bus_kwh": round(battery_kwh, 3),
        "depot_charging_kwh": round(charging_kwh, 3),
        "charging_losses_kwh": round(losses_kwh, 3),
        "grid_kwh": round(grid_kwh, 3),
        "diesel_l": totals["diesel_l"],
        "final_energy_kwh": round(totals["final_energy_kwh"] + losses_kwh, 3),
        "co2_ttw_kg": totals["co2_ttw_kg"],
        "co2_wtw_kg": round(co2_wtw, 3),
        "pv_kwp": round(scenario.pv_kwp, 3),
        "pv_kwh": round(float(pv.sum()), 3),
        "pv_self_consumed_kwh": round(float(self_used.sum()), 3),
        "pv_self_consumption_share": round(float(self_used.sum() / pv.sum()), 4) if pv.sum() else None,
        "pv_co2_saved_kg": round(co2_saved, 3),
        "electrified_lines": list(scenario.electrify),
        "batteries": batteries(scenario, tables, trips, result),
        "hourly": {
            "electric_load_kwh": [round(float(v), 3) for v in load],
            "pv_kwh": [round(float(v), 3) for v in pv],
        },
    }
    cost = None
    if scenario.electricity_eur_per_kwh is not None or scenario.diesel_eur_per_l is not None:
        cost = grid_kwh * (scenario.electricity_eur_per_kwh or 0.0) + totals["diesel_l"] * (
            scenario.diesel_eur_per_l or 0.0
        )
    kpis["cost_eur"] = None if cost is None else round(cost, 2)
    return Outcome(result, kpis)


def batteries(
    scenario: Scenario, tables: FeedTables, trips: pd.DataFrame, result: EnergyResult
) -> dict[str, dict[str, Any]]:
    """Battery size per electrified line: its longest vehicle day (the trips of one block on the
    day, a trip alone where the feed gives no block; with the deadhead share; or
    `electrify.vehicle_day_km` when given) × the line's modelled
    kWh per vehicle-km on the day (heating and cooling included) × the reserve factor."""
    out: dict[str, dict[str, Any]] = {}
    if not scenario.electrify:
        return out
    lines = result.lines
    active = set(tables.days["service_id"])
    deadhead = result.coefficients.value("battery_bus.deadhead_share")
    for line in scenario.electrify:
        route_ids = set(_routes_of(tables.routes, "electrify.lines", line)["route_id"])
        rows = lines[lines["route_id"].isin(route_ids)]
        vehicle_km = float(rows["vehicle_km"].sum())
        if not vehicle_km:
            out[line] = {
                "vehicle_day_from": "",
                "longest_vehicle_day_km": 0.0,
                "kwh_per_km": 0.0,
                "battery_kwh": 0.0,
            }
            continue
        per_km = float(rows["energy_kwh"].sum()) / vehicle_km
        mine = trips[trips["route_id"].isin(route_ids) & trips["service_id"].isin(active)]
        runs = mine["starts"].map(lambda s: len(s) if isinstance(s, list) and s else 1)
        km = mine["distance_km"] * runs * mine["scale"]
        blocked = mine["block_id"].notna() & (mine["block_id"] != "")
        vehicle = mine["block_id"].where(blocked, mine["trip_id"])
        if scenario.vehicle_day_km is not None:
            longest, source = scenario.vehicle_day_km, "electrify.vehicle_day_km"
        else:
            longest = float(km.groupby(vehicle).sum().max()) * (1.0 + deadhead)
            source = "blocks" if blocked.all() else "blocks, and single trips where the feed gives none"
        out[line] = {
            "vehicle_day_from": source,
            "longest_vehicle_day_km": round(longest, 3),
            "kwh_per_km": round(per_km, 4),
            "battery_kwh": round(longest * per_km * scenario.reserve_factor, 1),
        }
    return out


def compare(runs: list[Mapping[str, Any]]) -> dict[str, Any]:
    """KPIs side by side: the baseline of the first run, then each run, with changes against it."""
    if not runs:
        raise BadRequest("runs: give at least one run id")
    keys = [
        "vehicle_km",
        "electric_kwh",
        "depot_charging_kwh",
        "grid_kwh",
        "diesel_l",
        "final_energy_kwh",
        "co2_ttw_kg",
        "co2_wtw_kg",
        "pv_kwh",
        "pv_self_consumed_kwh",
        "pv_co2_saved_kg",
        "cost_eur",
    ]
    baseline = runs[0]["baseline"] or {}
    columns = [
        {
            "id": "baseline",
            "title": f"baseline ({baseline.get('feed')}, {baseline.get('day')})",
            "kpis": baseline,
        }
    ]
    for row in runs:
        kpis = row["kpis"] or {}
        change = {}
        for key in keys:
            a, b = baseline.get(key), kpis.get(key)
            change[key] = None if a is None or b is None else round(b - a, 3)
        columns.append({"id": row["id"], "title": row["title"], "kpis": kpis, "change": change})
    return {"model": True, "keys": keys, "columns": columns}
