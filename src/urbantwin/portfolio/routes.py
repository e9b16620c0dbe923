"""HTTP binding of the project portfolio at `/api/portfolio/`: the projects, one project, the
funding overview, and changing them. Thin: each route calls `PortfolioService` in a worker thread
with the caller."""

from __future__ import annotations

from functools import cache
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool

from urbantwin.access.http import request_caller
from urbantwin.http import read_json
from urbantwin.portfolio.projects import STATUSES
from urbantwin.portfolio.service import PortfolioService

PREFIX = "/api/portfolio"
TAG = "Project portfolio"

EXAMPLE_PROJECT: dict[str, Any] = {
    "id": "sparcs",
    "title": {"de": "SPARCS", "en": "SPARCS"},
    "summary": {"en": "An integrated energy quarter: seven cities, about 100 measures."},
    "programme": "Horizon 2020 Smart Cities and Communities",
    "funder": "Europäische Union",
    "period": {"start": None, "end": None},
    "status": "running",
    "partners": [{"name": "Universität", "role": "local partner"}],
    "funding": {
        "total": 23700000,
        "eu": 19700000,
        "consortium": 7100000,
        "city": 1200000,
        "approximate": ["city"],
        "sources": [],
    },
    "area": {"citywide": False, "districts": ["West"], "description": None, "geometry": None},
    "contact": "digital@city.example",
    "links": ["https://www.sparcs.info/"],
    "datasets": [],
    "scenario_runs": [],
}
_FIGURE_EXAMPLE = {"sum": 23700000, "projects_with_figure": 1, "approximate": False}
_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "A bad filter or project document; the message names the field."},
    401: {"description": "Changing the portfolio needs a token."},
    403: {"description": "The caller may not write the portfolio's dataset."},
    404: {"description": "No such project, or the portfolio is not readable by the caller."},
    413: {"description": "The body is larger than max_body_bytes."},
}


def _example(example: Any) -> dict[int | str, dict[str, Any]]:
    return {200: {"content": {"application/json": {"example": example}}}}


def _body(example: Any) -> dict[str, Any]:
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"type": "object"}, "example": example}},
        }
    }


def request_portfolio(request: Request) -> PortfolioService:
    return request.app.state.portfolio


@cache
def build_router() -> APIRouter:
    router = APIRouter(prefix=PREFIX, tags=[TAG])

    @router.get(
        "/projects",
        summary="The city's projects with programme, funder, partners, funding, area and status",
        responses={**_ERRORS, **_example({"projects": [EXAMPLE_PROJECT]})},
    )
    async def projects(
        request: Request,
        status: Annotated[str | None, Query(description=f"only projects of: {', '.join(STATUSES)}")] = None,
    ) -> dict[str, Any]:
        caller = request_caller(request)
        return {"projects": await run_in_threadpool(request_portfolio(request).projects, caller, status)}

    @router.get(
        "/projects/{ident}",
        summary="One project",
        responses={**_ERRORS, **_example(EXAMPLE_PROJECT)},
    )
    async def project(request: Request, ident: str) -> dict[str, Any]:
        return await run_in_threadpool(request_portfolio(request).project, request_caller(request), ident)

    @router.put(
        "/projects/{ident}",
        summary="Create or replace one project (writers of the portfolio's dataset)",
        responses={**_ERRORS, **_example(EXAMPLE_PROJECT)},
        openapi_extra=_body(EXAMPLE_PROJECT),
    )
    async def put_project(request: Request, ident: str) -> dict[str, Any]:
        caller = request_caller(request)
        service = request_portfolio(request)
        service.access.require_writer(caller, "changing the portfolio")
        body = await read_json(request, request.app.state.settings)
        return await run_in_threadpool(service.put, caller, ident, body)

    @router.get(
        "/funding",
        summary="Funding overview: per funder and programme the sums of total, EU, consortium and city "
        "shares, with how many projects give each figure",
        responses={
            **_ERRORS,
            **_example(
                {
                    "currency": "EUR",
                    "programmes": [
                        {
                            "funder": "Europäische Union",
                            "programme": "Horizon 2020 Smart Cities and Communities",
                            "projects": ["sparcs"],
                            "total": _FIGURE_EXAMPLE,
                            "eu": _FIGURE_EXAMPLE,
                            "consortium": _FIGURE_EXAMPLE,
                            "city": _FIGURE_EXAMPLE,
                        }
                    ],
                    "all": {"projects": ["sparcs"], "total": _FIGURE_EXAMPLE},
                }
            ),
        },
    )
    async def funding(request: Request) -> dict[str, Any]:
        return await run_in_threadpool(request_portfolio(request).funding, request_caller(request))

    return router
