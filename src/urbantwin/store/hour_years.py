"""A Datastream's hourly rollups packed a UTC year per row (`observation_hour_years`): the count and
sum of the numeric results of every hour of the year as two arrays.

**Why.** An assessment of a year of a thousand stations reads 26 million hours (issue 18, point 9).
From the rollups (`store/rollups.py`), one row per hour, reading them took 10–13 s per 2.3 million
rows whichever way they were fetched (binary COPY, fetchall, `array_agg`): the cost is the rows,
not the transfer. Here the same hours are 3,000 rows of two arrays each, read in one statement.

**Why bytes on both stores.** Each array is the bytes numpy writes (little-endian int32 counts,
float64 sums; an hour without a numeric result holds 0 and 0), a `bytea` on PostgreSQL and a BLOB on
SQLite. A `double precision[]` would let SQL index into it, but nothing here asks SQL to: every
reader and writer is this module, in numpy, and bytes cost no per-element adaptation (a PostgreSQL
array is written and read element by element, 8,784 Python floats a row) and the same code serves
both stores.

**Kept exact, in the rollups' transaction.** The rows change only with the rollups, under the same
lock (the Datastream's state row; `store/rollups.py`):

- a merge upserts the hours it touched and hands their new count and sum to `patch`, which sets
  those hours of each year row touched (created empty when missing);
- an invalidation (an Observation changed or deleted) deletes the rollups and, through `forget`,
  these rows; the next merge starts from nothing and writes every year again;
- deleting a Datastream cascades.

So in every snapshot in which a Datastream's rollups are current (its watermark), its year rows
equal them. `rebuild` writes the rows anew from the rollups: after rollups were written by hand
(the benchmark), or to check the incremental rows against.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
from sqlalchemy import Connection, delete, select
from sqlalchemy.dialects import postgresql, sqlite

from urbantwin.store.timeseries_schema import observation_hour_years as years_table
from urbantwin.store.timeseries_schema import observation_rollup_state as state
from urbantwin.store.timeseries_schema import observation_rollups as rollups
from urbantwin.store.types import to_micros

HOUR_MICROS = 3_600_000_000
COUNT = np.dtype("<i4")
SUM = np.dtype("<f8")
#: The rows a rebuild reads from the rollups at a time.
_FETCH = 100_000


def year_start(year: int) -> int:
    """The first instant of the UTC calendar year, in µs since 1970."""
    return to_micros(datetime(year, 1, 1, tzinfo=UTC))


def hours_in(year: int) -> int:
    return (year_start(year + 1) - year_start(year)) // HOUR_MICROS


def year_of(micros: np.ndarray) -> np.ndarray:
    return micros.astype("M8[us]").astype("M8[Y]").astype("int64") + 1970


@dataclass(frozen=True)
class HourYear:
    """One row: the count and sum of every hour of the UTC `year` of a Datastream."""

    datastream_id: int
    year: int
    counts: np.ndarray
    sums: np.ndarray


def _insert(connection: Connection) -> Any:
    return postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert


def _write(connection: Connection, rows: Sequence[HourYear]) -> None:
    if not rows:
        return
    statement = _insert(connection)(years_table)
    connection.execute(
        statement.on_conflict_do_update(
            index_elements=[years_table.c.datastream_id, years_table.c.year],
            set_={
                "value_counts": statement.excluded.value_counts,
                "value_sums": statement.excluded.value_sums,
            },
        ),
        [
            {
                "datastream_id": row.datastream_id,
                "year": row.year,
                "value_counts": row.counts.astype(COUNT).tobytes(),
                "value_sums": row.sums.astype(SUM).tobytes(),
            }
            for row in rows
        ],
    )


def _packed(
    hours: np.ndarray, counts: np.ndarray, sums: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Checked arrays: a count beyond int32 (600,000 values a second) would wrap silently."""
    hours, counts, sums = (
        np.asarray(hours, "int64"),
        np.asarray(counts, "int64"),
        np.asarray(sums, "float64"),
    )
    if len(counts) and (counts.min() < 0 or counts.max() > np.iinfo(COUNT).max):
        raise OverflowError("an hour's value count does not fit the year rows' int32")
    if (hours % HOUR_MICROS).any():
        raise ValueError("hours: whole UTC hours (µs since 1970) expected")
    return hours, counts, sums


def patch(
    connection: Connection, datastream_id: int, hours: np.ndarray, counts: np.ndarray, sums: np.ndarray
) -> None:
    """Set these hours (starts in µs since 1970) of the Datastream's year rows to the rollups' new
    count and sum. Call it in the transaction that changed the rollups, holding their lock."""
    hours, counts, sums = _packed(hours, counts, sums)
    if not len(hours):
        return
    years = year_of(hours)
    touched = sorted(int(y) for y in np.unique(years))
    found = {
        row.year: row
        for row in connection.execute(
            select(years_table).where(
                years_table.c.datastream_id == datastream_id, years_table.c.year.in_(touched)
            )
        )
    }
    rows = []
    for year in touched:
        held = found.get(year)
        if held is None:
            year_counts, year_sums = np.zeros(hours_in(year), COUNT), np.zeros(hours_in(year), SUM)
        else:
            year_counts = np.frombuffer(held.value_counts, COUNT).copy()
            year_sums = np.frombuffer(held.value_sums, SUM).copy()
        mine = years == year
        index = (hours[mine] - year_start(year)) // HOUR_MICROS
        year_counts[index] = counts[mine]
        year_sums[index] = sums[mine]
        rows.append(HourYear(datastream_id, year, year_counts, year_sums))
    _write(connection, rows)


def forget(connection: Connection, datastream_ids: Iterable[int]) -> None:
    """Delete the year rows of these Datastreams (with their rollups, in `rollups.invalidate`)."""
    ids = sorted({int(i) for i in datastream_ids})
    if ids:
        connection.execute(delete(years_table).where(years_table.c.datastream_id.in_(ids)))


def rebuild(connection: Connection, datastream_ids: Iterable[int]) -> int:
    """Write the year rows of these Datastreams anew from their rollups, each under its state row's
    lock (so no merge runs meanwhile); answers how many rows were written."""
    written = 0
    for datastream_id in sorted({int(i) for i in datastream_ids}):
        connection.execute(
            select(state.c.datastream_id).where(state.c.datastream_id == datastream_id).with_for_update()
        )
        forget(connection, [datastream_id])
        hours, counts, sums = _rollup_hours(connection, datastream_id)
        patch(connection, datastream_id, hours, counts, sums)
        written += len(np.unique(year_of(hours)))
    return written


def _rollup_hours(connection: Connection, datastream_id: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    result = connection.execute(
        select(rollups.c.hour_start, rollups.c.value_count, rollups.c.value_sum)
        .where(rollups.c.datastream_id == datastream_id)
        .order_by(rollups.c.hour_start)
    )
    hours: list[int] = []
    counts: list[int] = []
    sums: list[float] = []
    while part := result.fetchmany(_FETCH):
        for hour, count, total in part:
            hours.append(to_micros(hour))
            counts.append(count)
            sums.append(total)
    return np.array(hours, "int64"), np.array(counts, "int64"), np.array(sums, "float64")


def read(connection: Connection, datastream_ids: Sequence[int], first: int, last: int) -> Iterator[HourYear]:
    """The year rows of `first` … `last` (UTC years) of these Datastreams, in one statement."""
    ids = sorted({int(i) for i in datastream_ids})
    if not ids:
        return
    if connection.dialect.name == "postgresql":
        # In binary format: as text, every byte of a bytea travels as two hex digits, which the
        # server writes and psycopg parses again (half of the read's time).
        listed = ",".join(str(i) for i in ids)  # integers only: nothing of a caller's text
        raw: Any = connection.connection.driver_connection
        with raw.cursor(binary=True) as cursor:
            cursor.execute(
                "SELECT datastream_id, year, value_counts, value_sums FROM observation_hour_years "
                f"WHERE datastream_id IN ({listed}) AND year >= {int(first)} AND year <= {int(last)}"
            )
            while rows := cursor.fetchmany(64):
                for ident, year, counts, sums in rows:
                    yield HourYear(ident, year, np.frombuffer(counts, COUNT), np.frombuffer(sums, SUM))
        return
    found = connection.execute(
        select(years_table).where(
            years_table.c.datastream_id.in_(ids), years_table.c.year >= first, years_table.c.year <= last
        )
    )
    for ident, year, counts, sums in found:
        yield HourYear(ident, year, np.frombuffer(counts, COUNT), np.frombuffer(sums, SUM))


__all__ = [
    "HOUR_MICROS",
    "HourYear",
    "forget",
    "hours_in",
    "year_of",
    "patch",
    "read",
    "rebuild",
    "year_start",
]
