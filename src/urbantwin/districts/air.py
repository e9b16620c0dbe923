"""Residents' exposure to air pollution per district: the population-weighted annual mean of NO2,
PM10 and PM2.5, the residents living where an annual limit value is exceeded (the exceedance map),
and both year by year (the time series). Method and assumptions: docs/airquality.md, "Districts".

**Residents** are placed as for the access to public transport (`access.place_residents`, through
`DistrictProfiles.placement`): the finest readable district collection with population, each
district's residents of the year asked on the residential floor area of its buildings, else spread
evenly over its area. The population is the city model's figure of that year; where a district has
none for it, the nearest earlier year's (else the earliest later year's), named per district.

**Concentrations** reach the residents from the stations' annual means (`AirService.annual_means`,
2008/50/EC's data capture rules; a station-year with insufficient data is left out, never filled):
inverse-distance weighting with power 2 (`idw`, the default) or the nearest station (`nearest`),
distances straight in the city's metric CRS. A resident point within `SAME_PLACE_M` of a station
takes that station's mean. No library of the field fits a handful of points better than these ten
lines of numpy (scipy's `griddata` interpolates inside the stations' convex hull only, pykrige's
kriging needs far more stations than a city has to fit its variogram).

**Access:** the stations, their Datastreams and Locations, the districts, their population and the
buildings are read through the caller's scope; what the caller may not read is left out and never
counted, so a hidden station's data cannot reach a public district figure.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import shapely

from urbantwin.access.gate import Caller
from urbantwin.airquality.service import AirService, StationMean
from urbantwin.airquality.standards import standards
from urbantwin.districts.access import Residents
from urbantwin.districts.service import API, DistrictProfiles, Placement
from urbantwin.districts.texts import PLACEMENT
from urbantwin.errors import BadRequest
from urbantwin.texts import Vocabulary

#: The pollutants with an annual limit value whose exposure is estimated.
POLLUTANTS = ("no2", "pm10", "pm25")
#: Inverse-distance weighting: weight = distance ** -IDW_POWER.
IDW_POWER = 2.0
#: A resident point this close to a station (metres) takes the station's value.
SAME_PLACE_M = 1.0
#: Most years one time series may span.
MAX_YEARS = 15
FIRST_YEAR, LAST_YEAR = 1970, 2100

METHODS = Vocabulary(
    {
        "idw": {
            "en": "inverse-distance weighting (power 2) of the stations' annual means onto the places where "
            "residents live",
            "de": "inverse Distanzgewichtung (Potenz 2) der Jahresmittel der Messstationen auf die Wohnorte "
            "der Einwohner",
        },
        "nearest": {
            "en": "the annual mean of the station nearest to each place where residents live",
            "de": "das Jahresmittel der jeweils nächsten Messstation am Wohnort der Einwohner",
        },
    },
    name="methods",
)

#: The plain-language caveat every answer carries.
CAVEAT = {
    "en": "An estimate from few stations: it shows the level of the city's background and the stations' "
    "surroundings, not the air of every street. Stations next to busy roads raise the estimate near "
    "them.",
    "de": "Eine Schätzung aus wenigen Messstationen: Sie zeigt das Niveau der städtischen "
    "Hintergrundbelastung und der Umgebung der Stationen, nicht die Luft jeder Straße. Stationen an "
    "stark befahrenen Straßen erhöhen die Schätzung in ihrer Nähe.",
}

NO_STATIONS = {
    "en": "No station with a valid annual mean of this pollutant in this year: no estimate.",
    "de": "Keine Messstation mit gültigem Jahresmittel dieses Schadstoffs in diesem Jahr: keine Schätzung.",
}


def _year(name: str, raw: str | None, default: int | None = None) -> int:
    if raw is None or not raw.strip():
        if default is not None:
            return default
        raise BadRequest(f"{name}: required, a calendar year (e.g. 2024)")
    text = raw.strip()
    if not (text.isascii() and text.isdigit()) or not FIRST_YEAR <= int(text) <= LAST_YEAR:
        raise BadRequest(f"{name}: expected a calendar year from {FIRST_YEAR} to {LAST_YEAR}, got {raw!r}")
    return int(text)


def _method(raw: str | None) -> str:
    chosen = (raw or "idw").strip().lower()
    if chosen not in METHODS:
        raise BadRequest(f"method: expected one of {', '.join(METHODS)}, got {raw!r}")
    return chosen


def _round(value: float | None, digits: int = 2) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return round(float(value), digits)


def interpolate(points: np.ndarray, stations: np.ndarray, values: np.ndarray, method: str) -> np.ndarray:
    """The value at each of `points` (n × 2, metres) from the stations' (m × 2) `values`: inverse-
    distance weighting with power `IDW_POWER`, or the nearest station's value; NaN where there are
    no stations. A point within `SAME_PLACE_M` of a station takes its value."""
    if not len(stations):
        return np.full(len(points), np.nan)
    if not len(points):
        return np.zeros(0)
    distance = np.hypot(points[:, None, 0] - stations[None, :, 0], points[:, None, 1] - stations[None, :, 1])
    nearest = distance.argmin(axis=1)
    if method == "nearest":
        return values[nearest]
    weights = np.maximum(distance, SAME_PLACE_M) ** -IDW_POWER
    out = (weights * values[None, :]).sum(axis=1) / weights.sum(axis=1)
    close = distance[np.arange(len(points)), nearest] < SAME_PLACE_M
    out[close] = values[nearest[close]]
    return out


def annual_levels() -> list[dict[str, Any]]:
    """The annual-mean levels of every standard, per pollutant assessed here."""
    return [
        {"standard": s.id, "name": s.name, "pollutant": v.pollutant, "level": v.level, "kind": v.kind}
        for s in standards()
        for v in s.values
        if v.statistic == "year" and v.pollutant in POLLUTANTS
    ]


class AirExposure:
    """Population-weighted exposure per district (module docstring)."""

    def __init__(self, profiles: DistrictProfiles, air: AirService) -> None:
        self.profiles = profiles
        self.air = air

    def _placement(self, collection: str, caller: Caller) -> tuple[Any, Placement]:
        scope = self.profiles.access.scope(caller)
        with self.profiles.engine.connect() as connection:
            placed = self.profiles.placement(connection, collection, scope)
        return scope, placed

    def _home(self, placed: Placement, residents: Residents) -> np.ndarray:
        """The target district of each resident point (-1: none)."""
        home = np.full(len(residents.points), -1)
        if len(residents.points):
            inside, where = shapely.STRtree(placed.target.shapes).query(residents.points, predicate="within")
            home[inside] = where
        return home

    def _of_year(
        self, scope: Any, placed: Placement, year: int, method: str
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]], set[str | None], list[str]]:
        """(per district, per station) documents of `year`, the datasets read, the placement methods."""
        residents = placed.residents(year)
        _, population_year = placed.population(year)
        home = self._home(placed, residents)
        coordinates = shapely.get_coordinates(residents.points) if len(residents.points) else np.zeros((0, 2))
        means = self.air.annual_means(scope, year, POLLUTANTS)
        datasets: set[str | None] = set()
        stations: dict[int, dict[str, Any]] = {}
        estimated: dict[str, np.ndarray] = {}
        for pollutant in POLLUTANTS:
            used = [m for m in means if m.pollutant == pollutant and m.annual_mean is not None and m.point]
            estimated[pollutant] = self._estimate(placed, used, coordinates, method)
            for mean in (m for m in means if m.pollutant == pollutant):
                station = stations.setdefault(
                    mean.thing_id,
                    {
                        "@iot.id": mean.thing_id,
                        "name": mean.name,
                        "position": list(mean.point) if mean.point else None,
                        "annualMeans": {},
                    },
                )
                station["annualMeans"][pollutant] = {
                    "value": _round(mean.annual_mean, 3),
                    "capture": _round(mean.capture, 4),
                    "used": mean in used,
                }
            for mean in used:
                datasets.update(mean.datasets)
        levels = annual_levels()
        weights = residents.weights
        target = placed.target
        count = len(target.keys)
        people: Any = (
            np.bincount(home[home >= 0], weights=weights[home >= 0], minlength=count) if count else []
        )
        methods = placed.methods(residents)
        finest_year = {n: population_year[n] for n in range(len(placed.finest.keys))}
        rows = []
        for n, key in enumerate(target.keys):
            mine = home == n
            total = float(people[n]) if count else 0.0
            figures: dict[str, Any] = {}
            for pollutant in POLLUTANTS:
                values = estimated[pollutant][mine]
                w = weights[mine]
                if total <= 0 or not len(values) or not np.isfinite(values).all():
                    figures[pollutant] = None
                    continue
                figures[pollutant] = {
                    "exposure": _round(float((values * w).sum() / w.sum()), 2),
                    "min": _round(float(values.min()), 2),
                    "max": _round(float(values.max()), 2),
                    "exceedances": {
                        level["standard"]: {
                            "level": level["level"],
                            "residents": _round(float(w[values > level["level"]].sum()), 0),
                            "share": _round(float(w[values > level["level"]].sum()) / total, 4),
                        }
                        for level in levels
                        if level["pollutant"] == pollutant
                    },
                }
            years = sorted(
                y for o in np.unique(residents.district[mine]).tolist() if (y := finest_year[o]) is not None
            )
            rows.append(
                {
                    "id": key,
                    "name": target.names[n],
                    "residents": _round(total, 0),
                    "populationYears": years,
                    "placement": methods[n],
                    "pollutants": figures,
                }
            )
        return rows, list(stations.values()), datasets, methods

    def _estimate(
        self, placed: Placement, used: Sequence[StationMean], coordinates: np.ndarray, method: str
    ) -> np.ndarray:
        if not used:
            return np.full(len(coordinates), np.nan)
        lonlat = np.array([m.point for m in used if m.point is not None], dtype=float)
        metric = placed.finest.projector(shapely.points(lonlat))
        values = np.array([m.annual_mean for m in used], dtype=float)
        return interpolate(coordinates, shapely.get_coordinates(metric), values, method)

    def _head(self, placed: Placement, method: str) -> dict[str, Any]:
        return {
            "collection": placed.target.collection.id,
            "placedOn": placed.finest.collection.id,
            "method": {
                "key": method,
                "label": METHODS[method],
                "power": IDW_POWER if method == "idw" else None,
            },
            "caveat": CAVEAT,
            "noStations": NO_STATIONS,
            "placementLabels": PLACEMENT,
            "unit": "µg/m³",
            "levels": annual_levels(),
        }

    def exposure(
        self, caller: Caller, collection: str, year_raw: str | None, method_raw: str | None
    ) -> dict[str, Any]:
        """Every district's exposure in one year, with the stations used."""
        year = _year("year", year_raw)
        method = _method(method_raw)
        scope, placed = self._placement(collection, caller)
        rows, stations, datasets, _ = self._of_year(scope, placed, year, method)
        self.profiles.access.record_read(
            caller, API, sorted(set(placed.datasets) | datasets, key=lambda d: d or "")
        )
        return {
            **self._head(placed, method),
            "year": year,
            "notes": placed.notes,
            "stations": stations,
            "districts": rows,
        }

    def series(
        self,
        caller: Caller,
        collection: str,
        start_raw: str | None,
        end_raw: str | None,
        method_raw: str | None,
    ) -> dict[str, Any]:
        """Every district's exposure year by year from `start` to `end` (both included)."""
        start = _year("start", start_raw)
        end = _year("end", end_raw)
        if end < start:
            raise BadRequest(f"end: {end} is before start {start}")
        if end - start + 1 > MAX_YEARS:
            raise BadRequest(f"end: a series may span at most {MAX_YEARS} years")
        method = _method(method_raw)
        scope, placed = self._placement(collection, caller)
        years = list(range(start, end + 1))
        read: set[str | None] = set(placed.datasets)
        by_district: dict[str, dict[str, Any]] = {}
        for year in years:
            rows, _, datasets, _ = self._of_year(scope, placed, year, method)
            read |= datasets
            for row in rows:
                entry = by_district.setdefault(
                    row["id"],
                    {
                        "id": row["id"],
                        "name": row["name"],
                        "residents": [],
                        "pollutants": {p: [] for p in POLLUTANTS},
                    },
                )
                entry["residents"].append(row["residents"])
                for pollutant in POLLUTANTS:
                    figures = row["pollutants"][pollutant]
                    entry["pollutants"][pollutant].append(None if figures is None else figures["exposure"])
        self.profiles.access.record_read(caller, API, sorted(read, key=lambda d: d or ""))
        return {
            **self._head(placed, method),
            "years": years,
            "notes": placed.notes,
            "districts": list(by_district.values()),
        }
