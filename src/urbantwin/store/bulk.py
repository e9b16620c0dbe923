"""Bulk insert of Observations: `COPY` on PostgreSQL, one `executemany` on SQLite.

The ids are taken before the rows are written (from the sequence on PostgreSQL; above the largest
id on SQLite, whose writer holds the database's write lock), so the caller learns the id of every
row, in order, without a RETURNING per row.
"""

from __future__ import annotations

from typing import Any

import orjson
from psycopg.types.json import Jsonb
from sqlalchemy import Connection

from urbantwin.store.types import to_micros

#: The columns of a bulk row, in order (the id is added here).
OBSERVATION_COLUMNS = (
    "phenomenon_time_start",
    "phenomenon_time_end",
    "result_time",
    "result_type",
    "result_number",
    "result_string",
    "result_json",
    "result_quality",
    "valid_time_start",
    "valid_time_end",
    "parameters",
    "datastream_id",
    "feature_of_interest_id",
)
_TIMES = (0, 1, 2, 8, 9)
_JSONS = (6, 7, 10)


def insert_observations(connection: Connection, rows: list[tuple[Any, ...]]) -> list[int]:
    """Insert rows (values in `OBSERVATION_COLUMNS` order) and return their new ids, in order."""
    if not rows:
        return []
    if connection.dialect.name == "postgresql":
        return _postgresql(connection, rows)
    return _sqlite(connection, rows)


def _postgresql(connection: Connection, rows: list[tuple[Any, ...]]) -> list[int]:
    raw: Any = connection.connection.driver_connection
    with raw.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence('observations', 'id')) FROM generate_series(1, %s)",
            (len(rows),),
        )
        ids = [r[0] for r in cursor.fetchall()]
        columns = ", ".join(("id", *OBSERVATION_COLUMNS))
        with cursor.copy(f"COPY observations ({columns}) FROM STDIN") as copy:
            for ident, row in zip(ids, rows, strict=True):
                values = list(row)
                for index in _JSONS:
                    if values[index] is not None:
                        values[index] = Jsonb(values[index])
                copy.write_row((ident, *values))
    return ids


def _sqlite(connection: Connection, rows: list[tuple[Any, ...]]) -> list[int]:
    raw: Any = connection.connection.driver_connection
    cursor = raw.cursor()
    try:
        start = cursor.execute("SELECT coalesce(max(id), 0) FROM observations").fetchone()[0] + 1
        prepared = []
        for offset, row in enumerate(rows):
            values = list(row)
            for index in _TIMES:
                if values[index] is not None:
                    values[index] = to_micros(values[index])
            for index in _JSONS:
                if values[index] is not None:
                    values[index] = orjson.dumps(values[index]).decode()
            prepared.append((start + offset, *values))
        placeholders = ", ".join("?" * (len(OBSERVATION_COLUMNS) + 1))
        columns = ", ".join(("id", *OBSERVATION_COLUMNS))
        cursor.executemany(f"INSERT INTO observations ({columns}) VALUES ({placeholders})", prepared)
    finally:
        cursor.close()
    return list(range(start, start + len(rows)))
