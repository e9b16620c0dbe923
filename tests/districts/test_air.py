"""Residents' exposure to air pollution per district (`/api/districts/{collection}/air`), on the
synthetic city of conftest.py with two synthetic PM10 stations of daily means, hand-computed:

- station P in the middle of `west` (500, 500), 30 µg/m³ every day of 2023 and 2024;
- station Q in the middle of `east` (1,500, 500), 10 µg/m³ every day.

With the nearest station, every resident of the west (placed on its buildings A and B, 300 m and
more from P but nearer to P than to Q) breathes 30 µg/m³, every one of the east (spread over it)
10 µg/m³. The annual PM10 levels: 40 (2008/50/EC), 20 ((EU) 2024/2881), 15 (WHO 2021).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.airquality.test_api import datastream
from tests.districts.conftest import City, lonlat
from tests.timeseries.helpers import iso, post_observations
from urbantwin.districts.air import interpolate

CET = timedelta(hours=1)


def add_station(client: TestClient, name: str, xy: tuple[float, float], value: float) -> dict[str, int]:
    """A synthetic station with daily PM10 means of `value` all through 2023 and 2024."""
    lon, lat = lonlat(*xy)
    body = {
        "name": name,
        "description": "synthetic station",
        "Locations": [
            {
                "name": name,
                "description": "synthetic",
                "encodingType": "application/geo+json",
                "location": {"type": "Point", "coordinates": [lon, lat]},
            }
        ],
        "Datastreams": [datastream("pm10", f"PM10 at {name}", {"kind": "measurement", "aggregation": "P1D"})],
    }
    answer = client.post("/v1.1/Things", json=body)
    assert answer.status_code == 201, answer.text
    thing = answer.json()["@iot.id"]
    stream = client.get(f"/v1.1/Things({thing})/Datastreams").json()["value"][0]["@iot.id"]
    first = datetime(2023, 1, 1, tzinfo=UTC) - CET
    days = [first + timedelta(days=d) for d in range(365 + 366)]
    post_observations(client, stream, [(f"{iso(d)}/{iso(d + timedelta(days=1))}", value) for d in days])  # type: ignore[misc]
    return {"thing": thing, "datastream": stream}


@pytest.fixture
def stations(city: City, client: TestClient) -> dict[str, dict[str, int]]:
    return {
        "P": add_station(client, "P", (500.0, 500.0), 30.0),
        "Q": add_station(client, "Q", (1500.0, 500.0), 10.0),
    }


def by_id(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {row["id"]: row for row in body["districts"]}


def test_exposure_from_the_nearest_station(stations: dict[str, dict[str, int]], client: TestClient) -> None:
    answer = client.get("/api/districts/quarters/air", params={"year": "2023", "method": "nearest"})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    rows = by_id(body)
    west, east = rows["west"]["pollutants"]["pm10"], rows["east"]["pollutants"]["pm10"]
    assert west["exposure"] == 30.0 and east["exposure"] == 10.0
    # 2023 has no population figure: the nearest earlier year's, 2020
    assert rows["west"]["residents"] == 1000 and rows["east"]["residents"] == 2000
    assert rows["west"]["populationYears"] == [2020]
    assert rows["west"]["placement"] == "buildings" and rows["east"]["placement"] == "area"
    # the exceedance map: 30 > 20 and > 15, not > 40; 10 exceeds none
    assert west["exceedances"]["eu-2008-50"] == {"level": 40.0, "residents": 0, "share": 0.0}
    assert west["exceedances"]["eu-2024-2881"] == {"level": 20.0, "residents": 1000, "share": 1.0}
    assert west["exceedances"]["who-2021"]["share"] == 1.0
    assert all(e["share"] == 0.0 for e in east["exceedances"].values())
    # no station measures NO2 or PM2.5: no estimate, never a zero; nobody lives far away
    assert rows["west"]["pollutants"]["no2"] is None and rows["west"]["pollutants"]["pm25"] is None
    assert rows["far/away"]["pollutants"]["pm10"] is None and rows["far/away"]["residents"] == 0
    assert {s["name"]: s["annualMeans"]["pm10"]["value"] for s in body["stations"]} == {"P": 30.0, "Q": 10.0}
    assert body["method"]["key"] == "nearest" and body["caveat"]["de"]


def test_inverse_distance_weighting_lies_between_the_stations(
    stations: dict[str, dict[str, int]], client: TestClient
) -> None:
    rows = by_id(client.get("/api/districts/quarters/air", params={"year": "2024"}).json())
    west, east = rows["west"]["pollutants"]["pm10"], rows["east"]["pollutants"]["pm10"]
    assert 10.0 < east["exposure"] < west["exposure"] < 30.0
    assert west["min"] >= 10.0 and west["max"] <= 30.0
    assert rows["west"]["residents"] == 1200 and rows["west"]["populationYears"] == [2024]


def test_a_year_without_enough_data_gives_no_estimate(
    stations: dict[str, dict[str, int]], client: TestClient
) -> None:
    body = client.get("/api/districts/quarters/air", params={"year": "2022"}).json()
    assert all(row["pollutants"]["pm10"] is None for row in body["districts"])
    assert all(s["annualMeans"]["pm10"]["value"] is None for s in body["stations"])


def test_the_time_series(stations: dict[str, dict[str, int]], client: TestClient) -> None:
    answer = client.get(
        "/api/districts/quarters/air/series", params={"start": "2022", "end": "2024", "method": "nearest"}
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["years"] == [2022, 2023, 2024]
    west = by_id(body)["west"]
    assert west["pollutants"]["pm10"] == [None, 30.0, 30.0]
    assert west["residents"] == [1000, 1000, 1200]


def test_a_hidden_station_never_reaches_a_public_figure(
    stations: dict[str, dict[str, int]], client: TestClient, anonymous: TestClient
) -> None:
    dataset = {"id": "secret", "title": "Internal", "publisher_id": "city", "licence": "other"}
    created = client.post("/api/admin/datasets", json={**dataset, "access_level": "internal"})
    assert created.status_code == 201, created.text
    hidden = stations["Q"]
    for entity_set, ids in (("Datastreams", [hidden["datastream"]]), ("Things", [hidden["thing"]])):
        moved = client.post("/api/datasets/secret/members", json={"entity_set": entity_set, "ids": ids})
        assert moved.status_code == 200, moved.text
    params = {"year": "2023"}
    public = anonymous.get("/api/districts/quarters/air", params=params).json()
    # only P is left: 30 µg/m³ everywhere, Q's 10 µg/m³ nowhere
    assert {row["id"]: (row["pollutants"]["pm10"] or {}).get("exposure") for row in public["districts"]} == {
        "west": 30.0,
        "east": 30.0,
        "far/away": None,
    }
    assert [s["name"] for s in public["stations"]] == ["P"]
    series = anonymous.get(
        "/api/districts/quarters/air/series", params={"start": "2023", "end": "2023"}
    ).json()
    assert by_id(series)["east"]["pollutants"]["pm10"] == [30.0]
    internal = by_id(client.get("/api/districts/quarters/air", params=params).json())
    assert internal["east"]["pollutants"]["pm10"]["exposure"] < 30.0


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({}, "year"),
        ({"year": "20x3"}, "year"),
        ({"year": "2023", "method": "kriging"}, "method"),
    ],
)
def test_bad_parameters_are_named(city: City, client: TestClient, params: dict[str, str], named: str) -> None:
    answer = client.get("/api/districts/quarters/air", params=params)
    assert answer.status_code == 400 and f"{named}:" in answer.text, answer.text


def test_bad_series_parameters_are_named(city: City, client: TestClient) -> None:
    for params, named in (
        ({"start": "2024", "end": "2020"}, "end"),
        ({"start": "2000", "end": "2024"}, "end"),
        ({"end": "2024"}, "start"),
    ):
        answer = client.get("/api/districts/quarters/air/series", params=params)
        assert answer.status_code == 400 and f"{named}:" in answer.text, answer.text
    assert client.get("/api/districts/nowhere/air", params={"year": "2023"}).status_code == 404


def test_the_routes_are_documented(city: City, client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert "/api/districts/{collection}/air" in paths and "/api/districts/{collection}/air/series" in paths


def test_interpolation_by_hand() -> None:
    stations = np.array([[1.0, 0.0], [2.0, 0.0]])
    values = np.array([10.0, 40.0])
    points = np.array([[0.0, 0.0], [2.0, 0.5], [2.0, 0.0]])
    # weights 1/1² and 1/2²: (10 + 40/4) / (1 + 1/4) = 16; the second point is nearer the second station
    estimate = interpolate(points, stations, values, "idw")
    assert estimate[0] == pytest.approx(16.0) and estimate[2] == 40.0
    assert list(interpolate(points, stations, values, "nearest")) == [10.0, 40.0, 40.0]
    assert np.isnan(interpolate(points, np.zeros((0, 2)), np.zeros(0), "idw")).all()


@settings(max_examples=50, deadline=None)
@given(
    st.lists(
        st.tuples(st.floats(-1e4, 1e4), st.floats(-1e4, 1e4), st.floats(0, 500)), min_size=1, max_size=6
    ),
    st.lists(st.tuples(st.floats(-1e4, 1e4), st.floats(-1e4, 1e4)), min_size=1, max_size=20),
)
def test_an_estimate_never_leaves_the_stations_range(
    stations: list[tuple[float, float, float]], points: list[tuple[float, float]]
) -> None:
    places = np.array([s[:2] for s in stations])
    values = np.array([s[2] for s in stations])
    for method in ("idw", "nearest"):
        estimate = interpolate(np.array(points), places, values, method)
        assert (estimate >= values.min() - 1e-9).all() and (estimate <= values.max() + 1e-9).all()
