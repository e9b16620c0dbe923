"""Every station assessed at once (`AirService.assessments`, the hours of all read in one statement by
`store/hourly.py`) answers exactly what each station's own assessment answers, and both equal the
plain pandas reference (reference.py) — on SQLite and PostgreSQL, with gaps, an hour of several
values, and Observations that arrive after the rollups were read."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from tests.airquality.reference import reference_year
from tests.airquality.test_api import YEAR_START, datastream
from tests.timeseries.helpers import iso, post_observations
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


def add_thing(client: TestClient, name: str, streams: dict[str, tuple[str, str]]) -> dict[str, int]:
    """A station with Datastreams {name: (pollutant, aggregation)}; returns their ids by name."""
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
            datastream(code, stream, {"kind": "measurement", "aggregation": aggregation})
            for stream, (code, aggregation) in streams.items()
        ],
    }
    answer = client.post("/v1.1/Things", json=body)
    assert answer.status_code == 201, answer.text
    found = client.get(f"/v1.1/Things({answer.json()['@iot.id']})/Datastreams").json()["value"]
    return {d["name"]: d["@iot.id"] for d in found}


def local_day(year: int, month: int, day: int) -> datetime:
    """The UTC instant at which the local standard day (UTC+1) begins."""
    return datetime(year, month, day, tzinfo=UTC) - OFFSET


def test_stations_of_different_years_kinds_and_a_leap_day_at_once(
    client: TestClient, air: AirService
) -> None:
    """Ozone read over three years, a daily series, a station whose values lie in another year, a
    leap year: every station assessed at once answers what each answers alone, and the figures
    computed by hand."""
    ozone = add_thing(client, "O", {"O3 at O": ("o3", "PT1H")})["O3 at O"]
    # 130 µg/m³ all day on 29 February 2024 (local standard time) and on 1 June 2022: each day's
    # maximum 8-hour mean is 130 > 120; the windows of 1 March holding 6 or more of those hours are
    # two (ending 01:00 and 02:00), too few for a daily maximum (18).
    for first in (local_day(2024, 2, 29), local_day(2022, 6, 1)):
        post_observations(client, ozone, [(first + timedelta(hours=h), 130.0) for h in range(24)])
    daily = add_thing(client, "D", {"PM10 at D": ("pm10", "P1D")})["PM10 at D"]
    days = [local_day(2024, 2, 26) + timedelta(days=d) for d in range(5)]  # 26 Feb to 1 Mar 2024
    post_observations(client, daily, [(f"{iso(d)}/{iso(d + timedelta(days=1))}", 46.0) for d in days])  # type: ignore[misc]
    other = add_thing(client, "N", {"NO2 at N": ("no2", "PT1H")})["NO2 at N"]
    post_observations(client, other, [(local_day(2023, 5, 1) + timedelta(hours=h), 300.0) for h in range(24)])

    answers = {a.body["station"]["name"]: a for a in air.assessments(2024, caller())}
    assert sorted(answers) == ["D", "N", "O"]
    for answer in answers.values():
        alone = air.assessment(answer.body["station"]["@iot.id"], 2024, caller())
        assert answer.body == alone.body

    def found(name: str, standard: str, statistic: str) -> dict:  # type: ignore[type-arg]
        (check,) = [
            c
            for c in answers[name].body["checks"]
            if c["standard"] == standard and c["statistic"] == statistic
        ]
        return check

    target = found("O", "eu-2008-50", "max8h")
    assert (target["verdict"], target["exceedances"], target["yearsAveraged"]) == ("insufficient_data", 1, [])
    assert target["exceedancePeriods"] == [
        {
            "end": "2024-03-01T00:00:00+01:00",
            "startUtc": "2024-02-28T23:00:00Z",
            "endUtc": "2024-02-29T23:00:00Z",
        }
    ]
    assert target["coverage"]["possible"] == 366 and target["coverage"]["valid"] == 1
    # The period documents are shared between answers: read-only, a copy is the reader's own.
    with pytest.raises(TypeError, match="shared"):
        target["exceedancePeriods"][0]["end"] = "changed"
    mine = copy.deepcopy(target["exceedancePeriods"])
    mine[0]["end"] = "changed"
    assert target["exceedancePeriods"][0]["end"] == "2024-03-01T00:00:00+01:00"
    pm10 = found("D", "eu-2024-2881", "day")
    assert (pm10["verdict"], pm10["exceedances"], pm10["coverage"]["valid"]) == ("insufficient_data", 5, 5)
    assert pm10["exceedancePeriods"][3]["end"] == "2024-03-01T00:00:00+01:00"  # the leap day
    assert {c["verdict"] for c in answers["N"].body["checks"]} == {"no_data"}  # its values are of 2023


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
