"""The extension is documented in the OpenAPI document, as an extension, with every parameter."""

from __future__ import annotations

from fastapi.testclient import TestClient


def test_both_endpoints_are_documented_as_extensions(anonymous: TestClient) -> None:
    document = anonymous.get("/openapi.json").json()
    aggregate = document["paths"]["/api/timeseries/datastreams/{datastream_id}/aggregate"]["get"]
    latest = document["paths"]["/api/timeseries/latest"]["get"]
    for operation, parameters in (
        (aggregate, {"datastream_id", "interval", "stats", "start", "end", "tz"}),
        (latest, {"datastreams", "thing", "observedProperty", "bbox", "limit", "offset"}),
    ):
        assert "(extension)" in operation["summary"]
        assert operation["description"].startswith("**Extension**")
        assert operation["tags"] == ["Time series (extension)"]
        documented = {p["name"]: p for p in operation["parameters"]}
        assert set(documented) == parameters
        assert all(p.get("description") for p in documented.values())
        assert {"200", "400"} <= set(operation["responses"])
    assert "404" in aggregate["responses"]
    interval = next(p for p in aggregate["parameters"] if p["name"] == "interval")
    assert interval["schema"]["enum"] == ["hour", "day", "week", "month", "year"]
    assert "example" in aggregate["responses"]["200"]["content"]["application/json"]
    assert "example" in latest["responses"]["200"]["content"]["application/geo+json"]
