"""The run worker: queued → running → done in the store, and runs a stopped server left behind."""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, update

from tests.energy.conftest import DEMO_QUARTER
from tests.energy.test_api import load_small_quarter
from urbantwin.access.principal import SYSTEM
from urbantwin.energy.jobs import EnergyRuns, implied_grid_factor
from urbantwin.store.energy_schema import energy_runs


def test_a_run_is_queued_then_claimed_running_then_done(engine: Engine) -> None:
    load_small_quarter(engine)
    runs = EnergyRuns(engine, library=DEMO_QUARTER)
    run_id = runs.submit(SYSTEM, {"scenario": "baseline"}, start=False)
    assert runs.get(run_id).status == "queued"
    assert runs.claim() == run_id
    running = runs.get(run_id)
    assert running.status == "running" and running.started is not None
    assert runs.claim() is None  # nothing else queued; a claimed run is never taken twice
    runs.execute(run_id)
    done = runs.get(run_id)
    assert done.status == "done" and done.progress == 1.0 and done.kpis["buildings"] == 6
    _, start, series = runs.series(run_id)
    assert start == datetime(2024, 12, 31, 23, tzinfo=UTC)  # 00:00 UTC+1 on 1 January 2025
    assert len(series["pv"]) == 365 * 96


def test_a_run_without_buildings_fails_naming_why(engine: Engine) -> None:
    runs = EnergyRuns(engine, library=DEMO_QUARTER)
    run_id = runs.submit(SYSTEM, {"scenario": "baseline"}, start=False)
    runs.execute(runs.claim() or "")
    failed = runs.get(run_id)
    assert failed.status == "failed" and "no buildings in collection 'buildings'" in failed.error


def test_a_restart_marks_interrupted_runs_failed(engine: Engine) -> None:
    load_small_quarter(engine)
    runs = EnergyRuns(engine, library=DEMO_QUARTER)
    running = runs.submit(SYSTEM, {"scenario": "baseline"}, start=False)
    runs.claim()
    queued = runs.submit(SYSTEM, {"scenario": "pv_batteries_rule"}, start=False)
    # The process that ran them stopped a minute ago: nobody renewed their heartbeats since.
    with engine.begin() as connection:
        connection.execute(update(energy_runs).values(heartbeat=datetime.now(UTC) - timedelta(minutes=1)))
    fresh = runs.submit(SYSTEM, {"scenario": "baseline"}, start=False)
    restarted = EnergyRuns(engine, library=DEMO_QUARTER)
    assert restarted.recover() == 2
    for run_id in (running, queued):
        row = restarted.get(run_id)
        assert row.status == "failed" and row.error.startswith("interrupted: the server process")
    # The run queued just now is resumed by the new process's worker.
    assert restarted.wait(120)
    assert restarted.get(fresh).status == "done"


def test_reading_marks_runs_without_a_worker_failed(engine: Engine) -> None:
    runs = EnergyRuns(engine, library=DEMO_QUARTER)
    run_id = runs.submit(SYSTEM, {"scenario": "baseline"}, start=False)
    with engine.begin() as connection:
        connection.execute(update(energy_runs).values(heartbeat=datetime.now(UTC) - timedelta(hours=1)))
    assert runs.get(run_id).status == "failed"


def _die(_database_url: str, _run_id: str, _scenarios: str) -> None:
    """A run's process that crashes (as a native solver might), without a word to the store."""
    os._exit(3)


@pytest.mark.long  # energy runs in processes of their own
def test_a_run_executes_in_a_process_of_its_own_and_a_crash_fails_only_the_run(engine: Engine) -> None:
    load_small_quarter(engine)
    runs = EnergyRuns(engine, library=DEMO_QUARTER)
    run_id = runs.submit(SYSTEM, {"scenario": "baseline"}, start=False)
    runs.execute_apart(runs.claim() or "")
    done = runs.get(run_id)
    assert done.status == "done" and done.kpis["buildings"] == 6

    crashing = runs.submit(SYSTEM, {"scenario": "pv_batteries_rule"}, start=False)
    runs.execute_apart(runs.claim() or "", body=_die)
    failed = runs.get(crashing)
    assert failed.status == "failed"
    assert failed.error == "the run's process ended unexpectedly (exit code 3)"


def _hang(_database_url: str, _run_id: str, _scenarios: str) -> None:
    """A run's process still simulating when the server stops."""
    time.sleep(600)


def test_a_stopping_server_ends_its_run_and_marks_it_interrupted_at_once(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("urbantwin.energy.jobs._execute_in_child", _hang)
    load_small_quarter(engine)
    runs = EnergyRuns(engine, library=DEMO_QUARTER)
    running = runs.submit(SYSTEM, {"scenario": "baseline"})
    waiting = runs.submit(SYSTEM, {"scenario": "baseline"})
    deadline = time.monotonic() + 60
    while not any(child.name.startswith("energy-run-") for child in multiprocessing.active_children()):
        assert time.monotonic() < deadline, "the run's process never started"
        time.sleep(0.05)
    runs.shutdown(timeout=30)
    assert runs.wait(0), "the worker thread outlived the server"
    stopped = runs.get(running)
    assert stopped.status == "failed" and stopped.error.startswith("interrupted: the server stopped")
    assert runs.get(waiting).status == "queued"  # the next worker (or server start) takes it


def test_servers_of_a_separate_worker_only_queue_runs(engine: Engine) -> None:
    load_small_quarter(engine)
    server = EnergyRuns(engine, library=DEMO_QUARTER, in_process=False)
    run_id = server.submit(SYSTEM, {"scenario": "baseline"})
    assert server._worker is None and server.get(run_id).status == "queued"
    assert server.recover() == 0  # a fresh run is not failed, and no worker starts either
    assert server._worker is None and server.get(run_id).status == "queued"


@pytest.mark.long  # an energy run (on PostgreSQL in a process of its own)
def test_a_separate_worker_runs_the_queue_until_stopped(engine: Engine) -> None:
    load_small_quarter(engine)
    server = EnergyRuns(engine, library=DEMO_QUARTER, in_process=False)
    first = server.submit(SYSTEM, {"scenario": "baseline"})
    worker = EnergyRuns(engine, library=DEMO_QUARTER, in_process=False)
    stop = threading.Event()
    finished: list[int] = []
    loop = threading.Thread(target=lambda: finished.append(worker.work_forever(stop, poll_seconds=0.05)))
    loop.start()
    try:
        deadline = time.monotonic() + 300
        while server.get(first).status in ("queued", "running") and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        stop.set()
        loop.join(300)
    assert server.get(first).status == "done" and server.get(first).kpis["buildings"] == 6
    assert finished == [1] and not loop.is_alive()


def test_the_grid_factor_a_run_was_simulated_with_is_read_back_from_its_kpis() -> None:
    kpis = {"import_kwh": 1000.0, "gas_kwh": 500.0, "co2_kg": 1000.0 * 0.38 + 500.0 * 0.201}

    assert implied_grid_factor(kpis) == pytest.approx(380.0)
    assert implied_grid_factor({**kpis, "co2_kg": 1000.0 * 0.38 + 500 * 0.25}, 250.0) == pytest.approx(380.0)
    assert implied_grid_factor({**kpis, "import_kwh": 0.0}) == 0.0


def test_a_run_without_the_flows_of_the_grid_path_has_targets_but_no_first_year() -> None:
    """A run stored by an earlier version keeps its KPIs of then: its targets are still compared."""
    from types import SimpleNamespace

    from urbantwin.energy.jobs import targets

    old = {"co2_kg": 30.0, "renewable_kwh": 10.0, "final_energy_kwh": 5.0}
    row = SimpleNamespace(scenario="pv", kpis=old, overrides={})
    baseline = SimpleNamespace(id="baseline", kpis={**old, "co2_kg": 100.0})
    compared = targets(row, baseline)
    assert compared is not None and compared["first_year"] is None
    assert compared["co2"]["change"] == -0.7 and compared["co2"]["met"] is True
