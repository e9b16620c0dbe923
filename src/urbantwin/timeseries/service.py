"""The time-series extension's queries: calendar aggregates of one Datastream, latest values of many.

Both are extensions beyond OGC SensorThings API 1.1 (which has neither aggregation nor "the newest
Observation of each Datastream"), served at `/api/timeseries/` rather than under `/v1.1/`, so no
SensorThings client mistakes them for the standard. The service takes parsed parameters and the
reader's `DatasetScope` and knows nothing of HTTP; every parameter error is a `BadRequest` that
names the parameter, every unknown or hidden Datastream a `NotFound` (the same answer, so hidden ids
do not leak).

- `aggregate`: count, min, max, mean, sum of a Datastream's numeric results per calendar hour, day,
  ISO week, month or year of a time zone, from the hourly rollups (store/rollups.py) where the
  zone's bucket boundaries are whole UTC hours.
- `latest`: the newest Observation of each Datastream chosen by ids, Thing, ObservedProperty or a
  bounding box around the Things' Locations, with the Thing's location, as a GeoJSON
  FeatureCollection a map layer reads directly. One statement: per Datastream a correlated
  subquery takes the newest Observation id by walking the (datastream, time, id) index backwards
  (one index probe, `LIMIT 1`), then joins that one row by primary key. PostgreSQL plans it as a
  per-row index probe, as it would a LATERAL join; SQLite runs the same statement, so the query is
  written once for both.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import shapely
from sqlalchemy import Engine, LargeBinary, and_, exists, func, literal, or_, select
from sqlalchemy.sql import ColumnElement

from urbantwin import times
from urbantwin.access.gate import Access, Caller
from urbantwin.access.policy import EVERYTHING, DatasetScope
from urbantwin.city_profile import DEFAULT_TIME_ZONE
from urbantwin.errors import BadRequest, NotFound
from urbantwin.sensorthings.serialize import format_interval, result_value
from urbantwin.settings import Settings
from urbantwin.store import rollups
from urbantwin.store.replicas import read_connection
from urbantwin.store.schema import (
    datastreams,
    locations,
    observations,
    observed_properties,
    thing_locations,
    things,
)
from urbantwin.store.spatial import bbox_overlaps, spatial_call
from urbantwin.store.types import geom_from_wkb
from urbantwin.timeseries.calendar import INTERVALS, TooManyBuckets, buckets

STATS = ("count", "min", "max", "mean", "sum")
#: The zone of calendars and local times when a request names none and the city's profile neither.
DEFAULT_ZONE = DEFAULT_TIME_ZONE
#: Buckets one aggregate may return: an hourly series of eleven years.
MAX_BUCKETS = 100_000
#: Ids one `datastreams=` or `thing=` list may hold.
MAX_IDS = 10_000
_MAX_ID = 2**63 - 1


@dataclass(frozen=True)
class Answer:
    """A JSON document, and the datasets whose data it shows (for usage counts and the audit)."""

    body: dict[str, Any]
    datasets: list[str | None]


# --- parameters ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class AggregateQuery:
    datastream_id: int
    interval: str
    stats: tuple[str, ...]
    start: datetime
    end: datetime
    zone: ZoneInfo


def parse_zone(raw: str | None, default: str = DEFAULT_ZONE) -> ZoneInfo:
    """The zone a request names, else `default` (the city's, from its profile)."""
    name = default if raw is None or raw == "" else raw
    try:
        return ZoneInfo(name)
    except Exception:  # noqa: BLE001 - ZoneInfoNotFoundError, ValueError, OSError for odd keys
        raise BadRequest(f"tz: {name!r} is not an IANA time zone (e.g. Europe/Berlin, UTC)") from None


def parse_instant(raw: str | None, name: str, zone: ZoneInfo) -> datetime:
    """An ISO 8601 date or date-time; without an offset it is local time of `zone`."""
    if raw is None or not raw.strip():
        raise BadRequest(f"{name}: required, an ISO 8601 date or date-time (e.g. 2024-01-01)")
    return times.parse_instant(raw, name, zone)


def parse_aggregate(
    datastream_id: int,
    interval: str | None,
    stats: str | None,
    start: str | None,
    end: str | None,
    tz: str | None,
    default_zone: str = DEFAULT_ZONE,
) -> AggregateQuery:
    if interval is None or interval == "":
        raise BadRequest(f"interval: required, one of {', '.join(INTERVALS)}")
    if interval not in INTERVALS:
        raise BadRequest(f"interval: {interval!r} is not one of {', '.join(INTERVALS)}")
    if stats is not None and not stats.strip():
        raise BadRequest(f"stats: empty; leave it out for all, or name some of {', '.join(STATS)}")
    wanted: list[str] = []
    for item in (stats or ",".join(STATS)).split(","):
        name = item.strip()
        if name not in STATS:
            raise BadRequest(f"stats: {name!r} is not one of {', '.join(STATS)}")
        if name not in wanted:
            wanted.append(name)
    zone = parse_zone(tz, default_zone)
    first, last = parse_instant(start, "start", zone), parse_instant(end, "end", zone)
    if last <= first:
        raise BadRequest(f"end: {end!r} must be later than start {start!r}")
    return AggregateQuery(datastream_id, interval, tuple(wanted), first, last, zone)


@dataclass(frozen=True)
class LatestQuery:
    datastream_ids: tuple[int, ...] | None = None
    thing_ids: tuple[int, ...] | None = None
    observed_property: str | None = None
    bbox: tuple[float, float, float, float] | None = None
    limit: int = 1000
    offset: int = 0


def _ids(raw: str | None, name: str) -> tuple[int, ...] | None:
    if raw is None:
        return None
    parts = [part.strip() for part in raw.split(",")]
    if not raw.strip() or any(not _digits(part) or int(part) > _MAX_ID for part in parts):
        raise BadRequest(f"{name}: expected comma-separated ids (e.g. 1,2,3), got {raw!r}")
    if len(parts) > MAX_IDS:
        raise BadRequest(f"{name}: at most {MAX_IDS} ids")
    return tuple(dict.fromkeys(int(part) for part in parts))


def _digits(text: str) -> bool:
    """Whether `text` is a whole number in ASCII digits ("²" is a digit to `str.isdigit`, not to `int`)."""
    return text.isascii() and text.isdigit()


def _bbox(raw: str | None) -> tuple[float, float, float, float] | None:
    if raw is None:
        return None
    try:
        numbers = [float(part) for part in raw.split(",")]
    except ValueError:
        raise BadRequest(f"bbox: expected minx,miny,maxx,maxy (WGS 84 lon/lat), got {raw!r}") from None
    if len(numbers) != 4 or not all(math.isfinite(n) for n in numbers):
        raise BadRequest(f"bbox: expected 4 comma-separated finite numbers minx,miny,maxx,maxy, got {raw!r}")
    if numbers[0] > numbers[2] or numbers[1] > numbers[3]:
        raise BadRequest(f"bbox: the lower corner must come first and not exceed the upper one: {raw!r}")
    return (numbers[0], numbers[1], numbers[2], numbers[3])


def _count(raw: str | None, name: str, default: int, largest: int) -> int:
    if raw is None or raw == "":
        return default
    if not _digits(raw) or int(raw) > largest:
        raise BadRequest(f"{name}: expected a whole number from 0 to {largest}, got {raw!r}")
    return int(raw)


def parse_latest(
    datastreams: str | None,
    thing: str | None,
    observed_property: str | None,
    bbox: str | None,
    limit: str | None,
    offset: str | None,
    max_limit: int,
) -> LatestQuery:
    if observed_property is not None and not observed_property.strip():
        raise BadRequest("observedProperty: expected an ObservedProperty id or name, got ''")
    return LatestQuery(
        datastream_ids=_ids(datastreams, "datastreams"),
        thing_ids=_ids(thing, "thing"),
        observed_property=observed_property.strip() if observed_property is not None else None,
        bbox=_bbox(bbox),
        limit=_count(limit, "limit", max_limit, max_limit),
        offset=_count(offset, "offset", 0, _MAX_ID),
    )


# --- the service --------------------------------------------------------------------------------


def _visible(scope: DatasetScope, column: Any) -> list[ColumnElement[bool]]:
    condition = scope.allows_column(column)
    return [] if condition is None else [condition]


def _local(moment: datetime, zone: ZoneInfo) -> str:
    return moment.astimezone(zone).isoformat()


class TimeseriesService:
    def __init__(self, engine: Engine, settings: Settings, access: Access | None = None) -> None:
        self.engine = engine
        self.settings = settings
        #: Who may read what, and the account of reads (`access/gate.py`).
        self.access = access or Access.of(engine, settings)

    def aggregate(self, query: AggregateQuery, caller: Caller) -> Answer:
        """The statistics of the Datastream's numeric results per calendar bucket of the window, of
        what `caller` may read (the read counted)."""
        answer = self.aggregate_in(query, self.access.scope(caller))
        self.access.record_read(caller, "timeseries", answer.datasets)
        return answer

    def latest(self, query: LatestQuery, caller: Caller) -> Answer:
        """The newest Observation of each Datastream `caller` may read that matches (read counted)."""
        answer = self.latest_in(query, self.access.scope(caller))
        self.access.record_read(caller, "timeseries", answer.datasets)
        return answer

    def aggregate_in(self, query: AggregateQuery, scope: DatasetScope = EVERYTHING) -> Answer:
        """The statistics of the Datastream's numeric results per calendar bucket of the window."""
        ds = datastreams
        with read_connection(self.engine) as connection:
            row = connection.execute(
                select(ds.c.id, ds.c.name, ds.c.unit_of_measurement, ds.c.dataset_id).where(
                    ds.c.id == query.datastream_id, *_visible(scope, ds.c.dataset_id)
                )
            ).first()
        if row is None:
            raise NotFound(f"no Datastream {query.datastream_id}")
        try:
            calendar = buckets(query.start, query.end, query.interval, query.zone, MAX_BUCKETS)
        except TooManyBuckets:
            raise BadRequest(
                f"interval: the window from start to end has more than {MAX_BUCKETS} {query.interval} "
                "buckets; choose a longer interval or a shorter window"
            ) from None
        except (OverflowError, ValueError):
            raise BadRequest("start, end: the window reaches beyond the years 1 to 9999") from None
        stats = rollups.aggregate(self.engine, query.datastream_id, calendar.bounds)
        body = {
            "datastream": {"@iot.id": row.id, "name": row.name},
            "unitOfMeasurement": row.unit_of_measurement,
            "interval": query.interval,
            "timeZone": query.zone.key,
            "start": _local(query.start, query.zone),
            "end": _local(query.end, query.zone),
            "stats": list(query.stats),
            "buckets": [
                {
                    "start": _local(first, query.zone),
                    "end": _local(last, query.zone),
                    **_values(bucket, query.stats),
                }
                for first, last, bucket in zip(calendar.starts, calendar.ends, stats, strict=True)
            ],
        }
        return Answer(body, [row.dataset_id])

    def latest_in(self, query: LatestQuery, scope: DatasetScope = EVERYTHING) -> Answer:
        """The newest Observation of each chosen Datastream, with its Thing's location, as GeoJSON."""
        ds, th, op, o = datastreams, things, observed_properties, observations
        loc, tl = locations, thing_locations
        conditions: list[Any] = _visible(scope, ds.c.dataset_id)
        if query.datastream_ids is not None:
            conditions.append(ds.c.id.in_(query.datastream_ids))
        if query.thing_ids is not None:
            conditions.append(ds.c.thing_id.in_(query.thing_ids))
        if query.observed_property is not None:
            name = query.observed_property
            match = op.c.name == name
            if _digits(name) and int(name) <= _MAX_ID:
                match = or_(op.c.id == int(name), match)
            conditions.append(
                ds.c.observed_property_id.in_(select(op.c.id).where(match, *_visible(scope, op.c.dataset_id)))
            )
        location_visible = [*_visible(scope, loc.c.dataset_id), *_visible(scope, th.c.dataset_id)]
        if query.bbox is not None:
            envelope = geom_from_wkb(literal(shapely.to_wkb(shapely.box(*query.bbox)), LargeBinary))
            conditions.append(
                exists(
                    select(tl.c.location_id)
                    .join(loc, loc.c.id == tl.c.location_id)
                    .join(th, th.c.id == tl.c.thing_id)
                    .where(
                        tl.c.thing_id == ds.c.thing_id,
                        bbox_overlaps("locations", loc.c.id, loc.c.geom, query.bbox),
                        spatial_call("st_intersects", loc.c.geom, envelope),
                        *location_visible,
                    )
                )
            )
        # The newest Observation of each Datastream: one backward probe of (datastream, time, id).
        newest = (
            select(o.c.id)
            .where(o.c.datastream_id == ds.c.id)
            .order_by(o.c.phenomenon_time_start.desc(), o.c.id.desc())
            .limit(1)
            .correlate(ds)
            .scalar_subquery()
        )
        # The Thing's current Location: the newest one linked (a Thing usually has one).
        linked = select(func.max(tl.c.location_id)).where(tl.c.thing_id == ds.c.thing_id)
        if location_visible:  # the link table alone when everything is visible
            linked = linked.join(loc, loc.c.id == tl.c.location_id).join(th, th.c.id == tl.c.thing_id)
            linked = linked.where(*location_visible)
        place = linked.correlate(ds).scalar_subquery()
        chosen = (
            select(
                ds.c.id,
                ds.c.name,
                ds.c.unit_of_measurement,
                ds.c.thing_id,
                ds.c.observed_property_id,
                ds.c.dataset_id,
                newest.label("observation_id"),
                place.label("location_id"),
            )
            .where(*conditions)
            .order_by(ds.c.id)
            .limit(query.limit + 1)
            .offset(query.offset)
            .subquery("chosen")
        )
        thing_on = and_(th.c.id == chosen.c.thing_id, *_visible(scope, th.c.dataset_id))
        property_on = and_(op.c.id == chosen.c.observed_property_id, *_visible(scope, op.c.dataset_id))
        statement = (
            select(
                chosen,
                o.c.phenomenon_time_start,
                o.c.phenomenon_time_end,
                o.c.result_type,
                o.c.result_number,
                o.c.result_string,
                o.c.result_json,
                th.c.name.label("thing_name"),
                op.c.name.label("observed_property_name"),
                loc.c.location,
            )
            .select_from(
                chosen.outerjoin(o, o.c.id == chosen.c.observation_id)
                .outerjoin(loc, loc.c.id == chosen.c.location_id)
                .outerjoin(th, thing_on)
                .outerjoin(op, property_on)
            )
            .order_by(chosen.c.id)
        )
        with read_connection(self.engine) as connection:
            rows = connection.execute(statement).all()
        more = query.limit > 0 and len(rows) > query.limit  # limit=0 asks for nothing: no next page
        rows = rows[: query.limit]
        features = [_feature(row._mapping) for row in rows]
        body: dict[str, Any] = {
            "type": "FeatureCollection",
            "numberReturned": len(features),
            "features": features,
        }
        if more:
            body["nextOffset"] = query.offset + query.limit
        return Answer(body, sorted({row.dataset_id for row in rows}, key=lambda d: d or ""))


def _values(bucket: rollups.BucketStats, wanted: Sequence[str]) -> dict[str, Any]:
    empty = bucket.count == 0
    values = {
        "count": bucket.count,
        "min": bucket.minimum,
        "max": bucket.maximum,
        "mean": bucket.mean,
        "sum": None if empty else bucket.total,
    }
    return {name: values[name] for name in wanted}


def _geometry(document: Any) -> Any:
    """The geometry of a Location's GeoJSON (a geometry, or a Feature with one)."""
    if isinstance(document, dict) and document.get("type") == "Feature":
        return document.get("geometry")
    return document


def _feature(row: Any) -> dict[str, Any]:
    observed = row["observation_id"] is not None
    start, end = row["phenomenon_time_start"], row["phenomenon_time_end"]
    return {
        "type": "Feature",
        "id": row["id"],
        "geometry": _geometry(row["location"]),
        "properties": {
            "datastreamId": row["id"],
            "datastreamName": row["name"],
            "thingId": row["thing_id"] if row["thing_name"] is not None else None,
            "thingName": row["thing_name"],
            "observedPropertyId": (
                row["observed_property_id"] if row["observed_property_name"] is not None else None
            ),
            "observedPropertyName": row["observed_property_name"],
            "unitOfMeasurement": row["unit_of_measurement"],
            "phenomenonTime": format_interval(start, end) if observed else None,
            "result": result_value(row) if observed else None,
        },
    }
