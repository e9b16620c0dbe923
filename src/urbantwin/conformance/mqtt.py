"""The checks of the SensorThings MQTT extension: receiving updates on the topics of entity sets,
navigation sets, entities, properties and `$select`, and creating Observations by publishing them.

The broker is the one the service root names under the class's URI in `serverSettings` (or
`--mqtt-url`); the topics start with `--mqtt-topic-prefix` where the server publishes under one. The
checks change the server (they create and update the run's own entities to have something to
receive), so they run with `--write` only.
"""

from __future__ import annotations

import queue
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

import orjson

from urbantwin.conformance.core import Registry, Session, Skipped, expect_status, json_of, require
from urbantwin.conformance.sta import MQTT_CREATE, MQTT_RECEIVE, literal, marker, sta, values, world

REGISTRY = Registry()
check = REGISTRY.check


def broker(session: Session, cls: str) -> tuple[str, int, bool]:
    """Host, port and TLS of the broker of the class `cls`."""
    url = session.options.mqtt_url
    if not url:
        root = session.state.get("sta_root_document") or {}
        endpoints = ((root.get("serverSettings") or {}).get(cls) or {}).get("endpoints") or []
        url = next((item for item in endpoints if isinstance(item, str) and item.startswith("mqtt")), None)
    if not url:
        raise Skipped("the service root names no MQTT endpoint for this class (`--mqtt-url` gives one)")
    parts = urlsplit(url)
    tls = parts.scheme in ("mqtts", "ssl")
    return parts.hostname or "localhost", parts.port or (8883 if tls else 1883), tls


def topic(session: Session, path: str) -> str:
    assert session.sta_root is not None
    version = session.sta_root.rstrip("/").rsplit("/", 1)[-1]
    return f"{session.options.mqtt_topic_prefix}{version}/{path}"


class Client:
    """An MQTT client of the check: subscribes, collects (topic, JSON) in a queue, publishes."""

    def __init__(self, host: str, port: int, tls: bool, topics: list[str], wait: float) -> None:
        import paho.mqtt.client as paho

        self.messages: queue.Queue[tuple[str, Any]] = queue.Queue()
        self.wait = wait
        subscribed = queue.Queue[bool]()
        self.client = paho.Client(
            paho.CallbackAPIVersion.VERSION2, client_id=f"urbantwin-check-{uuid.uuid4().hex[:8]}"
        )
        if tls:
            self.client.tls_set()
        self.client.on_connect = lambda client, *_: (
            client.subscribe([(name, 1) for name in topics]) if topics else subscribed.put(True)
        )
        self.client.on_subscribe = lambda *_: subscribed.put(True)
        self.client.on_message = self._on_message
        try:
            self.client.connect(host, port)
        except OSError as exc:
            raise Skipped(f"the broker {host}:{port} cannot be reached: {exc}") from None
        self.client.loop_start()
        try:
            subscribed.get(timeout=wait)
        except queue.Empty:
            self.close()
            raise Skipped(f"the broker {host}:{port} did not confirm the subscription") from None

    def _on_message(self, _client: Any, _userdata: Any, message: Any) -> None:
        try:
            self.messages.put((message.topic, orjson.loads(message.payload)))
        except orjson.JSONDecodeError:
            self.messages.put((message.topic, message.payload.decode("utf-8", "replace")))

    def publish(self, name: str, body: Any) -> None:
        info = self.client.publish(name, orjson.dumps(body), qos=1)
        info.wait_for_publish(self.wait)

    def until(self, wanted: Any) -> list[tuple[str, Any]]:
        """The messages up to the first for which `wanted(topic, body)` holds; [] after the wait."""
        seen: list[tuple[str, Any]] = []
        deadline = time.monotonic() + self.wait
        while time.monotonic() < deadline:
            try:
                item = self.messages.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                break
            seen.append(item)
            if wanted(*item):
                return seen
        return []

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@contextmanager
def subscribed(session: Session, cls: str, topics: list[str]) -> Iterator[Client]:
    host, port, tls = broker(session, cls)
    client = Client(host, port, tls, topics, session.options.mqtt_wait)
    try:
        yield client
    finally:
        client.close()


def _received(session: Session, client: Client, name: str, wanted: Any, what: str) -> Any:
    seen = client.until(lambda got, body: got == name and wanted(body))
    session.note(f"MQTT {name}", f"{len(seen)} messages; the last: {seen[-1][1]!r}" if seen else "no message")
    require(seen, f"no message on {name} {what} within {session.options.mqtt_wait:g} s")
    return seen[-1][1]


def _post_observation(session: Session, datastream: Any, result: float) -> dict[str, Any]:
    answer = session.request(
        "POST",
        sta(session, f"Datastreams({literal(datastream)})/Observations"),
        json={"result": result, "phenomenonTime": "2021-01-01T00:00:00Z"},
    )
    expect_status(answer, 201)
    return session.get_json(answer.headers.get("location") or json_of(answer)["@iot.selfLink"])


@check(
    "mqtt.receive.collection",
    "sensorthings",
    MQTT_RECEIVE,
    MQTT_RECEIVE,
    "A subscriber of an entity set and of a navigation set receives a new Observation",
    "Wer eine Entitätsmenge und eine Navigationsmenge abonniert, erhält eine neue Beobachtung",
    writes=True,
)
def receive_collection(session: Session) -> None:
    datastream = world(session)["Datastreams"]
    names = [
        topic(session, "Observations"),
        topic(session, f"Datastreams({literal(datastream)})/Observations"),
    ]
    with subscribed(session, MQTT_RECEIVE, names) as client:
        result = 1000 + uuid.uuid4().int % 1000
        created = _post_observation(session, datastream, result)
        for name in names:
            body = _received(session, client, name, lambda b: b.get("@iot.id") == created["@iot.id"], "of it")
            require(body.get("result") == result, f"the message on {name} has another result")


@check(
    "mqtt.receive.entity",
    "sensorthings",
    MQTT_RECEIVE,
    MQTT_RECEIVE,
    "A subscriber of an entity and of one of its properties receives its change",
    "Wer eine Entität und eine ihrer Eigenschaften abonniert, erhält ihre Änderung",
    writes=True,
)
def receive_entity(session: Session) -> None:
    thing = world(session)["Things"]
    path = f"Things({literal(thing)})"
    names = [topic(session, path), topic(session, f"{path}/description")]
    with subscribed(session, MQTT_RECEIVE, names) as client:
        description = f"changed {marker()}"
        answer = session.request("PATCH", sta(session, path), json={"description": description})
        expect_status(answer, 200, 204)
        whole = _received(
            session, client, names[0], lambda b: b.get("description") == description, "of the change"
        )
        require(whole.get("@iot.id") == thing, "the entity's message is another entity")
        _received(
            session, client, names[1], lambda b: b == {"description": description}, "with the property alone"
        )


@check(
    "mqtt.receive.select",
    "sensorthings",
    MQTT_RECEIVE,
    MQTT_RECEIVE,
    "A subscriber with $select receives only the selected properties",
    "Wer mit $select abonniert, erhält nur die gewählten Eigenschaften",
    writes=True,
)
def receive_select(session: Session) -> None:
    datastream = world(session)["Datastreams"]
    name = topic(session, f"Datastreams({literal(datastream)})/Observations?$select=result,phenomenonTime")
    with subscribed(session, MQTT_RECEIVE, [name]) as client:
        result = 2000 + uuid.uuid4().int % 1000
        _post_observation(session, datastream, result)
        body = _received(session, client, name, lambda b: b.get("result") == result, "of the new Observation")
        require(
            set(body) == {"result", "phenomenonTime"}, f"the message has {sorted(body)}, not the selection"
        )


@check(
    "mqtt.create",
    "sensorthings",
    MQTT_CREATE,
    MQTT_CREATE,
    "An Observation published to a Datastream's topic is stored",
    "Eine an das Topic eines Datastreams veröffentlichte Beobachtung wird gespeichert",
    writes=True,
)
def create(session: Session) -> None:
    datastream = world(session)["Datastreams"]
    result = 3000 + uuid.uuid4().int % 1000
    name = topic(session, f"Datastreams({literal(datastream)})/Observations")
    with subscribed(session, MQTT_CREATE, []) as client:
        client.publish(name, {"result": result, "phenomenonTime": "2021-02-01T00:00:00Z"})
        session.note(f"MQTT publish {name}", f'{{"result": {result}}}')
    path = sta(session, f"Datastreams({literal(datastream)})/Observations")
    deadline = time.monotonic() + session.options.mqtt_wait
    while True:
        found = values(session.get_json(path, {"$filter": f"result eq {result}"}))
        if found or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    require(
        len(found) == 1,
        f"the Observation published to {name} was not stored within {session.options.mqtt_wait:g} s",
    )
