"""deploy/mosquitto/urbantwin.conf as shipped: the platform's own listener publishes and reads, anonymous
WebSocket readers read and cannot publish, sensors publish with their password over TLS only."""

from __future__ import annotations

import queue
import ssl
import threading
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
import pytest

from tests.deploy.conftest import SENSOR, Broker

TOPIC = "v1.1/Datastreams(7)/Observations"
WAIT = 15.0


class Client:
    """A paho client of one listener: whether it connected (the broker's answer) and what it got."""

    def __init__(self, port: int, *, websocket: bool = False, tls: Path | None = None,
                 login: tuple[str, str] | None = None, path: str = "/mqtt") -> None:  # fmt: skip
        self.answer: queue.Queue[Any] = queue.Queue()
        self.messages: queue.Queue[tuple[str, bytes]] = queue.Queue()
        self.subscribed = threading.Event()
        self.client = paho.Client(
            paho.CallbackAPIVersion.VERSION2,
            transport="websockets" if websocket else "tcp",
            protocol=paho.MQTTv311,
        )
        if websocket:
            self.client.ws_set_options(path=path)
        if tls is not None:
            self.client.tls_set(ca_certs=str(tls), cert_reqs=ssl.CERT_REQUIRED)
        if login is not None:
            self.client.username_pw_set(*login)
        self.client.on_connect = lambda _c, _u, _f, reason, _p: self.answer.put(reason)
        self.client.on_subscribe = lambda *_args: self.subscribed.set()
        self.client.on_message = lambda _c, _u, message: self.messages.put((message.topic, message.payload))
        self.client.connect_async("127.0.0.1", port)
        self.client.loop_start()
        self.reason = self.answer.get(timeout=WAIT)

    @property
    def accepted(self) -> bool:
        return not self.reason.is_failure

    def subscribe(self, topic: str) -> None:
        self.client.subscribe(topic, qos=1)
        assert self.subscribed.wait(WAIT)

    def publish(self, topic: str, payload: bytes) -> None:
        self.client.publish(topic, payload, qos=1).wait_for_publish(WAIT)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


@pytest.fixture
def clients() -> Any:
    opened: list[Client] = []

    def open_client(*args: Any, **kwargs: Any) -> Client:
        client = Client(*args, **kwargs)
        opened.append(client)
        return client

    yield open_client
    for client in opened:
        client.close()


def test_websocket_readers_receive_what_the_platform_publishes(broker: Broker, clients: Any) -> None:
    reader = clients(broker.websocket, websocket=True)
    assert reader.accepted
    reader.subscribe("v1.1/#")
    platform = clients(broker.platform)
    platform.publish(TOPIC, b'{"result": 21.5}')
    assert reader.messages.get(timeout=WAIT) == (TOPIC, b'{"result": 21.5}')


def test_websocket_readers_cannot_publish(broker: Broker, clients: Any) -> None:
    platform = clients(broker.platform)
    platform.subscribe("v1.1/#")
    reader = clients(broker.websocket, websocket=True)
    reader.publish(TOPIC, b'{"result": "forged"}')  # the broker acknowledges it and drops it (ACL)
    clients(broker.platform).publish(TOPIC, b'{"result": "after"}')
    # Messages of one broker arrive in order: had the forged one passed, it would come first.
    assert platform.messages.get(timeout=WAIT) == (TOPIC, b'{"result": "after"}')


def test_sensors_publish_over_tls_with_their_password_only(
    broker: Broker, certificate: tuple[Path, Path], clients: Any
) -> None:
    platform = clients(broker.platform)
    platform.subscribe("v1.1/#")
    anonymous = clients(broker.sensors, tls=certificate[0])
    assert not anonymous.accepted  # no password, no connection
    wrong = clients(broker.sensors, tls=certificate[0], login=(SENSOR[0], "guessed"))
    assert not wrong.accepted
    sensor = clients(broker.sensors, tls=certificate[0], login=SENSOR)
    assert sensor.accepted
    sensor.publish(TOPIC, b'{"result": 3.5}')
    assert platform.messages.get(timeout=WAIT) == (TOPIC, b'{"result": 3.5}')
