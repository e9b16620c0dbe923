"""The HTTP binding of OGC API - Features at `/ogcapi/`: format negotiation, nothing else."""

from __future__ import annotations

from typing import Annotated

import orjson
from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import HTMLResponse, Response

from urbantwin.errors import BadRequest
from urbantwin.features.html import render
from urbantwin.features.service import GEOJSON, JSON, Answer, FeaturesService
from urbantwin.sensorthings.routes import public_base

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


def build_router(service: FeaturesService) -> APIRouter:
    router = APIRouter(prefix="/ogcapi", tags=["OGC API - Features"])

    async def answer(request: Request, kind: str, media_type: str, call, *args) -> Response:  # noqa: ANN001
        html = _wants_html(request)
        base = public_base(request, service.settings.public_base_url)
        result: Answer = await run_in_threadpool(call, base, *args)
        if html:
            return HTMLResponse(render(kind, result.body), headers=result.headers)
        return Response(orjson.dumps(result.body), headers=result.headers, media_type=media_type)

    def params(request: Request) -> list[tuple[str, str]]:
        return list(request.query_params.multi_items())

    @router.get("", include_in_schema=False)
    @router.get("/", summary="Landing page")
    async def landing(request: Request, f: Param = None) -> Response:
        return await answer(request, "landing", JSON, service.landing)

    @router.get("/conformance", summary="Conformance classes")
    async def conformance(request: Request, f: Param = None) -> Response:
        return await answer(request, "conformance", JSON, lambda _base: service.conformance())

    @router.get("/collections", summary="The feature collections")
    async def collections(request: Request, f: Param = None) -> Response:
        return await answer(request, "collections", JSON, service.collections)

    @router.get("/collections/{collection_id}", summary="One feature collection")
    async def collection(request: Request, collection_id: str, f: Param = None) -> Response:
        return await answer(request, "collection", JSON, service.collection, collection_id)

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
        f: Param = None,
    ) -> Response:
        return await answer(request, "items", GEOJSON, service.items, collection_id, params(request))

    @router.get("/collections/{collection_id}/items/{feature_id}", summary="One feature")
    async def item(
        request: Request,
        collection_id: str,
        feature_id: str,
        crs: Annotated[str | None, Query(description="CRS of the response")] = None,
        f: Param = None,
    ) -> Response:
        return await answer(
            request, "item", GEOJSON, service.item, collection_id, feature_id, params(request)
        )

    return router
