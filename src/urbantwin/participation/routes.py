"""HTTP binding of participation at `/api/participation/`: ideas and their moderation,
procedures with contributions on the map, comments, support votes, results and statistics, and a
person's data on request.

Thin: each route reads the body (at most `MAX_SUBMISSION_BYTES`, far below the platform's bound:
a citizen's text needs no more) and calls the services in a worker thread with the caller and the
client's address, which keys the submission budget in memory only and is never stored.
"""

from __future__ import annotations

from functools import cache
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from urbantwin.access.http import request_caller
from urbantwin.http import parse_json, read_body
from urbantwin.participation.ideas import IdeasService
from urbantwin.participation.privacy import PersonalData
from urbantwin.participation.procedures import ProceduresService
from urbantwin.participation.texts import CONTRIBUTION_STATUSES, IDEA_CATEGORIES, IDEA_STATUSES
from urbantwin.ratelimit import client_address

PREFIX = "/api/participation"
TAG = "Participation"
#: The largest body of a submission or a moderation (a procedure's area may take more: 1 MiB).
MAX_SUBMISSION_BYTES = 64 * 1024
MAX_PROCEDURE_BYTES = 1024 * 1024

_SUBMIT_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {
        "description": "A missing or bad field (title, text, category, place, contact), or the "
        "honeypot filled; the message names it."
    },
    404: {"description": "No such procedure or contribution."},
    409: {"description": "The same text was sent already, or the procedure is not open."},
    413: {"description": "The body is larger than 64 KiB."},
    429: {"description": "Too many submissions from this address (participation_submissions_per_hour)."},
}
_MODERATE_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "A bad status, a decline without reason, a project that does not exist."},
    401: {"description": "Moderating needs a token."},
    403: {"description": "The caller is no moderator (may not write the participation dataset)."},
    404: {"description": "No such idea, contribution or comment."},
    409: {"description": "A status the idea may not move to from where it is."},
}
_READ_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "A bad filter (status, bbox, limit); the message names it."},
    404: {"description": "No such idea or procedure, or one the caller may not see."},
    409: {"description": "Results before the procedure's end (moderators see them at any time)."},
}

_POINT = {"type": "Point", "coordinates": [12.3731, 51.3397]}
_AREA = {
    "type": "Polygon",
    "coordinates": [[[12.30, 51.32], [12.36, 51.32], [12.36, 51.35], [12.30, 51.35], [12.30, 51.32]]],
}
IDEA_EXAMPLE = {
    "title": "Benches with shade at the tram stop",
    "text": "The stop has no shade in summer; benches under trees would help older people.",
    "category": "mobility",
    "place": _POINT,
    "contact": "someone@example.org",
}
IDEA_ANSWER = {
    "id": 1,
    "title": IDEA_EXAMPLE["title"],
    "text": IDEA_EXAMPLE["text"],
    "category": "mobility",
    "category_label": IDEA_CATEGORIES["mobility"],
    "place": _POINT,
    "status": "declined",
    "status_label": IDEA_STATUSES["declined"],
    "answer": "Thank you.",
    "reason": "The stop is rebuilt in 2027.",
    "project": None,
    "created": "2026-12-07T10:00:00Z",
    "updated": "2026-12-07T11:00:00Z",
}
PROCEDURE_EXAMPLE = {
    "id": "west-streets",
    "title": "Streets in the west",
    "description": "Where should streets change?",
    "start": "2026-12-01T00:00:00Z",
    "end": "2027-01-31T23:00:00Z",
    "area": _AREA,
    "questions": ["What should change here?"],
    "categories": ["cycling", "walking", "greenery"],
    "synthetic": True,
}
CONTRIBUTION_EXAMPLE = {
    "category": "cycling",
    "question": 0,
    "text": "A cycle lane is missing here.",
    "geometry": {"type": "LineString", "coordinates": [[12.31, 51.33], [12.33, 51.33]]},
    "contact": None,
}
FEATURE_EXAMPLE = {
    "type": "FeatureCollection",
    "features": [
        {
            "type": "Feature",
            "id": 1,
            "geometry": CONTRIBUTION_EXAMPLE["geometry"],
            "properties": {
                "category": "cycling",
                "question": 0,
                "text": CONTRIBUTION_EXAMPLE["text"],
                "status": "published",
                "status_label": CONTRIBUTION_STATUSES["published"],
                "answer": None,
                "reason": None,
                "supports": 3,
                "comments": [],
                "created": "2026-12-07T10:00:00Z",
            },
        }
    ],
    "moderator": False,
}
RECEIVED = {"id": 1, "status": "received", "status_label": IDEA_STATUSES["received"]}


def _example(example: Any, status: int = 200) -> dict[int | str, dict[str, Any]]:
    return {status: {"description": "OK", "content": {"application/json": {"example": example}}}}


def _body(example: Any, required: bool = True) -> dict[str, Any]:
    return {
        "requestBody": {
            "required": required,
            "content": {"application/json": {"schema": {"type": "object"}, "example": example}},
        }
    }


def _ideas(request: Request) -> IdeasService:
    return request.app.state.ideas


def _procedures(request: Request) -> ProceduresService:
    return request.app.state.procedures


async def _json(request: Request, limit: int = MAX_SUBMISSION_BYTES) -> Any:
    raw = await read_body(request, limit)
    if not raw.strip():
        return {}
    return parse_json(raw, request.app.state.settings)


def _client(request: Request) -> str:
    return client_address(request, request.app.state.settings)


@cache
def build_router() -> APIRouter:
    router = APIRouter(prefix=PREFIX, tags=[TAG])

    @router.get(
        "/vocabulary",
        summary="Idea categories and the statuses, with their German and English labels",
        responses=_example(
            {
                "categories": IDEA_CATEGORIES,
                "idea_statuses": IDEA_STATUSES,
                "contribution_statuses": CONTRIBUTION_STATUSES,
            }
        ),
    )
    async def vocabulary() -> dict[str, Any]:
        return {
            "categories": IDEA_CATEGORIES,
            "idea_statuses": IDEA_STATUSES,
            "contribution_statuses": CONTRIBUTION_STATUSES,
        }

    @router.post(
        "/ideas",
        status_code=201,
        summary="Submit an idea (anyone; moderated before it is shown)",
        responses={**_SUBMIT_ERRORS, **_example(RECEIVED, 201)},
        openapi_extra=_body(IDEA_EXAMPLE),
    )
    async def submit_idea(request: Request) -> dict[str, Any]:
        body = await _json(request)
        return await run_in_threadpool(
            _ideas(request).submit, request_caller(request), _client(request), body
        )

    @router.get(
        "/ideas",
        summary="Ideas: the public ones (in review, became a project, declined with "
        "reason) with the department's answers; moderators see all, with contacts",
        responses={
            **_READ_ERRORS,
            **_example({"ideas": [IDEA_ANSWER], "numberMatched": 1, "moderator": False}),
        },
    )
    async def list_ideas(
        request: Request,
        status: Annotated[str | None, Query(description=f"one of {', '.join(IDEA_STATUSES)}")] = None,
        limit: Annotated[int, Query(description="ideas per page (1-500)")] = 100,
        offset: Annotated[int, Query(description="ideas skipped")] = 0,
    ) -> dict[str, Any]:
        service = _ideas(request)
        return await run_in_threadpool(service.listing, request_caller(request), status, limit, offset)

    @router.get("/ideas/{ident}", summary="One idea", responses={**_READ_ERRORS, **_example(IDEA_ANSWER)})
    async def get_idea(request: Request, ident: int) -> dict[str, Any]:
        return await run_in_threadpool(_ideas(request).idea, request_caller(request), ident)

    @router.post(
        "/ideas/{ident}/moderation",
        summary="Moderate an idea: a status (declined needs a public "
        "reason, project the portfolio project) and/or the department's answer",
        responses={**_MODERATE_ERRORS, **_example({**IDEA_ANSWER, "contact": None})},
        openapi_extra=_body(
            {
                "status": "declined",
                "reason": "The stop is rebuilt in 2027.",
                "answer": "Thank you for the idea.",
            }
        ),
    )
    async def moderate_idea(request: Request, ident: int) -> dict[str, Any]:
        caller = request_caller(request)
        request.app.state.access.require_writer(caller, "moderating")
        body = await _json(request)
        return await run_in_threadpool(_ideas(request).moderate, caller, ident, body)

    @router.post(
        "/procedures",
        status_code=201,
        summary="Open a participation procedure (moderators)",
        responses={**_MODERATE_ERRORS, **_example({**PROCEDURE_EXAMPLE, "phase": "open"}, 201)},
        openapi_extra=_body(PROCEDURE_EXAMPLE),
    )
    async def create_procedure(request: Request) -> dict[str, Any]:
        caller = request_caller(request)
        request.app.state.access.require_writer(caller, "opening a procedure")
        body = await _json(request, MAX_PROCEDURE_BYTES)
        return await run_in_threadpool(_procedures(request).create, caller, body)

    @router.get(
        "/procedures",
        summary="The participation procedures, newest first",
        responses=_example({"procedures": [{**PROCEDURE_EXAMPLE, "phase": "open"}]}),
    )
    async def list_procedures(request: Request) -> dict[str, Any]:
        found = await run_in_threadpool(_procedures(request).procedures, request_caller(request))
        return {"procedures": found}

    @router.get(
        "/procedures/{ident}",
        summary="One procedure: window, area, questions, categories",
        responses={**_READ_ERRORS, **_example({**PROCEDURE_EXAMPLE, "phase": "open"})},
    )
    async def get_procedure(request: Request, ident: str) -> dict[str, Any]:
        return await run_in_threadpool(_procedures(request).procedure, request_caller(request), ident)

    @router.delete(
        "/procedures/{ident}",
        status_code=204,
        summary="Delete a procedure with its contributions",
        responses=_MODERATE_ERRORS,
    )
    async def delete_procedure(request: Request, ident: str) -> Response:
        await run_in_threadpool(_procedures(request).delete_procedure, request_caller(request), ident)
        return Response(status_code=204)

    @router.post(
        "/procedures/{ident}/contributions",
        status_code=201,
        summary="Pin a contribution to a place (point, line or area) in the procedure's area",
        responses={**_SUBMIT_ERRORS, **_example(RECEIVED, 201)},
        openapi_extra=_body(CONTRIBUTION_EXAMPLE),
    )
    async def contribute(request: Request, ident: str) -> dict[str, Any]:
        body = await _json(request)
        service = _procedures(request)
        return await run_in_threadpool(
            service.contribute, request_caller(request), _client(request), ident, body
        )

    @router.get(
        "/procedures/{ident}/contributions",
        summary="The procedure's contributions as GeoJSON "
        "(published ones; moderators see all, with contacts)",
        responses={**_READ_ERRORS, **_example(FEATURE_EXAMPLE)},
    )
    async def list_contributions(
        request: Request,
        ident: str,
        status: Annotated[str | None, Query(description=f"one of {', '.join(CONTRIBUTION_STATUSES)}")] = None,
        bbox: Annotated[str | None, Query(description="minlon,minlat,maxlon,maxlat (WGS 84)")] = None,
    ) -> Response:
        found = await run_in_threadpool(
            _procedures(request).contributions, request_caller(request), ident, status, bbox
        )
        return _geojson(found)

    @router.post(
        "/contributions/{contribution}/moderation",
        summary="Publish or decline a contribution (declining needs a public reason) and/or answer it",
        responses={**_MODERATE_ERRORS, **_example({"id": 1, "status": "published"})},
        openapi_extra=_body({"status": "published", "answer": "We will look at it."}),
    )
    async def moderate_contribution(request: Request, contribution: int) -> dict[str, Any]:
        caller = request_caller(request)
        request.app.state.access.require_writer(caller, "moderating")
        body = await _json(request)
        return await run_in_threadpool(_procedures(request).moderate, caller, contribution, body)

    @router.post(
        "/contributions/{contribution}/comments",
        status_code=201,
        summary="Comment on a published contribution (moderated before it is shown)",
        responses={**_SUBMIT_ERRORS, **_example(RECEIVED, 201)},
        openapi_extra=_body({"text": "I agree, it is dangerous here."}),
    )
    async def comment(request: Request, contribution: int) -> dict[str, Any]:
        body = await _json(request)
        service = _procedures(request)
        return await run_in_threadpool(
            service.comment, request_caller(request), _client(request), contribution, body
        )

    @router.post(
        "/contributions/{contribution}/comments/{comment}/moderation",
        summary="Publish or decline a comment",
        responses={**_MODERATE_ERRORS, **_example({"id": 1, "status": "published"})},
        openapi_extra=_body({"status": "published"}),
    )
    async def moderate_comment(request: Request, contribution: int, comment: int) -> dict[str, Any]:
        caller = request_caller(request)
        request.app.state.access.require_writer(caller, "moderating")
        body = await _json(request)
        return await run_in_threadpool(_procedures(request).moderate, caller, contribution, body, comment)

    @router.post(
        "/contributions/{contribution}/supports",
        status_code=201,
        summary="Support a published contribution (one vote per voter)",
        responses={
            **_SUBMIT_ERRORS,
            **_example(
                {"id": 1, "supports": 4, "supports_label": {"de": "4 Unterstützungen", "en": "4 supporters"}},
                201,
            ),
        },
    )
    async def support(request: Request, contribution: int) -> dict[str, Any]:
        service = _procedures(request)
        return await run_in_threadpool(
            service.support, request_caller(request), _client(request), contribution
        )

    @router.get(
        "/procedures/{ident}/results.geojson",
        summary="Results for planners: the published contributions as GeoJSON (after the procedure's end)",
        responses={**_READ_ERRORS, **_example(FEATURE_EXAMPLE)},
    )
    async def results_geojson(request: Request, ident: str) -> Response:
        found = await run_in_threadpool(_procedures(request).results, request_caller(request), ident)
        response = _geojson(found)
        response.headers["content-disposition"] = f'attachment; filename="{ident}-results.geojson"'
        return response

    @router.get(
        "/procedures/{ident}/results.csv",
        summary="Results for planners: the published "
        "contributions as CSV, geometry as WKT (after the procedure's end)",
        responses={
            **_READ_ERRORS,
            200: {
                "content": {
                    "text/csv": {
                        "example": "id,category,question,text,answer,supports,comments,created,wkt\r\n"
                    }
                }
            },
        },
    )
    async def results_csv(request: Request, ident: str) -> Response:
        text = await run_in_threadpool(_procedures(request).results_csv, request_caller(request), ident)
        return Response(
            text,
            media_type="text/csv; charset=utf-8",
            headers={"content-disposition": f'attachment; filename="{ident}-results.csv"'},
        )

    @router.get(
        "/procedures/{ident}/statistics",
        summary="Statistics of the published contributions (after the procedure's end)",
        responses={
            **_READ_ERRORS,
            **_example({"contributions": 1, "by_category": {"cycling": 1}, "supports": 3}),
        },
    )
    async def statistics(request: Request, ident: str) -> dict[str, Any]:
        return await run_in_threadpool(_procedures(request).statistics, request_caller(request), ident)

    @router.post(
        "/personal-data/export",
        summary="Everything stored under a contact address (administrators)",
        responses={
            **_MODERATE_ERRORS,
            **_example({"contact": "someone@example.org", "ideas": [], "contributions": []}),
        },
        openapi_extra=_body({"contact": "someone@example.org"}),
    )
    async def export_personal_data(request: Request) -> dict[str, Any]:
        body = await _json(request)
        service: PersonalData = request.app.state.personal_data
        return await run_in_threadpool(service.export, request_caller(request), _contact(body))

    @router.post(
        "/personal-data/delete",
        summary="Delete everything stored under a contact address (administrators)",
        responses={**_MODERATE_ERRORS, **_example({"ideas": 1, "contributions": 0})},
        openapi_extra=_body({"contact": "someone@example.org"}),
    )
    async def delete_personal_data(request: Request) -> dict[str, Any]:
        body = await _json(request)
        service: PersonalData = request.app.state.personal_data
        return await run_in_threadpool(service.delete, request_caller(request), _contact(body))

    return router


def _contact(body: Any) -> Any:
    return body.get("contact") if isinstance(body, dict) else None


def _geojson(document: Any) -> Response:
    import orjson

    return Response(orjson.dumps(document), media_type="application/geo+json")
