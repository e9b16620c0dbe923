"""The server's own MQTT 5 wire: packets, and the one connection base under publisher and receiver.

The fake broker here is a socket that answers what a test needs (a refusal, CONNACK properties, a
DISCONNECT); the real one is the machine's Mosquitto.
"""

from __future__ import annotations

import logging
import queue
import socket
import threading
import uuid
from collections.abc import Callable, Iterator

import pytest

from tests.live.helpers import MAIN_BROKER, WAIT, wait_until
from urbantwin.live.wire import (
    NOTIFICATION_MARK,
    Message,
    Publisher,
    Receiver,
    publish_packet,
    user_property,
    varint,
)


def test_the_wire_format_round_trips() -> None:
    assert varint(0) == b"\x00" and varint(127) == b"\x7f" and varint(128) == b"\x80\x01"
    assert varint(16_384) == b"\x80\x80\x01"
    received = []
    receiver = Receiver("h", 1, "c", ["v1.1/Observations"], received.append)
    payload = b'{"result": 1}' * 20  # a remaining length of two bytes
    notification = publish_packet("v1.1/Observations", payload, user_property("urbantwin", "notification"))
    # A QoS 1 PUBLISH (packet id 7, DUP) as a sensor's client sends it, without properties.
    head = b"\x00\x11v1.1/Observations" + b"\x00\x07" + b"\x00"
    sensor = b"\x3a" + varint(len(head) + 4) + head + b'{"a"' + b"\x90\x03\x00\x01\x00"  # …and a SUBACK
    rest = receiver._packets(notification + sensor + b"\x30\x05\x00", generation=3)
    assert rest == b"\x30\x05\x00"  # an incomplete packet waits for more
    first, second = received
    assert (first.topic, first.payload, first.qos, first.notification) == (
        "v1.1/Observations",
        payload,
        0,
        True,
    )
    assert (second.qos, second.packet_id, second.dup, second.notification, second.generation) == (
        1,
        7,
        True,
        False,
        3,
    )
    assert receiver.subscribed.is_set()
    assert NOTIFICATION_MARK in notification


class FakeBroker:
    """Accepts connections on a free port and answers each CONNECT with the next of `answers`."""

    def __init__(self, answers: list[bytes]) -> None:
        self.answers = answers
        self.connects: list[bytes] = []
        self.accepted: queue.SimpleQueue[socket.socket] = queue.SimpleQueue()
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            self.connects.append(client.recv(1024))
            answer = self.answers[min(len(self.connects), len(self.answers)) - 1]
            client.sendall(answer)
            self.accepted.put(client)

    def close(self) -> None:
        self.server.close()
        while not self.accepted.empty():
            self.accepted.get().close()


@pytest.fixture
def fake_broker() -> Iterator[Callable[[list[bytes]], FakeBroker]]:
    made: list[FakeBroker] = []

    def make(answers: list[bytes]) -> FakeBroker:
        broker = FakeBroker(answers)
        made.append(broker)
        return broker

    yield make
    for broker in made:
        broker.close()


def test_a_refused_connect_is_tried_again_and_a_connack_with_long_properties_is_read(
    fake_broker: Callable[[list[bytes]], FakeBroker], caplog: pytest.LogCaptureFixture
) -> None:
    refused = b"\x20\x03\x00\x87\x00"  # CONNACK: not authorised
    # CONNACK with 200 bytes of properties (a reason string): its remaining length takes two bytes.
    reason = b"\x1f" + len("x" * 197).to_bytes(2, "big") + b"x" * 197
    accepted = b"\x20" + varint(2 + len(varint(len(reason))) + len(reason)) + b"\x00\x00"
    accepted += varint(len(reason)) + reason
    broker = fake_broker([refused, accepted])
    changes: list[bool] = []
    publisher = Publisher("127.0.0.1", broker.port, "c", on_change=changes.append)
    with caplog.at_level(logging.WARNING, logger="urbantwin.live"):
        publisher.start()
        try:
            assert publisher.connected.wait(WAIT)
            assert "refused the connection (reason code 0x87)" in caplog.text
            assert len(broker.connects) == 2 and changes == [True]
            # A clean start, no session properties: what a publisher asks for.
            assert broker.connects[0][9] == 0x02 and broker.connects[0][12] == 0
            # The broker says goodbye: the connection is down and comes back after the backoff.
            broker.accepted.get(timeout=WAIT)
            broker.accepted.get(timeout=WAIT).sendall(b"\xe0\x01\x8b")  # DISCONNECT, server shutting down
            wait_until(lambda: len(changes) >= 3, what="the publisher connected again")
            assert changes[:3] == [True, False, True]
            assert "the broker disconnected (reason code 0x8b)" in caplog.text
        finally:
            publisher.stop()


def test_publisher_and_receiver_meet_at_the_real_broker() -> None:
    topic = f"t{uuid.uuid4().hex[:10]}/v1.1/Observations"
    received: queue.SimpleQueue[Message] = queue.SimpleQueue()
    name = f"test-{uuid.uuid4().hex[:10]}"
    receiver = Receiver(*MAIN_BROKER, f"{name}-in", [topic], received.put, session_expiry=0)
    publisher = Publisher(*MAIN_BROKER, f"{name}-out")
    receiver.start()
    publisher.start()
    try:
        assert receiver.connected.wait(WAIT) and receiver.subscribed.is_set()
        assert publisher.connected.wait(WAIT)
        assert publisher.send([publish_packet(topic, b'{"result": 1}', b"\x00")])
        message = received.get(timeout=WAIT)
        assert (message.topic, message.payload, message.qos) == (topic, b'{"result": 1}', 0)
        # What the receiver publishes itself does not come back (No Local).
        assert receiver.send([publish_packet(topic, b'{"result": 2}', b"\x00")])
        assert publisher.send([publish_packet(topic, b'{"result": 3}', b"\x00")])
        assert received.get(timeout=WAIT).payload == b'{"result": 3}'
    finally:
        publisher.stop()
        receiver.stop()
    assert not publisher.connected.is_set() and not receiver.connected.is_set()
    assert not publisher.send([publish_packet(topic, b"{}", b"\x00")])
