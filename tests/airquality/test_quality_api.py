"""The low-cost sensor checks, the forecast check, the report and the publication through the API,
on a store (SQLite and PostgreSQL): an official station with hourly PM2.5 and a CAMS-like forecast,
and a citizen site 70 m away with an SDS011 (PM2.5 reading 2 × the station + 3 µg/m³ in dry air, one
spike; PM10 frozen on one value) and a humidity sensor."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import shapely
from fastapi.testclient import TestClient

from tests.airquality.test_api import UG, datastream
from tests.timeseries.helpers import iso, post_observations
from urbantwin.airquality.sensors import growth_factor
from urbantwin.city_profile import parse_profile
from urbantwin.ingest.pipeline import CollectionInfo, Row, store_rows
from urbantwin.ingest.vocabulary import OBSERVED_PROPERTIES
from urbantwin.store.city import write_profile

START = datetime(2024, 3, 4, tzinfo=UTC)
#: The station's daily level on five days (every hour of a day the same), and the forecast's.
MEASURED = [12.0, 26.0, 27.0, 20.0, 15.0]
FORECAST = [10.0, 30.0, 20.0, 28.0, 15.0]
HUMIDITY = 50.0
SITE = {"network": "sensor.community", "kind": "measurement", "sensor_type": "SDS011"}


def thing(name: str, lon: float, lat: float, streams: list[dict[str, Any]]) -> dict[str, Any]:
    location = {"type": "Point", "coordinates": [lon, lat]}
    return {
        "name": name,
        "description": name,
        "Locations": [
            {"name": name, "description": "p", "encodingType": "application/geo+json", "location": location}
        ],
        "Datastreams": streams,
    }


def ids(client: TestClient, body: dict[str, Any]) -> tuple[int, dict[str, int]]:
    response = client.post("/v1.1/Things", json=body)
    assert response.status_code == 201, response.text
    thing_id = response.json()["@iot.id"]
    streams = client.get(f"/v1.1/Things({thing_id})/Datastreams?$select=id,name").json()["value"]
    return thing_id, {s["name"]: s["@iot.id"] for s in streams}


@pytest.fixture
def sites(client: TestClient) -> dict[str, int]:
    station, official = ids(
        client,
        thing(
            "Station R",
            12.3700,
            51.3400,
            [
                datastream("pm25", "PM2.5 at R", {"kind": "measurement", "aggregation": "PT1H"}),
                datastream(
                    "pm25",
                    "PM2.5 forecast at R",
                    {"kind": "model forecast", "aggregation": "P1D", "attribution": "Contains modified CAMS"},
                ),
            ],
        ),
    )
    hours = [START + timedelta(hours=h) for h in range(24 * len(MEASURED))]
    post_observations(client, official["PM2.5 at R"], [(t, MEASURED[(t - START).days]) for t in hours])
    days = [START + timedelta(days=d) for d in range(len(FORECAST))]
    post_observations(
        client,
        official["PM2.5 forecast at R"],
        [(f"{iso(d)}/{iso(d + timedelta(days=1))}", f) for d, f in zip(days, FORECAST, strict=True)],
    )
    humidity = {
        **datastream("relative_humidity", "RH at 1", {"network": "sensor.community", "kind": "measurement"}),
        "unitOfMeasurement": {"name": "percent", "symbol": "%", "definition": "ucum:%"},
        "ObservedProperty": OBSERVED_PROPERTIES["relative_humidity"].observed_property,
    }
    site, citizen = ids(
        client,
        thing(
            "sensor.community location 1",
            12.3710,
            51.3400,  # 69.7 m east of the station
            [
                datastream("pm25", "PM2.5 of SDS011 1", SITE),
                datastream("pm10", "PM10 of SDS011 1", SITE),
                humidity,
            ],
        ),
    )
    factor = float(growth_factor(HUMIDITY, 0.4))
    readings = []
    for k, t in enumerate(hours):
        level = 2 * MEASURED[k // 24] + 3
        # two readings an hour, ±0.5 around the level: their mean is the level exactly
        readings += [(t, (level + 0.5) * factor), (t + timedelta(minutes=30), (level - 0.5) * factor)]
    readings.append((START + timedelta(hours=5, minutes=15), 300.0))  # a spike between two readings
    post_observations(client, citizen["PM2.5 of SDS011 1"], readings)
    post_observations(client, citizen["PM10 of SDS011 1"], [(t, 17.0) for t in hours])  # stuck
    post_observations(
        client, citizen["RH at 1"], [(t + timedelta(minutes=m), HUMIDITY) for t in hours for m in (0, 30)]
    )
    return {
        "station": station,
        "site": site,
        "pm25": citizen["PM2.5 of SDS011 1"],
        "pm10": citizen["PM10 of SDS011 1"],
    }


WINDOW = {"start": "2024-03-04T01:00:00", "end": "2024-03-09T01:00:00"}  # local time, UTC+1 in March


def test_the_check_flags_corrects_and_calibrates(client: TestClient, sites: dict[str, int]) -> None:
    response = client.post("/api/air/sensors/check", params=WINDOW)
    assert response.status_code == 200, response.text
    body = response.json()
    found = {s["@iot.id"]: s for s in body["sensors"]}
    pm25 = found[sites["pm25"]]
    assert pm25["readings"] == 241 and pm25["flagged"]["spike"] == 1 and pm25["usable"] == 240
    assert pm25["nearestStation"]["name"] == "Station R"
    assert pm25["nearestStation"]["distanceM"] == pytest.approx(69.7, abs=0.5)
    calibration = pm25["calibration"]
    # the station = (corrected - 3) / 2: slope 0.5, intercept -1.5, on 120 hours
    assert calibration["n"] == 120 and calibration["resolution"] == "PT1H"
    assert calibration["slope"] == pytest.approx(0.5) and calibration["intercept"] == pytest.approx(-1.5)
    assert calibration["r2"] == pytest.approx(1.0) and calibration["rmse"] == pytest.approx(0.0, abs=1e-3)
    pm10 = found[sites["pm10"]]
    assert pm10["flagged"]["stuck"] == 120 and pm10["usable"] == 0
    assert pm10["nearestStation"] is None and pm10["calibration"] is None

    # the flags are the Observations' resultQuality; the results are the raw readings
    observations = client.get(
        f"/v1.1/Datastreams({sites['pm25']})/Observations",
        params={"$orderby": "phenomenonTime asc", "$top": "13", "$select": "result,resultQuality,parameters"},
    ).json()["value"]
    spike = observations[11]
    # (15 minutes from the nearest humidity reading, beyond the 10 minutes allowed: not corrected either)
    assert spike["result"] == 300.0 and spike["resultQuality"]["flags"] == ["spike", "no_humidity"]
    assert spike["resultQuality"]["usable"] is False
    first = observations[0]
    factor = float(growth_factor(HUMIDITY, 0.4))
    assert first["result"] == pytest.approx(27.5 * factor)
    assert first["resultQuality"]["flags"] == [] and first["resultQuality"]["usable"] is True
    assert first["parameters"]["airquality"]["corrected"] == pytest.approx(27.5, abs=1e-3)
    assert first["parameters"]["airquality"]["calibrated"] == pytest.approx(12.25, abs=1e-3)

    flags = client.get(f"/api/air/sensors/{sites['pm10']}/flags", params=WINDOW).json()
    assert {tuple(r["flags"]) for r in flags["readings"]} == {("stuck",)}
    assert flags["flags"]["stuck"] == {"en": "stuck value", "de": "hängender Messwert"}
    listed = {s["@iot.id"]: s for s in client.get("/api/air/sensors").json()["sensors"]}
    assert listed[sites["pm25"]]["calibration"]["n"] == 120
    # the citizen site is not an official station
    assert sites["site"] not in [s["@iot.id"] for s in client.get("/api/air/stations").json()["stations"]]


def test_thresholds_are_overridden_and_a_dry_run_writes_nothing(
    client: TestClient, sites: dict[str, int]
) -> None:
    response = client.post(
        "/api/air/sensors/check",
        params={**WINDOW, "write": "false", "sensor": sites["pm10"]},
        json={"stuck_duration": 10**7},
    )
    assert response.status_code == 200, response.text
    assert response.json()["sensors"][0]["flagged"]["stuck"] == 0
    observation = client.get(f"/v1.1/Datastreams({sites['pm10']})/Observations?$top=1").json()["value"][0]
    assert observation.get("resultQuality") is None
    bad = client.post("/api/air/sensors/check", params=WINDOW, json={"spikes": 3})
    assert bad.status_code == 400 and "spikes" in bad.text


def test_checking_needs_write_rights_and_bounded_windows(
    client: TestClient, anonymous: TestClient, sites: dict[str, int]
) -> None:
    assert anonymous.post("/api/air/sensors/check", params=WINDOW).status_code in (401, 403)
    too_long = client.post("/api/air/sensors/check", params={"start": "2024-01-01", "end": "2024-06-01"})
    assert too_long.status_code == 400 and "92 days" in too_long.text
    missing = client.post("/api/air/sensors/check", params={"start": "2024-01-01"})
    assert missing.status_code == 400 and "start, end" in missing.text
    assert client.get("/api/air/sensors/999999/flags", params=WINDOW).status_code == 404


def test_the_forecast_check_by_hand(client: TestClient, sites: dict[str, int]) -> None:
    response = client.get(f"/api/air/stations/{sites['station']}/forecast-check", params={"year": "2024"})
    assert response.status_code == 200, response.text
    (model,) = response.json()["forecasts"]
    assert model["modelData"] is True and model["attribution"] == "Contains modified CAMS"
    assert model["threshold"] == 25.0  # the daily PM2.5 limit value of (EU) 2024/2881
    (lead,) = model["leadTimes"]
    # the five days of test_forecast.py: bias 0.6, RMSE √26.6, r = 165 / √(287.2 · 174), 1 hit, 1 miss, 1 FA
    assert lead["leadTime"] == "unknown" and lead["n"] == 5
    assert lead["bias"] == pytest.approx(0.6, abs=1e-3)
    assert lead["rmse"] == pytest.approx(26.6**0.5, abs=1e-3)
    assert lead["correlation"] == pytest.approx(165 / (287.2 * 174) ** 0.5, abs=1e-4)
    assert (lead["hits"], lead["misses"], lead["falseAlarms"], lead["correctNegatives"]) == (1, 1, 1, 2)
    assert lead["hitRate"] == 0.5 and lead["falseAlarmRatio"] == 0.5
    assert "5 Tage verglichen" in lead["text"]["de"]
    assert (
        client.get(
            f"/api/air/stations/{sites['station']}/forecast-check", params={"year": "2024", "threshold": "x"}
        ).status_code
        == 400
    )


def test_official_and_citizen_per_district(client: TestClient, engine: Any, sites: dict[str, int]) -> None:
    west = shapely.box(12.36, 51.33, 12.3705, 51.35)
    east = shapely.box(12.3705, 51.33, 12.38, 51.35)
    rows = [
        Row(key, {"name": name}, shapely.to_wkb(shape), shape.bounds, None, None, None)
        for key, name, shape in (("w", "West", west), ("e", "East", east))
    ]
    store_rows(engine, rows, CollectionInfo("quarters", "Quarters"), "OGC:CRS84", progress=False)
    with engine.begin() as connection:
        write_profile(
            connection, parse_profile({"name": "Testcity", "districts": [{"collection": "quarters"}]})
        )
    assert client.post("/api/air/sensors/check", params=WINDOW).status_code == 200
    response = client.get("/api/air/districts/comparison", params=WINDOW)
    assert response.status_code == 200, response.text
    assert "amtlichen Stationen" in response.json()["method"]["de"]
    body = {d["name"]: d["pollutants"] for d in response.json()["districts"]}
    # West holds the station: the mean of its 120 hours, (12 + 26 + 27 + 20 + 15) / 5 = 20
    assert body["West"] == [
        {
            "pollutant": "pm25", "officialStations": 1, "officialMean": 20.0, "officialHours": 120,
            "citizenSensors": 0, "citizenMean": None, "citizenHours": 0, "difference": None,
        }
    ]  # fmt: skip
    # East holds the citizen site: its calibrated hours equal the station's; PM10 was all stuck
    (pm25,) = body["East"]
    assert pm25["citizenSensors"] == 1 and pm25["citizenHours"] == 120
    assert pm25["citizenMean"] == pytest.approx(20.0, abs=1e-3)
    unknown = client.get("/api/air/districts/comparison", params={**WINDOW, "collection": "nope"})
    assert unknown.status_code == 404 and "nope" in unknown.text


def test_the_report_of_all_stations_and_its_publication(client: TestClient, sites: dict[str, int]) -> None:
    response = client.get("/api/air/report.csv", params={"year": "2024"})
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert {r["station"] for r in rows} == {"Station R"}
    assert {r["standard"] for r in rows} == {"eu-2008-50", "eu-2024-2881", "who-2021"}
    published = client.post("/api/air/assessment/publish", params={"year": "2024"})
    assert published.status_code == 200, published.text
    body = published.json()
    assert body["dataset"] == "air-assessment-2024" and body["stations"] == 1 and body["inserted"] == 1
    items = client.get("/ogcapi/collections/air-assessment-2024/items").json()["features"]
    (feature,) = items
    assert feature["geometry"]["coordinates"] == [12.37, 51.34]
    # five days of a year: no valid annual mean
    assert feature["properties"]["eu-2024-2881_pm25_year_verdict"] == "insufficient_data"
    assert (
        client.get("/catalog/datasets/air-assessment-2024", headers={"Accept": "text/turtle"}).status_code
        == 200
    )
    again = client.post("/api/air/assessment/publish", params={"year": "2024"}).json()
    assert again["inserted"] == 0 and again["unchanged"] == 1


def test_publishing_needs_write_rights(anonymous: TestClient, sites: dict[str, int]) -> None:
    assert anonymous.post("/api/air/assessment/publish", params={"year": "2024"}).status_code in (401, 403)


def test_the_new_paths_are_in_the_openapi_document(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    for path in (
        "/api/air/report.csv",
        "/api/air/assessment/publish",
        "/api/air/stations/{station_id}/forecast-check",
        "/api/air/sensors/check",
        "/api/air/sensors/{sensor_id}/flags",
        "/api/air/districts/comparison",
    ):
        assert path in paths, path
    check = paths["/api/air/stations/{station_id}/forecast-check"]["get"]
    assert "ForecastCheckAnswer" in str(check["responses"]["200"])
    flags = paths["/api/air/sensors/{sensor_id}/flags"]["get"]["responses"]["200"]["content"][
        "application/json"
    ]
    assert "SensorFlags" in str(flags["schema"]) and flags["example"]["readings"][0]["flags"] == ["spike"]
    index = paths["/api/air/stations/{station_id}/index"]["get"]["responses"]["200"]["content"]
    assert index["application/json"]["example"]["hours"][0]["colour"] == "#F0E641"


assert UG  # the unit of the test station's Datastreams, shared with test_api.py


def test_hidden_sensors_and_stations_stay_hidden(
    client: TestClient, anonymous: TestClient, sites: dict[str, int]
) -> None:
    dataset = {"id": "citizens", "title": "Internal", "publisher_id": "city", "licence": "other"}
    assert client.post("/api/admin/datasets", json={**dataset, "access_level": "internal"}).status_code == 201
    moved = client.post(
        "/api/datasets/citizens/members",
        json={"entity_set": "Datastreams", "ids": [sites["pm25"], sites["pm10"]]},
    )
    assert moved.status_code == 200, moved.text
    assert client.post("/api/air/sensors/check", params=WINDOW).status_code == 200
    assert anonymous.get("/api/air/sensors").json()["sensors"] == []
    assert anonymous.get(f"/api/air/sensors/{sites['pm25']}/flags", params=WINDOW).status_code == 404
    assert len(client.get("/api/air/sensors").json()["sensors"]) == 2
    station = {"id": "agency", "title": "Internal", "publisher_id": "city", "licence": "other"}
    assert client.post("/api/admin/datasets", json={**station, "access_level": "internal"}).status_code == 201
    moved = client.post(
        "/api/datasets/agency/members", json={"entity_set": "Things", "ids": [sites["station"]]}
    )
    assert moved.status_code == 200, moved.text
    hidden = anonymous.get(f"/api/air/stations/{sites['station']}/forecast-check", params={"year": "2024"})
    assert hidden.status_code == 404
    # the published assessment is as closed as the station's data
    published = client.post("/api/air/assessment/publish", params={"year": "2024"}).json()
    assert published["accessLevel"] == "internal"
    assert anonymous.get("/ogcapi/collections/air-assessment-2024/items").status_code == 404
