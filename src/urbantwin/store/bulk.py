"""Bulk insert of Observations: binary `COPY` on PostgreSQL, one `executemany` on SQLite.

The rows come column by column (`ObservationColumns`), as Python values or, from the dataArray
path, as numpy arrays that were never turned into Python objects row by row. On PostgreSQL every
row goes in one `COPY … (FORMAT binary)`: the rows without text or JSON (numbers at instants, the
common block) are laid out by numpy for all rows at once, one record layout per pattern of null
columns, with no Python work per row; rows with text or JSON take psycopg's binary row writer
(`write_row` with the columns' types set, so nothing is parsed as text by the server).

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

#: Values of a batch by column name (`OBSERVATION_COLUMNS`), every one of one length; a column
#: left out (or None) is null in every row. A column is a sequence of Python values (None: null) or a numpy
#: array: `datetime64` for the times (NaT: null), floats for `result_number` (NaN: null, as no
#: result is NaN), integers for the others (never null).
ObservationColumns = Mapping[str, Sequence[Any] | np.ndarray | None]

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
#: Microseconds from 1970 to 2000-01-01 UTC, PostgreSQL's epoch of binary timestamps.
_PG_EPOCH = (datetime(2000, 1, 1, tzinfo=UTC) - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)
_SIGNATURE = b"PGCOPY\n\xff\r\n\x00" + bytes(8)  # the signature, no flags, no header extension
_TRAILER = b"\xff\xff"
_NAMES = ("id", *OBSERVATION_COLUMNS)
#: The PostgreSQL types of the columns, for psycopg's binary row writer.
_TYPES = [
    "int8", "timestamptz", "timestamptz", "timestamptz", "int2", "float8", "text", "jsonb", "jsonb",
    "timestamptz", "timestamptz", "jsonb", "int8", "int8",
]  # fmt: skip
_UNIX_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

#: ANALYZE after a bulk insert once the table has this many times the pages its statistics saw
#: (plus `_SLACK_PAGES`): statistics stay within a factor of the truth, and a load from nothing
#: analyses a logarithmic number of times, each cheap while the table is small.
_GROWTH = 1.5
_SLACK_PAGES = 16
#: How long a bulk insert waits for the lock that its ANALYZE needs (ms) before it skips.
_LOCK_WAIT_MS = 500


class _Batch:
    """The columns of a batch in one form: each fixed-width column as a numpy array of its values
    (times in microseconds since 1970) with a mask of its nulls (None: no null), each text or JSON
    column as a list (None: null in every row)."""

    def __init__(self, columns: ObservationColumns, count: int) -> None:
        self.count = count
        self.values: dict[str, np.ndarray] = {}
        self.nulls: dict[str, np.ndarray | None] = {}
        self.variable: dict[str, list[Any] | None] = {}
        for name in OBSERVATION_COLUMNS:
            given = columns.get(name)
            if name in _VARIABLE:
                self.variable[name] = _variable(given)
            else:
                self.values[name], self.nulls[name] = _fixed(name, given, count)

    def python(self, name: str) -> list[Any]:
        """A column as Python values (None: null; times as microseconds since 1970)."""
        if name in _VARIABLE:
            variable = self.variable[name]
            return [None] * self.count if variable is None else variable
        values = self.values[name].tolist()
        nulls = self.nulls[name]
        if nulls is not None:
            for row in np.flatnonzero(nulls).tolist():
                values[row] = None
        return values


def _variable(given: Sequence[Any] | np.ndarray | None) -> list[Any] | None:
    if given is None:
        return None
    values = list(given)
    return None if values.count(None) == len(values) else values


def _fixed(
    name: str, given: Sequence[Any] | np.ndarray | None, count: int
) -> tuple[np.ndarray, np.ndarray | None]:
    kind = np.dtype(_BINARY[name][1:])
    if given is None:
        return np.zeros(count, kind), np.ones(count, bool)
    if isinstance(given, np.ndarray):
        if given.dtype.kind == "M":
            nulls = np.isnat(given)
            values = given.astype("datetime64[us]").view(np.int64)
        elif given.dtype.kind == "f":
            nulls, values = np.isnan(given), given
        else:
            nulls, values = np.zeros(count, bool), given
        return values.astype(kind, copy=False), nulls if nulls.any() else None
    null_rows = [row for row, value in enumerate(given) if value is None]
    if name in _TIMES:
        plain = [0 if value is None else to_micros(value) for value in given]
    else:
        plain = [0 if value is None else value for value in given]
    nulls = None
    if null_rows:
        nulls = np.zeros(count, bool)
        nulls[null_rows] = True
    return np.asarray(plain, dtype=kind), nulls


def insert_observations(connection: Connection, columns: ObservationColumns) -> list[int]:
    """Insert the rows of `columns` and return their new ids, in row order."""
    count = _length(columns)
    if not count:
        return []
    batch = _Batch(columns, count)
    if connection.dialect.name == "postgresql":
        return _postgresql(connection, batch)
    return _sqlite(connection, batch)


def _length(columns: ObservationColumns) -> int:
    lengths = {len(values) for values in columns.values() if values is not None}
    if len(lengths) > 1:
        raise ValueError("every column of a bulk insert must have the same length")
    return lengths.pop() if lengths else 0


def _postgresql(connection: Connection, batch: _Batch) -> list[int]:
    raw: Any = connection.connection.driver_connection
    count = batch.count
    with raw.cursor(binary=True) as cursor:
        # One array of ids rather than a row per id: psycopg reads a binary array in C.
        cursor.execute(
            "SELECT array_agg(nextval(pg_get_serial_sequence('observations', 'id'))) "
            "FROM generate_series(1, %s)",
            (count,),
        )
        ids = cursor.fetchone()[0]
        batch.values["id"], batch.nulls["id"] = np.asarray(ids, np.int64), None
        # The rows with text or JSON go through psycopg's row writer; the others are laid out by numpy.
        textual = np.zeros(count, bool)
        for values in batch.variable.values():
            if values is not None:
                textual |= np.fromiter((value is not None for value in values), bool, count)
        with cursor.copy(f"COPY observations ({', '.join(_NAMES)}) FROM STDIN (FORMAT binary)") as copy:
            if not textual.all():
                copy.write(_fixed_layout(batch, np.flatnonzero(~textual)))
            if textual.any():
                copy.set_types(_TYPES)  # after the rows above: psycopg then ends with the trailer
                for row in _python_rows(batch, np.flatnonzero(textual)):
                    copy.write_row(row)
            else:
                copy.write(_TRAILER)
        _keep_statistics(cursor)
    return ids


def _fixed_layout(batch: _Batch, rows: np.ndarray) -> bytes:
    """The binary COPY records of `rows` (none with text or JSON): the signature, then for each
    pattern of null columns among them one numpy record array of that pattern's rows."""
    fixed = [name for name in _NAMES if name in _BINARY]
    pattern = np.zeros(len(rows), np.int64)
    for bit, name in enumerate(fixed):
        nulls = batch.nulls[name]
        if nulls is not None:
            pattern |= nulls[rows].astype(np.int64) << bit
    parts = [_SIGNATURE]
    for key in np.unique(pattern).tolist():
        chosen = rows[pattern == key]
        layout: list[tuple[str, str]] = [("fields", ">i2")]
        present = set()
        for name in _NAMES:
            layout.append((f"{name}_length", ">i4"))
            if name in _BINARY and not key >> fixed.index(name) & 1:
                layout.append((name, _BINARY[name]))
                present.add(name)
        records = np.empty(len(chosen), dtype=np.dtype(layout))
        records["fields"] = len(_NAMES)
        for name in _NAMES:
            if name not in present:
                records[f"{name}_length"] = -1
                continue
            records[f"{name}_length"] = np.dtype(_BINARY[name]).itemsize
            values = batch.values[name][chosen]
            records[name] = values - _PG_EPOCH if name in _TIMES else values
        parts.append(records.tobytes())
    return b"".join(parts)


def _python_rows(batch: _Batch, rows: np.ndarray) -> Any:
    """`rows` as tuples of Python values for psycopg's row writer (times as datetimes, JSON
    wrapped)."""
    columns: list[list[Any]] = []
    chosen = rows.tolist()
    for name in _NAMES:
        values = batch.python(name)
        picked = [values[row] for row in chosen]
        if name in _TIMES:
            picked = [None if v is None else _UNIX_EPOCH + timedelta(microseconds=v) for v in picked]
        elif name in _JSONS:
            picked = [None if v is None else Jsonb(v) for v in picked]
        columns.append(picked)
    return zip(*columns, strict=True)


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


def _sqlite(connection: Connection, batch: _Batch) -> list[int]:
    raw: Any = connection.connection.driver_connection
    cursor = raw.cursor()
    count = batch.count
    try:
        start = cursor.execute("SELECT coalesce(max(id), 0) FROM observations").fetchone()[0] + 1
        stored: list[Sequence[Any]] = [range(start, start + count)]
        for name in OBSERVATION_COLUMNS:
            values = batch.python(name)  # times in microseconds since 1970, as SQLite stores them
            if name in _JSONS and batch.variable[name] is not None:
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
