"""HTTP binding of the Digitalcampus at `/api/campus/`: offers and events, searched and filtered,
one by one, as iCalendar, and changed by the campus dataset's writers. Thin: each route calls
`CampusService` in a worker thread with the caller."""

from __future__ import annotations

from functools import cache
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from starlette.concurrency import run_in_threadpool
from starlette.responses import HTMLResponse

from urbantwin.access.http import request_caller
from urbantwin.campus.events import AGES, EXPERIENCE, FORMATS, KINDS
from urbantwin.campus.page import event_page, language_of
from urbantwin.campus.service import EVENT_PAGE, CampusService, calendar
from urbantwin.city_profile import NO_CITY
from urbantwin.errors import BadRequest, NotFound
from urbantwin.http import public_base, read_json
from urbantwin.web.routes import missing_build, viewer_folder

PREFIX = "/api/campus"
TAG = "Digitalcampus"
EXAMPLE = {
    "id": "lxdx-opening",
    "kind": "event",
    "title": {"de": "Eröffnung des Digitalfestivals", "en": "Opening of the digital festival"},
    "description": {"en": "Talks and a hands-on area for all ages."},
    "format": "festival",
    "ages": ["children", "youth", "adults", "seniors"],
    "experience": ["beginner", "intermediate", "expert"],
    "start": "2027-05-20T16:00:00Z",
    "end": "2027-05-20T20:00:00Z",
    "place": {
        "name": "Town hall",
        "address": "Market 1",
        "online": None,
        "geometry": {"type": "Point", "coordinates": [12.3731, 51.3397]},
    },
    "organiser": "Digital-city department",
    "registration": "https://example.org/register",
    "series": "LXDX",
    "synthetic": True,
}
_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "A bad filter or event document; the message names the field."},
    401: {"description": "Changing the calendar needs a token."},
    403: {"description": "The caller may not write the campus dataset."},
    404: {"description": "No such event, or the calendar is not readable by the caller."},
}
_ICS: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "iCalendar (RFC 5545)",
        "content": {
            "text/calendar": {
                "example": "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//urbantwin//campus//EN\r\n"
                "END:VCALENDAR\r\n"
            }
        },
    }
}
_Q = Annotated[str | None, Query(description="words in the title, description, organiser or place")]
_Kind = Annotated[str | None, Query(description=f"one of {', '.join(KINDS)}")]
_Format = Annotated[str | None, Query(description=f"one of {', '.join(FORMATS)}")]
_Age = Annotated[str | None, Query(description=f"events for this age group: {', '.join(AGES)}")]
_Experience = Annotated[str | None, Query(description=f"events for this experience: {', '.join(EXPERIENCE)}")]
_Start = Annotated[str | None, Query(description="events that end after this instant (ISO 8601)")]
_End = Annotated[str | None, Query(description="events that start before this instant (ISO 8601)")]
_Lang = Annotated[str, Query(description="the language of the calendar's texts: de or en")]


def _campus(request: Request) -> CampusService:
    return request.app.state.campus


def _host(request: Request) -> str:
    return request.url.hostname or "urbantwin"


def _ics(body: bytes, name: str) -> Response:
    return Response(
        body,
        media_type="text/calendar; charset=utf-8",
        headers={"content-disposition": f'attachment; filename="{name}.ics"'},
    )


@cache
def build_router() -> APIRouter:
    router = APIRouter(prefix=PREFIX, tags=[TAG])

    @router.get(
        "/events",
        summary="Offers and events, soonest first, searched and filtered",
        responses={**_ERRORS, 200: {"content": {"application/json": {"example": {"events": [EXAMPLE]}}}}},
    )
    async def events(
        request: Request,
        q: _Q = None,
        kind: _Kind = None,
        format: _Format = None,
        age: _Age = None,
        experience: _Experience = None,
        start: _Start = None,
        end: _End = None,
    ) -> dict[str, Any]:
        service = _campus(request)
        found = await run_in_threadpool(
            lambda: service.events(
                request_caller(request),
                q=q,
                kind=kind,
                format=format,
                age=age,
                experience=experience,
                start=start,
                end=end,
            )
        )
        return {"events": found}

    @router.get(
        "/events.ics", summary="The events as an iCalendar file (same filters)", responses={**_ERRORS, **_ICS}
    )
    async def events_ics(
        request: Request,
        q: _Q = None,
        kind: _Kind = None,
        format: _Format = None,
        age: _Age = None,
        experience: _Experience = None,
        start: _Start = None,
        end: _End = None,
        lang: _Lang = "de",
    ) -> Response:
        if lang not in ("de", "en"):
            raise BadRequest("lang must be de or en")
        service = _campus(request)
        found = await run_in_threadpool(
            lambda: service.events(
                request_caller(request),
                q=q,
                kind=kind,
                format=format,
                age=age,
                experience=experience,
                start=start,
                end=end,
            )
        )
        base = public_base(request, request.app.state.settings)
        return _ics(calendar(found, _host(request), lang, base), "campus")

    @router.get(
        "/events/{ident}",
        summary="One offer or event",
        responses={**_ERRORS, 200: {"content": {"application/json": {"example": EXAMPLE}}}},
    )
    async def event(request: Request, ident: str) -> dict[str, Any]:
        return await run_in_threadpool(_campus(request).event, request_caller(request), ident)

    @router.get(
        "/events/{ident}/ics", summary="One event as an iCalendar file", responses={**_ERRORS, **_ICS}
    )
    async def event_ics(request: Request, ident: str, lang: _Lang = "de") -> Response:
        if lang not in ("de", "en"):
            raise BadRequest("lang must be de or en")
        found = await run_in_threadpool(_campus(request).event, request_caller(request), ident)
        base = public_base(request, request.app.state.settings)
        return _ics(calendar([found], _host(request), lang, base), ident)

    @router.put(
        "/events/{ident}",
        summary="Create or replace an offer or event (the campus dataset's writers)",
        responses={**_ERRORS, 200: {"content": {"application/json": {"example": EXAMPLE}}}},
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": {"type": "object"}, "example": EXAMPLE}},
            }
        },
    )
    async def put_event(request: Request, ident: str) -> dict[str, Any]:
        caller = request_caller(request)
        service = _campus(request)
        service.access.require_writer(caller, "changing the campus calendar")
        body = await read_json(request, request.app.state.settings)
        return await run_in_threadpool(service.put, caller, ident, body)

    @router.delete("/events/{ident}", status_code=204, summary="Delete an offer or event", responses=_ERRORS)
    async def delete_event(request: Request, ident: str) -> Response:
        await run_in_threadpool(_campus(request).delete, request_caller(request), ident)
        return Response(status_code=204)

    return router


@cache
def build_page_router() -> APIRouter:
    """The web app's page of one event (`web/event.html`), at `/participate/campus/events/<id>`."""
    router = APIRouter()

    @router.get("/" + EVENT_PAGE.format(ident="{ident}"), include_in_schema=False)
    async def event_page_route(request: Request, ident: str, lang: str | None = None) -> Response:
        """The event's page: its head written here (title, description, schema.org `Event`), its
        body by the page's script; 404 with the page that says so for an unknown event or a draft."""
        settings = request.app.state.settings
        folder = viewer_folder(settings)
        path = folder / "event.html"
        if not path.is_file():
            return missing_build(folder)
        city = getattr(request.app.state, "city", NO_CITY)
        language = language_of(lang, request.headers.get("accept-language", ""), tuple(city.languages))
        try:
            found = await run_in_threadpool(_campus(request).event, request_caller(request), ident)
        except NotFound:
            found = None
        template = await run_in_threadpool(path.read_text, "utf-8")
        url = f"{public_base(request, settings)}/{EVENT_PAGE.format(ident=ident)}"
        return HTMLResponse(
            event_page(template, found, url, language),
            200 if found is not None else 404,
            headers={"Cache-Control": "no-cache", "Vary": "Accept-Language"},
        )

    return router
