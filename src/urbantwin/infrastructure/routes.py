"""HTTP binding of the digital infrastructure at `/api/infrastructure/`: sites and registries,
the LoRaWAN network servers' uplinks, the devices' fields and which sensors reach which gateways.

Thin: the routes read the query string or body and call `InfrastructureService` in a worker thread
with the caller; the service asks the access point and raises the typed errors app.py maps to 4xx.
"""

from __future__ import annotations

from functools import cache
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from urbantwin.access.http import request_caller
from urbantwin.http import read_json
from urbantwin.infrastructure.service import MAX_LIMIT, InfrastructureService
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
    ) -> dict[str, Any]:
        service = request_infrastructure(request)
        service.check_token(_bearer(request))
        body = await read_json(request, service.settings)
        return await run_in_threadpool(service.uplink, network, body, event)

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

    return router
