"""The clean-air service: a station's assessment for a calendar year, its hourly air quality index,
the list of assessable stations. Knows no HTTP; takes the caller and asks the access point.

**Stations** are SensorThings Things with measurement Datastreams of the assessed pollutants
(`standards.POLLUTANTS`), recognised by their ObservedProperty's definition (the EEA pollutant
vocabulary, as the station importers write it) and given in µg/m³. Datastreams whose
`properties.kind` says they are not measurements (model forecasts) are not assessed. Where a
station has several Datastreams of a pollutant, hourly ones come before daily ones, then the lowest
id.

**Values** come from the time-series service (`TimeseriesService.aggregate_in`): the count and mean
of each UTC hour, from the hourly rollups, so a year of minute data costs 8,760 rows. Where every
station is assessed at once (`assessments`: the CSV report, the benchmark), the hours of all their
series are read in one statement straight into numpy arrays (`store/hourly.py`), the same counts and
means. Either way the engine takes the series as (series × hours) arrays, many at once. A Datastream
declares its averaging period in `properties.aggregation` (`PT1H`, `PT10M`, `P1D`; hourly when
unstated): it says how many values an hour can hold (for the 75 % rule), and daily Datastreams
(`P1D`) are taken as daily means, each belonging to the local standard day that holds the middle of
its interval. An hourly value belongs to the hour its phenomenonTime starts; where a Datastream's
values are instants, that is the hour starting at the instant — its `time_convention` is echoed in
the answer so that the reader can tell.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from dataclasses import astuple, dataclass, replace
from datetime import UTC, datetime, timedelta, timezone
from functools import lru_cache, partial
from typing import Any, NoReturn
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
from sqlalchemy import Engine, select

from urbantwin.access.gate import Access, Caller
from urbantwin.access.policy import DatasetScope
from urbantwin.airquality.engine import (
    CHUNK_SERIES,
    LEAD_HOURS,
    Calendar,
    Check,
    Coverage,
    Period,
    YearStatistics,
    assess,
    index_table,
    standard_offset,
    valid_hours,
    valid_means,
    year_statistics,
    year_statistics_of,
)
from urbantwin.airquality.sensors import is_low_cost
from urbantwin.airquality.standards import POLLUTANTS, Capture, index_bands, standards
from urbantwin.airquality.texts import KINDS, STATISTICS, VERDICTS, describe
from urbantwin.city_profile import NO_CITY, CityProfile
from urbantwin.errors import BadRequest, NotFound
from urbantwin.ingest.vocabulary import OBSERVED_PROPERTIES
from urbantwin.settings import Settings
from urbantwin.store.hourly import hourly
from urbantwin.store.schema import datastreams, locations, observed_properties, thing_locations, things
from urbantwin.texts import in_each
from urbantwin.times import format_instant, parse_instant
from urbantwin.timeseries.service import AggregateQuery, TimeseriesService

API = "air"
#: The years an assessment may ask for.
FIRST_YEAR, LAST_YEAR = 1970, 2100
#: Stations whose hours `assessments` reads in one statement.
BATCH_STATIONS = 200
#: The longest window of hourly index values one request may ask for.
MAX_INDEX_DAYS = 31
#: Exceedance periods listed per check (the count is always complete).
MAX_PERIODS = 400
_DEFINITIONS = {OBSERVED_PROPERTIES[code].observed_property["definition"]: code for code in POLLUTANTS}
_MICROGRAMS = {"µg/m³", "µg/m3", "ug/m3", "μg/m³"}
_DURATION = re.compile(r"^PT(?:(\d+)H)?(?:(\d+)M)?$")


#: The statistics of one Datastream: per standard, per year.
ByStandard = dict[str, dict[int, YearStatistics]]


@dataclass(frozen=True)
class Answer:
    """A document, and the datasets whose data it shows (for usage counts and the audit)."""

    body: dict[str, Any]
    datasets: list[str | None]


@dataclass(frozen=True)
class Series:
    """A Datastream the assessment reads for one pollutant."""

    pollutant: str
    id: int
    name: str
    dataset_id: str | None
    daily: bool
    values_per_hour: int
    time_convention: str | None
    synthetic: bool

    def document(self) -> dict[str, Any]:
        return {
            "@iot.id": self.id,
            "name": self.name,
            "aggregation": "P1D"
            if self.daily
            else "PT1H"
            if self.values_per_hour == 1
            else f"PT{60 // self.values_per_hour}M",
            "timeConvention": self.time_convention,
            "synthetic": self.synthetic,
        }


@dataclass(frozen=True)
class StationMean:
    """A station's annual mean of one pollutant in one year (2008/50/EC's capture rules: None where
    the year's data capture is insufficient), where it stands (WGS 84 lon, lat; None where unknown),
    and the datasets it was read from."""

    thing_id: int
    name: str
    point: tuple[float, float] | None
    pollutant: str
    year: int
    annual_mean: float | None
    capture: float | None
    datasets: tuple[str | None, ...]


def point_of(document: Any) -> tuple[float, float] | None:
    """(lon, lat) of a GeoJSON Point or Point Feature, else None."""
    if isinstance(document, dict) and document.get("type") == "Feature":
        document = document.get("geometry")
    if isinstance(document, dict) and document.get("type") == "Point":
        coordinates = document.get("coordinates")
        if isinstance(coordinates, list) and len(coordinates) >= 2:
            return float(coordinates[0]), float(coordinates[1])
    return None


def _values_per_hour(aggregation: object) -> int | None:
    """Values an hour holds for an averaging period `PT1H`, `PT10M`, … (None: not a divisor of 60
    minutes, or not understood)."""
    if not isinstance(aggregation, str):
        return 1
    match = _DURATION.match(aggregation.strip().upper())
    if not match or not any(match.groups()):
        return None
    minutes = int(match.group(1) or 0) * 60 + int(match.group(2) or 0)
    if minutes <= 0 or minutes > 60 or 60 % minutes:
        return None
    return 60 // minutes


def parse_year(raw: str | None) -> int:
    if raw is None or not raw.strip():
        raise BadRequest("year: required, a calendar year (e.g. 2024)")
    text = raw.strip()
    if not (text.isascii() and text.isdigit()) or not FIRST_YEAR <= int(text) <= LAST_YEAR:
        raise BadRequest(f"year: expected a calendar year from {FIRST_YEAR} to {LAST_YEAR}, got {raw!r}")
    return int(text)


def _visible(scope: DatasetScope, column: Any) -> list[Any]:
    condition = scope.allows_column(column)
    return [] if condition is None else [condition]


def _offset_text(offset: timedelta) -> str:
    return datetime(2000, 1, 1, tzinfo=timezone(offset)).isoformat()[-6:]


def _coverage(coverage: Coverage | None) -> dict[str, Any] | None:
    if coverage is None:
        return None
    return {
        "valid": coverage.valid,
        "possible": coverage.possible,
        "fraction": round(coverage.fraction, 4),
        "required": coverage.required,
        "sufficient": coverage.sufficient,
    }


def _period(period: Period) -> dict[str, str]:
    return {
        "end": period.end_local.isoformat(),
        "startUtc": format_instant(period.start_utc),
        "endUtc": format_instant(period.end_utc),
    }


class SharedPeriod(dict[str, str]):
    """A period's document (`_period`), one object shared by every answer that lists the period:
    an assessment of 1,000 stations lists about a million exceeding periods, 230 MB as a dict each,
    a few MB as references to one dict per hour or day of the year. Read-only, so that no reader of
    one answer changes another's (a copy, `dict(period)` or `copy.deepcopy`, is a plain dict);
    serialises as a dict."""

    def _refuse(self, *args: object, **kwargs: object) -> NoReturn:
        raise TypeError("a period's document is shared between answers: copy it to change it")

    __setitem__ = __delitem__ = __ior__ = _refuse
    update = pop = popitem = clear = setdefault = _refuse

    def __reduce__(self) -> tuple[type[dict[str, str]], tuple[dict[str, str]]]:
        """Copies and pickles are plain dicts, the reader's own to change."""
        return dict, (dict(self),)


@lru_cache(maxsize=16)
def _grid_periods(year: int, offset: timedelta, hourly: bool) -> tuple[SharedPeriod, ...]:
    """`_period` of every hour (or day) of the year's grid, formatted once (formatting each
    exceeding period anew, three datetimes to text, took a third of an assessment's time)."""
    step = timedelta(hours=1) if hourly else timedelta(days=1)
    calendar = Calendar(year, offset)
    count = calendar.hours if hourly else calendar.days
    starts = [calendar.start + k * step for k in range(count + 1)]
    return tuple(SharedPeriod(_period(Period(starts[k], starts[k + 1], offset))) for k in range(count))


def _periods(check: Check, limit: int) -> list[SharedPeriod] | list[dict[str, str]]:
    """The first `limit` exceeding periods of the check, as `_period` writes them (shared,
    read-only documents: `SharedPeriod`)."""
    grid = _grid_periods(check.year, check.offset, check.value.statistic == "hour")
    chosen = check.positions[:limit].tolist()
    if chosen and chosen[-1] >= len(grid):
        return [_period(p) for p in check.periods(limit)]
    return [grid[k] for k in chosen]


@lru_cache(maxsize=64)
def _rules(capture: Capture) -> tuple[Any, ...]:
    """The capture rules without their source text: standards with equal rules share statistics."""
    return astuple(replace(capture, source=""))


def _micros(moment: datetime) -> int:
    """µs since 1970 of an aware instant."""
    return (moment - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)


def _round(value: float | None) -> float | None:
    return None if value is None else round(float(value), 3)


class AirService:
    def __init__(
        self, engine: Engine, settings: Settings, access: Access | None = None, city: CityProfile = NO_CITY
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.access = access or Access.of(engine, settings)
        self.timeseries = TimeseriesService(engine, settings, self.access)
        self.zone = ZoneInfo(city.time_zone)

    # --- stations ---------------------------------------------------------------------------

    def _series(self, scope: DatasetScope, thing_id: int | None = None) -> list[tuple[int, str, Series]]:
        """(thing id, thing name, series) of every assessable Datastream the scope shows."""
        ds, op, th = datastreams, observed_properties, things
        statement = (
            select(
                ds.c.id,
                ds.c.name,
                ds.c.dataset_id,
                ds.c.properties,
                ds.c.unit_of_measurement,
                op.c.definition,
                th.c.id.label("thing_id"),
                th.c.name.label("thing_name"),
            )
            .join(op, op.c.id == ds.c.observed_property_id)
            .join(th, th.c.id == ds.c.thing_id)
            .where(
                op.c.definition.in_(list(_DEFINITIONS)),
                *_visible(scope, ds.c.dataset_id),
                *_visible(scope, th.c.dataset_id),
                *_visible(scope, op.c.dataset_id),
            )
            .order_by(th.c.id, ds.c.id)
        )
        if thing_id is not None:
            statement = statement.where(th.c.id == thing_id)
        with self.engine.connect() as connection:
            rows = connection.execute(statement).all()
        found = []
        for row in rows:
            properties = row.properties if isinstance(row.properties, dict) else {}
            unit = (
                (row.unit_of_measurement or {}).get("symbol")
                if isinstance(row.unit_of_measurement, dict)
                else None
            )
            if properties.get("kind", "measurement") != "measurement" or unit not in _MICROGRAMS:
                continue
            if is_low_cost(properties):
                continue  # citizen sensors are checked, not assessed (sensor_service.py)
            aggregation = properties.get("aggregation")
            daily = aggregation == "P1D"
            per_hour = 1 if daily else _values_per_hour(aggregation)
            if per_hour is None:
                continue
            series = Series(
                pollutant=_DEFINITIONS[row.definition],
                id=row.id,
                name=row.name,
                dataset_id=row.dataset_id,
                daily=daily,
                values_per_hour=per_hour,
                time_convention=properties.get("time_convention"),
                synthetic=bool(properties.get("synthetic", False)),
            )
            found.append((row.thing_id, row.thing_name, series))
        return found

    @staticmethod
    def _chosen(found: Sequence[tuple[int, str, Series]]) -> dict[str, Series]:
        """One Datastream per pollutant: hourly before daily, then the lowest id."""
        chosen: dict[str, Series] = {}
        for _, _, series in sorted(found, key=lambda item: (item[2].daily, item[2].id)):
            chosen.setdefault(series.pollutant, series)
        return chosen

    def stations(self, caller: Caller) -> Answer:
        """Every station with assessable Datastreams the caller may read."""
        found = self._series(self.access.scope(caller))
        by_thing: dict[int, list[tuple[int, str, Series]]] = {}
        for item in found:
            by_thing.setdefault(item[0], []).append(item)
        body = {
            "stations": [
                {
                    "@iot.id": thing_id,
                    "name": items[0][1],
                    "pollutants": {
                        pollutant: series.document() for pollutant, series in self._chosen(items).items()
                    },
                }
                for thing_id, items in by_thing.items()
            ]
        }
        datasets = sorted({series.dataset_id for _, _, series in found}, key=lambda d: d or "")
        self.access.record_read(caller, API, datasets)
        return Answer(body, list(datasets))

    def _station(self, thing_id: int, scope: DatasetScope) -> tuple[str, dict[str, Series]]:
        found = self._series(scope, thing_id)
        if not found:
            raise NotFound(
                f"no air quality station {thing_id} (a Thing with measurements of {', '.join(POLLUTANTS)})"
            )
        return found[0][1], self._chosen(found)

    def points(self, thing_ids: Sequence[int], scope: DatasetScope) -> dict[int, tuple[float, float]]:
        """(lon, lat) of each Thing's first readable Location that is a point."""
        if not thing_ids:
            return {}
        statement = (
            select(thing_locations.c.thing_id, locations.c.location)
            .join(locations, locations.c.id == thing_locations.c.location_id)
            .where(thing_locations.c.thing_id.in_(list(thing_ids)), *_visible(scope, locations.c.dataset_id))
            .order_by(thing_locations.c.thing_id, locations.c.id)
        )
        found: dict[int, tuple[float, float]] = {}
        with self.engine.connect() as connection:
            for thing_id, document in connection.execute(statement):
                point = point_of(document)
                if point is not None:
                    found.setdefault(thing_id, point)
        return found

    def annual_means(self, scope: DatasetScope, year: int, pollutants: Sequence[str]) -> list[StationMean]:
        """Every station's annual mean of each of `pollutants` in `year` that the scope shows (the
        district exposure's input). Only what the scope may read is read: hidden stations, their
        Datastreams and Locations are left out, never counted."""
        found = [item for item in self._series(scope) if item[2].pollutant in pollutants]
        by_thing: dict[int, list[tuple[int, str, Series]]] = {}
        for item in found:
            by_thing.setdefault(item[0], []).append(item)
        points = self.points(sorted(by_thing), scope)
        offset = standard_offset(self.zone, year)
        first = standards()[0]
        out = []
        for thing_id, items in by_thing.items():
            for pollutant, series in self._chosen(items).items():
                by_standard = self._station_statistics([series], year, offset, scope, one_year=True)
                statistics = by_standard[series.id][first.id][year]
                sufficient = statistics.annual_mean_sufficient and statistics.annual_mean is not None
                coverage = statistics.day_coverage if series.daily else statistics.hour_coverage
                out.append(
                    StationMean(
                        thing_id=thing_id,
                        name=items[0][1],
                        point=points.get(thing_id),
                        pollutant=pollutant,
                        year=year,
                        annual_mean=statistics.annual_mean if sufficient else None,
                        capture=None if coverage is None else coverage.fraction,
                        datasets=(series.dataset_id,),
                    )
                )
        return out

    # --- values -----------------------------------------------------------------------------

    def _hours(self, series: Series, start: datetime, end: datetime, scope: DatasetScope) -> pd.DataFrame:
        """Count and mean of each UTC hour of `[start, end)` that holds values."""
        counts, means = self._dense_hours(series, start, end, scope)
        index = pd.date_range(start, periods=len(counts), freq="h", tz=UTC)
        frame = pd.DataFrame({"mean": means, "count": counts}, index=index)
        return frame[frame["count"] > 0]

    def _dense_hours(
        self, series: Series, start: datetime, end: datetime, scope: DatasetScope
    ) -> tuple[np.ndarray, np.ndarray]:
        """Count and mean (NaN: none) of every UTC hour of `[start, end)`, through the time series
        service (one query, the caller's scope)."""
        query = AggregateQuery(series.id, "hour", ("count", "mean"), start, end, ZoneInfo("UTC"))
        buckets = self.timeseries.aggregate_in(query, scope).body["buckets"]
        counts = np.fromiter((bucket["count"] for bucket in buckets), dtype="int64", count=len(buckets))
        means = np.array([np.nan if b["mean"] is None else b["mean"] for b in buckets], dtype="float64")
        return counts, means

    @staticmethod
    def _window(years: range, offset: timedelta) -> tuple[datetime, datetime]:
        """The UTC hours `years` are assessed from (8 hours before the first for 8-hour means)."""
        return Calendar(years[0], offset).start - timedelta(hours=8), Calendar(years[-1] + 1, offset).start

    def _station_statistics(
        self,
        chosen: Sequence[Series],
        year: int,
        offset: timedelta,
        scope: DatasetScope,
        one_year: bool = False,
    ) -> dict[int, ByStandard]:
        """The statistics of each of one station's `chosen` series by Datastream id, each series read
        in one query of the time series service (the per-station path); ozone's for the three years
        its target value averages unless `one_year`."""
        out: dict[int, ByStandard] = {}
        for ozone in (False, True):
            group = [series for series in chosen if (series.pollutant == "o3") == ozone]
            if not group:
                continue
            years = _years(year, ozone and not one_year)
            start, end = self._window(years, offset)
            read = [self._dense_hours(series, start, end, scope) for series in group]
            counts = np.stack([counts for counts, _ in read])
            means = np.stack([means for _, means in read])
            out.update(
                zip((s.id for s in group), _statistics_many(group, years, offset, counts, means), strict=True)
            )
        return out

    def _bulk_statistics(
        self, chosen: Sequence[Series], year: int, offset: timedelta
    ) -> dict[int, ByStandard]:
        """The statistics of every one of `chosen` (many stations' series) by Datastream id: the
        hours of all read at once (`store.hourly`, one statement per span of years), then
        `CHUNK_SERIES` series at a time as dense (series × hours) arrays, so that the arrays held
        besides the read hours stay a few MB whatever the batch."""
        out: dict[int, ByStandard] = {}
        for ozone in (False, True):
            group = [series for series in chosen if (series.pollutant == "o3") == ozone]
            if not group:
                continue
            years = _years(year, ozone)
            start, end = self._window(years, offset)
            hours = hourly(self.engine, [series.id for series in group], start, end)
            none = np.zeros(hours.hours, "int32")
            for low in range(0, len(group), CHUNK_SERIES):
                part = group[low : low + CHUNK_SERIES]
                counts = np.stack([hours.counts.get(series.id, none) for series in part])
                sums = np.stack([hours.sums.get(series.id, none) for series in part])
                with np.errstate(invalid="ignore", divide="ignore"):
                    means = sums / counts
                out.update(
                    zip(
                        (s.id for s in part),
                        _statistics_many(part, years, offset, counts, means),
                        strict=True,
                    )
                )
        return out

    # --- the assessment ---------------------------------------------------------------------

    def assessment(self, thing_id: int, year: int, caller: Caller) -> Answer:
        """Every value of every standard for the station's pollutants in `year`."""
        scope = self.access.scope(caller)
        name, chosen = self._station(thing_id, scope)
        statistics = self._station_statistics(
            list(chosen.values()), year, standard_offset(self.zone, year), scope
        )
        answer = self._assessment(thing_id, name, chosen, year, statistics)
        self.access.record_read(caller, API, answer.datasets)
        return answer

    def assessments(self, year: int, caller: Caller) -> list[Answer]:
        """The assessment of `year` of every station the caller may read, as `assessment` answers
        it, with the hours of many stations read at once (`store.hourly`: one statement per batch
        of `BATCH_STATIONS`, numpy arrays) — the path of the report and of the benchmark of 1,000
        stations. Batches bound the memory: the hours read for a batch (a station-year of three
        series is 320 kB of arrays, 200 stations' read about 200 MB at its peak with the rows it is
        read from), the engine's arrays of `CHUNK_SERIES` series at a time (a few MB); the answers
        themselves hold about 25 kB a station (their period documents shared, `SharedPeriod`)."""
        scope = self.access.scope(caller)
        found = self._series(scope)
        by_thing: dict[int, list[tuple[int, str, Series]]] = {}
        for item in found:
            by_thing.setdefault(item[0], []).append(item)
        chosen = {thing_id: self._chosen(items) for thing_id, items in by_thing.items()}
        offset = standard_offset(self.zone, year)
        things = list(chosen)
        answers: list[Answer] = []
        for low in range(0, len(things), BATCH_STATIONS):
            batch = {thing_id: chosen[thing_id] for thing_id in things[low : low + BATCH_STATIONS]}
            streams = [s for per_thing in batch.values() for s in per_thing.values()]
            statistics = self._bulk_statistics(streams, year, offset)
            answers.extend(
                self._assessment(thing_id, by_thing[thing_id][0][1], per_thing, year, statistics)
                for thing_id, per_thing in batch.items()
            )
        datasets = sorted({d for answer in answers for d in answer.datasets}, key=lambda d: d or "")
        self.access.record_read(caller, API, datasets)
        return answers

    def _assessment(
        self,
        thing_id: int,
        name: str,
        chosen: dict[str, Series],
        year: int,
        statistics: dict[int, ByStandard],
    ) -> Answer:
        offset = standard_offset(self.zone, year)
        pollutants: list[dict[str, Any]] = []
        checks: list[Check] = []
        for pollutant in POLLUTANTS:
            series = chosen.get(pollutant)
            if series is None:
                continue
            by_standard = statistics[series.id]
            # The figures of the first standard (2008/50/EC's rules) describe the data; each check
            # below uses its own standard's rules.
            current = by_standard[standards()[0].id][year]
            pollutants.append(
                {
                    "pollutant": pollutant,
                    "datastream": series.document(),
                    "annualMean": _round(current.annual_mean),
                    "coverage": {
                        "hours": _coverage(current.hour_coverage),
                        "days": _coverage(current.day_coverage),
                        "max8h": _coverage(current.max8h_coverage),
                    },
                }
            )
            for standard in standards():
                checks.extend(assess(standard, pollutant, by_standard[standard.id], year))
        datasets = sorted({series.dataset_id for series in chosen.values()}, key=lambda d: d or "")
        body = {
            "station": {"@iot.id": thing_id, "name": name},
            "year": year,
            "timeConvention": self._convention(offset),
            "standards": [
                {"id": s.id, "name": s.name, "title": s.title, "captureRules": s.capture.source}
                for s in standards()
            ],
            "pollutants": pollutants,
            "checks": [self._check(check) for check in checks],
        }
        return Answer(body, list(datasets))

    def _convention(self, offset: timedelta) -> dict[str, Any]:
        return {
            "calendar": f"local standard time, UTC{_offset_text(offset)} all year ({self.zone.key} without "
            "daylight saving time): days and the year begin at 00:00 of it",
            "offset": _offset_text(offset),
            "labels": "each period by its end in local standard time (`end`, the agency's convention) and "
            "by its bounds in UTC (`startUtc`, `endUtc`)",
        }

    @staticmethod
    def _check(check: Check) -> dict[str, Any]:
        value = check.value
        return {
            "standard": check.standard,
            "pollutant": value.pollutant,
            "statistic": value.statistic,
            "statisticLabel": STATISTICS[value.statistic],
            "level": value.level,
            "unit": "µg/m³",
            "permitted": value.permitted,
            "averagedYears": value.averaged_years,
            "kind": value.kind,
            "kindLabel": KINDS.label(value.kind),
            "source": value.source,
            "verdict": check.verdict,
            "verdictLabel": VERDICTS[check.verdict],
            "text": in_each(partial(describe, check)),
            "annualMean": _round(check.annual_mean),
            "exceedances": check.exceedances,
            "averagedExceedances": _round(check.averaged),
            "yearsAveraged": list(check.years),
            "coverage": _coverage(check.coverage),
            "exceedancePeriods": _periods(check, MAX_PERIODS),
            "exceedancePeriodsTruncated": len(check.positions) > MAX_PERIODS,
        }

    def assessment_csv(self, thing_id: int, year: int, caller: Caller) -> str:
        """The assessment as a CSV report: one row per value of a standard."""
        return assessments_csv([self.assessment(thing_id, year, caller).body])

    # --- the index --------------------------------------------------------------------------

    def index(self, thing_id: int, start_raw: str | None, end_raw: str | None, caller: Caller) -> Answer:
        """The European Air Quality Index of each hour of `[start, end)` at the station."""
        if not start_raw or not end_raw:
            raise BadRequest("start, end: both required, ISO 8601 dates or date-times (e.g. 2024-01-01)")
        start = parse_instant(start_raw, "start", self.zone)
        end = parse_instant(end_raw, "end", self.zone)
        start = start.replace(minute=0, second=0, microsecond=0)
        if end <= start:
            raise BadRequest(f"end: {end_raw!r} must be later than start {start_raw!r}")
        if end - start > timedelta(days=MAX_INDEX_DAYS):
            raise BadRequest(f"end: the window may span at most {MAX_INDEX_DAYS} days")
        scope = self.access.scope(caller)
        name, chosen = self._station(thing_id, scope)
        bands = index_bands()
        first = standards()[0]
        hours = pd.date_range(start, end - timedelta(microseconds=1), freq="h", tz=UTC)
        lead = timedelta(hours=bands.pm_running_hours - 1)
        series: dict[str, pd.Series] = {}
        used: dict[str, Series] = {}
        for pollutant, stream in chosen.items():
            if stream.daily or pollutant not in bands.upper:
                continue  # the index classifies hourly values (PM: their running 24-hour mean)
            hourly = self._hours(stream, start - lead, end, scope)
            series[pollutant] = valid_hours(hourly, stream.values_per_hour, first.capture)
            used[pollutant] = stream
        table = index_table(series, hours, bands)
        offset = standard_offset(self.zone, start.year)
        local = timezone(offset)
        rows = []
        for moment, row in zip(hours, table.itertuples(index=False), strict=True):
            record = row._asdict()
            band = int(record["band"])
            rows.append(
                {
                    "end": (moment + pd.Timedelta(hours=1)).to_pydatetime().astimezone(local).isoformat(),
                    "startUtc": format_instant(moment.to_pydatetime()),
                    "endUtc": format_instant((moment + pd.Timedelta(hours=1)).to_pydatetime()),
                    "band": bands.bands[band].key if band >= 0 else None,
                    "colour": bands.bands[band].colour if band >= 0 else None,
                    "label": bands.bands[band].label if band >= 0 else None,
                    "pollutants": {
                        pollutant: {
                            "value": None
                            if np.isnan(record[f"{pollutant}_value"])
                            else round(float(record[f"{pollutant}_value"]), 2),
                            "band": bands.bands[int(record[f"{pollutant}_band"])].key
                            if record[f"{pollutant}_band"] >= 0
                            else None,
                        }
                        for pollutant in series
                    },
                }
            )
        datasets = sorted({stream.dataset_id for stream in used.values()}, key=lambda d: d or "")
        self.access.record_read(caller, API, datasets)
        body = {
            "station": {"@iot.id": thing_id, "name": name},
            "source": bands.source,
            "timeConvention": self._convention(offset),
            "bands": [
                {
                    "key": band.key,
                    "label": band.label,
                    "colour": band.colour,
                    "upper": {
                        p: (bounds[k] if k < len(bounds) else None) for p, bounds in bands.upper.items()
                    },
                }
                for k, band in enumerate(bands.bands)
            ],
            "datastreams": {pollutant: stream.document() for pollutant, stream in used.items()},
            "hours": rows,
        }
        return Answer(body, list(datasets))

    # --- the standards ----------------------------------------------------------------------

    @staticmethod
    def standards_document() -> dict[str, Any]:
        """Every standard's values and capture rules, with their sources."""
        return {
            "standards": [
                {
                    "id": s.id,
                    "name": s.name,
                    "title": s.title,
                    "capture": {
                        "hourFraction": s.capture.hour_fraction,
                        "dayHours": s.capture.day_hours,
                        "eightHourHours": s.capture.eight_hour_hours,
                        "max8hWindows": s.capture.max8h_windows,
                        "yearFraction": s.capture.year_fraction,
                        "ozoneMonthDays": s.capture.ozone_month_days,
                        "ozoneSummerMonths": s.capture.ozone_summer_months,
                        "source": s.capture.source,
                    },
                    "values": [
                        {
                            "pollutant": v.pollutant,
                            "statistic": v.statistic,
                            "statisticLabel": STATISTICS[v.statistic],
                            "level": v.level,
                            "unit": "µg/m³",
                            "permitted": v.permitted,
                            "averagedYears": v.averaged_years,
                            "kind": v.kind,
                            "kindLabel": KINDS.label(v.kind),
                            "source": v.source,
                        }
                        for v in s.values
                    ],
                }
                for s in standards()
            ]
        }


def _years(year: int, ozone: bool) -> range:
    """The years a series is read for: ozone's target value averages the exceedances of three."""
    return range(year - 2, year + 1) if ozone else range(year, year + 1)


def _statistics_many(
    chosen: Sequence[Series], years: range, offset: timedelta, counts: np.ndarray, means: np.ndarray
) -> list[ByStandard]:
    """The statistics of `years` of each of `chosen` per standard (computed once per set of capture
    rules), from the count and mean (NaN: none) of every hour of their window (`AirService._window`),
    one row per series: the hourly series as one array pass along the series axis
    (`engine.year_statistics_of`), daily series each by its days."""
    start, _ = AirService._window(years, offset)
    rows = [k for k, series in enumerate(chosen) if not series.daily]
    per_hour = np.array([chosen[k].values_per_hour for k in rows], dtype="int64")
    out: list[ByStandard] = [{} for _ in chosen]
    computed: dict[tuple[Any, ...], list[dict[int, YearStatistics]]] = {}
    for standard in standards():
        capture = standard.capture
        rules = _rules(capture)
        if rules not in computed:
            by_row: list[dict[int, YearStatistics]] = [{} for _ in chosen]
            valid = valid_means(counts[rows], means[rows], per_hour, capture)
            for year in years:
                calendar = Calendar(year, offset)
                first = (calendar.start - timedelta(hours=LEAD_HOURS) - start) // timedelta(hours=1)
                span = valid[:, first : first + calendar.hours + LEAD_HOURS]
                for k, stats in zip(rows, year_statistics_of(span, year, offset, capture), strict=True):
                    by_row[k][year] = stats
            for k, series in enumerate(chosen):
                if series.daily:
                    daily = _daily_means(counts[k], means[k], start, offset)
                    by_row[k] = {y: year_statistics(None, y, offset, capture, daily=daily) for y in years}
            computed[rules] = by_row
        for k in range(len(chosen)):
            out[k][standard.id] = computed[rules][k]
    return out


def _daily_means(counts: np.ndarray, means: np.ndarray, start: datetime, offset: timedelta) -> pd.Series:
    """A daily Datastream's values by local standard date: each the day holding the middle of its
    interval (its hour's start + 12 hours, local standard time)."""
    held = np.flatnonzero(counts > 0)
    starts = pd.Timestamp(start).tz_convert(UTC) + pd.to_timedelta(held, unit="h")
    middles = starts + pd.Timedelta(hours=12) + pd.Timedelta(offset)
    return pd.Series(means[held], index=starts).groupby(middles.tz_convert(None).normalize()).mean()


def assessments_csv(bodies: Sequence[dict[str, Any]]) -> str:
    """Assessments as one CSV report: one row per station and value of a standard."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(
        [
            "station_id", "station", "year", "standard", "pollutant", "statistic", "level_ug_m3",
            "permitted", "averaged_years", "kind", "annual_mean_ug_m3", "exceedances",
            "averaged_exceedances", "data_capture", "required_capture", "verdict", "text_de", "text_en",
            "source",
        ]
    )  # fmt: skip
    for body in bodies:
        for check in body["checks"]:
            coverage = check["coverage"] or {}
            writer.writerow(
                [
                    body["station"]["@iot.id"], body["station"]["name"], body["year"], check["standard"],
                    check["pollutant"], check["statistic"], check["level"], check["permitted"],
                    check["averagedYears"], check["kind"], check["annualMean"], check["exceedances"],
                    check["averagedExceedances"], coverage.get("fraction"), coverage.get("required"),
                    check["verdict"], check["text"]["de"], check["text"]["en"], check["source"],
                ]
            )  # fmt: skip
    return out.getvalue()
