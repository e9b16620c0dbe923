"""The computations behind the computed indicators: each reads the platform's data through the
services of the module that owns it (district profiles, air quality, energy runs) and gives the
indicator's values per year and a stamp of the data it read.

The stamp is what "recomputed when its data changes" rests on: it is cheap to read (collection
versions, GTFS feed digests, observation counts and time ranges, the finished energy runs) and the
service recomputes an indicator only when its stamp differs from the one stored with its values.

Computed from what anyone may read (the anonymous caller), as the district profiles are published:
an indicator's value is one figure for the city, kept as a time series and shown to every reader,
so it must not rest on a dataset some readers may not see.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, func, select

from urbantwin.access.gate import Caller
from urbantwin.access.principal import ANONYMOUS
from urbantwin.airquality.service import AirService
from urbantwin.airquality.standards import POLLUTANTS
from urbantwin.districts.layers import all_collections
from urbantwin.districts.service import DistrictProfiles
from urbantwin.energy.jobs import EnergyRuns, targets
from urbantwin.energy.kpi import TARGETS
from urbantwin.errors import BadRequest, NotFound
from urbantwin.store.energy_schema import energy_runs
from urbantwin.store.observation_counts import observation_counts
from urbantwin.store.schema import observations
from urbantwin.store.transit_schema import transit_feeds

#: The district figures a `district_ratio` indicator may take: (kind of layer, per how many residents).
RATIOS = {"charging_per_1000": ("charging", 1000.0), "trees_per_inhabitant": ("trees", 1.0)}
POPULATION_MEASURES = ("total", "growth_percent")
STATISTICS = ("max", "mean")


@dataclass
class Computed:
    """An indicator's values per year, and the notes that explain gaps (in de and en)."""

    values: dict[int, float]
    notes: list[dict[str, str]] = field(default_factory=list)


@dataclass
class Sources:
    """The services the computations read through."""

    engine: Engine
    districts: DistrictProfiles
    air: AirService
    runs: EnergyRuns

    def caller(self) -> Caller:
        return Caller(ANONYMOUS, "indicators")


def _digest(*parts: Any) -> str:
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:32]


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


# --- stamps -----------------------------------------------------------------------------------------


def districts_stamp(sources: Sources) -> str:
    """Every collection's version and the GTFS feeds' digests (the district figures' inputs)."""
    with sources.engine.connect() as connection:
        stored = tuple((c.id, c.version, c.dataset_id) for c in all_collections(connection))
        feeds = tuple(connection.execute(select(transit_feeds.c.id, transit_feeds.c.digest)).all())
    return _digest("districts", stored, feeds)


def air_stamp(sources: Sources) -> str:
    """Per air-quality Datastream: its count of Observations and the span of their times."""
    stations = sources.air.stations(sources.caller()).body["stations"]
    ids = sorted({p["@iot.id"] for s in stations for p in s["pollutants"].values()})
    if not ids:
        return _digest("air")
    with sources.engine.connect() as connection:
        counts = connection.execute(
            select(observation_counts.c.datastream_id, func.sum(observation_counts.c.observations))
            .where(observation_counts.c.datastream_id.in_(ids))
            .group_by(observation_counts.c.datastream_id)
            .order_by(observation_counts.c.datastream_id)
        ).all()
        spans = connection.execute(
            select(
                observations.c.datastream_id,
                func.min(observations.c.phenomenon_time_start),
                func.max(observations.c.phenomenon_time_start),
            )
            .where(observations.c.datastream_id.in_(ids))
            .group_by(observations.c.datastream_id)
            .order_by(observations.c.datastream_id)
        ).all()
    return _digest("air", ids, [tuple(r) for r in counts], [tuple(r) for r in spans])


def energy_stamp(sources: Sources) -> str:
    """The finished energy runs."""
    with sources.engine.connect() as connection:
        done = connection.execute(
            select(energy_runs.c.id, energy_runs.c.finished)
            .where(energy_runs.c.status == "done")
            .order_by(energy_runs.c.id)
        ).all()
    return _digest("energy", [tuple(r) for r in done])


STAMPS: dict[str, Callable[[Sources], str]] = {
    "air_annual_mean": air_stamp,
    "district_ratio": districts_stamp,
    "population": districts_stamp,
    "transit_access": districts_stamp,
    "energy_target": energy_stamp,
}


# --- computations -----------------------------------------------------------------------------------


def _collection(sources: Sources, params: dict[str, Any]) -> str:
    """The district collection to count over: the parameter, else the city's first with population."""
    if params.get("collection"):
        return str(params["collection"])
    for spec in sources.districts.city.districts:
        if spec.population_property:
            return spec.collection
    raise NotFound("no district collection with population in the city profile")


def _population_years(document: dict[str, Any]) -> dict[int, float]:
    return {int(y): float(v) for y, v in document["population"]["years"].items() if _finite(v)}


def _ratio(documents: list[dict[str, Any]], kind: str, year: int | None) -> tuple[float, float, int | None]:
    """The count of a layer and the residents over the districts it covers, and the residents' year
    (`year`: the profiles as of that year, whose districts must all have that year's figure)."""
    count = people = 0.0
    years: set[int] = set()
    for document in documents:
        found = document["figures"].get(kind)
        population = document["population"]
        residents = population.get("value", population["latest"])
        of = population.get("value_year", population["year"])
        if found is None or found["count"] is None or not _finite(residents):
            continue
        if year is not None and of != year:
            return 0.0, 0.0, None
        count += found["count"]
        people += residents
        years.add(int(of))
    return count, people, max(years) if years else None


def district_ratio(sources: Sources, params: dict[str, Any]) -> Computed:
    """Features of a layer per resident (or per 1,000), over the districts the layer covers: the sum
    of their counts ÷ the sum of their residents of the newest year. Where the layer's features have
    their validity in time (a charging point's commissioning), every year of the population series
    too: the features valid at the end of that year over that year's residents (the profiles as of
    the year, districts/asof.py); a layer without history gives the newest year only, as counting
    today's features over the residents of past years would invent a history."""
    figure = str(params["figure"])
    if figure not in RATIOS:
        raise BadRequest(f"compute.figure: expected one of {', '.join(RATIOS)}, got {figure!r}")
    kind, scale = RATIOS[figure]
    collection = _collection(sources, params)
    profiles = sources.districts.profiles(sources.caller(), collection)
    count, people, newest = _ratio(profiles.documents, kind, None)
    if not people or newest is None:
        return Computed({}, [_note_no_data()])
    notes = []
    covered = sum(1 for d in profiles.documents if (d["figures"].get(kind) or {}).get("count") is not None)
    if covered < len(profiles.documents):
        notes.append(
            {
                "en": f"over the {covered} of {len(profiles.documents)} districts the data covers",
                "de": f"über die {covered} von {len(profiles.documents)} Gebieten, die die Daten abdecken",
            }
        )
    values = {newest: count / people * scale}
    latest = sources.districts.profiles(sources.caller(), collection, year=str(newest))
    if ((latest.as_of or {}).get("inputs", {}).get(kind) or {}).get("historic"):
        series = sorted({int(y) for d in profiles.documents for y in d["population"]["years"]})
        for year in series:
            counted, residents, of = _ratio(
                sources.districts.profiles(sources.caller(), collection, year=str(year)).documents, kind, year
            )
            if residents and of == year:
                values[year] = counted / residents * scale
        notes.append(
            {
                "en": "per year: the features valid at the end of each year (their validity in the data) "
                "over that year's residents",
                "de": "je Jahr: die am Jahresende gültigen Objekte (ihre Gültigkeit in den Daten) je "
                "Einwohner des Jahres",
            }
        )
    return Computed(dict(sorted(values.items())), notes)


def population(sources: Sources, params: dict[str, Any]) -> Computed:
    """The city's residents per year (the sum over its districts; a year counts only when every
    district with residents has it), or their change in percent since `since`."""
    measure = str(params.get("measure", "total"))
    if measure not in POPULATION_MEASURES:
        raise BadRequest(
            f"compute.measure: expected one of {', '.join(POPULATION_MEASURES)}, got {measure!r}"
        )
    profiles = sources.districts.profiles(sources.caller(), _collection(sources, params))
    series = [years for d in profiles.documents if (years := _population_years(d))]
    if not series:
        return Computed({}, [_note_no_data()])
    common = set.intersection(*(set(s) for s in series))
    totals = {year: sum(s[year] for s in series) for year in sorted(common)}
    if measure == "total":
        return Computed(totals)
    since = int(params.get("since", min(totals) if totals else 0))
    if since not in totals or not totals[since]:
        return Computed({}, [_note_no_data()])
    return Computed({y: (v / totals[since] - 1) * 100 for y, v in totals.items() if y >= since})


def transit_access(sources: Sources, params: dict[str, Any]) -> Computed:
    """The share (percent) of the city's residents within `radius` m walking of a stop with at least
    `min_departures` departures an hour (the district module's access figures, residents-weighted)."""
    radius = str(params.get("radius", 300))
    minimum = params.get("min_departures")
    collection = _collection(sources, params)
    result = sources.districts.transit_access(
        sources.caller(), collection, None if minimum is None else str(minimum), None
    )
    residents = served = 0.0
    for row in result["districts"]:
        share = row["within"].get(radius)
        if not _finite(row["residents"]) or share is None:
            continue
        residents += row["residents"]
        served += row["residents"] * share
    if radius not in {str(r) for r in result["radii_m"]}:
        raise BadRequest(f"compute.radius: expected one of {result['radii_m']}, got {radius!r}")
    if not residents:
        return Computed({}, [_note_no_data()])
    profiles = sources.districts.profiles(sources.caller(), collection)
    years = [d["population"]["year"] for d in profiles.documents if d["population"]["year"]]
    year = max(years) if years else datetime.now().year
    return Computed({int(year): served / residents * 100})


def air_annual_mean(sources: Sources, params: dict[str, Any]) -> Computed:
    """The annual mean of a pollutant per year at the city's stations (µg/m³), as the air quality
    assessment computes it (2008/50/EC's rules): the highest station's (`statistic = "max"`, the
    default: a limit value holds at every station) or the stations' mean. Years with too little data
    for an annual mean at any station have no value."""
    pollutant = str(params["pollutant"])
    if pollutant not in POLLUTANTS:
        raise BadRequest(f"compute.pollutant: expected one of {', '.join(POLLUTANTS)}, got {pollutant!r}")
    statistic = str(params.get("statistic", "max"))
    if statistic not in STATISTICS:
        raise BadRequest(f"compute.statistic: expected one of {', '.join(STATISTICS)}, got {statistic!r}")
    caller = sources.caller()
    stations = sources.air.stations(caller).body["stations"]
    chosen = [s for s in stations if pollutant in s["pollutants"]]
    if not chosen:
        return Computed({}, [_note_no_data()])
    ids = [s["pollutants"][pollutant]["@iot.id"] for s in chosen]
    with sources.engine.connect() as connection:
        spans = connection.execute(
            select(
                func.min(observations.c.phenomenon_time_start), func.max(observations.c.phenomenon_time_start)
            ).where(observations.c.datastream_id.in_(ids))
        ).one()
    if spans[0] is None:
        return Computed({}, [_note_no_data()])
    per_year: dict[int, list[float]] = {}
    for year in range(spans[0].year, spans[1].year + 1):
        for station in chosen:
            body = sources.air.assessment(station["@iot.id"], year, caller).body
            for found in body["pollutants"]:
                if found["pollutant"] == pollutant and _finite(found["annualMean"]):
                    per_year.setdefault(year, []).append(float(found["annualMean"]))
    values = {
        year: (max(means) if statistic == "max" else sum(means) / len(means))
        for year, means in per_year.items()
    }
    notes = [] if values else [_note_too_little()]
    return Computed(values, notes)


def energy_target(sources: Sources, params: dict[str, Any]) -> Computed:
    """A KPI's change (percent) of the newest finished energy run against the baseline run (the
    energy module's SPARCS table), in the year the run finished. `scenario` picks the run's
    scenario; without it, the newest finished run that is not a baseline."""
    key = str(params["kpi"])
    if key not in TARGETS:
        raise BadRequest(f"compute.kpi: expected one of {', '.join(TARGETS)}, got {key!r}")
    scenario = params.get("scenario")
    scope = sources.runs.scope(sources.caller())
    for row in sources.runs.list(scope):
        if row.status != "done" or (scenario and row.scenario != scenario):
            continue
        baseline = sources.runs.baseline_for(row, scope)
        if baseline is None or baseline.id == row.id:
            continue
        against = targets(row, baseline)
        change = against[key]["change"] if against else None
        if change is None or row.finished is None:
            continue
        return Computed({row.finished.year: change * 100})
    return Computed({}, [_note_no_data()])


def _note_no_data() -> dict[str, str]:
    return {"en": "no data to compute it from", "de": "keine Daten, aus denen er sich berechnen ließe"}


def _note_too_little() -> dict[str, str]:
    return {
        "en": "no year with enough data for an annual mean",
        "de": "kein Jahr mit genug Daten für einen Jahresmittelwert",
    }


COMPUTATIONS: dict[str, Callable[[Sources, dict[str, Any]], Computed]] = {
    "air_annual_mean": air_annual_mean,
    "district_ratio": district_ratio,
    "population": population,
    "transit_access": transit_access,
    "energy_target": energy_target,
}
