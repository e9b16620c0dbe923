"""Energy sweeps: many runs of the quarter, every scenario asked × every area asked, fanned out as the
tasks of a Dask cluster.

A sweep is stored (`energy_sweeps`) with its runs, and its runs are ordinary runs (`energy_runs`,
each with the sweep's id): each is checked as `EnergyRuns.submit` checks one (who may write its
scenario's results, the scenario, the area, the overrides), all of them before any is stored, and
all are stored in one transaction. Each is read through the run routes as any run is, and writes its
results as a run executed alone does: a Dask worker runs the very function a run's own process runs
(`jobs._execute_in_child`), so a sweep's results are those of the same runs executed one by one.

**The driver.** A thread of the process that claimed the sweep (a server with `scenario_worker =
server`, else `urbantwin energy worker`) hands every run to the cluster, renews the heartbeats of
the runs that wait for a Dask worker (the run queue fails runs nobody renews, see `jobs.expire`),
fails a run whose task died (a worker killed mid-run) and marks the sweep ended. The run queue's own
worker never takes a sweep's runs (`jobs._QUEUED_ALONE`). A driver that dies leaves its runs to be
failed by the run queue's expiry, and its sweep is marked ended by the same rule (`expire`).

**The cluster** is the Dask scheduler at the setting `dask_scheduler`, else a `LocalCluster` of
worker processes on this host (`dask_workers`, default one per core) started with the first sweep
and closed when the server stops. Dask rather than the run queue's own processes: a sweep of every
district × every scenario is tens of year-long simulations, and Dask spreads them over the cores of
this host or of a whole cluster, with retries of lost workers, without the platform knowing the
hosts. An in-memory SQLite store (tests) cannot be shared with other processes: there the driver
executes the runs itself, one after another.
"""

from __future__ import annotations

import logging
import os
import threading
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, select, update

from urbantwin.access.policy import EVERYTHING, DatasetScope
from urbantwin.access.principal import Principal
from urbantwin.energy.jobs import (
    PROGRESS_SECONDS,
    STALE_SECONDS,
    EnergyRuns,
    _execute_in_child,
    run_dataset,
)
from urbantwin.errors import BadRequest, NotFound
from urbantwin.store.energy_schema import energy_runs, energy_sweeps
from urbantwin.store.engine import for_writes

log = logging.getLogger("urbantwin.energy")

#: The most runs one sweep may ask for: each is a simulated year of the quarter.
MAX_RUNS = 200
#: Why a sweep's unfinished run failed when the sweep's driver stopped first (the server stopped).
DRIVER_STOPPED = "interrupted: the process driving its sweep stopped before it finished; submit it again"


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class SweepRequest:
    """A checked sweep: the runs' bodies, in the order they are stored (scenario-major)."""

    scenarios: list[str]
    #: Each area is a list of district names; an empty list is the scenario's own area.
    areas: list[list[str]]
    bodies: list[dict[str, Any]]


def parse_sweep(body: Any, runs: EnergyRuns) -> SweepRequest:
    """A `SweepRequest` from the JSON body of `POST /api/energy/sweeps` (every problem named).

    `scenarios`: bundled scenario names, or "all"; `areas` (optional): a list of areas, each a list
    of district names, or "each" (every district of the city profile's district level on its own);
    without it each scenario runs on its own area. `strategy` and `overrides` apply to every run."""
    if not isinstance(body, dict):
        raise BadRequest('the body must be a JSON object with "scenarios" and optionally "areas"')
    unknown = sorted(set(body) - {"scenarios", "areas", "strategy", "overrides"})
    if unknown:
        expected = "scenarios, areas, strategy, overrides"
        raise BadRequest(f"unknown member(s) {', '.join(unknown)}; expected {expected}")
    known = runs.library.names()
    scenarios = body.get("scenarios")
    if scenarios == "all":
        scenarios = list(known)
    if not isinstance(scenarios, list) or not scenarios or not all(isinstance(s, str) for s in scenarios):
        raise BadRequest('scenarios: expected a list of bundled scenario names, or "all"')
    if len(set(scenarios)) != len(scenarios):
        raise BadRequest("scenarios: a scenario is named twice")
    areas_asked = body.get("areas")
    if areas_asked is None:
        areas: list[list[str]] = [[]]
    elif areas_asked == "each":
        names = runs.district_names()
        if not names:
            raise BadRequest('areas: "each" needs the city profile\'s districts in the store; there are none')
        areas = [[name] for name in sorted(names)]
    elif isinstance(areas_asked, list) and areas_asked and all(isinstance(a, list) for a in areas_asked):
        areas = areas_asked
    else:
        raise BadRequest(
            'areas: expected a list of areas, each a list of district names (e.g. [["Altstadt"]]), or "each"'
        )
    if len(scenarios) * len(areas) > MAX_RUNS:
        asked = len(scenarios) * len(areas)
        raise BadRequest(
            f"a sweep of {len(scenarios)} scenarios × {len(areas)} areas is {asked} runs; "
            f"at most {MAX_RUNS} in one sweep"
        )
    common = {key: body[key] for key in ("strategy", "overrides") if key in body}
    bodies = [
        {"scenario": scenario, **({"area": area} if area else {}), **common}
        for scenario in scenarios
        for area in areas
    ]
    return SweepRequest(scenarios, areas, bodies)


class EnergySweeps:
    """The stored sweeps of one store, and this process's driver thread and Dask client."""

    def __init__(self, runs: EnergyRuns, scheduler: str = "", workers: int = 0) -> None:
        self.runs = runs
        self.engine = runs.engine
        #: The Dask scheduler's address (the setting `dask_scheduler`); empty: a local cluster.
        self.scheduler = scheduler
        #: Worker processes of the local cluster (0: one per core).
        self.workers = workers
        self._lock = threading.Lock()
        self._driver: threading.Thread | None = None
        self._stop = threading.Event()
        self._client: Any = None
        self._cluster: Any = None

    # --- submitting --------------------------------------------------------------------------------

    def submit(self, principal: Principal, body: Any, start: bool = True) -> str:
        """Check every run of the sweep, store the sweep and its runs at once, start the driver
        (unless `start` is False or separate workers drive sweeps). The sweep's id."""
        request = parse_sweep(body, self.runs)
        prepared = [self.runs.prepare(principal, run_body) for run_body in request.bodies]
        sweep_id = uuid.uuid4().hex
        now = _now()
        with for_writes(self.engine).begin() as connection:
            connection.execute(
                energy_sweeps.insert().values(
                    id=sweep_id,
                    status="queued",
                    request={"scenarios": request.scenarios, "areas": request.areas},
                    submitted_by=principal.name,
                    created=now,
                    heartbeat=now,
                )
            )
            connection.execute(energy_runs.insert(), [{**run, "sweep_id": sweep_id} for run in prepared])
        if start and self.runs.in_process:
            self.start_driver()
        return sweep_id

    # --- reading -----------------------------------------------------------------------------------

    def get(
        self, sweep_id: str, principal: Principal | None = None, scope: DatasetScope = EVERYTHING
    ) -> dict[str, Any]:
        """The sweep with its runs that `scope` may read, and its progress over them (over all of them
        for its submitter); 404 for an unknown sweep and for one of whose runs the caller may read none
        (unless `principal` submitted it): a run one may not read is not even counted."""
        self.expire()
        with self.engine.connect() as connection:
            sweep = connection.execute(select(energy_sweeps).where(energy_sweeps.c.id == sweep_id)).first()
        if sweep is None:
            raise NotFound(f"no energy sweep {sweep_id!r}")
        self.runs.expire()
        runs = self.runs.of_sweep(sweep_id)
        readable = [row for row in runs if scope.allows(run_dataset(row))]
        mine = principal is not None and principal.name == sweep.submitted_by
        if not readable and not mine:
            raise NotFound(f"no energy sweep {sweep_id!r}")
        seen = runs if mine else readable
        counts = {status: 0 for status in ("queued", "running", "done", "failed")}
        for row in seen:
            counts[row.status] += 1
        return {
            "sweep": sweep,
            "runs": readable,
            "total": len(seen),
            "counts": counts,
            "progress": round(sum(row.progress for row in seen) / len(seen), 4) if seen else 1.0,
        }

    def visible(
        self, principal: Principal | None = None, scope: DatasetScope = EVERYTHING
    ) -> list[dict[str, Any]]:
        """The sweeps of which `scope` may read a run (or `principal` submitted), newest first."""
        self.expire()
        with self.engine.connect() as connection:
            ids = (
                connection.execute(
                    select(energy_sweeps.c.id).order_by(energy_sweeps.c.created.desc(), energy_sweeps.c.id)
                )
                .scalars()
                .all()
            )
        found = []
        for sweep_id in ids:
            try:
                found.append(self.get(sweep_id, principal, scope))
            except NotFound:
                continue
        return found

    def expire(self) -> int:
        """End the sweeps whose driver stopped renewing them (its runs fail by the run queue's rule)."""
        limit = _now() - timedelta(seconds=STALE_SECONDS)
        stale = and_(energy_sweeps.c.status == "running", energy_sweeps.c.heartbeat < limit)
        with self.engine.connect() as connection:
            if connection.execute(select(energy_sweeps.c.id).where(stale).limit(1)).first() is None:
                return 0
        with for_writes(self.engine).begin() as connection:
            ended = connection.execute(
                update(energy_sweeps).where(stale).values(status="ended", finished=_now())
            ).rowcount
        self.runs.expire()
        return ended or 0

    # --- the driver --------------------------------------------------------------------------------

    def recover(self) -> None:
        """At server start: end the sweeps nobody drives, and drive the queued ones."""
        self.expire()
        if not self.runs.in_process:
            return
        with self.engine.connect() as connection:
            queued = connection.execute(
                select(energy_sweeps.c.id).where(energy_sweeps.c.status == "queued").limit(1)
            ).first()
        if queued is not None:
            self.start_driver()

    def start_driver(self) -> None:
        """Start this process's driver thread unless it runs (it ends when no sweep is queued)."""
        with self._lock:
            if self._driver is not None and self._driver.is_alive():
                return
            self._stop.clear()
            self._driver = threading.Thread(target=self._drive_all, name="energy-sweeps", daemon=True)
            self._driver.start()

    def wait(self, timeout: float) -> bool:
        """Wait until the driver has nothing left to do; whether it finished within `timeout`."""
        driver = self._driver
        if driver is None:
            return True
        driver.join(timeout)
        return not driver.is_alive()

    def request_stop(self) -> None:
        """Ask the driver to stop handing out runs (a signal handler's part of `shutdown`)."""
        self._stop.set()

    def shutdown(self, timeout: float = 10.0) -> None:
        """At server stop: stop driving (unfinished runs fail as interrupted) and close the cluster."""
        self._stop.set()
        driver = self._driver
        if driver is not None:
            driver.join(timeout)
        with self._lock:
            client, cluster = self._client, self._cluster
            self._client = self._cluster = None
        if client is not None:
            client.close()
        if cluster is not None:
            cluster.close()

    def _drive_all(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                sweep_id = self.claim()
                if sweep_id is None:
                    self._driver = None
                    return
            try:
                self.drive(sweep_id)
            except Exception:  # noqa: BLE001 - a failed driver ends its sweep; the thread goes on
                log.exception("energy sweep %s failed", sweep_id)
                self._end(sweep_id, interrupted=True)

    def drive_next(self) -> bool:
        """Claim the oldest queued sweep and drive it to its end (`urbantwin energy worker`); whether
        there was one."""
        sweep_id = self.claim()
        if sweep_id is None:
            return False
        self.drive(sweep_id)
        return True

    def claim(self) -> str | None:
        """Take the oldest queued sweep (status → running); None when none is queued."""
        while True:
            with self.engine.connect() as connection:
                sweep_id = connection.execute(
                    select(energy_sweeps.c.id)
                    .where(energy_sweeps.c.status == "queued")
                    .order_by(energy_sweeps.c.created, energy_sweeps.c.id)
                    .limit(1)
                ).scalar()
            if sweep_id is None:
                return None
            now = _now()
            with for_writes(self.engine).begin() as connection:
                taken = connection.execute(
                    update(energy_sweeps)
                    .where(energy_sweeps.c.id == sweep_id, energy_sweeps.c.status == "queued")
                    .values(status="running", started=now, heartbeat=now)
                ).rowcount
            if taken:
                return str(sweep_id)

    def drive(self, sweep_id: str) -> None:
        """Hand every queued run of the sweep to the cluster and see each to its end."""
        with self.engine.connect() as connection:
            run_ids = list(
                connection.execute(
                    select(energy_runs.c.id)
                    .where(energy_runs.c.sweep_id == sweep_id, energy_runs.c.status == "queued")
                    .order_by(energy_runs.c.created, energy_runs.c.id)
                ).scalars()
            )
        now = _now()
        with for_writes(self.engine).begin() as connection:
            connection.execute(
                update(energy_runs)
                .where(energy_runs.c.id.in_(run_ids), energy_runs.c.status == "queued")
                .values(status="running", started=now, heartbeat=now, progress=0.0)
            )
        url = self.engine.url
        in_memory = url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:")
        for run_id in run_ids if in_memory else ():
            if self._stop.is_set():
                break
            self.runs.execute(run_id)
        if not in_memory and not self._stop.is_set():
            self._on_cluster(sweep_id, run_ids)
        # Stopped before the end (or before the start): the unfinished runs fail as interrupted.
        self._end(sweep_id, interrupted=self._stop.is_set())

    def _on_cluster(self, sweep_id: str, run_ids: list[str]) -> None:
        from distributed import wait

        client = self.dask()
        database = self.engine.url.render_as_string(hide_password=False)
        folder = str(self.runs.library.folder)
        futures = {
            client.submit(
                _execute_in_child, database, run_id, folder, key=f"energy-run-{run_id}", pure=False
            ): (run_id)
            for run_id in run_ids
        }
        pending = set(futures)
        while pending and not self._stop.is_set():
            try:
                finished, pending = wait(pending, timeout=PROGRESS_SECONDS * 5, return_when="FIRST_COMPLETED")
            except TimeoutError:  # nothing ended meanwhile: renew the heartbeats and wait on
                finished = set()
            for future in finished:
                if future.status != "finished":
                    cause = future.exception()
                    self._fail(futures[future], f"the run's Dask task ended without finishing it: {cause}")
            self._renew(sweep_id)
        for future in pending:
            future.cancel()

    def dask(self) -> Any:
        """This process's client of the Dask cluster (`distributed.Client`; started on first use)."""
        with self._lock:
            if self._client is None:
                from distributed import Client, LocalCluster

                if self.scheduler:
                    self._client = Client(self.scheduler)
                else:
                    self._cluster = LocalCluster(
                        n_workers=self.workers or os.cpu_count() or 1,
                        threads_per_worker=1,  # a run is CPU-bound Python: one per process
                        processes=True,
                        dashboard_address=None,
                        silence_logs=logging.WARNING,
                    )
                    self._client = Client(self._cluster)
            return self._client

    def _renew(self, sweep_id: str) -> None:
        """Renew the sweep's heartbeat and those of its runs that wait for a Dask worker."""
        now = _now()
        with for_writes(self.engine).begin() as connection:
            connection.execute(
                update(energy_sweeps).where(energy_sweeps.c.id == sweep_id).values(heartbeat=now)
            )
            connection.execute(
                update(energy_runs)
                .where(
                    energy_runs.c.sweep_id == sweep_id,
                    energy_runs.c.status == "running",
                    energy_runs.c.progress == 0.0,
                )
                .values(heartbeat=now)
            )

    def _fail(self, run_id: str, error: str) -> None:
        with for_writes(self.engine).begin() as connection:
            connection.execute(
                update(energy_runs)
                .where(energy_runs.c.id == run_id, energy_runs.c.status.in_(("queued", "running")))
                .values(status="failed", error=error, finished=_now())
            )

    def _end(self, sweep_id: str, interrupted: bool) -> None:
        now = _now()
        with for_writes(self.engine).begin() as connection:
            if interrupted:
                connection.execute(
                    update(energy_runs)
                    .where(
                        energy_runs.c.sweep_id == sweep_id, energy_runs.c.status.in_(("queued", "running"))
                    )
                    .values(status="failed", error=DRIVER_STOPPED, finished=now)
                )
            connection.execute(
                update(energy_sweeps)
                .where(energy_sweeps.c.id == sweep_id)
                .values(status="ended", finished=now, heartbeat=now)
            )
