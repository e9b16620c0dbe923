"""Read replicas: which PostgreSQL a read goes to (streaming replication; docs/scaling.md).

Writes always go to the primary. A read goes to a replica that is up, within the lag the settings
allow, and has replayed the WAL position the reading client must see (its own last write, see
`reading_after`); otherwise to the primary. A replica's state is checked at most once a
`check_seconds` (three cheap functions: `pg_is_in_recovery()`, `pg_last_wal_replay_lsn()` on it and
`pg_current_wal_lsn()` on the primary), in a thread started by the first read after that; a
replica whose connection fails is left alone for `down_seconds`. So a replica that falls behind or
goes away costs its readers no error, only a read on the primary.

The lag is measured without clocks: each check notes the primary's WAL position and the moment,
and a replica is as far behind as the newest noted moment whose position it has replayed (a
replica on another host with a skewed clock, or a primary without writes for an hour, changes
nothing; PostgreSQL's `pg_last_xact_replay_timestamp()` would be wrong in both).

Only `store/` knows of replicas: services take a read connection with `read_connection(engine)` at
their read points, and the HTTP layer hands the client's position in with `reading_after`.
"""

from __future__ import annotations

import logging
import math
import threading
import time
import weakref
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, replace
from itertools import count
from typing import Any

from sqlalchemy import Connection, Engine, event, text
from sqlalchemy.engine.url import make_url
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from urbantwin.settings import Settings
from urbantwin.store.engine import for_reads, make_engine

log = logging.getLogger("urbantwin.store")

#: Seconds between two checks of the replicas' state.
CHECK_SECONDS = 1.0
#: Seconds a replica whose connection failed is not tried again.
DOWN_SECONDS = 5.0
#: Longest wait for a replica's connection, in seconds: one on a host that went away must not hold a
#: reader for the kernel's TCP timeout (minutes) before the primary answers instead.
CONNECT_TIMEOUT_SECONDS = 2


def parse_lsn(value: str) -> int:
    """A WAL position as PostgreSQL writes it (`16/B374D848`: two hexadecimal halves) as a number
    (ValueError for anything else)."""
    high, separator, low = value.strip().partition("/")
    if not separator or not high or not low or len(high) > 8 or len(low) > 8:
        raise ValueError(f"not a WAL position: {value!r}")
    return (int(high, 16) << 32) | int(low, 16)


def format_lsn(position: int) -> str:
    return f"{position >> 32:X}/{position & 0xFFFFFFFF:X}"


@dataclass
class ReadPosition:
    """What one request's reads must see, and whether it wrote (a commit on the primary)."""

    #: The WAL position the client's reads must have: a replica is used only once it has replayed
    #: it (0: any replica within the lag will do).
    after: int = 0
    wrote: bool = False


_POSITION: ContextVar[ReadPosition | None] = ContextVar("urbantwin_read_position", default=None)


@contextmanager
def reading_after(position: int) -> Iterator[ReadPosition]:
    """Reads within see at least WAL `position` (the client's last write); the `ReadPosition`
    yielded says afterwards whether anything was committed on the primary meanwhile. The object is
    shared by the threads a request's work runs in (they get a copy of the context, not of it)."""
    state = ReadPosition(position)
    token = _POSITION.set(state)
    try:
        yield state
    finally:
        _POSITION.reset(token)


@dataclass
class ReplicaState:
    """What the last check found of one replica."""

    #: The replica's address without credentials (`host:port/database`), for /ready and /metrics.
    name: str
    up: bool = False
    #: The WAL position it has replayed (0: unknown).
    replayed: int = 0
    #: Seconds it is behind the primary (None: not known to have replayed anything noted yet).
    lag_seconds: float | None = None
    #: Until when (monotonic) it is not tried again after a failed connection.
    down_until: float = 0.0


class Replica:
    def __init__(self, engine: Engine, name: str) -> None:
        self.engine = engine
        self.reads = for_reads(engine)
        self.state = ReplicaState(name)


class ReadRouter:
    """The primary's engine and its replicas: hands out read connections (`connect`) and keeps
    the replicas' state."""

    def __init__(
        self,
        primary: Engine,
        replicas: list[tuple[str, Engine]],
        max_lag_seconds: float,
        check_seconds: float = CHECK_SECONDS,
        down_seconds: float = DOWN_SECONDS,
    ) -> None:
        self.primary = primary
        self.primary_reads = for_reads(primary)
        self.replicas = [Replica(engine, name) for name, engine in replicas]
        self.max_lag_seconds = max_lag_seconds
        self.check_seconds = check_seconds
        self.down_seconds = down_seconds
        #: (monotonic moment, primary's WAL position) of recent checks, oldest first.
        self._noted: deque[tuple[float, int]] = deque()
        self._checked_at = float("-inf")
        self._checking = threading.Lock()
        self._turn = count()
        # A commit on the primary within a request marks it as a write (the HTTP layer then hands
        # the client the primary's position). A read-only transaction that commits counts too: its
        # client reads the primary for a moment, which is safe.
        event.listen(primary, "commit", _note_commit)

    @property
    def position_lifetime_seconds(self) -> int:
        """How long a client's write position matters: after it every replica within the lag limit
        has replayed it (the lag is measured at checks `check_seconds` apart, and the position falls
        between two of them), with a margin."""
        return math.ceil(self.max_lag_seconds + 2 * self.check_seconds + 5)

    def connect(self) -> Connection:
        """A connection in autocommit for reads of the current client: on a replica that is fit for
        them, else on the primary."""
        needed = _required_position()
        self.refresh()
        now = time.monotonic()
        fit = [r for r in self.replicas if self._fit(r.state, needed, now)]
        if fit:
            start = next(self._turn) % len(fit)  # each process spreads its reads over the replicas
            for replica in fit[start:] + fit[:start]:
                try:
                    return replica.reads.connect()
                except DBAPIError as exc:
                    self._mark_down(replica, exc)
        return self.primary_reads.connect()

    def _fit(self, state: ReplicaState, needed: int, now: float) -> bool:
        return (
            state.up
            and state.down_until <= now
            and state.lag_seconds is not None
            and state.lag_seconds <= self.max_lag_seconds
            and state.replayed >= needed
        )

    def _mark_down(self, replica: Replica, exc: Exception) -> None:
        state = replica.state
        if state.up:
            log.warning(
                "read replica %s is down for %g s: %s", state.name, self.down_seconds, _first_line(exc)
            )
        state.up = False
        state.down_until = time.monotonic() + self.down_seconds

    def refresh(self, force: bool = False) -> None:
        """Check the replicas if the last check is older than `check_seconds`: in a thread of its
        own, so that no reader waits for it (a replica on a host that went away answers only after
        the connect timeout), while the readers go by the last check's findings. `force`: check
        now, in this thread, and return when done."""
        if not force and time.monotonic() - self._checked_at < self.check_seconds:
            return
        if not self._checking.acquire(blocking=force):
            return  # a check is under way
        if force:
            self._check_and_release()
        else:
            threading.Thread(
                target=self._check_and_release, name="urbantwin-replica-check", daemon=True
            ).start()

    def _check_and_release(self) -> None:
        try:
            self._check()
        finally:
            self._checking.release()

    def _check(self) -> None:
        self._checked_at = time.monotonic()  # also when the primary fails: not again at once
        try:
            with self.primary_reads.connect() as connection:
                current = parse_lsn(
                    connection.execute(text("SELECT pg_current_wal_lsn()::text")).scalar_one()
                )
        except SQLAlchemyError as exc:
            # Without the primary there is no lag to measure; the replicas keep their last state and
            # the primary's own error reaches whoever writes.
            log.warning("read replicas not checked: the primary does not answer: %s", _first_line(exc))
            return
        now = time.monotonic()
        self._noted.append((now, current))
        # The noted positions are needed as far back as the lag allowed (and one older, to tell a
        # replica just beyond it from one not known at all).
        horizon = now - self.max_lag_seconds - 2 * self.check_seconds
        while len(self._noted) > 1 and self._noted[1][0] < horizon:
            self._noted.popleft()
        for replica in self.replicas:
            self._check_replica(replica, current, now)

    def _check_replica(self, replica: Replica, current: int, now: float) -> None:
        state = replica.state
        if state.down_until > now:
            return
        try:
            with replica.reads.connect() as connection:
                recovering, replayed = connection.execute(
                    text("SELECT pg_is_in_recovery(), pg_last_wal_replay_lsn()::text")
                ).one()
        except DBAPIError as exc:
            self._mark_down(replica, exc)
            return
        if not recovering or replayed is None:
            # Promoted (it takes writes of its own now) or not a replica at all: its reads would
            # not follow the primary's writes.
            if state.up:
                log.warning("read replica %s is not in recovery: not read from", state.name)
            state.up = False
            return
        if not state.up:
            log.info("read replica %s is up", state.name)
        state.up = True
        state.replayed = parse_lsn(replayed)
        state.lag_seconds = self._lag(state.replayed, current, now)

    def _lag(self, replayed: int, current: int, now: float) -> float | None:
        """Seconds since the newest noted moment whose primary position `replayed` covers."""
        if replayed >= current:
            return 0.0
        newest = None
        for moment, position in self._noted:
            if position <= replayed:
                newest = moment
        return None if newest is None else now - newest

    def primary_position(self) -> int:
        """The primary's WAL insert position: every change committed before this call lies below it
        (the insert position rather than the flushed one, so that a commit not yet flushed by
        `synchronous_commit = off` is covered too)."""
        with self.primary_reads.connect() as connection:
            return parse_lsn(
                connection.execute(text("SELECT pg_current_wal_insert_lsn()::text")).scalar_one()
            )

    def report(self) -> list[dict[str, Any]]:
        """Each replica's state as of the last check (made first if it is due), for /ready and
        /metrics: its name, whether it is up, whether reads go to it, its lag in seconds."""
        self.refresh()
        now = time.monotonic()
        return [
            {
                "name": replica.state.name,
                "up": replica.state.up and replica.state.down_until <= now,
                "readable": self._fit(replica.state, 0, now),
                "lag_seconds": None
                if replica.state.lag_seconds is None
                else round(replica.state.lag_seconds, 3),
            }
            for replica in self.replicas
        ]

    def dispose(self) -> None:
        """Detach from the primary's engine and close the replicas' connections."""
        if _ROUTERS.get(self.primary.pool) is self:
            del _ROUTERS[self.primary.pool]
        event.remove(self.primary, "commit", _note_commit)
        for replica in self.replicas:
            replica.engine.dispose()


def _required_position() -> int:
    state = _POSITION.get()
    return state.after if state is not None else 0


def _note_commit(_connection: Any) -> None:
    state = _POSITION.get()
    if state is not None:
        state.wrote = True


def _first_line(exc: Exception) -> str:
    original = getattr(exc, "orig", None)
    return (str(original if original is not None else exc).splitlines() or [type(exc).__name__])[0]


def replica_name(url: str) -> str:
    """The replica's address as logs and metrics show it: host, port and database, no credentials."""
    parsed = make_url(url)
    return f"{parsed.host or 'localhost'}:{parsed.port or 5432}/{parsed.database or ''}"


#: The router of each primary engine that has replicas, by the engine's pool (which the engine's
#: copies made by `for_reads` and `for_writes` share).
_ROUTERS: weakref.WeakKeyDictionary[Any, ReadRouter] = weakref.WeakKeyDictionary()


def attach(router: ReadRouter) -> ReadRouter:
    """Make `router` the one `read_connection` uses for its primary's engine."""
    _ROUTERS[router.primary.pool] = router
    return router


def router_of(engine: Engine) -> ReadRouter | None:
    """The replica router of `engine` (None: it has no replicas)."""
    return _ROUTERS.get(engine.pool)


def read_connection(engine: Engine) -> Connection:
    """A connection for reads in autocommit (`for_reads`), on a replica when `engine` has replicas
    fit for the current client, else on `engine` itself. Used as `with read_connection(engine) as c`
    at every read point that may be served by a replica: no write may be made on it."""
    router = _ROUTERS.get(engine.pool)
    if router is None:
        return for_reads(engine).connect()
    return router.connect()


def attach_replicas(engine: Engine, settings: Settings) -> ReadRouter | None:
    """The router of `settings.database_replica_urls` for the primary `engine`, attached to it; None
    without replicas. Replicas of a SQLite store are refused: it has no replication."""
    if not settings.database_replica_urls:
        return None
    if engine.dialect.name != "postgresql":
        raise ValueError(
            "setting database_replica_urls: read replicas need a PostgreSQL store (database_url)"
        )
    replicas = []
    for number, url in enumerate(settings.database_replica_urls, 1):
        if not url.startswith("postgresql"):
            # The URL itself is not shown: it may hold a password.
            raise ValueError(
                f"setting database_replica_urls: entry {number} is not a PostgreSQL URL (postgresql+psycopg://…)"
            )
        replica_settings = replace(settings, database_url=url, database_replica_urls=())
        replicas.append((replica_name(url), make_engine(replica_settings, CONNECT_TIMEOUT_SECONDS)))
    return attach(ReadRouter(engine, replicas, settings.database_replica_max_lag_seconds))
