"""The hourly count and sum of many Datastreams at once, as numpy arrays, from the year rows of the
hourly rollups (`store/hour_years.py`): what an assessment of a year of a thousand stations reads
(26 million hours).

`rollups.aggregate` answers one Datastream and builds a Python object per bucket; for 26 million
hours that object building alone takes longer than the assessment (issue 18, point 9), and reading
the rollups themselves, one row per hour, took 10–13 s per 2.3 million rows. Here one statement
reads every asked Datastream's year rows that meet the window (a row holds a UTC year of hours as
two packed arrays), and the window is cut out of them with numpy.

**Exactness.** The year rows answer alone only for Datastreams whose watermark is current in the
same snapshot (every Observation is rolled up: the watermark is the largest Observation id and
nothing is pending); they change with the rollups in one transaction, so they equal them then. The
others are merged first (`rollups.warm`) and read again; a Datastream still not current then
(PostgreSQL: ids held by a transaction still open) is read through `rollups.aggregate`, exact but
slower. The window must start and end on whole UTC hours. The guard of `aggregate` (counting the
Observations of a window to catch writes that bypassed `invalidate`) is not run: it costs a count
of every row, the cost this reader exists to save.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from sqlalchemy import Connection, Engine, func, select

from urbantwin.store import hour_years
from urbantwin.store.hour_years import HOUR_MICROS
from urbantwin.store.rollups import _prepare, _snapshot, aggregate, warm
from urbantwin.store.schema import observations
from urbantwin.store.timeseries_schema import observation_rollup_state as state
from urbantwin.store.types import from_micros, to_micros


@dataclass(frozen=True)
class Hours:
    """The hours of a window of many Datastreams: per Datastream the count and the sum of the
    numeric results of every hour from `start_micros` (µs since 1970, UTC) on, 0 and 0 where an hour
    holds none. A Datastream without any is absent."""

    start_micros: int
    hours: int
    counts: dict[int, np.ndarray]
    sums: dict[int, np.ndarray]

    def of(self, datastream_id: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(hour starts µs, counts, sums) of the hours of one Datastream that hold values, in order."""
        counts = self.counts.get(datastream_id)
        if counts is None:
            return np.zeros(0, "int64"), np.zeros(0, "int64"), np.zeros(0, "float64")
        held = np.flatnonzero(counts)
        micros = self.start_micros + held.astype("int64") * HOUR_MICROS
        return micros, counts[held].astype("int64"), self.sums[datastream_id][held]


def _current(connection: Connection, ids: Sequence[int]) -> list[int]:
    """The Datastreams among `ids` whose rollups hold every Observation, in this snapshot."""
    newest = connection.execute(select(func.coalesce(func.max(observations.c.id), 0))).scalar_one()
    rows = connection.execute(
        select(state.c.datastream_id, state.c.merged_through, state.c.pending_through).where(
            state.c.datastream_id.in_(list(ids))
        )
    )
    return sorted(r.datastream_id for r in rows if r.merged_through == newest and r.pending_through is None)


def _read(connection: Connection, ids: Sequence[int], start: int, hours: int) -> Hours:
    """The window of `hours` hours from `start` (µs) of these Datastreams, from their year rows."""
    end = start + hours * HOUR_MICROS
    counts: dict[int, np.ndarray] = {}
    sums: dict[int, np.ndarray] = {}
    first, last = (int(hour_years.year_of(np.array([t], "int64"))[0]) for t in (start, end - 1))
    for row in hour_years.read(connection, ids, first, last):
        if row.datastream_id not in counts:
            counts[row.datastream_id] = np.zeros(hours, hour_years.COUNT)
            sums[row.datastream_id] = np.zeros(hours, hour_years.SUM)
        begins = hour_years.year_start(row.year)
        low, high = max(start, begins), min(end, begins + len(row.counts) * HOUR_MICROS)
        into = slice((low - start) // HOUR_MICROS, (high - start) // HOUR_MICROS)
        out = slice((low - begins) // HOUR_MICROS, (high - begins) // HOUR_MICROS)
        counts[row.datastream_id][into] = row.counts[out]
        sums[row.datastream_id][into] = row.sums[out]
    return Hours(start, hours, counts, sums)


def _through_aggregate(engine: Engine, datastream_id: int, start: int, hours: int) -> Hours:
    """One Datastream's hours through `rollups.aggregate` (exact whatever its watermark)."""
    bounds = [from_micros(start + k * HOUR_MICROS) for k in range(hours + 1)]
    stats = aggregate(engine, datastream_id, bounds)
    counts = np.array([s.count for s in stats], hour_years.COUNT)
    if not counts.any():
        return Hours(start, hours, {}, {})
    return Hours(
        start, hours, {datastream_id: counts}, {datastream_id: np.array([s.total for s in stats], "float64")}
    )


def _join(start: int, hours: int, parts: Sequence[Hours]) -> Hours:
    counts = {key: value for part in parts for key, value in part.counts.items()}
    sums = {key: value for part in parts for key, value in part.sums.items()}
    return Hours(start, hours, counts, sums)


def hourly(engine: Engine, datastream_ids: Sequence[int], start: datetime, end: datetime) -> Hours:
    """The hours of `[start, end)` (whole UTC hours) of every Datastream of `datastream_ids` that
    hold Observations, read from the year rows of the rollups (module docstring). The caller
    decides visibility."""
    if start.utcoffset() is None or end.utcoffset() is None:
        raise ValueError("start, end: aware datetimes expected")
    first, last = to_micros(start), to_micros(end)
    if first % HOUR_MICROS or last % HOUR_MICROS:
        raise ValueError("start, end: whole UTC hours expected")
    hours = max(0, (last - first) // HOUR_MICROS)
    ids = sorted({int(i) for i in datastream_ids})
    parts: list[Hours] = []
    for attempt in range(2):
        if not ids:
            break
        with _snapshot(engine) as connection:
            _prepare(connection)
            current = _current(connection, ids)
            parts.append(_read(connection, current, first, hours))
        ids = sorted(set(ids) - set(current))
        if ids and attempt == 0:
            warm(engine, ids)
    parts.extend(_through_aggregate(engine, datastream_id, first, hours) for datastream_id in ids)
    return _join(first, hours, parts)


__all__ = ["Hours", "hourly"]
