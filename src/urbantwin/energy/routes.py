"""HTTP binding of the energy quarter at `/api/energy/`: scenarios, stored runs, plans, profiles, series,
monitoring.

Thin: the routes read parameters and the body, ask `access/` who the caller is, call `EnergyRuns`
and `Monitoring` in a worker thread and shape their rows into the documents of the contract in
docs/energy.md. A run is read with the rights of its dataset (`jobs.run_dataset`): listings show
the runs the caller may read, and any other run answers 404 as an unknown one does, on every
route that reads one (its summary, profiles, series files, monitoring); reads of restricted runs
are audited like every restricted read. Submitting one needs a principal who may write the
scenario's KPI dataset; a plan (energy/plans.py) is a run of its baseline, read and submitted so.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse, Response

from urbantwin.access.http import request_caller, request_principal
from urbantwin.access.policy import DatasetScope
from urbantwin.energy import kpi, results
from urbantwin.energy.jobs import EnergyRuns, bundled, targets
from urbantwin.energy.monitoring import Monitoring, parse_days, parse_end, parse_meter
from urbantwin.energy.openapi import (
    PLAN_EXAMPLE,
    PlanDocument,
    PlanList,
    PlanRequest,
    RunRequest,
    SweepRequest,
    json_body,
)
from urbantwin.energy.plans import only_plans, portfolio_of
from urbantwin.energy.sweeps import EnergySweeps
from urbantwin.errors import NotAcceptable
from urbantwin.http import public_base, read_json
from urbantwin.module import Context
from urbantwin.settings import Settings

PREFIX = "/api/energy"
TAG = "Energy quarter (SPARCS)"
CSV = "text/csv; charset=utf-8"
PARQUET = "application/vnd.apache.parquet"


@dataclass(frozen=True)
class Energy:
    """What the routes serve on one app (`app.state.energy`): the runs (which the energy module
    recovers at start, see energy/module.py) and the monitoring on the app's SensorThings service."""

    runs: EnergyRuns
    monitoring: Monitoring
    settings: Settings
    sweeps: EnergySweeps

    @classmethod
    def of(cls, context: Context, runs: EnergyRuns, sweeps: EnergySweeps) -> Energy:
        monitoring = Monitoring(context.engine, context.settings, runs, context.sensorthings)
        return cls(runs, monitoring, context.settings, sweeps)


def request_energy(request: Request) -> Energy:
    return request.app.state.energy


def readable(request: Request, run_id: str) -> DatasetScope:
    """The caller's scope, after a 404 unless it may read the run (blocking; the runs ask the access
    point)."""
    return request_energy(request).runs.readable(request_caller(request), run_id)


def summary(row: Any, base: str, scope: DatasetScope, runs: EnergyRuns) -> dict[str, Any]:
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
        "sweep": row.sweep_id,
        "kpis": row.kpis if row.status == "done" else None,
        "targets": targets(row, runs.baseline_for(row, scope)) if row.status == "done" else None,
        "links": links,
    }


@cache
def build_router() -> APIRouter:
    """The routes, built once per process and shared by every app (FastAPI analyses each route's
    signature as it is added): they find the app's runs and monitoring through the request."""
    router = APIRouter(prefix=PREFIX, tags=[TAG])

    @router.get("/scenarios", summary="The bundled scenarios")
    async def list_scenarios(request: Request) -> dict[str, Any]:
        return {"scenarios": await run_in_threadpool(bundled, request_energy(request).runs.library)}

    @router.get("/runs", summary="The runs the caller may read, newest first, with the SPARCS targets")
    async def list_runs(request: Request) -> dict[str, Any]:
        energy = request_energy(request)
        runs, settings = energy.runs, energy.settings
        base = public_base(request, settings)

        def read() -> list[dict[str, Any]]:
            scope = runs.scope(request_caller(request))
            return [summary(row, base, scope, runs) for row in runs.list(scope)]

        return {"runs": await run_in_threadpool(read), "targets": dict(kpi.TARGETS)}

    @router.post(
        "/runs",
        status_code=202,
        summary="Submit a scenario run (executed in the background)",
        openapi_extra=json_body(RunRequest, {"scenario": "pv_batteries_rule"}),
        responses={
            400: {"description": "Bad scenario, area, strategy or override; the message names it."},
            401: {"description": "No token."},
            403: {"description": "The principal may not write the scenario's results."},
        },
    )
    async def submit(request: Request) -> JSONResponse:
        energy = request_energy(request)
        runs, settings = energy.runs, energy.settings
        caller = request_caller(request)
        runs.require_submitter(caller)
        body = await read_json(request, settings)
        base = public_base(request, settings)

        def create() -> dict[str, Any]:
            scope = runs.scope(caller)
            return summary(runs.get(runs.submit(caller.principal, body), scope=scope), base, scope, runs)

        document = await run_in_threadpool(create)
        return JSONResponse(document, 202, headers={"Location": f"{base}{PREFIX}/runs/{document['id']}"})

    @router.get("/runs/{run_id}", summary="One run, with every parameter (value, source, assumed)")
    async def one_run(request: Request, run_id: str) -> dict[str, Any]:
        energy = request_energy(request)
        runs, settings = energy.runs, energy.settings
        base = public_base(request, settings)

        def read() -> dict[str, Any]:
            scope = readable(request, run_id)
            row = runs.get(run_id, with_parameters=True, scope=scope)
            return {**summary(row, base, scope, runs), "parameters": row.parameters or []}

        return await run_in_threadpool(read)

    @router.get("/runs/{run_id}/profiles", summary="Daily profiles per season and monthly sums of a run")
    async def profiles(request: Request, run_id: str) -> dict[str, Any]:
        runs = request_energy(request).runs

        def read() -> dict[str, Any]:
            return runs.profiles(run_id, readable(request, run_id))

        return await run_in_threadpool(read)

    @router.get("/runs/{run_id}/timeseries.csv", summary="The quarter's 15-minute series (CSV, SIMULATED)")
    async def series_csv(request: Request, run_id: str) -> Response:
        runs = request_energy(request).runs

        def make() -> tuple[str, str]:
            row, _, series = runs.series(run_id, readable(request, run_id))
            year = results_year(row, runs)
            return results.series_csv(series, year, row.scenario), row.collection

        text, name = await run_in_threadpool(make)
        return Response(
            text,
            media_type=CSV,
            headers={"Content-Disposition": f'attachment; filename="{name}-timeseries.csv"'},
        )

    @router.get("/runs/{run_id}/timeseries.parquet", summary="The quarter's 15-minute series (Parquet)")
    async def series_parquet(request: Request, run_id: str) -> Response:
        runs = request_energy(request).runs

        def make() -> tuple[bytes | None, str]:
            row, _, series = runs.series(run_id, readable(request, run_id))
            return results.series_parquet(series, results_year(row, runs)), row.collection

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

    @router.post(
        "/sweeps",
        status_code=202,
        summary="Submit a sweep: every scenario × every area as runs on the Dask cluster",
        openapi_extra=json_body(
            SweepRequest, {"scenarios": ["baseline", "pv_batteries_rule"], "areas": "each"}
        ),
        responses={
            400: {"description": "Bad scenarios, areas, strategy or override, or too many runs; named."},
            401: {"description": "No token."},
            403: {"description": "The principal may not write a scenario's results."},
        },
    )
    async def submit_sweep(request: Request) -> JSONResponse:
        energy = request_energy(request)
        caller = request_caller(request)
        energy.runs.require_submitter(caller)
        body = await read_json(request, energy.settings)
        base = public_base(request, energy.settings)

        def create() -> dict[str, Any]:
            sweep_id = energy.sweeps.submit(caller.principal, body)
            scope = energy.runs.scope(caller)
            return sweep_document(
                energy.sweeps.get(sweep_id, caller.principal, scope), base, scope, energy.runs
            )

        document = await run_in_threadpool(create)
        return JSONResponse(document, 202, headers={"Location": f"{base}{PREFIX}/sweeps/{document['id']}"})

    @router.get("/sweeps", summary="The sweeps of which the caller may read a run, newest first")
    async def list_sweeps(request: Request) -> dict[str, Any]:
        energy = request_energy(request)
        base = public_base(request, energy.settings)
        caller = request_caller(request)

        def read() -> list[dict[str, Any]]:
            scope = energy.runs.scope(caller)
            found = energy.sweeps.visible(caller.principal, scope)
            return [sweep_document(sweep, base, scope, energy.runs, with_runs=False) for sweep in found]

        return {"sweeps": await run_in_threadpool(read)}

    @router.get("/sweeps/{sweep_id}", summary="One sweep: its progress and the runs the caller may read")
    async def one_sweep(request: Request, sweep_id: str) -> dict[str, Any]:
        energy = request_energy(request)
        base = public_base(request, energy.settings)
        caller = request_caller(request)

        def read() -> dict[str, Any]:
            scope = energy.runs.scope(caller)
            return sweep_document(
                energy.sweeps.get(sweep_id, caller.principal, scope), base, scope, energy.runs
            )

        return await run_in_threadpool(read)

    @router.post(
        "/plans",
        status_code=202,
        summary="Submit a plan: the least-cost portfolio of measures meeting the targets (in the background)",
        openapi_extra=json_body(PlanRequest, PLAN_EXAMPLE),
        responses={
            202: {"model": PlanDocument, "description": "The plan, queued; `Location` is its address."},
            400: {"description": "A bad member (targets, budget, year, area, overrides…); named."},
            401: {"description": "No token."},
            403: {"description": "The principal may not write the baseline scenario's results."},
        },
    )
    async def submit_plan(request: Request) -> JSONResponse:
        energy = request_energy(request)
        runs, settings = energy.runs, energy.settings
        caller = request_caller(request)
        runs.require_submitter(caller)
        body = await read_json(request, settings)
        base = public_base(request, settings)

        def create() -> dict[str, Any]:
            scope = runs.scope(caller)
            return plan_document(runs.get(runs.submit_plan(caller.principal, body), scope=scope), base)

        document = await run_in_threadpool(create)
        return JSONResponse(document, 202, headers={"Location": f"{base}{PREFIX}/plans/{document['id']}"})

    @router.get(
        "/plans",
        summary="The plans the caller may read, newest first",
        responses={200: {"model": PlanList}},
    )
    async def list_plans(request: Request) -> dict[str, Any]:
        energy = request_energy(request)
        runs = energy.runs
        base = public_base(request, energy.settings)

        def read() -> list[dict[str, Any]]:
            return [
                plan_document(row, base) for row in runs.list(runs.scope(request_caller(request)), "plan")
            ]

        return {"plans": await run_in_threadpool(read), "targets": dict(kpi.TARGETS)}

    @router.get(
        "/plans/{plan_id}",
        summary="One plan: its status and, once done, the portfolio (totals, targets, binding, measures)",
        responses={
            200: {"model": PlanDocument},
            404: {"description": "No such plan, or one the caller may not read."},
        },
    )
    async def one_plan(request: Request, plan_id: str) -> dict[str, Any]:
        energy = request_energy(request)
        base = public_base(request, energy.settings)

        def read() -> dict[str, Any]:
            scope = readable(request, plan_id)
            return plan_document(only_plans(energy.runs.get(plan_id, scope=scope), plan_id), base)

        return await run_in_threadpool(read)

    @router.get(
        "/monitoring",
        summary="Plan against actual: KPIs from the meter Datastreams of the quarter, a block or a building",
    )
    async def monitor(
        request: Request,
        run: Annotated[
            str | None, Query(description="the run whose plan is compared (default: the meters')")
        ] = None,
        days: Annotated[
            str | None, Query(description="length of the period in days (1-366, default 7)")
        ] = None,
        end: Annotated[str | None, Query(description="end of the period, ISO 8601 (default: now)")] = None,
        block: Annotated[
            str | None,
            Query(
                description="a block's meters and the run's plan Datastreams for it (default: the quarter's)"
            ),
        ] = None,
        building: Annotated[
            str | None, Query(description="a building's meters and the run's plan Datastreams for it")
        ] = None,
    ) -> dict[str, Any]:
        energy = request_energy(request)
        runs = energy.runs
        period_days, period_end = parse_days(days), parse_end(end)
        meter = parse_meter(block, building)
        principal = request_principal(request)

        def read() -> dict[str, Any]:
            scope = readable(request, run) if run else runs.scope(request_caller(request))
            report = energy.monitoring.report(run, period_days, period_end, principal, scope, meter=meter)
            if not run:
                readable(request, report["run"])  # the run chosen for the caller, audited as read
            return report

        return await run_in_threadpool(read)

    return router


def plan_document(row: Any, base: str) -> dict[str, Any]:
    """A plan as the API shows it (`PlanDocument`): what was asked, its status and, once done, the
    portfolio and the links to its per-building measures (the collection) and its simulated year."""
    href = f"{base}{PREFIX}/plans/{row.id}"
    stored = row.plan or {}
    asked = stored.get("request") or {}
    params = dict(asked.get("params") or {})
    links = [{"rel": "self", "href": href, "type": "application/json"}]
    if row.status == "done":
        run = f"{base}{PREFIX}/runs/{row.id}"
        links += [
            {"rel": "run", "href": run, "type": "application/json"},
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
            {"rel": "profiles", "href": f"{run}/profiles", "type": "application/json"},
            {"rel": "timeseries-csv", "href": f"{run}/timeseries.csv", "type": "text/csv"},
        ]
    summary_ = stored.get("summary")
    return {
        "id": row.id,
        "baseline": row.scenario,
        "title": row.title,
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
        "request": {
            "targets": asked.get("targets") or dict(kpi.TARGETS),
            "budget_eur": params.pop("budget_eur", 0.0),
            "year": params.pop("year", 0),
            "area": asked.get("area"),
            "district_heating_areas": params.pop("district_heating_areas", []),
            "overrides": {k: v for k, v in params.items() if k != "targets"},
        },
        "portfolio": portfolio_of(summary_) if row.status == "done" and summary_ else None,
        "links": links,
    }


def sweep_document(
    found: dict[str, Any], base: str, scope: DatasetScope, runs: EnergyRuns, with_runs: bool = True
) -> dict[str, Any]:
    """A sweep as the API shows it: what was asked, its progress over all its runs (counts by
    status, the mean of their progress) and the runs the caller may read."""
    sweep = found["sweep"]
    document = {
        "id": sweep.id,
        "status": sweep.status,
        "scenarios": sweep.request.get("scenarios", []),
        "areas": sweep.request.get("areas", []),
        "submitted_by": sweep.submitted_by,
        "created": _iso(sweep.created),
        "started": _iso(sweep.started),
        "finished": _iso(sweep.finished),
        "total": found["total"],
        "counts": found["counts"],
        "progress": found["progress"],
        "simulated": True,
        "links": [{"rel": "self", "href": f"{base}{PREFIX}/sweeps/{sweep.id}", "type": "application/json"}],
    }
    if with_runs:
        document["runs"] = [summary(row, base, scope, runs) for row in found["runs"]]
    return document


def results_year(row: Any, runs: EnergyRuns) -> int:
    """The calendar year of a run's scenario (its override, else the scenario file's)."""
    from urbantwin.energy.jobs import load_scenario

    return load_scenario(row.scenario, row.overrides or {}, library=runs.library).scenario.year


def _iso(moment: Any) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment is not None else None
