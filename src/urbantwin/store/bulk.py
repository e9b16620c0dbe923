"""Bulk insert of Observations: `COPY` on PostgreSQL, one `executemany` on SQLite.

The rows come column by column (`ObservationColumns`): the dataArray path checks a block's values a
column at a time, and the common block (numbers at instants, no text or JSON) goes to PostgreSQL as
one `COPY … (FORMAT binary)` buffer that numpy lays out for all rows at once, with no Python work
per row; other rows take psycopg's per-row `COPY`.

The ids are taken before the rows are written (from the sequence on PostgreSQL; above the largest
id on SQLite, whose writer holds the database's write lock), so the caller learns the id of every
row, in order, without a RETURNING per row.

A large load leaves the planner's statistics of `observations` behind (and a new database, on a
cluster without autovacuum, has none at all): it then sorts a whole Datastream's rows for its newest
page instead of walking the (datastream, time, id) index backwards. So after a bulk insert that grew
the table by a good share since its statistics were taken, the table is `ANALYZE`d in the same
transaction, unless another transaction is analysing it (see `_keep_statistics`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import orjson
from psycopg.errors import InsufficientPrivilege, LockNotAvailable
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
_TIMES = ("phenomenon_time_start", "phenomenon_time_end", "result_time", "valid_time_start", "valid_time_end")
_JSONS = ("result_json", "result_quality", "parameters")
#: Columns of variable width (text, JSON): a row with any of them goes through psycopg's row writer.
_VARIABLE = ("result_string", *_JSONS)

#: Values of a batch by column name (`OBSERVATION_COLUMNS`), every list of one length; a column
#: left out is null in every row.
ObservationColumns = Mapping[str, Sequence[Any]]

#: The binary COPY type of each fixed-width column, as numpy lays it out (big-endian).
_BINARY = {
    "id": ">i8",
    "phenomenon_time_start": ">i8",
    "phenomenon_time_end": ">i8",
    "result_time": ">i8",
    "result_type": ">i2",
    "result_number": ">f8",
    "valid_time_start": ">i8",
    "valid_time_end": ">i8",
    "datastream_id": ">i8",
    "feature_of_interest_id": ">i8",
}
_PG_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_SIGNATURE = b"PGCOPY\n\xff\r\n\x00" + bytes(8)  # the signature, no flags, no header extension
_TRAILER = b"\xff\xff"

#: ANALYZE after a bulk insert once the table has this many times the pages its statistics saw
#: (plus `_SLACK_PAGES`): statistics stay within a factor of the truth, and a load from nothing
#: analyses a logarithmic number of times, each cheap while the table is small.
_GROWTH = 1.5
_SLACK_PAGES = 16
#: How long a bulk insert waits for the lock that its ANALYZE needs (ms) before it skips.
_LOCK_WAIT_MS = 500


def insert_observations(connection: Connection, columns: ObservationColumns) -> list[int]:
    """Insert the rows of `columns` and return their new ids, in row order."""
    count = _length(columns)
    if not count:
        return []
    if connection.dialect.name == "postgresql":
        return _postgresql(connection, columns, count)
    return _sqlite(connection, columns, count)


def _length(columns: ObservationColumns) -> int:
    lengths = {len(values) for values in columns.values()}
    if len(lengths) > 1:
        raise ValueError("every column of a bulk insert must have the same length")
    return lengths.pop() if lengths else 0


def _column(columns: ObservationColumns, name: str, count: int) -> Sequence[Any]:
    values = columns.get(name)
    return [None] * count if values is None else values


def _postgresql(connection: Connection, columns: ObservationColumns, count: int) -> list[int]:
    raw: Any = connection.connection.driver_connection
    with raw.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence('observations', 'id')) FROM generate_series(1, %s)",
            (count,),
        )
        ids = [r[0] for r in cursor.fetchall()]
        full = {"id": ids, **{name: _column(columns, name, count) for name in OBSERVATION_COLUMNS}}
        fixed = _fixed_layout(full, count)
        if fixed is not None:
            names, buffer = fixed
            with cursor.copy(f"COPY observations ({', '.join(names)}) FROM STDIN (FORMAT binary)") as copy:
                copy.write(buffer)
        else:
            names = ("id", *OBSERVATION_COLUMNS)
            jsons = [names.index(name) for name in _JSONS]
            with cursor.copy(f"COPY observations ({', '.join(names)}) FROM STDIN") as copy:
                for row in zip(*(full[name] for name in names), strict=True):
                    values = list(row)
                    for index in jsons:
                        if values[index] is not None:
                            values[index] = Jsonb(values[index])
                    copy.write_row(values)
        _keep_statistics(cursor)
    return ids


def _fixed_layout(full: dict[str, Sequence[Any]], count: int) -> tuple[tuple[str, ...], bytes] | None:
    """The rows as one binary COPY buffer, laid out by numpy, when every row has the same shape:
    no text or JSON, and each column null in every row or in none. None otherwise."""
    if any(_nulls(full[name]) != count for name in _VARIABLE):
        return None
    names: list[str] = []
    for name in _BINARY:
        nulls = _nulls(full[name])
        if nulls == 0:
            names.append(name)
        elif nulls != count:
            return None
    layout = [("fields", ">i2")]
    for name in names:
        layout += [(f"{name}_length", ">i4"), (name, _BINARY[name])]
    rows = np.empty(count, dtype=np.dtype(layout))
    rows["fields"] = len(names)
    for name in names:
        kind = _BINARY[name]
        rows[f"{name}_length"] = np.dtype(kind).itemsize
        values = full[name]
        if name in _TIMES:
            values = [(moment - _PG_EPOCH) // _MICROSECOND for moment in values]
        rows[name] = np.asarray(values, dtype=kind[1:])
    return tuple(names), _SIGNATURE + rows.tobytes() + _TRAILER


def _nulls(values: Sequence[Any]) -> int:
    return values.count(None)


def _keep_statistics(cursor: Any) -> None:
    """ANALYZE observations when it has grown well beyond what its statistics saw (never analysed:
    `reltuples` is -1). One catalogue lookup per bulk insert.

    ANALYZE sees the rows of this transaction, and holds the table's SHARE UPDATE EXCLUSIVE lock
    until the transaction ends: so the lock is taken first, waiting at most `_LOCK_WAIT_MS` (less
    than PostgreSQL's default deadlock_timeout of 1 s, so two such loads waiting on each other give
    up by themselves before a deadlock is even looked for), and when another transaction holds it
    longer (analysing too, or a VACUUM) this one skips. A database user who may not lock or analyse
    the table skips it (ANALYZE itself answers a non-owner with a warning, not an error).
    """
    cursor.execute(
        "SELECT relpages, reltuples, pg_relation_size(oid) / current_setting('block_size')::int "
        "FROM pg_class WHERE oid = 'observations'::regclass"
    )
    seen_pages, tuples, pages = cursor.fetchone()
    if pages <= (seen_pages if tuples >= 0 else 0) * _GROWTH + _SLACK_PAGES:
        return
    cursor.execute("SELECT current_setting('lock_timeout')")
    (previous_wait,) = cursor.fetchone()
    cursor.execute("SAVEPOINT urbantwin_statistics")
    try:
        cursor.execute(f"SET LOCAL lock_timeout = {_LOCK_WAIT_MS}")
        cursor.execute("LOCK TABLE observations IN SHARE UPDATE EXCLUSIVE MODE")
    except (LockNotAvailable, InsufficientPrivilege):  # the lock needs UPDATE on the table
        cursor.execute("ROLLBACK TO SAVEPOINT urbantwin_statistics")
    else:
        cursor.execute("ANALYZE observations")
    cursor.execute("RELEASE SAVEPOINT urbantwin_statistics")
    # The rest of the transaction waits for locks as its caller set it up to.
    cursor.execute("SELECT set_config('lock_timeout', %s, true)", (previous_wait,))


def _sqlite(connection: Connection, columns: ObservationColumns, count: int) -> list[int]:
    raw: Any = connection.connection.driver_connection
    cursor = raw.cursor()
    try:
        start = cursor.execute("SELECT coalesce(max(id), 0) FROM observations").fetchone()[0] + 1
        stored: list[Sequence[Any]] = [range(start, start + count)]
        for name in OBSERVATION_COLUMNS:
            values = _column(columns, name, count)
            if name in _TIMES:
                values = [None if v is None else to_micros(v) for v in values]
            elif name in _JSONS:
                values = [None if v is None else orjson.dumps(v).decode() for v in values]
            stored.append(values)
        placeholders = ", ".join("?" * (len(OBSERVATION_COLUMNS) + 1))
        names = ", ".join(("id", *OBSERVATION_COLUMNS))
        cursor.executemany(
            f"INSERT INTO observations ({names}) VALUES ({placeholders})", zip(*stored, strict=True)
        )
    finally:
        cursor.close()
    return list(range(start, start + count))
