"""Every station assessed at once (`AirService.assessments`, the hours of all read in one statement by
`store/hourly.py`) answers exactly what each station's own assessment answers, and both equal the
plain pandas reference (reference.py) — on SQLite and PostgreSQL, with gaps, an hour of several
values, and Observations that arrive after the rollups were read."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from tests.airquality.reference import reference_year
from tests.airquality.test_api import YEAR_START, datastream
from tests.timeseries.helpers import post_observations
from urbantwin.access.gate import Caller
from urbantwin.access.principal import ANONYMOUS
from urbantwin.airquality.service import AirService
from urbantwin.airquality.standards import standards
from urbantwin.settings import Settings
from urbantwin.store.hourly import hourly


def caller() -> Caller:
    """An anonymous caller (a fresh one: a caller keeps its scope once asked)."""
    return Caller(ANONYMOUS, "test")


OFFSET = timedelta(hours=1)


def add_station(client: TestClient, name: str, code: str, seed: int) -> tuple[int, pd.Series]:
    """A station with a year (2023) of hourly values of `code`, 5 % of the hours missing; returns its
    Datastream and the values by the UTC start of their hour."""
    body = {
        "name": name,
        "description": "synthetic",
        "Locations": [
            {
                "name": name,
                "description": "synthetic",
                "encodingType": "application/geo+json",
                "location": {"type": "Point", "coordinates": [12.37, 51.34]},
            }
        ],
        "Datastreams": [
            datastream(code, f"{code} at {name}", {"kind": "measurement", "aggregation": "PT1H"})
        ],
    }
    answer = client.post("/v1.1/Things", json=body)
    assert answer.status_code == 201, answer.text
    thing = answer.json()["@iot.id"]
    stream = client.get(f"/v1.1/Things({thing})/Datastreams").json()["value"][0]["@iot.id"]
    rng = np.random.default_rng(seed)
    hours = [YEAR_START + timedelta(hours=k) for k in range(8760)]
    keep = rng.random(len(hours)) >= 0.05
    values = np.round(rng.gamma(2.0, 15.0, len(hours)), 3)
    points = [(h, float(v)) for h, v, k in zip(hours, values, keep, strict=True) if k]
    post_observations(client, stream, points[:4000])
    post_observations(client, stream, points[4000:])
    index = pd.DatetimeIndex([h for h, _ in points])
    return stream, pd.Series([v for _, v in points], index=index)


@pytest.fixture
def air(engine: Engine, settings: Settings) -> AirService:
    return AirService(engine, settings)


def test_all_at_once_equals_one_by_one_and_the_reference(client: TestClient, air: AirService) -> None:
    series = {
        "no2": add_station(client, "A", "no2", 1),
        "pm10": add_station(client, "B", "pm10", 2),
    }
    answers = air.assessments(2023, caller())
    assert len(answers) == 2
    for answer in answers:
        one = air.assessment(answer.body["station"]["@iot.id"], 2023, caller())
        assert answer.body == one.body
        pollutant = answer.body["pollutants"][0]["pollutant"]
        reference = reference_year(series[pollutant][1], 2023, OFFSET, standards()[0].capture)
        assert answer.body["pollutants"][0]["annualMean"] == round(reference.annual_mean or 0.0, 3)
        days = {c["standard"]: c for c in answer.body["checks"] if c["statistic"] == "day"}
        for standard in standards():
            levels = [v.level for v in standard.values if v.pollutant == pollutant and v.statistic == "day"]
            for level in levels:
                assert days[standard.id]["exceedances"] == int((reference.days > level).sum())
            assert bool(levels) == (standard.id in days)
    # a value arriving after the rollups were read: an hour of two values, read again at once
    stream = series["no2"][0]
    post_observations(client, stream, [(YEAR_START + timedelta(minutes=30), 500.0)])
    again = {a.body["station"]["name"]: a.body for a in air.assessments(2023, caller())}
    thing = next(a.body["station"]["@iot.id"] for a in answers if a.body["station"]["name"] == "A")
    assert again["A"] == air.assessment(thing, 2023, caller()).body
    assert again["A"]["pollutants"][0]["annualMean"] != answers[0].body["pollutants"][0]["annualMean"]


def test_the_hours_of_many_series(client: TestClient, engine: Engine) -> None:
    first, _ = add_station(client, "A", "no2", 3)
    start = YEAR_START
    hours = hourly(engine, [first, 10_000_000], start, start + timedelta(hours=5))
    micros, counts, sums = hours.of(first)
    assert len(micros) == len(counts) == len(sums) <= 5
    assert (np.diff(micros) > 0).all() and (counts == 1).all()
    assert len(hours.of(10_000_000)[0]) == 0  # no such Datastream: no hours
    with pytest.raises(ValueError, match="whole UTC hours"):
        hourly(engine, [first], start + timedelta(minutes=1), start + timedelta(hours=1))
    with pytest.raises(ValueError, match="aware"):
        hourly(engine, [first], datetime(2023, 1, 1), datetime(2023, 1, 2, tzinfo=UTC))


def test_a_hidden_station_is_not_assessed(client: TestClient, air: AirService) -> None:
    stream, _ = add_station(client, "A", "no2", 4)
    thing = client.get(f"/v1.1/Datastreams({stream})/Thing").json()["@iot.id"]
    dataset = {"id": "secret", "title": "Internal", "publisher_id": "city", "licence": "other"}
    assert client.post("/api/admin/datasets", json={**dataset, "access_level": "internal"}).status_code == 201
    moved = client.post("/api/datasets/secret/members", json={"entity_set": "Things", "ids": [thing]})
    assert moved.status_code == 200, moved.text
    assert air.assessments(2023, caller()) == []
