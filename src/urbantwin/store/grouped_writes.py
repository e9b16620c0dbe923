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

from datetime import UTC, datetime
from typing import Any

from psycopg.types.json import Jsonb
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
_INSERT_OBSERVATIONS = (
    f"INSERT INTO observations ({_NAMES}) "
    f"SELECT {_NAMES} FROM unnest("
    + ", ".join(f"%s::{kind}[]" for _, kind in _OBSERVATION_COLUMNS)
    + f") WITH ORDINALITY AS given({_NAMES}, position) ORDER BY position "
    f"RETURNING id, {_NAMES}"
)

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
_INSERT_AUDIT = (
    f"INSERT INTO audit_log ({', '.join(name for name, _ in _AUDIT_COLUMNS)}) SELECT * FROM unnest("
    + ", ".join(f"%s::{kind}[]" for _, kind in _AUDIT_COLUMNS)
    + ")"
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


def insert_observations(connection: Connection, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Insert Observations (column values by name; a column left out stays SQL NULL) and return
    each stored row with its id, in the order given, as a read of the row gives it."""
    if not rows:
        return []
    if connection.dialect.name != "postgresql":
        return _sqlite_observations(connection, rows)
    arrays: list[list[Any]] = []
    for name, kind in _OBSERVATION_COLUMNS:
        if kind == "jsonb":
            # A JSON column given as None holds JSON null, one left out SQL NULL: as SQLAlchemy's JSON.
            arrays.append([Jsonb(row[name]) if name in row else None for row in rows])
        elif kind == "timestamptz":
            arrays.append([_aware(row.get(name)) for row in rows])
        else:
            arrays.append([row.get(name) for row in rows])
    with _cursor(connection) as cursor:
        cursor.execute(_INSERT_OBSERVATIONS, arrays)
        stored = cursor.fetchall()
    # The ids are taken in the order of insertion, which is the order given.
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


def insert_audit_records(connection: Connection, records: list[dict[str, Any]]) -> None:
    """Insert rows of the audit log (values by column name, all given)."""
    if not records:
        return
    if connection.dialect.name != "postgresql":
        connection.execute(insert(audit_log), records)
        return
    arrays = [
        [_aware(record[name]) if kind == "timestamptz" else record[name] for record in records]
        for name, kind in _AUDIT_COLUMNS
    ]
    with _cursor(connection) as cursor:
        cursor.execute(_INSERT_AUDIT, arrays)


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


def _aware(value: datetime | None) -> datetime | None:
    """Times without an offset are UTC (as `store.types.UtcTime` binds them)."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value
