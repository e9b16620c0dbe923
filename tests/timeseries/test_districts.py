"""`GET /api/timeseries/districts`: the mean of the sensors' values inside each area of a collection, with
the number of sensors per area, latest or as of a time, and only what the caller may read."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import shapely
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from tests.timeseries.helpers import create_station, post_observations
from urbantwin.ingest.geojson import import_geojson
from urbantwin.ingest.pipeline import CollectionInfo

URL = "/api/timeseries/districts"
AREAS = CollectionInfo("quarters", "Quarters", "three test quarters", "CC0-1.0", "urbantwin tests", ["test"])


def _quarter(key: str, west: float, east: float) -> dict[str, Any]:
    box = shapely.box(west, 51.30, east, 51.36)
    return {
        "type": "Feature",
        "id": key,
        "properties": {"name": key.title()},
        "geometry": box.__geo_interface__,
    }


@pytest.fixture
def city(client: TestClient, engine: Engine, tmp_path: Path) -> dict[str, dict[str, int]]:
    """Three quarters side by side (west, middle, east); PM10 sensors: two in the west (one without
    any value), two in the middle, one outside every quarter; the east quarter has none."""
    document = {
        "type": "FeatureCollection",
        "features": [
            _quarter("west", 12.30, 12.35),
            _quarter("middle", 12.35, 12.40),
            _quarter("east", 12.40, 12.45),
        ],
    }
    path = tmp_path / "quarters.geojson"
    path.write_text(json.dumps(document), encoding="utf-8")
    import_geojson(engine, path, AREAS, progress=False)
    pm10 = create_station(client, "west a", 12.31, 51.33, observed_property="PM10")
    same = {"@iot.id": pm10["observed_property"]}
    stations = {
        "west a": pm10,
        "west b": create_station(client, "west b", 12.32, 51.34, observed_property=same),
        "middle a": create_station(client, "middle a", 12.37, 51.33, observed_property=same),
        "middle b": create_station(client, "middle b", 12.38, 51.35, observed_property=same),
        "far": create_station(client, "far", 13.73, 51.05, observed_property=same),
        "noise": create_station(client, "noise", 12.36, 51.33, observed_property="noise"),
    }
    post_observations(
        client, pm10["datastream"], [("2024-05-01T10:00:00Z", 10.0), ("2024-05-01T12:00:00Z", 14.0)]
    )
    post_observations(
        client,
        stations["middle a"]["datastream"],
        [("2024-05-01T09:00:00Z", 30.0), ("2024-05-03T12:00:00Z", 20)],
    )
    post_observations(client, stations["middle b"]["datastream"], [("2024-05-01T11:00:00Z", 40.0)])
    post_observations(client, stations["far"]["datastream"], [("2024-05-01T11:00:00Z", 500.0)])
    post_observations(client, stations["noise"]["datastream"], [("2024-05-01T11:00:00Z", 55.0)])
    return stations


def means(client: TestClient, **params: Any) -> dict[str, dict[str, Any]]:
    response = client.get(URL, params={"collection": "quarters", "observedProperty": "PM10", **params})
    assert response.status_code == 200, response.text
    return {row["id"]: row for row in response.json()["districts"]}


def test_the_mean_of_the_latest_values_per_area(client: TestClient, city: dict[str, dict[str, int]]) -> None:
    response = client.get(URL, params={"collection": "quarters", "observedProperty": "PM10"})
    body = response.json()
    assert body["collection"] == "quarters" and body["time"] is None
    assert body["observedProperty"] == [{"@iot.id": city["west a"]["observed_property"], "name": "PM10"}]
    assert body["unitOfMeasurement"]["symbol"] == "°C"
    assert (body["sensors"], body["outside"]) == (5, 1)  # "far" lies in no quarter
    rows = {row["id"]: row for row in body["districts"]}
    # West: two sensors located, one with a value (its latest, 14); "west b" has none yet.
    assert rows["west"] == {
        "id": "west",
        "name": "West",
        "sensors": 2,
        "count": 1,
        "mean": 14.0,
        "min": 14.0,
        "max": 14.0,
    }
    assert rows["middle"]["sensors"] == 2 and rows["middle"]["mean"] == pytest.approx(30.0)  # (20 + 40) / 2
    assert (rows["middle"]["min"], rows["middle"]["max"]) == (20.0, 40.0)
    # No sensor at all: listed, with a null mean (drawn as "no data", not as 0).
    assert rows["east"] == {
        "id": "east",
        "name": "East",
        "sensors": 0,
        "count": 0,
        "mean": None,
        "min": None,
        "max": None,
    }
    # By id too, and another property's sensors count for it alone.
    by_id = means(client, observedProperty=str(city["noise"]["observed_property"]))
    assert by_id["middle"]["mean"] == 55.0 and by_id["west"]["sensors"] == 0


def test_the_values_as_of_a_time_within_the_hold_period(
    client: TestClient, city: dict[str, dict[str, int]]
) -> None:
    noon = means(client, time="2024-05-01T12:30:00Z")
    assert noon["west"]["mean"] == 14.0
    assert noon["middle"]["mean"] == pytest.approx(35.0)  # 30 (09:00) and 40 (11:00); 20 comes on the 3rd
    early = means(client, time="2024-05-01T10:30:00Z")
    assert early["west"]["mean"] == 10.0 and early["middle"] == {**early["middle"], "count": 1, "mean": 30.0}
    # A one-hour hold leaves only the values of the last hour: 11:00 in the middle, none in the west.
    short = means(client, time="2024-05-01T11:30:00Z", hold="1")
    assert (short["west"]["count"], short["west"]["sensors"], short["west"]["mean"]) == (0, 2, None)
    assert short["middle"]["mean"] == 40.0
    # Local time of Europe/Berlin without an offset: 14:30 CEST is 12:30 UTC.
    assert means(client, time="2024-05-01T14:30:00")["middle"]["mean"] == pytest.approx(35.0)


def test_only_what_the_caller_may_read(
    client: TestClient, anonymous: TestClient, city: dict[str, dict[str, int]]
) -> None:
    created = client.post(
        "/api/admin/datasets",
        json={
            "id": "secret",
            "title": "Internal",
            "publisher_id": "city",
            "licence": "other",
            "access_level": "internal",
        },
    )
    assert created.status_code == 201, created.text
    moved = client.post(
        "/api/datasets/secret/members",
        json={"entity_set": "Datastreams", "ids": [city["middle b"]["datastream"]]},
    )
    assert moved.status_code == 200, moved.text
    public = means(anonymous)
    assert (public["middle"]["sensors"], public["middle"]["mean"]) == (1, 20.0)
    assert means(client)["middle"]["sensors"] == 2


def test_occupied_lists_only_the_areas_with_sensors(
    client: TestClient, city: dict[str, dict[str, int]]
) -> None:
    """How a collection of many small areas (the buildings) is asked: only where sensors are."""
    rows = means(client, occupied="true")
    assert set(rows) == {"west", "middle"}
    assert rows["middle"]["mean"] == pytest.approx(30.0)
    assert set(means(client, occupied="true", time="2024-05-01T11:30:00Z")) == {"west", "middle"}
    assert set(means(client, occupied="false")) == {"west", "middle", "east"}


def test_a_changed_collection_is_read_again(
    client: TestClient, engine: Engine, tmp_path: Path, city: dict[str, dict[str, int]]
) -> None:
    """The areas are kept between requests (a time slider asks often) until the collection changes."""
    assert means(client)["west"]["sensors"] == 2
    wider = {
        "type": "FeatureCollection",
        "features": [_quarter("west", 12.30, 12.375), _quarter("east", 12.40, 12.45)],
    }
    path = tmp_path / "wider.geojson"
    path.write_text(json.dumps(wider), encoding="utf-8")
    import_geojson(engine, path, AREAS, progress=False, delete_missing=True)
    rows = means(client)
    assert set(rows) == {"west", "east"}
    assert rows["west"]["sensors"] == 3  # "middle a" (12.37) now lies in the west quarter


def test_too_many_areas_are_refused_unless_only_the_occupied_ones_are_asked(
    client: TestClient, city: dict[str, dict[str, int]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("urbantwin.timeseries.districts.MAX_AREAS", 2)
    response = client.get(URL, params={"collection": "quarters", "observedProperty": "PM10"})
    assert response.status_code == 400
    assert "occupied=true" in response.json()["message"]
    assert set(means(client, occupied="true")) == {"west", "middle"}


@pytest.mark.parametrize(
    ("params", "status", "named"),
    [
        ({"observedProperty": "PM10"}, 400, "collection"),
        ({"collection": "quarters"}, 400, "observedProperty"),
        ({"collection": "quarters", "observedProperty": " "}, 400, "observedProperty"),
        ({"collection": "quarters", "observedProperty": "PM10", "time": "yesterday"}, 400, "time"),
        (
            {"collection": "quarters", "observedProperty": "PM10", "time": "2024-05-01", "hold": "-1"},
            400,
            "hold",
        ),
        (
            {"collection": "quarters", "observedProperty": "PM10", "time": "2024-05-01", "hold": "nan"},
            400,
            "hold",
        ),
        ({"collection": "quarters", "observedProperty": "PM10", "hold": "5"}, 400, "hold"),
        ({"collection": "quarters", "observedProperty": "PM10", "occupied": "yes"}, 400, "occupied"),
        ({"collection": "nowhere", "observedProperty": "PM10"}, 404, "no collection 'nowhere'"),
        ({"collection": "quarters", "observedProperty": "ozone"}, 404, "no ObservedProperty 'ozone'"),
    ],
)
def test_bad_parameters_are_4xx_naming_them(
    client: TestClient, city: dict[str, dict[str, int]], params: dict[str, str], status: int, named: str
) -> None:
    response = client.get(URL, params=params)
    assert response.status_code == status, response.text
    assert response.json()["message"].startswith(named), response.json()
