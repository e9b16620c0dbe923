"""The HTTP binding of OGC API - Features at `/ogcapi/`: format negotiation and conditional requests.

Items and single features answer with a weak `ETag`, `Last-Modified` and `Cache-Control` from the
service's validators (the collection's version, last change, and whether everyone may read it):
`public, max-age=…` (the setting `features_max_age_seconds`) where everyone may, `private, max-age=…`
where the reader's credentials decide, `no-cache` (revalidate every time) for a client that brings
the position of its own write (`Urbantwin-Read-After`, header or cookie: it must see that write, so
nothing may answer it from a copy), and `304 Not Modified` to `If-None-Match` / `If-Modified-Since`
that still hold (RFC 9110, 13.1; 9111). A write bumps the version, so the tag changes with it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime, parsedate_to_datetime
from functools import cache
from typing import Annotated, Any
from urllib.parse import quote

import orjson
from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import HTMLResponse, Response

from urbantwin.access.gate import Caller
from urbantwin.access.http import request_caller
from urbantwin.errors import BadRequest
from urbantwin.http import dumps_json, public_base, read_json
from urbantwin.ogcapi.html import render
from urbantwin.ogcapi.service import GEOJSON, JSON, Answer, FeaturesService, Unchanged, Validators
from urbantwin.ogcapi.tiles import MVT, TileService
from urbantwin.ogcapi.write import FeatureWriter
from urbantwin.readafter import COOKIE as READ_AFTER_COOKIE
from urbantwin.readafter import HEADER as READ_AFTER_HEADER

#: The OpenAPI description of a written feature (the body is read by `read_json`, not by FastAPI).
FEATURE_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            media: {
                "schema": {
                    "type": "object",
                    "properties": {"type": {"const": "Feature"}, "geometry": {}, "properties": {}},
                }
            }
            for media in (GEOJSON, "application/json")
        },
    }
}

Param = Annotated[str | None, Query()]


def _wants_html(request: Request) -> bool:
    f = request.query_params.get("f")
    if f is not None:
        if f in ("json", "geojson", "application/json", GEOJSON):
            return False
        if f in ("html", "text/html"):
            return True
        raise BadRequest(f"f: unsupported format {f!r}; use json or html")
    accept = request.headers.get("accept", "")
    return "text/html" in accept and "json" not in accept


def _tag(validators: Validators, html: bool) -> str:
    """The ETag of the representation (the HTML page and the JSON of one URL differ)."""
    return validators.etag[:-1] + '-html"' if html else validators.etag


def _unchanged(request: Request, html: bool) -> Unchanged | None:
    """Whether the client's copy is current, from `If-None-Match` (weak comparison; it overrides
    `If-Modified-Since`, RFC 9110 13.1.3) or `If-Modified-Since`; None when it asks neither."""
    none_match = request.headers.get("if-none-match")
    if none_match is not None:
        held = {tag.strip().removeprefix("W/") for tag in none_match.split(",")}
        return lambda validators: "*" in held or _tag(validators, html).removeprefix("W/") in held
    modified_since = request.headers.get("if-modified-since")
    if modified_since is None:
        return None
    try:
        since = parsedate_to_datetime(modified_since)
    except (TypeError, ValueError):
        return None  # an invalid date is ignored (RFC 9110 13.1.3)
    if since.tzinfo is None:
        return None
    return lambda validators: validators.modified.replace(microsecond=0) <= since


def _caching(request: Request, validators: Validators, html: bool, max_age: int) -> dict[str, str]:
    """The caching headers of an answer with `validators`."""
    who = "public" if validators.public else "private"
    fresh = request.headers.get(READ_AFTER_HEADER) or request.cookies.get(READ_AFTER_COOKIE)
    keep = "no-cache" if fresh or max_age <= 0 else f"max-age={max_age}"
    modified: datetime = validators.modified
    return {
        "ETag": _tag(validators, html),
        "Last-Modified": format_datetime(modified, usegmt=True),
        "Cache-Control": f"{who}, {keep}",
        "Vary": "Accept",
    }


@dataclass(frozen=True)
class OgcApi:
    """What the routes serve on one app: the features service, its tiles (with their cache) and the
    writer; `mount` makes it known as `app.state.ogcapi`."""

    service: FeaturesService
    tiles: TileService
    writer: FeatureWriter

    @classmethod
    def of(cls, service: FeaturesService) -> OgcApi:
        writer = FeatureWriter(service.engine, service.access.policy, service.access.audit, service.crs)
        return cls(service, TileService(service), writer)


def _api(request: Request) -> OgcApi:
    return request.app.state.ogcapi


@cache
def build_router() -> APIRouter:
    """The routes, built once per process and shared by every app: FastAPI's analysis of each
    route's signature made most of the start of an app, so the routes close over nothing of one app
    and find its `OgcApi` through the request."""
    router = APIRouter(prefix="/ogcapi", tags=["OGC API - Features"])

    async def answer(
        request: Request, kind: str, media_type: str, call: Callable[..., Answer], *args: Any
    ) -> Response:
        """`call(base, *args, caller)` in a worker thread (the service asks the access point), in the
        format the request negotiates."""
        html = _wants_html(request)
        settings = _api(request).service.settings
        base = public_base(request, settings)
        conditional = kind in ("items", "item")
        extra = (_unchanged(request, html),) if conditional else ()
        result: Answer = await run_in_threadpool(call, base, *args, request_caller(request), *extra)
        headers = result.headers
        if result.validators is not None:
            caching = _caching(request, result.validators, html, settings.features_max_age_seconds)
            if result.unchanged:
                return Response(status_code=304, headers=caching)
            headers = {**headers, **caching}
        if html:
            return HTMLResponse(render(kind, result.body), headers=headers)
        return Response(dumps_json(result.body), headers=headers, media_type=media_type)

    def params(request: Request) -> list[tuple[str, str]]:
        return list(request.query_params.multi_items())

    @router.get("", include_in_schema=False)
    @router.get("/", summary="Landing page")
    async def landing(request: Request, f: Param = None) -> Response:
        return await answer(
            request, "landing", JSON, lambda base, _caller: _api(request).service.landing(base)
        )

    @router.get("/conformance", summary="Conformance classes")
    async def conformance(request: Request, f: Param = None) -> Response:
        return await answer(
            request, "conformance", JSON, lambda _base, _caller: _api(request).service.conformance()
        )

    @router.get("/collections", summary="The feature collections")
    async def collections(request: Request, f: Param = None) -> Response:
        return await answer(request, "collections", JSON, _api(request).service.collections)

    @router.get("/collections/{collection_id}", summary="One feature collection")
    async def collection(request: Request, collection_id: str, f: Param = None) -> Response:
        return await answer(request, "collection", JSON, _api(request).service.collection, collection_id)

    @router.get("/collections/{collection_id}/queryables", summary="What a filter may name (JSON Schema)")
    async def queryables(request: Request, collection_id: str, f: Param = None) -> Response:
        return await answer(
            request, "queryables", "application/schema+json", _api(request).service.queryables, collection_id
        )

    @router.get(
        "/collections/{collection_id}/items",
        summary="Features of a collection; other parameters filter on properties by equality",
    )
    async def items(
        request: Request,
        collection_id: str,
        limit: Annotated[str | None, Query(description="page size, 1..10000 (default 10)")] = None,
        offset: Annotated[str | None, Query(description="features to skip")] = None,
        bbox: Annotated[str | None, Query(description="minx,miny,maxx,maxy in bbox-crs")] = None,
        bbox_crs: Annotated[str | None, Query(alias="bbox-crs", description="CRS of bbox")] = None,
        datetime: Annotated[str | None, Query(description="RFC 3339 instant or interval")] = None,
        crs: Annotated[str | None, Query(description="CRS of the response")] = None,
        filter: Annotated[str | None, Query(description="a CQL2 filter")] = None,  # noqa: A002
        filter_lang: Annotated[
            str | None, Query(alias="filter-lang", description="cql2-text (default) or cql2-json")
        ] = None,
        filter_crs: Annotated[str | None, Query(alias="filter-crs", description="CRS of the filter")] = None,
        sortby: Annotated[str | None, Query(description="+/- properties, comma-separated")] = None,
        properties: Annotated[str | None, Query(description="properties to return")] = None,
        f: Param = None,
    ) -> Response:
        return await answer(
            request, "items", GEOJSON, _api(request).service.items, collection_id, params(request)
        )

    @router.get("/collections/{collection_id}/items/{feature_id}", summary="One feature")
    async def item(
        request: Request,
        collection_id: str,
        feature_id: str,
        crs: Annotated[str | None, Query(description="CRS of the response")] = None,
        f: Param = None,
    ) -> Response:
        return await answer(
            request, "item", GEOJSON, _api(request).service.item, collection_id, feature_id, params(request)
        )

    async def document(request: Request, call, *args) -> Response:  # noqa: ANN001
        base = public_base(request, _api(request).service.settings)
        body = await run_in_threadpool(call, base, *args)
        return Response(orjson.dumps(body), media_type=JSON)

    @router.get("/tileMatrixSets", summary="The tile matrix sets (OGC API - Tiles)", tags=["OGC API - Tiles"])
    async def matrix_sets(request: Request) -> Response:
        return await document(request, _api(request).tiles.matrix_sets)

    @router.get("/tileMatrixSets/{matrix_set}", summary="A tile matrix set", tags=["OGC API - Tiles"])
    async def matrix_set(request: Request, matrix_set: str) -> Response:
        return await document(request, lambda _base, name: _api(request).tiles.matrix_set(name), matrix_set)

    @router.get(
        "/collections/{collection_id}/tiles",
        summary="Vector tilesets of a collection",
        tags=["OGC API - Tiles"],
    )
    async def tilesets(request: Request, collection_id: str) -> Response:
        return await document(request, _api(request).tiles.tilesets, collection_id, request_caller(request))

    @router.get(
        "/collections/{collection_id}/tiles/{matrix_set}",
        summary="A vector tileset of a collection",
        tags=["OGC API - Tiles"],
    )
    async def tileset(request: Request, collection_id: str, matrix_set: str) -> Response:
        return await document(
            request, _api(request).tiles.tileset, collection_id, matrix_set, request_caller(request)
        )

    @router.get(
        "/collections/{collection_id}/tiles/{matrix_set}/{z}/{row}/{col}",
        summary="A Mapbox Vector Tile of a collection",
        tags=["OGC API - Tiles"],
        response_class=Response,
        responses={200: {"content": {MVT: {}}}},
    )
    async def tile(
        request: Request, collection_id: str, matrix_set: str, z: str, row: str, col: str
    ) -> Response:
        caller = request_caller(request)
        data = await run_in_threadpool(
            _api(request).tiles.tile, collection_id, matrix_set, z, row, col, caller
        )
        return Response(data, media_type=MVT)

    async def write_request(request: Request, collection_id: str, with_body: bool = True) -> tuple:
        """The principal, the body and Content-Crs of a write (the writer asks the policy point)."""
        caller = request_caller(request)
        _api(request).service.access.require_writer(caller, f"writing to collection {collection_id!r}")
        body = await read_json(request, _api(request).service.settings) if with_body else None
        return caller.principal, body, request.headers.get("content-crs")

    @router.post(
        "/collections/{collection_id}/items",
        status_code=201,
        summary="Create a feature (Part 4)",
        openapi_extra=FEATURE_BODY,
    )
    async def create(request: Request, collection_id: str) -> Response:
        principal, body, crs = await write_request(request, collection_id)
        key = await run_in_threadpool(_api(request).writer.create, principal, collection_id, body, crs)
        base = public_base(request, _api(request).service.settings)
        # Read back as the platform: the writer may read what it just wrote, and it is no read to count.
        created = await run_in_threadpool(
            _api(request).service.item, base, collection_id, key, [], Caller.system()
        )
        location = f"{base}/ogcapi/collections/{collection_id}/items/{quote(key, safe='')}"
        headers = {**created.headers, "Location": location}
        return Response(orjson.dumps(created.body), 201, headers=headers, media_type=GEOJSON)

    @router.put(
        "/collections/{collection_id}/items/{feature_id}",
        status_code=204,
        summary="Replace a feature",
        openapi_extra=FEATURE_BODY,
    )
    async def replace(request: Request, collection_id: str, feature_id: str) -> Response:
        principal, body, crs = await write_request(request, collection_id)
        await run_in_threadpool(_api(request).writer.replace, principal, collection_id, feature_id, body, crs)
        return Response(status_code=204)

    @router.patch(
        "/collections/{collection_id}/items/{feature_id}",
        status_code=204,
        summary="Update a feature (JSON merge of properties; a given geometry replaces)",
        openapi_extra=FEATURE_BODY,
    )
    async def update(request: Request, collection_id: str, feature_id: str) -> Response:
        principal, body, crs = await write_request(request, collection_id)
        await run_in_threadpool(_api(request).writer.update, principal, collection_id, feature_id, body, crs)
        return Response(status_code=204)

    @router.delete(
        "/collections/{collection_id}/items/{feature_id}", status_code=204, summary="Delete a feature"
    )
    async def delete(request: Request, collection_id: str, feature_id: str) -> Response:
        principal, _body, _crs = await write_request(request, collection_id, with_body=False)
        await run_in_threadpool(_api(request).writer.delete, principal, collection_id, feature_id)
        return Response(status_code=204)

    return router
