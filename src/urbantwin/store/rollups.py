"""Statistics of a Datastream's Observations over time buckets, from hourly rollups filled lazily.

What is asked: count, sum, minimum and maximum (the mean follows) of a Datastream's numeric results
(`result_number`: numbers, and booleans as 0 and 1) in each of a list of buckets `[b0, b1)`,
`[b1, b2)`, … — calendar days, weeks, months or years of a time zone, which the caller turns into
UTC instants (timeseries/service.py). An Observation falls into the bucket of its
`phenomenon_time_start`. A year of minute data is 525,600 rows; reading them for every daily mean
costs hundreds of milliseconds, so the answer comes from a smaller table.

**The rollup table.** `observation_rollups` keeps, per Datastream and UTC hour, the count, sum, min
and max of the results (and the count of all Observations, for the guard below). These four merge
exactly: two partial rollups of an hour add their counts and sums and take the smaller minimum and
the larger maximum. A local calendar bucket of any zone whose offsets are whole hours (Europe/Berlin,
with its 23- and 25-hour days) starts and ends on UTC hours, so it is a union of rollup hours: a
year of daily means reads 8,760 rows instead of 525,600. Where a bucket boundary is not a whole UTC
hour (the days of Asia/Kolkata, +05:30, begin at 18:30 UTC) the hours it cuts are read from the
Observations themselves (one index range per cut hour), as are the partial hours where the window
starts or ends inside an hour; the other hours still come from the rollups. When most hours are cut
(hour buckets of Asia/Kolkata) the whole answer comes from the Observations: exact, but it reads
every row of the window (`aggregate` decides, per request).

**Year rows beside them.** Every merge also sets the hours it touched in `observation_hour_years`
(a UTC year of hourly counts and sums per row, `store/hour_years.py`), and every invalidation
deletes them with the rollups: one transaction, so readers of whole years of many Datastreams
(`store/hourly.py`) find them equal to the rollups whenever the watermark is current.

**Filled lazily, at query time.** Inserting Observations costs nothing extra: no trigger, no second
write. Each Datastream has a watermark (`observation_rollup_state.merged_through`): every Observation
with an id up to it is in the rollups, none above it. An aggregate query first merges the
Datastream's Observations above the watermark into their hours (one `INSERT … SELECT … GROUP BY hour
… ON CONFLICT DO UPDATE` that adds counts and sums), moves the watermark, and then answers from the
rollups plus the few Observations above the watermark, in one statement. The first query of a
Datastream pays for the whole history once (the "cold" figure in bench/README.md). When nothing
arrived since the last merge (the largest Observation id is the watermark), the query is a pure read
in one snapshot (REPEATABLE READ on PostgreSQL), taking no lock and writing nothing: rollups and
watermark are consistent in any snapshot, because merges and invalidations change both in one
transaction.

**Idempotent under concurrency.** Two processes answering at once must not both merge the same
Observations. The merge runs in one transaction that holds the lock of the Datastream's state row
(`SELECT … FOR UPDATE` on PostgreSQL; on SQLite the write lock, `BEGIN IMMEDIATE`), reads the
watermark, merges exactly the id range `(watermark, new watermark]` and writes the new watermark
before it commits; the second process waits for the row, then finds the range merged. Locks are
taken in one order — the Datastream's row (`FOR KEY SHARE`), then the state row, then rollup rows —
so a merge and a concurrent `DELETE` of the Datastream (which cascades to the state and rollups) wait
for each other one way only, never in a cycle.

**Ids that commit out of order (PostgreSQL).** Ids come from a sequence when rows are written, and
transactions commit in any order: while a bulk load holding ids 1000–1999 is still open, a single
insert with id 2000 may already be visible. A watermark moved to 2000 would skip 1000–1999 for ever.
So the watermark only moves to an id that is final: every transaction that takes Observation ids
holds a lock on the id sequence until it ends (`nextval` takes it), and `pg_locks` lists them. The
merge reads the largest visible id *then* the transactions holding that lock: if there are none,
every id up to the largest is final. If there are some, the largest id becomes the *pending*
watermark together with those transactions' virtual ids; a later query that finds all of them ended
moves the watermark there. Until then the Observations above the watermark are read raw, so answers
are always exact, just slower while ingest never pauses. On SQLite the write lock serialises writers,
so the largest visible id is final.

**Updates and deletes invalidate.** A changed or deleted Observation at or below the watermark would
leave its hour wrong. The SensorThings writer calls `invalidate(connection, datastream_ids)` in the
transaction of the change, after it: the Datastream's rollups and watermark go, and its next query
rebuilds them. "After" matters twice: SQLite gives the next row the id of a deleted top row, so
`invalidate` lowers watermarks above the largest remaining id; and on PostgreSQL a Datastream's row
locked by its `DELETE` before `invalidate` keeps the lock order above (the other way round, the two
could deadlock with a merge). Deleting a Datastream cascades to its rows here. Changes that bypass
the writer (SQL by hand, a retention job) are caught by a guard where it is cheap: when the
rolled-up hours of a window hold at most `GUARD_ROWS` Observations, the same statement counts the
window's Observations in the observations table (an index-only count on the (datastream, time, id)
index) and compares; a mismatch logs a warning, invalidates and rebuilds. A year of minute data is
above the limit (the count alone would take half the time budget), and a changed *value* with an
unchanged count is not seen at all: comparing sums would read every row, the cost the rollups exist
to save. So writes that bypass the writer must call `invalidate` themselves.

**Why buckets come from Python.** The bucket boundaries are computed once, in Python with `zoneinfo`,
and passed to the database as a sorted array; each row finds its bucket by binary search
(`width_bucket(t, array)` on PostgreSQL, the `ut_bucket` function registered here on SQLite). Both
backends then agree on the calendar to the microsecond, DST days included, whatever time zone
database PostgreSQL was built with, and the service labels buckets with the same instants.
"""

from __future__ import annotations

import bisect
import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

import numpy as np
from sqlalchemy import (
    Connection,
    Engine,
    Integer,
    Text,
    and_,
    case,
    delete,
    func,
    literal,
    null,
    select,
    text,
    union_all,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import TypeDecorator

from urbantwin.store import hour_years
from urbantwin.store.dialect import spelled
from urbantwin.store.engine import for_writes
from urbantwin.store.schema import datastreams, observations
from urbantwin.store.timeseries_schema import observation_rollup_state as state
from urbantwin.store.timeseries_schema import observation_rollups as rollups
from urbantwin.store.types import UtcTime, to_micros

log = logging.getLogger("urbantwin.rollups")

HOUR = timedelta(hours=1)
_HOUR_MICROS = 3_600_000_000
#: The guard counts the window's Observations when its rolled-up hours hold at most this many: an
#: index-only count of 50,000 entries takes a few milliseconds on PostgreSQL.
GUARD_ROWS = 50_000


@dataclass(frozen=True)
class BucketStats:
    """Statistics of the Observations of one bucket."""

    #: Observations with a numeric result, which the other figures describe.
    count: int = 0
    #: Their sum (0 when there are none).
    total: float = 0.0
    minimum: float | None = None
    maximum: float | None = None
    #: Every Observation of the bucket, numeric or not.
    observations: int = 0

    @property
    def mean(self) -> float | None:
        return self.total / self.count if self.count else None

    def merge(self, other: BucketStats) -> BucketStats:
        return BucketStats(
            count=self.count + other.count,
            total=self.total + other.total,
            minimum=_pick(min, self.minimum, other.minimum),
            maximum=_pick(max, self.maximum, other.maximum),
            observations=self.observations + other.observations,
        )


def _pick(choose: Any, a: float | None, b: float | None) -> float | None:
    if a is None:
        return b
    if b is None:
        return a
    return choose(a, b)


# --- SQL whose spelling differs -----------------------------------------------------------------


class hour_floor(FunctionElement):  # noqa: N801 - reads like the SQL function it stands for
    """The UTC hour a stored time falls in."""

    inherit_cache = True
    type = UtcTime()


@compiles(hour_floor, "postgresql")
def _pg_hour_floor(element: hour_floor, compiler: Any, **kw: Any) -> str:
    column = compiler.process(element.clauses, **kw)
    return f"date_bin('1 hour', {column}, TIMESTAMPTZ '2000-01-01 00:00:00+00')"


@compiles(hour_floor)
def _sqlite_hour_floor(element: hour_floor, compiler: Any, **kw: Any) -> str:
    column = compiler.process(element.clauses, **kw)  # integer microseconds; % keeps the sign
    return f"({column} - ((({column}) % {_HOUR_MICROS}) + {_HOUR_MICROS}) % {_HOUR_MICROS})"


@spelled("({args} + INTERVAL '3599.999999 seconds')", "({args} + 3599999999)")
class last_microsecond(FunctionElement):  # noqa: N801
    """The last instant (microsecond) of the hour that begins at a stored time."""

    inherit_cache = True
    type = UtcTime()


@spelled("CAST({args} AS TIMESTAMPTZ[])", "{args}")
class text_array(FunctionElement):  # noqa: N801
    """A `timestamptz[]` literal written as text, on PostgreSQL (in FROM: parsed once)."""

    inherit_cache = True


class _Bounds(TypeDecorator):
    """Sorted bucket boundaries as one text value: a `timestamptz[]` literal on PostgreSQL (cast in
    SQL; adapting a list of datetimes element by element cost milliseconds for a year of days),
    comma-separated microseconds on SQLite (which `ut_bucket` parses once per statement)."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Any) -> Any:
        if dialect.name == "postgresql":
            return "{" + ",".join(moment.isoformat() for moment in value) + "}"
        return ",".join(str(to_micros(moment)) for moment in value)


class bucket_index(FunctionElement):  # noqa: N801
    """`bucket_index(t, bounds)`: i where bounds[i-1] <= t < bounds[i] (0 before the first bound,
    len(bounds) from the last on), by binary search in the sorted bounds."""

    inherit_cache = True
    type = Integer()


@compiles(bucket_index, "postgresql")
def _pg_bucket_index(element: bucket_index, compiler: Any, **kw: Any) -> str:
    column, bounds = (compiler.process(clause, **kw) for clause in element.clauses)
    # A subquery, so the array is parsed once per statement (an InitPlan), not once per row: text
    # to timestamptz is only stable, and the planner does not fold it.
    return f"width_bucket({column}, (SELECT CAST({bounds} AS TIMESTAMPTZ[])))"


@compiles(bucket_index)
def _sqlite_bucket_index(element: bucket_index, compiler: Any, **kw: Any) -> str:
    return f"ut_bucket({compiler.process(element.clauses, **kw)})"


def _bucket_of(column: Any, bounds: Sequence[datetime]) -> bucket_index:
    return bucket_index(column, literal(list(bounds), _Bounds()))


@spelled("{args}", "+{args}")
class by_rowid(FunctionElement):  # noqa: N801
    """A column SQLite must not use an index for (unary `+`), so that a condition on the rowid
    drives the search; on PostgreSQL, whose planner weighs both by statistics, the column itself."""

    inherit_cache = True

    def __init__(self, column: Any) -> None:
        self.type = column.type
        super().__init__(column)


class min_of(FunctionElement):  # noqa: N801
    """The smaller of two values, ignoring NULL (PostgreSQL's `least`; SQLite's `min` of two
    arguments would be NULL if either is)."""

    inherit_cache = True


class max_of(FunctionElement):  # noqa: N801
    """The larger of two values, ignoring NULL."""

    inherit_cache = True


@compiles(min_of, "postgresql")
@compiles(max_of, "postgresql")
def _pg_extreme(element: Any, compiler: Any, **kw: Any) -> str:
    name = "least" if isinstance(element, min_of) else "greatest"
    return f"{name}({compiler.process(element.clauses, **kw)})"


@compiles(min_of)
@compiles(max_of)
def _sqlite_extreme(element: Any, compiler: Any, **kw: Any) -> str:
    name = "min" if isinstance(element, min_of) else "max"
    a, b = (compiler.process(clause, **kw) for clause in element.clauses)
    return f"coalesce({name}({a}, {b}), {a}, {b})"


@lru_cache(maxsize=64)
def _parse_bounds(bounds: str) -> tuple[int, ...]:
    return tuple(int(part) for part in bounds.split(","))


def _sqlite_bucket(value: int | None, bounds: str | None) -> int | None:
    if value is None or bounds is None:
        return None
    return bisect.bisect_right(_parse_bounds(bounds), value)


def _prepare(connection: Connection) -> None:
    """Per transaction: SQLite gets `ut_bucket`; PostgreSQL plans each statement for its values,
    without JIT compilation.

    The functions are registered here, on the connection in use, because the engine's setup
    (store/engine.py) registers only the functions of spatial.py and sqlfunctions.py. On PostgreSQL
    a prepared statement may switch to a generic plan after five runs, and a generic plan of
    `id > $1` cannot know that the range above the watermark is tiny. JIT is off because the
    planner cannot estimate the rows of the cut hours (an `unnest` joined by ranges) and, taking
    the statement for an expensive one, compiled it: 330 ms of compiling for 20 ms of work.
    """
    if connection.dialect.name == "postgresql":
        settings = "set_config('plan_cache_mode', 'force_custom_plan', true), set_config('jit', 'off', true)"
        connection.execute(text(f"SELECT {settings}"))
    else:
        raw: Any = connection.connection.driver_connection
        raw.create_function("ut_bucket", 2, _sqlite_bucket, deterministic=True)


# --- invalidation -------------------------------------------------------------------------------


def invalidate(connection: Connection, datastream_ids: Iterable[int]) -> None:
    """Forget the rollups of these Datastreams: their next aggregate query rebuilds them.

    Call it in the transaction that changes or deletes Observations (or Datastreams), after the
    change. The watermark is reset by an upsert, not a delete: the upsert waits for a merge of the
    same Datastream that is still running (even the first one, whose state row is not committed
    yet), so that merge's rollups are committed before they are deleted here rather than after.
    On SQLite, ids of deleted rows at the top are used again by the next insert, so every watermark
    above the largest remaining id comes down to it (hence "after the change"; with no ids, only that).
    """
    ids = sorted({int(ident) for ident in datastream_ids})
    if ids:
        ds = datastreams
        existing = select(ds.c.id, literal(0)).where(ds.c.id.in_(ids)).order_by(ds.c.id)
        reset = {"merged_through": 0, "pending_through": None, "pending_transactions": None}
        statement = _insert(connection)(state).from_select(["datastream_id", "merged_through"], existing)
        connection.execute(
            statement.on_conflict_do_update(index_elements=[state.c.datastream_id], set_=reset)
        )
        connection.execute(delete(rollups).where(rollups.c.datastream_id.in_(ids)))
        hour_years.forget(connection, ids)
    if connection.dialect.name == "sqlite":
        newest = select(func.coalesce(func.max(observations.c.id), 0)).scalar_subquery()
        connection.execute(update(state).where(state.c.merged_through > newest).values(merged_through=newest))


def _insert(connection: Connection) -> Any:
    return postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert


# --- the watermark ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Watermark:
    """How far a Datastream's rollups reach, and the next step waiting for transactions to end."""

    merged_through: int
    pending_through: int | None = None
    pending_transactions: frozenset[str] = frozenset()


def advance(current: Watermark, newest: int, holders: frozenset[str]) -> Watermark:
    """The watermark after a merge, given the largest visible Observation id and the transactions
    that hold Observation ids (read after it). Every id up to the result is final."""
    merged = min(current.merged_through, newest)  # rows at the top were deleted
    if not holders:
        return Watermark(newest)
    pending_through, pending = current.pending_through, current.pending_transactions
    if pending_through is not None and not (pending & holders):
        merged = max(merged, min(pending_through, newest))
        pending_through = None
    if pending_through is None:
        return Watermark(merged, newest, holders) if newest > merged else Watermark(merged)
    return Watermark(merged, pending_through, pending)


def _id_holders(connection: Connection) -> frozenset[str]:
    """Other transactions that hold Observation ids, possibly not committed yet (PostgreSQL)."""
    if connection.dialect.name != "postgresql":
        return frozenset()  # SQLite: the write lock we hold excludes every other writer
    rows = connection.execute(
        text(
            "SELECT DISTINCT virtualtransaction FROM pg_locks "
            "WHERE locktype = 'relation' AND pid <> pg_backend_pid() "
            "AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
            "AND relation = CAST(pg_get_serial_sequence('observations', 'id') AS regclass)"
        )
    )
    return frozenset(row[0] for row in rows)


def refresh(connection: Connection, datastream_id: int) -> int | None:
    """Merge the Datastream's new Observations into its rollups; return the watermark (None when
    the Datastream does not exist). Holds the state row's lock until the transaction ends, so the
    caller answers from rollups no other merge or invalidation changes meanwhile."""
    # The Datastream's row first (FOR KEY SHARE): a concurrent DELETE of the Datastream, which
    # cascades to the rows locked below, waits for us or we for it, never both ways round.
    exists = connection.execute(
        select(datastreams.c.id).where(datastreams.c.id == datastream_id).with_for_update(key_share=True)
    ).first()
    if exists is None:
        return None
    connection.execute(
        _insert(connection)(state)
        .values(datastream_id=datastream_id, merged_through=0)
        .on_conflict_do_nothing(index_elements=[state.c.datastream_id])
    )
    row = connection.execute(
        select(state).where(state.c.datastream_id == datastream_id).with_for_update()
    ).one()
    current = Watermark(row.merged_through, row.pending_through, frozenset(row.pending_transactions or ()))
    newest = connection.execute(select(func.coalesce(func.max(observations.c.id), 0))).scalar_one()
    after = advance(current, newest, _id_holders(connection))
    if after.merged_through > current.merged_through:
        _merge(connection, datastream_id, current.merged_through, after.merged_through)
    if after != current:
        connection.execute(
            update(state)
            .where(state.c.datastream_id == datastream_id)
            .values(
                merged_through=after.merged_through,
                pending_through=after.pending_through,
                pending_transactions=sorted(after.pending_transactions) if after.pending_through else None,
            )
        )
    return after.merged_through


def warm(
    engine: Engine, datastream_ids: Iterable[int] | None = None, progress: Callable[[int], None] | None = None
) -> int:
    """Bring the rollups of these Datastreams (every one when None) up to date now, one transaction
    each, so that the first aggregate query after a large import is as fast as the next; answers how
    many Datastreams were brought up to date."""
    if datastream_ids is None:
        with engine.connect() as connection:
            ids = list(connection.execute(select(datastreams.c.id).order_by(datastreams.c.id)).scalars())
    else:
        ids = sorted(set(datastream_ids))
    done = 0
    for datastream_id in ids:
        with for_writes(engine).begin() as connection:
            _prepare(connection)
            if refresh(connection, datastream_id) is not None:
                done += 1
        if progress is not None:
            progress(1)
    return done


def _merge(connection: Connection, datastream_id: int, above: int, through: int) -> None:
    """Add the Observations with ids in (above, through] to their hours' rollups."""
    o = observations
    hour = hour_floor(o.c.phenomenon_time_start)
    grouped = (
        select(
            literal(datastream_id).label("datastream_id"),
            hour.label("hour_start"),
            func.count().label("all_count"),
            func.count(o.c.result_number).label("value_count"),
            func.coalesce(func.sum(o.c.result_number), 0.0).label("value_sum"),
            func.min(o.c.result_number).label("value_min"),
            func.max(o.c.result_number).label("value_max"),
        )
        # An incremental merge reads a short id range at the end (SQLite must be kept from walking
        # the Datastream's whole index for it); a rebuild reads the Datastream by its index.
        .where((by_rowid(o.c.datastream_id) if above else o.c.datastream_id) == datastream_id)
        .where(o.c.id > above, o.c.id <= through)
        .group_by(hour)
    )
    statement = _insert(connection)(rollups).from_select(
        ["datastream_id", "hour_start", "all_count", "value_count", "value_sum", "value_min", "value_max"],
        grouped,
    )
    new = statement.excluded
    touched = connection.execute(
        statement.on_conflict_do_update(
            index_elements=[rollups.c.datastream_id, rollups.c.hour_start],
            set_={
                "all_count": rollups.c.all_count + new.all_count,
                "value_count": rollups.c.value_count + new.value_count,
                "value_sum": rollups.c.value_sum + new.value_sum,
                "value_min": min_of(rollups.c.value_min, new.value_min),
                "value_max": max_of(rollups.c.value_max, new.value_max),
            },
        ).returning(rollups.c.hour_start, rollups.c.value_count, rollups.c.value_sum)
    ).all()
    if not above:
        # A merge from nothing finds no rollups (a new watermark, an invalidated one, or the tables
        # emptied by hand, as docs/timeseries.md allows): no year row may outlive them.
        hour_years.forget(connection, [datastream_id])
    # The hours as they are now (RETURNING gives the merged row), into their year rows.
    hour_years.patch(
        connection,
        datastream_id,
        np.fromiter((to_micros(row.hour_start) for row in touched), "int64", len(touched)),
        np.fromiter((row.value_count for row in touched), "int64", len(touched)),
        np.fromiter((row.value_sum for row in touched), "float64", len(touched)),
    )


# --- answers ------------------------------------------------------------------------------------


def _ceil_hour(moment: datetime) -> datetime:
    floor = _floor_hour(moment)
    return floor if floor == moment else floor + HOUR


def _floor_hour(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def on_whole_hours(moments: Iterable[datetime]) -> bool:
    """Whether every instant is a whole UTC hour (so rollup hours never straddle a bucket)."""
    return all(m.minute == 0 and m.second == 0 and m.microsecond == 0 for m in moments)


def aggregate(engine: Engine, datastream_id: int, bounds: Sequence[datetime]) -> list[BucketStats]:
    """Statistics of the Datastream's Observations in each bucket `[bounds[i], bounds[i + 1])`.

    `bounds` are aware UTC datetimes, strictly increasing. From the rollups when every interior
    bound is a whole UTC hour and the window spans one, else from the Observations alone. When no
    Observation arrived since the last merge, the answer is a pure read (no lock, no write: many
    readers never queue behind each other or behind ingest); else new Observations are merged
    first, in a write transaction.
    """
    if len(bounds) < 2:
        return []
    first, last = _ceil_hour(bounds[0]), _floor_hour(bounds[-1])
    # Hours that a bucket boundary cuts (zones off the whole hour): read from the Observations.
    cut = {_floor_hour(b) for b in bounds[1:-1] if not on_whole_hours([b])}
    straddled = sorted(hour for hour in cut if first <= hour < last)
    if first >= last or len(straddled) * 4 > (last - first) / HOUR:
        # Mostly cut hours (hour buckets of Asia/Kolkata) or less than an hour: the rows alone.
        with engine.connect() as connection:
            _prepare(connection)
            answer = _answer(connection, datastream_id, bounds, None)
            connection.commit()
        return answer.buckets
    with _snapshot(engine) as connection:
        _prepare(connection)
        current = watermark(connection, datastream_id)
        newest = connection.execute(select(func.coalesce(func.max(observations.c.id), 0))).scalar_one()
        if current is not None and current.pending_through is None and newest == current.merged_through:
            # Rollups and watermark in one snapshot are consistent: merges and invalidations
            # change both in one transaction, and every id up to the watermark is final.
            answer = _answer(connection, datastream_id, bounds, current.merged_through, straddled)
            if not answer.stale:
                return answer.buckets
    with for_writes(engine).begin() as connection:
        _prepare(connection)
        merged = refresh(connection, datastream_id)
        if merged is None:
            return [BucketStats() for _ in bounds[1:]]
        answer = _answer(connection, datastream_id, bounds, merged, straddled)
        if answer.stale:
            log.warning(
                "rollups of Datastream %s were stale (%s Observations in the window, %s rolled up): "
                "an update or delete bypassed invalidate(); rebuilding them",
                datastream_id,
                answer.guard,
                answer.rolled_up,
            )
            invalidate(connection, [datastream_id])
            merged = refresh(connection, datastream_id) or 0
            answer = _answer(connection, datastream_id, bounds, merged, straddled)
    return answer.buckets


@contextmanager
def _snapshot(engine: Engine) -> Iterator[Connection]:
    """A read-only transaction whose statements all see one snapshot (REPEATABLE READ on
    PostgreSQL; a deferred transaction in SQLite's WAL mode is one already)."""
    with engine.connect() as connection:
        if connection.dialect.name == "postgresql":
            connection.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
        with connection.begin():
            yield connection


@dataclass(frozen=True)
class _Answer:
    buckets: list[BucketStats]
    #: Observations in the rolled-up hours by the observations table (None: not counted).
    guard: int | None
    #: The same by the rollups plus the Observations above the watermark.
    rolled_up: int

    @property
    def stale(self) -> bool:
        return self.guard is not None and self.guard != self.rolled_up


def _answer(
    connection: Connection,
    datastream_id: int,
    bounds: Sequence[datetime],
    watermark: int | None,
    straddled: Sequence[datetime] = (),
) -> _Answer:
    """One statement (one snapshot): the rollups of the whole hours inside the window that lie in
    one bucket, and the raw Observations of the rest — the partial hours at the window's edges, the
    hours a bucket boundary cuts (`straddled`), those above the watermark — and the guard count.
    With `watermark` None, everything comes from the Observations."""
    o, r = observations, rollups
    start, end = bounds[0], bounds[-1]
    time = o.c.phenomenon_time_start
    mine = o.c.datastream_id == datastream_id
    # Raw rows, each flagged when it lies in the rolled-up span [first, last) (the guard adds those).
    raw: list[Any] = []

    def rows(condition: Any, inside: bool, source: Any = o) -> Any:
        columns = (time.label("t"), o.c.result_number.label("v"), literal(int(inside)).label("inside"))
        return select(*columns).select_from(source).where(condition)

    parts: list[Any] = []
    if watermark is None:
        raw.append(rows(and_(mine, time >= start, time < end), False))
    else:
        first, last = _ceil_hour(start), _floor_hour(end)
        if start < first:
            raw.append(rows(and_(mine, time >= start, time < first), False))
        if last < end:
            raw.append(rows(and_(mine, time >= last, time < end), False))
        # Above the watermark: found by the primary key (a short range at the end), which SQLite
        # only picks when the (datastream, time) index is kept out of it.
        tail_time, tail_stream = by_rowid(time), by_rowid(o.c.datastream_id)
        tail = [tail_stream == datastream_id, o.c.id > watermark, tail_time >= first, tail_time < last]
        in_hours = [r.c.datastream_id == datastream_id, r.c.hour_start >= first, r.c.hour_start < last]
        if straddled:
            hours, hour_start, hour_end = _hour_table(connection, straddled)
            join = o.join(hours, and_(time >= hour_start, time < hour_end))
            raw.append(rows(mine, True, join))
            # Rolled-up hours and the tail: only hours that lie in one bucket.
            tail.append(_in_one_bucket(hour_floor(time), bounds))
            in_hours.append(_in_one_bucket(r.c.hour_start, bounds))
        raw.append(rows(and_(*tail), True))
        bucket = _bucket_of(r.c.hour_start, bounds)
        # A CTE, because the guard needs the rolled-up total too: one scan of the rollups, not two.
        rolled = (
            select(
                bucket.label("bucket"),
                func.sum(r.c.all_count).label("observations"),
                func.sum(r.c.value_count).label("count"),
                func.sum(r.c.value_sum).label("total"),
                func.min(r.c.value_min).label("minimum"),
                func.max(r.c.value_max).label("maximum"),
            )
            .where(*in_hours)
            .group_by(bucket)
            .cte("rolled")
        )
        parts.append(select(literal(0).label("part"), *rolled.c, literal(0).label("inside")))
        total = select(func.coalesce(func.sum(rolled.c.observations), 0)).scalar_subquery()
        counted = select(func.count()).where(mine, time >= first, time < last).scalar_subquery()
        guard = case((total <= GUARD_ROWS, counted), else_=null())
        parts.append(select(literal(2), null(), guard, null(), null(), null(), null(), null()))
    merged: Any = union_all(*raw) if len(raw) > 1 else raw[0]
    merged_raw = merged.subquery("raw")
    bucket = _bucket_of(merged_raw.c.t, bounds)
    raw_columns: list[Any] = [
        literal(1),
        bucket,
        func.count(),
        func.count(merged_raw.c.v),
        func.coalesce(func.sum(merged_raw.c.v), 0.0),
        func.min(merged_raw.c.v),
        func.max(merged_raw.c.v),
        func.sum(merged_raw.c.inside),
    ]
    parts.insert(1 if watermark is not None else 0, select(*raw_columns).group_by(bucket))
    buckets = [BucketStats() for _ in bounds[1:]]
    guard_count: int | None = None
    rolled_up = 0
    for part, index, n_all, n, sum_, low, high, inside in connection.execute(union_all(*parts)):
        if part == 2:
            guard_count = None if n_all is None else int(n_all)
            continue
        rolled_up += int(n_all) if part == 0 else int(inside or 0)
        if index is None or not 1 <= index <= len(buckets):
            continue  # outside the window: cannot happen, the ranges are inside it
        stats = BucketStats(int(n), float(sum_), _float(low), _float(high), int(n_all))
        buckets[index - 1] = buckets[index - 1].merge(stats)
    return _Answer(buckets, guard_count, rolled_up)


def _in_one_bucket(hour: Any, bounds: Sequence[datetime]) -> Any:
    """The hour beginning at `hour` lies wholly in one bucket (no boundary cuts it)."""
    return _bucket_of(hour, bounds) == _bucket_of(last_microsecond(hour), bounds)


def _hour_table(connection: Connection, hours: Sequence[datetime]) -> tuple[Any, Any, Any]:
    """The given UTC hours as a table in the FROM clause: (table, start, end), so each
    joins the Observations by an index range (`unnest` of an array on PostgreSQL, `json_each` of a
    JSON array of microseconds on SQLite)."""
    if connection.dialect.name == "postgresql":
        starts = "{" + ",".join(hour.isoformat() for hour in hours) + "}"
        ends = "{" + ",".join((hour + HOUR).isoformat() for hour in hours) + "}"
        table = (
            func.unnest(text_array(literal(starts, Text())), text_array(literal(ends, Text())))
            .table_valued("hour_start", "hour_end")
            .render_derived(name="cut")
        )
        return table, table.c.hour_start, table.c.hour_end
    micros = "[" + ",".join(str(to_micros(hour)) for hour in hours) + "]"
    table = func.json_each(literal(micros, Text())).table_valued("value", name="cut")
    return table, table.c.value, table.c.value + _HOUR_MICROS


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


def rollup_rows(connection: Connection, datastream_id: int) -> list[dict[str, Any]]:
    """The Datastream's rollups as dicts, oldest hour first (for tests and diagnostics)."""
    rows = connection.execute(
        select(rollups).where(rollups.c.datastream_id == datastream_id).order_by(rollups.c.hour_start)
    )
    return [dict(row._mapping) for row in rows]


def watermark(connection: Connection, datastream_id: int) -> Watermark | None:
    """The Datastream's watermark, None when it has none (for tests and diagnostics)."""
    row = connection.execute(select(state).where(state.c.datastream_id == datastream_id)).first()
    if row is None:
        return None
    return Watermark(row.merged_through, row.pending_through, frozenset(row.pending_transactions or ()))


__all__ = [
    "GUARD_ROWS",
    "BucketStats",
    "Watermark",
    "advance",
    "aggregate",
    "invalidate",
    "on_whole_hours",
    "refresh",
    "rollup_rows",
    "watermark",
]
