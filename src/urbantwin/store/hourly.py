"""The hourly count and sum of many Datastreams at once, as numpy arrays, from the hourly rollups
(`store/rollups.py`): what an assessment of a year of a thousand stations reads (26 million hours).

`rollups.aggregate` answers one Datastream and builds a Python object per bucket; for 26 million
hours that object building alone takes longer than the assessment (issue 18, point 9). Here one
statement reads every asked Datastream's rollup rows of the window, straight into arrays:

- **PostgreSQL**: `COPY (SELECT …) TO STDOUT (FORMAT BINARY)`, whose rows of four fixed-width
  columns are parsed by one numpy structured dtype (no Python object per row);
- **SQLite**: the rows of one `SELECT` through the driver's cursor (`fetchmany`, then numpy).

**Exactness.** Rollups answer alone only for Datastreams whose watermark is current in the same
snapshot (every Observation is rolled up: the watermark is the largest Observation id and nothing is
pending). The others are merged first (`rollups.warm`) and read again; a Datastream still not
current then (PostgreSQL: ids held by a transaction still open) is read through `rollups.aggregate`,
exact but slower. The window must start and end on whole UTC hours. The guard of `aggregate`
(counting the Observations of a window to catch writes that bypassed `invalidate`) is not run: it
costs a count of every row, the cost this reader exists to save.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import Connection, Engine, func, select

from urbantwin.store.rollups import _prepare, _snapshot, aggregate, warm
from urbantwin.store.schema import observations
from urbantwin.store.timeseries_schema import observation_rollup_state as state
from urbantwin.store.types import to_micros

_HOUR_MICROS = 3_600_000_000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
#: One row of PostgreSQL's binary COPY of (int4 datastream, int8 hour, int8 count, float8 sum):
#: the field count, then each field's length and value, big-endian.
_PG_ROW = np.dtype(
    [
        ("fields", ">i2"),
        ("l1", ">i4"),
        ("datastream", ">i4"),
        ("l2", ">i4"),
        ("hour", ">i8"),
        ("l3", ">i4"),
        ("count", ">i8"),
        ("l4", ">i4"),
        ("total", ">f8"),
    ]
)
_PG_HEADER = 19  # signature (11 bytes), flags (4), header extension length (4)
_FETCH = 200_000


@dataclass(frozen=True)
class Hours:
    """Rows sorted by Datastream, then hour: the hour's start (µs since 1970, UTC), the count and
    the sum of its numeric results. Only hours that hold Observations are there."""

    datastream: np.ndarray
    hour_micros: np.ndarray
    count: np.ndarray
    total: np.ndarray

    def of(self, datastream_id: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(hour starts µs, counts, sums) of one Datastream."""
        low = int(np.searchsorted(self.datastream, datastream_id, "left"))
        high = int(np.searchsorted(self.datastream, datastream_id, "right"))
        return self.hour_micros[low:high], self.count[low:high], self.total[low:high]


def _empty() -> Hours:
    return Hours(np.zeros(0, "int64"), np.zeros(0, "int64"), np.zeros(0, "int64"), np.zeros(0, "float64"))


def _current(connection: Connection, ids: Sequence[int]) -> list[int]:
    """The Datastreams among `ids` whose rollups hold every Observation, in this snapshot."""
    newest = connection.execute(select(func.coalesce(func.max(observations.c.id), 0))).scalar_one()
    rows = connection.execute(
        select(state.c.datastream_id, state.c.merged_through, state.c.pending_through).where(
            state.c.datastream_id.in_(list(ids))
        )
    )
    return sorted(r.datastream_id for r in rows if r.merged_through == newest and r.pending_through is None)


def _read_postgresql(connection: Connection, ids: Sequence[int], start: datetime, end: datetime) -> Hours:
    # Every value is an integer or an instant we formatted: nothing of a caller's text reaches the SQL.
    listed = ",".join(str(int(i)) for i in ids)
    statement = (
        "COPY (SELECT datastream_id::int4, "
        "((extract(epoch FROM hour_start) * 1000000)::int8), value_count::int8, value_sum::float8 "
        f"FROM observation_rollups WHERE datastream_id IN ({listed}) "
        f"AND hour_start >= '{start.isoformat()}'::timestamptz "
        f"AND hour_start < '{end.isoformat()}'::timestamptz "
        "ORDER BY datastream_id, hour_start) TO STDOUT (FORMAT BINARY)"
    )
    raw: Any = connection.connection.driver_connection
    chunks: list[bytes] = []
    with raw.cursor() as cursor, cursor.copy(statement) as copy:
        for block in copy:
            chunks.append(bytes(block))
    data = b"".join(chunks)
    if len(data) < _PG_HEADER + 2:
        return _empty()
    (extension,) = struct.unpack(">i", data[15:19])
    body = data[_PG_HEADER + extension : -2]  # the trailer: a field count of -1
    rows = np.frombuffer(body, dtype=_PG_ROW)
    return Hours(
        rows["datastream"].astype("int64"),
        rows["hour"].astype("int64"),
        rows["count"].astype("int64"),
        rows["total"].astype("float64"),
    )


def _read_sqlite(connection: Connection, ids: Sequence[int], start: datetime, end: datetime) -> Hours:
    raw: Any = connection.connection.driver_connection
    cursor = raw.cursor()
    marks = ",".join("?" * len(ids))
    cursor.execute(
        "SELECT datastream_id, hour_start, value_count, value_sum FROM observation_rollups "
        f"WHERE datastream_id IN ({marks}) AND hour_start >= ? AND hour_start < ? "
        "ORDER BY datastream_id, hour_start",
        [*ids, to_micros(start), to_micros(end)],
    )
    parts: list[np.ndarray] = []
    while rows := cursor.fetchmany(_FETCH):
        parts.append(np.array(rows, dtype="float64"))
    cursor.close()
    if not parts:
        return _empty()
    table = np.concatenate(parts)
    # Integers read as float64 are exact below 2^53: ids, counts, and µs up to the year 2255.
    return Hours(
        table[:, 0].astype("int64"), table[:, 1].astype("int64"), table[:, 2].astype("int64"), table[:, 3]
    )


def _read(connection: Connection, ids: Sequence[int], start: datetime, end: datetime) -> Hours:
    if not ids:
        return _empty()
    if connection.dialect.name == "postgresql":
        return _read_postgresql(connection, ids, start, end)
    return _read_sqlite(connection, ids, start, end)


def _through_aggregate(engine: Engine, datastream_id: int, start: datetime, end: datetime) -> Hours:
    """One Datastream's hours through `rollups.aggregate` (exact whatever its watermark)."""
    count = int((end - start) / timedelta(hours=1))
    bounds = [start + timedelta(hours=k) for k in range(count + 1)]
    stats = aggregate(engine, datastream_id, bounds)
    keep = [k for k, s in enumerate(stats) if s.count > 0]
    first = to_micros(start)
    return Hours(
        np.full(len(keep), datastream_id, dtype="int64"),
        np.array([first + k * _HOUR_MICROS for k in keep], dtype="int64"),
        np.array([stats[k].count for k in keep], dtype="int64"),
        np.array([stats[k].total for k in keep], dtype="float64"),
    )


def _join(parts: Sequence[Hours]) -> Hours:
    if not parts:
        return _empty()
    joined = Hours(*(np.concatenate([getattr(p, name) for p in parts]) for name in Hours.__annotations__))
    order = np.lexsort((joined.hour_micros, joined.datastream))
    return Hours(*(getattr(joined, name)[order] for name in Hours.__annotations__))


def hourly(engine: Engine, datastream_ids: Sequence[int], start: datetime, end: datetime) -> Hours:
    """The hours of `[start, end)` (whole UTC hours) of every Datastream of `datastream_ids` that
    hold Observations, read from the rollups (module docstring). The caller decides visibility."""
    if start.utcoffset() is None or end.utcoffset() is None:
        raise ValueError("start, end: aware datetimes expected")
    if to_micros(start) % _HOUR_MICROS or to_micros(end) % _HOUR_MICROS:
        raise ValueError("start, end: whole UTC hours expected")
    ids = sorted({int(i) for i in datastream_ids})
    parts: list[Hours] = []
    for attempt in range(2):
        if not ids:
            break
        with _snapshot(engine) as connection:
            _prepare(connection)
            current = _current(connection, ids)
            parts.append(_read(connection, current, start, end))
        ids = sorted(set(ids) - set(current))
        if ids and attempt == 0:
            warm(engine, ids)
    parts.extend(_through_aggregate(engine, datastream_id, start, end) for datastream_id in ids)
    return _join(parts)


__all__ = ["Hours", "hourly"]
