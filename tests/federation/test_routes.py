"""The admin API of connected twins at /api/remotes."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.federation.conftest import partner_station

BODY = {
    "name": "hamburg",
    "url": "http://127.0.0.1:9/v1.1",
    "kind": "sensorthings",
    "attribution": "Freie und Hansestadt Hamburg",
    "licence": "dl-de/by-2-0",
}


def test_an_administrator_registers_a_partner_and_everyone_sees_an_open_one(
    client: TestClient, anonymous: TestClient
) -> None:
    created = client.post("/api/remotes", json=BODY)
    assert created.status_code == 201, created.text
    assert created.json()["health"] == "unknown"
    assert created.json()["dataset"] == "remote-hamburg"
    assert [r["name"] for r in anonymous.get("/api/remotes").json()["remotes"]] == ["hamburg"]
    assert client.post("/api/remotes", json=BODY).status_code == 409


def test_only_an_administrator_registers_a_partner(anonymous: TestClient) -> None:
    assert anonymous.post("/api/remotes", json=BODY).status_code == 401


def test_an_internal_partner_is_hidden_from_the_public(client: TestClient, anonymous: TestClient) -> None:
    client.post("/api/remotes", json={**BODY, "access_level": "internal"})
    assert anonymous.get("/api/remotes").json()["remotes"] == []
    assert anonymous.get("/api/remotes/hamburg").status_code == 404
    assert client.get("/api/remotes/hamburg").status_code == 200


def test_bad_registrations_are_refused_naming_the_field(client: TestClient) -> None:
    for change, named in (
        ({"kind": "wfs"}, "kind"),
        ({"url": "ftp://x"}, "url"),
        ({"url": "http://x/v1.1?a=b"}, "url"),
        ({"name": "Hamburg!"}, "name"),
        ({"attribution": ""}, "attribution"),
        ({"extra": 1}, "extra"),
        ({"requests_per_second": -1}, "requests_per_second"),
    ):
        answer = client.post("/api/remotes", json={**BODY, **change})
        assert answer.status_code == 400, (change, answer.text)
        assert named in answer.json()["message"], answer.text


def test_a_partner_down_answers_its_failure_in_the_report_not_a_500(client: TestClient) -> None:
    client.post("/api/remotes", json=BODY)
    answer = client.post("/api/remotes/hamburg/mirror", json={"datastreams": [1]})
    assert answer.status_code == 200
    assert "127.0.0.1:9" in answer.json()["errors"][0]
    assert client.get("/api/remotes/hamburg").json()["health"] == "failing"


def test_a_server_mirrors_its_partner_over_the_admin_api(client: TestClient, live_server: str) -> None:
    # The app mirrors itself: the partner is its own live server (a second store is in test_mirror).
    datastream = partner_station(client, "Elbufer", [("2026-01-01T00:00:00Z", 1.0)])
    client.post("/api/remotes", json={**BODY, "url": f"{live_server}/v1.1"})
    answer = client.post("/api/remotes/hamburg/mirror", json={"datastreams": [datastream["@iot.id"]]})
    assert answer.json() == {
        "datastreams": 1,
        "created": 1,
        "observations": 1,
        "pages": 1,
        "more": False,
        "errors": [],
    }
    assert client.delete("/api/remotes/hamburg").status_code == 204
    assert client.get("/api/remotes/hamburg").status_code == 404
