"""HTTP binding of the residents' exposure to air pollution per district at
`/api/districts/{collection}/air` (one year) and `/api/districts/{collection}/air/series` (year by
year); the method in `districts/air.py` and docs/airquality.md.

Thin: the query string in, `AirExposure` called in a worker thread with the caller (it asks the
access point), JSON out; a bad parameter is a 400 naming it, an unknown or hidden collection a 404.
Mounted before the district router, whose `/{collection}/{district:path}` would take these paths.
"""

from __future__ import annotations

from functools import cache
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from urbantwin.access.http import request_caller
from urbantwin.districts.air import MAX_YEARS, METHODS, AirExposure

PREFIX = "/api/districts"
TAG = "District profiles"

_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "A bad parameter; the message names it."},
    404: {"description": "No such district collection, or one the caller may not read."},
}
_METHOD = Annotated[
    str | None,
    Query(
        description=f"how the stations' annual means reach the residents: {' or '.join(METHODS)} "
        "(default idw: inverse-distance weighting, power 2)",
        examples=["idw"],
    ),
]


class Texts(BaseModel):
    de: str
    en: str


class Exceedance(BaseModel):
    level: float = Field(description="the standard's annual-mean level, µg/m³")
    residents: float | None = Field(description="residents living where the estimate exceeds the level")
    share: float | None = Field(description="their share of the district's residents (0–1)")


class PollutantExposure(BaseModel):
    exposure: float | None = Field(description="population-weighted annual mean, µg/m³")
    min: float | None = Field(description="lowest estimate at a resident's place, µg/m³")
    max: float | None = Field(description="highest estimate at a resident's place, µg/m³")
    exceedances: dict[str, Exceedance] = Field(description="per standard id")


class DistrictExposure(BaseModel):
    id: str
    name: Any
    residents: float | None
    populationYears: list[int] = Field(description="the years of the population figures used")
    placement: str = Field(description="buildings, area, mixed or none (see placementLabels)")
    pollutants: dict[str, PollutantExposure | None] = Field(
        description="no2, pm10, pm25; null where no station has a valid annual mean or nobody lives"
    )


class StationAnnualMean(BaseModel):
    value: float | None = Field(description="annual mean, µg/m³; null: insufficient data capture")
    capture: float | None = Field(description="share of valid hours (days for daily series)")
    used: bool = Field(description="whether the estimate uses it")


class StationUsed(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    iot_id: int = Field(alias="@iot.id")
    name: str
    position: list[float] | None = Field(description="lon, lat (WGS 84)")
    annualMeans: dict[str, StationAnnualMean]


class Level(BaseModel):
    standard: str
    name: str
    pollutant: str
    level: float
    kind: str


class Method(BaseModel):
    key: str
    label: Texts
    power: float | None


_EXAMPLE: dict[str, Any] = {
    "collection": "districts",
    "placedOn": "districts",
    "method": {"key": "idw", "label": METHODS["idw"], "power": 2.0},
    "caveat": {"en": "An estimate from few stations: …", "de": "Eine Schätzung aus wenigen Messstationen: …"},
    "noStations": {"en": "No station with a valid annual mean …", "de": "Keine Messstation mit gültigem …"},
    "placementLabels": {"buildings": {"en": "residents placed on …", "de": "Einwohner auf …"}},
    "unit": "µg/m³",
    "levels": [
        {
            "standard": "eu-2024-2881",
            "name": "Directive (EU) 2024/2881",
            "pollutant": "no2",
            "level": 20.0,
            "kind": "limit value",
        }
    ],  # fmt: skip
    "year": 2023,
    "notes": [],
    "stations": [
        {
            "@iot.id": 3,
            "name": "Station Mitte",
            "position": [12.37, 51.34],
            "annualMeans": {"no2": {"value": 24.1, "capture": 0.98, "used": True}},
        }
    ],
    "districts": [
        {
            "id": "00",
            "name": "Zentrum",
            "residents": 3120.0,
            "populationYears": [2023],
            "placement": "buildings",
            "pollutants": {
                "no2": {
                    "exposure": 23.4,
                    "min": 21.9,
                    "max": 24.1,
                    "exceedances": {"eu-2024-2881": {"level": 20.0, "residents": 3120.0, "share": 1.0}},
                },
                "pm10": None,
                "pm25": None,
            },
        }
    ],
}


class ExposureAnswer(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [_EXAMPLE]})

    collection: str
    placedOn: str = Field(description="the district collection whose residents are placed")
    method: Method
    caveat: Texts
    noStations: Texts
    placementLabels: dict[str, Texts]
    unit: str
    levels: list[Level]
    year: int
    notes: list[dict[str, Any]]
    stations: list[StationUsed]
    districts: list[DistrictExposure]


class DistrictSeries(BaseModel):
    id: str
    name: Any
    residents: list[float | None] = Field(description="per year of `years`")
    pollutants: dict[str, list[float | None]] = Field(
        description="population-weighted annual mean per year of `years`, µg/m³ (null: no estimate)"
    )


_SERIES_EXAMPLE: dict[str, Any] = {
    **{k: v for k, v in _EXAMPLE.items() if k not in ("year", "stations", "districts")},
    "years": [2022, 2023],
    "districts": [
        {
            "id": "00",
            "name": "Zentrum",
            "residents": [3080.0, 3120.0],
            "pollutants": {"no2": [25.2, 23.4], "pm10": [None, None], "pm25": [None, None]},
        }
    ],
}


class SeriesAnswer(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [_SERIES_EXAMPLE]})

    collection: str
    placedOn: str
    method: Method
    caveat: Texts
    noStations: Texts
    placementLabels: dict[str, Texts]
    unit: str
    levels: list[Level]
    years: list[int]
    notes: list[dict[str, Any]]
    districts: list[DistrictSeries]


def request_exposure(request: Request) -> AirExposure:
    return request.app.state.air_exposure


@cache
def build_router() -> APIRouter:
    """The routes, built once per process; they find the app's service through the request."""
    router = APIRouter(prefix=PREFIX, tags=[TAG])

    @router.get(
        "/{collection}/air",
        summary="Per district: residents' population-weighted exposure to NO2, PM10 and PM2.5 in a year, "
        "and the residents living where an annual limit value is exceeded",
        response_model=ExposureAnswer,
        response_model_by_alias=True,
        responses=_ERRORS,
    )
    async def exposure(
        request: Request,
        collection: str,
        year: Annotated[str | None, Query(description="the calendar year", examples=["2023"])] = None,
        method: _METHOD = None,
    ) -> Any:
        caller = request_caller(request)
        service = request_exposure(request)
        return await run_in_threadpool(service.exposure, caller, collection, year, method)

    @router.get(
        "/{collection}/air/series",
        summary="Per district: residents' population-weighted exposure year by year",
        response_model=SeriesAnswer,
        responses=_ERRORS,
    )
    async def series(
        request: Request,
        collection: str,
        start: Annotated[str | None, Query(description="the first year", examples=["2019"])] = None,
        end: Annotated[
            str | None,
            Query(description=f"the last year (included; at most {MAX_YEARS} years)", examples=["2023"]),
        ] = None,
        method: _METHOD = None,
    ) -> Any:
        caller = request_caller(request)
        service = request_exposure(request)
        return await run_in_threadpool(service.series, caller, collection, start, end, method)

    return router
