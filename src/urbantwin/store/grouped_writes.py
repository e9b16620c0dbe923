"""The statements of a group of single Observations committed together (`sensorthings/posts.py`).

A group is small (the requests that arrived while the one before was committing) and frequent, so
what each statement costs the server process matters more than anywhere else. On PostgreSQL each is
a fixed text over arrays (`unnest`, `= ANY`), whatever the number of rows: psycopg prepares it once
per connection, and no statement is compiled or its parameters processed by SQLAlchemy per call
(that was most of the CPU of a single POST). On SQLite, embedded and without round trips, they are
SQLAlchemy Core statements as everywhere else.

Every function runs on the group's connection, inside its transaction (which SQLAlchemy begins
and commits, so the events others listen to — the live updates' `CommitBound` — see it as any).
"""

from __future__ import annotations

from datetime import UTC
from typing import Any

import orjson
from sqlalchemy import Connection, insert, select

from urbantwin.store.access_schema import audit_log
from urbantwin.store.schema import datastreams, observations

#: The columns of an Observation row, with their PostgreSQL types (the id comes from its sequence).
_OBSERVATION_COLUMNS = (
    ("phenomenon_time_start", "timestamptz"),
    ("phenomenon_time_end", "timestamptz"),
    ("result_time", "timestamptz"),
    ("result_type", "smallint"),
    ("result_number", "float8"),
    ("result_string", "text"),
    ("result_json", "jsonb"),
    ("result_quality", "jsonb"),
    ("valid_time_start", "timestamptz"),
    ("valid_time_end", "timestamptz"),
    ("parameters", "jsonb"),
    ("datastream_id", "bigint"),
    ("feature_of_interest_id", "bigint"),
)
_NAMES = ", ".join(name for name, _ in _OBSERVATION_COLUMNS)
_AUDIT_COLUMNS = (
    ("time", "timestamptz"),
    ("principal", "text"),
    ("user_id", "bigint"),
    ("action", "text"),
    ("api", "text"),
    ("dataset_id", "text"),
    ("target", "text"),
    ("status", "int"),
)
_AUDIT_NAMES = ", ".join(name for name, _ in _AUDIT_COLUMNS)
#: The Observations and their audit records in one statement (one round trip), each given as a JSON
#: array of objects (one parameter each: psycopg dumps a string, not an array per column). A key left
#: out is SQL NULL; a JSON column given as null holds JSON null (`->` keeps it), as SQLAlchemy's JSON
#: type stores None. The rows go in in the order given (`position`), so their ids, taken from the
#: sequence as they go in, are in that order.
_INSERT = (
    f"WITH stored AS (INSERT INTO observations ({_NAMES}) SELECT "
    + ", ".join(
        f"given.row -> '{name}'" if kind == "jsonb" else f"(given.row ->> '{name}')::{kind}"
        for name, kind in _OBSERVATION_COLUMNS
    )
    + " FROM jsonb_array_elements(%s::jsonb) WITH ORDINALITY AS given(row, position) ORDER BY position "
    f"RETURNING id, {_NAMES}), "
    f"audited AS (INSERT INTO audit_log ({_AUDIT_NAMES}) SELECT "
    + ", ".join(f"(record ->> '{name}')::{kind}" for name, kind in _AUDIT_COLUMNS)
    + " FROM jsonb_array_elements(%s::jsonb) AS record) SELECT * FROM stored"
)

_DATASETS = "SELECT id, dataset_id FROM datastreams WHERE id = ANY(%s::bigint[])"


def datastream_datasets(connection: Connection, ids: list[int]) -> dict[int, str | None]:
    """The dataset of each of the Datastreams `ids` that exists."""
    if connection.dialect.name == "postgresql":
        with _cursor(connection) as cursor:
            cursor.execute(_DATASETS, (ids,))
            return dict(cursor.fetchall())
    query = select(datastreams.c.id, datastreams.c.dataset_id).where(datastreams.c.id.in_(ids))
    return {ident: dataset for ident, dataset in connection.execute(query)}


def insert_observations(
    connection: Connection, rows: list[dict[str, Any]], audit_records: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Insert Observations (column values by name; a column left out stays SQL NULL) and the audit
    records of their writes (every column given); return each stored Observation with its id, in the
    order given, as a read of the row gives it."""
    if not rows:
        return []
    if connection.dialect.name != "postgresql":
        stored = _sqlite_observations(connection, rows)
        if audit_records:
            connection.execute(insert(audit_log), audit_records)
        return stored
    with _cursor(connection) as cursor:
        cursor.execute(_INSERT, (_json(rows), _json(audit_records)))
        stored = cursor.fetchall()
    # The ids were taken in the order of insertion, which is the order given.
    stored.sort(key=lambda values: values[0])
    names = ("id", *(name for name, _ in _OBSERVATION_COLUMNS))
    out = []
    for values in stored:
        row = dict(zip(names, values, strict=True))
        for name, kind in _OBSERVATION_COLUMNS:
            if kind == "timestamptz" and row[name] is not None:
                row[name] = row[name].astimezone(UTC)
        out.append(row)
    return out


def _sqlite_observations(connection: Connection, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    columns = [c for c in observations.c if c.name != "geom"]
    out = []
    for row in rows:
        stored = connection.execute(insert(observations).values(**row).returning(*columns)).mappings().one()
        out.append(dict(stored))
    return out


def _cursor(connection: Connection) -> Any:
    """A cursor of the connection's driver (psycopg), inside the transaction SQLAlchemy began."""
    return connection.connection.driver_connection.cursor()  # type: ignore[union-attr]


def _json(rows: list[dict[str, Any]]) -> str:
    """Rows as a JSON array; times with their offset (UTC when they have none, as `UtcTime` binds
    them), numbers in the shortest form that reads back as the same double."""
    return orjson.dumps(rows, option=orjson.OPT_NAIVE_UTC).decode()
