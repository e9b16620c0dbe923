"""Sensor means per district: the mean of the sensors' values inside each area of a feature collection.

For the viewer's district choropleth (issue 5, "sensor means"): for one ObservedProperty, each
Datastream whose Thing has a Location contributes its latest numeric value (or, with `time`, its last
value in the hold period up to that time) to the area of a district collection (the city's
districts, as its profile names them) that contains the location. Every area is listed with its
number of sensors, so a map can draw the areas without sensors as "no data" rather than as zero.

With `occupied`, only the areas that have sensors are listed: that is how a collection of many small
areas works, such as the buildings (a building with a sensor inside takes its value, so the viewer can
colour the buildings as of the time slider's time).

Computed here rather than in the browser: the viewer then needs one small JSON document (a few dozen
areas) instead of every district polygon and every sensor, and a time step of the slider costs one
request. The spatial join runs in Python with shapely's STRtree (a few dozen polygons, at most a few
thousand points: milliseconds), so the SQL stays the same on both backends; what a reader may see is
decided by the access scope exactly as for `latest` (collection, Datastreams, Things and Locations of
datasets the reader may read).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import shapely
from sqlalchemy import Engine, and_, func, or_, select

from urbantwin.access.gate import Access, Caller
from urbantwin.access.policy import EVERYTHING, DatasetScope
from urbantwin.city_profile import DEFAULT_TIME_ZONE, NO_CITY, CityProfile
from urbantwin.errors import BadRequest, NotFound
from urbantwin.store import schema
from urbantwin.store.features_schema import collections, features
from urbantwin.store.replicas import read_connection
from urbantwin.store.schema import (
    datastreams,
    locations,
    observations,
    observed_properties,
    thing_locations,
    things,
)
from urbantwin.timeseries.service import Answer, parse_instant, parse_zone

#: Hours a value stays "current" at a chosen time, unless the request says otherwise (a day, as the
#: viewer's replay of the sensor colours).
DEFAULT_HOLD_HOURS = 24
MAX_HOLD_HOURS = 24 * 366
#: Areas one request may list (a district collection has tens to hundreds).
MAX_AREAS = 5_000
#: Areas one request may search for sensors with `occupied` (a city's buildings: some hundred thousand).
MAX_OCCUPIED_SOURCE = 500_000
#: Collections whose polygons and search tree are kept between requests (a time slider asks often).
_CACHED_COLLECTIONS = 8
_MAX_ID = 2**63 - 1
_LATEST = "mean of the latest numeric value of each sensor inside the area"
_AS_OF = "mean of each sensor's last numeric value in the hold period up to the time, inside the area"
_NUMERIC = (schema.RESULT_NUMBER, schema.RESULT_INTEGER, schema.RESULT_BOOLEAN)


@dataclass(frozen=True)
class DistrictQuery:
    collection: str
    observed_property: str
    time: datetime | None = None
    hold: timedelta = timedelta(hours=DEFAULT_HOLD_HOURS)
    #: Only the areas with sensors (for collections of many areas, such as buildings).
    occupied: bool = False


@dataclass(frozen=True)
class _Areas:
    """A collection's areas as the spatial join needs them, kept while the collection is unchanged."""

    keys: list[str]
    names: list[Any]
    tree: shapely.STRtree
    count: int


def parse_districts(
    collection: str | None,
    observed_property: str | None,
    time: str | None,
    hold: str | None,
    occupied: str | None = None,
    default_zone: str = DEFAULT_TIME_ZONE,
) -> DistrictQuery:
    """The query from the request's parameters; each problem a `BadRequest` naming its parameter."""
    if collection is None or not collection.strip():
        raise BadRequest("collection: required, the id of a collection of areas (e.g. districts)")
    if observed_property is None or not observed_property.strip():
        raise BadRequest("observedProperty: required, an ObservedProperty id or name (e.g. PM10)")
    hours: float = DEFAULT_HOLD_HOURS
    if hold is not None and hold != "":
        try:
            hours_given = float(hold)
        except ValueError:
            hours_given = math.nan
        if not math.isfinite(hours_given) or not 0 < hours_given <= MAX_HOLD_HOURS:
            raise BadRequest(f"hold: expected hours, more than 0 and at most {MAX_HOLD_HOURS}, got {hold!r}")
        hours = hours_given
    if hold not in (None, "") and (time is None or time == ""):
        raise BadRequest("hold: only with time (the latest values need no hold period)")
    moment = (
        None if time is None or time == "" else parse_instant(time, "time", parse_zone(None, default_zone))
    )
    if occupied not in (None, "", "true", "false"):
        raise BadRequest(f"occupied: expected true or false, got {occupied!r}")
    return DistrictQuery(
        collection.strip(), observed_property.strip(), moment, timedelta(hours=hours), occupied == "true"
    )


def _visible(scope: DatasetScope, column: Any) -> list[Any]:
    condition = scope.allows_column(column)
    return [] if condition is None else [condition]


class DistrictMeans:
    """Sensor means per area of a collection; knows no HTTP (routes.py binds it)."""

    def __init__(self, engine: Engine, access: Access, city: CityProfile = NO_CITY) -> None:
        self.engine = engine
        self.access = access
        #: Which property names a district, per collection (the city's profile; `name` elsewhere).
        self.city = city
        self._areas: dict[tuple[Any, ...], _Areas] = {}

    def means(self, query: DistrictQuery, caller: Caller) -> Answer:
        """Statistics per area of what `caller` may read (the read counted)."""
        answer = self.means_in(query, self.access.scope(caller))
        self.access.record_read(caller, "timeseries", answer.datasets)
        return answer

    def means_in(self, query: DistrictQuery, scope: DatasetScope = EVERYTHING) -> Answer:
        with read_connection(self.engine) as connection:
            collection = connection.execute(
                select(
                    collections.c.id,
                    collections.c.dataset_id,
                    collections.c.version,
                    collections.c.updated,
                ).where(collections.c.id == query.collection, *_visible(scope, collections.c.dataset_id))
            ).first()
            if collection is None:
                raise NotFound(f"no collection {query.collection!r}")
            areas = self._areas_of(connection, collection, query.occupied)
            properties = connection.execute(self._properties(query.observed_property, scope)).all()
            if not properties:
                raise NotFound(f"no ObservedProperty {query.observed_property!r}")
            sensors = connection.execute(self._sensors([p.id for p in properties], query, scope)).all()
        return Answer(
            self._summarise(query, collection.id, areas, properties, sensors),
            sorted({collection.dataset_id, *(s.dataset_id for s in sensors)}, key=lambda d: d or ""),
        )

    def _areas_of(self, connection: Any, collection: Any, occupied: bool) -> _Areas:
        """The collection's areas, read again only when the collection changed (its version or time)."""
        stamp = (collection.id, collection.version, collection.updated)
        cached = self._areas.get(stamp)
        limit = MAX_OCCUPIED_SOURCE if occupied else MAX_AREAS
        if cached is None:
            rows = connection.execute(
                select(features.c.feature_key, features.c.properties, features.c.geom)
                .where(features.c.collection_id == collection.id, features.c.geom.isnot(None))
                .order_by(features.c.id)
                .limit(MAX_OCCUPIED_SOURCE + 1)
            ).all()
            polygons = shapely.from_wkb([row.geom for row in rows])
            spec = self.city.districts_of(collection.id)
            key = spec.name_property if spec is not None else "name"
            names = [row.properties.get(key) if isinstance(row.properties, dict) else None for row in rows]
            cached = _Areas([row.feature_key for row in rows], names, shapely.STRtree(polygons), len(rows))
            if len(self._areas) >= _CACHED_COLLECTIONS:
                self._areas.clear()
            self._areas[stamp] = cached
        if cached.count > limit:
            hint = "" if occupied else "; occupied=true lists only the areas with sensors"
            raise BadRequest(f"collection: {collection.id!r} has more than {limit} areas{hint}")
        return cached

    @staticmethod
    def _properties(name: str, scope: DatasetScope) -> Any:
        op = observed_properties
        match = op.c.name == name
        if name.isascii() and name.isdigit() and int(name) <= _MAX_ID:
            match = or_(op.c.id == int(name), match)
        return select(op.c.id, op.c.name).where(match, *_visible(scope, op.c.dataset_id)).order_by(op.c.id)

    @staticmethod
    def _sensors(property_ids: list[int], query: DistrictQuery, scope: DatasetScope) -> Any:
        """Each visible Datastream of the properties with its Thing's visible location and the value
        that counts: its newest Observation (up to `time`, within the hold period, when given)."""
        ds, o, loc, tl, th = datastreams, observations, locations, thing_locations, things
        newest: Any = select(o.c.id).where(o.c.datastream_id == ds.c.id)
        if query.time is not None:
            newest = newest.where(
                o.c.phenomenon_time_start <= query.time, o.c.phenomenon_time_start > query.time - query.hold
            )
        newest = (
            newest.order_by(o.c.phenomenon_time_start.desc(), o.c.id.desc())
            .limit(1)
            .correlate(ds)
            .scalar_subquery()
        )
        location_visible = [*_visible(scope, loc.c.dataset_id), *_visible(scope, th.c.dataset_id)]
        place = select(func.max(tl.c.location_id)).where(tl.c.thing_id == ds.c.thing_id)
        if location_visible:
            place = place.join(loc, loc.c.id == tl.c.location_id).join(th, th.c.id == tl.c.thing_id)
            place = place.where(*location_visible)
        chosen = (
            select(
                ds.c.id,
                ds.c.unit_of_measurement,
                ds.c.dataset_id,
                newest.label("observation_id"),
                place.correlate(ds).scalar_subquery().label("location_id"),
            )
            .where(ds.c.observed_property_id.in_(property_ids), *_visible(scope, ds.c.dataset_id))
            .subquery("chosen")
        )
        numeric = and_(o.c.id == chosen.c.observation_id, o.c.result_type.in_(_NUMERIC))
        return (
            select(
                chosen.c.id, chosen.c.unit_of_measurement, chosen.c.dataset_id, o.c.result_number, loc.c.geom
            )
            .select_from(chosen.join(loc, loc.c.id == chosen.c.location_id).outerjoin(o, numeric))
            .order_by(chosen.c.id)
        )

    @staticmethod
    def _summarise(
        query: DistrictQuery,
        collection: str,
        areas: _Areas,
        properties: Sequence[Any],
        sensors: Sequence[Any],
    ) -> dict[str, Any]:
        points = [shapely.from_wkb(sensor.geom) for sensor in sensors]
        # A location is a point as a rule; any other geometry counts where its representative point is.
        points = [p if p.geom_type == "Point" else p.representative_point() for p in points]
        home = np.full(len(points), -1)
        if areas.count and points:
            inside, area_index = areas.tree.query(points, predicate="within")
            # A point on the border of two areas counts once, for the first of them.
            for point, area in sorted(zip(inside.tolist(), area_index.tolist(), strict=True), reverse=True):
                home[point] = area
        values: list[list[float]] = [[] for _ in range(areas.count)]
        located = [0] * areas.count
        for sensor, area in zip(sensors, home.tolist(), strict=True):
            if area < 0:
                continue
            located[area] += 1
            if sensor.result_number is not None and math.isfinite(sensor.result_number):
                values[area].append(float(sensor.result_number))
        rows = []
        for key, name, found, count in zip(areas.keys, areas.names, values, located, strict=True):
            if query.occupied and not count:
                continue
            rows.append(
                {
                    "id": key,
                    "name": name,
                    "sensors": count,
                    "count": len(found),
                    "mean": sum(found) / len(found) if found else None,
                    "min": min(found) if found else None,
                    "max": max(found) if found else None,
                }
            )
        units = [s.unit_of_measurement for s in sensors if s.unit_of_measurement]
        return {
            "collection": collection,
            "observedProperty": [{"@iot.id": p.id, "name": p.name} for p in properties],
            "unitOfMeasurement": units[0] if units else None,
            "time": None if query.time is None else query.time.isoformat().replace("+00:00", "Z"),
            "holdHours": None if query.time is None else query.hold.total_seconds() / 3600,
            "statistic": _LATEST if query.time is None else _AS_OF,
            "sensors": len(sensors),
            "outside": int((home < 0).sum()),
            "districts": rows,
        }
