"""HTTP binding of the digital infrastructure at `/api/infrastructure/`: sites and registries,
the LoRaWAN network servers' uplinks, the devices' fields and which sensors reach which gateways.

Thin: the routes read the query string or body and call `InfrastructureService` in a worker thread
with the caller; the service asks the access point and raises the typed errors app.py maps to 4xx.
"""

from __future__ import annotations

import asyncio
from functools import cache
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Query, Request, Response
from starlette.concurrency import run_in_threadpool
from starlette.routing import BaseRoute, Route

from urbantwin.access.http import request_caller
from urbantwin.http import read_json
from urbantwin.infrastructure.planning import (
    MAX_K,
    CoveragePlanner,
    bands,
    coverage_request,
    options_of,
    siting_request,
)
from urbantwin.infrastructure.radio import BANDS
from urbantwin.infrastructure.service import IGNORED, MAX_LIMIT, InfrastructureService
from urbantwin.infrastructure.vocabulary import CARRIERS, TECHNOLOGIES

PREFIX = "/api/infrastructure"
TAG = "Digital infrastructure"

_SITE_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "A bad filter (technology, carrier, bbox, limit); the message names it."},
    404: {"description": "No such site, or one the caller may not read."},
}
_UPLINK_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "A malformed uplink: the message names the field."},
    401: {"description": "The shared token is missing or wrong."},
    403: {"description": "The endpoint is off (no lorawan_webhook_token set)."},
    404: {"description": "An unknown device (no fields mapped), or an unknown network server."},
    413: {"description": "The body is larger than max_body_bytes."},
}
_DEVICE_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "A bad DevEUI, field or Datastream id; the message names it."},
    401: {"description": "Mapping devices needs a token."},
    403: {"description": "The caller may not write a Datastream's dataset."},
    404: {"description": "No such device."},
}
_UPLINK_BODY = {
    "requestBody": {
        "required": True,
        "description": "The Things Stack: the webhook's uplink message (JSON); ChirpStack v4: the HTTP "
        "integration's event (JSON marshaler), its type in `?event=`.",
        "content": {"application/json": {"schema": {"type": "object"}}},
    }
}
_DEVICE_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["fields"],
                    "properties": {
                        "fields": {
                            "type": "object",
                            "description": "decoded payload field -> Datastream id",
                            "additionalProperties": {"type": "integer"},
                        }
                    },
                },
                "example": {"fields": {"temperature": 12, "luminosity": 13}},
            }
        },
    }
}


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else None


async def post_uplink(request: Request) -> Response:
    """An uplink of a network server (`POST /lorawan/uplinks/{network}`), on a plain route.

    A city's network servers send an uplink a request, a thousand a second or more: the request
    takes nothing of FastAPI's parameter handling (`early_routes`), its body is parsed once, and
    it is answered once the group it goes in with has committed (`uplinks.UplinkPosts`).
    """
    request.scope.setdefault("route", UPLINK_ROUTE)  # the template of the request metrics
    service = request_infrastructure(request)
    service.check_token(_bearer(request))
    body = await read_json(request, service.settings)
    # The query string is parsed only when there is one (The Things Stack sends none).
    event = request.query_params.get("event") if request.scope["query_string"] else None
    uplink = service.read_uplink(request.path_params["network"], body, event)
    answer = IGNORED if uplink is None else await asyncio.wrap_future(service.uplinks.submit(uplink))
    return Response(orjson.dumps(answer), media_type="application/json")


#: The webhook of the network servers, matched before every router's routes (`Mounted.routes`).
UPLINK_ROUTE = Route(
    PREFIX + "/lorawan/uplinks/{network}", post_uplink, methods=["POST"], include_in_schema=False
)


def early_routes() -> list[BaseRoute]:
    """The plain routes of the module's hot paths (the app puts them first)."""
    return [UPLINK_ROUTE]


_MODEL_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {
        "description": "A bad band, resolution, bbox or collection, or too many cells; the message names it."
    },
    404: {"description": "A collection (buildings, districts, candidates, sensors) unknown or not readable."},
}
_SITING_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["candidates", "k"],
                    "properties": {
                        "candidates": {
                            "type": "string",
                            "description": "collection of candidate carriers (points)",
                        },
                        "k": {"type": "integer", "minimum": 1, "maximum": MAX_K},
                        "band": {"type": "string", "enum": list(BANDS)},
                        "technology": {"type": "string"},
                        "resolution": {"type": "number", "description": "grid cell size, m"},
                        "bbox": {"type": "array", "items": {"type": "number"}, "minItems": 4, "maxItems": 4},
                        "budget": {"type": "number"},
                        "cost_property": {"type": "string"},
                        "method": {"type": "string", "enum": ["greedy", "exact", "both"]},
                        "time_limit": {"type": "number", "description": "of the exact programme, s"},
                        "store": {"type": "boolean", "description": "store the result as a scenario dataset"},
                        "title": {"type": "string"},
                    },
                },
                "example": {"candidates": "stops", "k": 20, "technology": "wlan", "method": "both"},
            }
        },
    }
}
_COVERAGE_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "band": {"type": "string", "enum": list(BANDS)},
                        "technology": {"type": "string"},
                        "resolution": {"type": "number", "description": "grid cell size, m"},
                        "bbox": {"type": "array", "items": {"type": "number"}, "minItems": 4, "maxItems": 4},
                        "buildings": {"type": "string"},
                        "districts": {"type": "string"},
                        "registry": {"type": "array", "items": {"type": "string"}},
                        "calibrated": {"type": "boolean"},
                        "title": {"type": "string"},
                    },
                },
                "example": {"technology": "wlan", "resolution": 10},
            }
        },
    }
}
_Band = Annotated[str | None, Query(description=f"radio band: {', '.join(BANDS)}")]
_Technology = Annotated[
    str | None, Query(description="site technology (its default band) where no band is given")
]
_Resolution = Annotated[float, Query(description="grid cell size in metres")]
_Bbox = Annotated[
    str | None, Query(description="minlon,minlat,maxlon,maxlat (default: the buildings' extent)")
]
_Buildings = Annotated[str | None, Query(description="the collection of buildings (footprints, heights)")]
_Districts = Annotated[str | None, Query(description="the district collection of the city profile")]
_Registry = Annotated[list[str] | None, Query(description="only the sites of these registries (repeatable)")]


def request_planner(request: Request) -> CoveragePlanner:
    """The coverage planner of the app that serves the request (`app.state.infrastructure_planner`)."""
    return request.app.state.infrastructure_planner


def request_infrastructure(request: Request) -> InfrastructureService:
    """The service of the app that serves the request (`app.state.infrastructure`)."""
    return request.app.state.infrastructure


@cache
def build_router() -> APIRouter:
    """The routes, built once per process and shared by every app (FastAPI analyses each route's
    signature as it is added): they find the app's service through the request."""
    router = APIRouter(prefix=PREFIX, tags=[TAG])

    @router.get("/registries", summary="The site registries the caller may read (one catalogue dataset each)")
    async def registries(request: Request) -> dict[str, Any]:
        caller = request_caller(request)
        return {"registries": await run_in_threadpool(request_infrastructure(request).registries, caller)}

    @router.get(
        "/sites",
        summary="Sites (WLAN, 5G small cells, LoRaWAN and sensor gateways) as GeoJSON, filtered",
        responses=_SITE_ERRORS,
    )
    async def sites(
        request: Request,
        operator: Annotated[list[str] | None, Query(description="operator (repeatable)")] = None,
        technology: Annotated[
            list[str] | None, Query(description=f"technology (repeatable): {', '.join(TECHNOLOGIES)}")
        ] = None,
        carrier: Annotated[
            list[str] | None, Query(description=f"carrier (repeatable): {', '.join(CARRIERS)}")
        ] = None,
        registry: Annotated[
            list[str] | None, Query(description="registry (collection) id (repeatable)")
        ] = None,
        free_slot: Annotated[bool, Query(description="only sites with a free co-use slot")] = False,
        bbox: Annotated[str | None, Query(description="minlon,minlat,maxlon,maxlat (WGS 84)")] = None,
        limit: Annotated[int, Query(description=f"sites per page, 1..{MAX_LIMIT}")] = 1000,
        offset: Annotated[int, Query(description="sites to skip")] = 0,
    ) -> dict[str, Any]:
        caller = request_caller(request)

        def run() -> dict[str, Any]:
            return request_infrastructure(request).sites(
                caller,
                operator=operator,
                technology=technology,
                carrier=carrier,
                registry=registry,
                free_slot=free_slot,
                bbox=bbox,
                limit=limit,
                offset=offset,
            )

        return await run_in_threadpool(run)

    @router.get("/sites/{registry}/{site_id}", summary="One site", responses=_SITE_ERRORS)
    async def site(request: Request, registry: str, site_id: str) -> dict[str, Any]:
        caller = request_caller(request)
        return await run_in_threadpool(request_infrastructure(request).site, caller, registry, site_id)

    @router.post(
        "/lorawan/uplinks/{network}",
        summary="An uplink of a LoRaWAN network server (network: tts or chirpstack); needs the shared token",
        responses=_UPLINK_ERRORS,
        openapi_extra=_UPLINK_BODY,  # read by `read_json`, not by FastAPI
    )
    async def uplink(
        request: Request,
        network: str,
        event: Annotated[
            str | None, Query(description="ChirpStack's event type (up, join, status, …)")
        ] = None,
    ) -> Response:
        # The documentation of `post_uplink`, which answers these requests before this route is
        # looked at (`early_routes`); the same answer should a request come here.
        return await post_uplink(request)

    @router.get("/lorawan/devices", summary="LoRaWAN devices and the Datastream each decoded field feeds")
    async def devices(request: Request) -> dict[str, Any]:
        caller = request_caller(request)
        return {"devices": await run_in_threadpool(request_infrastructure(request).devices, caller)}

    @router.put(
        "/lorawan/devices/{dev_eui}",
        summary="Set the Datastream each decoded field of a device feeds",
        responses=_DEVICE_ERRORS,
        openapi_extra=_DEVICE_BODY,
    )
    async def map_device(request: Request, dev_eui: str) -> dict[str, Any]:
        caller = request_caller(request)
        service = request_infrastructure(request)
        service.access.require_writer(caller, "mapping LoRaWAN devices")
        body = await read_json(request, service.settings)
        fields = body.get("fields") if isinstance(body, dict) else None
        return await run_in_threadpool(service.map_device, caller, dev_eui, fields)

    @router.delete(
        "/lorawan/devices/{dev_eui}",
        status_code=204,
        summary="Forget a device's fields",
        responses=_DEVICE_ERRORS,
    )
    async def unmap_device(request: Request, dev_eui: str) -> Response:
        caller = request_caller(request)
        await run_in_threadpool(request_infrastructure(request).unmap_device, caller, dev_eui)
        return Response(status_code=204)

    @router.get(
        "/lorawan/coverage",
        summary="Which sensors reach which gateways: per device the gateways that heard it, median RSSI "
        "and SNR, devices with one gateway in reach",
        responses={400: {"description": "A bad `since` time."}},
    )
    async def coverage(
        request: Request,
        since: Annotated[str | None, Query(description="only uplinks from this time on (ISO 8601)")] = None,
    ) -> dict[str, Any]:
        caller = request_caller(request)
        return await run_in_threadpool(request_infrastructure(request).coverage, caller, since)

    @router.get(
        "/coverage/bands", summary="The radio bands of the coverage model, their parameters and sources"
    )
    async def coverage_bands() -> dict[str, Any]:
        return {"bands": bands()}

    @router.get(
        "/coverage",
        summary="Coverage of a band's sites on a grid with building obstruction: covered area and "
        "population per district, and the gap map",
        responses=_MODEL_ERRORS,
    )
    async def coverage_model(
        request: Request,
        band: _Band = None,
        technology: _Technology = None,
        resolution: _Resolution = 10.0,
        bbox: _Bbox = None,
        buildings: _Buildings = None,
        districts: _Districts = None,
        registry: _Registry = None,
        map: Annotated[  # noqa: A002 - the query parameter's name
            str, Query(description="none, gaps (people without coverage) or covered, as GeoJSON")
        ] = "none",
        calibrated: Annotated[
            bool, Query(description="fit the band to the measured RSSI of stored uplinks first, where any")
        ] = False,
    ) -> dict[str, Any]:
        caller = request_caller(request)
        options = options_of(
            band=band,
            technology=technology,
            resolution=resolution,
            bbox=bbox,
            buildings=buildings,
            districts=districts,
            registry=registry,
        )
        return await run_in_threadpool(request_planner(request).coverage, caller, options, map, calibrated)

    @router.post(
        "/coverage",
        summary="Compute the coverage and store it as a scenario dataset: per district, the gaps and "
        "the covered area as features",
        responses={**_MODEL_ERRORS, 401: {"description": "Storing a scenario needs a token."}},
        openapi_extra=_COVERAGE_BODY,
    )
    async def store_coverage(request: Request) -> dict[str, Any]:
        caller = request_caller(request)
        planner = request_planner(request)
        planner.access.require_writer(caller, "storing a coverage scenario")
        body = await read_json(request, planner.settings)
        options, arguments = coverage_request(body)

        def run() -> dict[str, Any]:
            return planner.store_coverage(caller, options, **arguments)

        return await run_in_threadpool(run)

    @router.post(
        "/siting",
        summary="Choose K new sites among candidate carriers to cover the most uncovered people "
        "(greedy and/or exact), stored as a scenario dataset",
        responses={**_MODEL_ERRORS, 401: {"description": "Storing a scenario needs a token."}},
        openapi_extra=_SITING_BODY,
    )
    async def siting(request: Request) -> dict[str, Any]:
        caller = request_caller(request)
        planner = request_planner(request)
        body = await read_json(request, planner.settings)
        options, arguments = siting_request(body)

        def run() -> dict[str, Any]:
            return planner.siting(caller, options, **arguments)

        return await run_in_threadpool(run)

    @router.get("/siting", summary="The stored siting scenarios the caller may read, newest first")
    async def siting_scenarios(request: Request) -> dict[str, Any]:
        caller = request_caller(request)
        return {"scenarios": await run_in_threadpool(request_planner(request).scenarios, caller)}

    @router.get(
        "/siting/{scenario}",
        summary="One stored siting scenario with its chosen sites and their gain",
        responses={404: {"description": "No such scenario, or one the caller may not read."}},
    )
    async def siting_scenario(request: Request, scenario: str) -> dict[str, Any]:
        caller = request_caller(request)
        return await run_in_threadpool(request_planner(request).scenario, caller, scenario)

    @router.get(
        "/lorawan/reach",
        summary="Which sensors the model puts in reach of which gateways, with the sensors of one "
        "gateway flagged and the model set against measured RSSI",
        responses=_MODEL_ERRORS,
    )
    async def reach(
        request: Request,
        sensors: Annotated[str, Query(description="the collection of sensor positions (points)")],
        band: _Band = None,
        resolution: _Resolution = 5.0,
        bbox: _Bbox = None,
        buildings: _Buildings = None,
        registry: _Registry = None,
    ) -> dict[str, Any]:
        caller = request_caller(request)
        options = options_of(
            band=band or "lora-868", resolution=resolution, bbox=bbox, buildings=buildings, registry=registry
        )
        return await run_in_threadpool(request_planner(request).reach, caller, options, sensors)

    return router
