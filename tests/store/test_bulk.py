"""The bulk insert of Observations stores every column as given, whichever way the rows go in, and
keeps PostgreSQL's statistics of the table current after a large load."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select, text

from urbantwin.store import schema
from urbantwin.store.bulk import OBSERVATION_COLUMNS, insert_observations

T0 = datetime(2024, 3, 1, 12, tzinfo=UTC)


def _datastream_and_feature(client: TestClient) -> tuple[int, int]:
    """A Datastream and a FeatureOfInterest made through the API (what the rows refer to)."""
    thing = {
        "name": "bulk",
        "description": "d",
        "Datastreams": [
            {
                "name": "ds",
                "description": "d",
                "observationType": "OM_Measurement",
                "unitOfMeasurement": {"name": "n", "symbol": "s", "definition": "d"},
                "Sensor": {"name": "s", "description": "d", "encodingType": "text/plain", "metadata": "m"},
                "ObservedProperty": {"name": "p", "definition": "d", "description": "d"},
            }
        ],
    }
    response = client.post("/v1.1/Things", json=thing)
    assert response.status_code == 201, response.text
    datastream = client.get(f"/v1.1/Things({response.json()['@iot.id']})/Datastreams").json()["value"][0]
    feature = {
        "name": "f",
        "description": "d",
        "encodingType": "application/geo+json",
        "feature": {"type": "Point", "coordinates": [12.3, 51.3]},
    }
    response = client.post("/v1.1/FeaturesOfInterest", json=feature)
    assert response.status_code == 201, response.text
    return datastream["@iot.id"], response.json()["@iot.id"]


def _minute_series(datastream: int, feature: int, count: int) -> dict[str, list[Any]]:
    """The columns of `count` numeric Observations one minute apart, from T0: a large load."""
    return {
        "phenomenon_time_start": [T0 + timedelta(minutes=i) for i in range(count)],
        "result_type": [0] * count,
        "result_number": [1.0] * count,
        "datastream_id": [datastream] * count,
        "feature_of_interest_id": [feature] * count,
    }


def _stored(engine: Engine, ids: list[int]) -> list[tuple[Any, ...]]:
    table = schema.observations
    with engine.connect() as connection:
        rows = connection.execute(
            select(*(table.c[name] for name in OBSERVATION_COLUMNS))
            .where(table.c.id.in_(ids))
            .order_by(table.c.id)
        ).all()
    return [tuple(row) for row in rows]


@pytest.mark.parametrize(
    "rows",
    [
        # numbers at instants, each column null in every row or in none (one binary buffer)
        [
            (T0, None, T0 + timedelta(seconds=1), 0, 1.5, None, None, None, None, None, None),
            (T0 + timedelta(microseconds=7), None, T0, 5, -3.0, None, None, None, None, None, None),
        ],
        # a column null in some rows only, text and JSON (psycopg's rows)
        [
            (T0, T0 + timedelta(hours=1), None, 1, None, "text", None, {"q": 1}, T0, T0, {"p": [1]}),
            (T0, None, T0, 3, None, None, {"a": [1, None]}, None, None, None, None),
            (T0, None, None, 2, 1.0, None, None, None, None, None, None),
        ],
    ],
    ids=["fixed-width", "mixed"],
)
def test_bulk_rows_are_stored_as_given(
    client: TestClient, engine: Engine, rows: list[tuple[Any, ...]]
) -> None:
    datastream, feature = _datastream_and_feature(client)
    full = [(*row, datastream, feature) for row in rows]
    columns = {name: [row[i] for row in full] for i, name in enumerate(OBSERVATION_COLUMNS)}
    with engine.begin() as connection:
        ids = insert_observations(connection, columns)
    assert len(ids) == len(rows) and ids == sorted(ids)
    assert _stored(engine, ids) == full


def test_a_column_left_out_is_null(client: TestClient, engine: Engine) -> None:
    datastream, feature = _datastream_and_feature(client)
    columns = {
        "phenomenon_time_start": [T0],
        "result_type": [0],
        "result_number": [2.5],
        "datastream_id": [datastream],
        "feature_of_interest_id": [feature],
    }
    with engine.begin() as connection:
        ids = insert_observations(connection, columns)
    expected = (T0, None, None, 0, 2.5, None, None, None, None, None, None, datastream, feature)
    assert _stored(engine, ids) == [expected]


def test_a_large_load_leaves_the_planner_statistics_of_its_rows(
    client: TestClient, engine: Engine, backend: str
) -> None:
    """Without statistics (a new database on a cluster without autovacuum) the planner sorts a whole
    Datastream for its newest page instead of walking the index backwards."""
    if backend != "postgresql":
        pytest.skip("statistics are PostgreSQL's")
    datastream, feature = _datastream_and_feature(client)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("VACUUM ANALYZE observations"))  # statistics of an empty table
    count = 5000
    columns = {
        "phenomenon_time_start": [T0 + timedelta(minutes=i) for i in range(count)],
        "result_type": [0] * count,
        "result_number": [float(i % 50) for i in range(count)],
        "datastream_id": [datastream] * count,
        "feature_of_interest_id": [feature] * count,
    }
    with engine.begin() as connection:
        insert_observations(connection, columns)
    with engine.connect() as connection:
        tuples = connection.execute(
            text("SELECT reltuples FROM pg_class WHERE oid = 'observations'::regclass")
        ).scalar_one()
        # Who else held a lock on the table, should the statistics be missing (the load skips when
        # another transaction holds the lock ANALYZE needs for longer than it waits).
        holders = connection.execute(
            text(
                "SELECT a.pid, l.mode, a.state, left(a.query, 120) FROM pg_locks l "
                "JOIN pg_stat_activity a ON a.pid = l.pid "
                "WHERE l.relation = 'observations'::regclass AND a.pid <> pg_backend_pid()"
            )
        ).all()
    assert tuples == count, f"other holders of locks on observations: {holders}"


def test_a_load_does_not_wait_for_another_transaction_analysing_the_table(
    client: TestClient, engine: Engine, backend: str
) -> None:
    """ANALYZE holds its lock until its transaction ends; a second load waits for it half a second
    at most, then skips it (two loads waiting on each other's locks could deadlock), and leaves the
    transaction's own lock timeout as it was."""
    if backend != "postgresql":
        pytest.skip("statistics are PostgreSQL's")
    datastream, feature = _datastream_and_feature(client)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("VACUUM ANALYZE observations"))
    count = 5000
    columns = _minute_series(datastream, feature, count)
    with engine.connect() as holder:
        holder.begin()
        holder.execute(text("LOCK TABLE observations IN SHARE UPDATE EXCLUSIVE MODE"))
        with engine.begin() as connection:
            connection.execute(text("SET LOCAL lock_timeout = '5s'"))  # a wait would fail here
            ids = insert_observations(connection, columns)
            assert connection.execute(text("SHOW lock_timeout")).scalar_one() == "5s"
        holder.rollback()
    assert len(ids) == count
    with engine.connect() as connection:
        tuples = connection.execute(
            text("SELECT reltuples FROM pg_class WHERE oid = 'observations'::regclass")
        ).scalar_one()
    assert tuples == 0  # skipped: the next large load analyses it


def test_a_database_user_who_may_only_insert_loads_without_analysing(
    client: TestClient, engine: Engine, backend: str
) -> None:
    """Locking the table for ANALYZE needs more than INSERT: such a user's load skips the statistics
    instead of failing."""
    if backend != "postgresql":
        pytest.skip("statistics are PostgreSQL's")
    datastream, feature = _datastream_and_feature(client)
    role = f"urbantwin_inserter_{uuid.uuid4().hex[:8]}"
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("VACUUM ANALYZE observations"))
        connection.execute(text(f"CREATE ROLE {role}"))
        connection.execute(text(f"GRANT SELECT, INSERT ON observations TO {role}"))
        connection.execute(text(f"GRANT SELECT, INSERT, UPDATE ON observation_counts TO {role}"))
        connection.execute(text(f"GRANT USAGE ON SEQUENCE observations_id_seq TO {role}"))
    count = 5000
    columns = _minute_series(datastream, feature, count)
    try:
        with engine.begin() as connection:
            connection.execute(text(f"SET LOCAL ROLE {role}"))
            ids = insert_observations(connection, columns)
        assert len(ids) == count
    finally:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text(f"DROP OWNED BY {role}"))
            connection.execute(text(f"DROP ROLE {role}"))


def test_bulk_columns_of_numpy_arrays_are_stored_as_given(client: TestClient, engine: Engine) -> None:
    """The dataArray path's form: times as datetime64 (NaT null), numbers as floats (NaN null), ids
    as integers; rows of several patterns of null columns, and one with text among them."""
    datastream, feature = _datastream_and_feature(client)
    moments = [T0, T0 + timedelta(seconds=1), T0 + timedelta(microseconds=3), T0 + timedelta(days=400)]
    micros = np.array([int((m - datetime(1970, 1, 1, tzinfo=UTC)).total_seconds()) * 10**6 for m in moments])
    micros[2] += 3
    ends = micros.astype("datetime64[us]")
    ends[[0, 3]] = np.datetime64("NaT")
    columns = {
        "phenomenon_time_start": micros.astype("datetime64[us]"),
        "phenomenon_time_end": ends,
        "result_type": np.array([0, 0, 4, 1], np.int16),
        "result_number": np.array([1.5, -2.0, np.nan, np.nan]),
        "result_string": [None, None, None, "text"],
        "parameters": None,
        "datastream_id": np.full(4, datastream, np.int64),
        "feature_of_interest_id": np.full(4, feature, np.int64),
    }
    with engine.begin() as connection:
        ids = insert_observations(connection, columns)
    nothing = (None, None, None, None, None)
    assert _stored(engine, ids) == [
        (moments[0], None, None, 0, 1.5, None, *nothing, datastream, feature),
        (moments[1], moments[1], None, 0, -2.0, None, *nothing, datastream, feature),
        (moments[2], moments[2], None, 4, None, None, *nothing, datastream, feature),
        (moments[3], None, None, 1, None, "text", *nothing, datastream, feature),
    ]
