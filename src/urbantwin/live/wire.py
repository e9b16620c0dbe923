"""The server's MQTT 5 connections: notifications out (QoS 0), creates in (QoS 1, acknowledged later).

Why not paho: every `paho.Client.publish` builds a message-info object with its own lock,
packs its properties anew and wakes the network thread, some 40 µs per message; an Observation goes
to five or six topics, so paho alone would cap notifications at a few thousand Observations a second
on a whole core; receiving, paho spends some 90 µs on each message (an object with a lock, a
properties object), which capped what one process could store. MQTT 5 for a server that publishes
QoS 0 and receives QoS 1 is small: here a PUBLISH is a few byte strings joined (many go out in one
`sendall`) or a few slices of a buffer. Both connections keep themselves alive (PINGREQ when idle)
and reconnect with backoff when the broker goes away. The tests drive the server with paho, an
independent implementation, against a real Mosquitto.

- `Publisher`: QoS 0 only (what is published while the broker is away is lost, as QoS 0 allows).
- `Receiver`: QoS 1 with a persistent session; the caller acknowledges (after its commit). It can
  publish too, on the same connection, so that No Local keeps the server's notifications from
  coming back to it.
"""

from __future__ import annotations

import contextlib
import logging
import select
import socket
import ssl
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

log = logging.getLogger("urbantwin.live")

_PINGREQ = b"\xc0\x00"


def varint(value: int) -> bytes:
    """MQTT's variable byte integer (remaining length, property length)."""
    out = bytearray()
    while True:
        byte, value = value % 128, value // 128
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def utf8(text: str) -> bytes:
    data = text.encode()
    return struct.pack("!H", len(data)) + data


def user_property(key: str, value: str) -> bytes:
    """The properties section (length first) of a packet carrying one user property."""
    prop = b"\x26" + utf8(key) + utf8(value)
    return varint(len(prop)) + prop


def publish_head(topic: str, properties: bytes) -> bytes:
    """The variable header of a QoS 0 PUBLISH (topic and properties): the same for every message to a
    topic, so a sender that publishes to the same topics again and again can make it once."""
    return utf8(topic) + properties


def publish_with_head(head: bytes, payload: bytes) -> bytes:
    """A QoS 0 PUBLISH packet (MQTT 5) from its `publish_head` and payload."""
    return b"\x30" + varint(len(head) + len(payload)) + head + payload


def publish_packet(topic: str, payload: bytes, properties: bytes) -> bytes:
    """A QoS 0 PUBLISH packet (MQTT 5); `properties` as made by `user_property` (or b"\\x00")."""
    return publish_with_head(publish_head(topic, properties), payload)


def connect_packet(
    client_id: str,
    username: str | None,
    password: str | None,
    keepalive: int,
    *,
    clean_start: bool = True,
    properties: bytes = b"",
) -> bytes:
    """A CONNECT packet (MQTT 5); `properties` are the CONNECT properties without their length."""
    flags = 0x02 if clean_start else 0x00
    payload = utf8(client_id)
    if username is not None:
        flags |= 0x80
        payload += utf8(username)
        if password is not None:
            flags |= 0x40
            payload += utf8(password)
    header = (
        utf8("MQTT") + bytes([5, flags]) + struct.pack("!H", keepalive) + varint(len(properties)) + properties
    )
    body = header + payload
    return b"\x10" + varint(len(body)) + body


# --- one connection kept up ------------------------------------------------------------------------

_CONNACK, _PUBLISH, _SUBACK, _DISCONNECT = 2, 3, 9, 14
#: The reason code of a DISCONNECT sent because a connection with the same client id took the session.
_SESSION_TAKEN_OVER = 0x8E
#: Seconds to wait before connecting again after a failure: doubled per failure up to the last.
_FIRST_DELAY, _LAST_DELAY = 1.0, 30.0


class Connection:
    """One MQTT 5 connection to the broker, kept up by its own thread.

    What `Publisher` and `Receiver` share: connecting (TCP, TLS, CONNECT, the CONNACK checked), the
    backoff when the broker cannot be reached or goes away (1 s, doubled up to 30 s while it
    fails), the keepalive (PINGREQ when nothing was sent for half the keepalive) and reading what
    the broker sends into whole packets. A subclass says what its CONNECT carries
    (`_connect_packet`), what it does once the broker accepted it (`_accepted`: ready at once, or
    after subscribing) and what it does with each packet (`_packet`).

    Every operation on the socket happens under the lock: a TLS connection must not be read and
    written by two threads at once.
    """

    #: The name of the connection's thread, and of what it does in log messages.
    thread_name = "urbantwin-mqtt"
    role = "connecting to"

    def __init__(
        self,
        host: str,
        port: int,
        client_id: str,
        username: str | None = None,
        password: str | None = None,
        tls: ssl.SSLContext | None = None,
        keepalive: int = 30,
        on_change: Callable[[bool], None] | None = None,
    ) -> None:
        self.host, self.port, self.client_id = host, port, client_id
        self.username, self.password, self.tls = username, password, tls
        self.keepalive = keepalive
        self.on_change = on_change
        #: Set while the connection is up and ready to `send` on.
        self.connected = threading.Event()
        #: Counts the connections made: what came on an earlier one is answered on none.
        self.generation = 0
        #: How often the broker gave the session to another connection with the same client id.
        self.taken_over = 0
        self._socket: Any = None
        self._lock = threading.Lock()
        self._last_sent = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # --- life -------------------------------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=self.thread_name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        with self._lock:
            farewell = self._farewell()
            if self._socket is not None and farewell:
                with contextlib.suppress(OSError):
                    self._socket.sendall(farewell)
            self._close_locked()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def send(self, packets: list[bytes]) -> bool:
        """Write `packets` (PUBLISH packets) at once; False when not connected (they are dropped)."""
        if not packets or not self.connected.is_set():
            return False
        data = b"".join(packets)
        with self._lock:
            if self._socket is None or not self.connected.is_set():
                return False
            try:
                self._write_locked(data)
            except OSError as exc:
                log.warning("MQTT: publishing failed (%s)", exc)
                self._close_locked()
                return False
        return True

    # --- what a subclass says ---------------------------------------------------------------------

    def _connect_packet(self) -> bytes:
        return connect_packet(self.client_id, self.username, self.password, self.keepalive)

    def _accepted(self, sock: Any, connack: bytes) -> None:
        """The broker accepted the connection (`connack`: flags, reason code, properties); runs
        before the connection is in use, so it may write to `sock` directly."""

    def _packet(self, first: int, body: bytes, generation: int) -> None:
        """One whole packet from the broker (`first`: its first byte) other than a DISCONNECT."""

    def _farewell(self) -> bytes:
        """What is sent to the broker on `stop` (nothing, as the connection just closes)."""
        return b""

    # --- the connection's thread ------------------------------------------------------------------

    def _run(self) -> None:
        delay = _FIRST_DELAY
        while not self._stop.is_set():
            try:
                sock = self._connect()
                delay = _FIRST_DELAY
                self._serve(sock)
            except OSError as exc:
                if self._stop.is_set():
                    return
                log.warning(
                    "MQTT: %s %s:%d failed (%s); again in %.0f s", self.role, self.host, self.port, exc, delay
                )
                self._stop.wait(delay)
                delay = min(delay * 2, _LAST_DELAY)
            finally:
                with self._lock:
                    self._close_locked()

    def _connect(self) -> Any:
        sock = socket.create_connection((self.host, self.port), timeout=10)
        try:
            if self.tls is not None:
                sock = self.tls.wrap_socket(sock, server_hostname=self.host)
            # A broker that stops reading must not block a sender for long.
            sock.settimeout(10)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.sendall(self._connect_packet())
            kind, body = _read_packet(sock)
            if kind != _CONNACK:
                raise OSError(f"the broker answered CONNECT with packet type {kind}")
            if len(body) < 2:
                raise OSError("the broker answered CONNECT with a CONNACK too short to read")
            if body[1] >= 0x80:
                raise OSError(f"the broker refused the connection (reason code {body[1]:#x})")
            self._accepted(sock, body)
        except BaseException:
            sock.close()
            raise
        with self._lock:
            self._socket = sock
            self.generation += 1
            self._last_sent = time.monotonic()
        return sock

    def _ready(self) -> None:
        """The connection may be used (`connected` is set, `on_change` told)."""
        self.connected.set()
        if self.on_change is not None:
            self.on_change(True)

    def _serve(self, sock: Any) -> None:
        """Read what the broker sends and keep the connection alive, until it ends (OSError) or stops."""
        buffer = b""
        generation = self.generation
        while not self._stop.is_set():
            try:
                readable, _, _ = select.select([sock], [], [], self.keepalive / 4)
            except (OSError, ValueError):
                readable = [sock]  # closed meanwhile: the read below says so
            if readable:
                with self._lock:
                    if self._socket is not sock:
                        return
                    chunk = sock.recv(1 << 20)
                    # TLS: select() does not see records already decrypted; read those too.
                    while chunk and getattr(sock, "pending", lambda: 0)():
                        chunk += sock.recv(1 << 20)
                if not chunk:
                    raise OSError("the broker closed the connection")
                buffer = self._packets(buffer + chunk, generation)
            if time.monotonic() - self._last_sent >= self.keepalive / 2:
                with self._lock:
                    if self._socket is not sock:
                        return
                    self._write_locked(_PINGREQ)

    def _packets(self, buffer: bytes, generation: int) -> bytes:
        """Handle every whole packet in `buffer`; return the incomplete rest."""
        position, end = 0, len(buffer)
        while end - position >= 2:
            length, shift, index = 0, 0, position + 1
            while True:
                if index >= end:
                    return buffer[position:]
                byte = buffer[index]
                length |= (byte & 0x7F) << shift
                shift += 7
                index += 1
                if not byte & 0x80:
                    break
            if index + length > end:
                return buffer[position:]
            first, body = buffer[position], buffer[index : index + length]
            position = index + length
            if first >> 4 == _DISCONNECT:
                reason = body[0] if body else 0
                if reason == _SESSION_TAKEN_OVER:
                    self.taken_over += 1
                    log.error(
                        "MQTT: the broker gave the session %s to another connection with the same client id",
                        self.client_id,
                    )
                raise OSError(f"the broker disconnected (reason code {reason:#x})")
            self._packet(first, body, generation)
        return buffer[position:]

    def _write_locked(self, data: bytes) -> None:
        self._socket.sendall(data)
        self._last_sent = time.monotonic()

    def _close_locked(self) -> None:
        was = self.connected.is_set()
        self.connected.clear()
        if self._socket is not None:
            with contextlib.suppress(OSError):
                self._socket.close()
            self._socket = None
        if was and self.on_change is not None:
            self.on_change(False)


class Publisher(Connection):
    """A QoS 0 publisher that keeps one connection to the broker up (see the module docstring).

    Its CONNECT asks for a clean start: a publisher has no session worth keeping.
    """

    thread_name = "urbantwin-mqtt-publish"
    role = "publishing to"

    def _accepted(self, sock: Any, connack: bytes) -> None:
        log.info("MQTT: publishing to %s:%d", self.host, self.port)
        self._ready()


def _read_exactly(sock: Any, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise OSError("the broker closed the connection")
        data += chunk
    return data


def _read_packet(sock: Any) -> tuple[int, bytes]:
    """One whole packet read from `sock`: its type and body."""
    first = _read_exactly(sock, 1)[0]
    length, shift = 0, 0
    while True:
        byte = _read_exactly(sock, 1)[0]
        length |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            break
    return first >> 4, _read_exactly(sock, length)


# --- receiving (QoS 1, persistent session) ------------------------------------------------------

#: How the notifications' user property `urbantwin=notification` looks inside a PUBLISH's properties.
NOTIFICATION_MARK = b"\x26" + utf8("urbantwin") + utf8("notification")


@dataclass(frozen=True)
class Message:
    """One PUBLISH received."""

    topic: str
    payload: bytes
    qos: int
    packet_id: int
    dup: bool
    #: Whether it carries the user property of this platform's notifications.
    notification: bool
    #: The connection it came on (a PUBACK only makes sense on that one).
    generation: int


def subscribe_packet(packet_id: int, filters: list[str], no_local: bool = True) -> bytes:
    options = 0x01 | (0x04 if no_local else 0)  # QoS 1, No Local
    body = struct.pack("!H", packet_id) + b"\x00" + b"".join(utf8(f) + bytes([options]) for f in filters)
    return b"\x82" + varint(len(body)) + body


class Receiver(Connection):
    """A QoS 1 subscriber with a persistent session, whose caller acknowledges (after commit).

    The session (fixed client id, no clean start, `session_expiry` seconds) makes the broker keep
    what it sent but was not acknowledged, and what arrives while the server is away, and send it
    again on the next connection. It is `connected` once the subscription is confirmed.
    """

    thread_name = "urbantwin-mqtt-receive"
    role = "receiving from"

    def __init__(
        self,
        host: str,
        port: int,
        client_id: str,
        filters: list[str],
        on_message: Callable[[Message], None],
        username: str | None = None,
        password: str | None = None,
        tls: ssl.SSLContext | None = None,
        keepalive: int = 30,
        session_expiry: int = 7 * 24 * 3600,
        receive_maximum: int = 4000,
        on_change: Callable[[bool], None] | None = None,
    ) -> None:
        super().__init__(host, port, client_id, username, password, tls, keepalive, on_change)
        self.filters = filters
        self.on_message = on_message
        self.session_expiry, self.receive_maximum = session_expiry, receive_maximum

    @property
    def subscribed(self) -> threading.Event:
        """Set once the subscription is confirmed on the current connection (`connected`)."""
        return self.connected

    def ack(self, messages: list[Message]) -> None:
        """PUBACK the QoS 1 `messages` that came on the current connection, in one write."""
        data = b"".join(
            b"\x40\x02" + struct.pack("!H", m.packet_id)
            for m in messages
            if m.qos == 1 and m.generation == self.generation
        )
        if not data:
            return
        with self._lock:
            if self._socket is None:
                return  # the broker sends them again on the next connection
            try:
                self._write_locked(data)
            except OSError:
                self._close_locked()

    def _connect_packet(self) -> bytes:
        """CONNECT without clean start, with a session that outlives the connection."""
        properties = (
            b"\x11"
            + struct.pack("!I", self.session_expiry)
            + b"\x21"
            + struct.pack("!H", self.receive_maximum)
        )
        return connect_packet(
            self.client_id,
            self.username,
            self.password,
            self.keepalive,
            clean_start=False,
            properties=properties,
        )

    def _accepted(self, sock: Any, connack: bytes) -> None:
        session = "resumed" if connack[0] & 1 else "new"
        # No Local is a protocol error on shared subscriptions (MQTT 5, 3.8.3.1).
        shared = any(f.startswith("$share/") for f in self.filters)
        sock.sendall(subscribe_packet(1, self.filters, no_local=not shared))
        log.info("MQTT: receiving from %s:%d (session %s)", self.host, self.port, session)

    def _packet(self, first: int, body: bytes, generation: int) -> None:
        kind = first >> 4
        if kind == _PUBLISH:
            self.on_message(_publish(first, body, generation))
        elif kind == _SUBACK:  # packet id, properties, one reason code per filter
            codes = body[2 + 1 + body[2] :] if body[2] < 0x80 else b""
            if any(code >= 0x80 for code in codes):
                raise OSError(f"the broker refused the subscription to {', '.join(self.filters)}")
            self._ready()

    def _farewell(self) -> bytes:
        return b"\xe0\x00"  # DISCONNECT: the session stays at the broker


def _publish(first: int, body: bytes, generation: int) -> Message:
    qos = (first >> 1) & 0x03
    topic_length = (body[0] << 8) | body[1]
    topic = body[2 : 2 + topic_length].decode()
    position = 2 + topic_length
    packet_id = 0
    if qos:
        packet_id = (body[position] << 8) | body[position + 1]
        position += 2
    properties_length, shift = 0, 0
    while True:
        byte = body[position]
        position += 1
        properties_length |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            break
    properties = body[position : position + properties_length]
    return Message(
        topic,
        body[position + properties_length :],
        qos,
        packet_id,
        bool(first & 0x08),
        NOTIFICATION_MARK in properties,
        generation,
    )
