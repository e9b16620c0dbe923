"""HTTP binding of the goals and indicators at `/api/indicators`.

Thin: the routes read the path and the body and call the app's service (`app.state.indicators`) in
a worker thread with the caller; the service asks the access point and raises the typed errors
app.py maps to 400, 401, 403 and 404.
"""

from __future__ import annotations

import math
from functools import cache
from typing import Any

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from urbantwin.access.http import request_caller
from urbantwin.errors import BadRequest
from urbantwin.http import read_json
from urbantwin.indicators.service import Indicators

PREFIX = "/api/indicators"
TAG = "Goals and indicators"

_ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such indicator, or one the caller may not read."},
}
_WRITE_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {
        "description": "A bad year, value or note, or an indicator computed from data; the message names it."
    },
    401: {"description": "Entering a value needs a token."},
    403: {"description": "The caller may not write the indicator's dataset."},
    **_ERRORS,
}
_EXAMPLE = {
    "id": "no2-annual-mean",
    "name": {"en": "NO2 annual mean (highest station)", "de": "NO2-Jahresmittel (höchste Station)"},
    "unit": "µg/m³",
    "method": "computed",
    "iso": "ISO 37120:2014 8.4",
    "values": [{"year": 2014, "value": 38.2, "origin": "computed", "recorded_by": "urbantwin"}],
    "latest": {"year": 2014, "value": 38.2},
    "targets": [
        {
            "value": 40.0,
            "year": 2010,
            "direction": "at_most",
            "document": "Directive 2008/50/EC, Annex XI",
            "light": "green",
            "reason": {"en": "met in 2014", "de": "2014 erreicht"},
            "progress": None,
        }
    ],
}
_Responses = dict[int | str, dict[str, Any]]
_LISTING: _Responses = {200: {"content": {"application/json": {"example": {"indicators": [_EXAMPLE]}}}}}
_ONE: _Responses = {200: {"content": {"application/json": {"example": _EXAMPLE}}}, **_ERRORS}
_VALUE_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["value"],
                    "properties": {
                        "value": {"type": "number", "description": "the indicator's value in its unit"},
                        "note": {"type": "string", "maxLength": 500, "description": "where it comes from"},
                    },
                },
                "example": {"value": 12.5, "note": "Statistisches Jahrbuch 2024, Tab. 3.1"},
            }
        },
    }
}


def request_indicators(request: Request) -> Indicators:
    return request.app.state.indicators


def _year(raw: str) -> int:
    try:
        return int(raw)
    except ValueError:
        raise BadRequest(f"year: expected a year, got {raw!r}") from None


@cache
def build_router() -> APIRouter:
    """The routes, built once per process and shared by every app."""
    router = APIRouter(prefix=PREFIX, tags=[TAG])

    @router.get(
        "",
        summary="Every indicator the caller may read: definition, unit, source, values per year and "
        "the traffic light of each target",
        responses=_LISTING,
    )
    async def listing(request: Request) -> dict[str, Any]:
        caller = request_caller(request)
        return await run_in_threadpool(request_indicators(request).listing, caller)

    @router.get("/{indicator}", summary="One indicator with its values and targets", responses=_ONE)
    async def one(request: Request, indicator: str) -> dict[str, Any]:
        caller = request_caller(request)
        return await run_in_threadpool(request_indicators(request).one, caller, indicator)

    @router.put(
        "/{indicator}/values/{year}",
        summary="Enter (or replace) the value of a year of an indicator entered by hand",
        responses={**_ONE, **_WRITE_ERRORS},
        openapi_extra=_VALUE_BODY,
    )
    async def enter(request: Request, indicator: str, year: str) -> dict[str, Any]:
        caller = request_caller(request)
        service = request_indicators(request)
        service.access.require_writer(caller, "entering an indicator's value")
        chosen = _year(year)
        body = await read_json(request, request.app.state.settings)
        if not isinstance(body, dict):
            raise BadRequest("the body must be a JSON object with value (and note)")
        value = body.get("value")
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise BadRequest(f"value: expected a finite number, got {value!r}")
        note = body.get("note")
        if note is not None and not isinstance(note, str):
            raise BadRequest("note: expected text")
        unknown = sorted(set(body) - {"value", "note"})
        if unknown:
            raise BadRequest(f"unknown member {unknown[0]!r} (expected value and note)")
        return await run_in_threadpool(service.enter, caller, indicator, chosen, float(value), note)

    @router.delete(
        "/{indicator}/values/{year}",
        status_code=204,
        summary="Delete the value of a year of an indicator entered by hand",
        responses=_WRITE_ERRORS,
    )
    async def remove(request: Request, indicator: str, year: str) -> Response:
        caller = request_caller(request)
        await run_in_threadpool(request_indicators(request).remove, caller, indicator, _year(year))
        return Response(status_code=204)

    return router
