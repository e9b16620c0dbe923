"""Scenario runs end to end on the real Plzeň feed: from the CLI (the sample scenario of the docs)
and from the API (SQLite and PostgreSQL), stored, compared with the baseline, published in the
catalogue as a model result, and read with the rights of the feed they derive from."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from typer.testing import CliRunner

from tests.transit.conftest import PLZEN
from urbantwin.cli import app
from urbantwin.transit.gtfs_import import import_gtfs

FEED = "plzen-pmdp-2026-02"
SAMPLE = Path(__file__).parents[2] / "docs" / "transit-scenario.toml"
runner = CliRunner()


def test_the_sample_scenario_runs_from_the_cli_and_compares(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cli.sqlite'}"
    assert runner.invoke(app, ["import", "gtfs", str(PLZEN), "--database-url", url]).exit_code == 0
    answer = runner.invoke(app, ["transit", "scenario", "run", str(SAMPLE), "--database-url", url])
    assert answer.exit_code == 0, answer.output
    assert "Modelled" in answer.stdout
    run_id = answer.stdout.split()[1]
    assert f"published as transit-run-{run_id[:12]}" in answer.stdout
    assert "line 30 battery" in answer.stdout and "line 41 battery" in answer.stdout
    rows = {line[:28].strip(): line[28:].split() for line in answer.stdout.splitlines() if line[:28].strip()}
    baseline, scenario = (float(v.replace(",", "")) for v in rows["diesel l"])
    assert 0 < scenario < baseline  # two bus lines no longer burn diesel
    assert float(rows["PV kWh"][1].replace(",", "")) > 0
    assert float(rows["vehicle-km"][1].replace(",", "")) < float(rows["vehicle-km"][0].replace(",", ""))

    listed = runner.invoke(app, ["transit", "runs", "--database-url", url])
    assert run_id in listed.stdout
    second = tmp_path / "green.toml"
    second.write_text(
        f'[scenario]\nname = "green"\nfeed = "{FEED}"\nday = "2026-05-04"\n'
        '[coefficients]\n"grid.green_share" = 1\n',
        encoding="utf-8",
    )
    other = runner.invoke(app, ["transit", "scenario", "run", str(second), "--database-url", url])
    assert other.exit_code == 0, other.output
    other_id = other.stdout.split()[1]
    compared = runner.invoke(app, ["transit", "compare", run_id, other_id, "--database-url", url])
    assert compared.exit_code == 0, compared.output
    assert (
        run_id[:12] in compared.stdout and other_id[:12] in compared.stdout and "baseline" in compared.stdout
    )

    bad = tmp_path / "bad.toml"
    bad.write_text(f'[scenario]\nfeed = "{FEED}"\n[electrify]\nlines = ["4"]\n', encoding="utf-8")
    refused = runner.invoke(app, ["transit", "scenario", "run", str(bad), "--database-url", url])
    assert refused.exit_code == 2
    assert "electrify.lines: line '4' is a tram line, not a bus line" in refused.stderr
    unknown = runner.invoke(app, ["transit", "compare", "nothing", "--database-url", url])
    assert unknown.exit_code == 2 and "no transit run 'nothing'" in unknown.stderr


def test_runs_through_the_api_land_in_the_catalogue(
    client: TestClient, anonymous: TestClient, engine: Engine
) -> None:
    import_gtfs(engine, PLZEN, licence="CC BY 4.0")
    body = tomllib.loads(SAMPLE.read_text(encoding="utf-8"))
    body["scenario"]["day"] = "2026-05-04"
    assert anonymous.post("/api/transit/runs", json=body).status_code == 401
    submitted = client.post("/api/transit/runs", json=body)
    assert submitted.status_code == 201, submitted.text
    run = submitted.json()
    assert run["status"] == "done" and run["model"] is True
    kpis, baseline = run["kpis"], run["baseline"]
    assert kpis["electrified_lines"] == ["30", "41"]
    assert kpis["batteries"]["30"]["battery_kwh"] == pytest.approx(
        250 * kpis["batteries"]["30"]["kwh_per_km"] * 1.3, abs=0.5
    )
    assert kpis["diesel_l"] < baseline["diesel_l"] and kpis["co2_wtw_kg"] < baseline["co2_wtw_kg"]
    assert kpis["pv_kwh"] > 0 and kpis["pv_site"].startswith("the middle of the feed's stops")
    assert kpis["cost_eur"] is not None and baseline["cost_eur"] is not None
    lines = {line["line"]: line for line in run["lines"] if line["vehicle_km"]}
    assert lines["30"]["vehicle_type"] == "battery_bus" and lines["30"]["diesel_l"] == 0
    assert len(lines["4"]["hourly"]["vehicle_km"]) >= 24

    assert [r["id"] for r in anonymous.get("/api/transit/runs").json()["runs"]] == [run["id"]]
    assert anonymous.get(f"/api/transit/runs/{run['id']}").json()["kpis"] == kpis
    compared = anonymous.get("/api/transit/compare", params={"run": [run["id"]]}).json()
    assert [c["id"] for c in compared["columns"]] == ["baseline", run["id"]]
    assert compared["columns"][1]["change"]["diesel_l"] == pytest.approx(
        kpis["diesel_l"] - baseline["diesel_l"], abs=0.01
    )

    # in the catalogue: a dataset of its own, published by the city, labelled a model result
    collection = run["collection"]
    assert run["links"]["catalogue"] == f"/catalog/datasets/{collection}"
    record = anonymous.get(run["links"]["catalogue"], params={"f": "json"})
    assert record.status_code == 200, record.text
    assert "model result" in record.json()["title"]
    items = anonymous.get(run["links"]["items"], params={"limit": 100}).json()
    thirty = [
        f for f in items["features"] if f["properties"]["line"] == "30" and f["properties"]["vehicle_km"]
    ]
    assert thirty and thirty[0]["geometry"] is not None and thirty[0]["properties"]["model"] is True

    for change, message in [
        ({"electrify": {"lines": ["99x"]}}, "electrify.lines: the feed has no line '99x'"),
        ({"pv": {"depots": 1}}, "pv.depot_kwp: required with pv.depots"),
        (
            {"timetable": [{"line": "4", "from": "20:00", "to": "24:00", "headway": 10}]},
            "timetable[0].headway",
        ),
    ]:
        refused = client.post("/api/transit/runs", json={"scenario": {"feed": FEED}, **change})
        assert refused.status_code == 400 and message in refused.json()["message"], refused.text
    missing = client.post("/api/transit/runs", json={"scenario": {"feed": "nowhere"}})
    assert missing.status_code == 404
    assert anonymous.get("/api/transit/runs/nothing").status_code == 404


def test_a_run_is_no_more_open_than_its_feed(
    client: TestClient, anonymous: TestClient, engine: Engine
) -> None:
    import_gtfs(engine, PLZEN, licence="CC BY 4.0")
    assert client.patch(f"/api/datasets/{FEED}-lines", json={"access_level": "internal"}).status_code == 204
    run = client.post("/api/transit/runs", json={"scenario": {"feed": FEED, "day": "2026-05-04"}}).json()
    assert client.get(f"/api/transit/runs/{run['id']}").status_code == 200
    assert anonymous.get("/api/transit/runs").json()["runs"] == []
    hidden = anonymous.get(f"/api/transit/runs/{run['id']}")
    assert hidden.status_code == 404 and hidden.json()["message"] == f"no transit run {run['id']!r}"
    assert anonymous.get("/api/transit/compare", params={"run": [run["id"]]}).status_code == 404
    assert anonymous.get(f"/catalog/datasets/{run['collection']}", params={"f": "json"}).status_code == 404


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_odd_bodies_are_refused_naming_the_problem(client: TestClient, engine: Engine) -> None:
    import_gtfs(engine, PLZEN, licence="CC BY 4.0")
    day = {"feed": FEED, "day": "2026-05-04"}
    for body, message in [
        ([], "a scenario is an object"),
        ({"scenario": []}, "scenario: expected a table"),
        ({"scenario": {"feed": 1}}, "scenario.feed: required"),
        ({"scenario": {"feed": FEED, "day": "2026-02-30"}}, "day: expected a date YYYY-MM-DD"),
        ({"scenario": day, "electrify": {"lines": [1.5]}}, "electrify.lines: expected a list of line names"),
        (
            {"scenario": day, "electrify": {"lines": ["30"], "reserve_factor": True}},
            "electrify.reserve_factor",
        ),
        ({"scenario": day, "pv": {"depots": 1e308, "depot_kwp": 1}}, "pv.depots: expected a number"),
        ({"scenario": day, "coefficients": {"units.4": {"a": 1}}}, "coefficient 'units.4'"),
        ({"scenario": day, "coefficients": []}, "coefficients: expected a table"),
        (
            {"scenario": day, "driving": {"recuperation_share": {"tram": True}}},
            "driving.recuperation_share.tram",
        ),
        ({"scenario": day, "driving": {"vehicles": "tram"}}, "driving.vehicles"),
        ({"scenario": day, "timetable": {"line": "4"}}, "timetable: expected a list"),
        (
            {"scenario": day, "timetable": [{"line": True, "from": "1:00", "to": "2:00", "headway_min": 5}]},
            "line",
        ),
        (
            {"scenario": day, "timetable": [{"line": "4", "from": "20:99", "to": "24:00", "headway_min": 5}]},
            "from",
        ),
    ]:
        answer = client.post("/api/transit/runs", json=body)
        assert answer.status_code == 400, (body, answer.text)
        assert message in answer.json()["message"], (body, answer.text)
    assert (
        client.post(
            "/api/transit/runs", content=b"{", headers={"content-type": "application/json"}
        ).status_code
        == 400
    )


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_who_may_write_the_feed_may_run_scenarios_on_it(client: TestClient, engine: Engine) -> None:
    import_gtfs(engine, PLZEN, licence="CC BY 4.0")
    assert (
        client.post(
            "/api/admin/organisations", json={"id": "pmdp", "title": "Operator", "kind": "municipal_company"}
        ).status_code
        == 201
    )
    user = {"name": "otto", "role": "contributor", "organisation_id": "pmdp"}
    assert client.post("/api/admin/users", json=user).status_code == 201
    token = client.post("/api/admin/users/otto/tokens", json={}).json()["token"]
    otto = {"Authorization": f"Bearer {token}"}
    body = {"scenario": {"feed": FEED, "day": "2026-05-04"}, "electrify": {"lines": ["30"]}}
    assert client.post("/api/transit/runs", json=body, headers=otto).status_code == 403
    writers = {"writers": ["organisation:pmdp"]}
    assert client.patch(f"/api/datasets/{FEED}-lines", json=writers).status_code == 204
    run = client.post("/api/transit/runs", json=body, headers=otto)
    assert run.status_code == 201, run.text
    assert run.json()["submitted_by"] == "otto"
