"""`GET /api/timeseries/latest`: the newest Observation of many Datastreams as GeoJSON, by ids, Thing,
ObservedProperty and bounding box, paged, and only what the caller may read."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from tests.timeseries.helpers import create_station, post_observations
from urbantwin.access.datasets import move_entities

URL = "/api/timeseries/latest"
LEIPZIG = "12.2,51.2,12.5,51.5"


@pytest.fixture
def city(client: TestClient) -> dict[str, dict[str, int]]:
    """Two PM10 stations in Leipzig, a temperature station in Dresden, one station without data."""
    mitte = create_station(client, "mitte", 12.3731, 51.3397, observed_property="PM10")
    west = create_station(
        client, "west", 12.3147, 51.3351, observed_property={"@iot.id": mitte["observed_property"]}
    )
    dresden = create_station(client, "dresden", 13.7373, 51.0504, observed_property="temperature")
    empty = create_station(client, "empty", 12.40, 51.30, observed_property="noise")
    # Out of order: the newest by phenomenonTime is not the newest by id; a tie goes to the larger id.
    post_observations(
        client, mitte["datastream"], [("2024-05-01T12:00:00Z", 20.5), ("2024-05-01T13:00:00Z", 21.0)]
    )
    post_observations(
        client, mitte["datastream"], [("2024-05-01T11:00:00Z", 99.0), ("2024-05-01T13:00:00Z", 22.5)]
    )
    post_observations(client, west["datastream"], [("2024-05-01T10:00:00Z/2024-05-01T11:00:00Z", 33)])
    post_observations(client, dresden["datastream"], [("2024-05-02T00:00:00Z", "ok")])
    return {"mitte": mitte, "west": west, "dresden": dresden, "empty": empty}


def latest(client: TestClient, **params: Any) -> dict[str, Any]:
    response = client.get(URL, params=params)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/geo+json")
    return response.json()


def names(body: dict[str, Any]) -> list[str]:
    return [feature["properties"]["thingName"] for feature in body["features"]]


def test_latest_by_datastream_ids(client: TestClient, city: dict[str, dict[str, int]]) -> None:
    ids = f"{city['dresden']['datastream']},{city['mitte']['datastream']},{city['west']['datastream']}"
    body = latest(client, datastreams=ids)
    assert body["type"] == "FeatureCollection" and body["numberReturned"] == 3
    mitte, west, dresden = body["features"]
    assert mitte == {
        "type": "Feature",
        "id": city["mitte"]["datastream"],
        "geometry": {"type": "Point", "coordinates": [12.3731, 51.3397]},
        "properties": {
            "datastreamId": city["mitte"]["datastream"],
            "datastreamName": "mitte series",
            "thingId": city["mitte"]["thing"],
            "thingName": "mitte",
            "observedPropertyId": city["mitte"]["observed_property"],
            "observedPropertyName": "PM10",
            "unitOfMeasurement": mitte["properties"]["unitOfMeasurement"],
            "phenomenonTime": "2024-05-01T13:00:00Z",
            "result": 22.5,
        },
    }
    assert mitte["properties"]["unitOfMeasurement"]["symbol"] == "°C"
    assert west["properties"]["phenomenonTime"] == "2024-05-01T10:00:00Z/2024-05-01T11:00:00Z"
    assert west["properties"]["result"] == 33 and isinstance(west["properties"]["result"], int)
    assert dresden["properties"]["result"] == "ok" and dresden["geometry"]["coordinates"] == [
        13.7373,
        51.0504,
    ]


def test_latest_by_thing_observed_property_and_bbox(
    client: TestClient, city: dict[str, dict[str, int]]
) -> None:
    assert names(latest(client, thing=str(city["west"]["thing"]))) == ["west"]
    assert names(latest(client, thing=f"{city['west']['thing']},{city['dresden']['thing']}")) == [
        "west",
        "dresden",
    ]
    assert names(latest(client, observedProperty="PM10")) == ["mitte", "west"]
    assert names(latest(client, observedProperty=str(city["mitte"]["observed_property"]))) == [
        "mitte",
        "west",
    ]
    assert names(latest(client, observedProperty="no such property")) == []
    assert names(latest(client, bbox=LEIPZIG)) == ["mitte", "west", "empty"]
    assert names(latest(client, bbox="13.6,51.0,13.8,51.1")) == ["dresden"]
    assert names(latest(client, bbox=LEIPZIG, observedProperty="temperature")) == []
    assert names(latest(client, bbox=LEIPZIG, observedProperty="PM10", thing=str(city["west"]["thing"]))) == [
        "west"
    ]


def test_every_datastream_without_a_filter_and_nulls_without_observations(
    client: TestClient, city: dict[str, dict[str, int]]
) -> None:
    body = latest(client)
    assert names(body) == ["mitte", "west", "dresden", "empty"]
    empty = body["features"][3]["properties"]
    assert (
        empty["phenomenonTime"] is None
        and empty["result"] is None
        and empty["observedPropertyName"] == "noise"
    )


def test_paging(client: TestClient, city: dict[str, dict[str, int]]) -> None:
    first = latest(client, limit="2", bbox=LEIPZIG)
    assert names(first) == ["mitte", "west"] and first["nextOffset"] == 2
    (link,) = first["links"]
    assert link["rel"] == "next" and "offset=2" in link["href"] and "bbox=12.2%2C51.2" in link["href"]
    second = client.get(link["href"].replace("http://testserver", "")).json()
    assert names(second) == ["empty"] and "nextOffset" not in second and "links" not in second
    nothing = latest(client, limit="0")
    assert nothing["features"] == [] and "nextOffset" not in nothing


def test_only_what_the_caller_may_read(
    client: TestClient, anonymous: TestClient, engine: Engine, city: dict[str, dict[str, int]]
) -> None:
    response = client.post(
        "/api/admin/datasets",
        json={
            "id": "secret",
            "title": "Internal data",
            "publisher_id": "city",
            "licence": "other",
            "access_level": "internal",
        },
    )
    assert response.status_code == 201, response.text
    moved = client.post(
        "/api/datasets/secret/members",
        json={"entity_set": "Datastreams", "ids": [city["dresden"]["datastream"]]},
    )
    assert moved.status_code == 200, moved.text
    # An internal Location of an open Thing: the admin API refuses that move (it would hide the
    # Location from the Thing's readers), so the state is made in the store; latest must hold with it.
    with engine.begin() as connection:
        move_entities(connection, "secret", "Locations", [city["west"]["location"]])
    public = anonymous.get(URL).json()
    assert names(public) == ["mitte", "west", "empty"]
    assert public["features"][1]["geometry"] is None  # the Location is hidden, the Datastream is not
    assert names(anonymous.get(URL, params={"datastreams": str(city["dresden"]["datastream"])}).json()) == []
    assert names(anonymous.get(URL, params={"bbox": "12.30,51.33,12.32,51.34"}).json()) == []
    assert names(latest(client)) == ["mitte", "west", "dresden", "empty"]
    assert latest(client)["features"][1]["geometry"] is not None
    # The aggregate of a hidden Datastream is a 404, as for one that does not exist.
    params = {"interval": "day", "start": "2024-05-01", "end": "2024-05-03"}
    hidden = anonymous.get(
        f"/api/timeseries/datastreams/{city['dresden']['datastream']}/aggregate", params=params
    )
    assert hidden.status_code == 404
    shown = client.get(
        f"/api/timeseries/datastreams/{city['dresden']['datastream']}/aggregate", params=params
    )
    assert shown.status_code == 200 and len(shown.json()["buckets"]) == 2


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({"datastreams": "1,two"}, "datastreams"),
        ({"datastreams": ""}, "datastreams"),
        ({"thing": "-1"}, "thing"),
        ({"thing": "99999999999999999999"}, "thing"),
        ({"observedProperty": " "}, "observedProperty"),
        ({"bbox": "1,2,3"}, "bbox"),
        ({"bbox": "3,0,1,1"}, "bbox"),
        ({"bbox": "a,b,c,d"}, "bbox"),
        ({"bbox": "0,0,nan,1"}, "bbox"),
        ({"limit": "ten"}, "limit"),
        ({"limit": "1000000"}, "limit"),
        ({"offset": "-1"}, "offset"),
        # "²" is a digit to Python's str.isdigit but no number to int(): these were 500s
        ({"datastreams": "1,²"}, "datastreams"),
        ({"limit": "²"}, "limit"),
    ],
)
def test_bad_parameters_are_400s_naming_them(client: TestClient, params: dict[str, str], named: str) -> None:
    response = client.get(URL, params=params)
    assert response.status_code == 400, response.text
    assert response.json()["message"].startswith(named), response.json()
