"""The forecast check on real data (tests/airquality/data/SOURCES.md): two years of CAMS PM2.5
forecasts (ENSEMBLE median and EURAD-IM, model data) against the LfULG's measured daily means at
Chemnitz-Leipziger Straße, through the API, equal to a plain pandas computation of the same scores."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from tests.airquality.test_api import datastream
from tests.timeseries.helpers import iso, post_observations

DATA = Path(__file__).parent / "data"
MEASURED = DATA / "lfulg_ch-leipz_pm25_daily_2020-2021.csv"
FORECASTS = DATA / "cams_pm25_daily_forecast_Ch-Leipz.csv"
CET = timedelta(hours=1)


def reference(model: str, year: int, threshold: float = 25.0) -> dict[str, float]:
    """The scores by hand, in pandas: days of the year with both values, matched by their date."""
    measured = pd.read_csv(MEASURED, parse_dates=["date"]).set_index("date")["pm25_ug_m3"]
    forecast = pd.read_csv(FORECASTS, parse_dates=["date"]).set_index("date")[model]
    both = pd.concat([forecast.rename("f"), measured.rename("o")], axis=1).dropna()
    both = both[both.index.year == year]
    f, o = both["f"], both["o"]
    return {
        "n": len(both),
        "bias": float((f - o).mean()),
        "rmse": float(np.sqrt(((f - o) ** 2).mean())),
        "correlation": float(f.corr(o)),
        "hits": int(((f > threshold) & (o > threshold)).sum()),
        "misses": int(((f <= threshold) & (o > threshold)).sum()),
        "falseAlarms": int(((f > threshold) & (o <= threshold)).sum()),
    }


@pytest.fixture
def station(client: TestClient) -> int:
    body = {
        "name": "Air quality station Chemnitz-Leipziger Str.",
        "description": "LfULG station",
        "Locations": [
            {
                "name": "Chemnitz-Leipziger Str.",
                "description": "approximate position of the station",
                "encodingType": "application/geo+json",
                "location": {"type": "Point", "coordinates": [12.91, 50.85]},
            }
        ],
        "Datastreams": [
            datastream("pm25", "PM2.5 at Ch-Leipz", {"kind": "measurement", "aggregation": "P1D"}),
            *(
                datastream(
                    "pm25", f"PM2.5 forecast CAMS {model}", {"kind": "model forecast", "aggregation": "P1D"}
                )
                for model in ("ENSEMBLE", "EURAD-IM")
            ),
        ],
    }
    response = client.post("/v1.1/Things", json=body)
    assert response.status_code == 201, response.text
    thing = response.json()["@iot.id"]
    streams = client.get(f"/v1.1/Things({thing})/Datastreams?$select=id,name").json()["value"]
    ids = {s["name"]: s["@iot.id"] for s in streams}
    measured = pd.read_csv(MEASURED, parse_dates=["date"]).dropna()
    # the agency's day is the local standard day (MEZ): from 23:00 UTC of the day before
    days = [
        (d.tz_localize("UTC") - CET, v) for d, v in zip(measured["date"], measured["pm25_ug_m3"], strict=True)
    ]
    post_observations(
        client, ids["PM2.5 at Ch-Leipz"], [(f"{iso(s)}/{iso(s + timedelta(days=1))}", v) for s, v in days]
    )
    forecasts = pd.read_csv(FORECASTS, parse_dates=["date"])
    for model in ("ENSEMBLE", "EURAD-IM"):
        rows = forecasts.dropna(subset=[model])
        starts = [d.tz_localize("UTC") for d in rows["date"]]
        post_observations(
            client,
            ids[f"PM2.5 forecast CAMS {model}"],
            [(f"{iso(s)}/{iso(s + timedelta(days=1))}", v) for s, v in zip(starts, rows[model], strict=True)],
        )
    return thing


def test_cams_against_the_measurements_of_2021(client: TestClient, station: int) -> None:
    response = client.get(f"/api/air/stations/{station}/forecast-check", params={"year": "2021"})
    assert response.status_code == 200, response.text
    found = {m["datastream"]["name"].rsplit(" ", 1)[1]: m for m in response.json()["forecasts"]}
    for model in ("ENSEMBLE", "EURAD-IM"):
        (lead,) = found[model]["leadTimes"]
        expected = reference(model, 2021)
        assert lead["n"] == expected["n"] and lead["n"] > 350
        for key in ("bias", "rmse"):
            assert lead[key] == pytest.approx(expected[key], abs=1e-3), key
        assert lead["correlation"] == pytest.approx(expected["correlation"], abs=1e-4)
        for key in ("hits", "misses", "falseAlarms"):
            assert lead[key] == expected[key], key
