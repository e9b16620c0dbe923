"""The clean-air API on a store: a station with a year of hourly NO2 and daily PM10 values, written
through the SensorThings API, assessed and indexed at /api/air/ (on SQLite and PostgreSQL)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.timeseries.helpers import iso, post_observations
from urbantwin.ingest.vocabulary import OBSERVED_PROPERTIES

UG = {"name": "microgram per cubic metre", "symbol": "µg/m³", "definition": "ucum:ug/m3"}
CET = timedelta(hours=1)
YEAR_START = datetime(2023, 1, 1, tzinfo=UTC) - CET  # local standard time (the test city: Europe/Berlin)


def datastream(code: str, name: str, properties: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": name,
        "description": name,
        "observationType": "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement",
        "unitOfMeasurement": UG,
        "properties": properties,
        "Sensor": {"name": "analyser", "description": "s", "encodingType": "text/plain", "metadata": "m"},
        "ObservedProperty": OBSERVED_PROPERTIES[code].observed_property,
    }


@pytest.fixture
def station(client: TestClient) -> dict[str, int]:
    body = {
        "name": "Station A",
        "description": "an air quality station",
        "Locations": [
            {
                "name": "A",
                "description": "mast",
                "encodingType": "application/geo+json",
                "location": {"type": "Point", "coordinates": [12.37, 51.34]},
            }
        ],
        "Datastreams": [
            datastream("no2", "NO2 at A", {"kind": "measurement", "aggregation": "PT1H"}),
            datastream("pm10", "PM10 at A", {"kind": "measurement", "aggregation": "P1D"}),
            datastream("pm25", "PM2.5 forecast at A", {"kind": "model forecast", "aggregation": "P1D"}),
        ],
    }
    response = client.post("/v1.1/Things", json=body)
    assert response.status_code == 201, response.text
    thing = response.json()["@iot.id"]
    streams = client.get(f"/v1.1/Things({thing})/Datastreams?$select=id,name").json()["value"]
    ids = {s["name"]: s["@iot.id"] for s in streams}
    # NO2: 30 µg/m³ every hour of 2023, and 250 µg/m³ from 08:00 to 12:00 on 3 July (4 hours).
    hours = [YEAR_START + timedelta(hours=k) for k in range(8760)]
    peak = {datetime(2023, 7, 3, 8 + k, tzinfo=UTC) - CET for k in range(4)}
    values = [(moment, 250.0 if moment in peak else 30.0) for moment in hours]
    post_observations(client, ids["NO2 at A"], values[:5000])
    post_observations(client, ids["NO2 at A"], values[5000:])
    # PM10: daily means, 46 µg/m³ on the first 19 days, 20 after.
    days = [YEAR_START + timedelta(days=d) for d in range(365)]
    daily = [(f"{iso(d)}/{iso(d + timedelta(days=1))}", 46.0 if k < 19 else 20.0) for k, d in enumerate(days)]
    post_observations(client, ids["PM10 at A"], daily)  # type: ignore[arg-type]
    return {"thing": thing, "no2": ids["NO2 at A"], "pm10": ids["PM10 at A"]}


def checks(body: dict[str, Any], standard: str, pollutant: str) -> dict[str, dict[str, Any]]:
    return {
        c["statistic"]: c for c in body["checks"] if c["standard"] == standard and c["pollutant"] == pollutant
    }


def test_the_station_is_listed_with_its_measurements_not_its_forecasts(
    client: TestClient, station: dict[str, int]
) -> None:
    listed = client.get("/api/air/stations").json()["stations"]
    (found,) = [s for s in listed if s["@iot.id"] == station["thing"]]
    assert set(found["pollutants"]) == {"no2", "pm10"}
    assert found["pollutants"]["pm10"]["aggregation"] == "P1D"


def test_a_year_is_assessed_under_both_directives_and_the_who_guidelines(
    client: TestClient, station: dict[str, int]
) -> None:
    response = client.get(f"/api/air/stations/{station['thing']}/assessment", params={"year": "2023"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["timeConvention"]["offset"] == "+01:00"
    no2_2024 = checks(body, "eu-2024-2881", "no2")
    assert (no2_2024["hour"]["verdict"], no2_2024["hour"]["exceedances"]) == ("exceeded", 4)  # > 3
    assert no2_2024["year"]["verdict"] == "exceeded"  # 30.9 > 20
    # 3 July: (20 × 30 + 4 × 250) / 24 = 66.7 > 50 on one day, 18 permitted.
    assert (no2_2024["day"]["verdict"], no2_2024["day"]["exceedances"]) == ("met", 1)
    assert no2_2024["day"]["exceedancePeriods"] == [
        {
            "end": "2023-07-04T00:00:00+01:00",
            "startUtc": "2023-07-02T23:00:00Z",
            "endUtc": "2023-07-03T23:00:00Z",
        }
    ]
    no2_2008 = checks(body, "eu-2008-50", "no2")
    assert no2_2008["hour"]["verdict"] == "met"  # 4 ≤ 18
    assert no2_2008["year"]["annualMean"] == pytest.approx((8756 * 30 + 4 * 250) / 8760, abs=1e-3)
    assert no2_2008["hour"]["exceedancePeriods"][0] == {
        "end": "2023-07-03T09:00:00+01:00",
        "startUtc": "2023-07-03T07:00:00Z",
        "endUtc": "2023-07-03T08:00:00Z",
    }
    pm10 = checks(body, "eu-2024-2881", "pm10")
    assert (pm10["day"]["verdict"], pm10["day"]["exceedances"]) == ("exceeded", 19)
    assert pm10["day"]["text"]["de"] == "45,0 µg/m³ an 19 Tagen überschritten; zulässig: 18-mal."
    assert pm10["day"]["text"]["en"] == "45.0 µg/m³ exceeded on 19 days; permitted: 18 times."
    assert checks(body, "eu-2008-50", "pm10")["day"]["verdict"] == "met"  # 46 ≤ 50
    assert checks(body, "who-2021", "pm10")["day"]["verdict"] == "exceeded"  # 19 > 3 days above 45


def test_a_year_without_enough_data_says_so(client: TestClient, station: dict[str, int]) -> None:
    body = client.get(f"/api/air/stations/{station['thing']}/assessment?year=2024").json()
    year = checks(body, "eu-2024-2881", "no2")["year"]
    assert (year["verdict"], year["annualMean"]) == ("no_data", None)
    assert year["verdictLabel"] == {"en": "no data", "de": "keine Daten"}


def test_the_assessment_as_csv(client: TestClient, station: dict[str, int]) -> None:
    response = client.get(f"/api/air/stations/{station['thing']}/assessment.csv?year=2023")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    pm10 = [
        r
        for r in rows
        if r["standard"] == "eu-2024-2881" and r["pollutant"] == "pm10" and r["statistic"] == "day"
    ]
    assert pm10[0]["verdict"] == "exceeded" and pm10[0]["exceedances"] == "19"
    assert pm10[0]["text_de"].startswith("45,0 µg/m³")


def test_the_index_hour_by_hour(client: TestClient, station: dict[str, int]) -> None:
    response = client.get(
        f"/api/air/stations/{station['thing']}/index",
        params={"start": "2023-07-03T09:00:00+01:00", "end": "2023-07-03T11:00:00+01:00"},
    )
    assert response.status_code == 200, response.text
    hours = response.json()["hours"]
    assert [h["startUtc"] for h in hours] == ["2023-07-03T08:00:00Z", "2023-07-03T09:00:00Z"]
    assert hours[0]["end"] == "2023-07-03T10:00:00+01:00"
    assert hours[0]["pollutants"]["no2"] == {"value": 250.0, "band": "extremely_poor"}
    assert (hours[0]["band"], hours[0]["colour"]) == ("extremely_poor", "#7D2181")
    assert hours[0]["label"] == {"en": "Extremely poor", "de": "Äußerst schlecht"}
    assert "pm10" not in hours[0]["pollutants"]  # daily means do not enter the hourly index


@pytest.mark.parametrize(
    ("path", "status", "named"),
    [
        ("assessment", 400, "year"),
        ("assessment?year=20x3", 400, "year"),
        ("assessment?year=1066", 400, "year"),
        ("assessment.csv", 400, "year"),
        ("index", 400, "start"),
        ("index?start=2023-01-01&end=2023-03-01", 400, "end"),
        ("index?start=2023-01-02&end=2023-01-01", 400, "end"),
        ("index?start=tomorrow&end=2023-01-01", 400, "start"),
    ],
)
def test_bad_parameters_are_named(
    client: TestClient, station: dict[str, int], path: str, status: int, named: str
) -> None:
    response = client.get(f"/api/air/stations/{station['thing']}/{path}")
    assert response.status_code == status, response.text
    assert named in response.text


def test_a_thing_without_measurements_is_no_station(client: TestClient) -> None:
    assert client.get("/api/air/stations/999999/assessment?year=2023").status_code == 404
    assert client.get("/api/air/stations/999999/index?start=2023-01-01&end=2023-01-02").status_code == 404


def test_the_standards_are_listed_with_their_sources(client: TestClient) -> None:
    body = client.get("/api/air/standards").json()
    assert [s["id"] for s in body["standards"]] == ["eu-2008-50", "eu-2024-2881", "who-2021"]
    assert all(v["source"] for s in body["standards"] for v in s["values"])
    paths = client.get("/openapi.json").json()["paths"]
    assert "/api/air/stations/{station_id}/assessment.csv" in paths


def test_only_what_the_caller_may_read(
    client: TestClient, anonymous: TestClient, station: dict[str, int]
) -> None:
    dataset = {"id": "secret", "title": "Internal", "publisher_id": "city", "licence": "other"}
    response = client.post("/api/admin/datasets", json={**dataset, "access_level": "internal"})
    assert response.status_code == 201, response.text
    for entity_set, ids in (
        ("Datastreams", [station["no2"], station["pm10"]]),
        ("Things", [station["thing"]]),
    ):
        moved = client.post("/api/datasets/secret/members", json={"entity_set": entity_set, "ids": ids})
        assert moved.status_code == 200, moved.text
    thing = station["thing"]
    assert thing not in [s["@iot.id"] for s in anonymous.get("/api/air/stations").json()["stations"]]
    assert anonymous.get(f"/api/air/stations/{thing}/assessment?year=2023").status_code == 404
    assert anonymous.get(f"/api/air/stations/{thing}/assessment.csv?year=2023").status_code == 404
    assert (
        anonymous.get(f"/api/air/stations/{thing}/index?start=2023-07-03&end=2023-07-04").status_code == 404
    )
    assert thing in [s["@iot.id"] for s in client.get("/api/air/stations").json()["stations"]]
    assert client.get(f"/api/air/stations/{thing}/assessment?year=2023").status_code == 200
