"""`/api/energy/` under access rules: a run is read with the rights of its dataset.

The whole matrix of principals × routes is in tests/access/test_matrix.py (`test_energy_api`);
these are the cases the issue probed, with their messages.
"""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.energy.test_api import load_small_quarter
from urbantwin.access.principal import SYSTEM


def run(app, body: dict) -> str:  # noqa: ANN001
    """A run executed here and now (no worker process), as the platform itself submits it."""
    runs = app.state.energy.runs
    run_id = runs.submit(SYSTEM, body, start=False)
    runs.execute(runs.claim())
    return run_id


def test_an_internal_scenario_s_runs_answer_404_to_those_who_may_not_read_it(
    client: TestClient,
    anonymous: TestClient,
    app,
    engine,  # noqa: ANN001
) -> None:
    load_small_quarter(engine)
    baseline = run(app, {"scenario": "baseline"})
    rule = run(app, {"scenario": "pv_batteries_rule"})
    assert client.patch("/api/datasets/energy-baseline", json={"access_level": "internal"}).status_code == 204
    # A variant of the internal scenario: its collection gets a dataset with the scenario's rules.
    variant = run(app, {"scenario": "baseline", "overrides": {"pv.adoption": 1.0}})

    listed = {r["id"]: r for r in anonymous.get("/api/energy/runs").json()["runs"]}
    assert set(listed) == {rule}
    # The open run's targets would tell the internal baseline's KPIs: not compared for whom may not.
    assert listed[rule]["targets"] is None
    assert client.get(f"/api/energy/runs/{rule}").json()["targets"]["baseline"] == baseline
    for run_id in (baseline, variant):
        for path in ("", "/profiles", "/timeseries.csv", "/timeseries.parquet"):
            answer = anonymous.get(f"/api/energy/runs/{run_id}{path}")
            assert answer.status_code == 404, (path, answer.text)
            assert answer.json()["message"] == f"no energy run {run_id!r}"
        assert anonymous.get(f"/api/energy/monitoring?run={run_id}").status_code == 404
        assert client.get(f"/api/energy/runs/{run_id}/profiles").status_code == 200
    # Monitoring compares with the newest run the caller may read.
    assert anonymous.get("/api/energy/monitoring?days=1").json()["run"] == rule
    assert client.get("/api/energy/monitoring?days=1").json()["run"] == variant
    # The variant's collection kept its scenario's rules instead of being published open.
    collection = f"energy-baseline-{variant[:8]}"
    datasets = {d["id"]: d for d in client.get("/api/admin/datasets").json()}
    assert datasets[collection]["access_level"] == "internal"
    assert anonymous.get(f"/ogcapi/collections/{collection}/items").status_code == 404
    assert client.get(f"/ogcapi/collections/{collection}/items").json()["numberMatched"] == 6
    # A member of the publisher reads it, and that read of restricted data is audited.
    publisher = datasets["energy-baseline"]["publisher_id"]
    client.post("/api/admin/users", json={"name": "ines", "organisation_id": publisher})
    ines = {"Authorization": "Bearer " + client.post("/api/admin/users/ines/tokens", json={}).json()["token"]}
    assert anonymous.get(f"/api/energy/runs/{baseline}/profiles", headers=ines).status_code == 200
    reads = client.get("/api/admin/audit", params={"principal": "ines", "dataset": "energy-baseline"}).json()
    assert [r["target"] for r in reads] == [f"GET /api/energy/runs/{baseline}/profiles"]


def test_a_scenario_that_is_no_name_is_a_400_before_and_after_the_policy_is_asked(
    client: TestClient,
) -> None:
    for scenario in (["baseline"], {"name": "baseline"}, 7):
        answer = client.post("/api/energy/runs", json={"scenario": scenario})
        assert answer.status_code == 400, answer.text
        assert answer.json()["message"].startswith("scenario: required")
