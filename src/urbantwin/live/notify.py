"""Change events and their fan-out: from a committed write to every subscriber of every process.

Three stages, each in its own place so that nothing is announced before it is committed and no
process relies on another's memory:

1. `CommitBound` holds what a write transaction recorded (`ChangeSet`s, ids only) on its connection
   and lets go of it only once the outermost transaction has committed: a write that rolls back,
   a failed request of a `$batch` change set, a savepoint given up, announce nothing.
2. A bus carries committed changes to every server process: `PostgresBus` by `NOTIFY` on one
   channel (each process `LISTEN`s; payloads are ids, see `changes.py`), `LocalBus` within the
   one process that SQLite allows.
3. The `Hub` of each process reads the rows of the changes it hears of (once per batch, whatever
   the number of subscribers) and hands the events to its sinks: the MQTT publisher (which publishes
   only the changes its own process made, so each reaches the broker once) and the Server-Sent Events
   streams of its clients.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import psycopg
from sqlalchemy import Connection, Engine, event
from sqlalchemy.exc import DBAPIError

from urbantwin.live.changes import ChangeSet
from urbantwin.live.events import BBox, EntityEvent, Rendering, feature_bbox, read_events, thing_bbox
from urbantwin.sensorthings.model import FEATURE_OF_INTEREST, HISTORICAL_LOCATION, LOCATION, THING
from urbantwin.store.notify import listening_connection, notifications, notify, try_slot

log = logging.getLogger("urbantwin.live")

MAX_SLOTS = 256


# --- 1. held until commit -------------------------------------------------------------------------


@dataclass
class _Held:
    pending: list[ChangeSet] = field(default_factory=list)
    #: Length of `pending` at each open savepoint, to forget what a rolled-back savepoint recorded.
    marks: list[int] = field(default_factory=list)
    committed: list[ChangeSet] = field(default_factory=list)


class CommitBound:
    """Holds the changes a transaction records until it commits, then hands them to `deliver`.

    SQLAlchemy Core has no "after commit" event, so the changes move from pending to committed when
    the outermost transaction commits, and are delivered when the connection goes back to the pool,
    which is after the database has confirmed the commit. Everything lives in `connection.info`,
    so concurrent requests on other connections never see each other's changes.
    """

    def __init__(self, engine: Engine, deliver: Callable[[ChangeSet], None]) -> None:
        self.engine = engine
        self.deliver = deliver
        self.key = f"urbantwin.live.{id(self)}"
        self._listeners: list[tuple[Any, str, Callable[..., None]]] = [
            (engine, "commit", self._commit),
            (engine, "rollback", self._rollback),
            (engine, "savepoint", self._savepoint),
            (engine, "rollback_savepoint", self._rollback_savepoint),
            (engine, "release_savepoint", self._release_savepoint),
            (engine.pool, "checkin", self._checkin),
        ]

    def install(self) -> None:
        for target, name, listener in self._listeners:
            event.listen(target, name, listener)

    def remove(self) -> None:
        for target, name, listener in self._listeners:
            if event.contains(target, name, listener):
                event.remove(target, name, listener)

    def record(self, connection: Connection, changes: ChangeSet) -> None:
        """Remember `changes` of the transaction running on `connection`."""
        if changes:
            self._held(connection.info).pending.append(changes)

    def _held(self, info: dict[Any, Any]) -> _Held:
        held = info.get(self.key)
        if held is None:
            held = info[self.key] = _Held()
        return held

    def _commit(self, connection: Connection) -> None:
        held = connection.info.get(self.key)
        if held is not None and held.pending:
            held.committed.extend(held.pending)
            held.pending.clear()
            held.marks.clear()

    def _rollback(self, connection: Connection) -> None:
        held = connection.info.get(self.key)
        if held is not None:
            held.pending.clear()
            held.marks.clear()

    def _savepoint(self, connection: Connection, _name: str) -> None:
        held = self._held(connection.info)
        held.marks.append(len(held.pending))

    def _rollback_savepoint(self, connection: Connection, _name: str, _context: Any) -> None:
        held = connection.info.get(self.key)
        if held is not None and held.marks:
            del held.pending[held.marks.pop() :]

    def _release_savepoint(self, connection: Connection, _name: str, _context: Any) -> None:
        held = connection.info.get(self.key)
        if held is not None and held.marks:
            held.marks.pop()

    def _checkin(self, _dbapi_connection: Any, record: Any) -> None:
        held = record.info.get(self.key) if record is not None else None
        if held is None or not held.committed:
            return
        committed, held.committed = held.committed, []
        merged = ChangeSet()
        for changes in committed:
            merged.merge(changes)
        self.deliver(merged)


# --- 3. the hub of one process --------------------------------------------------------------------


class Geometries:
    """Bounding boxes of FeaturesOfInterest and of Things' Locations, cached until they change."""

    LIMIT = 100_000

    def __init__(self) -> None:
        self.features: dict[int, BBox | None] = {}
        self.things: dict[int, BBox | None] = {}

    def forget(self, events: list[EntityEvent]) -> None:
        entities = {e.entity.name for e in events}
        if FEATURE_OF_INTEREST.name in entities:
            self.features.clear()
        if entities & {LOCATION.name, THING.name, HISTORICAL_LOCATION.name}:
            self.things.clear()

    def feature(self, connection: Connection, ident: int | None) -> BBox | None:
        if ident is None:
            return None
        if ident not in self.features:
            if len(self.features) > self.LIMIT:
                self.features.clear()
            self.features[ident] = feature_bbox(connection, ident)
        return self.features[ident]

    def thing(self, connection: Connection, ident: int | None) -> BBox | None:
        if ident is None:
            return None
        if ident not in self.things:
            if len(self.things) > self.LIMIT:
                self.things.clear()
            self.things[ident] = thing_bbox(connection, ident)
        return self.things[ident]


@dataclass
class Context:
    """What a sink may look up while it is handed events: the hub's connection and caches."""

    connection: Connection
    geometries: Geometries

    def feature_bbox(self, ident: int | None) -> BBox | None:
        return self.geometries.feature(self.connection, ident)

    def thing_bbox(self, ident: int | None) -> BBox | None:
        return self.geometries.thing(self.connection, ident)


class Sink(Protocol):
    def deliver(self, events: list[EntityEvent], local: bool, context: Context) -> None:
        """Take the events of one batch; `local`: made by this process. Runs in the hub's thread."""


def wants_remote(sink: Sink) -> bool:
    """Whether a sink takes changes other processes made (`remote = False` on the sink says no)."""
    return getattr(sink, "remote", True)


def renderings(sinks: list[Sink]) -> list[Rendering]:
    """The bodies the sinks will send, for the database to write while it reads the rows."""
    return [key for sink in sinks for key in getattr(sink, "renderings", ())]


def reads_rows(sinks: list[Sink]) -> bool:
    """Whether a sink needs the entities' columns, not only the bodies of its `renderings`
    (`reads_rows = False` on a sink says it sends nothing but those bodies)."""
    return any(getattr(sink, "reads_rows", True) for sink in sinks)


class Hub:
    """Reads the rows of committed changes once and hands the events to every sink of the process."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.geometries = Geometries()
        self._inbox: queue.SimpleQueue[tuple[ChangeSet, bool] | None] = queue.SimpleQueue()
        self._sinks: list[Sink] = []
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def add_sink(self, sink: Sink) -> None:
        with self._lock:
            self._sinks.append(sink)

    def sinks(self) -> list[Sink]:
        with self._lock:
            return list(self._sinks)

    def remove_sink(self, sink: Sink) -> None:
        with self._lock:
            if sink in self._sinks:
                self._sinks.remove(sink)

    @property
    def depth(self) -> int:
        """How many change sets wait for the hub's thread (the metrics' queue depth)."""
        return self._inbox.qsize()

    def dispatch(self, changes: ChangeSet, local: bool) -> None:
        """Committed changes to announce (from any thread)."""
        self._inbox.put((changes, local))

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="urbantwin-live-hub", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self._inbox.put(None)
            self._thread.join(timeout=10)
            self._thread = None

    def _run(self) -> None:
        running = True
        while running:
            item = self._inbox.get()
            local, remote = ChangeSet(), ChangeSet()
            while item is not None:
                (local if item[1] else remote).merge(item[0])
                try:
                    item = self._inbox.get_nowait()
                except queue.Empty:
                    break
            if item is None:
                running = False
            for changes, is_local in ((local, True), (remote, False)):
                if changes:
                    try:
                        self._deliver(changes, is_local)
                    except Exception:  # noqa: BLE001 - the hub must outlive any one bad batch
                        log.exception("live updates: %d changes were not announced", changes.count())

    def _deliver(self, changes: ChangeSet, local: bool) -> None:
        with self._lock:
            sinks = [sink for sink in self._sinks if local or wants_remote(sink)]
        if not sinks:
            return  # nobody here wants these changes: no need to read the rows
        for attempt in range(6):
            try:
                with self.engine.connect() as connection:
                    events = read_events(connection, changes, renderings(sinks), reads_rows(sinks))
                    self.geometries.forget(events)
                    context = Context(connection, self.geometries)
                    for sink in sinks:
                        try:
                            sink.deliver(events, local, context)
                        except Exception:  # noqa: BLE001 - one broken sink must not starve the others
                            log.exception("live updates: a subscriber failed")
                return
            except DBAPIError as exc:
                log.warning("live updates: reading %d changes failed (%s); retrying", changes.count(), exc)
                time.sleep(min(0.1 * 2**attempt, 3.0))
        log.error("live updates: %d changes were not announced (the store is unreachable)", changes.count())


# --- 2. the buses ---------------------------------------------------------------------------------


class LocalBus:
    """One process (SQLite): committed changes go straight to the hub."""

    slot = 0

    def __init__(self, hub: Hub) -> None:
        self.hub = hub

    def start(self) -> int:
        return self.slot

    def stop(self) -> None:
        pass

    def publish(self, changes: ChangeSet) -> None:
        self.hub.dispatch(changes, local=True)


class PostgresBus:
    """Several processes on one PostgreSQL: committed changes go out by NOTIFY, come in by LISTEN.

    Each process also takes a slot, the lowest number whose advisory lock is free, held by its
    listening connection: it names the process's MQTT client (so a restarted process resumes the
    broker session of the one it replaces), and slot 0 receives the Observations sensors publish.
    """

    def __init__(self, engine: Engine, hub: Hub, origin: str) -> None:
        self.engine = engine
        self.hub = hub
        self.origin = origin
        self.slot = -1
        self._outbox: queue.SimpleQueue[ChangeSet | None] = queue.SimpleQueue()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._listener: psycopg.Connection | None = None
        #: Told the new slot when the process had to take another one (its listening connection
        #: failed and another process took its slot meanwhile): the MQTT bridge's session follows.
        self.on_slot: Callable[[int], None] | None = None

    def start(self) -> int:
        self._listener = self._listen()
        for name, target in (("notify", self._notify_loop), ("listen", self._listen_loop)):
            thread = threading.Thread(target=target, name=f"urbantwin-live-{name}", daemon=True)
            thread.start()
            self._threads.append(thread)
        return self.slot

    def stop(self) -> None:
        self._stop.set()
        self._outbox.put(None)
        self._wake_listener()
        for thread in self._threads:
            thread.join(timeout=10)
        self._threads.clear()
        if self._listener is not None:
            self._listener.close()
            self._listener = None

    def publish(self, changes: ChangeSet) -> None:
        self._outbox.put(changes)

    @property
    def depth(self) -> int:
        """How many committed change sets wait to be sent by NOTIFY (the metrics' queue depth)."""
        return self._outbox.qsize()

    def _wake_listener(self) -> None:
        """An empty notification, so the listening loop sees the stop now rather than after its
        wait (every app's stop took half a second); the other processes pass over it."""
        try:
            with self.engine.connect() as connection:
                notify(connection, [""])
                connection.commit()
        except DBAPIError:
            pass  # the database is gone: the loop ends after its wait, as before

    # --- listening ------------------------------------------------------------------------------

    def _listen(self) -> psycopg.Connection:
        connection = listening_connection(self.engine)
        try:
            before, self.slot = self.slot, self._take_slot(connection)
        except BaseException:
            connection.close()
            raise
        if before >= 0 and self.slot != before and self.on_slot is not None:
            self.on_slot(self.slot)
        return connection

    def _take_slot(self, connection: psycopg.Connection) -> int:
        wanted = [self.slot] if self.slot >= 0 else []
        for slot in [*wanted, *range(MAX_SLOTS)]:
            if try_slot(connection, slot):
                if wanted and slot != wanted[0]:
                    log.warning(
                        "live updates: slot %d was taken meanwhile; this process is now %d", wanted[0], slot
                    )
                return slot
        raise RuntimeError(f"more than {MAX_SLOTS} server processes share this database")

    def _listen_loop(self) -> None:
        delay = 0.1
        while not self._stop.is_set():
            connection = self._listener
            try:
                if connection is None or connection.closed:
                    connection = self._listener = self._listen()
                    log.info("live updates: listening again on PostgreSQL")
                    delay = 0.1
                for payload in notifications(connection, timeout=0.5):
                    if self._stop.is_set():
                        break
                    if not payload:
                        continue  # a stopping process woke its own listener (`_wake_listener`)
                    try:
                        changes = ChangeSet.decode(payload)
                    except ValueError:
                        log.warning("live updates: a notification that is no change set was ignored")
                        continue
                    self.hub.dispatch(changes, local=changes.origin == self.origin)
            except psycopg.Error as exc:
                if self._stop.is_set():
                    break
                log.warning("live updates: the listening connection failed (%s); again in %.1f s", exc, delay)
                if connection is not None:
                    connection.close()
                self._listener = None
                self._stop.wait(delay)
                delay = min(delay * 2, 5.0)

    # --- notifying ------------------------------------------------------------------------------

    def _notify_loop(self) -> None:
        delay = 0.1
        waiting = ChangeSet(origin=self.origin)
        while True:
            if not waiting:
                item = self._outbox.get()
                if item is None:
                    return
                waiting.merge(item)
            # Everything committed meanwhile goes out together: one notification for many writes.
            while True:
                try:
                    item = self._outbox.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    self._send(waiting)
                    return
                waiting.merge(item)
            try:
                self._send(waiting)
                waiting = ChangeSet(origin=self.origin)
                delay = 0.1
            except DBAPIError as exc:
                if self._stop.is_set():
                    return
                log.warning("live updates: NOTIFY failed (%s); again in %.1f s", exc, delay)
                self._stop.wait(delay)
                delay = min(delay * 2, 5.0)

    def _send(self, changes: ChangeSet) -> None:
        if not changes:
            return
        with self.engine.connect() as connection:
            notify(connection, changes.encode())
            connection.commit()
