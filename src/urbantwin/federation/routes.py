"""HTTP binding of connected twins at `/api/remotes`: the registry of partner endpoints (the admin
API), mirroring and harvesting them, and a partner's feature collection read through.

Thin: the routes read the body or path and call `FederationService` in a worker thread with the
caller; the service asks the access point and raises the typed errors app.py maps to 4xx (a
partner's failure that reaches a client is a 502 naming the partner).
"""

from __future__ import annotations

from functools import cache
from typing import Any

import orjson
from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from urbantwin.access.http import request_caller
from urbantwin.federation.proxy import Proxied
from urbantwin.federation.service import FederationService
from urbantwin.http import read_json

PREFIX = "/api/remotes"
TAG = "Connected twins"

_REMOTE_EXAMPLE = {
    "name": "hamburg-sta",
    "url": "https://iot.hamburg.de/v1.1",
    "kind": "sensorthings",
    "title": "Hamburg's sensors",
    "attribution": "Freie und Hansestadt Hamburg",
    "licence": "dl-de/by-2-0",
    "dataset": "remote-hamburg-sta",
    "requests_per_second": 10.0,
    "health": "ok",
    "last_checked": "2026-12-07T15:00:00Z",
    "last_sync": "2026-12-07T15:00:00Z",
    "last_error": None,
}
_REMOTE = {"type": "object", "example": _REMOTE_EXAMPLE}
_ADD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["name", "url", "kind", "attribution", "licence"],
                    "properties": {
                        "name": {"type": "string", "pattern": "^[a-z0-9][a-z0-9-]{0,62}$"},
                        "url": {"type": "string", "format": "uri"},
                        "kind": {"type": "string", "enum": ["sensorthings", "ogcapi", "dcat"]},
                        "title": {"type": "string"},
                        "attribution": {"type": "string"},
                        "licence": {"type": "string"},
                        "access_level": {
                            "type": "string",
                            "enum": ["open", "registered", "partner", "internal"],
                            "description": "who may read what is mirrored from the partner",
                        },
                        "requests_per_second": {"type": "number", "maximum": 1000},
                    },
                },
                "example": {
                    "name": "hamburg-sta",
                    "url": "https://iot.hamburg.de/v1.1",
                    "kind": "sensorthings",
                    "attribution": "Freie und Hansestadt Hamburg",
                    "licence": "dl-de/by-2-0",
                },
            }
        },
    }
}
_MIRROR_BODY = {
    "requestBody": {
        "required": False,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "datastreams": {"type": "array", "items": {"type": ["string", "integer"]}},
                        "filter": {"type": "string", "description": "a $filter on the partner's Datastreams"},
                        "cursor_field": {"type": "string", "enum": ["phenomenonTime", "resultTime"]},
                        "follow": {
                            "type": "boolean",
                            "description": "follow the mirrored Datastreams live over the partner's MQTT",
                        },
                        "mqtt_url": {
                            "type": "string",
                            "description": "the partner's broker (mqtt://host:port[/topic prefix/]), "
                            "when not the one its service root names; empty: that one",
                        },
                    },
                },
                "example": {"datastreams": [12, 13]},
            }
        },
    }
}
_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "A bad field; the message names it."},
    401: {"description": "Needs an administrator's token."},
    403: {"description": "The caller is not an administrator."},
    404: {"description": "No such remote, or one the caller may not read."},
    409: {"description": "A remote of that name is registered already."},
    502: {"description": "The partner failed or answered what cannot be used; the message names it."},
}


def request_federation(request: Request) -> FederationService:
    """The service of the app that serves the request (`app.state.federation`)."""
    return request.app.state.federation


@cache
def build_router() -> APIRouter:
    """The routes, built once per process and shared by every app."""
    router = APIRouter(prefix=PREFIX, tags=[TAG])

    @router.get(
        "",
        summary="The partner endpoints the caller may see, with attribution, licence, health and last sync",
        responses={200: {"content": {"application/json": {"example": {"remotes": [_REMOTE_EXAMPLE]}}}}},
    )
    async def listing(request: Request) -> dict[str, Any]:
        caller = request_caller(request)
        found = await run_in_threadpool(request_federation(request).registry.listing, caller)
        return {"remotes": [remote.document() for remote in found]}

    @router.post(
        "",
        status_code=201,
        summary="Register a partner endpoint (administrators)",
        responses={**_ERRORS, 201: {"content": {"application/json": {"example": _REMOTE_EXAMPLE}}}},
        openapi_extra=_ADD_BODY,
    )
    async def add(request: Request) -> dict[str, Any]:
        service = request_federation(request)
        body = await read_json(request, service.settings)
        remote = await run_in_threadpool(service.add, request_caller(request), body)
        return remote.document()

    @router.get(
        "/{name}",
        summary="One partner endpoint",
        responses={**_ERRORS, 200: {"content": {"application/json": {"example": _REMOTE_EXAMPLE}}}},
    )
    async def one(request: Request, name: str) -> dict[str, Any]:
        remote = await run_in_threadpool(
            request_federation(request).registry.get, request_caller(request), name
        )
        return remote.document()

    @router.delete(
        "/{name}",
        status_code=204,
        summary="Forget a partner endpoint (what was mirrored stays, in its dataset)",
        responses=_ERRORS,
    )
    async def remove(request: Request, name: str) -> None:
        await run_in_threadpool(request_federation(request).registry.remove, request_caller(request), name)

    @router.post(
        "/{name}/mirror",
        summary="Mirror chosen Datastreams of a SensorThings partner and bring all mirrored ones up to date",
        description="Runs for at most about 20 s; `more: true` says there is more to read: ask again "
        "(each page is stored with its cursor, so nothing is read twice).",
        responses={
            **_ERRORS,
            200: {
                "content": {
                    "application/json": {
                        "example": {
                            "datastreams": 2,
                            "created": 2,
                            "observations": 4800,
                            "pages": 2,
                            "errors": [],
                        }
                    }
                }
            },
        },
        openapi_extra=_MIRROR_BODY,
    )
    async def mirror(request: Request, name: str) -> dict[str, Any]:
        service = request_federation(request)
        raw = await request.body()
        body = await read_json(request, service.settings) if raw.strip() else {}
        report = await run_in_threadpool(service.mirror_request, request_caller(request), name, body)
        return {
            "datastreams": report.datastreams,
            "created": report.created,
            "observations": report.observations,
            "pages": report.pages,
            "more": report.more,
            "errors": report.errors,
        }

    @router.post(
        "/{name}/harvest",
        summary="Harvest a DCAT partner's catalogue into records searched at /catalog (incremental)",
        responses={
            **_ERRORS,
            200: {
                "content": {
                    "application/json": {
                        "example": {
                            "pages": 2,
                            "added": 40,
                            "updated": 1,
                            "unchanged": 0,
                            "removed": 0,
                            "errors": [],
                        }
                    }
                }
            },
        },
    )
    async def harvest(request: Request, name: str) -> dict[str, Any]:
        report = await run_in_threadpool(request_federation(request).harvest, request_caller(request), name)
        return {
            "pages": report.pages,
            "added": report.added,
            "updated": report.updated,
            "unchanged": report.unchanged,
            "removed": report.removed,
            "errors": report.errors,
        }

    @router.get(
        "/{name}/collections",
        summary="A partner's feature collections (OGC API Features), read through, with its attribution",
        description="What the viewer offers as the partner's layers: each collection's id, title, "
        "description and keywords. The partner's caching headers are honoured as for its items.",
        responses={
            **_ERRORS,
            200: {
                "content": {
                    "application/json": {
                        "example": {
                            "remote": "hamburg-geo",
                            "title": "Hamburg's city layers",
                            "collections": [
                                {"id": "trees", "title": "Street trees", "description": "", "keywords": []}
                            ],
                            "attribution": "Freie und Hansestadt Hamburg",
                            "licence": "dl-de/by-2-0",
                        }
                    }
                }
            },
        },
    )
    async def layers(request: Request, name: str) -> Response:
        proxied = await run_in_threadpool(request_federation(request).layers, request_caller(request), name)
        return _proxied(proxied, "application/json")

    @router.get(
        "/{name}/collections/{collection}/items",
        summary="A partner's feature collection read through (OGC API Features), with its attribution",
        description="bbox, bbox-crs, crs, datetime, limit, offset, filter, filter-lang and filter-crs "
        "are passed on to the partner. The partner's caching headers are honoured; the answer says "
        "how long it may be kept (Cache-Control: max-age).",
        responses={
            **_ERRORS,
            200: {
                "content": {
                    "application/geo+json": {
                        "example": {
                            "type": "FeatureCollection",
                            "features": [],
                            "attribution": "Freie und Hansestadt Hamburg",
                            "licence": "dl-de/by-2-0",
                        }
                    }
                }
            },
        },
    )
    async def layer(request: Request, name: str, collection: str) -> Response:
        proxied = await run_in_threadpool(
            request_federation(request).layer,
            request_caller(request),
            name,
            collection,
            list(request.query_params.multi_items()),
        )
        return _proxied(proxied, "application/geo+json")

    return router


def _proxied(proxied: Proxied, media_type: str) -> Response:
    """A partner's answer read through: how long it may be kept, and whether it came from the cache."""
    return Response(
        orjson.dumps(proxied.document),
        media_type=media_type,
        headers={
            "Cache-Control": f"public, max-age={proxied.max_age}" if proxied.max_age else "no-cache",
            "X-Cache": "hit" if proxied.cached else "miss",
        },
    )
