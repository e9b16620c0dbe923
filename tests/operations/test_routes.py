"""`/health`, `/ready` and `/metrics` of one app, on each backend: what a load balancer, a
supervisor and a Prometheus scraper ask, and who may read the metrics."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Engine, create_engine, text

from tests.conftest import ADMIN_TOKEN
from urbantwin.app import create_app
from urbantwin.settings import Settings
from urbantwin.store.engine import head_revision, make_engine, upgrade

METRICS_TOKEN = "scraper-token-for-tests"


def samples(body: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """The samples of a metrics answer, by name and labels."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(body)
        for sample in family.samples
    }


def ingested(path: str) -> float:
    return REGISTRY.get_sample_value("urbantwin_ingested_observations_total", {"path": path}) or 0.0


@pytest.fixture
def scraped(settings: Settings, engine: Engine) -> Iterator[TestClient]:
    """An app with a metrics token, and a client that writes as the administrator."""
    with TestClient(create_app(settings.with_overrides(metrics_token=METRICS_TOKEN), engine)) as client:
        client.headers["Authorization"] = f"Bearer {ADMIN_TOKEN}"
        yield client


def test_health_says_alive_and_echoes_the_request_id(anonymous: TestClient) -> None:
    answer = anonymous.get("/health", headers={"X-Request-Id": "lb-probe-7"})
    assert answer.status_code == 200 and answer.json() == {"status": "alive"}
    assert answer.headers["x-request-id"] == "lb-probe-7"
    made = anonymous.get("/health").headers["x-request-id"]
    assert len(made) == 32 and made != anonymous.get("/health").headers["x-request-id"]
    # An id that is no plain token (spaces, a line break, too long) is replaced, not echoed.
    for odd in ("a b", "x" * 129, "id/../etc"):
        assert anonymous.get("/health", headers={"X-Request-Id": odd}).headers["x-request-id"] != odd


def test_ready_when_the_store_answers_at_the_current_schema(anonymous: TestClient) -> None:
    answer = anonymous.get("/ready")
    assert answer.status_code == 200
    assert answer.json() == {"status": "ready", "checks": {"database": "ok", "migrations": "ok"}}


def test_not_ready_with_the_reason(tmp_path: Path, viewer_dir: Path) -> None:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'store.sqlite'}",
        viewer_dir=str(viewer_dir),
        admin_token=ADMIN_TOKEN,
    )
    engine = make_engine(settings)
    upgrade(engine)
    with TestClient(create_app(settings, engine)) as client:
        with engine.begin() as connection:
            connection.execute(text("UPDATE alembic_version SET version_num = '0014_energy_meters'"))
        behind = client.get("/ready")
        assert behind.status_code == 503
        assert behind.json()["checks"]["database"] == "ok"
        assert f"this version needs {head_revision()}" in behind.json()["reason"]
        assert "urbantwin db upgrade" in behind.json()["reason"]

        client.app.state.engine = create_engine("postgresql+psycopg://nobody:pw@127.0.0.1:1/none")  # type: ignore[attr-defined]
        gone = client.get("/ready")
        figures = client.get("/metrics", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
        assert gone.status_code == 503 and gone.json()["status"] == "not ready"
        # The process's figures are still served while the store is away; the runs are left out.
        assert figures.status_code == 200 and "urbantwin_queue_depth" in figures.text
        assert "urbantwin_scenario_runs{" not in figures.text
        assert gone.json()["checks"]["database"] == "unreachable"
        assert "127.0.0.1" not in gone.text and "pw" not in gone.text  # the address is only logged
    engine.dispose()


def test_not_ready_while_the_broker_is_away(settings: Settings, engine: Engine) -> None:
    away = settings.with_overrides(mqtt_url="mqtt://127.0.0.1:1")  # nothing listens on port 1
    with TestClient(create_app(away, engine)) as client:
        answer = client.get("/ready")
    assert answer.status_code == 503
    assert answer.json()["checks"]["broker"] == "not connected to the MQTT broker"


def test_the_metrics_are_for_administrators_and_the_metrics_token(scraped: TestClient) -> None:
    assert scraped.get("/metrics", headers={"Authorization": ""}).status_code == 401
    assert scraped.get("/metrics", headers={"Authorization": "Bearer guessed"}).status_code == 401
    by_token = scraped.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert by_token.status_code == 200 and by_token.headers["content-type"].startswith("text/plain")
    assert scraped.get("/metrics").status_code == 200  # the administrator


def test_without_a_metrics_token_only_administrators_read_them(client: TestClient) -> None:
    assert client.get("/metrics").status_code == 200
    assert client.get("/metrics", headers={"Authorization": "Bearer "}).status_code == 401


def test_request_latency_is_counted_by_route_template(scraped: TestClient) -> None:
    for ident in (11, 12, 13):
        scraped.get(f"/v1.1/Things({ident})")
    scraped.get("/no/such/page/42")
    figures = samples(scraped.get("/metrics").text)
    things = (
        "urbantwin_http_request_duration_seconds_count",
        (("method", "GET"), ("route", "/v1.1/Things({id})"), ("status", "404")),
    )
    assert figures[things] >= 3
    routes = {dict(labels)["route"] for name, labels in figures if name.startswith("urbantwin_http_request")}
    assert "unmatched" in routes
    assert not any("42" in route or "(11)" in route for route in routes)


def test_ingest_is_counted_by_path(scraped: TestClient) -> None:
    thing = {
        "name": "counter",
        "description": "a counting station",
        "Locations": [
            {
                "name": "crossing",
                "description": "a crossing",
                "encodingType": "application/geo+json",
                "location": {"type": "Point", "coordinates": [12.37, 51.34]},
            }
        ],
        "Datastreams": [
            {
                "name": "count",
                "description": "vehicles",
                "observationType": "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_CountObservation",
                "unitOfMeasurement": {"name": "count", "symbol": "1", "definition": "urn:count"},
                "Sensor": {
                    "name": "loop",
                    "description": "a loop",
                    "encodingType": "text/plain",
                    "metadata": "x",
                },
                "ObservedProperty": {"name": "vehicles", "definition": "urn:vehicles", "description": "v"},
            }
        ],
    }
    assert scraped.post("/v1.1/Things", json=thing).status_code == 201
    datastream = scraped.get("/v1.1/Datastreams").json()["value"][0]["@iot.id"]
    single, many = ingested("http_single"), ingested("http_data_array")

    posted = scraped.post(
        f"/v1.1/Datastreams({datastream})/Observations",
        json={"phenomenonTime": "2026-01-01T00:00:00Z", "result": 4},
    )
    assert posted.status_code == 201
    rows = [[f"2026-01-01T00:0{minute}:00Z", minute] for minute in range(1, 4)]
    body = [
        {"Datastream": {"@iot.id": datastream}, "components": ["phenomenonTime", "result"], "dataArray": rows}
    ]
    assert scraped.post("/v1.1/CreateObservations", json=body).status_code == 201
    refused = scraped.post(f"/v1.1/Datastreams({datastream + 999})/Observations", json={"result": 1})
    assert refused.status_code >= 400

    assert ingested("http_single") == single + 1
    assert ingested("http_data_array") == many + 3
    figures = samples(scraped.get("/metrics").text)
    assert figures[("urbantwin_ingested_observations_total", (("path", "http_single"),))] == single + 1


def test_an_import_counts_as_the_importer_s(settings: Settings, engine: Engine) -> None:
    from typer.testing import CliRunner

    from urbantwin.cli import app

    before = ingested("importer")
    sample = Path(__file__).resolve().parents[2] / "docs" / "samples" / "2020-01-01_sds011_sensor_1001.csv"
    result = CliRunner().invoke(
        app, ["import", "sensor-community", str(sample), "--database-url", settings.database_url]
    )
    assert result.exit_code == 0, result.output
    with engine.connect() as connection:
        stored = connection.execute(text("SELECT count(*) FROM observations")).scalar_one()
    assert stored > 0 and ingested("importer") == before + stored


def test_queues_pool_and_scenario_runs_are_reported(scraped: TestClient, engine: Engine) -> None:
    from urbantwin.access.principal import SYSTEM
    from urbantwin.energy.jobs import EnergyRuns

    EnergyRuns(engine).submit(SYSTEM, {"scenario": "baseline"}, start=False)
    figures = samples(scraped.get("/metrics").text)
    assert figures[("urbantwin_queue_depth", (("queue", "observation_posts"),))] == 0
    assert ("urbantwin_queue_depth", (("queue", "live_hub"),)) in figures
    outbox = ("urbantwin_queue_depth", (("queue", "live_outbox"),))
    if engine.dialect.name == "postgresql":  # changes go to the other processes by NOTIFY
        assert figures[outbox] == 0
    assert figures[("urbantwin_db_pool_connections", (("state", "size"),))] >= 1
    assert figures[("urbantwin_scenario_runs", (("kind", "energy"), ("state", "queued")))] == 1
    assert figures[("urbantwin_scenario_runs", (("kind", "transit"), ("state", "done")))] == 0
    assert ("urbantwin_mqtt_connected", ()) not in figures or figures[("urbantwin_mqtt_connected", ())] in (
        0,
        1,
    )


def test_the_single_observation_posts_are_counted_by_their_route_templates(scraped: TestClient) -> None:
    # Both single-POST routes are plain routes matched before the documented ones (sensorthings/
    # routes.py); their requests carry the routes' templates, not `unmatched`.
    scraped.post("/v1.1/Observations", json={"result": 1})  # no Datastream: a 400
    scraped.post("/v1.1/Datastreams(424242)/Observations", json={"result": 1})  # no such Datastream
    figures = samples(scraped.get("/metrics").text)
    posts = {
        dict(labels)["route"]
        for name, labels in figures
        if name == "urbantwin_http_request_duration_seconds_count" and dict(labels)["method"] == "POST"
    }
    assert {"/v1.1/Observations", "/v1.1/Datastreams({datastream})/Observations"} <= posts
    assert not any("424242" in route for route in posts)
