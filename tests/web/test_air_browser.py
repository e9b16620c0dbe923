"""The clean-air view in a real browser: a small store holding the synthetic city of
tests/districts/conftest.py (two districts with residents) and two synthetic stations with a year of
values (2023), served on a free port, and the Playwright tests of `web/tests/air.test.mjs` run against it (the
harness: tests/web/browser.py).

Station P (in the west): daily PM10 of 50 µg/m³ on the first 10 days of 2023 and 30 after (annual
mean above 2024/2881's 20: exceeded), hourly NO2 of 25 with 250 from 08:00 to 12:00 on 3 July;
station Q (in the east): daily PM10 of 10 (every value met)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from tests.airquality.test_api import datastream
from tests.conftest import ADMIN_TOKEN
from tests.districts.conftest import PROFILE, box, lonlat, store
from tests.timeseries.helpers import iso, post_observations
from tests.web.browser import Served, need_browser, run_browser_tests, serve
from urbantwin.app import create_app
from urbantwin.city_profile import parse_profile
from urbantwin.settings import Settings
from urbantwin.store.city import write_profile
from urbantwin.store.engine import for_writes, make_engine, upgrade

CET = timedelta(hours=1)
START = datetime(2023, 1, 1, tzinfo=UTC) - CET


def add_station(client: TestClient, name: str, xy: tuple[float, float], pm10: list[float], no2: bool) -> None:
    lon, lat = lonlat(*xy)
    streams = [datastream("pm10", f"PM10 at {name}", {"kind": "measurement", "aggregation": "P1D"})]
    if no2:
        streams.append(datastream("no2", f"NO2 at {name}", {"kind": "measurement", "aggregation": "PT1H"}))
    body = {
        "name": f"Station {name} (synthetic)",
        "description": "synthetic station for the browser test",
        "Locations": [
            {
                "name": name,
                "description": "synthetic",
                "encodingType": "application/geo+json",
                "location": {"type": "Point", "coordinates": [lon, lat]},
            }
        ],
        "Datastreams": streams,
    }
    answer = client.post("/v1.1/Things", json=body)
    assert answer.status_code == 201, answer.text
    thing = answer.json()["@iot.id"]
    ids = {s["name"]: s["@iot.id"] for s in client.get(f"/v1.1/Things({thing})/Datastreams").json()["value"]}
    days = [START + timedelta(days=d) for d in range(365)]
    daily = [(f"{iso(d)}/{iso(d + timedelta(days=1))}", value) for d, value in zip(days, pm10, strict=True)]
    post_observations(client, ids[f"PM10 at {name}"], daily)  # type: ignore[arg-type]
    if no2:
        peak = {datetime(2023, 7, 3, 8 + k, tzinfo=UTC) - CET for k in range(4)}
        hours = [START + timedelta(hours=k) for k in range(8760)]
        values = [(h, 250.0 if h in peak else 25.0) for h in hours]
        post_observations(client, ids[f"NO2 at {name}"], values[:4380])
        post_observations(client, ids[f"NO2 at {name}"], values[4380:])


@pytest.fixture(scope="module")
def air_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """`urbantwin serve` of the synthetic city and its two stations, until the module's tests are done."""
    need_browser()
    folder = tmp_path_factory.mktemp("air")
    settings = Settings(
        database_url=f"sqlite:///{folder / 'air.sqlite'}", admin_token=ADMIN_TOKEN, rate_limit_per_second=0
    )
    engine = make_engine(settings)
    upgrade(engine)
    with for_writes(engine).begin() as connection:
        write_profile(connection, parse_profile(PROFILE))
    store(
        engine,
        "quarters",
        ["districts"],
        [
            ("west", box(0, 0, 1000), {"title": "West", "people_2020": 1000, "people_2024": 1200}),
            ("east", box(1000, 0, 1000), {"title": "East", "people_2020": 2000, "people_2024": 1800}),
        ],
    )
    with TestClient(create_app(settings, engine)) as client:
        client.headers["Authorization"] = f"Bearer {ADMIN_TOKEN}"
        add_station(client, "P", (500.0, 500.0), [50.0] * 10 + [30.0] * 355, no2=True)
        add_station(client, "Q", (1500.0, 500.0), [10.0] * 365, no2=False)
    engine.dispose()
    with serve(folder, "--database-url", settings.database_url) as served:
        yield served


@pytest.mark.long  # a store made and served, and the browser's tests
def test_the_air_view_in_chromium(air_server: Served) -> None:
    run_browser_tests("air.test.mjs", air_server)
