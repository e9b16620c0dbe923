"""Following a SensorThings partner live over its MQTT topics (the SensorThings MQTT extension).

A partner set to follow (`urbantwin remote mirror NAME --follow`, or `"follow": true` in the admin
API's mirror request) is followed by one server process at a time: every process looks at the
followed partners every `CHECK_SECONDS` and takes the lease of those no one holds (an atomic update
of the partner's row, `RemoteRegistry.claim`), renewing it while it follows; a process that dies
leaves its lease to run out (`LEASE_SECONDS`) and another takes over.

The follower subscribes (QoS 1) to `v1.1/Datastreams(<remote id>)/Observations` of each mirrored
Datastream at the partner's broker: the one its service root names for the receive-updates class
(`serverSettings`), or the partner's `mqtt_url` where given (its path, if any, is the prefix the
partner publishes its topics under). Once the broker has confirmed the subscription, an incremental
mirror pass (`DatastreamMirror.sync`) stores what was published before it; after that each arriving
Observation is stored as the mirror stores a page — through the bulk path, with the identity and
licence of the mirrored Datastream, in one transaction with the mirror's cursor, only if it comes
after the cursor as the store has it (read under a row lock): nothing is stored twice, whether a
mirror run or the broker's redelivery brought it first.

Nothing is lost either: while the follower is disconnected, or when its queue (`QUEUE_SIZE`) was
full and a message was dropped, it stores nothing live until the next incremental pass — after the
broker has confirmed the subscription again — has read everything after the cursor. The connection
comes back with a backoff (1 s doubling to 60 s); a message that is not an Observation is logged
and counted, never a reason to stop. What the follower did is in `counts` (and its partner's health:
a catch-up that fails marks it failing, one that works ok).

The client is paho-mqtt (MQTT 3.1.1, which every broker speaks): a partner's live Observations are
a few a second, where the server's own broker connections (live/wire.py) are built for thousands.
"""

from __future__ import annotations

import logging
import os
import queue
import socket
import threading
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import orjson
from sqlalchemy import Engine

from urbantwin.federation.mirror import DatastreamMirror, MirrorReport, live_row
from urbantwin.federation.registry import Remote, RemoteRegistry
from urbantwin.federation.remote_http import RemoteFailure, RemoteHttp
from urbantwin.ingest.sta_client import odata_string
from urbantwin.periodic import Periodic
from urbantwin.sensorthings.service import SensorThingsService
from urbantwin.settings import Settings

log = logging.getLogger("urbantwin.federation")

#: The conformance class whose `endpoints` in a service root's `serverSettings` name its broker.
RECEIVE_CLASS = "http://www.opengis.net/spec/iot_sensing/1.1/req/receive-updates-via-mqtt/receive-updates"
#: How often a server process looks at the followed partners (and renews its leases).
CHECK_SECONDS = 10.0
#: How long a lease holds unless renewed (a process that died gives its partners up after this).
LEASE_SECONDS = 30.0
#: Messages waiting to be stored, at most; one more is dropped (and a catch-up reads it).
QUEUE_SIZE = 10_000
#: Messages stored in one transaction, at most.
BATCH = 1_000
#: The reconnect backoff (seconds): from the first, doubling, to the last.
BACKOFF = (1.0, 60.0)


@dataclass
class FollowCounts:
    """What a follower did since it started."""

    received: int = 0
    stored: int = 0
    #: Observations at or before the cursor: stored already (or late data the mirror does not take).
    skipped: int = 0
    malformed: int = 0
    dropped: int = 0
    catch_ups: int = 0
    errors: list[str] = field(default_factory=list)


def _id_literal(ident: str) -> str:
    return ident if ident.lstrip("-").isdigit() else odata_string(ident)


def broker_of(remote: Remote, root: Any) -> tuple[str, int, bool, str]:
    """Host, port, TLS and topic prefix of the partner's broker: its `mqtt_url`, else the endpoint
    its service root (`root`) names for the receive-updates class; RemoteFailure when neither."""
    url = remote.mqtt_url
    if not url:
        settings = root.get("serverSettings") if isinstance(root, dict) else None
        receive = settings.get(RECEIVE_CLASS) if isinstance(settings, dict) else None
        endpoints = receive.get("endpoints") if isinstance(receive, dict) else None
        url = next(
            (e for e in endpoints or [] if isinstance(e, str) and e.startswith(("mqtt", "tcp", "ssl"))),
            None,
        )
    if not url:
        raise RemoteFailure(f"{remote.url}: its service root names no MQTT broker (give mqtt_url)")
    parts = urlsplit(url)
    tls = parts.scheme in ("mqtts", "ssl")
    try:
        port = parts.port or (8883 if tls else 1883)
    except ValueError:
        raise RemoteFailure(f"{remote.url}: the broker {url!r} has no valid port") from None
    if not parts.hostname:
        raise RemoteFailure(f"{remote.url}: the broker {url!r} has no host")
    prefix = parts.path.lstrip("/")
    if prefix and not prefix.endswith("/"):
        prefix += "/"
    return parts.hostname, port, tls, prefix


class RemoteFollower:
    """Follows one partner: its MQTT client, the queue of what arrived, and the thread that stores it."""

    def __init__(
        self,
        engine: Engine,
        settings: Settings,
        service: SensorThingsService,
        registry: RemoteRegistry,
        remote: Remote,
    ) -> None:
        self.remote = remote
        self.registry = registry
        self.mirror = DatastreamMirror(engine, settings, service, remote)
        self.counts = FollowCounts()
        self.version = remote.url.rstrip("/").rsplit("/", 1)[-1]
        if not self.version.startswith("v1."):
            self.version = "v1.1"
        self._queue: queue.Queue[tuple[str, bytes]] = queue.Queue(QUEUE_SIZE)
        #: Set when what was published meanwhile may not have reached the queue: store nothing live
        #: until an incremental pass (after the subscription is confirmed) has read it.
        self._catch_up = threading.Event()
        self._catch_up.set()
        self._subscribed = threading.Event()
        self._stopping = threading.Event()
        self._client: Any = None
        self._prefix = ""
        self._topics: dict[str, Any] = {}
        self._thread = threading.Thread(target=self._run, name=f"follow-{remote.name}", daemon=True)

    @property
    def connected(self) -> bool:
        return self._subscribed.is_set()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._disconnect()
        self._thread.join(timeout=10)

    def refresh(self) -> None:
        """Subscribe anew (the mirrored Datastreams changed): a catch-up follows the confirmation."""
        self._catch_up.set()
        self._subscribed.clear()
        client = self._client
        if client is not None:
            self._subscribe(client)

    def topics(self) -> set[str]:
        return set(self._topics)

    def subscribed_ids(self) -> set[str]:
        """The partner's ids of the Datastreams subscribed to."""
        return {m.remote_id for m in self._topics.values()}

    # --- the connection -----------------------------------------------------------------------------

    def _connect(self) -> None:
        import paho.mqtt.client as paho

        with RemoteHttp(self.remote.url, self.remote.requests_per_second) as http:
            root = None if self.remote.mqtt_url else http.json(http.url(""))
        host, port, tls, self._prefix = broker_of(self.remote, root)
        self._load_topics()
        client = paho.Client(
            paho.CallbackAPIVersion.VERSION2,
            client_id=f"urbantwin-follow-{self.remote.name}-{uuid.uuid4().hex[:8]}",
            protocol=paho.MQTTv311,
        )
        if tls:
            client.tls_set()
        parts = urlsplit(self.remote.mqtt_url or "")
        if parts.username:
            client.username_pw_set(parts.username, parts.password)
        client.reconnect_delay_set(min_delay=int(BACKOFF[0]), max_delay=int(BACKOFF[1]))
        client.on_connect = self._connected
        client.on_subscribe = self._confirmed
        client.on_disconnect = lambda *_: self._lost()
        client.on_message = self._received
        client.connect_async(host, port, keepalive=30)
        client.loop_start()
        self._client = client

    def _disconnect(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            client.disconnect()
            client.loop_stop()

    def _load_topics(self) -> None:
        self._topics = {
            f"{self._prefix}{self.version}/Datastreams({_id_literal(m.remote_id)})/Observations": m
            for m in self.mirror.mirrors()
        }

    def _connected(self, client: Any, _userdata: Any, _flags: Any, reason: Any, _properties: Any) -> None:
        if reason.is_failure:
            log.warning("following %s: the broker refused the connection: %s", self.remote.name, reason)
            return
        self._subscribe(client)

    def _confirmed(self, _client: Any, _userdata: Any, _mid: Any, reasons: Any, _properties: Any) -> None:
        refused = [str(r) for r in reasons if r.is_failure]
        if refused:
            # Caught up all the same (by HTTP); what is refused arrives with each mirror run only.
            log.warning(
                "following %s: the broker refused %d of the topics (%s)",
                self.remote.name,
                len(refused),
                refused[0],
            )
        self._subscribed.set()

    def _subscribe(self, client: Any) -> None:
        self._subscribed.clear()
        self._catch_up.set()
        self._load_topics()
        if self._topics:
            client.subscribe([(topic, 1) for topic in self._topics])
        else:
            self._subscribed.set()

    def _lost(self) -> None:
        self._subscribed.clear()
        self._catch_up.set()

    def _received(self, _client: Any, _userdata: Any, message: Any) -> None:
        self.counts.received += 1
        try:
            self._queue.put_nowait((message.topic, bytes(message.payload)))
        except queue.Full:
            self.counts.dropped += 1
            self._catch_up.set()  # what was dropped is read by the next incremental pass

    # --- storing ------------------------------------------------------------------------------------

    def _run(self) -> None:
        backoff = BACKOFF[0]
        pending: list[tuple[str, bytes]] = []
        while not self._stopping.is_set():
            try:
                if self._client is None:
                    self._connect()
                if self._catch_up.is_set():
                    if not self._subscribed.wait(timeout=0.5):
                        continue
                    self._catch_up.clear()
                    self._catch_up_pass()
                if not pending:
                    pending = self._take()
                if pending and not self._catch_up.is_set():
                    self._store(pending)
                    pending = []
                backoff = BACKOFF[0]
            except Exception as exc:  # noqa: BLE001 (a follower never dies of a partner or the store)
                message = exc.message if isinstance(exc, RemoteFailure) else f"{type(exc).__name__}: {exc}"
                log.warning("following %s: %s (again in %.0f s)", self.remote.name, message, backoff)
                self.counts.errors = [*self.counts.errors[-9:], message]
                self._catch_up.set()
                if isinstance(exc, RemoteFailure):
                    self.registry.note(self.remote, message)
                self._stopping.wait(backoff)
                backoff = min(backoff * 2, BACKOFF[1])
        self._disconnect()  # a client made while stopping is not left behind

    def _catch_up_pass(self) -> None:
        report = MirrorReport()
        with RemoteHttp(self.remote.url, self.remote.requests_per_second) as http:
            try:
                self.mirror.sync(http, report)
            except RemoteFailure as failure:
                report.errors.append(failure.message)
        self.counts.catch_ups += 1
        if report.errors:
            raise RemoteFailure("; ".join(report.errors))
        self.registry.record(self.remote.name, None)

    def _take(self) -> list[tuple[str, bytes]]:
        try:
            taken = [self._queue.get(timeout=0.5)]
        except queue.Empty:
            return []
        while len(taken) < BATCH:
            try:
                taken.append(self._queue.get_nowait())
            except queue.Empty:
                break
        return taken

    def _store(self, messages: list[tuple[str, bytes]]) -> None:
        by_mirror: dict[int, tuple[Any, list[tuple[tuple[datetime, str], list[Any]]]]] = {}
        for topic, payload in messages:
            mirror = self._topics.get(topic)
            try:
                if mirror is None:
                    raise RemoteFailure(f"{topic}: not a topic of a mirrored Datastream")
                try:
                    body = orjson.loads(payload)
                except orjson.JSONDecodeError:
                    raise RemoteFailure(f"{topic}: the message is not JSON") from None
                row = live_row(mirror, body, topic)
            except RemoteFailure as failure:
                self.counts.malformed += 1
                log.warning("following %s: %s", self.remote.name, failure.message)
                continue
            by_mirror.setdefault(mirror.id, (mirror, []))[1].append(row)
        for mirror, rows in by_mirror.values():
            stored = self.mirror.store_live(mirror, rows)
            self.counts.stored += stored
            self.counts.skipped += len(rows) - stored
        if by_mirror:
            self.registry.note(self.remote, None)


class Followers:
    """The partners this server process follows: takes, renews and gives up their leases."""

    def __init__(
        self, engine: Engine, settings: Settings, service: SensorThingsService, registry: RemoteRegistry
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.service = service
        self.registry = registry
        #: This process among all that share the store (the lease holder's name).
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.running: dict[str, RemoteFollower] = {}
        self.check_seconds = CHECK_SECONDS
        self._checks: Periodic | None = None

    def start(self) -> None:
        # A check that fails (a store that is away) is logged and made again at the next one.
        self._checks = Periodic("federation-followers", self.check_seconds, self.check, at_start=True)
        self._checks.start()

    def stop(self) -> None:
        if self._checks is not None:
            self._checks.stop(timeout=10)
            self._checks = None
        for name in list(self.running):
            self._end(name)

    def check(self) -> None:
        """Follow the partners set to follow whose lease this process has or can take; stop
        following those no longer set to follow, changed, or whose lease another process took."""
        wanted = {r.name: r for r in self.registry.followed() if r.kind == "sensorthings"}
        for name, follower in list(self.running.items()):
            remote = wanted.get(name)
            same = remote is not None and (remote.url, remote.mqtt_url) == (
                follower.remote.url,
                follower.remote.mqtt_url,
            )
            if not same or not self.registry.claim(name, self.holder, LEASE_SECONDS):
                self._end(name)
            elif (
                follower.connected
                and {m.remote_id for m in follower.mirror.mirrors()} != follower.subscribed_ids()
            ):
                follower.refresh()
        for name, remote in wanted.items():
            if name not in self.running and self.registry.claim(name, self.holder, LEASE_SECONDS):
                follower = RemoteFollower(self.engine, self.settings, self.service, self.registry, remote)
                self.running[name] = follower
                follower.start()

    def _end(self, name: str) -> None:
        follower = self.running.pop(name)
        follower.stop()
        self.registry.release(name, self.holder)


__all__ = ["FollowCounts", "Followers", "RemoteFollower", "broker_of"]
