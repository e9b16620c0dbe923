"""HTTP binding of the time-series extension at `/api/timeseries/`: parameters in, JSON out.

The routes parse the query string (each error a 400 naming the parameter) and call `TimeseriesService`
in a worker thread with the caller; the service asks the access point what the caller may read and
counts the read (audited when it touched restricted datasets), as every service of the platform does.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Annotated, Any
from urllib.parse import urlencode

import orjson
from fastapi import APIRouter, Path, Query, Request
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from urbantwin.access.gate import Access
from urbantwin.access.http import request_caller
from urbantwin.city_profile import NO_CITY, CityProfile
from urbantwin.http import public_base
from urbantwin.settings import Settings
from urbantwin.timeseries.calendar import INTERVALS
from urbantwin.timeseries.districts import DEFAULT_HOLD_HOURS, MAX_HOLD_HOURS, DistrictMeans, parse_districts
from urbantwin.timeseries.service import (
    DEFAULT_ZONE,
    MAX_BUCKETS,
    STATS,
    TimeseriesService,
    parse_aggregate,
    parse_latest,
)

PREFIX = "/api/timeseries"
TAG = "Time series (extension)"
GEOJSON = "application/geo+json"
EXTENSION = (
    "**Extension** of this platform, not part of OGC SensorThings API 1.1 (which has no aggregation "
    "and no latest-values query); the entities are those of the SensorThings API at `/v1.1/`. "
)

_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "A parameter is missing or invalid; the message names it."},
    404: {"description": "No such Datastream, or one the caller may not read."},
}

_AGGREGATE_EXAMPLE = {
    "datastream": {"@iot.id": 1, "name": "Station Mitte PM10"},
    "unitOfMeasurement": {"name": "microgram per cubic metre", "symbol": "µg/m³", "definition": "ucum:ug/m3"},
    "interval": "day",
    "timeZone": "Europe/Berlin",
    "start": "2024-03-30T00:00:00+01:00",
    "end": "2024-04-01T00:00:00+02:00",
    "stats": ["mean", "min", "max", "count"],
    "buckets": [
        {
            "start": "2024-03-30T00:00:00+01:00",
            "end": "2024-03-31T00:00:00+01:00",
            "mean": 21.4,
            "min": 9.0,
            "max": 38.5,
            "count": 24,
        },
        {
            "start": "2024-03-31T00:00:00+01:00",
            "end": "2024-04-01T00:00:00+02:00",
            "mean": 18.2,
            "min": 7.5,
            "max": 30.0,
            "count": 23,
        },
    ],
}

_LATEST_EXAMPLE = {
    "type": "FeatureCollection",
    "numberReturned": 1,
    "features": [
        {
            "type": "Feature",
            "id": 1,
            "geometry": {"type": "Point", "coordinates": [12.3731, 51.3397]},
            "properties": {
                "datastreamId": 1,
                "datastreamName": "Station Mitte PM10",
                "thingId": 1,
                "thingName": "Station Mitte",
                "observedPropertyId": 1,
                "observedPropertyName": "PM10",
                "unitOfMeasurement": {"name": "microgram per cubic metre", "symbol": "µg/m³"},
                "phenomenonTime": "2024-11-30T23:00:00Z",
                "result": 17.3,
            },
        }
    ],
}


def _json(body: dict[str, Any], media_type: str = "application/json") -> Response:
    return Response(orjson.dumps(body), media_type=media_type)


@dataclass(frozen=True)
class Timeseries:
    """What the routes serve on one app (`app.state.timeseries`): the aggregates and latest values,
    and the district means."""

    service: TimeseriesService
    districts: DistrictMeans
    #: The zone of calendars and local times when a request names none: the city's.
    zone: str = DEFAULT_ZONE

    @classmethod
    def of(
        cls, engine: Engine, settings: Settings, access: Access, city: CityProfile = NO_CITY
    ) -> Timeseries:
        service = TimeseriesService(engine, settings, access)
        return cls(service, DistrictMeans(engine, access, city), city.time_zone)


def request_timeseries(request: Request) -> Timeseries:
    return request.app.state.timeseries


@cache
def build_router() -> APIRouter:
    """The routes, built once per process and shared by every app (FastAPI analyses each route's
    signature as it is added, which made much of the start of an app): they find the app's
    services through the request."""
    router = APIRouter(prefix=PREFIX, tags=[TAG])

    @router.get(
        "/datastreams/{datastream_id}/aggregate",
        summary="Aggregate a Datastream over calendar intervals (extension)",
        description=EXTENSION
        + "Count, minimum, maximum, mean and sum of the Datastream's numeric results (numbers; "
        "booleans count as 0 and 1; other results are left out) per calendar hour, day, ISO week "
        "(from Monday), month or year of a time zone, over the window `[start, end)`. An Observation "
        "belongs to the bucket of the start of its phenomenonTime. Buckets follow the local clock: "
        "in Europe/Berlin the last Sunday of March has 23 hours and the last Sunday of October 25. "
        "Every bucket of the window is listed, empty ones with count 0 and the other values null; "
        "`start`/`end` of a bucket are its calendar extent in local time with the UTC offset (the "
        "first and last may reach beyond the window, their values only cover the window). At most "
        f"{MAX_BUCKETS} buckets per request. Answers come from hourly rollups kept current at query "
        "time, so they include every Observation committed before the request.",
        responses={200: {"content": {"application/json": {"example": _AGGREGATE_EXAMPLE}}}, **_ERRORS},
    )
    async def aggregate(
        request: Request,
        datastream_id: Annotated[int, Path(ge=0, le=2**63 - 1, description="the Datastream's @iot.id")],
        interval: Annotated[
            str | None,
            Query(
                description=f"the calendar interval of a bucket: {', '.join(INTERVALS)} "
                "(week: ISO, from Monday)",
                json_schema_extra={"enum": list(INTERVALS)},
            ),
        ] = None,
        stats: Annotated[
            str | None,
            Query(
                description=f"comma-separated statistics out of {', '.join(STATS)} (default: all), "
                "in the order wanted",
                examples=["mean,min,max,count"],
            ),
        ] = None,
        start: Annotated[
            str | None,
            Query(
                description="start of the window, included: an ISO 8601 date (`2024-01-01`, local "
                "midnight in `tz`) or date-time, with an offset or `Z`, else local time in `tz`",
                examples=["2024-01-01"],
            ),
        ] = None,
        end: Annotated[
            str | None,
            Query(description="end of the window, excluded; as `start`", examples=["2025-01-01"]),
        ] = None,
        tz: Annotated[
            str | None,
            Query(
                description="IANA time zone of the calendar and of local times (default: the "
                f"city's, from its profile; without one {DEFAULT_ZONE})",
                examples=["Europe/Berlin", "UTC", "Asia/Kolkata"],
            ),
        ] = None,
    ) -> Response:
        zone = request_timeseries(request).zone
        query = parse_aggregate(datastream_id, interval, stats, start, end, tz, zone)
        answer = await run_in_threadpool(
            request_timeseries(request).service.aggregate, query, request_caller(request)
        )
        return _json(answer.body)

    @router.get(
        "/latest",
        summary="Latest Observation of many Datastreams, as GeoJSON for map layers (extension)",
        description=EXTENSION
        + "The newest Observation (by phenomenonTime) of each Datastream chosen by the filters, which "
        "combine with AND (no filter: every Datastream the caller may read), with the Thing's "
        "location as the feature's geometry (null when the Thing has no Location) and the "
        "Datastream, Thing, ObservedProperty, unit, phenomenonTime and result as flat properties, "
        "so a map library styles them directly. A Datastream without Observations has a null "
        "phenomenonTime and result. Ordered by Datastream id; when more match than `limit`, the "
        "answer has `nextOffset` and a `next` link.",
        responses={200: {"content": {GEOJSON: {"example": _LATEST_EXAMPLE}}}, 400: _ERRORS[400]},
    )
    async def latest(
        request: Request,
        datastreams: Annotated[
            str | None, Query(description="comma-separated Datastream ids", examples=["1,2,3"])
        ] = None,
        thing: Annotated[
            str | None, Query(description="comma-separated Thing ids: their Datastreams", examples=["1"])
        ] = None,
        observed_property: Annotated[
            str | None,
            Query(
                alias="observedProperty",
                description="an ObservedProperty id or name: the Datastreams observing it",
                examples=["PM10"],
            ),
        ] = None,
        bbox: Annotated[
            str | None,
            Query(
                description="minx,miny,maxx,maxy in WGS 84 longitude/latitude: Datastreams whose "
                "Thing has a Location that intersects the box",
                examples=["12.30,51.30,12.45,51.38"],
            ),
        ] = None,
        limit: Annotated[
            str | None,
            Query(
                description="at most this many Datastreams; default and largest: the server's page "
                "size limit (URBANTWIN_MAX_TOP, 10,000 unless configured)"
            ),
        ] = None,
        offset: Annotated[str | None, Query(description="Datastreams to skip (paging)")] = None,
    ) -> Response:
        service = request_timeseries(request).service
        top = service.settings.max_top
        query = parse_latest(datastreams, thing, observed_property, bbox, limit, offset, top)
        answer = await run_in_threadpool(service.latest, query, request_caller(request))
        body = answer.body
        if "nextOffset" in body:
            params = [(k, v) for k, v in request.query_params.multi_items() if k != "offset"]
            params.append(("offset", str(body["nextOffset"])))
            href = public_base(request, service.settings) + request.url.path + "?" + urlencode(params)
            body["links"] = [{"rel": "next", "type": GEOJSON, "href": href}]
        return _json(body, GEOJSON)

    @router.get(
        "/districts",
        summary="Sensor means per district of a collection of areas (extension)",
        description=EXTENSION
        + "For one ObservedProperty, the mean, minimum and maximum of the numeric values of the "
        "sensors (Datastreams whose Thing has a Location) inside each area of a feature collection "
        "(e.g. the city's districts), and how many sensors each area has (`sensors`: located there; `count`: "
        "with a value). Without `time` each sensor counts with its latest value; with `time`, with its "
        "last value in the `hold` hours up to that time. Every area is listed; one without sensors "
        "has `sensors` 0 and a null mean; with `occupied=true` only the areas with sensors are listed "
        "(for collections of many areas, e.g. the buildings). Only what the caller may read is counted.",
        responses={400: _ERRORS[400], 404: {"description": "No such collection or ObservedProperty."}},
    )
    async def districts(
        request: Request,
        collection: Annotated[
            str | None, Query(description="the id of a collection of areas", examples=["districts"])
        ] = None,
        observed_property: Annotated[
            str | None,
            Query(alias="observedProperty", description="an ObservedProperty id or name", examples=["PM10"]),
        ] = None,
        time: Annotated[
            str | None,
            Query(description="ISO 8601 date-time: the values as of then (default: the latest values)"),
        ] = None,
        hold: Annotated[
            str | None,
            Query(
                description=f"with `time`: hours a value stays current (default {DEFAULT_HOLD_HOURS}, "
                f"at most {MAX_HOLD_HOURS})"
            ),
        ] = None,
        occupied: Annotated[
            str | None,
            Query(description="true: list only the areas that have sensors (default false)"),
        ] = None,
    ) -> Response:
        zone = request_timeseries(request).zone
        query = parse_districts(collection, observed_property, time, hold, occupied, zone)
        answer = await run_in_threadpool(
            request_timeseries(request).districts.means, query, request_caller(request)
        )
        return _json(answer.body)

    return router
