"""HTTP binding of the clean-air module at `/api/air/`: parameters in, JSON or CSV out.

The routes read the path and query, call `AirService` in a worker thread with the caller (the
service asks the access point what the caller may read) and shape the answer; every parameter error
is a 400 naming the parameter, an unknown or hidden station a 404.
"""

from __future__ import annotations

from functools import cache
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Path, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from urbantwin.access.http import request_caller
from urbantwin.airquality.service import MAX_INDEX_DAYS, AirService, parse_year

PREFIX = "/api/air"
TAG = "Clean air"
CSV = "text/csv; charset=utf-8"

_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "A parameter is missing or invalid; the message names it."},
    404: {"description": "No such station, or one the caller may not read."},
}
_STATION = Annotated[int, Path(ge=0, le=2**63 - 1, description="the station's Thing @iot.id")]
_YEAR = Annotated[
    str | None, Query(description="the calendar year assessed (local standard time)", examples=["2024"])
]

_CHECK_EXAMPLE = {
    "standard": "eu-2024-2881",
    "pollutant": "pm10",
    "statistic": "day",
    "statisticLabel": {"en": "daily mean", "de": "Tagesmittelwert"},
    "level": 45.0,
    "unit": "µg/m³",
    "permitted": 18,
    "averagedYears": 1,
    "kind": "limit value",
    "source": "Annex I, Section 1, Table 1 (PM10, one day: 45 µg/m³, not to be exceeded more than 18 times "
    "per calendar year)",
    "verdict": "exceeded",
    "verdictLabel": {"en": "exceeded", "de": "überschritten"},
    "text": {
        "de": "45,0 µg/m³ an 19 Tagen überschritten; zulässig: 18-mal.",
        "en": "45.0 µg/m³ exceeded on 19 days; permitted: 18 times.",
    },
    "annualMean": None,
    "exceedances": 19,
    "averagedExceedances": None,
    "yearsAveraged": [],
    "coverage": {"valid": 362, "possible": 365, "fraction": 0.9918, "required": 0.9, "sufficient": True},
    "exceedancePeriods": [
        {
            "end": "2024-01-02T00:00:00+01:00",
            "startUtc": "2023-12-31T23:00:00Z",
            "endUtc": "2024-01-01T23:00:00Z",
        }
    ],
    "exceedancePeriodsTruncated": False,
}

_INDEX_EXAMPLE = {
    "station": {"@iot.id": 2, "name": "Air quality station Mitte"},
    "hours": [
        {
            "end": "2024-01-01T01:00:00+01:00",
            "startUtc": "2023-12-31T23:00:00Z",
            "endUtc": "2024-01-01T00:00:00Z",
            "band": "moderate",
            "colour": "#F0E641",
            "label": {"en": "moderate", "de": "mäßig"},
            "pollutants": {
                "no2": {"value": 31.5, "band": "moderate"},
                "pm10": {"value": 22.1, "band": "fair"},
            },
        }
    ],
}


def _json(body: dict[str, Any]) -> Response:
    return Response(orjson.dumps(body), media_type="application/json")


def request_air(request: Request) -> AirService:
    return request.app.state.air


@cache
def build_router() -> APIRouter:
    """The routes, built once per process; they find the app's service through the request."""
    router = APIRouter(prefix=PREFIX, tags=[TAG])

    @router.get(
        "/standards",
        summary="The air quality standards, their values and data capture rules",
        description="The limit and target values of Directive 2008/50/EC and Directive (EU) 2024/2881 and "
        "the WHO 2021 guideline levels the assessment uses, each with the article or annex that sets it, "
        "and each standard's rules of data capture and aggregation.",
    )
    async def standards_list() -> Response:
        return _json(AirService.standards_document())

    @router.get(
        "/stations",
        summary="Air quality stations that can be assessed",
        description="Things with measurement Datastreams of PM10, PM2.5, NO2, O3 or SO2 in µg/m³ that the "
        "caller may read, with the Datastream assessed per pollutant.",
    )
    async def stations(request: Request) -> Response:
        answer = await run_in_threadpool(request_air(request).stations, request_caller(request))
        return _json(answer.body)

    @router.get(
        "/stations/{station_id}/assessment",
        summary="Assess a station's calendar year under the EU directives and the WHO guidelines",
        description="Per pollutant and value of each standard (2008/50/EC, (EU) 2024/2881, WHO 2021): the "
        "annual mean or the number of exceedances against the permitted number, and the verdict `met`, "
        "`exceeded`, `insufficient_data` (the data capture rules are not met: no annual mean is given, "
        "an exceedance count is a lower bound) or `no_data`, with a sentence in German and English. "
        "Days and years are those of local standard time (no daylight saving time); each exceedance "
        "period is named by its end in local standard time and by its UTC bounds. The ozone target "
        "value is averaged over the year and the two before it, where they are valid. See docs/air.md.",
        responses={
            200: {"content": {"application/json": {"example": {"checks": [_CHECK_EXAMPLE]}}}},
            **_ERRORS,
        },
    )
    async def assessment(request: Request, station_id: _STATION, year: _YEAR = None) -> Response:
        wanted = parse_year(year)
        answer = await run_in_threadpool(
            request_air(request).assessment, station_id, wanted, request_caller(request)
        )
        return _json(answer.body)

    @router.get(
        "/stations/{station_id}/assessment.csv",
        summary="The assessment of a station's year as a CSV report",
        description="One row per value of a standard, with the verdict in German and English and the source "
        "of the value; the same figures as the JSON assessment.",
        responses={200: {"content": {CSV: {}}}, **_ERRORS},
        response_class=Response,
    )
    async def assessment_csv(request: Request, station_id: _STATION, year: _YEAR = None) -> Response:
        wanted = parse_year(year)
        text = await run_in_threadpool(
            request_air(request).assessment_csv, station_id, wanted, request_caller(request)
        )
        filename = f"air-assessment-{station_id}-{wanted}.csv"
        return Response(
            text.encode("utf-8"),
            media_type=CSV,
            headers={"Content-Disposition": f'attachment; filename="{filename}"'},
        )

    @router.get(
        "/stations/{station_id}/index",
        summary="The European Air Quality Index of a station, hour by hour",
        description="For each hour of `[start, end)`: the band of each pollutant (NO2, O3, SO2 by the hourly "
        "mean; PM10 and PM2.5 by the running 24-hour mean of at least 18 valid hours), the station's band "
        "(its worst pollutant's), the band's colour as the viewer shows it and its name in German and "
        f"English. At most {MAX_INDEX_DAYS} days per request. Hours are named by their end in local "
        "standard time and by their UTC bounds.",
        responses={200: {"content": {"application/json": {"example": _INDEX_EXAMPLE}}}, **_ERRORS},
    )
    async def index(
        request: Request,
        station_id: _STATION,
        start: Annotated[
            str | None,
            Query(
                description="start of the window: ISO 8601 date or date-time (local time of the city "
                "without an offset)",
                examples=["2024-01-01"],
            ),
        ] = None,
        end: Annotated[
            str | None, Query(description="end of the window, excluded; as `start`", examples=["2024-01-02"])
        ] = None,
    ) -> Response:
        answer = await run_in_threadpool(
            request_air(request).index, station_id, start, end, request_caller(request)
        )
        return _json(answer.body)

    return router
