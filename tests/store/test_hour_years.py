"""The rollups packed a UTC year per row (store/hour_years.py): written by every merge, changed by a
late Observation, emptied and rebuilt when an Observation is deleted, equal to a rebuild from the
rollups whatever came in between, and read back by `store.hourly` across a year's end."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from tests.timeseries.helpers import add_observations, create_station, new_datastream, post_observations, utc
from urbantwin.store import hour_years, rollups
from urbantwin.store.engine import for_writes
from urbantwin.store.hourly import hourly
from urbantwin.store.schema import datastreams, observations
from urbantwin.store.timeseries_schema import (
    observation_hour_years,
    observation_rollup_state,
    observation_rollups,
)
from urbantwin.store.types import to_micros

NEW_YEAR = utc(2024, 1, 1)
HOUR = timedelta(hours=1)


def year_rows(engine: Engine, datastream: int) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """The Datastream's year rows as (counts, sums) by year."""
    with engine.connect() as connection:
        rows = hour_years.read(connection, [datastream], 1970, 2100)
        return {row.year: (row.counts.copy(), row.sums.copy()) for row in rows}


def expected(points: list[tuple[datetime, float]]) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """The year rows by plain Python: per UTC year and hour, the count and sum of the values."""
    out: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    for moment, value in points:
        year = moment.year
        if year not in out:
            size = hour_years.hours_in(year)
            out[year] = (np.zeros(size, "int32"), np.zeros(size, "float64"))
        index = (to_micros(moment) - hour_years.year_start(year)) // hour_years.HOUR_MICROS
        out[year][0][index] += 1
        out[year][1][index] += value
    return out


def assert_rows(
    actual: dict[int, tuple[np.ndarray, np.ndarray]], want: dict[int, tuple[np.ndarray, np.ndarray]]
) -> None:
    assert sorted(actual) == sorted(want)
    for year, (counts, sums) in want.items():
        np.testing.assert_array_equal(actual[year][0], counts)
        np.testing.assert_allclose(actual[year][1], sums, rtol=1e-12)


#: Values around the turn of 2023 to 2024 (a leap year): two in one hour, and an hour apart.
POINTS = [
    (NEW_YEAR - timedelta(minutes=50), 4.0),
    (NEW_YEAR - timedelta(minutes=10), 6.0),
    (NEW_YEAR + timedelta(minutes=5), 1.5),
    (NEW_YEAR + 2 * HOUR, 3.25),
    (utc(2023, 3, 1, 12, 30), 10.0),
]


def test_a_merge_writes_the_year_rows_of_its_hours(client: TestClient, engine: Engine) -> None:
    stream = create_station(client, "A")["datastream"]
    post_observations(client, stream, POINTS)
    assert year_rows(engine, stream) == {}  # rollups and year rows are filled lazily
    rollups.warm(engine, [stream])
    rows = year_rows(engine, stream)
    assert [len(rows[2023][0]), len(rows[2024][0])] == [8760, 8784]
    assert_rows(rows, expected(POINTS))
    assert rows[2023][0][-1] == 2 and rows[2023][1][-1] == 10.0  # the last hour of 2023 holds two


def test_a_late_observation_changes_its_hour_of_the_year_row(client: TestClient, engine: Engine) -> None:
    stream = create_station(client, "A")["datastream"]
    post_observations(client, stream, POINTS)
    rollups.warm(engine, [stream])
    late = [(utc(2023, 3, 1, 12, 45), 20.0), (utc(2023, 7, 1, 0, 0), 1.0)]
    post_observations(client, stream, late)
    rollups.warm(engine, [stream])  # an incremental merge of the two new Observations
    rows = year_rows(engine, stream)
    assert_rows(rows, expected(POINTS + late))
    march = (to_micros(utc(2023, 3, 1, 12)) - hour_years.year_start(2023)) // hour_years.HOUR_MICROS
    assert (rows[2023][0][march], rows[2023][1][march]) == (2, 30.0)


def test_a_deleted_observation_leaves_its_hour(client: TestClient, engine: Engine) -> None:
    stream = create_station(client, "A")["datastream"]
    post_observations(client, stream, POINTS)
    rollups.warm(engine, [stream])
    listed = client.get(f"/v1.1/Datastreams({stream})/Observations?$orderby=phenomenonTime&$top=1").json()
    first = listed["value"][0]
    assert client.delete(f"/v1.1/Observations({first['@iot.id']})").status_code == 200
    assert year_rows(engine, stream) == {}  # gone with the rollups, in the delete's transaction
    rollups.warm(engine, [stream])
    assert_rows(year_rows(engine, stream), expected(sorted(POINTS)[1:]))
    # and once its last Observation is deleted, a year has no row at all
    for point in client.get(f"/v1.1/Datastreams({stream})/Observations").json()["value"]:
        if point["phenomenonTime"].startswith("2023-03"):
            assert client.delete(f"/v1.1/Observations({point['@iot.id']})").status_code == 200
    rollups.warm(engine, [stream])
    assert_rows(year_rows(engine, stream), expected([p for p in sorted(POINTS)[1:] if p[0].month != 3]))


def test_a_rebuild_from_the_rollups_equals_the_incremental_rows(client: TestClient, engine: Engine) -> None:
    stream = create_station(client, "A")["datastream"]
    rng = np.random.default_rng(9)
    points = [
        (utc(2023, 1, 1) + timedelta(minutes=int(m)), float(v))
        for m, v in zip(
            rng.integers(0, 2 * 365 * 24 * 60, 300), np.round(rng.normal(20, 5, 300), 3), strict=True
        )
    ]
    for low in range(0, 300, 60):  # five merges, each adding to hours merged before
        post_observations(client, stream, points[low : low + 60])
        rollups.warm(engine, [stream])
    incremental = year_rows(engine, stream)
    assert_rows(incremental, expected(points))
    with for_writes(engine).begin() as connection:
        assert hour_years.rebuild(connection, [stream]) == 2
    rebuilt = year_rows(engine, stream)
    for year in incremental:  # bit for bit: the rows hold what the rollups hold
        assert rebuilt[year][0].tobytes() == incremental[year][0].tobytes()
        assert rebuilt[year][1].tobytes() == incremental[year][1].tobytes()


def test_deleting_the_datastream_deletes_its_rows(engine: Engine) -> None:
    stream, feature = new_datastream(engine)
    add_observations(engine, stream, feature, POINTS)
    rollups.warm(engine, [stream])
    assert sorted(year_rows(engine, stream)) == [2023, 2024]
    with for_writes(engine).begin() as connection:
        connection.execute(datastreams.delete().where(datastreams.c.id == stream))
    with engine.connect() as connection:
        assert connection.execute(select(observation_hour_years)).all() == []


def test_hourly_reads_a_window_across_the_years_end(engine: Engine) -> None:
    stream, feature = new_datastream(engine)
    add_observations(engine, stream, feature, POINTS)
    start, end = NEW_YEAR - 3 * HOUR, NEW_YEAR + 3 * HOUR
    micros, counts, sums = hourly(engine, [stream], start, end).of(stream)
    hours = [NEW_YEAR - HOUR, NEW_YEAR, NEW_YEAR + 2 * HOUR]
    assert micros.tolist() == [to_micros(h) for h in hours]
    assert counts.tolist() == [2, 1, 1]
    assert sums.tolist() == [10.0, 1.5, 3.25]
    # the window's first and last hours, exclusive end
    micros, _, _ = hourly(engine, [stream], NEW_YEAR, NEW_YEAR + 2 * HOUR).of(stream)
    assert micros.tolist() == [to_micros(NEW_YEAR)]


def test_patch_refuses_what_the_rows_cannot_hold(engine: Engine) -> None:
    stream, _ = new_datastream(engine)
    hour = np.array([to_micros(NEW_YEAR)], "int64")
    with for_writes(engine).begin() as connection:
        with pytest.raises(OverflowError, match="int32"):
            hour_years.patch(connection, stream, hour, np.array([2**31], "int64"), np.array([1.0]))
        with pytest.raises(ValueError, match="whole UTC hours"):
            hour_years.patch(connection, stream, hour + 1, np.array([1], "int64"), np.array([1.0]))


def test_rollups_emptied_by_hand_take_their_year_rows_along(engine: Engine) -> None:
    """docs/timeseries.md allows emptying the rollup tables by hand after changing Observations by
    SQL: the next merge starts from nothing, and no year row keeps an hour that is gone."""
    stream, feature = new_datastream(engine)
    ids = add_observations(engine, stream, feature, POINTS)
    rollups.warm(engine, [stream])
    with for_writes(engine).begin() as connection:
        connection.execute(observations.delete().where(observations.c.id == ids[-1]))  # March
        connection.execute(observation_rollups.delete())
        connection.execute(observation_rollup_state.delete())
    rollups.warm(engine, [stream])
    assert_rows(year_rows(engine, stream), expected(POINTS[:-1]))
