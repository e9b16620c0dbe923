"""Traction energy and CO2 of a stored GTFS feed: per trip, line, hour and vehicle type (a model).

What is counted: every run of a trip on the chosen days (a frequency-based trip once per departure)
with its distance from the import (`transit_trips.distance_km`). A run's km are spread over the
hours it runs, in proportion to the time it spends in each hour between its first departure and last
arrival; hours are those of the service day, so a run at 24:30 lands in hour 24 (00:30 of the next
calendar day), and the temperature of that hour is the next day's.

Vehicle-km = timetabled km × coupled units (a parameter per line, default 1) × (1 + deadhead share).
Energy per vehicle type, with the coefficients of `coefficients.toml` (each overridable by name):

- tram, light rail, trolleybus: gross kWh per vehicle-km × (1 − recuperation share);
- battery bus: the same for traction, plus heating below and cooling above a temperature, per km
  and kelvin of the hour's outdoor temperature in the test reference year (`energy.weather`: DWD TRY
  2010; its day and hour are the calendar day and hour of the run; the TRY's MEZ clock is taken as
  the feed's local time);
- diesel bus: litres per 100 vehicle-km.

CO2: tank-to-wheel is the diesel burnt (electric vehicles emit nothing at the wheel); well-to-wheel
adds the fuel's supply chain and the electricity at the grid factor, or at the green-power factor for
its green share. Everything is numpy over arrays of runs × hours: a city feed's 20,000 trips a day
are a few matrix products, not a Python loop per trip.

Results are model results and say so (`"model": true` and `NOTE`).
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Connection, Engine, select

from urbantwin.access.gate import Access, Caller
from urbantwin.energy.weather import Weather, region4
from urbantwin.errors import BadRequest, NotFound
from urbantwin.store.features_schema import collections
from urbantwin.store.transit_schema import transit_feeds, transit_routes, transit_service_days, transit_trips

COEFFICIENTS = Path(__file__).parent / "coefficients.toml"
#: Vehicle types the model knows, electric ones first.
ELECTRIC = ("tram", "light_rail", "trolleybus", "battery_bus")
VEHICLE_TYPES = (*ELECTRIC, "diesel_bus")
#: The vehicle type of each mode of `transit.feed.route_mode`; buses take `bus.vehicle`. Other modes
#: (metro, rail, ferry, …) are counted in km but not modelled.
MODE_VEHICLE = {"tram": "tram", "cable_tram": "tram", "light_rail": "light_rail", "trolleybus": "trolleybus"}
#: Longest period one request computes (days).
MAX_DAYS = 366
NOTE = (
    "Modelled: vehicle-km from the timetable, energy and CO2 from sourced coefficients "
    "(docs/transit.md); not measured."
)


def _coefficient_error(name: str, problem: str) -> BadRequest:
    return BadRequest(f"coefficient {name!r}: {problem}")


@dataclass(frozen=True)
class Parameter:
    """One coefficient: its value, unit, meaning and source."""

    name: str
    value: float | str
    unit: str
    meaning: str
    source: str
    overridden: bool = False

    def document(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "value": self.value,
            "unit": self.unit,
            "meaning": self.meaning,
            "source": self.source,
            "overridden": self.overridden,
        }


@dataclass(frozen=True)
class Coefficients:
    """The model's parameters by name, and the per-line settings (`units.<line>`, `vehicle.<line>`)."""

    parameters: Mapping[str, Parameter]
    #: Coupled units per trip of a line (route_id or short name) → count.
    units: Mapping[str, int] = field(default_factory=dict)
    #: Vehicle type of a line (route_id or short name), e.g. a bus line run with battery buses.
    vehicles: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path | str = COEFFICIENTS) -> Coefficients:
        """The coefficients of a TOML file like `coefficients.toml`."""
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        parameters: dict[str, Parameter] = {}
        for section, keys in data.items():
            for key, entry in keys.items():
                name = f"{section}.{key}"
                missing = {"value", "unit", "meaning", "source"} - set(entry)
                if missing:
                    raise ValueError(f"{path}: [{name}] lacks {', '.join(sorted(missing))}")
                parameters[name] = Parameter(
                    name, entry["value"], entry["unit"], entry["meaning"], entry["source"]
                )
        return cls(parameters)

    def value(self, name: str) -> float:
        value = self.parameters[name].value
        assert isinstance(value, int | float), name
        return float(value)

    def net_kwh_per_km(self, vehicle: str) -> float:
        """Electric traction energy per vehicle-km after recuperation (without heating or cooling)."""
        key = "kwh_per_vkm" if vehicle in ("tram", "light_rail") else "kwh_per_km"
        return self.value(f"{vehicle}.{key}") * (1.0 - self.value(f"{vehicle}.recuperation_share"))

    def with_overrides(self, overrides: Mapping[str, Any]) -> Coefficients:
        """A copy with `name → value` overrides; a 400 naming the coefficient for an unknown name or
        a bad value."""
        parameters = dict(self.parameters)
        units, vehicles = dict(self.units), dict(self.vehicles)
        for name, raw in overrides.items():
            section, _, key = name.partition(".")
            if section == "units" and key:
                units[key] = _units(name, raw)
            elif section == "vehicle" and key:
                vehicles[key] = _vehicle(name, raw, VEHICLE_TYPES)
            elif name in parameters:
                parameters[name] = replace(
                    parameters[name], value=_checked(name, parameters[name], raw), overridden=True
                )
            else:
                known = ", ".join([*sorted(parameters), "units.<line>", "vehicle.<line>"])
                raise _coefficient_error(name, f"unknown (known: {known})")
        return Coefficients(parameters, units, vehicles)

    def listing(self) -> list[dict[str, Any]]:
        return [p.document() for p in self.parameters.values()]


def _checked(name: str, parameter: Parameter, raw: Any) -> float | str:
    if name == "bus.vehicle":
        return _vehicle(name, raw, ("diesel_bus", "battery_bus"))
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise _coefficient_error(name, f"expected a number, got {raw!r}") from None
    if not math.isfinite(value):
        raise _coefficient_error(name, f"expected a finite number, got {raw!r}")
    if name.endswith("_share") and not 0.0 <= value <= 1.0:
        raise _coefficient_error(name, f"expected a share between 0 and 1, got {raw!r}")
    if not name.endswith("_c") and value < 0.0:
        raise _coefficient_error(name, f"expected a number of at least 0, got {raw!r}")
    if name.endswith(".recuperation_share") and value >= 1.0:
        raise _coefficient_error(name, f"expected a share below 1, got {raw!r}")
    return value


def _units(name: str, raw: Any) -> int:
    try:
        value = float(raw)
    except (TypeError, ValueError):
        value = math.nan
    if not (math.isfinite(value) and value == int(value) and 1 <= value <= 10):
        raise _coefficient_error(name, f"expected a whole number of coupled units from 1 to 10, got {raw!r}")
    return int(value)


def _vehicle(name: str, raw: Any, allowed: Iterable[str]) -> str:
    if raw not in tuple(allowed):
        raise _coefficient_error(name, f"expected one of {', '.join(allowed)}, got {raw!r}")
    return str(raw)


def parse_set(items: Iterable[str]) -> dict[str, str]:
    """`name=value` texts (`--set`, the API's `set=`) into overrides; a 400 for one without `=`."""
    out: dict[str, str] = {}
    for text in items:
        name, sep, value = text.partition("=")
        if not sep or not name.strip():
            raise BadRequest(f"set {text!r}: expected name=value, e.g. tram.kwh_per_vkm=5.2")
        out[name.strip()] = value.strip()
    return out


# --- the period --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    """The days computed (first to last, inclusive) and how they were asked for."""

    first: date
    last: date
    label: str

    @property
    def days(self) -> list[date]:
        return [self.first + timedelta(n) for n in range((self.last - self.first).days + 1)]


def _date(name: str, text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise BadRequest(f"{name}: expected a date YYYY-MM-DD, got {text!r}") from None


def period(
    summary: Mapping[str, Any], day: str | None = None, until: str | None = None, weekday: bool = False
) -> Period:
    """The days asked for: `day` (to `until`), or the feed's typical weekday (also when nothing is
    asked); a 400 naming the parameter for a bad date or a range too long."""
    if weekday or day is None:
        if until is not None and day is None:
            raise BadRequest("until: needs day (the first day of the range)")
        if weekday and day is not None:
            raise BadRequest("day and weekday: give one of them")
        typical = summary.get("typical_weekday")
        if not typical:
            raise BadRequest("weekday: the feed has no weekday with service; give a day")
        first = date.fromisoformat(typical)
        return Period(first, first, f"typical weekday {typical}")
    first = _date("day", day)
    last = _date("until", until) if until is not None else first
    if last < first:
        raise BadRequest(f"until: {last} is before day {first}")
    if (last - first).days + 1 > MAX_DAYS:
        raise BadRequest(f"until: at most {MAX_DAYS} days at a time, got {(last - first).days + 1}")
    return Period(first, last, str(first) if last == first else f"{first} to {last}")


# --- the model ---------------------------------------------------------------------------------


@dataclass
class EnergyResult:
    """The model's answer for one feed and period: per line (with hourly profiles), per trip and per
    vehicle type. Hour `h` of a profile is hour `h` of the service day, summed over the days."""

    feed_id: str
    period: Period
    #: Days of the period on which the feed runs any service.
    service_days: int
    hours: int
    #: One row per line: route_id, line, name, mode, vehicle_type, units, runs, trip_km, vehicle_km,
    #: deadhead_km, energy_kwh (electric, net), recuperated_kwh, heating_cooling_kwh, diesel_l,
    #: final_energy_kwh, co2_ttw_kg, co2_wtw_kg
    lines: pd.DataFrame
    #: Per line (same order): vehicle-km, final energy (kWh) and CO2 well-to-wheel (kg) per hour.
    hourly_vehicle_km: np.ndarray
    hourly_energy_kwh: np.ndarray
    hourly_co2_wtw_kg: np.ndarray
    #: One row per trip: trip_id, route_id, runs, trip_km, vehicle_km, energy_kwh, diesel_l, co2_wtw_kg
    trips: pd.DataFrame
    coefficients: Coefficients
    weather: str

    def by_vehicle_type(self) -> pd.DataFrame:
        """Totals per vehicle type (lines of modes the model does not know under `not modelled`)."""
        columns = ["runs", "trip_km", "vehicle_km", "energy_kwh", "diesel_l", "final_energy_kwh"]
        columns += ["co2_ttw_kg", "co2_wtw_kg"]
        kind = self.lines["vehicle_type"].fillna("not modelled")
        return self.lines.groupby(kind)[columns].sum().rename_axis("vehicle_type")

    def totals(self) -> dict[str, float]:
        columns = ["runs", "trip_km", "vehicle_km", "energy_kwh", "recuperated_kwh", "diesel_l"]
        columns += ["final_energy_kwh", "co2_ttw_kg", "co2_wtw_kg"]
        return {c: _round(self.lines[c].sum()) for c in columns}

    def hours_table(self) -> pd.DataFrame:
        """One row per line and hour of the service day: vehicle-km, final energy, CO2 well-to-wheel."""
        n_lines = len(self.lines)
        return pd.DataFrame(
            {
                "route_id": np.repeat(self.lines["route_id"].to_numpy(), self.hours),
                "line": np.repeat(self.lines["line"].to_numpy(), self.hours),
                "hour": np.tile(np.arange(self.hours), n_lines),
                "vehicle_km": self.hourly_vehicle_km.ravel(),
                "final_energy_kwh": self.hourly_energy_kwh.ravel(),
                "co2_wtw_kg": self.hourly_co2_wtw_kg.ravel(),
            }
        )

    def write_csv(self, folder: Path | str) -> list[Path]:
        """lines.csv, hours.csv and trips.csv in `folder`, each row marked `model` (modelled)."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        written = []
        for name, table in (("lines", self.lines), ("hours", self.hours_table()), ("trips", self.trips)):
            path = folder / f"{name}.csv"
            table.assign(model=True).round(3).to_csv(path, index=False)
            written.append(path)
        return written

    def document(self) -> dict[str, Any]:
        """The JSON answer of the API."""
        lines = []
        for n, row in enumerate(self.lines.itertuples(index=False)):
            lines.append(
                {
                    "route_id": row.route_id,
                    "line": row.line,
                    "name": row.name,
                    "mode": row.mode,
                    "vehicle_type": row.vehicle_type,
                    "units": int(row.units),
                    "runs": int(row.runs),
                    "trip_km": _round(row.trip_km),
                    "vehicle_km": _round(row.vehicle_km),
                    "deadhead_km": _round(row.deadhead_km),
                    "energy_kwh": _round(row.energy_kwh),
                    "recuperated_kwh": _round(row.recuperated_kwh),
                    "heating_cooling_kwh": _round(row.heating_cooling_kwh),
                    "diesel_l": _round(row.diesel_l),
                    "final_energy_kwh": _round(row.final_energy_kwh),
                    "co2_ttw_kg": _round(row.co2_ttw_kg),
                    "co2_wtw_kg": _round(row.co2_wtw_kg),
                    "hourly": {
                        "vehicle_km": [_round(v) for v in self.hourly_vehicle_km[n]],
                        "final_energy_kwh": [_round(v) for v in self.hourly_energy_kwh[n]],
                        "co2_wtw_kg": [_round(v) for v in self.hourly_co2_wtw_kg[n]],
                    },
                }
            )
        types = self.by_vehicle_type()
        return {
            "feed": self.feed_id,
            "model": True,
            "note": NOTE,
            "period": {
                "first": str(self.period.first),
                "last": str(self.period.last),
                "label": self.period.label,
                "service_days": self.service_days,
            },
            "hours": self.hours,
            "weather": self.weather,
            "totals": self.totals(),
            "vehicle_types": [
                {"vehicle_type": kind, **{c: _round(v) for c, v in row.items()}}
                for kind, row in types.to_dict("index").items()
            ],
            "lines": lines,
            "coefficients": self.coefficients.listing(),
            "line_settings": {
                "units": dict(self.coefficients.units),
                "vehicle": dict(self.coefficients.vehicles),
            },
        }


def _frame(rows: Sequence[Sequence[Any]], columns: list[str]) -> pd.DataFrame:
    """The rows of a query as a DataFrame, built column by column (built from the rows themselves,
    pandas probes every row object for attributes, which costs seconds for a city's trips)."""
    values = list(zip(*rows, strict=True)) if rows else [() for _ in columns]
    return pd.DataFrame({name: list(column) for name, column in zip(columns, values, strict=True)})


def _round(value: Any) -> float:
    return round(float(value), 3)


def _runs(trips: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every run of the trips: (index of its trip, start, end) in seconds of the service day; a
    frequency-based trip (`starts`) once per departure, each as long as its template (the import
    keeps its first start as first departure and its last start's arrival as last arrival)."""
    starts = trips["starts"].tolist()
    counts = np.array([len(s) if isinstance(s, list) and s else 1 for s in starts], dtype=np.int64)
    index = np.repeat(np.arange(len(trips)), counts)
    first = trips["first_departure"].to_numpy(dtype=np.int64)
    last_start = np.array(
        [max(s) if isinstance(s, list) and s else f for s, f in zip(starts, first, strict=True)],
        dtype=np.int64,
    )
    duration = trips["last_arrival"].to_numpy(dtype=np.int64) - last_start
    begin = (
        np.concatenate(
            [
                np.asarray(s, dtype=np.int64) if isinstance(s, list) and s else first[i : i + 1]
                for i, s in enumerate(starts)
            ]
        )
        if len(trips)
        else np.zeros(0, dtype=np.int64)
    )
    return index, begin, begin + duration[index]


def hour_shares(begin: np.ndarray, end: np.ndarray, hours: int) -> np.ndarray:
    """Each run's share of its time in each hour of the service day (runs × hours, rows sum to 1);
    a run of no duration counts wholly in the hour it starts."""
    edges = np.arange(hours + 1, dtype=np.float64) * 3600.0
    b, e = begin.astype(np.float64)[:, None], end.astype(np.float64)[:, None]
    overlap = np.clip(np.minimum(e, edges[1:]) - np.maximum(b, edges[:-1]), 0.0, None)
    duration = (end - begin).astype(np.float64)
    shares = np.divide(overlap, duration[:, None], out=np.zeros_like(overlap), where=duration[:, None] > 0)
    instant = np.flatnonzero(duration <= 0)
    shares[instant, np.clip(begin[instant] // 3600, 0, hours - 1)] = 1.0
    return shares


def temperatures(days: list[date], hours: int, weather: Weather) -> np.ndarray:
    """Outdoor temperature (°C) per day and hour of its service day (days × hours) from a TRY year:
    hour h of day d is hour h % 24 of calendar day d + h // 24 (29 February as the 28th)."""
    out = np.empty((len(days), hours))
    for n, day in enumerate(days):
        for h in range(hours):
            moment = day + timedelta(h // 24)
            month, dom = moment.month, min(moment.day, 28) if moment.month == 2 else moment.day
            row = (date(2023, month, dom) - date(2023, 1, 1)).days * 24 + h % 24
            out[n, h] = weather.temperature[row]
    return out


def compute(
    feed_id: str,
    routes: pd.DataFrame,
    trips: pd.DataFrame,
    service_days: pd.DataFrame,
    when: Period,
    coefficients: Coefficients,
    weather: Weather | None = None,
) -> EnergyResult:
    """The model on a feed's tables: `routes` (route_id, short_name, long_name, mode), `trips`
    (trip_id, route_id, service_id, distance_km, first_departure, last_arrival, starts) and
    `service_days` (service_id, day) of the period; an optional `scale` column of `trips` counts
    each run of a trip that many times (a scenario's timetable change)."""
    weather = weather or region4()
    c = coefficients
    routes = routes.reset_index(drop=True)
    line_names = routes["short_name"].where(routes["short_name"] != "", routes["route_id"])
    known = set(routes["route_id"]) | set(line_names)
    for kind, settings in (("units", c.units), ("vehicle", c.vehicles)):
        for line in settings:
            if line not in known:
                raise _coefficient_error(f"{kind}.{line}", f"the feed {feed_id!r} has no line {line!r}")

    def per_line(settings: Mapping[str, Any], default: Any) -> list[Any]:
        return [
            settings.get(route_id, settings.get(name, default))
            for route_id, name in zip(routes["route_id"], line_names, strict=True)
        ]

    bus = str(c.parameters["bus.vehicle"].value)
    vehicle: list[str | None] = []
    for chosen, name, mode in zip(per_line(c.vehicles, None), line_names, routes["mode"], strict=True):
        if chosen is not None and mode not in ("bus", "trolleybus"):
            raise _coefficient_error(
                f"vehicle.{name}",
                f"line {name!r} is a {mode} line; only bus and trolleybus lines change type",
            )
        vehicle.append(chosen or MODE_VEHICLE.get(mode, bus if mode == "bus" else None))
    units = np.array(per_line(c.units, 1), dtype=np.float64)

    days = when.days
    route_code = {r: n for n, r in enumerate(routes["route_id"])}
    services = pd.Index(pd.unique(trips["service_id"]))
    day_code = {d: n for n, d in enumerate(days)}
    active = np.zeros((len(days), len(services)))
    if len(service_days):
        d_idx = service_days["day"].map(day_code)
        s_idx = services.get_indexer(service_days["service_id"])
        keep = d_idx.notna().to_numpy() & (s_idx >= 0)
        active[d_idx[keep].to_numpy(dtype=np.int64), s_idx[keep]] = 1.0
    running_days = int((active.sum(axis=1) > 0).sum())

    trip_of, begin, end = _runs(trips)
    hours = max(24, int(math.ceil(end.max() / 3600.0)) if len(end) else 24)
    shares = hour_shares(begin, end, hours)
    svc = services.get_indexer(trips["service_id"])[trip_of]
    line = trips["route_id"].map(route_code).to_numpy(dtype=np.int64)[trip_of]
    km = trips["distance_km"].to_numpy(dtype=np.float64)[trip_of]
    days_run = active.sum(axis=0)[svc]  # days each run runs in the period
    if "scale" in trips:
        # a scenario's timetable change: a trip's runs counted × scale (fewer or more of them)
        days_run = days_run * trips["scale"].to_numpy(dtype=np.float64)[trip_of]

    kind = np.array([v or "" for v in vehicle], dtype=object)[line]
    deadhead = np.zeros(len(routes))
    for n, v in enumerate(vehicle):
        if v is not None:
            deadhead[n] = c.value(f"{v}.deadhead_share")
    factor = units[line] * (1.0 + deadhead[line])
    trip_km = (km * days_run)[:, None] * shares  # runs × hours, summed over the days
    vkm = trip_km * factor[:, None]

    energy = np.zeros_like(vkm)
    recuperated = np.zeros_like(vkm)
    climate = np.zeros_like(vkm)
    litres = np.zeros_like(vkm)
    for v in ELECTRIC:
        mask = kind == v
        if not mask.any():
            continue
        key = "kwh_per_vkm" if v in ("tram", "light_rail") else "kwh_per_km"
        gross = c.value(f"{v}.{key}")
        share = c.value(f"{v}.recuperation_share")
        energy[mask] = vkm[mask] * gross * (1.0 - share)
        recuperated[mask] = vkm[mask] * gross * share
    bus_mask = kind == "battery_bus"
    if bus_mask.any():
        t = temperatures(days, hours, weather)
        surcharge = c.value("battery_bus.heating_kwh_per_km_per_k") * np.clip(
            c.value("battery_bus.heating_below_c") - t, 0.0, None
        ) + c.value("battery_bus.cooling_kwh_per_km_per_k") * np.clip(
            t - c.value("battery_bus.cooling_above_c"), 0.0, None
        )
        per_service = active.T @ surcharge  # services × hours: kWh/km summed over the days run
        climate[bus_mask] = (km * factor)[bus_mask, None] * shares[bus_mask] * per_service[svc[bus_mask]]
        energy[bus_mask] += climate[bus_mask]
    diesel = kind == "diesel_bus"
    litres[diesel] = vkm[diesel] * c.value("diesel_bus.l_per_100km") / 100.0

    green = c.value("grid.green_share")
    grid_kg = (
        (1.0 - green) * c.value("grid.co2_g_per_kwh") + green * c.value("grid.green_co2_g_per_kwh")
    ) / 1000
    ttw = litres * c.value("fuel.diesel_kg_co2e_per_l_ttw")
    wtw = litres * c.value("fuel.diesel_kg_co2e_per_l_wtw") + energy * grid_kg
    final = energy + litres * c.value("fuel.diesel_kwh_per_l")

    n_lines = len(routes)

    def by_line(values: np.ndarray) -> np.ndarray:
        out = np.zeros((n_lines, hours))
        np.add.at(out, line, values)
        return out

    hourly_vkm, hourly_final, hourly_wtw = by_line(vkm), by_line(final), by_line(wtw)
    runs_per_line = np.bincount(line, weights=days_run, minlength=n_lines)

    def total(values: np.ndarray) -> np.ndarray:
        return np.bincount(line, weights=values.sum(axis=1), minlength=n_lines)

    trip_km_line = total(trip_km)
    vkm_line = total(vkm)
    lines = pd.DataFrame(
        {
            "route_id": routes["route_id"],
            "line": line_names,
            "name": routes["long_name"],
            "mode": routes["mode"],
            "vehicle_type": vehicle,
            "units": units.astype(int),
            "runs": np.rint(runs_per_line).astype(int),
            "trip_km": trip_km_line,
            "vehicle_km": vkm_line,
            "deadhead_km": trip_km_line * units * deadhead,
            "energy_kwh": total(energy),
            "recuperated_kwh": total(recuperated),
            "heating_cooling_kwh": total(climate),
            "diesel_l": total(litres),
            "final_energy_kwh": total(final),
            "co2_ttw_kg": total(ttw),
            "co2_wtw_kg": total(wtw),
        }
    )

    def by_trip(values: np.ndarray) -> np.ndarray:
        return np.bincount(trip_of, weights=values, minlength=len(trips))

    per_trip = pd.DataFrame(
        {
            "trip_id": trips["trip_id"].to_numpy(),
            "route_id": trips["route_id"].to_numpy(),
            "runs": np.rint(by_trip(days_run)).astype(int),
            "trip_km": by_trip(trip_km.sum(axis=1)),
            "vehicle_km": by_trip(vkm.sum(axis=1)),
            "energy_kwh": by_trip(energy.sum(axis=1)),
            "diesel_l": by_trip(litres.sum(axis=1)),
            "co2_wtw_kg": by_trip(wtw.sum(axis=1)),
        }
    )
    return EnergyResult(
        feed_id,
        when,
        running_days,
        hours,
        lines,
        hourly_vkm,
        hourly_final,
        hourly_wtw,
        per_trip,
        c,
        weather.source,
    )


# --- the service -------------------------------------------------------------------------------


class TransitEnergy:
    """The energy model on the store's feeds, asked with the caller's rights: a feed is readable
    when its lines collection's dataset is (`<feed>-lines`), and every answer is counted as a read
    of that dataset."""

    def __init__(self, engine: Engine, access: Access, coefficients: Coefficients | None = None) -> None:
        self.engine = engine
        self.access = access
        self.coefficients = coefficients or Coefficients.load()

    def _datasets(self, feed_ids: list[str]) -> dict[str, str | None]:
        with self.engine.connect() as connection:
            rows = connection.execute(
                select(collections.c.id, collections.c.dataset_id).where(
                    collections.c.id.in_([f"{f}-lines" for f in feed_ids])
                )
            ).all()
        found = {row.id: row.dataset_id for row in rows}
        return {f: found.get(f"{f}-lines") for f in feed_ids}

    def feeds(self, caller: Caller) -> list[dict[str, Any]]:
        """The feeds the caller may read, with their import summary."""
        with self.engine.connect() as connection:
            rows = connection.execute(select(transit_feeds).order_by(transit_feeds.c.id)).all()
        datasets = self._datasets([row.id for row in rows])
        scope = self.access.scope(caller)
        shown = [row for row in rows if scope.allows(datasets[row.id])]
        self.access.record_read(caller, "transit", [datasets[row.id] for row in shown])
        return [
            {
                "id": row.id,
                "version": row.version,
                "source": row.source,
                "licence": row.licence,
                "title": row.title or row.id,
                "imported": row.imported.isoformat().replace("+00:00", "Z"),
                "summary": row.summary,
            }
            for row in shown
        ]

    def energy(
        self,
        caller: Caller,
        feed_id: str,
        *,
        day: str | None = None,
        until: str | None = None,
        weekday: bool = False,
        overrides: Mapping[str, Any] | None = None,
    ) -> EnergyResult:
        """The model for a feed and period; 404 for a feed unknown or not readable, 400 naming a bad
        date or coefficient."""
        coefficients = self.coefficients.with_overrides(overrides or {})
        tables = self.tables(caller, feed_id, day=day, until=until, weekday=weekday)
        return compute(feed_id, tables.routes, tables.trips, tables.days, tables.period, coefficients)

    def _feed(
        self,
        connection: Connection,
        caller: Caller,
        feed_id: str,
        day: str | None,
        until: str | None,
        weekday: bool,
    ) -> tuple[Any, str | None, Period]:
        """The feed's row, the dataset of its lines and the period asked for; 404 for a feed
        unknown or not readable, 400 naming a bad date."""
        feed = connection.execute(select(transit_feeds).where(transit_feeds.c.id == feed_id)).first()
        if feed is None:
            raise NotFound(f"no transit feed {feed_id!r}")
        dataset = self._datasets([feed_id])[feed_id]
        self.access.require_readable(caller, dataset, f"transit feed {feed_id!r}", "transit", connection)
        return feed, dataset, period(feed.summary or {}, day, until, weekday)

    def feed_period(
        self,
        caller: Caller,
        feed_id: str,
        *,
        day: str | None = None,
        until: str | None = None,
        weekday: bool = False,
    ) -> Period:
        """The days asked for of a feed the caller may read (a read of the feed); 404 for a feed
        unknown or not readable, 400 naming a bad date."""
        with self.engine.connect() as connection:
            return self._feed(connection, caller, feed_id, day, until, weekday)[2]

    def tables(
        self,
        caller: Caller,
        feed_id: str,
        *,
        day: str | None = None,
        until: str | None = None,
        weekday: bool = False,
    ) -> FeedTables:
        """What the model computes on for a feed and period (trips with their block and direction);
        404 for a feed unknown or not readable, 400 naming a bad date or a period without service."""
        with self.engine.connect() as connection:
            feed, dataset, when = self._feed(connection, caller, feed_id, day, until, weekday)
            routes = _frame(
                connection.execute(
                    select(
                        transit_routes.c.route_id,
                        transit_routes.c.short_name,
                        transit_routes.c.long_name,
                        transit_routes.c.mode,
                    )
                    .where(transit_routes.c.feed_id == feed_id)
                    .order_by(transit_routes.c.route_id)
                ).all(),
                columns=["route_id", "short_name", "long_name", "mode"],
            )
            columns = [
                "trip_id",
                "route_id",
                "service_id",
                "distance_km",
                "first_departure",
                "last_arrival",
                "starts",
                "block_id",
                "direction_id",
            ]
            trips = _frame(
                connection.execute(
                    select(*(transit_trips.c[name] for name in columns))
                    .where(transit_trips.c.feed_id == feed_id)
                    .order_by(transit_trips.c.trip_id)
                ).all(),
                columns=columns,
            )
            days = _frame(
                connection.execute(
                    select(transit_service_days.c.service_id, transit_service_days.c.day).where(
                        transit_service_days.c.feed_id == feed_id,
                        transit_service_days.c.day >= when.first,
                        transit_service_days.c.day <= when.last,
                    )
                ).all(),
                columns=["service_id", "day"],
            )
        if days.empty:
            first, last = (feed.summary or {}).get("first_day"), (feed.summary or {}).get("last_day")
            raise BadRequest(
                f"day: the feed {feed_id!r} runs no service from {when.first} to {when.last} "
                f"(its service days: {first} to {last})"
            )
        return FeedTables(feed_id, dataset, when, routes, trips, days)


@dataclass(frozen=True)
class FeedTables:
    """A feed's tables for a period, as `compute` takes them, and the dataset of its lines."""

    feed_id: str
    #: The dataset of `<feed>-lines`, whose rights the feed is read with.
    dataset: str | None
    period: Period
    routes: pd.DataFrame
    trips: pd.DataFrame
    days: pd.DataFrame
