"""HTTP binding of the public-transport energy model at `/api/transit/`: the feeds, the model's
answer for one feed and period, a stop's departures per hour, and the scenario runs.

Thin: the routes read the query string and call the services of the app (`app.state.transit`) in a
worker thread with the caller; the services ask the access point whether the caller may read the
feed (its `<feed>-lines` dataset), and raise the typed errors that app.py maps to 400 and 404.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool

from urbantwin.access.http import request_caller
from urbantwin.http import read_json
from urbantwin.settings import Settings
from urbantwin.transit.departures import StopDepartures
from urbantwin.transit.energy import MAX_DAYS, TransitEnergy, parse_set
from urbantwin.transit.runs import TransitRuns

PREFIX = "/api/transit"
TAG = "Public transport energy (EfficienCE)"

_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "A bad date, period or coefficient; the message names it."},
    404: {"description": "No such feed, or one the caller may not read."},
}


_RUN_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "A bad scenario: the message names the key."},
    401: {"description": "Running a scenario needs a token."},
    403: {"description": "The caller may not write the feed's lines dataset."},
    404: {"description": "No such feed or run, or one the caller may not read."},
}


#: The body of `POST /runs`: a scenario's tables (docs/transit.md, "Scenarios").
_SCENARIO_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["scenario"],
                    "properties": {
                        "scenario": {
                            "type": "object",
                            "required": ["feed"],
                            "properties": {
                                "feed": {"type": "string"},
                                "day": {"type": "string", "format": "date"},
                                "name": {"type": "string"},
                                "title": {"type": "string"},
                                "description": {"type": "string"},
                            },
                        },
                        "coefficients": {"type": "object"},
                        "electrify": {"type": "object"},
                        "pv": {"type": "object"},
                        "driving": {"type": "object"},
                        "prices": {"type": "object"},
                        "timetable": {"type": "array", "items": {"type": "object"}},
                    },
                }
            }
        },
    }
}


_DAY = Annotated[str | None, Query(description="the day, YYYY-MM-DD (default: the feed's typical weekday)")]
_UNTIL = Annotated[str | None, Query(description=f"last day of a range from `day` (at most {MAX_DAYS} days)")]
_WEEKDAY = Annotated[bool, Query(description="the feed's typical weekday")]

_STOP_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "A bad date or period; the message names it."},
    404: {"description": "No such feed or stop, or a feed the caller may not read."},
}


@dataclass(frozen=True)
class Transit:
    """What the routes serve on one app (`app.state.transit`): the energy model, the stops'
    departures and the scenario runs, on the app's store and access point."""

    energy: TransitEnergy
    stops: StopDepartures
    runs: TransitRuns
    settings: Settings

    @classmethod
    def of(cls, energy: TransitEnergy, settings: Settings) -> Transit:
        return cls(energy, StopDepartures(energy), TransitRuns(energy.engine, energy), settings)


def request_transit(request: Request) -> Transit:
    return request.app.state.transit


@cache
def build_router() -> APIRouter:
    """The routes, built once per process and shared by every app (FastAPI analyses each route's
    signature as it is added): they find the app's services through the request."""
    router = APIRouter(prefix=PREFIX, tags=[TAG])

    @router.get("/feeds", summary="The imported GTFS feeds the caller may read")
    async def feeds(request: Request) -> dict[str, Any]:
        caller = request_caller(request)
        return {"feeds": await run_in_threadpool(request_transit(request).energy.feeds, caller)}

    @router.get(
        "/feeds/{feed_id}/energy",
        summary="Modelled vehicle-km, traction energy and CO2 per line, hour and vehicle type",
        responses=_ERRORS,
    )
    async def energy(
        request: Request,
        feed_id: str,
        day: Annotated[
            str | None, Query(description="the day, YYYY-MM-DD (default: the feed's typical weekday)")
        ] = None,
        until: Annotated[
            str | None, Query(description=f"last day of a range from `day` (at most {MAX_DAYS} days)")
        ] = None,
        weekday: Annotated[bool, Query(description="the feed's typical weekday")] = False,
        set_: Annotated[
            list[str] | None,
            Query(
                alias="set",
                description="coefficient overrides name=value (repeatable), e.g. grid.green_share=1, "
                "units.4=2, "
                "vehicle.20=battery_bus",
            ),
        ] = None,
    ) -> dict[str, Any]:
        caller = request_caller(request)
        overrides = parse_set(set_ or [])
        service = request_transit(request).energy

        def run() -> dict[str, Any]:
            result = service.energy(
                caller, feed_id, day=day, until=until, weekday=weekday, overrides=overrides
            )
            return result.document()

        return await run_in_threadpool(run)

    @router.get(
        # `path`: a GTFS stop_id may hold a slash
        "/feeds/{feed_id}/stops/{stop_id:path}/departures",
        summary="Timetabled departures per hour at a stop (or a station's platforms), in all and per line",
        responses=_STOP_ERRORS,
    )
    async def departures(
        request: Request,
        feed_id: str,
        stop_id: str,
        day: _DAY = None,
        until: _UNTIL = None,
        weekday: _WEEKDAY = False,
    ) -> dict[str, Any]:
        caller = request_caller(request)
        stops = request_transit(request).stops
        return await run_in_threadpool(
            stops.of_stop, caller, feed_id, stop_id, day=day, until=until, weekday=weekday
        )

    @router.post(
        "/runs",
        status_code=201,
        summary="Run a scenario (the tables of a scenario TOML as JSON); stored and published",
        responses=_RUN_ERRORS,
        openapi_extra=_SCENARIO_BODY,  # the body is read by `read_json`, not by FastAPI
    )
    async def submit(request: Request) -> dict[str, Any]:
        caller = request_caller(request)
        transit = request_transit(request)
        transit.energy.access.require_writer(caller, "running a transit scenario")
        body = await read_json(request, transit.settings)
        runs = transit.runs

        def run() -> dict[str, Any]:
            return runs.get(caller, runs.submit(caller, body))

        return await run_in_threadpool(run)

    @router.get("/runs", summary="The scenario runs the caller may read, newest first")
    async def listing(request: Request) -> dict[str, Any]:
        caller = request_caller(request)
        return {"runs": await run_in_threadpool(request_transit(request).runs.list, caller)}

    @router.get(
        "/runs/{run_id}",
        summary="A run: KPIs beside its baseline, per-line results by hour",
        responses=_RUN_ERRORS,
    )
    async def one(request: Request, run_id: str) -> dict[str, Any]:
        caller = request_caller(request)
        return await run_in_threadpool(request_transit(request).runs.get, caller, run_id)

    @router.get("/compare", summary="Runs side by side with the baseline of the first", responses=_RUN_ERRORS)
    async def compare(
        request: Request,
        run: Annotated[
            list[str] | None, Query(description="run ids (repeatable), e.g. run=a1…&run=b2…")
        ] = None,
    ) -> dict[str, Any]:
        caller = request_caller(request)
        return await run_in_threadpool(request_transit(request).runs.compare, caller, run or [])

    return router
