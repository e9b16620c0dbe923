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


def connect_packet(client_id: str, username: str | None, password: str | None, keepalive: int) -> bytes:
    flags = 0x02  # clean start: a publisher has no session worth keeping
    payload = utf8(client_id)
    if username is not None:
        flags |= 0x80
        payload += utf8(username)
        if password is not None:
            flags |= 0x40
            payload += utf8(password)
    header = utf8("MQTT") + bytes([5, flags]) + struct.pack("!H", keepalive) + b"\x00"
    body = header + payload
    return b"\x10" + varint(len(body)) + body


class Publisher:
    """A QoS 0 publisher that keeps one connection to the broker up (see the module docstring)."""

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
        self.connected = threading.Event()
        self._socket: Any = None
        self._lock = threading.Lock()
        self._last_sent = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="urbantwin-mqtt-publish", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._drop()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def send(self, packets: list[bytes]) -> bool:
        """Write `packets` (PUBLISH packets) at once; False when not connected (they are dropped)."""
        if not packets or not self.connected.is_set():
            return False
        data = b"".join(packets)
        with self._lock:
            sock = self._socket
            if sock is None:
                return False
            try:
                sock.sendall(data)
            except OSError as exc:
                log.warning("MQTT: publishing failed (%s)", exc)
                self._drop_locked()
                return False
            self._last_sent = time.monotonic()
        return True

    # --- the connection -------------------------------------------------------------------------

    def _run(self) -> None:
        delay = 1.0
        while not self._stop.is_set():
            if self._socket is None:
                try:
                    self._connect()
                    delay = 1.0
                except OSError as exc:
                    log.warning(
                        "MQTT: cannot reach the broker %s:%d (%s); again in %.0f s",
                        self.host,
                        self.port,
                        exc,
                        delay,
                    )
                    self._stop.wait(delay)
                    delay = min(delay * 2, 30.0)
                    continue
            self._keep_alive()

    def _connect(self) -> None:
        sock = socket.create_connection((self.host, self.port), timeout=10)
        try:
            if self.tls is not None:
                sock = self.tls.wrap_socket(sock, server_hostname=self.host)
            sock.sendall(connect_packet(self.client_id, self.username, self.password, self.keepalive))
            header = _read_exactly(sock, 2)
            if header[0] != 0x20:
                raise OSError(f"the broker answered CONNECT with packet type {header[0] >> 4}")
            length, rest = header[1], b""
            if length & 0x80:  # a longer remaining length (CONNACK properties)
                rest = _read_varint_rest(sock, length)
                length = _decode_varint(bytes([header[1]]) + rest)
            body = _read_exactly(sock, length)
            if body[1] >= 0x80:
                raise OSError(f"the broker refused the connection (reason code {body[1]:#x})")
            sock.settimeout(10)  # a broker that stops reading must not block the hub for long
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except BaseException:
            sock.close()
            raise
        with self._lock:
            self._socket = sock
            self._last_sent = time.monotonic()
        self.connected.set()
        log.info("MQTT: publishing to %s:%d", self.host, self.port)
        if self.on_change is not None:
            self.on_change(True)

    def _keep_alive(self) -> None:
        """Read what the broker sends (PINGRESP, or EOF when it goes) and ping when nothing was sent.

        Every operation on the socket happens under the lock: a TLS connection must not be read and
        written by two threads at once.
        """
        sock = self._socket
        if sock is None:
            return
        try:
            readable, _, _ = select.select([sock], [], [], self.keepalive / 4)
        except (OSError, ValueError):
            readable = [sock]  # closed meanwhile: the read below says so
        with self._lock:
            if self._socket is not sock:
                return
            try:
                if readable and not sock.recv(4096):
                    raise OSError("the broker closed the connection")
                if time.monotonic() - self._last_sent >= self.keepalive / 2:
                    sock.sendall(_PINGREQ)
                    self._last_sent = time.monotonic()
            except OSError as exc:
                if not self._stop.is_set():
                    log.warning("MQTT: lost the broker %s:%d (%s); reconnecting", self.host, self.port, exc)
                self._drop_locked()

    def _drop(self) -> None:
        with self._lock:
            self._drop_locked()

    def _drop_locked(self) -> None:
        was = self.connected.is_set()
        self.connected.clear()
        if self._socket is not None:
            with contextlib.suppress(OSError):
                self._socket.close()
            self._socket = None
        if was and self.on_change is not None:
            self.on_change(False)


def _read_exactly(sock: Any, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise OSError("the broker closed the connection")
        data += chunk
    return data


def _read_varint_rest(sock: Any, first: int) -> bytes:
    rest = b""
    byte = first
    while byte & 0x80:
        byte = _read_exactly(sock, 1)[0]
        rest += bytes([byte])
    return rest


def _decode_varint(data: bytes) -> int:
    value, shift = 0, 0
    for byte in data:
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            break
    return value


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


def session_connect_packet(
    client_id: str,
    username: str | None,
    password: str | None,
    keepalive: int,
    session_expiry: int,
    receive_maximum: int,
) -> bytes:
    """CONNECT without clean start, with a session that outlives the connection."""
    flags = 0x00
    payload = utf8(client_id)
    if username is not None:
        flags |= 0x80
        payload += utf8(username)
        if password is not None:
            flags |= 0x40
            payload += utf8(password)
    properties = b"\x11" + struct.pack("!I", session_expiry) + b"\x21" + struct.pack("!H", receive_maximum)
    header = (
        utf8("MQTT") + bytes([5, flags]) + struct.pack("!H", keepalive) + varint(len(properties)) + properties
    )
    body = header + payload
    return b"\x10" + varint(len(body)) + body


class Receiver:
    """A QoS 1 subscriber with a persistent session, whose caller acknowledges (after commit).

    The session (fixed client id, no clean start, `session_expiry` seconds) makes the broker keep
    what it sent but was not acknowledged, and what arrives while the server is away, and send it
    again on the next connection.
    """

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
        self.host, self.port, self.client_id, self.filters = host, port, client_id, filters
        self.on_message = on_message
        self.username, self.password, self.tls = username, password, tls
        self.keepalive, self.session_expiry, self.receive_maximum = keepalive, session_expiry, receive_maximum
        self.on_change = on_change
        #: Set once the subscription is confirmed on the current connection.
        self.subscribed = threading.Event()
        self.generation = 0
        self._socket: Any = None
        self._lock = threading.Lock()
        self._last_sent = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="urbantwin-mqtt-receive", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        with self._lock:
            if self._socket is not None:
                with contextlib.suppress(OSError):
                    self._socket.sendall(b"\xe0\x00")  # DISCONNECT: the session stays at the broker
            self._close_locked()
        if self._thread is not None:
            self._thread.join(timeout=10)

    @property
    def connected(self) -> threading.Event:
        """(For `send`, as `Publisher.connected`.)"""
        return self.subscribed

    def send(self, packets: list[bytes]) -> bool:
        """Publish (QoS 0) on this connection, so that No Local keeps the messages from coming back."""
        if not packets:
            return False
        data = b"".join(packets)
        with self._lock:
            if self._socket is None or not self.subscribed.is_set():
                return False
            try:
                self._socket.sendall(data)
                self._last_sent = time.monotonic()
            except OSError as exc:
                log.warning("MQTT: publishing failed (%s)", exc)
                self._close_locked()
                return False
        return True

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
                self._socket.sendall(data)
                self._last_sent = time.monotonic()
            except OSError:
                self._close_locked()

    def _run(self) -> None:
        delay = 1.0
        while not self._stop.is_set():
            try:
                sock = self._connect()
                delay = 1.0
                self._read(sock)
            except OSError as exc:
                if self._stop.is_set():
                    return
                log.warning(
                    "MQTT: receiving from %s:%d failed (%s); again in %.0f s",
                    self.host,
                    self.port,
                    exc,
                    delay,
                )
                self._stop.wait(delay)
                delay = min(delay * 2, 30.0)
            finally:
                with self._lock:
                    self._close_locked()

    def _connect(self) -> Any:
        sock = socket.create_connection((self.host, self.port), timeout=10)
        try:
            if self.tls is not None:
                sock = self.tls.wrap_socket(sock, server_hostname=self.host)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.sendall(
                session_connect_packet(
                    self.client_id,
                    self.username,
                    self.password,
                    self.keepalive,
                    self.session_expiry,
                    self.receive_maximum,
                )
            )
            kind, body = _read_packet(sock)
            if kind != 2:
                raise OSError(f"the broker answered CONNECT with packet type {kind}")
            if body[1] >= 0x80:
                raise OSError(f"the broker refused the connection (reason code {body[1]:#x})")
            session = "resumed" if body[0] & 1 else "new"
            sock.sendall(subscribe_packet(1, self.filters))
        except BaseException:
            sock.close()
            raise
        with self._lock:
            self._socket = sock
            self.generation += 1
            self._last_sent = time.monotonic()
        log.info("MQTT: receiving from %s:%d (session %s)", self.host, self.port, session)
        return sock

    def _read(self, sock: Any) -> None:
        buffer = b""
        generation = self.generation
        while not self._stop.is_set():
            readable, _, _ = select.select([sock], [], [], self.keepalive / 4)
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
                buffer += chunk
                buffer = self._packets(buffer, generation)
            if time.monotonic() - self._last_sent >= self.keepalive / 2:
                with self._lock:
                    if self._socket is not sock:
                        return
                    sock.sendall(_PINGREQ)
                    self._last_sent = time.monotonic()

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
            kind = first >> 4
            if kind == 3:
                self.on_message(_publish(first, body, generation))
            elif kind == 9:  # SUBACK: packet id, properties, one reason code per filter
                codes = body[2 + 1 + body[2] :] if body[2] < 0x80 else b""
                if any(code >= 0x80 for code in codes):
                    raise OSError(f"the broker refused the subscription to {', '.join(self.filters)}")
                self.subscribed.set()
                if self.on_change is not None:
                    self.on_change(True)
            elif kind == 14:  # DISCONNECT from the broker
                raise OSError(f"the broker disconnected (reason code {body[0] if body else 0:#x})")
        return buffer[position:]

    def _close_locked(self) -> None:
        was = self.subscribed.is_set()
        self.subscribed.clear()
        if self._socket is not None:
            with contextlib.suppress(OSError):
                self._socket.close()
            self._socket = None
        if was and self.on_change is not None:
            self.on_change(False)


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


def _read_packet(sock: Any) -> tuple[int, bytes]:
    first = _read_exactly(sock, 1)[0]
    length, shift = 0, 0
    while True:
        byte = _read_exactly(sock, 1)[0]
        length |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            break
    return first >> 4, _read_exactly(sock, length)
