"""HTTP binding of the low-cost sensor checks, the forecast check, the all-stations report and the
publication of an assessment at `/api/air/` (beside `routes.py`, same prefix and tag).

Thin: parameters in, the services called in a worker thread with the caller (they ask the access
point), JSON or CSV out; every parameter error a 400 naming the parameter.
"""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Body, Path, Query, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from urbantwin.access.http import request_caller
from urbantwin.airquality import report
from urbantwin.airquality.forecast_service import ForecastCheck, parse_threshold
from urbantwin.airquality.sensor_service import MAX_CHECK_DAYS, SensorChecks, Window
from urbantwin.airquality.sensors import Thresholds
from urbantwin.airquality.service import AirService, parse_year
from urbantwin.errors import BadRequest
from urbantwin.times import parse_instant

PREFIX = "/api/air"
TAG = "Clean air"
CSV = "text/csv; charset=utf-8"

_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "A parameter is missing or invalid; the message names it."},
    404: {"description": "No such station or sensor, or one the caller may not read."},
}
_WRITE_ERRORS: dict[int | str, dict[str, Any]] = {
    **_ERRORS,
    401: {"description": "Writing needs a signed-in caller."},
    403: {"description": "The caller may not write a dataset the run would change."},
}
_YEAR = Annotated[str | None, Query(description="the calendar year", examples=["2021"])]
_START = Annotated[
    str | None,
    Query(
        description="start of the window: ISO 8601 date or date-time (local time of the city without an "
        "offset)",
        examples=["2024-03-01"],
    ),
]
_END = Annotated[
    str | None, Query(description="end of the window, excluded; as `start`", examples=["2024-04-01"])
]


# --- response models (the OpenAPI document's description of the answers) -----------------------------


class Texts(BaseModel):
    de: str
    en: str


class LeadTimeScores(BaseModel):
    leadTime: str = Field(description="whole days from the forecast's resultTime to the day, or `unknown`")
    leadTimeDays: int | None
    n: int = Field(description="days with a forecast and a measured daily mean")
    meanForecast: float | None
    meanMeasured: float | None
    bias: float | None = Field(description="mean of forecast − measured, µg/m³")
    rmse: float | None = Field(description="root mean square error, µg/m³")
    correlation: float | None = Field(description="Pearson's r (none below 3 days)")
    threshold: float = Field(description="exceedance threshold of a daily mean, µg/m³")
    hits: int
    misses: int
    falseAlarms: int
    correctNegatives: int
    hitRate: float | None = Field(description="hits / (hits + misses)")
    falseAlarmRatio: float | None = Field(description="false alarms / (hits + false alarms)")
    text: Texts


class ForecastModel(BaseModel):
    datastream: dict[str, Any]
    pollutant: str
    modelData: bool = Field(description="always true: forecasts are model data, not measurements")
    label: Texts
    attribution: str | None
    disclaimer: str | None
    forecastDays: int
    measured: dict[str, Any] | None
    threshold: float | None
    leadTimes: list[LeadTimeScores]


class ForecastCheckAnswer(BaseModel):
    station: dict[str, Any]
    year: int
    days: Texts
    scores: dict[str, Texts]
    start: str
    end: str
    forecasts: list[ForecastModel]


class CalibrationModel(BaseModel):
    reference: dict[str, Any] = Field(description="the official station (Thing) calibrated against")
    distanceM: float
    resolution: str = Field(description="PT1H or P1D: the reference's averaging period the pairs use")
    start: str
    end: str
    n: int
    slope: float | None
    intercept: float | None
    r2: float | None
    rmse: float | None = Field(description="RMSE of the calibrated values against the reference, µg/m³")
    rmseUncalibrated: float | None
    method: Texts
    formula: str


class SensorResult(BaseModel):
    iot_id: int = Field(alias="@iot.id")
    name: str
    pollutant: str
    thing: int
    humidityDatastream: int | None
    readings: int
    usable: int
    flagged: dict[str, int]
    meanRaw: float | None
    meanCorrected: float | None
    nearestStation: dict[str, Any] | None
    calibration: CalibrationModel | None


class CheckRun(BaseModel):
    start: str
    end: str
    written: bool
    checked: str | None
    thresholds: dict[str, float]
    correction: dict[str, str]
    flags: dict[str, Texts]
    sensors: list[SensorResult]


class Publication(BaseModel):
    dataset: str
    collection: str
    catalogue: str
    features: str
    year: int
    stations: int
    inserted: int
    updated: int
    unchanged: int
    deleted: int
    verdicts: dict[str, int]
    accessLevel: str | None


class SensorListed(BaseModel):
    iot_id: int = Field(alias="@iot.id", description="the PM Datastream")
    name: str
    pollutant: str
    thing: int
    humidityDatastream: int | None = Field(description="the relative humidity Datastream beside it")
    position: list[float] | None = Field(description="longitude, latitude")
    calibration: CalibrationModel | None = Field(description="as the last check run stored it")


class SensorListing(BaseModel):
    sensors: list[SensorListed]


class Reading(BaseModel):
    iot_id: int = Field(alias="@iot.id", description="the Observation")
    phenomenonTime: str
    result: float | None = Field(description="the raw result, as measured (never changed)")
    flags: list[str] | None = Field(description="the flags of the last check run (its resultQuality)")
    usable: bool | None
    corrected: float | None = Field(description="humidity-corrected, µg/m³")
    calibrated: float | None = Field(description="calibrated, µg/m³")


class SensorFlags(BaseModel):
    datastream: dict[str, Any]
    start: str
    end: str
    flags: dict[str, Texts]
    readings: list[Reading]


class DistrictPollutant(BaseModel):
    pollutant: str
    officialStations: int
    officialMean: float | None = Field(description="mean of the stations' valid hourly means, µg/m³")
    officialHours: int
    citizenSensors: int
    citizenMean: float | None = Field(description="mean of the sensors' usable hourly values, µg/m³")
    citizenHours: int
    difference: float | None = Field(description="citizen − official, µg/m³")


class DistrictRow(BaseModel):
    key: str
    name: str
    pollutants: list[DistrictPollutant]


class DistrictComparison(BaseModel):
    collection: str
    start: str
    end: str
    method: Texts
    districts: list[DistrictRow]


_FLAGS_EXAMPLE = {
    "datastream": {"@iot.id": 40, "name": "PM2.5 of SDS011 sensor 5331", "pollutant": "pm25"},
    "start": "2019-05-10T00:00:00Z",
    "end": "2019-05-11T00:00:00Z",
    "flags": {"spike": {"en": "spike", "de": "Ausreißerspitze"}},
    "readings": [
        {
            "@iot.id": 9120,
            "phenomenonTime": "2019-05-10T10:56:57Z",
            "result": 51.83,
            "flags": ["spike"],
            "usable": False,
            "corrected": 48.9,
            "calibrated": None,
        }
    ],
}


_FORECAST_EXAMPLE = {
    "station": {"@iot.id": 1, "name": "Air quality station Mitte"},
    "year": 2021,
    "forecasts": [
        {
            "datastream": {"@iot.id": 12, "name": "PM2.5 forecast CAMS ENSEMBLE at Mitte"},
            "pollutant": "pm25",
            "modelData": True,
            "threshold": 25.0,
            "leadTimes": [
                {
                    "leadTime": "unknown",
                    "leadTimeDays": None,
                    "n": 5,
                    "bias": 0.6,
                    "rmse": 5.158,
                    "correlation": 0.7383,
                    "threshold": 25.0,
                    "hits": 1,
                    "misses": 1,
                    "falseAlarms": 1,
                    "correctNegatives": 2,
                    "hitRate": 0.5,
                    "falseAlarmRatio": 0.5,
                }
            ],
        }
    ],
}


def _json(body: dict[str, Any]) -> Response:
    return Response(orjson.dumps(body), media_type="application/json")


def _csv(text: str, filename: str) -> Response:
    return Response(
        text.encode("utf-8"),
        media_type=CSV,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def _air(request: Request) -> AirService:
    return request.app.state.air


def _window(air: AirService, start: str | None, end: str | None) -> Window:
    if not start or not end:
        raise BadRequest("start, end: both required, ISO 8601 dates or date-times (e.g. 2024-03-01)")
    first: datetime = parse_instant(start, "start", air.zone)
    last: datetime = parse_instant(end, "end", air.zone)
    return Window.parse(first, last)


def _thresholds(body: Any) -> Thresholds:
    if body is None:
        return Thresholds()
    if not isinstance(body, dict):
        raise BadRequest('body: expected a JSON object of thresholds, e.g. {"spike_delta": 30}')
    return Thresholds().overridden(body)


@cache
def build_router() -> APIRouter:
    """The routes, built once per process; they find the app's service through the request."""
    router = APIRouter(prefix=PREFIX, tags=[TAG])

    @router.get(
        "/report.csv",
        summary="The assessment of every station of a year as one CSV report",
        description="One row per station and value of a standard (2008/50/EC, (EU) 2024/2881, WHO 2021), "
        "with the verdict in German and English: the stations the caller may read.",
        responses={200: {"content": {CSV: {}}}, **_ERRORS},
        response_class=Response,
    )
    async def report_csv(request: Request, year: _YEAR = None) -> Response:
        wanted = parse_year(year)
        text = await run_in_threadpool(report.report_csv, _air(request), wanted, request_caller(request))
        return _csv(text, f"air-assessment-{wanted}.csv")

    @router.post(
        "/assessment/publish",
        summary="Publish a year's assessment of every station as a catalogue dataset",
        description="The assessment of every station the caller may read becomes the feature collection "
        "and catalogue dataset `air-assessment-<year>` (one feature per station with its verdicts), with "
        "the most restrictive access rules of the stations' datasets; publishing again replaces it. The "
        "caller must be allowed to write the stations' datasets.",
        response_model=Publication,
        responses=_WRITE_ERRORS,
    )
    async def publish(request: Request, year: _YEAR = None) -> Response:
        wanted = parse_year(year)
        answer = await run_in_threadpool(report.publish, _air(request), wanted, request_caller(request))
        return _json(answer.body)

    @router.get(
        "/stations/{station_id}/forecast-check",
        summary="Check a station's forecasts (model data) against its measurements",
        description="For each forecast Datastream of the station (`properties.kind` = `model forecast`, "
        "e.g. CAMS): per lead time, over the days of the UTC year with both a forecast and a measured "
        "daily mean, the bias, RMSE and correlation, and against a threshold (by default the daily limit "
        "value under Directive (EU) 2024/2881) the hits, misses, false alarms, hit rate and false alarm "
        "ratio of exceedance days. Forecasts are labelled model data. See docs/air.md.",
        response_model=ForecastCheckAnswer,
        responses={200: {"content": {"application/json": {"example": _FORECAST_EXAMPLE}}}, **_ERRORS},
    )
    async def forecast_check(
        request: Request,
        station_id: Annotated[int, Path(ge=0, le=2**63 - 1, description="the station's Thing @iot.id")],
        year: _YEAR = None,
        threshold: Annotated[
            str | None, Query(description="exceedance threshold of a daily mean in µg/m³", examples=["25"])
        ] = None,
    ) -> Response:
        wanted = parse_year(year)
        level = parse_threshold(threshold)
        checks = ForecastCheck(_air(request))
        answer = await run_in_threadpool(checks.check, station_id, wanted, request_caller(request), level)
        return _json(answer.body)

    @router.get(
        "/sensors",
        summary="Low-cost PM sensors and their calibrations",
        description="Datastreams of PM10 and PM2.5 of low-cost sensors (sensor.community, or "
        "`properties.low_cost`) the caller may read, with the humidity Datastream beside each and the "
        "calibration the last check run stored.",
        response_model=SensorListing,
        responses=_ERRORS,
    )
    async def sensors(request: Request) -> Response:
        body = await run_in_threadpool(SensorChecks(_air(request)).listing, request_caller(request))
        return _json(body)

    @router.post(
        "/sensors/check",
        summary="Check low-cost sensors: humidity correction, fault flags, co-location calibration",
        description="Over `[start, end)` (at most "
        f"{MAX_CHECK_DAYS} days): each reading is humidity-corrected (κ-Köhler, Crilley et al. 2018) and "
        "flagged (`out_of_range`, `spike`, `outlier`, `stuck`, `humid`, `no_humidity`), and each sensor "
        "calibrated against the nearest official station. With `write=true` (the default) the flags are "
        "stored as each Observation's `resultQuality`, the corrected values in its "
        "`parameters.airquality` (the result is never changed) and the calibration in the Datastream's "
        "`properties.calibration`; this needs write rights on the sensors' datasets. The body may "
        'override thresholds by name, e.g. `{"spike_delta": 30}`.',
        response_model=CheckRun,
        responses=_WRITE_ERRORS,
    )
    async def sensors_check(
        request: Request,
        start: _START = None,
        end: _END = None,
        sensor: Annotated[int | None, Query(ge=0, le=2**63 - 1, description="one Datastream only")] = None,
        write: Annotated[bool, Query(description="store the flags and corrections")] = True,
        thresholds: Annotated[
            dict[str, Any] | None, Body(examples=[{"spike_delta": 30, "kappa": 0.3}])
        ] = None,
    ) -> Response:
        air = _air(request)
        window = _window(air, start, end)
        chosen = _thresholds(thresholds)
        body = await run_in_threadpool(
            SensorChecks(air).run, request_caller(request), window, chosen, sensor, write
        )
        return _json(body)

    @router.get(
        "/sensors/{sensor_id}/flags",
        summary="The stored flags and corrected values of a sensor's readings",
        description="Each reading of `[start, end)` with its result (raw, as measured), the flags and "
        "whether it is usable (as the last check run stored them in `resultQuality`), and its "
        "humidity-corrected and calibrated values.",
        response_model=SensorFlags,
        responses={200: {"content": {"application/json": {"example": _FLAGS_EXAMPLE}}}, **_ERRORS},
    )
    async def flags(
        request: Request,
        sensor_id: Annotated[int, Path(ge=0, le=2**63 - 1, description="the sensor's PM Datastream @iot.id")],
        start: _START = None,
        end: _END = None,
    ) -> Response:
        air = _air(request)
        window = _window(air, start, end)
        body = await run_in_threadpool(SensorChecks(air).flags, request_caller(request), sensor_id, window)
        return _json(body)

    @router.get(
        "/districts/comparison",
        summary="Official stations and citizen sensors side by side, per district",
        description="Per district of the city profile's district collection (the first, or `collection`) "
        "and pollutant: the mean of the official stations' valid hourly means and the mean of the "
        "citizen sensors' checked hourly values (calibrated, else humidity-corrected) over "
        "`[start, end)`, with the number of stations, sensors and hours, and their difference.",
        response_model=DistrictComparison,
        responses=_ERRORS,
    )
    async def districts(
        request: Request,
        start: _START = None,
        end: _END = None,
        collection: Annotated[
            str | None, Query(description="a district collection of the city profile")
        ] = None,
    ) -> Response:
        air = _air(request)
        window = _window(air, start, end)
        body = await run_in_threadpool(
            SensorChecks(air).districts, request_caller(request), window, collection
        )
        return _json(body)

    return router
