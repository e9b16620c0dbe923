"""HTTP binding of the SensorThings service at `/v1.1/`.

Each entity set gets documented routes (collection, entity) so the OpenAPI document describes the
API; deeper navigation paths (`/Things(1)/Datastreams(2)/Observations`) go through one catch-all
route, their GETs through an early plain route that answers the same (`get_navigation`). Every
route does the same three things: read the request, call
`SensorThingsService.handle`, write the answer.
"""

from __future__ import annotations

import asyncio
from enum import Enum
from functools import cache
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from starlette.convertors import PathConvertor, register_url_convertor
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.routing import Route

from urbantwin.access.http import request_principal
from urbantwin.http import body_media_type, public_base, read_json
from urbantwin.metrics import created_observations, ingested
from urbantwin.sensorthings.model import BY_SET_NAME
from urbantwin.sensorthings.read import RawValue
from urbantwin.sensorthings.serialize import dumps
from urbantwin.sensorthings.service import VERSION, ApiResponse, JsonPatch, SensorThingsService
from urbantwin.settings import Settings

PREFIX = f"/{VERSION}"

# Query options and the id, declared for the OpenAPI document (the service parses them itself).
FilterQ = Annotated[str | None, Query(alias="$filter", description="OData filter expression")]
ExpandQ = Annotated[str | None, Query(alias="$expand", description="related entities to include")]
SelectQ = Annotated[str | None, Query(alias="$select", description="properties to include")]
OrderbyQ = Annotated[str | None, Query(alias="$orderby", description="e.g. phenomenonTime desc")]
TopQ = Annotated[int | None, Query(alias="$top", ge=0, description="page size")]
SkipQ = Annotated[int | None, Query(alias="$skip", ge=0, description="entities to skip")]
CountQ = Annotated[bool | None, Query(alias="$count", description="include @iot.count")]
IdPath = Annotated[int, Path(ge=0, le=2**63 - 1, description="the entity's @iot.id")]


class NavigationConvertor(PathConvertor):
    """A path of two or more segments (`Datastreams(1)/Observations`): one that no documented route
    of this router takes, only the catch-all. Starlette matches a route's path by the regular
    expressions of its convertors, so this one is what keeps the early route below off the
    documented ones."""

    regex = "[^/]+/.*"


register_url_convertor("sta_navigation", NavigationConvertor())


def to_response(answer: ApiResponse) -> Response:
    if isinstance(answer.body, RawValue):
        raw = answer.body
        if raw.is_json:
            return Response(dumps(raw.value), answer.status, answer.headers, media_type="application/json")
        return Response(raw.text, answer.status, answer.headers, media_type="text/plain")
    if answer.body is None:
        return Response(status_code=answer.status, headers=answer.headers)
    return Response(dumps(answer.body), answer.status, answer.headers, media_type="application/json")


async def read_sensorthings_body(request: Request, settings: Settings) -> Any:
    """The JSON body of a write; a JSON Patch document when sent as `application/json-patch+json`."""
    document = await read_json(request, settings)
    if body_media_type(request) == "application/json-patch+json":
        return JsonPatch(document)
    return document


def _count_ingest(method: str, path: str, answer: ApiResponse) -> None:
    """The Observations a request stored, counted by its ingest path (`urbantwin_ingested_observations`)."""
    created = created_observations(method, path, answer.status, answer.body)
    if created:
        ingested("http_data_array" if path.rstrip("/") == "CreateObservations" else "http_single", created)


def request_service(request: Request) -> SensorThingsService:
    """The SensorThings service of the app that serves the request (`app.state.sensorthings`)."""
    return request.app.state.sensorthings


@cache
def build_router() -> APIRouter:
    """The routes, built once per process and shared by every app: FastAPI analyses each route's
    signature as it is added (about a millisecond each, 56 routes), which dominated the start of an
    app, so the routes close over nothing of one app and find its service through the request."""
    router = APIRouter(prefix=PREFIX)

    async def dispatch(request: Request, path: str) -> Response:
        service = request_service(request)
        settings = service.settings
        principal = request_principal(request)
        body = None
        if request.method in ("POST", "PATCH", "PUT"):
            body = await read_sensorthings_body(request, settings)
        base = public_base(request, settings) + PREFIX
        query = request.url.query
        answer = await run_in_threadpool(service.handle, request.method, path, query, body, base, principal)
        _count_ingest(request.method, path, answer)
        return to_response(answer)

    async def post_observation(request: Request) -> Response:
        """One Observation: plain ones are committed in groups (`posts.py`), the rest as any POST.

        A plain Starlette route, matched before the documented ones: the request needs nothing of
        FastAPI's parameter handling, and the single POST is the platform's most frequent write.
        """
        datastream = request.path_params.get("datastream")
        # A plain route sets no `scope["route"]` (FastAPI's do): name it for the request metrics.
        request.scope["route"] = single_posts["set" if datastream is None else "datastream"]
        service = request_service(request)
        settings = service.settings
        principal = request_principal(request)
        body = await read_sensorthings_body(request, settings)
        path = "Observations" if datastream is None else f"Datastreams({datastream})/Observations"
        base = public_base(request, settings) + PREFIX
        post = service.observation_posts.prepare(path, datastream, body, base, principal)
        if post is None:
            answer = await run_in_threadpool(service.handle, "POST", path, "", body, base, principal)
        else:
            answer = await asyncio.wrap_future(service.observation_posts.submit(post))
        _count_ingest("POST", path, answer)
        return to_response(answer)

    single_posts = {
        into: Route(PREFIX + path, post_observation, methods=["POST"], include_in_schema=False)
        for into, path in (
            ("set", "/Observations"),
            ("datastream", "/Datastreams({datastream})/Observations"),
        )
    }
    router.routes.extend(single_posts.values())

    async def get_navigation(request: Request) -> Response:
        """A GET of a navigation path (`Datastreams(1)/Observations`, `Things(1)/Locations`, …).

        The catch-all route below answers these too, but FastAPI finds it only after checking every
        other route of the router, twice (some 110 checks of several µs each), and then solves its
        parameters. This plain route is matched third and answers exactly as the catch-all does:
        the same `dispatch`, a HEAD refused with the same 405, and the catch-all's template as the
        route of the request metrics.
        """
        if request.method != "GET":  # Starlette adds HEAD to a GET route; the catch-all takes none
            raise StarletteHTTPException(405)
        request.scope["route"] = catch_all
        return await dispatch(request, request.path_params["path"])

    router.routes.append(
        Route(PREFIX + "/{path:sta_navigation}", get_navigation, methods=["GET"], include_in_schema=False)
    )

    # --- documented routes ----------------------------------------------------------------------

    @router.get("", include_in_schema=False)
    @router.get("/", summary="Service root: entity sets and conformance classes", tags=["SensorThings"])
    async def root(request: Request) -> Response:
        return await dispatch(request, "")

    for set_name in BY_SET_NAME:
        _add_entity_set_routes(router, dispatch, set_name)

    @router.post(
        "/CreateObservations",
        status_code=201,
        tags=["SensorThings"],
        summary="Create many Observations (dataArray extension)",
        openapi_extra=_json_body({"type": "array", "items": {"type": "object"}}),
    )
    async def create_observations(request: Request) -> Response:
        return await dispatch(request, "CreateObservations")

    @router.post(
        "/$batch",
        tags=["SensorThings"],
        summary="JSON batch request with change sets",
        openapi_extra=_json_body({"type": "object", "properties": {"requests": {"type": "array"}}}),
    )
    async def batch(request: Request) -> Response:
        return await dispatch(request, "$batch")

    @router.api_route(
        "/{path:path}", methods=["GET", "POST", "PATCH", "PUT", "DELETE"], include_in_schema=False
    )
    async def navigate(request: Request, path: str) -> Response:
        return await dispatch(request, path)

    catch_all = router.routes[-1]
    return router


def _json_body(schema: dict[str, Any]) -> dict[str, Any]:
    """The OpenAPI description of a required JSON body (read by `dispatch`, not by FastAPI)."""
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


_JSON_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": {"type": "object"}},
            "application/json-patch+json": {"schema": {"type": "array", "items": {"type": "object"}}},
        },
    }
}


def _add_entity_set_routes(router: APIRouter, dispatch: Any, set_name: str) -> None:
    """The documented routes of one entity set; the set is closed over, never a parameter."""
    tag: list[str | Enum] = [set_name]

    async def collection(
        request: Request,
        filter_: FilterQ = None,
        expand: ExpandQ = None,
        select: SelectQ = None,
        orderby: OrderbyQ = None,
        top: TopQ = None,
        skip: SkipQ = None,
        count: CountQ = None,
    ) -> Response:
        return await dispatch(request, set_name)

    async def entity(
        request: Request, id: IdPath, expand: ExpandQ = None, select: SelectQ = None
    ) -> Response:
        return await dispatch(request, f"{set_name}({id})")

    async def create(request: Request) -> Response:
        return await dispatch(request, set_name)

    async def change(request: Request, id: IdPath) -> Response:
        return await dispatch(request, f"{set_name}({id})")

    async def remove(request: Request, id: IdPath) -> Response:
        return await dispatch(request, f"{set_name}({id})")

    router.add_api_route(
        f"/{set_name}",
        collection,
        methods=["GET"],
        tags=tag,
        summary=f"List {set_name}",
        operation_id=f"list{set_name}",
    )
    router.add_api_route(
        f"/{set_name}",
        create,
        methods=["POST"],
        tags=tag,
        status_code=201,
        summary=f"Create a {set_name} entity (deep insert allowed)",
        operation_id=f"create{set_name}",
        openapi_extra=_JSON_BODY,
    )
    router.add_api_route(
        f"/{set_name}({{id}})",
        entity,
        methods=["GET"],
        tags=tag,
        summary=f"One of the {set_name}",
        operation_id=f"get{set_name}",
    )
    for method, what in (("PATCH", "Change (JSON merge or JSON Patch)"), ("PUT", "Replace")):
        router.add_api_route(
            f"/{set_name}({{id}})",
            change,
            methods=[method],
            tags=tag,
            summary=f"{what} one of the {set_name}",
            operation_id=f"{method.lower()}{set_name}",
            openapi_extra=_JSON_BODY,
        )
    router.add_api_route(
        f"/{set_name}({{id}})",
        remove,
        methods=["DELETE"],
        tags=tag,
        summary=f"Delete one of the {set_name} (with the standard's cascades)",
        operation_id=f"delete{set_name}",
    )
