"""The SensorThings MQTT extension against a real broker (`URBANTWIN_MQTT_URL`).

Publishing: the bridge is a sink of the process's hub and publishes every create and update its own
process committed to the topics of `topics.py` (QoS 0, as the extension's notifications usually
are; what happens while the broker is away is not kept). Each message carries the MQTT 5 user
property `urbantwin=notification`, so the server never mistakes its own notification for a create.
The SensorThings topics carry only entities anonymous clients may read: anyone can subscribe to a
plain broker. Where the broker enforces ACLs (`URBANTWIN_MQTT_BROKER_ACL`), an entity of a restricted
dataset is published under its dataset's root (`datasets/<id>/v1.1/…`, access/broker.py), which the
broker lets only that dataset's readers receive; elsewhere it is not published.

Creating: every server process (of every node sharing the store) subscribes (QoS 1) to
`v1.1/Observations` and `v1.1/+/Observations` as a member of one MQTT 5 shared subscription
(`$share/<client id>/…`), so the broker hands each published Observation to one process only and
ingest spreads over all of them. The broker cannot tell the server who published a message, so
Observations are created as the principal of `URBANTWIN_MQTT_WRITE_TOKEN` (the broker's own
authentication and ACLs decide who may publish to the creation topics), or anonymously where
`URBANTWIN_ALLOW_ANONYMOUS_WRITES` lets anonymous clients write over HTTP too; with neither, the
server subscribes to no creation topic.
Messages are stored in batches through the SensorThings service (simple Observations as one dataArray
block per Datastream, anything else one by one), and each is acknowledged (PUBACK) only after its batch
has committed; the session is persistent (a fixed client id per slot, clean start off), so what the
broker holds unacknowledged when a connection ends (a crash, a keepalive missed by a starved process,
a write that timed out, a broker restart) is sent again, with DUP, on the session's next connection.

Each Observation is stored exactly once, by these rules:
- The fingerprint of a message is its topic and payload (`store/ingest_marks.py`). Those of each
  committed batch are written in its transaction, and a process remembers its session's newest
  `KEPT_MESSAGES` (counted in messages: more than the broker's in-flight window plus a batch); a DUP
  message found there, or earlier in the batch in hand, is acknowledged and not stored. One not found
  makes the process read the session's rows written since it last looked (another process may have
  held the session before it).
- Only messages of the current connection are stored: what a process received on an earlier one and
  had not stored yet is dropped, as the broker sends it again on the current one. (A process that
  fell behind once held the copies of several connections and stored them all.)
- A batch whose commit's answer was lost (the connection broke at COMMIT) is looked up by its
  fingerprints before it is tried again.
- A client id is one process's: a process whose slot another took while its listening connection
  was down moves to its new slot's session (`move`); two processes under one client id would take
  the session from each other, each storing what the other had not acknowledged.
A sensor that sends the same message twice (no DUP) is stored twice, as it should be: the broker
marks every message it sends again in a session, and Mosquitto 2.0 never moves a message to another
member of a shared subscription. `urbantwin_mqtt_session_events_total` counts, per session, what
happened (connections, takeovers, messages sent again, copies dropped, retries).

A message that can never be stored (bad JSON, an unknown Datastream, no permission) is logged and
acknowledged; a store that is unreachable is retried until it answers, without acknowledging anything.
"""

from __future__ import annotations

import logging
import queue
import secrets
import ssl
import threading
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

import orjson
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from urbantwin.access.authenticate import Authenticator
from urbantwin.access.broker import dataset_topic_root
from urbantwin.access.gate import Access, Caller
from urbantwin.access.principal import ANONYMOUS, Principal
from urbantwin.errors import BadRequest, PlatformError
from urbantwin.http import parse_json
from urbantwin.live.changes import CREATE
from urbantwin.live.events import EntityEvent, renders_in_database
from urbantwin.live.notify import Context
from urbantwin.live.topics import creation_filters, creation_path, parse_selects, topics_of
from urbantwin.live.wire import (
    Message,
    Publisher,
    Receiver,
    publish_head,
    publish_packet,
    publish_with_head,
    user_property,
)
from urbantwin.metrics import created_observations, ingested, session_event
from urbantwin.sensorthings.model import OBSERVATION
from urbantwin.sensorthings.service import VERSION, SensorThingsService
from urbantwin.sensorthings.values import entity_id
from urbantwin.settings import Settings
from urbantwin.store.ingest_marks import (
    KEPT_MESSAGES,
    batch_committed,
    digest,
    pack,
    recent_batches,
    record_batch,
)

log = logging.getLogger("urbantwin.live")

CONFORMANCE_CREATE = (
    "http://www.opengis.net/spec/iot_sensing/1.1/req/create-observations-via-mqtt/observations-creation"
)
CONFORMANCE_RECEIVE = (
    "http://www.opengis.net/spec/iot_sensing/1.1/req/receive-updates-via-mqtt/receive-updates"
)


def stores_creates(settings: Settings) -> bool:
    """Whether Observations published to the creation topics are stored: MQTT is on and they have a
    principal to be written as (the write token's, or anonymous where anonymous writes are allowed)."""
    return bool(settings.mqtt_url) and (bool(settings.mqtt_write_token) or settings.allow_anonymous_writes)


#: Most messages stored in one transaction.
INGEST_BATCH = 2_000
#: Unacknowledged messages the broker may send ahead (MQTT 5 Receive Maximum): several batches, so
#: that the broker keeps sending while a batch commits and its acknowledgements travel back.
RECEIVE_MAXIMUM = 10 * INGEST_BATCH
assert KEPT_MESSAGES >= RECEIVE_MAXIMUM + INGEST_BATCH, "the marks must outlast the in-flight window"
#: How long the broker keeps the server's session (and what it holds for it) while it is away.
SESSION_EXPIRY_SECONDS = 7 * 24 * 3600
NOTIFICATION = ("urbantwin", "notification")
_NOTIFICATION_PROPERTIES = user_property(*NOTIFICATION)
#: Keys of a JSON Observation that the dataArray fast path takes (anything else goes one by one).
_ARRAY_KEYS = {"phenomenonTime", "resultTime", "result", "resultQuality", "validTime", "parameters"}


@dataclass(frozen=True)
class Broker:
    """Where the broker is, from `mqtt://[user:password@]host[:port]` (`mqtts://` for TLS)."""

    host: str
    port: int
    tls: bool
    username: str | None
    password: str | None

    @classmethod
    def parse(cls, url: str) -> Broker:
        parts = urlsplit(url)
        if parts.scheme not in ("mqtt", "tcp", "mqtts", "ssl") or not parts.hostname:
            raise ValueError("URBANTWIN_MQTT_URL must look like mqtt://host:1883 or mqtts://host:8883")
        tls = parts.scheme in ("mqtts", "ssl")
        return cls(parts.hostname, parts.port or (8883 if tls else 1883), tls, parts.username, parts.password)

    @property
    def public(self) -> str:
        """The address without credentials (safe for logs and the service root)."""
        return f"{'mqtts' if self.tls else 'mqtt'}://{self.host}:{self.port}"


class MqttBridge:
    #: Each process publishes only what it committed itself (`deliver`), so the hub need not read the
    #: rows of other processes' changes for it.
    remote = False

    def __init__(
        self,
        settings: Settings,
        service: SensorThingsService,
        authenticator: Authenticator,
        access: Access,
    ) -> None:
        self.settings = settings
        self.broker = Broker.parse(settings.mqtt_url)
        self.service = service
        self.authenticator = authenticator
        self.access = access
        self.prefix = settings.mqtt_topic_prefix
        self.selects = parse_selects(settings.mqtt_select_topics)
        base = settings.public_base_url.rstrip("/") or f"http://{settings.host}:{settings.port}"
        #: The API root that links in published entities start with.
        self.base = f"{base}/{VERSION}"
        self.slot = -1
        #: Set while notifications go out and, in the process that stores creates, come in.
        self.connected = threading.Event()
        #: The publish-only connection of the notifications where no creates are received (`wire.py`).
        self.publisher: Publisher | None = None
        #: The subscriber that receives creates (only in the process that stores them).
        self.receiver: Receiver | None = None
        self._inbox: queue.SimpleQueue[Message] = queue.SimpleQueue()
        self._stop = threading.Event()
        self._ingest_thread: threading.Thread | None = None
        #: Fingerprints of the session's newest stored messages: a message the broker sends again
        #: (DUP) because its PUBACK was lost with the connection is acknowledged, not stored twice.
        self._marks = Marks()
        #: Messages of an earlier connection dropped unstored (the broker sends them again).
        self.stale = 0
        #: The slot this process was moved to (`move`), taken up by the ingest thread.
        self._moving: int | None = None
        #: The receiver's takeovers counted so far (`session_event`).
        self._takeovers = 0
        #: Observations stored by the batch in hand (`_handle`), counted once it commits.
        self._stored = 0
        #: The broker session the creates come in on, and how many batches it has stored.
        self.client_id = ""
        self._batches = 0
        #: The topics' packet heads of creates, per entity set and parents (`_creation_heads`).
        self._heads: dict[tuple[str, str, tuple[tuple[str, int, str], ...]], list[tuple[bytes, Any]]] = {}
        #: The Observation bodies `deliver` sends: written by the database as it reads the rows.
        self.renderings = [(self.base, None)] + [
            (self.base, names) for names in self.selects.get(OBSERVATION.set_name, [])
        ]
        #: Creates go out as those bodies alone, so the hub need not read the Observations' columns
        #: (updates, whose property topics need them, are always read whole).
        self.reads_rows = not all(renders_in_database(r) for r in self.renderings)

    @property
    def creates(self) -> bool:
        """Whether Observations published to the creation topics are stored (see the module docstring)."""
        return stores_creates(self.settings)

    @property
    def public_url(self) -> str:
        return self.settings.mqtt_public_url or self.broker.public

    @property
    def _ingests(self) -> bool:
        return self.creates and self.slot >= 0

    @property
    def creation_subscriptions(self) -> list[str]:
        """The shared subscriptions of the creation topics: one group for every process of the platform."""
        group = "".join(c for c in self.settings.mqtt_client_id if c not in "/+#") or "urbantwin"
        return [f"$share/{group}/{topic}" for topic in creation_filters(self.prefix)]

    # --- life -----------------------------------------------------------------------------------

    def start(self, slot: int) -> None:
        self.slot = slot
        name = self._name
        tls = ssl.create_default_context() if self.broker.tls else None
        if self._ingests:
            # One connection both ways (notifications of any process that come back through the
            # shared subscription are told apart by their user property, see `_received`).
            self._start_receiving(name, tls)
        else:
            self.publisher = Publisher(
                self.broker.host,
                self.broker.port,
                name,
                self.broker.username,
                self.broker.password,
                tls,
                on_change=lambda _up: self._update_connected(),
            )
            self.publisher.start()
        log.info(
            "MQTT: connecting to %s as %s (%s)",
            self.public_url,
            name,
            "publishing changes; storing the Observations published to "
            + " and ".join(self.creation_subscriptions)
            if self._ingests
            else "publishing changes",
        )
        if not self.creates:
            log.info(
                "MQTT: Observations published to the broker are not stored: set URBANTWIN_MQTT_WRITE_TOKEN "
                "to the API token of the user they are created as"
            )

    def _start_receiving(self, name: str, tls: ssl.SSLContext | None) -> None:
        """The receiver of the creates: QoS 1, persistent session, acknowledged after commit."""
        self._receive_as(name, tls)
        self._ingest_thread = threading.Thread(
            target=self._ingest_loop, name="urbantwin-mqtt-ingest", daemon=True
        )
        self._ingest_thread.start()

    def _receive_as(self, name: str, tls: ssl.SSLContext | None) -> None:
        self.resume(name)
        self.receiver = Receiver(
            self.broker.host,
            self.broker.port,
            name,
            self.creation_subscriptions,
            self._received,
            self.broker.username,
            self.broker.password,
            tls,
            session_expiry=SESSION_EXPIRY_SECONDS,
            receive_maximum=RECEIVE_MAXIMUM,
            on_change=self._receiver_changed,
        )
        self._takeovers = 0
        self.receiver.start()

    def _receiver_changed(self, up: bool) -> None:
        """The receiver's thread: count the session's connections and takeovers."""
        receiver = self.receiver
        if receiver is not None:
            if up:
                session_event(receiver.client_id, "connected")
            if receiver.taken_over > self._takeovers:
                session_event(receiver.client_id, "taken_over", receiver.taken_over - self._takeovers)
                self._takeovers = receiver.taken_over
        self._update_connected()

    def move(self, slot: int) -> None:
        """This process holds another slot now (the bus's thread): its connection takes that slot's
        client id, as two processes under one client id would take the session from each other
        again and again, each storing what the other had stored and not acknowledged."""
        if slot == self.slot:
            return
        if self._ingests:
            self._moving = slot  # taken up by the ingest thread between two batches
            return
        self.slot = slot
        if self.publisher is not None:
            old = self.publisher
            self.publisher = Publisher(
                old.host, old.port, self._name, old.username, old.password, old.tls, on_change=old.on_change
            )
            old.stop()
            self.publisher.start()

    @property
    def _name(self) -> str:
        return f"{self.settings.mqtt_client_id}-{self.slot}"

    def _move(self, slot: int) -> None:
        """The ingest thread: leave the session of the old slot to the process that holds that slot
        now (what this process received in it and did not store is dropped; the broker sends it to
        that process), and take up the session of the new one."""
        self._moving = None
        old = self.receiver
        assert old is not None
        self.slot = slot
        log.warning("MQTT: this process holds slot %d now and receives as %s", slot, self._name)
        old.stop()
        dropped = 0
        while True:
            try:
                self._inbox.get_nowait()
            except queue.Empty:
                break
            dropped += 1
        self.stale += dropped
        session_event(old.client_id, "stale_dropped", dropped)
        self._receive_as(self._name, old.tls)

    def resume(self, client_id: str) -> None:
        """Take up the broker session `client_id`: what it stored last (before a crash, perhaps) is
        known, so the messages the broker sends again are acknowledged without being stored twice."""
        self.client_id = client_id
        self._marks = Marks()
        self._recall()

    def _recall(self) -> None:
        """Add the session's batches committed since those known (all, on resuming; afterwards only
        those another process committed while it held the session)."""
        for row, batch in recent_batches(self.service.write_engine, self.client_id, self._marks.last_row):
            self._marks.add(batch, row)

    def _received(self, message: Message) -> None:
        """The receiver's thread: queue what may be a create (other processes' notifications are not)."""
        if not (message.notification and message.qos == 0):
            self._inbox.put(message)

    def stop(self) -> None:
        self._stop.set()
        if self._ingest_thread is not None:
            self._ingest_thread.join(timeout=30)
        if self.receiver is not None:
            self.receiver.stop()
        if self.publisher is not None:
            self.publisher.stop()

    @property
    def inbox_depth(self) -> int:
        """How many received creates wait to be stored (the metrics' queue depth)."""
        return self._inbox.qsize()

    def _update_connected(self) -> None:
        out = self._out
        if out is not None and out.connected.is_set():
            self.connected.set()
        else:
            self.connected.clear()

    @property
    def _out(self) -> Publisher | Receiver | None:
        """The connection notifications go out on."""
        return self.receiver if self.receiver is not None else self.publisher

    # --- publishing (the hub's thread) ----------------------------------------------------------

    def deliver(self, events: list[EntityEvent], local: bool, context: Context) -> None:
        """Publish the changes this process made (the others publish their own), in one write."""
        out = self._out
        if not local or out is None or not out.connected.is_set():
            return
        # Asked per batch, not cached: a dataset that stops being open must stop being published
        # on the open topics at once (the hub merges what is waiting, so under load a batch holds
        # many changes).
        scope = self.access.scope(Caller(ANONYMOUS), context.connection)
        packets = []
        for entity_event in events:
            if scope.allows(entity_event.dataset_id):
                root = self.prefix
            elif self.settings.mqtt_broker_acl and entity_event.dataset_id is not None:
                root = dataset_topic_root(self.prefix, entity_event.dataset_id)
            else:
                continue  # no topic of the broker keeps it from those who may not read it
            if entity_event.kind == CREATE:
                # Thousands of Observations a second go to the same few topics: their packet heads
                # are made once (the packets of one Observation then cost about 1 µs, not 8).
                for head, select_ in self._creation_heads(entity_event, root):
                    payload = entity_event.body(self.base, select_)
                    packets.append(publish_with_head(head, payload))
                continue
            for topic in topics_of(entity_event, root, self.selects):
                if topic.property is not None:
                    value = entity_event.json(self.base).get(topic.property)
                    payload = orjson.dumps({topic.property: value})
                else:
                    payload = entity_event.body(self.base, topic.select)
                packets.append(publish_packet(topic.name, payload, _NOTIFICATION_PROPERTIES))
        out.send(packets)

    def _creation_heads(self, event: EntityEvent, root: str) -> list[tuple[bytes, tuple[str, ...] | None]]:
        """(PUBLISH head after the remaining length, selection) of each topic under `root` a create
        goes to."""
        key = (root, event.entity.set_name, tuple(event.parents))
        heads = self._heads.get(key)
        if heads is None:
            if len(self._heads) >= 50_000:
                self._heads.clear()  # bounded: a city's Datastreams and features, not every id ever
            heads = self._heads[key] = [
                (publish_head(topic.name, _NOTIFICATION_PROPERTIES), topic.select)
                for topic in topics_of(event, root, self.selects)
            ]
        return heads

    # --- creating (the ingest thread) -----------------------------------------------------------

    def _ingest_loop(self) -> None:
        while not self._stop.is_set():
            if self._moving is not None:
                self._move(self._moving)
            try:
                first = self._inbox.get(timeout=0.2)
            except queue.Empty:
                continue
            batch = [first]
            while len(batch) < INGEST_BATCH:
                try:
                    batch.append(self._inbox.get_nowait())
                except queue.Empty:
                    break
            batch = self._current(batch)
            if not batch:
                continue
            if not self._store(batch):
                return  # stopping before the batch committed: nothing is acknowledged
            assert self.receiver is not None
            self.receiver.ack(batch)  # in the order received, as MQTT asks

    def _current(self, batch: list[Message]) -> list[Message]:
        """The messages of `batch` that came on the receiver's current connection. What came on an
        earlier one was not acknowledged there and cannot be on this one: the broker has sent it
        again on this connection (DUP) or will on the next, so storing the stale copy too would store
        it twice (a process that fell behind held several connections' copies at once)."""
        assert self.receiver is not None
        generation = self.receiver.generation
        current = [m for m in batch if m.generation == generation]
        if len(current) < len(batch):
            self.stale += len(batch) - len(current)
            session_event(self.client_id, "stale_dropped", len(batch) - len(current))
            log.info(
                "MQTT: %d messages of an earlier connection dropped unstored (the broker sends them again)",
                len(batch) - len(current),
            )
        return current

    def _store(self, messages: list[Message]) -> bool:
        """Store the Observations of `messages` in one transaction; False if stopped before it committed."""
        fingerprints = [digest(m.topic, m.payload) for m in messages]
        if any(m.dup and f not in self._marks for m, f in zip(messages, fingerprints, strict=True)):
            # Sent again and not known here: another process may have stored it in this session
            # (one that held it before this one resumed it, or beside it under the same client id).
            self._recall()
        hashes: set[int] = set()
        creates = []
        resent = known = 0
        for message, fingerprint in zip(messages, fingerprints, strict=True):
            if message.dup:
                resent += 1
                if fingerprint in self._marks or fingerprint in hashes:
                    known += 1
                    continue  # stored already; its acknowledgement was lost with the connection
            hashes.add(fingerprint)
            create = self._creation(message)
            if create is not None:
                creates.append(create)
        session_event(self.client_id, "resent_stored", known)
        session_event(self.client_id, "resent_new", resent - known)
        if not creates:
            return True
        principal = self._principal()
        if principal is None:
            return True
        blocks, singles = _plan(creates)
        # With one fingerprint that no message has, so that this batch's row is told apart from that
        # of an earlier batch of the same messages (a sensor that sent the same value twice).
        packed = pack([*hashes, secrets.randbits(64)])
        delay = 0.1
        while True:
            self._stored = 0  # counted by `_handle`, known only once the transaction commits
            try:
                with self.service.write_engine.begin() as connection:
                    # All blocks in one request; if a Datastream refuses (unknown, not writable), that
                    # request rolls back to its savepoint and the blocks go one by one.
                    if blocks and not self._handle(connection, principal, "CreateObservations", blocks, True):
                        for block in blocks:
                            self._handle(connection, principal, "CreateObservations", [block])
                    for path, body in singles:
                        self._handle(connection, principal, path, body)
                    self._batches += 1
                    row = record_batch(connection, self.client_id, packed, self._batches)
                self._marks.add(hashes, row)
                ingested("mqtt", self._stored)
                return True
            except (OperationalError, InterfaceError) as exc:
                log.warning(
                    "MQTT: storing %d Observations failed (%s); again in %.1f s", len(creates), exc, delay
                )
                if self._stop.wait(delay):
                    return False
                delay = min(delay * 2, 5.0)
                session_event(self.client_id, "store_retried")
                if self._committed(packed):
                    # The commit went through and only its answer was lost: not again.
                    log.warning("MQTT: the %d Observations were stored after all", len(creates))
                    session_event(self.client_id, "commit_found")
                    self._marks.add(hashes, 0)
                    return True

    def _committed(self, packed: bytes) -> bool:
        """Whether the batch with these fingerprints committed (False while the store cannot say)."""
        try:
            return batch_committed(self.service.write_engine, self.client_id, packed)
        except (OperationalError, InterfaceError):
            return False

    def _handle(
        self, connection: Any, principal: Principal, path: str, body: Any, quiet: bool = False
    ) -> bool:
        """One create through the service, in a savepoint of the batch; False if it was refused."""
        count = sum(len(b["dataArray"]) for b in body) if path == "CreateObservations" else 1
        try:
            answer = self.service.handle("POST", path, "", body, self.base, principal, connection)
        except PlatformError as error:
            if not quiet:
                log.warning("MQTT: %d Observation(s) for %s not stored: %s", count, path, error.message)
            return False
        except (OperationalError, InterfaceError):
            raise
        except DBAPIError as error:
            if not quiet:
                log.warning("MQTT: %d Observation(s) for %s not stored: %s", count, path, error.orig)
            return False
        if isinstance(answer.body, list):
            failed = sum(1 for link in answer.body if link == "error")
            if failed:
                log.warning("MQTT: %d of %d Observations not stored (invalid values)", failed, count)
        self._stored += created_observations("POST", path, answer.status, answer.body)
        return True

    def _creation(self, message: Message) -> tuple[str, dict[str, Any]] | None:
        """(resource path, JSON Observation) of a message that creates one, else None."""
        if message.notification:
            return None  # another process's notification
        path = creation_path(message.topic, self.prefix)
        if path is None:
            return None
        try:
            body = parse_json(message.payload, self.settings, "the message")  # the one rule of JSON input
        except BadRequest as error:
            log.warning("MQTT: a message on %s is not stored: %s", message.topic, error.message)
            return None
        if not isinstance(body, dict):
            log.warning("MQTT: a message on %s is not a JSON object; not stored", message.topic)
            return None
        if "@iot.selfLink" in body:
            return None  # a notification (published without the user property)
        return path, body

    def _principal(self) -> Principal | None:
        """Who creates: the write token's principal (asked per batch, so a revoked token stops at once)."""
        token = self.settings.mqtt_write_token
        if not token:
            return ANONYMOUS
        try:
            return self.authenticator.principal(f"Bearer {token}")
        except PlatformError as error:
            log.error(
                "MQTT: URBANTWIN_MQTT_WRITE_TOKEN is refused (%s); Observations are not stored", error.message
            )
            return None


class Marks:
    """The fingerprints of a session's newest `KEPT_MESSAGES` stored messages, batch by batch (the
    oldest batches leave as new ones come), with the last row of `mqtt_ingest_marks` known."""

    def __init__(self) -> None:
        self._batches: deque[set[int]] = deque()
        self._counts: dict[int, int] = {}
        self._held = 0
        self.last_row = 0

    def __contains__(self, fingerprint: int) -> bool:
        return fingerprint in self._counts

    def __len__(self) -> int:
        return self._held

    def add(self, batch: set[int], row: int) -> None:
        counts = self._counts
        for fingerprint in batch:
            counts[fingerprint] = counts.get(fingerprint, 0) + 1
        self._batches.append(batch)
        self._held += len(batch)
        self.last_row = max(self.last_row, row)
        while self._held - len(self._batches[0]) >= KEPT_MESSAGES:
            oldest = self._batches.popleft()
            self._held -= len(oldest)
            for fingerprint in oldest:
                left = counts[fingerprint] - 1
                if left:
                    counts[fingerprint] = left
                else:
                    del counts[fingerprint]


def _plan(
    creates: Iterable[tuple[str, dict[str, Any]]],
) -> tuple[list[dict[str, Any]], list[tuple[str, Any]]]:
    """dataArray blocks (one per Datastream and set of components, in arrival order) for the plain
    Observations, and (path, body) for the rest, which the service creates one by one."""
    blocks: dict[tuple[int, tuple[str, ...]], dict[str, Any]] = {}
    singles: list[tuple[str, Any]] = []
    for path, body in creates:
        plan = _as_row(path, body)
        if plan is None:
            singles.append((path, body))
            continue
        datastream, components, row = plan
        block = blocks.get((datastream, components))
        if block is None:
            block = blocks[(datastream, components)] = {
                "Datastream": {"@iot.id": datastream},
                "components": list(components),
                "dataArray": [],
            }
        block["dataArray"].append(row)
    return list(blocks.values()), singles


def _as_row(path: str, body: dict[str, Any]) -> tuple[int, tuple[str, ...], list[Any]] | None:
    """(Datastream, components, values) of an Observation the dataArray path can take, else None."""
    if "result" not in body:
        return None
    datastream: Any = None
    if path.startswith("Datastreams("):
        if "Datastream" in body:
            return None
        datastream = path[len("Datastreams(") : path.index(")")]
    elif path == "Observations":
        datastream = _reference(body.get("Datastream"))
    if datastream is None:
        return None
    components = _layout(tuple(body))
    if components is None:
        return None
    row: list[Any] = []
    for component in components:
        if component == _FEATURE:
            feature = _reference(body["FeatureOfInterest"])
            if feature is None:
                return None
            row.append(feature)
        else:
            row.append(body[component])
    return int(datastream), components, row


_FEATURE = "FeatureOfInterest/id"


@lru_cache(maxsize=256)  # sensors send the same keys in the same order, message after message
def _layout(keys: tuple[str, ...]) -> tuple[str, ...] | None:
    """The sorted dataArray components of an Observation with these keys; None when one of them is
    not for the dataArray path."""
    components: list[str] = []
    for key in keys:
        if key in _ARRAY_KEYS:
            components.append(key)
        elif key == "FeatureOfInterest":
            components.append(_FEATURE)
        elif key != "Datastream":
            return None
    return tuple(sorted(components))


def _reference(value: Any) -> int | None:
    """The id of `{"@iot.id": 5}` (nothing else in it), else None."""
    if not isinstance(value, dict) or len(value) != 1:
        return None
    ident = value.get("@iot.id")
    if isinstance(ident, bool) or not isinstance(ident, int | str):
        return None
    try:
        return entity_id(ident, "")
    except BadRequest:  # not an id ("²", beyond 64 bits): the one-by-one path reports it
        return None
