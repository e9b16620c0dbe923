"""Plans submitted through the API: the target-seeking planner (`portfolio.py`) as a queued job.

`POST /api/energy/plans` asks "what does it take": targets (the SPARCS three by default, any set),
a budget, the baseline scenario the portfolio starts from and is measured against, the grid year,
the districts with an assumed heat network, the area and plan parameters (`portfolio.PlanParams`).
A plan is a run of the run queue (`jobs.EnergyRuns`, `energy_runs.kind = 'plan'`): checked and
authorised at submission exactly as a run of its baseline (who may write the baseline's results may
plan on it), stored `queued`, claimed by the same worker, executed in a process of its own with
heartbeats, interrupted on shutdown and failed when abandoned, like every run. Its result is a run
like the others — per-building KPIs and measures as the collection `energy-<baseline>-plan-<id>`
(with the access rules of the baseline's dataset), the quarter's series and profiles — plus the
plan's summary (`portfolio.Plan.summary`) in `energy_runs.plan`.

The worker's process renews the plan's heartbeat from a thread while the planner works (a
programme or a simulation of the year takes tens of seconds on a city's quarter, longer than the
planner reports progress), and maps the planner's steps (baseline, potentials, programme and
simulation of each iteration) to the progress 0..1.
"""

from __future__ import annotations

import math
import threading
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np
from sqlalchemy import update

from urbantwin.access.datasets import derive_dataset
from urbantwin.access.principal import Principal
from urbantwin.energy import kpi, portfolio, results
from urbantwin.errors import BadRequest, NotFound
from urbantwin.store.energy_schema import energy_run_series, energy_runs
from urbantwin.store.engine import for_writes

if TYPE_CHECKING:
    from urbantwin.energy.jobs import EnergyRuns

#: The members of a plan's body.
MEMBERS = ("baseline", "targets", "budget_eur", "year", "area", "district_heating_areas", "overrides")
#: Plan parameters the body sets as members of its own, not as overrides.
OWN_MEMBERS = {"targets", "budget_eur", "year", "district_heating_areas"}
#: Bounds of the solver's effort a request may ask for: a plan occupies the queue's worker.
MAX_TIME_LIMIT_S = 600.0
MAX_ITERATIONS = 8
#: The planner's steps and the progress they reach (`portfolio.prepare` and `portfolio.solve` say
#: "baseline", "potentials", then "programme k" and "simulation k" for each iteration k).
PREPARED = 0.2

#: What binds, in words for the API and the viewer (`portfolio._binding` gives the texts).
BINDING_KEYS = {
    "budget": "budget",
    "refurbishment": "refurbishment",
    "heat supply": "heat_supply",
    "PV": "pv",
    "quarter storage": "quarter_storage",
    "the measures' effects": "effects",
}


def binding_key(text: str) -> str:
    """The key of one of `portfolio._binding`'s texts (`budget`, `refurbishment`, `heat_supply`,
    `pv`, `quarter_storage`, `effects`)."""
    for start, key in BINDING_KEYS.items():
        if text.startswith(start):
            return key
    return "effects"


def parse_plan(body: Any, district_names: set[str] | None, baselines: list[str]) -> dict[str, Any]:
    """The checked request of `POST /api/energy/plans`: {baseline, area, params} where `params` are
    the plan parameters (`portfolio.params_from`, checked); every problem named by its member."""
    if not isinstance(body, dict):
        raise BadRequest(
            'the body must be a JSON object (every member is optional), e.g. {"budget_eur": 1e6}'
        )
    unknown = sorted(set(body) - set(MEMBERS))
    if unknown:
        raise BadRequest(f"unknown member(s) {', '.join(unknown)}; expected {', '.join(MEMBERS)}")
    baseline = body.get("baseline", "baseline")
    if not isinstance(baseline, str) or baseline not in baselines:
        raise BadRequest(f"baseline: {baseline!r} is not a bundled scenario (known: {', '.join(baselines)})")
    values: dict[str, Any] = {}
    targets = body.get("targets")
    if targets is not None:
        if (
            not isinstance(targets, dict)
            or not targets
            or any(
                isinstance(value, bool) or not isinstance(value, int | float) for value in targets.values()
            )
        ):
            raise BadRequest('targets: expected an object of target → change (a number), e.g. {"co2": -0.64}')
        try:
            portfolio.params_from({"targets": targets})
        except ValueError as exc:
            raise BadRequest(f"targets: {exc}") from None
        values["targets"] = {key: float(value) for key, value in targets.items()}
    budget = body.get("budget_eur")
    if budget is not None:
        if (
            isinstance(budget, bool)
            or not isinstance(budget, int | float)
            or not math.isfinite(budget)
            or budget < 0
        ):
            raise BadRequest("budget_eur: expected a number of euros ≥ 0 (0: no limit)")
        values["budget_eur"] = float(budget)
    year = body.get("year")
    if year is not None:
        if isinstance(year, bool) or not isinstance(year, int) or year < 0:
            raise BadRequest(
                "year: expected a year of the grid path (2023-2045), or 0 for the scenario's grid"
            )
        if year:
            try:
                portfolio.grid_of(year)
            except ValueError as exc:
                raise BadRequest(f"year: {exc}") from None
        values["year"] = year
    area = _districts(body, "area", district_names)
    heating = _districts(body, "district_heating_areas", district_names)
    if heating is not None:
        values["district_heating_areas"] = heating
    overrides = body.get("overrides") or {}
    if not isinstance(overrides, dict):
        raise BadRequest('overrides: expected an object of plan parameters, e.g. {"pv_eur_per_kwp": 1100}')
    for key, value in overrides.items():
        if key in OWN_MEMBERS:
            raise BadRequest(f"overrides: {key} is a member of its own, not an override")
        if key == "time_limit_s" and isinstance(value, int | float) and not 0 < value <= MAX_TIME_LIMIT_S:
            raise BadRequest(
                f"overrides: time_limit_s lies between 0 and {MAX_TIME_LIMIT_S:g} s through the API"
            )
        if key == "max_iterations" and isinstance(value, int) and value > MAX_ITERATIONS:
            raise BadRequest(f"overrides: max_iterations is at most {MAX_ITERATIONS} through the API")
    try:
        portfolio.params_from({**overrides})
    except ValueError as exc:
        raise BadRequest(f"overrides: {exc}") from None
    values |= overrides
    params = portfolio.params_from(values)
    return {"baseline": baseline, "area": area, "params": values, "targets": dict(params.targets)}


def _districts(body: Mapping[str, Any], member: str, known: set[str] | None) -> list[str] | None:
    value = body.get(member)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(a, str) and a.strip() for a in value):
        example = f' such as ["{min(known)}"]' if known else ""
        raise BadRequest(f"{member}: expected a list of district names{example}")
    if known is not None:
        folded = {n.casefold() for n in known}
        missing = [a for a in value if a.strip().casefold() not in folded]
        if missing:
            raise BadRequest(f"{member}: no district named {', '.join(missing)}")
    return [a.strip() for a in value]


def prepare_plan(runs: EnergyRuns, principal: Principal, body: Any) -> dict[str, Any]:
    """Check a plan as a run of its baseline is checked (who may, then the body); the row to store."""
    from urbantwin.energy.jobs import _now, _parameters, load_scenario, scenario_dataset

    names = runs.library.names()
    baseline = body.get("baseline", "baseline") if isinstance(body, dict) else None
    if runs.access is not None and isinstance(baseline, str) and baseline in names:
        with runs.engine.connect() as connection:
            from urbantwin.access.gate import Caller

            runs.access.authorize_write(Caller(principal), connection, scenario_dataset(baseline))
    scenario = runs.library.load(baseline) if isinstance(baseline, str) and baseline in names else None
    request = parse_plan(body, runs.district_names(scenario), names)
    plan_id = uuid.uuid4().hex
    overrides = {"scenario.area": request["area"]} if request["area"] else {}
    loaded = load_scenario(request["baseline"], overrides, None, runs.library)
    info = loaded.scenario
    now = _now()
    return {
        "id": plan_id,
        "kind": "plan",
        "scenario": request["baseline"],
        "title": f"What it takes: {info.title}",
        "description": f"The least-cost portfolio of measures reaching the targets against '{info.name}'.",
        "strategy": portfolio.params_from(request["params"]).strategy,
        "overrides": overrides,
        "collection": f"energy-{request['baseline']}-plan-{plan_id[:8]}",
        "status": "queued",
        "progress": 0.0,
        "submitted_by": principal.name,
        "created": now,
        "heartbeat": now,
        "parameters": _parameters(loaded),
        "plan": {"request": request},
    }


def execute_plan(runs: EnergyRuns, row: Any) -> None:
    """Plan a claimed plan and store its portfolio as a run's results (see the module doc)."""
    from urbantwin.energy.jobs import PROGRESS_SECONDS, load_scenario, scenario_dataset
    from urbantwin.energy.run import store_buildings

    request = dict((row.plan or {}).get("request") or {})
    params = portfolio.params_from(request.get("params") or {})
    base = load_scenario(row.scenario, row.overrides or {}, None, runs.library)
    site, records = store_buildings(runs.engine, base)
    state = {"progress": 0.02}
    done = threading.Event()

    def beat() -> None:
        while not done.wait(PROGRESS_SECONDS):
            runs._progress(row.id, state["progress"])

    def progress(text: str) -> None:
        step, _, number = text.partition(" ")
        iterations = max(params.max_iterations, 1)
        if step == "baseline":
            state["progress"] = 0.05
        elif step == "potentials":
            state["progress"] = 0.12
        elif step in ("programme", "simulation") and number.isdigit():
            k = int(number) - 1 + (0.3 if step == "simulation" else 0.0)
            state["progress"] = round(PREPARED + (0.9 - PREPARED) * min(k / iterations, 1.0), 4)

    heart = threading.Thread(target=beat, name=f"energy-plan-{row.id[:8]}", daemon=True)
    heart.start()
    try:
        plan = portfolio.plan(records, base, params, site=site, progress=progress)
    finally:
        done.set()
        heart.join()
    plan.run.scenario = plan.run.scenario.with_overrides(
        {"scenario.name": row.collection.removeprefix("energy-")}
    )
    runs._progress(row.id, 0.92)
    with for_writes(runs.engine).begin() as connection:
        derive_dataset(
            connection, row.collection, scenario_dataset(row.scenario), f"{row.title} {row.id[:8]}"
        )
    results.store_kpis(runs.engine, plan.run)
    series = {name: plan.run.result.series[name] for name in results.SERIES_FLOWS}
    year = plan.run.scenario.scenario.year
    calendar_start = datetime(year, 1, 1, tzinfo=UTC) - timedelta(hours=1)  # 00:00 UTC+1
    now = datetime.now(UTC)
    with for_writes(runs.engine).begin() as connection:
        connection.execute(energy_run_series.delete().where(energy_run_series.c.run_id == row.id))
        connection.execute(
            energy_run_series.insert().values(
                run_id=row.id,
                start=calendar_start,
                steps=len(series["pv"]),
                flows=list(series),
                data=results.pack_series(series),
            )
        )
        connection.execute(
            update(energy_runs)
            .where(energy_runs.c.id == row.id)
            .values(
                status="done",
                progress=1.0,
                error=None,
                finished=now,
                heartbeat=now,
                strategy=plan.run.result.strategy,
                kpis=plain(plan.run.district_kpis),
                profiles=results.profiles(series, year),
                plan={"request": request, "summary": plain(plan.summary())},
            )
        )


def plain(value: Any) -> Any:
    """`value` as JSON: numpy scalars as Python numbers, NaN and infinities as None."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return [plain(v) for v in value.tolist()]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def portfolio_of(summary: Mapping[str, Any]) -> dict[str, Any]:
    """The portfolio as the API shows it: totals, each target met or missed (by how much, as the
    simulation of the portfolio shows it, and the programme's claim beside it), what binds, the
    district KPIs of programme and simulation with their deviation, and the measures by count."""
    targets = []
    for key, goal in summary["targets"].items():
        simulated = summary["simulated_changes"].get(key)
        met = simulated is not None and (simulated <= goal if goal < 0 else simulated >= goal)
        targets.append(
            {
                "target": key,
                "label": kpi.TARGET_LABELS.get(key, key),
                "goal": goal,
                "programme": summary["changes"].get(key),
                "simulated": simulated,
                "met": bool(met),
                "miss": 0.0 if met or simulated is None else round(abs(goal - simulated), 6),
            }
        )
    fields = portfolio.TARGET_FIELDS
    kpis = {
        name: {
            "programme": summary["claimed"].get(name),
            "simulated": summary["simulated"].get(name),
            "baseline": summary["baseline"].get(name),
            "deviation": summary["deviation"].get(name),
        }
        for name in fields.values()
    }
    return {
        "met": bool(summary["met"]),
        "investment_eur": summary["investment_eur"],
        "annual_cost_eur": summary["annual_cost_eur"],
        "budget_eur": summary["budget_eur"],
        "targets": targets,
        "binding": [{"key": binding_key(text), "text": text} for text in summary["binding"]],
        "kpis": kpis,
        "measures": summary["measures"],
        "costs": summary.get("costs", {}),
        "iterations": summary["iterations"],
        "optimal": summary["optimal"],
        "seconds": summary["seconds"],
        "grid": summary["grid"],
        "parameters": summary["parameters"],
    }


def only_plans(row: Any, plan_id: str) -> Any:
    """`row` when it is a plan, else the 404 of an unknown plan."""
    if getattr(row, "kind", "run") != "plan":
        raise NotFound(f"no energy plan {plan_id!r}")
    return row
