"""Scenario runs submitted through the API: checked, stored, executed by a worker thread, read back.

A run is a scenario of the platform's folder (`scenario.Library`, the setting `energy_scenarios`)
with optional changes: an area (districts of the city profile), a strategy and `section.key`
overrides. The run is simulated where the city profile says the city lies (`site.py`). Submitting
checks all of them at once (a `BadRequest` naming the bad one), asks the policy whether the
principal may write the run's results, and stores the run as `queued`. One worker thread per
server process takes queued runs from the store, oldest first (claimed by an atomic status change,
so two processes never run the same one), simulates each in a process of its own (so the server
keeps answering, see `execute_apart`), stores the per-building KPIs as the collection
`energy-<scenario>` (`energy-<scenario>-<id>` for a run with changes, so a variant never replaces
the scenario as defined), the district KPIs, the parameters, the profiles and the quarter's
15-minute series, and ends the run `done` or `failed` with the error.

A run is read with the rights of its dataset (`run_dataset`): the dataset of its KPI collection
once stored, before that its scenario's `energy-<scenario>`, the one it was submitted to write;
a variant's collection gets a dataset of its own with the scenario dataset's access rules, so its
results are never more open than the scenario's. Every read takes the caller's `DatasetScope` and
answers an unreadable run like an unknown one.

Status and progress are rows of `energy_runs`, so any process answers the same. While a worker is
alive it renews the `heartbeat` of its running run and of the queued ones (at least every few
seconds); a run whose heartbeat is older than `STALE_SECONDS` was interrupted (its process
stopped) and reads as failed, and a server starting marks every run not renewed in the last
`START_GRACE_SECONDS` failed at once (then starts its worker on the queued runs that are left).

A plan (energy/plans.py) is a run of its own kind (`kind = 'plan'`): the target-seeking planner on a
baseline, submitted, authorised, queued, claimed and executed here like any run; `_execute` hands it
to `plans.execute_plan`.

A deployment that keeps simulations off its API hosts sets `scenario_worker = "separate"`: servers
then only queue runs, and `urbantwin energy worker` processes (`work_forever`) run them.
"""

from __future__ import annotations

import logging
import multiprocessing
import signal
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, and_, select, update

from urbantwin.access.datasets import derive_dataset
from urbantwin.access.gate import Access, Caller
from urbantwin.access.policy import EVERYTHING, DatasetScope
from urbantwin.access.principal import Principal
from urbantwin.energy import kpi, model, results, trajectory
from urbantwin.energy import scenario as scenarios
from urbantwin.energy.run import simulate, store_buildings
from urbantwin.energy.scenario import GridParams
from urbantwin.errors import BadRequest, NotFound
from urbantwin.store.city import read_profile
from urbantwin.store.energy_schema import energy_run_series, energy_runs
from urbantwin.store.engine import for_writes
from urbantwin.store.features_schema import collections, features

log = logging.getLogger("urbantwin.energy")

STATUSES = ("queued", "running", "done", "failed")
#: A queued or running run whose heartbeat is older than this was interrupted.
STALE_SECONDS = 120.0
#: At start, runs not renewed for this long belong to no living worker (the server restarted).
START_GRACE_SECONDS = 30.0
#: How often the worker writes progress and heartbeats while simulating.
PROGRESS_SECONDS = 1.0
#: Overrides the API refuses: they would name files on the server, other collections (read past
#: their access rules) or the run's own collection.
API_FORBIDDEN = {
    "scenario.name": "the collection name follows from the scenario",
    "scenario.buildings_collection": "runs through the API use the platform's buildings",
    "scenario.districts_collection": "runs through the API use the city profile's districts",
    "grid.co2_signal_csv": "it names a file on the server",
}
#: Parts of a run's progress: model and plant, the simulated year, storing the results.
PREPARE_SHARE, SIMULATE_SHARE = 0.05, 0.9
INTERRUPTED = (
    "interrupted: the server process running it stopped before it finished "
    "(no heartbeat for {seconds:.0f} s); submit it again"
)


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Submission:
    """A checked request for a run: the bundled scenario and its changes (`section.key` → value)."""

    scenario: str
    overrides: dict[str, Any]

    @property
    def variant(self) -> bool:
        return bool(self.overrides)


def bundled(library: scenarios.Library = scenarios.BUNDLED) -> list[dict[str, str]]:
    """The scenarios of `library`: name, title, description, strategy."""
    out = []
    for path in library.files():
        info = library.load(path).scenario
        out.append(
            {
                "name": path.stem,
                "title": info.title,
                "description": info.description,
                "strategy": info.strategy,
            }
        )
    return out


def load_scenario(
    name: str,
    overrides: dict[str, Any],
    run_id: str | None = None,
    library: scenarios.Library = scenarios.BUNDLED,
) -> scenarios.Scenario:
    """The scenario `name` of `library` with `overrides`; a variant is renamed `<name>-<id>`."""
    names = library.names()
    if name not in names:
        raise BadRequest(f"scenario: {name!r} is not a bundled scenario (known: {', '.join(names)})")
    try:
        loaded = library.load(name, overrides or None)
    except ValueError as exc:
        raise BadRequest(f"overrides: {exc}") from None
    if overrides and run_id:
        loaded = loaded.with_overrides({"scenario.name": f"{name}-{run_id[:8]}"})
    return loaded


def parse_submission(
    body: Any,
    district_names: set[str] | None,
    library: scenarios.Library = scenarios.BUNDLED,
) -> Submission:
    """A `Submission` from the JSON body of `POST /api/energy/runs` (every problem named)."""
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object with at least 'scenario'")
    unknown = sorted(set(body) - {"scenario", "area", "strategy", "overrides"})
    if unknown:
        raise BadRequest(
            f"unknown member(s) {', '.join(unknown)}; expected scenario, area, strategy, overrides"
        )
    name = body.get("scenario")
    if not isinstance(name, str) or not name:
        raise BadRequest("scenario: required, the name of a bundled scenario (GET /api/energy/scenarios)")
    overrides = body.get("overrides") or {}
    if not isinstance(overrides, dict):
        raise BadRequest('overrides: expected an object of "section.key": value, e.g. {"pv.adoption": 0.8}')
    overrides = dict(overrides)
    for key in overrides:
        if key in API_FORBIDDEN:
            raise BadRequest(f"overrides: {key} cannot be set through the API: {API_FORBIDDEN[key]}")
    area = body.get("area")
    if area is not None:
        if not isinstance(area, list) or not all(isinstance(a, str) and a.strip() for a in area):
            raise BadRequest('area: expected a list of district names, e.g. ["Altstadt", "Neustadt"]')
        if district_names is not None:
            known = {n.casefold() for n in district_names}
            missing = [a for a in area if a.strip().casefold() not in known]
            if missing:
                raise BadRequest(f"area: no district named {', '.join(missing)}")
        overrides["scenario.area"] = [a.strip() for a in area]
    strategy = body.get("strategy")
    if strategy is not None:
        if strategy not in scenarios.STRATEGIES:
            raise BadRequest(f"strategy: {strategy!r} is not one of {', '.join(scenarios.STRATEGIES)}")
        overrides["scenario.strategy"] = strategy
    defined = load_scenario(name, {}, library=library)
    checked = load_scenario(name, overrides, library=library)  # raises naming the bad override
    # What the scenario file says already is no change: the run is the scenario as defined.
    changes = {}
    for key, value in overrides.items():
        section, _, field_name = key.partition(".")
        if getattr(getattr(checked, section), field_name) != getattr(getattr(defined, section), field_name):
            changes[key] = value
    return Submission(name, changes)


class EnergyRuns:
    """The stored runs of one store, and this process's worker thread."""

    def __init__(
        self,
        engine: Engine,
        access: Access | None = None,
        library: scenarios.Library = scenarios.BUNDLED,
        in_process: bool = True,
    ) -> None:
        self.engine = engine
        #: Whether this process runs what is submitted (a worker thread, started on demand); False
        #: when separate worker processes do (the setting `scenario_worker = "separate"`, `work_forever`).
        self.in_process = in_process
        #: Who may read and write which run (None: the platform itself, as the CLI runs them).
        self.access = access
        #: The scenarios runs are made of (the setting `energy_scenarios`).
        self.library = library
        self._lock = threading.Lock()
        self._worker: threading.Thread | None = None
        self._stop = threading.Event()
        #: The process of the run this process's worker executes now (None between runs).
        self._child: multiprocessing.process.BaseProcess | None = None

    # --- submitting --------------------------------------------------------------------------------

    def submit(self, principal: Principal, body: Any, start: bool = True) -> str:
        """Check and store a run (queued); start the worker unless `start` is False. Its id."""
        run = self.prepare(principal, body)
        with for_writes(self.engine).begin() as connection:
            connection.execute(energy_runs.insert().values(**run))
        if start and self.in_process:
            self.start_worker()
        return str(run["id"])

    def submit_plan(self, principal: Principal, body: Any, start: bool = True) -> str:
        """Check and store a plan (energy/plans.py), queued like a run; start the worker unless
        `start` is False. Its id."""
        from urbantwin.energy.plans import prepare_plan

        row = prepare_plan(self, principal, body)
        with for_writes(self.engine).begin() as connection:
            connection.execute(energy_runs.insert().values(**row))
        if start and self.in_process:
            self.start_worker()
        return str(row["id"])

    def prepare(self, principal: Principal, body: Any) -> dict[str, Any]:
        """Check a run as `submit` does (who may, the scenario, area and overrides); the row to
        store, not stored yet (a sweep stores all its runs in one transaction)."""
        name = body.get("scenario") if isinstance(body, dict) else None
        bundled_names = set(self.library.names())
        if self.access is not None and isinstance(name, str) and name in bundled_names:
            # The run writes the scenario's KPI collection: whoever may write that dataset may run
            # it (a scenario never run yet is a new dataset, which administrators create). Asked
            # before the rest of the body is judged: who may not submit learns no more than that.
            with self.engine.connect() as connection:
                self.access.authorize_write(Caller(principal), connection, scenario_dataset(name))
        scenario = self.library.load(name) if isinstance(name, str) and name in bundled_names else None
        submission = parse_submission(body, self.district_names(scenario), self.library)
        run_id = uuid.uuid4().hex
        loaded = load_scenario(submission.scenario, submission.overrides, run_id, self.library)
        collection = f"energy-{loaded.scenario.name}"
        now = _now()
        info = loaded.scenario
        return {
            "id": run_id,
            "scenario": submission.scenario,
            "title": info.title if not submission.variant else f"{info.title} (variant)",
            "description": info.description,
            "strategy": info.strategy,
            "overrides": submission.overrides,
            "collection": collection,
            "status": "queued",
            "progress": 0.0,
            "submitted_by": principal.name,
            "created": now,
            "heartbeat": now,
            "parameters": _parameters(loaded),
        }

    def district_names(self, scenario: scenarios.Scenario | None = None) -> set[str] | None:
        """Names of the districts an area of `scenario` may name (see `model.districts_of`); None
        when the store has none (the run then fails naming what is missing)."""
        districts = model.districts_of(scenario or scenarios.Scenario(), read_profile(self.engine))
        if districts is None:
            return None
        with self.engine.connect() as connection:
            rows = connection.execute(
                select(features.c.properties).where(features.c.collection_id == districts.collection)
            ).all()
        if not rows:
            return None
        key = districts.name_property
        return {str((props or {}).get(key)) for (props,) in rows if (props or {}).get(key)}

    # --- reading -----------------------------------------------------------------------------------

    def scope(self, caller: Caller) -> DatasetScope:
        """The datasets `caller` may read, of which a run's decides whether they see it."""
        return self.access.scope(caller) if self.access is not None else EVERYTHING

    def readable(self, caller: Caller, run_id: str) -> DatasetScope:
        """`caller`'s scope, after a 404 unless it may read the run (the read counted and, when
        restricted, audited)."""
        if self.access is None:
            return EVERYTHING
        dataset = self.dataset_of(run_id)
        return self.access.require_readable(caller, dataset, f"energy run {run_id!r}", "energy")

    def require_submitter(self, caller: Caller) -> None:
        """Refuse at once a caller who may write nothing, before the body is read."""
        if self.access is not None:
            self.access.require_writer(caller, "submitting an energy run")

    def list(self, scope: DatasetScope = EVERYTHING, kind: str = "run") -> list[Any]:
        """Every run of `kind` (`run`, or `plan`: energy/plans.py) `scope` may read, newest first
        (interrupted ones marked failed first)."""
        self.expire()
        with self.engine.connect() as connection:
            rows = connection.execute(
                _with_dataset(select(*_SUMMARY_COLUMNS))
                .where(energy_runs.c.kind == kind)
                .order_by(energy_runs.c.created.desc(), energy_runs.c.id)
            ).all()
        return [row for row in rows if scope.allows(run_dataset(row))]

    def of_sweep(self, sweep_id: str) -> Sequence[Any]:
        """The runs of a sweep (summary rows, as `list` gives them), oldest first."""
        with self.engine.connect() as connection:
            return list(
                connection.execute(
                    _with_dataset(select(*_SUMMARY_COLUMNS))
                    .where(energy_runs.c.sweep_id == sweep_id)
                    .order_by(energy_runs.c.created, energy_runs.c.id)
                ).all()
            )

    def dataset_of(self, run_id: str) -> str:
        """The dataset a run is read with (see the module doc); 404 for an unknown run."""
        return run_dataset(self.get(run_id))

    def get(self, run_id: str, with_parameters: bool = False, scope: DatasetScope = EVERYTHING) -> Any:
        self.expire()
        columns = [*_SUMMARY_COLUMNS, energy_runs.c.parameters] if with_parameters else _SUMMARY_COLUMNS
        with self.engine.connect() as connection:
            row = connection.execute(
                _with_dataset(select(*columns)).where(energy_runs.c.id == run_id)
            ).first()
        # Unreadable reads as unknown, so a restricted run's existence does not leak.
        if row is None or not scope.allows(run_dataset(row)):
            raise NotFound(f"no energy run {run_id!r}")
        return row

    def profiles(self, run_id: str, scope: DatasetScope = EVERYTHING) -> dict[str, Any]:
        row = self._done(run_id, scope)
        with self.engine.connect() as connection:
            profiles = connection.execute(
                select(energy_runs.c.profiles).where(energy_runs.c.id == run_id)
            ).scalar_one()
        if profiles is None:
            raise NotFound(f"energy run {row.id!r} has no profiles")
        return profiles

    def series(self, run_id: str, scope: DatasetScope = EVERYTHING) -> tuple[Any, datetime, dict[str, Any]]:
        """The run (summary row), the start of its first step and its 15-minute series."""
        row = self._done(run_id, scope)
        with self.engine.connect() as connection:
            stored = connection.execute(
                select(energy_run_series).where(energy_run_series.c.run_id == run_id)
            ).first()
        if stored is None:
            raise NotFound(f"energy run {run_id!r} has no stored series")
        return row, stored.start, results.unpack_series(stored.data)

    def baseline_for(self, row: Any, scope: DatasetScope = EVERYTHING) -> Any | None:
        """The newest done run of the bundled baseline on the same area (the targets' reference)
        that `scope` may read: a comparison with a baseline one may not read would tell its KPIs."""
        area = (row.overrides or {}).get("scenario.area")
        with self.engine.connect() as connection:
            candidates = connection.execute(
                _with_dataset(select(*_SUMMARY_COLUMNS))
                .where(
                    energy_runs.c.scenario == "baseline",
                    energy_runs.c.status == "done",
                    energy_runs.c.kind == "run",
                )
                .order_by(energy_runs.c.finished.desc())
            ).all()
        for candidate in candidates:
            overrides = candidate.overrides or {}
            if (
                set(overrides) <= {"scenario.area"}
                and overrides.get("scenario.area") == area
                and scope.allows(run_dataset(candidate))
            ):
                return candidate
        return None

    def _done(self, run_id: str, scope: DatasetScope = EVERYTHING) -> Any:
        row = self.get(run_id, scope=scope)
        if row.status != "done":
            detail = f": {row.error}" if row.error else ""
            raise NotFound(f"energy run {run_id!r} is {row.status}{detail}; results exist once it is done")
        return row

    # --- interrupted runs --------------------------------------------------------------------------

    def expire(self, older_than: float = STALE_SECONDS) -> int:
        """Mark failed the queued or running runs whose heartbeat is older than `older_than` seconds."""
        limit = _now() - timedelta(seconds=older_than)
        stale = and_(energy_runs.c.status.in_(("queued", "running")), energy_runs.c.heartbeat < limit)
        with self.engine.connect() as connection:
            if connection.execute(select(energy_runs.c.id).where(stale).limit(1)).first() is None:
                return 0
        with for_writes(self.engine).begin() as connection:
            result = connection.execute(
                update(energy_runs)
                .where(stale)
                .values(status="failed", error=INTERRUPTED.format(seconds=older_than), finished=_now())
            )
        return result.rowcount or 0

    def recover(self, grace: float = START_GRACE_SECONDS) -> int:
        """At server start: fail the runs no living worker renews, then work on the queued ones left."""
        failed = self.expire(grace)
        if not self.in_process:
            return failed
        with self.engine.connect() as connection:
            queued = connection.execute(select(energy_runs.c.id).where(_QUEUED_ALONE).limit(1)).first()
        if queued is not None:
            self.start_worker()
        return failed

    # --- the worker --------------------------------------------------------------------------------

    def start_worker(self) -> None:
        """Start this process's worker thread unless it runs (it ends when no run is queued)."""
        with self._lock:
            if self._worker is not None and self._worker.is_alive():
                return
            self._stop.clear()
            self._worker = threading.Thread(target=self._work, name="energy-runs", daemon=True)
            self._worker.start()

    def stop_worker(self, timeout: float | None = None) -> None:
        """Ask the worker to stop after the current run, and wait for it."""
        self._stop.set()
        worker = self._worker
        if worker is not None:
            worker.join(timeout)

    def shutdown(self, timeout: float = 10.0) -> None:
        """At server stop: end the run this process executes now and mark it interrupted at once
        (the next start would find it abandoned anyway, but only after `START_GRACE_SECONDS`, and
        its process would keep renewing the queue's heartbeats until then); queued runs stay queued
        for the next worker."""
        self._stop.set()
        child = self._child
        if child is not None and child.is_alive():
            child.terminate()
        self.stop_worker(timeout)

    def wait(self, timeout: float) -> bool:
        """Wait until the worker has nothing left to do; whether it finished within `timeout`."""
        worker = self._worker
        if worker is None:
            return True
        worker.join(timeout)
        return not worker.is_alive()

    def _work(self) -> None:
        while not self._stop.is_set():
            run_id = self.claim()
            if run_id is None:
                with self._lock:
                    # Submissions seen after this check start a new worker (start_worker holds the lock).
                    if self.claim_peek() is None:
                        self._worker = None
                        return
                continue
            self.execute_apart(run_id)

    def work_forever(
        self, stop: threading.Event, poll_seconds: float = 2.0, sweeps: Callable[[], bool] | None = None
    ) -> int:
        """A worker process's loop (`urbantwin energy worker`): run queued runs one after another,
        oldest first, until `stop` is set; between runs look again every `poll_seconds`. Claims are
        atomic, so any number of such processes (on any hosts sharing the store) share the queue. While
        a run is executing, its process renews the queued runs' heartbeats (`_progress`), so they do not
        read as abandoned; runs no one renewed for `STALE_SECONDS` are failed, as a server start does.
        `sweeps` (`EnergySweeps.drive_next`) drives a queued sweep before the next run is taken.
        The number of runs done (a sweep's not counted)."""
        done = 0
        while not stop.is_set():
            self.expire()
            if sweeps is not None and sweeps():
                continue
            run_id = self.claim()
            if run_id is None:
                stop.wait(poll_seconds)
                continue
            log.info("energy run %s started", run_id)
            self.execute_apart(run_id)
            done += 1
        return done

    def execute_apart(self, run_id: str, body: Callable[[str, str, str], None] | None = None) -> None:
        """Run a claimed run in a process of its own and wait for it.

        A year of the quarter is minutes of CPU in Python: in the server's own process it would take
        the interpreter lock from the requests for that long, and a crash in a native solver would
        take the server with it. The child writes progress and results to the store like the thread
        would; if it dies without saying so, the run is marked failed here. An in-memory SQLite store
        (tests) cannot be shared with another process: there the run stays in this thread.
        """
        url = self.engine.url
        if url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:"):
            self.execute(run_id)
            return
        context = multiprocessing.get_context("spawn")  # no copy of the server's threads and sockets
        child = context.Process(
            target=body or _execute_in_child,
            args=(url.render_as_string(hide_password=False), run_id, str(self.library.folder)),
            name=f"energy-run-{run_id[:8]}",
            daemon=True,  # ends with the server; the next start fails the run (see `recover`)
        )
        self._child = child
        try:
            child.start()
            child.join()
        finally:
            self._child = None
        if child.exitcode != 0:
            stopped = self._stop.is_set() and child.exitcode == -signal.SIGTERM
            error = (
                "interrupted: the server stopped before the run finished; submit it again"
                if stopped
                else f"the run's process ended unexpectedly (exit code {child.exitcode})"
            )
            with for_writes(self.engine).begin() as connection:
                connection.execute(
                    update(energy_runs)
                    .where(energy_runs.c.id == run_id, energy_runs.c.status == "running")
                    .values(status="failed", error=error, finished=_now())
                )

    def claim_peek(self) -> str | None:
        with self.engine.connect() as connection:
            return connection.execute(select(energy_runs.c.id).where(_QUEUED_ALONE).limit(1)).scalar()

    def claim(self) -> str | None:
        """Take the oldest queued run (status → running); None when nothing is queued. A sweep's
        runs are its driver's (energy/sweeps.py), never taken here."""
        while True:
            with self.engine.connect() as connection:
                run_id = connection.execute(
                    select(energy_runs.c.id)
                    .where(_QUEUED_ALONE)
                    .order_by(energy_runs.c.created, energy_runs.c.id)
                    .limit(1)
                ).scalar()
            if run_id is None:
                return None
            now = _now()
            with for_writes(self.engine).begin() as connection:
                taken = connection.execute(
                    update(energy_runs)
                    .where(energy_runs.c.id == run_id, energy_runs.c.status == "queued")
                    .values(status="running", started=now, heartbeat=now, progress=0.0)
                ).rowcount
            if taken:
                return run_id  # else another process took it first: try the next

    def execute(self, run_id: str) -> None:
        """Simulate a claimed run and store its results; any failure ends it failed, with the cause."""
        try:
            self._execute(run_id)
        except Exception as exc:  # noqa: BLE001 - whatever stops a run is reported on the run
            log.exception("energy run %s failed", run_id)
            message = str(exc) if isinstance(exc, ValueError | BadRequest) else f"{type(exc).__name__}: {exc}"
            with for_writes(self.engine).begin() as connection:
                connection.execute(
                    update(energy_runs)
                    .where(energy_runs.c.id == run_id)
                    .values(status="failed", error=message, finished=_now())
                )

    def _execute(self, run_id: str) -> None:
        with self.engine.connect() as connection:
            row = connection.execute(select(energy_runs).where(energy_runs.c.id == run_id)).one()
        if row.kind == "plan":
            from urbantwin.energy.plans import execute_plan

            execute_plan(self, row)
            return
        loaded = load_scenario(row.scenario, row.overrides or {}, run_id, self.library)
        site, records = store_buildings(self.engine, loaded)
        self._progress(run_id, PREPARE_SHARE * 0.2)
        total_steps = 365 * 96
        done_steps = 0
        last = 0.0

        def advance(steps: int) -> None:
            nonlocal done_steps, last
            done_steps += steps
            moment = time.monotonic()
            if moment - last >= PROGRESS_SECONDS:
                last = moment
                self._progress(run_id, PREPARE_SHARE + SIMULATE_SHARE * min(done_steps / total_steps, 1.0))

        simulated = simulate(records, loaded, progress=advance, site=site)
        self._progress(run_id, PREPARE_SHARE + SIMULATE_SHARE)
        if row.collection != scenario_dataset(row.scenario):
            # A variant's collection would be published open; it keeps its scenario's rules.
            with for_writes(self.engine).begin() as connection:
                derive_dataset(
                    connection, row.collection, scenario_dataset(row.scenario), f"{row.title} {run_id[:8]}"
                )
        results.store_kpis(self.engine, simulated)
        series = {name: simulated.result.series[name] for name in results.SERIES_FLOWS}
        year = loaded.scenario.year
        calendar_start = datetime(year, 1, 1, tzinfo=UTC) - timedelta(hours=1)  # 00:00 UTC+1
        district = {key: results._clean(value) for key, value in simulated.district_kpis.items()}
        with for_writes(self.engine).begin() as connection:
            connection.execute(energy_run_series.delete().where(energy_run_series.c.run_id == run_id))
            connection.execute(
                energy_run_series.insert().values(
                    run_id=run_id,
                    start=calendar_start,
                    steps=len(series["pv"]),
                    flows=list(series),
                    data=results.pack_series(series),
                )
            )
            connection.execute(
                update(energy_runs)
                .where(energy_runs.c.id == run_id)
                .values(
                    status="done",
                    progress=1.0,
                    error=None,
                    finished=_now(),
                    heartbeat=_now(),
                    strategy=simulated.result.strategy,
                    kpis=district,
                    profiles=results.profiles(series, year),
                )
            )

    def _progress(self, run_id: str, fraction: float) -> None:
        """Write the run's progress and renew the heartbeats of it and of the queued runs."""
        now = _now()
        with for_writes(self.engine).begin() as connection:
            connection.execute(
                update(energy_runs)
                .where(energy_runs.c.id == run_id)
                .values(progress=round(fraction, 4), heartbeat=now)
            )
            _renew_queued(connection, now)


def _execute_in_child(database_url: str, run_id: str, scenarios_folder: str = "") -> None:
    """The body of a run's own process (see `EnergyRuns.execute_apart`)."""
    from urbantwin.settings import Settings
    from urbantwin.store.engine import make_engine

    logging.basicConfig(level=logging.WARNING)
    engine = make_engine(Settings(database_url=database_url))
    try:
        EnergyRuns(engine, library=scenarios.Library.at(scenarios_folder)).execute(run_id)
    finally:
        engine.dispose()


#: Queued runs submitted alone: the run queue's (a sweep's runs wait for its driver).
_QUEUED_ALONE = and_(energy_runs.c.status == "queued", energy_runs.c.sweep_id.is_(None))


def _renew_queued(connection: Connection, now: datetime) -> None:
    connection.execute(update(energy_runs).where(energy_runs.c.status == "queued").values(heartbeat=now))


def _parameters(loaded: scenarios.Scenario) -> list[dict[str, Any]]:
    return [
        {
            "parameter": p["parameter"],
            "value": p["value"],
            "source": p["source"],
            "assumed": p["assumed"],
            "doc": p["doc"],
        }
        for p in loaded.parameters()
    ]


_SUMMARY_COLUMNS = [
    energy_runs.c.id,
    energy_runs.c.scenario,
    energy_runs.c.title,
    energy_runs.c.description,
    energy_runs.c.strategy,
    energy_runs.c.overrides,
    energy_runs.c.collection,
    energy_runs.c.status,
    energy_runs.c.progress,
    energy_runs.c.error,
    energy_runs.c.submitted_by,
    energy_runs.c.created,
    energy_runs.c.started,
    energy_runs.c.finished,
    energy_runs.c.kpis,
    energy_runs.c.sweep_id,
    energy_runs.c.kind,
    energy_runs.c.plan,
]


def scenario_dataset(scenario: str) -> str:
    """The dataset of a scenario's runs: that of its KPI collection `energy-<scenario>`."""
    return f"energy-{scenario}"


def run_dataset(row: Any) -> str:
    """The dataset a run is read with: its collection's once stored, else its scenario's."""
    return row.collection_dataset or scenario_dataset(row.scenario)


def _with_dataset(query: Any) -> Any:
    """`query` on `energy_runs` with the dataset of each run's collection (`collection_dataset`)."""
    return query.add_columns(collections.c.dataset_id.label("collection_dataset")).select_from(
        energy_runs.outerjoin(collections, collections.c.id == energy_runs.c.collection)
    )


def targets(row: Any, baseline: Any | None) -> dict[str, Any] | None:
    """The run's district KPIs against the baseline run's, as changes and whether each target is met."""
    if baseline is None or row.kpis is None or baseline.kpis is None:
        return None
    changes = kpi.against_baseline(row.scenario, row.kpis, baseline.kpis)
    out: dict[str, Any] = {"baseline": baseline.id}
    for key, target in kpi.TARGETS.items():
        change = getattr(changes, key)
        out[key] = {
            "change": None if change != change else round(change, 6),  # NaN when the baseline is 0
            "target": target,
            "met": bool(change == change and changes.met(key)),
        }
    # Runs stored by an earlier version (or written by hand) may lack the flows the grid path needs:
    # no first year then, rather than a failed read.
    complete = all(key in kpis for kpis in (row.kpis, baseline.kpis) for key in TRAJECTORY_KPIS)
    out["first_year"] = (
        first_years(row.kpis, baseline.kpis, (row.overrides or {}).get("grid.gas_co2_g_per_kwh"))
        if complete
        else None
    )
    return out


#: The district KPIs the grid path of `first_years` recomputes a run's targets from.
TRAJECTORY_KPIS = ("import_kwh", "export_kwh", "pv_kwh", "ambient_heat_kwh", "co2_kg", "final_energy_kwh")


def first_years(
    kpis: dict[str, Any], baseline: dict[str, Any], gas_g_per_kwh: float | None
) -> dict[str, Any]:
    """The first year of the grid path (`trajectory.GERMAN_GRID`) in which the run meets each target
    and all of them (None: not by the path's last year), against the baseline as simulated."""
    path = trajectory.path_of(kpis, baseline, implied_grid_factor(kpis, gas_g_per_kwh))
    return {**path["first_year"], "all": path["first_year_all"]}


def implied_grid_factor(kpis: dict[str, Any], gas_g_per_kwh: float | None = None) -> float:
    """The run's mean grid CO2 factor [g/kWh] over its imports: (CO2 − CO2 of the gas) ÷ grid import
    (the import-weighted mean of an hourly signal, or the constant)."""
    imports = float(kpis.get("import_kwh") or 0.0)
    if imports <= 0:
        return 0.0
    gas = float(kpis.get("gas_kwh") or 0.0) * (gas_g_per_kwh or GridParams().gas_co2_g_per_kwh) / 1000.0
    return max(float(kpis["co2_kg"]) - gas, 0.0) / imports * 1000.0
