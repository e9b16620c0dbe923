"""Energy sweeps: every scenario × every area as runs on a Dask cluster, their results those of the same
runs executed one by one, followed through `/api/energy/sweeps`."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from distributed import LocalCluster
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select, update

from tests.energy.conftest import DEMO_QUARTER
from tests.energy.test_api import load_small_quarter
from urbantwin.access.principal import SYSTEM
from urbantwin.energy.jobs import EnergyRuns
from urbantwin.energy.sweeps import DRIVER_STOPPED, MAX_RUNS, EnergySweeps
from urbantwin.errors import BadRequest
from urbantwin.settings import Settings
from urbantwin.store.energy_schema import energy_runs, energy_sweeps

TWO_BY_TWO = {"scenarios": ["baseline", "pv_batteries_rule"], "areas": [["Plagwitz"], ["Testviertel"]]}
TWO_BY_ONE = {"scenarios": ["baseline", "pv_batteries_rule"], "areas": [["Testviertel"]]}


@pytest.mark.long  # a Dask cluster of two processes and four runs of a year
def test_a_sweep_runs_on_dask_and_gives_the_results_of_the_same_runs_executed_alone(engine: Engine) -> None:
    load_small_quarter(engine)
    runs = EnergyRuns(engine, library=DEMO_QUARTER)
    # A cluster of its own, as one on other hosts would be, named by its scheduler's address (the
    # setting `dask_scheduler`); the API test below uses the local cluster the server starts.
    with LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None) as cluster:
        sweeps = EnergySweeps(runs, scheduler=cluster.scheduler_address)
        try:
            sweep_id = sweeps.submit(SYSTEM, TWO_BY_ONE, start=False)
            assert runs.claim() is None  # the run queue's worker leaves a sweep's runs to its driver
            assert sweeps.drive_next() is True
            assert len(sweeps.dask().scheduler_info()["workers"]) == 2
        finally:
            sweeps.shutdown()

    swept = sweeps.get(sweep_id)
    assert swept["sweep"].status == "ended"
    assert swept["total"] == 2 and swept["counts"] == {"queued": 0, "running": 0, "done": 2, "failed": 0}
    assert swept["progress"] == 1.0
    asked = [(row.scenario, row.overrides["scenario.area"]) for row in swept["runs"]]
    assert asked == [("baseline", ["Testviertel"]), ("pv_batteries_rule", ["Testviertel"])]
    for row in swept["runs"]:
        alone = runs.submit(
            SYSTEM, {"scenario": row.scenario, "area": row.overrides["scenario.area"]}, start=False
        )
        runs.execute(runs.claim() or "")
        assert runs.get(alone).kpis == row.kpis  # the very same simulation, not a close one
    assert all(row.kpis["buildings"] == 6 for row in swept["runs"])  # both districts cover the six


def test_a_sweep_is_submitted_followed_and_listed_through_the_api(
    client: TestClient, anonymous: TestClient, engine: Engine
) -> None:
    load_small_quarter(engine)
    body = {"scenarios": ["baseline"], "areas": [["Testviertel"]]}
    assert anonymous.post("/api/energy/sweeps", json=body).status_code == 401
    answer = client.post("/api/energy/sweeps", json=body)
    assert answer.status_code == 202, answer.text
    sweep = answer.json()
    assert answer.headers["location"].endswith(f"/api/energy/sweeps/{sweep['id']}")
    assert sweep["total"] == 1 and sweep["scenarios"] == ["baseline"] and sweep["areas"] == [["Testviertel"]]
    deadline = time.monotonic() + 240
    while sweep["status"] != "ended":
        assert time.monotonic() < deadline, f"the sweep did not end: {sweep['counts']}"
        time.sleep(0.5)
        sweep = client.get(f"/api/energy/sweeps/{sweep['id']}").json()
    assert sweep["counts"]["done"] == 1 and sweep["progress"] == 1.0, sweep["runs"][0]["error"]
    (run,) = sweep["runs"]
    assert run["sweep"] == sweep["id"] and run["status"] == "done" and run["kpis"]["buildings"] > 0
    assert client.get(f"/api/energy/runs/{run['id']}").json()["kpis"] == run["kpis"]
    listed = client.get("/api/energy/sweeps").json()["sweeps"]
    assert [s["id"] for s in listed] == [sweep["id"]] and "runs" not in listed[0]
    assert client.get("/api/energy/sweeps/0123").status_code == 404


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """One Dask worker process is enough for the API's one-run sweep."""
    return settings.with_overrides(dask_workers=1)


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ([], "the body must be a JSON object"),
        ({"scenarios": []}, "scenarios: expected a list"),
        ({"scenarios": ["baseline"], "area": ["Plagwitz"]}, "unknown member(s) area"),
        ({"scenarios": ["baseline", "baseline"]}, "a scenario is named twice"),
        ({"scenarios": ["baseline", "atlantis"]}, "'atlantis' is not a bundled scenario"),
        ({"scenarios": "all", "areas": [["Atlantis"]]}, "area: no district named Atlantis"),
        ({"scenarios": ["baseline"], "areas": ["Plagwitz"]}, "areas: expected a list of areas"),
        ({"scenarios": ["baseline"], "areas": [["Plagwitz"]] * (MAX_RUNS + 1)}, f"at most {MAX_RUNS}"),
        ({"scenarios": ["baseline"], "overrides": {"grid.co2_signal_csv": "/etc/passwd"}}, "names a file"),
    ],
)
def test_a_bad_sweep_is_refused_naming_the_problem_and_stores_nothing(
    engine: Engine, body, named: str
) -> None:  # noqa: ANN001
    load_small_quarter(engine)
    sweeps = EnergySweeps(EnergyRuns(engine, library=DEMO_QUARTER))
    with pytest.raises(BadRequest, match=named.replace("(", r"\(").replace(")", r"\)")):
        sweeps.submit(SYSTEM, body, start=False)
    with engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(energy_runs)).scalar_one() == 0
        assert connection.execute(select(func.count()).select_from(energy_sweeps)).scalar_one() == 0


def test_each_district_of_the_city_profile_is_an_area_of_its_own(engine: Engine) -> None:
    load_small_quarter(engine)
    runs = EnergyRuns(engine, library=DEMO_QUARTER)
    sweep_id = EnergySweeps(runs).submit(SYSTEM, {"scenarios": ["baseline"], "areas": "each"}, start=False)
    areas = [row.overrides["scenario.area"] for row in runs.of_sweep(sweep_id)]
    assert areas == [[name] for name in sorted(runs.district_names() or ())]
    assert ["Plagwitz"] in areas and ["Testviertel"] in areas


def test_a_stopped_driver_fails_the_unfinished_runs_and_ends_the_sweep(engine: Engine) -> None:
    load_small_quarter(engine)
    runs = EnergyRuns(engine, library=DEMO_QUARTER)
    sweeps = EnergySweeps(runs)
    sweep_id = sweeps.submit(SYSTEM, TWO_BY_TWO, start=False)
    sweeps.request_stop()  # the server stops before the driver handed anything out
    assert sweeps.drive_next() is True
    swept = sweeps.get(sweep_id)
    assert swept["sweep"].status == "ended" and swept["counts"]["failed"] == 4
    assert {row.error for row in swept["runs"]} == {DRIVER_STOPPED}


def test_a_sweep_whose_driver_died_ends_and_its_runs_fail(engine: Engine) -> None:
    load_small_quarter(engine)
    runs = EnergyRuns(engine, library=DEMO_QUARTER)
    sweeps = EnergySweeps(runs)
    sweep_id = sweeps.submit(SYSTEM, TWO_BY_TWO, start=False)
    assert sweeps.claim() == sweep_id
    # The process driving it stopped three minutes ago: nobody renewed the sweep or its runs since.
    gone = datetime.now(UTC) - timedelta(minutes=3)
    with engine.begin() as connection:
        connection.execute(update(energy_sweeps).values(heartbeat=gone))
        connection.execute(update(energy_runs).values(status="running", heartbeat=gone))
    swept = sweeps.get(sweep_id)
    assert swept["sweep"].status == "ended" and swept["counts"]["failed"] == 4
    assert all(row.error.startswith("interrupted") for row in swept["runs"])
