"""The goals over HTTP (`/api/indicators`): reading, entering a value by hand through the policy,
and the 4xx of each mistake."""

from __future__ import annotations

from fastapi.testclient import TestClient

from urbantwin.indicators.service import Indicators


def test_listing_and_one(goals: Indicators, client: TestClient) -> None:
    listing = client.get("/api/indicators")
    assert listing.status_code == 200, listing.text
    body = listing.json()
    assert [i["id"] for i in body["indicators"]] == ["charging", "growth", "access", "satisfaction"]
    assert body["lights"]["amber"] == {"en": "not yet met, on course", "de": "noch nicht erreicht, auf Kurs"}
    one = client.get("/api/indicators/charging").json()
    assert one["targets"][0]["document"] == "Plan A" and one["latest"]["year"] == 2024
    assert client.get("/api/indicators/nothing").status_code == 404


def test_entering_by_hand(goals: Indicators, client: TestClient, anonymous: TestClient) -> None:
    url = "/api/indicators/satisfaction/values"
    assert anonymous.put(f"{url}/2022", json={"value": 70}).status_code == 401
    first = client.put(f"{url}/2022", json={"value": 70, "note": "survey 2022"})
    assert first.status_code == 200, first.text
    second = client.put(f"{url}/2024", json={"value": 76}).json()
    assert [(v["year"], v["value"], v["origin"]) for v in second["values"]] == [
        (2022, 70.0, "entered"),
        (2024, 76.0, "entered"),
    ]
    assert second["values"][0]["note"] == "survey 2022"
    # +3 a year: 94 in 2030, the target of 80 reached in time
    assert second["targets"][0]["light"] == "amber"
    assert anonymous.get("/api/indicators/satisfaction").json()["latest"] == {"year": 2024, "value": 76.0}
    assert client.delete(f"{url}/2022").status_code == 204
    assert client.delete(f"{url}/2022").status_code == 404
    assert [v["year"] for v in client.get("/api/indicators/satisfaction").json()["values"]] == [2024]


def test_mistakes_are_4xx_naming_the_problem(goals: Indicators, client: TestClient) -> None:
    url = "/api/indicators/satisfaction/values"
    cases = [
        (f"{url}/soon", {"value": 1}, "year: expected a year"),
        (f"{url}/1066", {"value": 1}, "year: expected 1900 to 2200"),
        (f"{url}/2024", {"value": "many"}, "value: expected a finite number"),
        (f"{url}/2024", {"value": 1, "colour": "red"}, "unknown member 'colour'"),
        (f"{url}/2024", [1], "the body must be a JSON object"),
        (f"{url}/2024", {"value": 1, "note": "x" * 501}, "note: at most 500 characters"),
        ("/api/indicators/charging/values/2024", {"value": 1}, "computed from the platform's data"),
    ]
    for path, body, message in cases:
        answer = client.put(path, json=body)
        assert answer.status_code == 400, (path, answer.text)
        assert message in answer.text, answer.text
    assert client.put("/api/indicators/nothing/values/2024", json={"value": 1}).status_code == 404


def test_openapi_names_the_routes(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert "/api/indicators" in paths and "put" in paths["/api/indicators/{indicator}/values/{year}"]
    example = paths["/api/indicators/{indicator}/values/{year}"]["put"]["requestBody"]["content"]
    assert example["application/json"]["example"]["value"] == 12.5
