"""HTTP binding of the energy quarter at `/api/energy/`: scenarios, stored runs, profiles, series, monitoring.

Thin: the routes read parameters and the body, ask `access/` who the caller is, call `EnergyRuns`
and `Monitoring` in a worker thread and shape their rows into the documents of the contract in
docs/energy.md. Reading runs is open, as the catalogue's open datasets are (a run's results are
those datasets); submitting one needs a principal who may write the scenario's KPI dataset.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse, Response

from urbantwin.access.http import request_principal, request_scope
from urbantwin.energy import kpi, results
from urbantwin.energy.jobs import EnergyRuns, bundled, targets
from urbantwin.energy.monitoring import Monitoring, parse_days, parse_end
from urbantwin.errors import NotAcceptable, Unauthorized
from urbantwin.http import public_base, read_json

PREFIX = "/api/energy"
TAG = "Energy quarter (SPARCS)"
CSV = "text/csv; charset=utf-8"
PARQUET = "application/vnd.apache.parquet"


def energy_router(app_state: Any) -> APIRouter:
    """The router, on the app's engine, settings, access policy and SensorThings service.

    The app's lifespan calls `runs.recover()` at start (`app.state.energy_runs`): runs a stopped
    server left behind are marked failed and the queued ones resumed.
    """
    engine, settings = app_state.engine, app_state.settings
    runs = EnergyRuns(engine, app_state.access)
    monitoring = Monitoring(engine, settings, runs, app_state.sensorthings)
    app_state.energy_runs = runs
    router = APIRouter(prefix=PREFIX, tags=[TAG])

    def summary(row: Any, base: str) -> dict[str, Any]:
        href = f"{base}{PREFIX}/runs/{row.id}"
        links = [{"rel": "self", "href": href, "type": "application/json"}]
        if row.status == "done":
            links += [
                {"rel": "profiles", "href": f"{href}/profiles", "type": "application/json"},
                {"rel": "timeseries-csv", "href": f"{href}/timeseries.csv", "type": "text/csv"},
                {"rel": "timeseries-parquet", "href": f"{href}/timeseries.parquet", "type": PARQUET},
                {
                    "rel": "items",
                    "href": f"{base}/ogcapi/collections/{row.collection}/items",
                    "type": "application/geo+json",
                },
                {
                    "rel": "tiles",
                    "href": f"{base}/ogcapi/collections/{row.collection}/tiles/WebMercatorQuad",
                    "type": "application/json",
                },
                {
                    "rel": "monitoring",
                    "href": f"{base}{PREFIX}/monitoring?run={row.id}",
                    "type": "application/json",
                },
            ]
        return {
            "id": row.id,
            "scenario": row.scenario,
            "title": row.title,
            "description": row.description,
            "strategy": row.strategy,
            "overrides": row.overrides or {},
            "status": row.status,
            "progress": row.progress,
            "error": row.error,
            "simulated": True,
            "note": results.NOTE,
            "collection": row.collection,
            "submitted_by": row.submitted_by,
            "created": _iso(row.created),
            "started": _iso(row.started),
            "finished": _iso(row.finished),
            "kpis": row.kpis if row.status == "done" else None,
            "targets": targets(row, runs.baseline_for(row)) if row.status == "done" else None,
            "links": links,
        }

    @router.get("/scenarios", summary="The bundled scenarios")
    async def list_scenarios() -> dict[str, Any]:
        return {"scenarios": await run_in_threadpool(bundled)}

    @router.get("/runs", summary="Every stored run, newest first, with the SPARCS targets")
    async def list_runs(request: Request) -> dict[str, Any]:
        base = public_base(request, settings)

        def read() -> list[dict[str, Any]]:
            return [summary(row, base) for row in runs.list()]

        return {"runs": await run_in_threadpool(read), "targets": dict(kpi.TARGETS)}

    @router.post(
        "/runs",
        status_code=202,
        summary="Submit a scenario run (executed in the background)",
        openapi_extra={  # the body is read by `read_json`, not by FastAPI
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "required": ["scenario"],
                            "properties": {
                                "scenario": {"type": "string"},
                                "area": {"type": "array", "items": {"type": "string"}},
                                "strategy": {"type": "string"},
                                "overrides": {"type": "object"},
                            },
                        }
                    }
                },
            }
        },
        responses={
            400: {"description": "Bad scenario, area, strategy or override; the message names it."},
            401: {"description": "No token."},
            403: {"description": "The principal may not write the scenario's results."},
        },
    )
    async def submit(request: Request) -> JSONResponse:
        principal = request_principal(request)
        if principal.anonymous and not settings.allow_anonymous_writes:
            raise Unauthorized("submitting an energy run needs a token (Authorization: Bearer …)")
        body = await read_json(request, settings)
        base = public_base(request, settings)

        def create() -> dict[str, Any]:
            return summary(runs.get(runs.submit(principal, body)), base)

        document = await run_in_threadpool(create)
        return JSONResponse(document, 202, headers={"Location": f"{base}{PREFIX}/runs/{document['id']}"})

    @router.get("/runs/{run_id}", summary="One run, with every parameter (value, source, assumed)")
    async def one_run(request: Request, run_id: str) -> dict[str, Any]:
        base = public_base(request, settings)

        def read() -> dict[str, Any]:
            row = runs.get(run_id, with_parameters=True)
            return {**summary(row, base), "parameters": row.parameters or []}

        return await run_in_threadpool(read)

    @router.get("/runs/{run_id}/profiles", summary="Daily profiles per season and monthly sums of a run")
    async def profiles(run_id: str) -> dict[str, Any]:
        return await run_in_threadpool(runs.profiles, run_id)

    @router.get("/runs/{run_id}/timeseries.csv", summary="The quarter's 15-minute series (CSV, SIMULATED)")
    async def series_csv(run_id: str) -> Response:
        def make() -> tuple[str, str]:
            row, _, series = runs.series(run_id)
            year = results_year(row)
            return results.series_csv(series, year, row.scenario), row.collection

        text, name = await run_in_threadpool(make)
        return Response(
            text,
            media_type=CSV,
            headers={"Content-Disposition": f'attachment; filename="{name}-timeseries.csv"'},
        )

    @router.get("/runs/{run_id}/timeseries.parquet", summary="The quarter's 15-minute series (Parquet)")
    async def series_parquet(run_id: str) -> Response:
        def make() -> tuple[bytes | None, str]:
            row, _, series = runs.series(run_id)
            return results.series_parquet(series, results_year(row)), row.collection

        data, name = await run_in_threadpool(make)
        if data is None:
            raise NotAcceptable(
                "Parquet needs pyarrow on the server, which is not installed; use timeseries.csv"
            )
        return Response(
            data,
            media_type=PARQUET,
            headers={"Content-Disposition": f'attachment; filename="{name}-timeseries.parquet"'},
        )

    @router.get("/monitoring", summary="Plan against actual: KPIs from the quarter's meter Datastreams")
    async def monitor(
        request: Request,
        run: Annotated[
            str | None, Query(description="the run whose plan is compared (default: the meters')")
        ] = None,
        days: Annotated[
            str | None, Query(description="length of the period in days (1-366, default 7)")
        ] = None,
        end: Annotated[str | None, Query(description="end of the period, ISO 8601 (default: now)")] = None,
    ) -> dict[str, Any]:
        period_days, period_end = parse_days(days), parse_end(end)
        principal = request_principal(request)

        def read() -> dict[str, Any]:
            scope = request_scope(request)
            return monitoring.report(run, period_days, period_end, principal, scope)

        return await run_in_threadpool(read)

    return router


def results_year(row: Any) -> int:
    """The calendar year of a run's scenario (its override, else the bundled file's)."""
    from urbantwin.energy.jobs import load_scenario

    return load_scenario(row.scenario, row.overrides or {}).scenario.year


def _iso(moment: Any) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment is not None else None
