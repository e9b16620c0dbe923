"""`/api/energy/plans`: the target-seeking planner submitted through the API, run by the run queue."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient

from tests.energy.test_api import load_small_quarter
from urbantwin.access.principal import SYSTEM
from urbantwin.energy.openapi import PlanDocument, PlanList
from urbantwin.energy.plans import binding_key

#: A quick plan: the six test buildings of 'Testviertel', the SPARCS targets, two solves at most.
SMALL = {"area": ["Testviertel"], "overrides": {"max_iterations": 2}}


def finished(client: TestClient, plan_id: str, timeout: float = 180.0) -> tuple[dict, list]:
    """Poll the plan until it is done or failed (as the viewer does); it and its states seen."""
    deadline = time.monotonic() + timeout
    seen = []
    while time.monotonic() < deadline:
        plan = client.get(f"/api/energy/plans/{plan_id}").json()
        seen.append((plan["status"], plan["progress"]))
        if plan["status"] in ("done", "failed"):
            return plan, seen
        time.sleep(0.2)
    raise AssertionError(f"plan {plan_id} did not finish: {seen[-5:]}")


@pytest.mark.long  # a planning run: baseline, potentials, programmes and simulations
def test_a_plan_is_queued_run_and_answers_with_its_portfolio_building_by_building(
    client: TestClient, engine
) -> None:  # noqa: ANN001
    load_small_quarter(engine)
    answer = client.post("/api/energy/plans", json={**SMALL, "budget_eur": 0})
    assert answer.status_code == 202, answer.text
    submitted = answer.json()
    assert submitted["status"] in ("queued", "running") and submitted["portfolio"] is None
    assert answer.headers["location"].endswith(f"/api/energy/plans/{submitted['id']}")
    assert submitted["request"]["targets"] == {"co2": -0.64, "renewable": 0.65, "final_energy": -0.53}
    assert submitted["request"]["area"] == ["Testviertel"]
    assert submitted["request"]["overrides"] == {"max_iterations": 2}
    PlanDocument.model_validate(submitted)

    plan, seen = finished(client, submitted["id"])
    assert plan["status"] == "done", plan["error"]
    PlanDocument.model_validate(plan)  # the document is what the OpenAPI description says
    progress = [p for _, p in seen]
    assert progress == sorted(progress) and plan["progress"] == 1.0
    folio = plan["portfolio"]
    assert folio["investment_eur"] > 0 and folio["annual_cost_eur"] > 0
    assert {t["target"] for t in folio["targets"]} == {"co2", "renewable", "final_energy"}
    for target in folio["targets"]:
        assert target["met"] == (target["miss"] == 0)
    assert folio["met"] == all(t["met"] for t in folio["targets"])
    assert set(folio["kpis"]) == {"co2_kg", "renewable_kwh", "final_energy_kwh"}
    assert all(abs(k["deviation"]) <= 0.05 for k in folio["kpis"].values())
    assert folio["measures"]["buildings"] == 6
    assert sum(folio["costs"].values()) == pytest.approx(folio["investment_eur"], abs=10)
    rels = {link["rel"]: link["href"] for link in plan["links"]}
    assert {"self", "run", "items", "tiles", "profiles"} <= set(rels)

    # per building: the stored dataset, its measures beside its simulated KPIs
    items = client.get(rels["items"].split("testserver")[-1]).json()["features"]
    assert len(items) == 6
    props = items[0]["properties"]
    assert props["plan_heating"] in ("gas", "heat_pump", "district_heating")
    assert {"plan_refurbishment", "plan_pv", "plan_smart_charging", "plan_investment_eur"} <= set(props)
    assert plan["collection"].startswith("energy-baseline-plan-")

    # the plan is listed as a plan, not among the scenario runs, and its year reads as a run's
    listed = client.get("/api/energy/plans").json()
    PlanList.model_validate(listed)
    assert [p["id"] for p in listed["plans"]] == [plan["id"]]
    assert plan["id"] not in [r["id"] for r in client.get("/api/energy/runs").json()["runs"]]
    assert client.get(f"/api/energy/runs/{plan['id']}/profiles").status_code == 200


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ([], "JSON object"),
        ({"targets": {"co2": -0.64, "water": 0.1}}, "targets"),
        ({"targets": {"co2": "lots"}}, "targets"),
        ({"targets": {}}, "targets"),
        ({"targets": {"co2": True}}, "targets"),
        ({"overrides": {"time_limit_s": 0}}, "time_limit_s"),
        ({"budget_eur": -5}, "budget_eur"),
        ({"budget_eur": "much"}, "budget_eur"),
        ({"year": 1990}, "year"),
        ({"year": "soon"}, "year"),
        ({"baseline": "nowhere"}, "baseline"),
        ({"area": "Testviertel"}, "area"),
        ({"area": ["Atlantis"]}, "area"),
        ({"district_heating_areas": ["Atlantis"]}, "district_heating_areas"),
        ({"overrides": {"pv_eur_per_kwp": "cheap"}}, "pv_eur_per_kwp"),
        ({"overrides": {"colour": "green"}}, "overrides"),
        ({"overrides": {"budget_eur": 5}}, "budget_eur"),
        ({"overrides": {"time_limit_s": 86400}}, "time_limit_s"),
        ({"overrides": {"max_iterations": 50}}, "max_iterations"),
        ({"speed": "fast"}, "speed"),
    ],
)
def test_a_bad_plan_is_refused_naming_the_member(client: TestClient, engine, body, named: str) -> None:  # noqa: ANN001
    load_small_quarter(engine)
    answer = client.post("/api/energy/plans", json=body)
    assert answer.status_code == 400, answer.text
    assert named in answer.text
    assert client.get("/api/energy/plans").json()["plans"] == []


def test_a_plan_waits_in_the_run_queue_and_fails_when_its_worker_is_gone(
    client: TestClient, app, engine
) -> None:  # noqa: ANN001
    """Queued like a run, claimed by the same worker, failed as interrupted when nobody renews it."""
    load_small_quarter(engine)
    runs = app.state.energy.runs
    plan_id = runs.submit_plan(SYSTEM, SMALL, start=False)
    assert client.get(f"/api/energy/plans/{plan_id}").json()["status"] == "queued"
    assert runs.claim() == plan_id
    assert client.get(f"/api/energy/plans/{plan_id}").json()["status"] == "running"
    runs.expire(older_than=-1.0)  # as if its heartbeat had stopped long ago
    plan = client.get(f"/api/energy/plans/{plan_id}").json()
    assert plan["status"] == "failed" and "interrupted" in plan["error"]
    # a run's id is no plan
    run_id = runs.submit(SYSTEM, {"scenario": "baseline"}, start=False)
    assert client.get(f"/api/energy/plans/{run_id}").status_code == 404
    assert client.get("/api/energy/plans/nothing").status_code == 404


def test_binding_constraints_have_keys_the_viewer_words() -> None:
    assert binding_key("budget") == "budget"
    assert binding_key("refurbishment: every heated building at TABULA's advanced level") == "refurbishment"
    assert binding_key("heat supply: no gas boiler left") == "heat_supply"
    assert binding_key("PV: every suitable roof used") == "pv"
    assert binding_key("quarter storage at its maximum") == "quarter_storage"
    assert (
        binding_key("the measures' effects: no portfolio of these measures reaches the targets") == "effects"
    )


def test_the_post_routes_describe_their_bodies_with_a_model_and_an_example(app) -> None:  # noqa: ANN001
    paths = app.openapi()["paths"]
    for path, member in (
        ("/api/energy/runs", "scenario"),
        ("/api/energy/sweeps", "scenarios"),
        ("/api/energy/plans", "targets"),
    ):
        body = paths[path]["post"]["requestBody"]["content"]["application/json"]
        assert member in body["schema"]["properties"] and body["example"], path
    plan = paths["/api/energy/plans/{plan_id}"]["get"]["responses"]["200"]["content"]["application/json"]
    assert plan["schema"]["$ref"].endswith("/PlanDocument")
