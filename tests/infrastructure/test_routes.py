"""The LoRaWAN webhook's plain route (`infrastructure/routes.py`): a network server's uplink is
answered before FastAPI walks any router, exactly as the documented route answers it.

The uplinks are the documented example of The Things Stack (`test_lorawan.TTS_UPLINK`).
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY

from tests.infrastructure.test_lorawan import BEARER, TTS_UPLINK, _datastreams
from urbantwin.infrastructure.routes import UPLINK_ROUTE

URL = "/api/infrastructure/lorawan/uplinks/tts"


def _no_router_walk(route: APIRoute, scope: Any) -> Any:
    raise AssertionError(f"FastAPI matched {scope['path']} against {route.path}")


def test_an_uplink_is_answered_before_any_router_is_walked(
    client: TestClient, anonymous: TestClient, app: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    streams = _datastreams(client, "dev1", ["temperature", "luminosity"])
    mapped = client.put("/api/infrastructure/lorawan/devices/0004A30B001C0530", json={"fields": streams})
    assert mapped.status_code == 200, mapped.text
    assert app.router.routes[0] is UPLINK_ROUTE
    # From here on, a request that reached FastAPI's routes would fail.
    monkeypatch.setattr(APIRoute, "matches", _no_router_walk)

    stored = anonymous.post(URL, json=TTS_UPLINK, headers=BEARER)
    assert stored.status_code == 200, stored.text
    assert stored.headers["content-type"] == "application/json"
    assert stored.json() == {
        "stored": True,
        "observations": 2,
        "fields": ["luminosity", "temperature"],
        "ignored_fields": [],
        "gateways": 1,
    }
    assert anonymous.post(URL, json=TTS_UPLINK, headers=BEARER).json() == {"stored": False, "duplicate": True}
    # the refusals name the problem, as before
    assert anonymous.post(URL, json=TTS_UPLINK).status_code == 401
    malformed = copy.deepcopy(TTS_UPLINK)
    malformed["uplink_message"]["f_cnt"] = -1
    refused = anonymous.post(URL, json=malformed, headers=BEARER)
    assert refused.status_code == 400
    assert "uplink_message.f_cnt must be a non-negative integer" in refused.json()["message"]
    chirpstack = "/api/infrastructure/lorawan/uplinks/chirpstack"
    assert "?event=up" in anonymous.post(chirpstack, json={}, headers=BEARER).json()["message"]
    joined = anonymous.post(chirpstack, params={"event": "join"}, json={}, headers=BEARER)
    assert joined.json() == {"stored": False, "ignored": "not an uplink"}
    unknown = anonymous.post("/api/infrastructure/lorawan/uplinks/loriot", json={}, headers=BEARER)
    assert unknown.status_code == 404 and "no network server 'loriot'" in unknown.json()["message"]


def test_the_request_metrics_name_the_webhook_by_its_template(anonymous: TestClient) -> None:
    labels = {"method": "POST", "route": "/api/infrastructure/lorawan/uplinks/{network}", "status": "401"}
    before = REGISTRY.get_sample_value("urbantwin_http_request_duration_seconds_count", labels) or 0.0
    assert anonymous.post(URL, json=TTS_UPLINK).status_code == 401
    after = REGISTRY.get_sample_value("urbantwin_http_request_duration_seconds_count", labels)
    assert after == before + 1


def test_the_webhook_stays_documented(anonymous: TestClient) -> None:
    operation = anonymous.get("/openapi.json").json()["paths"][UPLINK_ROUTE.path]["post"]
    assert {"401", "404", "400"} <= set(operation["responses"])
    assert [p["name"] for p in operation["parameters"]] == ["network", "event"]
