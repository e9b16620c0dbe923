"""`/api/energy/`: scenarios, runs submitted and executed in the background, profiles, series, auth."""

from __future__ import annotations

import csv
import io
import time

import pytest
from fastapi.testclient import TestClient

from tests.energy.conftest import DEMO_QUARTER, rectangle
from tests.energy.test_cli import _row
from tests.energy.test_cli import load_small_quarter as load_testviertel
from urbantwin.city_profile import load_profile
from urbantwin.demo import PROFILE
from urbantwin.ingest.pipeline import CollectionInfo, store_rows
from urbantwin.store.city import write_profile

RULE_RUN = {"scenario": "pv_batteries_rule"}


def load_small_quarter(engine) -> None:  # noqa: ANN001
    """The demo's quarter in miniature: its city profile, the six test buildings in 'Plagwitz' (and
    'Testviertel'), beside the other three districts of the demo's area far away, so the area of
    the demo's scenarios exists."""
    load_testviertel(engine)
    here = rectangle(-10, -10, 200, 200)
    ortsteile = [
        _row(name, here, {"name": name, "einwohner_2024": 120}) for name in ("Plagwitz", "Testviertel")
    ]
    far = DEMO_QUARTER.load("baseline").scenario.area[1:]
    ortsteile += [
        _row(name, rectangle(5000 + 300 * k, 5000, 100, 100), {"name": name, "einwohner_2024": 0})
        for k, name in enumerate(far)
    ]
    store_rows(engine, ortsteile, CollectionInfo("ortsteile", "Ortsteile"), "OGC:CRS84", progress=False)
    with engine.begin() as connection:
        write_profile(connection, load_profile(PROFILE))


def finished(client: TestClient, run_id: str, timeout: float = 120.0) -> dict:
    """Poll the run until it is done or failed (as the viewer does)."""
    deadline = time.monotonic() + timeout
    seen = []
    while time.monotonic() < deadline:
        run = client.get(f"/api/energy/runs/{run_id}").json()
        seen.append(run["status"])
        if run["status"] in ("done", "failed"):
            run["seen"] = seen
            return run
        time.sleep(0.2)
    raise AssertionError(f"run {run_id} did not finish: {seen[-5:]}")


def test_scenarios_are_the_bundled_ones(client: TestClient) -> None:
    answer = client.get("/api/energy/scenarios")
    assert answer.status_code == 200
    names = {s["name"]: s["strategy"] for s in answer.json()["scenarios"]}
    assert names == {
        "baseline": "baseline",
        "pv_batteries_rule": "rule_based",
        "pv_hp_ev_optimised": "optimised",
    }


@pytest.mark.long  # a whole energy run
def test_a_run_goes_from_queued_to_done_with_kpis_profiles_and_series(client: TestClient, engine) -> None:
    load_small_quarter(engine)
    answer = client.post("/api/energy/runs", json=RULE_RUN)
    assert answer.status_code == 202, answer.text
    submitted = answer.json()
    assert submitted["status"] in ("queued", "running")
    assert submitted["simulated"] is True and "SIMULATED" in submitted["note"]
    assert submitted["collection"] == "energy-pv_batteries_rule"
    assert answer.headers["location"].endswith(f"/api/energy/runs/{submitted['id']}")
    run = finished(client, submitted["id"])
    assert run["status"] == "done", run["error"]
    assert run["progress"] == 1.0 and run["error"] is None
    assert run["kpis"]["buildings"] == 6 and run["kpis"]["pv_kwh"] > 0
    assert run["targets"] is None  # no baseline run yet
    assert {p["parameter"] for p in run["parameters"]} >= {"pv.adoption", "grid.co2_g_per_kwh"}
    rels = {link["rel"] for link in run["links"]}
    assert {"profiles", "timeseries-csv", "items"} <= rels
    # The per-building KPIs are the collection the summary names.
    items = client.get(f"/ogcapi/collections/{run['collection']}/items").json()
    assert items["numberMatched"] == 6

    profiles = client.get(f"/api/energy/runs/{run['id']}/profiles").json()
    assert profiles["simulated"] is True
    assert {"pv", "consumption", "grid_import", "grid_export"} <= set(profiles["flows"])
    assert len(profiles["daily"]["hours"]) == 96 and profiles["daily"]["hours"][1] == 0.25
    assert set(profiles["daily"]["seasons"]) == {"winter", "spring", "summer", "autumn"}
    assert len(profiles["daily"]["seasons"]["summer"]["pv"]) == 96

    download = client.get(f"/api/energy/runs/{run['id']}/timeseries.csv")
    assert download.status_code == 200 and download.headers["content-type"].startswith("text/csv")
    first, rest = download.text.split("\n", 1)
    assert first.startswith("# SIMULATED")
    rows = list(csv.DictReader(io.StringIO(rest)))
    assert len(rows) == 365 * 96
    assert rows[0]["time"] == "2025-01-01T00:00:00+01:00"
    # The profiles sum up to the series: monthly MWh are the 15-minute kWh of the month.
    for flow in ("pv", "grid_import", "grid_export"):
        total = sum(float(r[flow]) for r in rows)
        assert sum(profiles["monthly"]["values"][flow]) * 1000 == pytest.approx(total, rel=1e-4)
    january = sum(float(r["pv"]) for r in rows if r["time"].startswith("2025-01"))
    assert profiles["monthly"]["values"]["pv"][0] * 1000 == pytest.approx(january, rel=1e-4)
    consumption = sum(float(r["load"]) + float(r["ev"]) + float(r["hp_electricity"]) for r in rows)
    assert run["kpis"]["consumption_kwh"] == pytest.approx(consumption, rel=1e-4)
    # Mean summer power × hours of the summer days = the summer's energy.
    summer_days = 31 + 30 + 31
    summer_kwh = sum(float(r["pv"]) for r in rows if r["time"][5:7] in ("06", "07", "08"))
    assert sum(profiles["daily"]["seasons"]["summer"]["pv"]) / 4 * summer_days == pytest.approx(
        summer_kwh, rel=1e-3
    )

    listed = client.get("/api/energy/runs").json()
    assert listed["targets"] == {"co2": -0.64, "renewable": 0.65, "final_energy": -0.53}
    assert [r["id"] for r in listed["runs"]] == [run["id"]]


def test_targets_compare_with_the_baseline_run_of_the_same_area(client: TestClient, engine) -> None:
    load_small_quarter(engine)
    base = finished(
        client, client.post("/api/energy/runs", json={**RULE_RUN, "scenario": "baseline"}).json()["id"]
    )
    rule = finished(client, client.post("/api/energy/runs", json=RULE_RUN).json()["id"])
    assert rule["targets"]["baseline"] == base["id"]
    co2 = rule["targets"]["co2"]
    expected = (rule["kpis"]["co2_kg"] - base["kpis"]["co2_kg"]) / base["kpis"]["co2_kg"]
    assert co2["change"] == pytest.approx(expected, rel=1e-5)
    assert co2["target"] == -0.64 and co2["met"] is False
    # in which year of the grid's path each target is met: PV and batteries never reach −53 % final energy
    first = rule["targets"]["first_year"]
    assert set(first) == {"co2", "renewable", "final_energy", "all"}
    assert first["final_energy"] is None and first["all"] is None


def test_a_variant_gets_a_collection_of_its_own(client: TestClient, engine) -> None:
    load_small_quarter(engine)
    body = {**RULE_RUN, "area": ["Testviertel"], "strategy": "baseline", "overrides": {"pv.adoption": 1.0}}
    run = finished(client, client.post("/api/energy/runs", json=body).json()["id"])
    assert run["status"] == "done"
    assert run["collection"] == f"energy-pv_batteries_rule-{run['id'][:8]}"
    assert run["overrides"] == {
        "pv.adoption": 1.0,
        "scenario.strategy": "baseline",
        "scenario.area": ["Testviertel"],
    }
    assert run["strategy"] == "baseline"


NESTED_100: object = 0.5
for _ in range(100):
    NESTED_100 = [NESTED_100]


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"scenario": "nowhere"}, "scenario: 'nowhere' is not a bundled scenario"),
        ({}, "scenario: required"),
        ({"scenario": "baseline", "overrides": {"pv.adoption": 2}}, "pv.adoption"),
        ({"scenario": "baseline", "overrides": {"pv.colour": "blue"}}, "unknown key 'colour'"),
        (
            {"scenario": "baseline", "overrides": {"grid.co2_signal_csv": "/etc/passwd"}},
            "grid.co2_signal_csv",
        ),
        ({"scenario": "baseline", "strategy": "magic"}, "strategy: 'magic'"),
        ({"scenario": "baseline", "area": ["Atlantis"]}, "area: no district named Atlantis"),
        ({"scenario": "baseline", "area": "Plagwitz"}, "area: expected a list"),
        ({"scenario": "baseline", "colour": 1}, "unknown member(s) colour"),
        # the one rule of JSON input, as for every API
        ({"scenario": "baseline", "overrides": {"pv.adoption": NESTED_100}}, "the body nests deeper than 64"),
        ({"scenario": "base\x00line"}, "contains a NUL character"),
    ],
)
def test_bad_submissions_answer_400_naming_the_problem(
    client: TestClient, engine, body: dict, named: str
) -> None:
    load_small_quarter(engine)
    answer = client.post("/api/energy/runs", json=body)
    assert answer.status_code == 400, answer.text
    assert named in answer.json()["message"]
    assert client.get("/api/energy/runs").json()["runs"] == []


def test_submitting_needs_a_principal_who_may_write(anonymous: TestClient, engine) -> None:
    answer = anonymous.post("/api/energy/runs", json={"scenario": "baseline"})
    assert answer.status_code == 401
    assert "token" in answer.json()["message"]
    # Reading is open.
    assert anonymous.get("/api/energy/runs").status_code == 200


def test_unknown_runs_and_unfinished_results_are_404(client: TestClient) -> None:
    answer = client.get("/api/energy/runs/feedbeef")
    assert answer.status_code == 404 and "feedbeef" in answer.json()["message"]
    assert client.get("/api/energy/runs/feedbeef/profiles").status_code == 404
    assert client.get("/api/energy/runs/feedbeef/timeseries.csv").status_code == 404
