"""`urbantwin energy worker`: the scenario worker of a deployment, as its systemd unit runs it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.energy.conftest import DEMO_QUARTER
from tests.energy.test_api import load_small_quarter
from urbantwin.access.principal import SYSTEM
from urbantwin.demo import ENERGY_SCENARIOS
from urbantwin.energy.jobs import EnergyRuns
from urbantwin.settings import Settings
from urbantwin.store.engine import make_engine, upgrade

URBANTWIN = Path(sys.executable).with_name("urbantwin")


@pytest.mark.long  # a worker process starting, and an energy run in a process of its own
def test_the_worker_runs_what_the_api_queued_and_stops_on_sigterm(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.sqlite'}"
    engine = make_engine(Settings(database_url=url))
    upgrade(engine)
    load_small_quarter(engine)
    server = EnergyRuns(engine, library=DEMO_QUARTER, in_process=False)  # a server with a separate worker
    run_id = server.submit(SYSTEM, {"scenario": "baseline"})
    environment = {
        **os.environ,
        "URBANTWIN_DATABASE_URL": url,
        "URBANTWIN_ENERGY_SCENARIOS": str(ENERGY_SCENARIOS),
        "URBANTWIN_SCENARIO_WORKER": "separate",
    }
    worker = subprocess.Popen(
        [str(URBANTWIN), "energy", "worker", "--poll", "0.2"],
        env=environment,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 300
        while server.get(run_id).status in ("queued", "running") and time.monotonic() < deadline:
            time.sleep(0.2)
        assert server.get(run_id).status == "done", server.get(run_id).error
        worker.send_signal(signal.SIGTERM)
        _, errors = worker.communicate(timeout=60)
    finally:
        if worker.poll() is None:
            worker.kill()
        engine.dispose()
    assert worker.returncode == 0, errors
    assert "SIGTERM: stopping after the current run" in errors
    assert "Scenario worker stopped after 1 run." in errors
    assert "scenario_worker is 'server'" not in errors  # configured as a deployment would be


def test_the_worker_refuses_a_poll_interval_of_zero() -> None:
    answer = subprocess.run(
        [str(URBANTWIN), "energy", "worker", "--poll", "0"], capture_output=True, text=True, timeout=60
    )
    assert answer.returncode == 2 and "--poll must be more than 0 seconds" in answer.stderr
