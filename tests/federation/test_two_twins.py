"""Two twins federate on loopback, each served by uvicorn: the local twin registers the partner,
mirrors its Datastream and harvests its catalogue over the admin API, shows the mirrored data
through its own SensorThings API, and the conformance checker reports on both servers."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import httpx
import pytest
import uvicorn
from fastapi.testclient import TestClient

from tests.conftest import ADMIN_TOKEN, _free_port
from tests.federation.conftest import Local, partner_station
from urbantwin.app import create_app
from urbantwin.conformance.core import Options
from urbantwin.conformance.runner import run


@pytest.fixture
def local_server(local: Local) -> Iterator[str]:
    """The local twin's app served by uvicorn on a free port of 127.0.0.1."""
    port = _free_port()
    config = uvicorn.Config(
        create_app(local.settings, local.engine),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        timeout_graceful_shutdown=1,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "the local twin did not start"
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def test_two_twins_mirror_harvest_and_pass_the_checker(
    client: TestClient, live_server: str, local_server: str
) -> None:
    hours = [(f"2026-01-01T{h:02d}:00:00Z", float(h)) for h in range(24)]
    datastream = partner_station(client, "Elbufer", hours)
    made = client.post(
        "/api/admin/datasets",
        json={"id": "trees", "title": "Street trees of the partner", "description": "every tree"},
    )
    assert made.status_code == 201, made.text
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    common = {"attribution": "Partnerstadt", "licence": "dl-de/by-2-0", "title": "Partnerstadt"}
    with httpx.Client(base_url=local_server, headers=admin, timeout=60) as local:
        for name, url, kind in (
            ("partner-sta", f"{live_server}/v1.1", "sensorthings"),
            ("partner-data", f"{live_server}/catalog", "dcat"),
        ):
            answer = local.post("/api/remotes", json={"name": name, "url": url, "kind": kind, **common})
            assert answer.status_code == 201, answer.text
        mirrored = local.post(
            "/api/remotes/partner-sta/mirror", json={"datastreams": [datastream["@iot.id"]]}
        )
        assert mirrored.json()["errors"] == [] and mirrored.json()["observations"] == 24
        harvested = local.post("/api/remotes/partner-data/harvest")
        assert harvested.json()["errors"] == [] and harvested.json()["added"] >= 1

        # The mirrored Datastream, as anyone reads it from the local twin, links back to the partner.
        mine = httpx.get(
            f"{local_server}/v1.1/Datastreams", params={"$expand": "Observations($top=1000)"}
        ).json()
        [stream] = mine["value"]
        assert (
            stream["properties"]["remote"]["selfLink"]
            == f"{live_server}/v1.1/Datastreams({datastream['@iot.id']})"
        )
        assert sorted(o["result"] for o in stream["Observations"]) == [float(h) for h in range(24)]
        found = httpx.get(f"{local_server}/catalog", params={"q": "street trees", "f": "json"}).json()
        assert [d["source"] for d in found["datasets"]] == ["partner-data"]
        health = {r["name"]: r["health"] for r in local.get("/api/remotes").json()["remotes"]}
        assert health == {"partner-sta": "ok", "partner-data": "ok"}

    # The checker, read-only, on both: every SensorThings check either passes or is skipped.
    for url in (live_server, local_server):
        report = run(url, Options(), apis=("sensorthings",))
        assert report.sensorthings == f"{url}/v1.1"
        failed = [f"{r.check.id}: {r.reason}" for r in report.results if r.verdict == "fail"]
        assert report.ok, (url, report.problems, failed)
        assert report.counts()["pass"] > 20
