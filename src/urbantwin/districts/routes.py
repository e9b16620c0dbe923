"""HTTP binding of the district profiles at `/api/districts/`.

Thin: the routes read the query string and call the app's service (`app.state.districts`) in a
worker thread with the caller; the service asks the access point what the caller may read and
raises the typed errors app.py maps to 400, 404 and 406.
"""

from __future__ import annotations

from functools import cache
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from urbantwin.access.http import request_caller
from urbantwin.districts.export import FORMATS, export
from urbantwin.districts.landuse import LandUse
from urbantwin.districts.service import MAX_MIN_DEPARTURES, MAX_OBSERVED_PROPERTIES, DistrictProfiles
from urbantwin.errors import BadRequest

PREFIX = "/api/districts"
TAG = "District profiles"

_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "A bad parameter; the message names it."},
    404: {"description": "No such district collection or district, or one the caller may not read."},
    406: {"description": "Parquet asked for where pyarrow is not installed."},
}

_OBSERVED = Annotated[
    list[str] | None,
    Query(
        alias="observedProperty",
        description=f"ObservedProperty names whose sensor means to show (repeatable, at most "
        f"{MAX_OBSERVED_PROPERTIES}); default: the setting district_observed_properties",
    ),
]
_YEAR = Annotated[
    str | None,
    Query(
        description="the figures as of the end of this year: that year's residents, the features valid "
        "and the timetables in service then (answer's `as_of` names which inputs have no history); "
        "within the years of the population data; default: the latest residents and every feature"
    ),
]
_FORMAT = Annotated[str | None, Query(alias="f", description="json (default), csv, geojson or parquet")]


_LANDUSE_EXAMPLE = {
    "collection": "quarters",
    "blocks": {"source": "grid", "collections": [], "grid_m": 100.0, "count": 1650},
    "districts": [
        {
            "id": "q07",
            "name": "Riverside",
            "grz": 0.184,
            "gfz": 0.61,
            "built_up_share": 0.71,
            "trees_per_ha": 3.2,
            "storeys_from": {"buildings": 1800, "levels": 900, "measured_height": 0, "estimated_height": 850},
        }
    ],
}
_GEOJSON: dict[int | str, dict[str, Any]] = {
    **_ERRORS,
    200: {
        "content": {
            "application/geo+json": {
                "example": {
                    "type": "FeatureCollection",
                    "features": [
                        {
                            "type": "Feature",
                            "id": "100m-E316400-N5688900",
                            "geometry": {"type": "Polygon", "coordinates": [[[12.33, 51.32], ["…"]]]},
                            "properties": {"district": "q07", "grz": 0.31, "gfz": 0.62},
                        }
                    ],
                }
            }
        }
    },
}


def request_landuse(request: Request) -> LandUse:
    return request.app.state.landuse


def request_districts(request: Request) -> DistrictProfiles:
    return request.app.state.districts


def _format(value: str | None) -> str:
    chosen = (value or "json").lower()
    if chosen not in FORMATS:
        raise BadRequest(f"f: expected one of {', '.join(FORMATS)}, got {value!r}")
    return chosen


@cache
def build_router() -> APIRouter:
    """The routes, built once per process and shared by every app; they find the app's service
    through the request."""
    router = APIRouter(prefix=PREFIX, tags=[TAG])

    @router.get("", summary="The city's district collections the caller may read")
    async def listing(request: Request) -> dict[str, Any]:
        caller = request_caller(request)
        service = request_districts(request)
        return {"collections": await run_in_threadpool(service.collections, caller)}

    @router.get(
        "/{collection}",
        summary="Every district's profile: residents and trend, density, buildings and floor area, "
        "trees, charging points, WLAN sites, stops and departures, sensor means",
        responses=_ERRORS,
    )
    async def profiles(
        request: Request, collection: str, observed: _OBSERVED = None, f: _FORMAT = None, year: _YEAR = None
    ) -> Any:
        caller = request_caller(request)
        service = request_districts(request)
        chosen = _format(f)

        def run() -> Any:
            result = service.profiles(caller, collection, observed, year)
            return result.document() if chosen == "json" else export(result, chosen)

        body = await run_in_threadpool(run)
        if chosen == "json":
            return body
        suffix = {"csv": "csv", "geojson": "geojson", "parquet": "parquet"}[chosen]
        return Response(
            body,
            media_type=FORMATS[chosen],
            headers={"Content-Disposition": f'attachment; filename="districts-{collection}.{suffix}"'},
        )

    @router.get(
        "/{collection}/compare",
        summary="Two districts' profiles side by side, with the differences (b − a)",
        responses=_ERRORS,
    )
    async def compare(
        request: Request,
        collection: str,
        a: Annotated[str | None, Query(description="the first district's id")] = None,
        b: Annotated[str | None, Query(description="the second district's id")] = None,
        observed: _OBSERVED = None,
        year: _YEAR = None,
    ) -> dict[str, Any]:
        caller = request_caller(request)
        service = request_districts(request)
        return await run_in_threadpool(service.compare, caller, collection, a, b, observed, year)

    @router.get(
        "/{collection}/access",
        summary="Per district: residents within 300 and 500 m of a stop with at least N departures an "
        "hour, and their shares per public-transport quality class (ÖV-Güteklassen, ARE)",
        responses=_ERRORS,
    )
    async def access(
        request: Request,
        collection: str,
        min_departures: Annotated[
            str | None,
            Query(
                description=f"departures per hour (weekday 06:00-20:00) a stop needs, 0 to "
                f"{MAX_MIN_DEPARTURES}; 0 counts every stop, also those without a timetable (default 1)"
            ),
        ] = None,
        detour: Annotated[
            str | None, Query(description="walking ÷ straight-line distance, 1 to 3 (default 1.2)")
        ] = None,
        year: _YEAR = None,
    ) -> dict[str, Any]:
        caller = request_caller(request)
        service = request_districts(request)
        return await run_in_threadpool(
            service.transit_access, caller, collection, min_departures, detour, year
        )

    @router.get(
        "/{collection}/landuse",
        summary="Per district: site coverage and floor-area ratio (GRZ, GFZ), built-up share, street "
        "trees per hectare, and how the buildings' storeys are known",
        responses={**_ERRORS, 200: {"content": {"application/json": {"example": _LANDUSE_EXAMPLE}}}},
    )
    async def landuse(request: Request, collection: str, year: _YEAR = None) -> dict[str, Any]:
        caller = request_caller(request)
        return await run_in_threadpool(request_landuse(request).districts, caller, collection, year)

    @router.get(
        "/{collection}/landuse/blocks",
        summary="Every block in the collection's districts with its GRZ, GFZ and tree density (GeoJSON)",
        responses=_GEOJSON,
    )
    async def landuse_blocks(request: Request, collection: str, year: _YEAR = None) -> Response:
        caller = request_caller(request)
        body = await run_in_threadpool(request_landuse(request).blocks, caller, collection, year)
        return Response(orjson.dumps(body), media_type="application/geo+json")

    @router.get(
        "/{collection}/landuse/infill",
        summary="Candidate blocks for infill: built on, low floor-area ratio, a stop near; ranked, each "
        "with its reasons (GeoJSON)",
        responses=_GEOJSON,
    )
    async def landuse_infill(
        request: Request,
        collection: str,
        max_gfz: Annotated[
            str | None, Query(description="a block's GFZ must be under this, 0.01 to 5 (default 0.6)")
        ] = None,
        radius: Annotated[
            str | None, Query(description="walking distance (m) to a stop, 50 to 2000 (default 300)")
        ] = None,
        min_departures: Annotated[
            str | None,
            Query(
                description="departures per hour the stop needs, 0 to 120; 0 counts every stop (default 1)"
            ),
        ] = None,
        limit: Annotated[str | None, Query(description="most candidates, 1 to 1000 (default 100)")] = None,
        min_grz: Annotated[
            str | None, Query(description="a block's GRZ must be at least this, 0 to 1 (default 0.05)")
        ] = None,
        year: _YEAR = None,
    ) -> Response:
        caller = request_caller(request)
        body = await run_in_threadpool(
            request_landuse(request).infill,
            caller,
            collection,
            max_gfz,
            radius,
            min_departures,
            limit,
            min_grz,
            year,
        )
        return Response(orjson.dumps(body), media_type="application/geo+json")

    # `path`: a district id may hold a slash
    @router.get("/{collection}/{district:path}", summary="One district's profile", responses=_ERRORS)
    async def one(
        request: Request, collection: str, district: str, observed: _OBSERVED = None, year: _YEAR = None
    ) -> dict[str, Any]:
        caller = request_caller(request)
        service = request_districts(request)
        return await run_in_threadpool(service.profile, caller, collection, district, observed, year)

    return router
