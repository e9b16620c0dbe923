"""`GET /api/timeseries/datastreams/{id}/aggregate`: buckets computed by hand, local calendars with
DST and odd offsets, and the 400s and 404s of bad requests."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from tests.timeseries.helpers import create_station, post_observations, utc
from urbantwin.store.rollups import rollup_rows

URL = "/api/timeseries/datastreams/{}/aggregate"


def aggregate(client: TestClient, datastream: int, **params: Any) -> dict[str, Any]:
    response = client.get(URL.format(datastream), params=params)
    assert response.status_code == 200, response.text
    return response.json()


def values(body: dict[str, Any], *keys: str) -> list[tuple[Any, ...]]:
    return [tuple(bucket[key] for key in ("start", *keys)) for bucket in body["buckets"]]


def test_daily_buckets_computed_by_hand(client: TestClient) -> None:
    ds = create_station(client, "mitte")["datastream"]
    # Berlin is UTC+1 in January: 05:00Z is 06:00 local, 23:30Z on the 1st is 00:30 on the 2nd.
    post_observations(
        client,
        ds,
        [
            (utc(2024, 1, 1, 5), 1.0),
            (utc(2024, 1, 1, 17), 10.0),
            (utc(2024, 1, 1, 23, 30), 4.0),
            (utc(2024, 1, 2, 12), 2.0),
            (utc(2024, 1, 2, 12, 30), "sensor fault"),  # not a number: left out
            (utc(2023, 12, 31, 22, 59), 100.0),  # 23:59 on 31 December: before the window
            (utc(2024, 1, 3, 23), 100.0),  # 00:00 on 4 January: the end is excluded
        ],
    )
    body = aggregate(
        client, ds, interval="day", start="2024-01-01", end="2024-01-04", stats="mean,min,max,count,sum"
    )
    assert body["datastream"]["@iot.id"] == ds and body["unitOfMeasurement"]["symbol"] == "°C"
    assert body["timeZone"] == "Europe/Berlin" and body["interval"] == "day"
    assert body["start"] == "2024-01-01T00:00:00+01:00" and body["end"] == "2024-01-04T00:00:00+01:00"
    assert body["stats"] == ["mean", "min", "max", "count", "sum"]
    assert values(body, "mean", "min", "max", "count", "sum") == [
        ("2024-01-01T00:00:00+01:00", 5.5, 1.0, 10.0, 2, 11.0),
        ("2024-01-02T00:00:00+01:00", 3.0, 2.0, 4.0, 2, 6.0),
        ("2024-01-03T00:00:00+01:00", None, None, None, 0, None),
    ]
    assert body["buckets"][0]["end"] == "2024-01-02T00:00:00+01:00"
    # The same window in UTC moves the 23:30Z value to the 1st.
    utc_body = aggregate(
        client, ds, interval="day", start="2024-01-01", end="2024-01-03", tz="UTC", stats="count"
    )
    assert values(utc_body, "count") == [("2024-01-01T00:00:00+00:00", 3), ("2024-01-02T00:00:00+00:00", 1)]
    # Only the statistics asked for, and all five by default.
    assert set(aggregate(client, ds, interval="day", start="2024-01-01", end="2024-01-02")["buckets"][0]) == {
        "start",
        "end",
        "count",
        "min",
        "max",
        "mean",
        "sum",
    }


def test_berlin_dst_days_have_23_and_25_hourly_values(client: TestClient, engine: Engine) -> None:
    ds = create_station(client, "dst")["datastream"]
    spring = [(utc(2024, 3, 29, 23) + timedelta(hours=h), 1.0) for h in range(24 + 23 + 24)]
    autumn = [(utc(2024, 10, 25, 22) + timedelta(hours=h), float(h)) for h in range(24 + 25 + 24)]
    post_observations(client, ds, spring + autumn)
    body = aggregate(client, ds, interval="day", start="2024-03-30", end="2024-04-02", stats="count,sum")
    assert values(body, "count", "sum") == [
        ("2024-03-30T00:00:00+01:00", 24, 24.0),
        ("2024-03-31T00:00:00+01:00", 23, 23.0),
        ("2024-04-01T00:00:00+02:00", 24, 24.0),
    ]
    body = aggregate(client, ds, interval="day", start="2024-10-26", end="2024-10-29", stats="count,min,max")
    assert values(body, "count", "min", "max") == [
        ("2024-10-26T00:00:00+02:00", 24, 0.0, 23.0),
        ("2024-10-27T00:00:00+02:00", 25, 24.0, 48.0),
        ("2024-10-28T00:00:00+01:00", 24, 49.0, 72.0),
    ]
    # Hour buckets: the hour 02:00 of 27 October is two buckets, one per offset.
    body = aggregate(
        client,
        ds,
        interval="hour",
        start="2024-10-27T01:00:00+02:00",
        end="2024-10-27T04:00:00+01:00",
        stats="max",
    )
    assert values(body, "max") == [
        ("2024-10-27T01:00:00+02:00", 25.0),
        ("2024-10-27T02:00:00+02:00", 26.0),
        ("2024-10-27T02:00:00+01:00", 27.0),
        ("2024-10-27T03:00:00+01:00", 28.0),
    ]
    with engine.connect() as connection:  # Berlin is answered from the hourly rollups
        assert len(rollup_rows(connection, ds)) == len(spring) + len(autumn)


def test_a_zone_off_the_whole_hour(client: TestClient, engine: Engine) -> None:
    ds = create_station(client, "kolkata")["datastream"]
    # Asia/Kolkata is UTC+05:30: 18:29Z is 23:59 on the 1st, 18:31Z 00:01 on the 2nd; the hour
    # 18:00Z–19:00Z is cut by the day boundary and read from the rows, the others from the rollups.
    points = [(utc(2024, 1, 1, 18, 29), 1.0), (utc(2024, 1, 1, 18, 31), 3.0), (utc(2024, 1, 1, 9), 5.0)]
    post_observations(client, ds, points)
    body = aggregate(client, ds, interval="day", start="2024-01-01", end="2024-01-04", tz="Asia/Kolkata")
    assert values(body, "count", "mean") == [
        ("2024-01-01T00:00:00+05:30", 2, 3.0),
        ("2024-01-02T00:00:00+05:30", 1, 3.0),
        ("2024-01-03T00:00:00+05:30", 0, None),
    ]
    with engine.connect() as connection:
        assert len(rollup_rows(connection, ds)) == 2  # every hour is rolled up; the cut one is not used
    # In Berlin all three are on the 1st (10:00, 19:29 and 19:31).
    body = aggregate(client, ds, interval="day", start="2024-01-01", end="2024-01-02", stats="count")
    assert values(body, "count") == [("2024-01-01T00:00:00+01:00", 3)]
    # Hour buckets of Kolkata cut every UTC hour: answered from the rows alone.
    body = aggregate(
        client, ds, interval="hour", start="2024-01-01T23:00", end="2024-01-02T01:00", tz="Asia/Kolkata"
    )
    assert values(body, "count") == [("2024-01-01T23:00:00+05:30", 1), ("2024-01-02T00:00:00+05:30", 1)]


def test_week_month_and_year_boundaries(client: TestClient) -> None:
    ds = create_station(client, "boundaries")["datastream"]
    post_observations(
        client,
        ds,
        [
            (utc(2023, 12, 31, 22, 59), 1.0),  # Sunday 31 December 23:59 local
            (utc(2023, 12, 31, 23, 0), 2.0),  # Monday 1 January 00:00 local
            (utc(2024, 2, 29, 22, 59, 59), 3.0),  # Thursday 29 February 23:59:59
            (utc(2024, 2, 29, 23, 0), 4.0),  # Friday 1 March 00:00
        ],
    )
    weeks = aggregate(client, ds, interval="week", start="2023-12-25", end="2024-01-08", stats="sum")
    assert values(weeks, "sum") == [("2023-12-25T00:00:00+01:00", 1.0), ("2024-01-01T00:00:00+01:00", 2.0)]
    months = aggregate(client, ds, interval="month", start="2023-12-01", end="2024-04-01", stats="sum")
    assert values(months, "sum") == [
        ("2023-12-01T00:00:00+01:00", 1.0),
        ("2024-01-01T00:00:00+01:00", 2.0),
        ("2024-02-01T00:00:00+01:00", 3.0),
        ("2024-03-01T00:00:00+01:00", 4.0),
    ]
    assert months["buckets"][2]["end"] == "2024-03-01T00:00:00+01:00"
    years = aggregate(client, ds, interval="year", start="2023-01-01", end="2025-01-01", stats="count,sum")
    assert values(years, "count", "sum") == [
        ("2023-01-01T00:00:00+01:00", 1, 1.0),
        ("2024-01-01T00:00:00+01:00", 3, 9.0),
    ]
    # A window that starts and ends inside hours: the partial hours come from the Observations.
    cut = aggregate(
        client,
        ds,
        interval="year",
        start="2023-12-31T23:59:00+01:00",
        end="2024-03-01T00:00:00.5+01:00",
        stats="count",
    )
    assert values(cut, "count") == [("2023-01-01T00:00:00+01:00", 1), ("2024-01-01T00:00:00+01:00", 3)]


def test_booleans_count_as_zero_and_one(client: TestClient) -> None:
    ds = create_station(client, "door")["datastream"]
    post_observations(
        client, ds, [(utc(2024, 5, 1, 8), True), (utc(2024, 5, 1, 9), False), (utc(2024, 5, 1, 10), True)]
    )
    body = aggregate(client, ds, interval="day", start="2024-05-01", end="2024-05-02", stats="mean,count")
    assert body["buckets"][0]["mean"] == pytest.approx(2 / 3) and body["buckets"][0]["count"] == 3


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({"start": "2024-01-01", "end": "2024-01-02"}, "interval"),
        ({"interval": "minute", "start": "2024-01-01", "end": "2024-01-02"}, "interval"),
        ({"interval": "day", "end": "2024-01-02"}, "start"),
        ({"interval": "day", "start": "yesterday", "end": "2024-01-02"}, "start"),
        ({"interval": "day", "start": "2024-01-01"}, "end"),
        ({"interval": "day", "start": "2024-01-01", "end": "2024-13-01"}, "end"),
        ({"interval": "day", "start": "2024-01-02", "end": "2024-01-01"}, "end"),
        ({"interval": "day", "start": "2024-01-01", "end": "2024-01-02", "stats": "mean,avg"}, "stats"),
        ({"interval": "day", "start": "2024-01-01", "end": "2024-01-02", "stats": ""}, "stats"),
        ({"interval": "day", "start": "2024-01-01", "end": "2024-01-02", "tz": "Mars/Olympus_Mons"}, "tz"),
        ({"interval": "day", "start": "2024-01-01", "end": "2024-01-02", "tz": "../../etc/passwd"}, "tz"),
        ({"interval": "hour", "start": "2000-01-01", "end": "2030-01-01"}, "interval"),
        ({"interval": "day", "start": "0001-01-01", "end": "2024-01-02"}, "start"),
    ],
)
def test_bad_parameters_are_400s_naming_them(client: TestClient, params: dict[str, str], named: str) -> None:
    ds = create_station(client, "x")["datastream"]
    response = client.get(URL.format(ds), params=params)
    assert response.status_code == 400, response.text
    assert response.json()["message"].startswith(named), response.json()


def test_unknown_datastreams_are_404_and_bad_ids_400(client: TestClient) -> None:
    params = {"interval": "day", "start": "2024-01-01", "end": "2024-01-02"}
    response = client.get(URL.format(987654), params=params)
    assert response.status_code == 404 and "987654" in response.json()["message"]
    response = client.get(URL.format("abc"), params=params)
    assert response.status_code == 400 and "datastream_id" in response.json()["message"]


def test_changes_through_the_sensorthings_api_reach_the_aggregates(client: TestClient) -> None:
    """PATCH and DELETE of Observations invalidate the rollups (a changed value keeps the count, so
    only the invalidation, not the count guard, can notice it)."""
    ds = create_station(client, "edited")["datastream"]
    post_observations(
        client, ds, [(utc(2024, 1, 1, 5), 1.0), (utc(2024, 1, 1, 6), 2.0), (utc(2024, 1, 1, 7), 3.0)]
    )
    params = {"interval": "day", "start": "2024-01-01", "end": "2024-01-02", "stats": "sum,count"}
    assert values(aggregate(client, ds, **params), "sum", "count") == [("2024-01-01T00:00:00+01:00", 6.0, 3)]
    observations = client.get(f"/v1.1/Datastreams({ds})/Observations?$orderby=phenomenonTime").json()["value"]
    response = client.patch(f"/v1.1/Observations({observations[0]['@iot.id']})", json={"result": 10.0})
    assert response.status_code == 200, response.text
    assert values(aggregate(client, ds, **params), "sum", "count") == [("2024-01-01T00:00:00+01:00", 15.0, 3)]
    assert client.delete(f"/v1.1/Observations({observations[2]['@iot.id']})").status_code == 200
    assert values(aggregate(client, ds, **params), "sum", "count") == [("2024-01-01T00:00:00+01:00", 12.0, 2)]
