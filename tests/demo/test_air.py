"""The demo's air quality stations through the clean-air API: listed, assessed (2014 holds three
months of data: insufficient for a year, and said so), and indexed hour by hour."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.conftest import DemoStore
from urbantwin.app import create_app
from urbantwin.settings import Settings


@pytest.mark.xdist_group("demo")
def test_the_demo_stations_are_assessable(demo_store: DemoStore, tmp_path: Path) -> None:
    url = demo_store.copy(tmp_path)  # the app writes its defaults at start, the rollups as they are read
    with TestClient(create_app(Settings(database_url=url))) as client:
        stations = {s["name"]: s for s in client.get("/api/air/stations").json()["stations"]}
        mitte = stations["Air quality station Leipzig-Mitte"]
        assessment = client.get(f"/api/air/stations/{mitte['@iot.id']}/assessment?year=2014").json()
        index = client.get(
            f"/api/air/stations/{mitte['@iot.id']}/index",
            params={"start": "2014-10-28T20:00:00Z", "end": "2014-10-28T21:00:00Z"},
        ).json()
        report = client.get(f"/api/air/stations/{mitte['@iot.id']}/assessment.csv?year=2014")
    assert len(stations) == 4
    # Measurements only: the CAMS PM2.5 forecasts of the station are not assessed.
    assert mitte["pollutants"]["pm25"]["aggregation"] == "P1D"
    assert "forecast" not in mitte["pollutants"]["pm25"]["name"]
    years = [c for c in assessment["checks"] if c["statistic"] == "year"]
    assert {c["verdict"] for c in years} == {"insufficient_data"}, "three months of 2014 are no year"
    assert all(c["annualMean"] is None for c in years)
    # Exceedances found are found: 7 days of PM2.5 above the WHO's 15 µg/m³ break its 3 days already.
    (who_pm25,) = [
        c
        for c in assessment["checks"]
        if c["standard"] == "who-2021" and c["pollutant"] == "pm25" and c["statistic"] == "day"
    ]
    assert (who_pm25["verdict"], who_pm25["exceedances"]) == ("exceeded", 7)
    eu_pm10 = [c for c in assessment["checks"] if c["pollutant"] == "pm10" and c["statistic"] == "day"]
    assert {c["verdict"] for c in eu_pm10} == {"insufficient_data"}
    (hour,) = index["hours"]
    # NO2 50 µg/m³ (moderate: 25 < 50 ≤ 60) and SO2 2.9 (good): the station is moderate.
    assert hour["pollutants"]["no2"] == {"value": 50.0, "band": "moderate"}
    assert hour["pollutants"]["so2"]["band"] == "good"
    assert (hour["band"], hour["end"]) == ("moderate", "2014-10-28T22:00:00+01:00")
    assert report.status_code == 200 and report.text.startswith("station_id,")
