"""The SensorThings MQTT extension against the machine's Mosquitto, on both backends: changes made
over HTTP reach MQTT subscribers, Observations published over MQTT are stored and visible over HTTP,
and nothing of a restricted dataset goes to a broker anyone may subscribe to."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

import httpx
import psycopg
import pytest
from fastapi import FastAPI
from prometheus_client import REGISTRY
from sqlalchemy import Connection, Engine
from sqlalchemy.exc import OperationalError

from tests.conftest import ADMIN_TOKEN
from tests.live.helpers import WAIT, Publisher, Subscriber, sensor_world, wait_until
from urbantwin.live.mqtt import CONFORMANCE_CREATE, CONFORMANCE_RECEIVE, MqttBridge
from urbantwin.live.wire import Message
from urbantwin.store.notify import try_slot

#: The wait for a message that must not come, after one published later has come.
QUIET = 0.5


def session_events(session: str, event: str) -> float:
    """How often `event` happened to the MQTT session `session` (the metric `/metrics` shows)."""
    labels = {"session": session, "event": event}
    return REGISTRY.get_sample_value("urbantwin_mqtt_session_events_total", labels) or 0.0


def mqtt_ingested() -> float:
    """The Observations stored from the broker so far (the metric `/metrics` shows)."""
    return REGISTRY.get_sample_value("urbantwin_ingested_observations_total", {"path": "mqtt"}) or 0.0


def counted(expected: float) -> float:
    """The MQTT ingest count once it reaches `expected` (it is counted just after the commit that
    subscribers hear of), or as it is after a second."""
    deadline = time.monotonic() + 1
    while mqtt_ingested() < expected and time.monotonic() < deadline:
        time.sleep(0.01)
    return mqtt_ingested()


@pytest.fixture
def world(http: httpx.Client, prefix: str) -> dict[str, int]:
    """A Thing with a Location, a Datastream and one Observation (so its FeatureOfInterest), all of
    whose notifications have been published before the test subscribes."""
    ids = sensor_world(http)
    subscriber = Subscriber([f"{prefix}v1.1/Observations"])
    first = http.post(f"/v1.1/Datastreams({ids['datastream']})/Observations", json={"result": 0})
    assert first.status_code == 201
    subscriber.get()
    subscriber.close()
    ids["foi"] = http.get(f"/v1.1/Observations({first.json()['@iot.id']})/FeatureOfInterest").json()[
        "@iot.id"
    ]
    return ids


def test_the_service_root_names_the_broker_when_mqtt_is_on(http: httpx.Client) -> None:
    settings = http.get("/v1.1/").json()["serverSettings"]
    assert CONFORMANCE_RECEIVE in settings["conformance"]
    assert CONFORMANCE_CREATE in settings["conformance"]
    assert settings[CONFORMANCE_RECEIVE] == {"endpoints": ["mqtt://127.0.0.1:1883"]}
    assert "urbantwin:mqtt" not in settings


def test_an_http_create_reaches_every_collection_topic(http: httpx.Client, prefix: str, world: dict) -> None:
    ds, foi = world["datastream"], world["foi"]
    topics = [
        f"{prefix}v1.1/Observations",
        f"{prefix}v1.1/Datastreams({ds})/Observations",
        f"{prefix}v1.1/FeaturesOfInterest({foi})/Observations",
        f"{prefix}v1.1/Observations?$select=result,phenomenonTime",
        f"{prefix}v1.1/Datastreams({ds})/Observations?$select=result,phenomenonTime",
    ]
    subscriber = Subscriber(topics)
    try:
        answer = http.post(
            f"/v1.1/Datastreams({ds})/Observations",
            json={"result": 21.5, "phenomenonTime": "2026-05-01T12:00:00Z"},
        )
        assert answer.status_code == 201
        ident = answer.json()["@iot.id"]
        received = dict(subscriber.get() for _ in topics)
        assert set(received) == set(topics)
        full = received[f"{prefix}v1.1/Datastreams({ds})/Observations"]
        assert full["@iot.id"] == ident
        assert full["result"] == 21.5
        assert full["@iot.selfLink"].endswith(f"/v1.1/Observations({ident})")
        assert received[f"{prefix}v1.1/Observations"] == full
        assert received[f"{prefix}v1.1/Observations?$select=result,phenomenonTime"] == {
            "result": 21.5,
            "phenomenonTime": "2026-05-01T12:00:00Z",
        }
    finally:
        subscriber.close()


def test_an_update_reaches_the_entity_and_its_properties(
    http: httpx.Client, prefix: str, world: dict
) -> None:
    thing = world["thing"]
    topics = [f"{prefix}v1.1/Things({thing})", f"{prefix}v1.1/Things({thing})/name", f"{prefix}v1.1/Things"]
    subscriber = Subscriber(topics)
    try:
        assert http.patch(f"/v1.1/Things({thing})", json={"name": "renamed"}).status_code == 200
        received = dict(subscriber.get() for _ in topics)
        assert received[f"{prefix}v1.1/Things({thing})/name"] == {"name": "renamed"}
        assert received[f"{prefix}v1.1/Things({thing})"]["name"] == "renamed"
        assert received[f"{prefix}v1.1/Things"]["@iot.id"] == thing
    finally:
        subscriber.close()


def test_a_new_location_reaches_the_navigation_set_of_its_thing(
    http: httpx.Client, prefix: str, world: dict
) -> None:
    thing = world["thing"]
    subscriber = Subscriber(
        [f"{prefix}v1.1/Things({thing})/Locations", f"{prefix}v1.1/Things({thing})/HistoricalLocations"]
    )
    try:
        location = {
            "name": "moved",
            "description": "the new place",
            "encodingType": "application/geo+json",
            "location": {"type": "Point", "coordinates": [12.4, 51.3]},
        }
        answer = http.post(f"/v1.1/Things({thing})/Locations", json=location)
        assert answer.status_code == 201
        received = dict(subscriber.get() for _ in range(2))
        assert received[f"{prefix}v1.1/Things({thing})/Locations"]["@iot.id"] == answer.json()["@iot.id"]
        assert "time" in received[f"{prefix}v1.1/Things({thing})/HistoricalLocations"]
    finally:
        subscriber.close()


def test_a_deep_insert_is_announced_whole(http: httpx.Client, prefix: str) -> None:
    subscriber = Subscriber(
        [f"{prefix}v1.1/Things", f"{prefix}v1.1/Datastreams", f"{prefix}v1.1/Observations"]
    )
    try:
        ids = sensor_world(http, "deep")
        created = http.post(
            f"/v1.1/Things({ids['thing']})/Datastreams",
            json={
                "name": "with observations",
                "description": "d",
                "observationType": "OM_Measurement",
                "unitOfMeasurement": {"name": "x", "symbol": "x", "definition": "x"},
                "Sensor": {"@iot.id": 1},
                "ObservedProperty": {"name": "p", "definition": "p", "description": "p"},
                "Observations": [{"result": 1}, {"result": 2}],
            },
        )
        assert created.status_code == 201, created.text
        seen = [subscriber.get() for _ in range(5)]  # the Thing, 2 Datastreams, 2 Observations
        by_topic: dict[str, list] = {}
        for topic, body in seen:
            by_topic.setdefault(topic.removeprefix(prefix), []).append(body)
        assert [b["@iot.id"] for b in by_topic["v1.1/Things"]] == [ids["thing"]]
        assert len(by_topic["v1.1/Datastreams"]) == 2
        assert sorted(b["result"] for b in by_topic["v1.1/Observations"]) == [1, 2]
    finally:
        subscriber.close()


def test_a_deep_insert_announces_its_new_sensor_location_and_observed_property(
    http: httpx.Client, prefix: str
) -> None:
    topics = ["Sensors", "Locations", "ObservedProperties", "HistoricalLocations"]
    subscriber = Subscriber([f"{prefix}v1.1/{name}" for name in topics])
    try:
        ids = sensor_world(http, "announced")
        received = dict(subscriber.get() for _ in topics)
        assert received[f"{prefix}v1.1/Locations"]["@iot.id"] == ids["location"]
        assert received[f"{prefix}v1.1/Sensors"]["name"] == "thermo"
        assert received[f"{prefix}v1.1/ObservedProperties"]["name"] == "temperature"
        assert "time" in received[f"{prefix}v1.1/HistoricalLocations"]
    finally:
        subscriber.close()


def test_observations_published_over_mqtt_are_stored(http: httpx.Client, prefix: str, world: dict) -> None:
    ds = world["datastream"]
    before = mqtt_ingested()
    subscriber = Subscriber([f"{prefix}v1.1/Datastreams({ds})/Observations"])
    publisher = Publisher()
    try:
        publisher.publish(f"{prefix}v1.1/Datastreams({ds})/Observations", {"result": 7.25})
        publisher.publish(
            f"{prefix}v1.1/Observations",
            {"result": 8.5, "phenomenonTime": "2026-05-01T13:00:00Z", "Datastream": {"@iot.id": ds}},
        )
        # Not a plain row: the FeatureOfInterest is created with it (the one-by-one path).
        publisher.publish(
            f"{prefix}v1.1/Observations",
            {
                "result": "text",
                "Datastream": {"@iot.id": ds},
                "FeatureOfInterest": {
                    "name": "spot",
                    "description": "a spot",
                    "encodingType": "application/geo+json",
                    "feature": {"type": "Point", "coordinates": [12.0, 51.0]},
                },
            },
        )
        results = {subscriber.get()[1]["result"] for _ in range(3)}
        assert results == {7.25, 8.5, "text"}
        stored = http.get(f"/v1.1/Datastreams({ds})/Observations?$orderby=id&$select=result").json()["value"]
        assert [o["result"] for o in stored] == [0, 7.25, 8.5, "text"]
        assert counted(before + 3) == before + 3
    finally:
        publisher.close()
        subscriber.close()


def test_a_message_that_cannot_be_stored_is_dropped_and_the_next_is_stored(
    http: httpx.Client, prefix: str, world: dict
) -> None:
    ds = world["datastream"]
    before = mqtt_ingested()
    subscriber = Subscriber([f"{prefix}v1.1/Observations"])
    publisher = Publisher()
    try:
        publisher.publish(f"{prefix}v1.1/Observations", {"result": 1, "Datastream": {"@iot.id": 999_999}})
        publisher.client.publish(f"{prefix}v1.1/Observations", b"{not json", qos=1).wait_for_publish(5)
        # the one rule of JSON input, as over HTTP: at most 64 levels deep, no NUL in any string
        deep: dict = {}
        for _ in range(100):
            deep = {"a": deep}
        publisher.publish(f"{prefix}v1.1/Datastreams({ds})/Observations", {"result": 2, "parameters": deep})
        publisher.publish(f"{prefix}v1.1/Datastreams({ds})/Observations", {"result": "a\x00b"})
        publisher.publish(
            f"{prefix}v1.1/Datastreams({ds})/Observations", {"result": "bad", "phenomenonTime": "never"}
        )
        publisher.publish(f"{prefix}v1.1/Datastreams({ds})/Observations", {"result": 42})
        topic, body = subscriber.get()
        assert body["result"] == 42  # the five before it were refused
        count = http.get("/v1.1/Observations?$count=true&$top=0").json()["@iot.count"]
        assert count == 2
        assert counted(before + 1) == before + 1  # the refused ones are not counted
    finally:
        publisher.close()
        subscriber.close()


def test_restricted_data_is_not_published_to_a_public_broker(
    http: httpx.Client, prefix: str, world: dict
) -> None:
    secret = sensor_world(http, "meter")
    assert (
        http.post(
            "/api/admin/datasets",
            json={"id": "meters", "title": "Meters", "publisher_id": "city", "access_level": "internal"},
        ).status_code
        == 201
    )
    moved = http.post("/api/datasets/meters/members", json={"entity_set": "Things", "ids": [secret["thing"]]})
    assert moved.status_code == 200, moved.text
    subscriber = Subscriber([f"{prefix}v1.1/Observations", f"{prefix}v1.1/Datastreams/#"])
    try:
        assert (
            http.post(
                f"/v1.1/Datastreams({secret['datastream']})/Observations", json={"result": 666}
            ).status_code
            == 201
        )
        assert (
            http.post(
                f"/v1.1/Datastreams({world['datastream']})/Observations", json={"result": 1}
            ).status_code
            == 201
        )
        topic, body = subscriber.get()
        assert body["result"] == 1
        with pytest.raises(queue.Empty):
            subscriber.get(timeout=QUIET)
    finally:
        subscriber.close()


def test_without_a_write_principal_nothing_is_created_over_mqtt(settings, engine) -> None:  # noqa: ANN001
    from urbantwin.app import create_app

    app: FastAPI = create_app(
        settings.with_overrides(mqtt_write_token="", allow_anonymous_writes=False), engine
    )
    bridge = app.state.live.mqtt
    assert bridge is not None and not bridge.creates
    conformance = app.state.sensorthings.service_root("/v1.1")["serverSettings"]["conformance"]
    assert CONFORMANCE_RECEIVE in conformance
    assert CONFORMANCE_CREATE not in conformance


def test_mqtt_off_says_so_in_the_service_root(settings, engine) -> None:  # noqa: ANN001
    from urbantwin.app import create_app

    app = create_app(settings.with_overrides(mqtt_url=""), engine)
    root = app.state.sensorthings.service_root("/v1.1")["serverSettings"]
    assert CONFORMANCE_RECEIVE not in root["conformance"]
    assert "URBANTWIN_MQTT_URL" in root["urbantwin:mqtt"]
    assert ADMIN_TOKEN not in str(root)


def test_a_message_stored_before_a_crash_is_not_stored_again_when_redelivered(
    app: FastAPI, http: httpx.Client, prefix: str, world: dict
) -> None:
    """The process stored a batch and died before its PUBACK left: the broker sends the message again
    (DUP) to the session's next process, which knows it from the store, not from its memory."""
    ds = world["datastream"]
    bridge = app.state.live.mqtt
    topic = f"{prefix}v1.1/Datastreams({ds})/Observations"
    message = Message(
        topic, b'{"result": 41.5}', qos=1, packet_id=7, dup=False, notification=False, generation=1
    )
    assert bridge._store([message])  # committed; the process dies before acknowledging
    restarted = MqttBridge(bridge.settings, bridge.service, bridge.authenticator, bridge.access)
    restarted.resume(bridge.client_id)
    assert restarted._store([replace(message, dup=True, generation=2)])
    # A sensor that sends the same value again (no DUP) is heard, and so is a redelivery of a message
    # the session never stored.
    assert restarted._store([replace(message, packet_id=8, generation=2)])
    unseen = Message(topic, b'{"result": 43}', qos=1, packet_id=9, dup=True, notification=False, generation=2)
    assert restarted._store([unseen])
    stored = http.get(f"/v1.1/Datastreams({ds})/Observations?$orderby=id&$select=result").json()["value"]
    assert [o["result"] for o in stored] == [0, 41.5, 41.5, 43]


def test_every_process_shares_one_subscription_of_the_creation_topics(
    app: FastAPI, http: httpx.Client, prefix: str
) -> None:
    bridge = app.state.live.mqtt
    group = bridge.settings.mqtt_client_id
    assert bridge.creation_subscriptions == [
        f"$share/{group}/{prefix}v1.1/Observations",
        f"$share/{group}/{prefix}v1.1/+/Observations",
    ]
    assert bridge.receiver is not None and bridge.receiver.filters == bridge.creation_subscriptions


# --- exactly once when the broker sends messages again ------------------------------------------


class HeldIngest:
    """Holds the bridge's ingest thread before it stores its next batch, until `release`."""

    def __init__(self, bridge: MqttBridge, monkeypatch: pytest.MonkeyPatch) -> None:
        self.bridge = bridge
        self.go = threading.Event()
        self.held: list[Message] = []
        store = bridge._store

        def held_store(messages: list[Message]) -> bool:
            if not self.go.is_set():
                self.held = messages
                self.go.wait(4 * WAIT)
            return store(messages)

        monkeypatch.setattr(bridge, "_store", held_store)

    def received(self) -> int:
        """Messages the process has taken from the broker and not stored yet."""
        return len(self.held) + self.bridge.inbox_depth

    def release(self) -> None:
        self.go.set()


def drop_connection(bridge: MqttBridge) -> None:
    """End the receiver's connection as a broker that lost it would (it connects again at once and
    resumes its session, in which the broker sends every unacknowledged message again, with DUP)."""
    receiver = bridge.receiver
    assert receiver is not None
    generation = receiver.generation
    with receiver._lock:
        receiver._close_locked()
    wait_until(lambda: receiver.generation > generation and receiver.connected.is_set(), what="reconnected")


def stored_once(http: httpx.Client, prefix: str, ds: int, publisher: Publisher, expected: list[int]) -> None:
    """Every published message stored exactly once: a last message is published, and once it is
    stored, everything the process received before it has been handled (the ingest is in order)."""
    topic = f"{prefix}v1.1/Datastreams({ds})/Observations"
    publisher.publish(topic, {"result": -1})

    def results() -> list[Any]:
        rows = http.get(f"/v1.1/Datastreams({ds})/Observations?$select=result&$top=10000").json()["value"]
        return sorted(o["result"] for o in rows)

    wait_until(lambda: {-1, *expected} <= set(results()), what="every message stored")
    assert results() == sorted([-1, 0, *expected])  # 0: the world's own Observation


def test_messages_sent_again_after_reconnects_are_stored_once(
    app: FastAPI, http: httpx.Client, prefix: str, world: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A process that falls behind (its inbox full of messages not stored yet) loses its connection
    twice: the broker sends everything unacknowledged again each time, while the copies from the
    earlier connections still wait in the process."""
    bridge = app.state.live.mqtt
    ds = world["datastream"]
    topic = f"{prefix}v1.1/Datastreams({ds})/Observations"
    hold = HeldIngest(bridge, monkeypatch)
    publisher = Publisher()
    try:
        sent = list(range(1, 301))
        for i in sent:
            publisher.publish(topic, {"result": i})
        wait_until(lambda: hold.received() == len(sent), what="every message received")
        for copies in (2, 3):
            drop_connection(bridge)
            wanted = copies * len(sent)
            wait_until(lambda: hold.received() >= wanted, what="sent again")  # noqa: B023
        hold.release()
        stored_once(http, prefix, ds, publisher, sent)
        session = bridge.client_id
        assert session_events(session, "connected") >= 3
        assert session_events(session, "stale_dropped") > 0  # copies of the first two connections
        assert session_events(session, "resent_stored") >= len(hold.held)  # the batch held
    finally:
        hold.release()
        publisher.close()


def test_messages_whose_acknowledgements_were_lost_are_stored_once_however_small_the_batches(
    app: FastAPI, http: httpx.Client, prefix: str, world: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Forty messages stored one batch each, whose acknowledgements never reached the broker, come
    again after a reconnect: what the process remembers is counted in messages, not batches."""
    bridge = app.state.live.mqtt
    ds = world["datastream"]
    topic = f"{prefix}v1.1/Datastreams({ds})/Observations"
    receiver = bridge.receiver
    monkeypatch.setattr(receiver, "ack", lambda messages: None)  # lost with the connection
    publisher = Publisher()
    try:
        sent = list(range(1, 41))
        for i in sent:
            publisher.publish(topic, {"result": i})
            wait_until(lambda: bridge.inbox_depth == 0 and bridge._batches >= i, what="stored")  # noqa: B023
        monkeypatch.undo()
        drop_connection(bridge)
        stored_once(http, prefix, ds, publisher, sent)
        assert session_events(bridge.client_id, "resent_stored") == len(sent)
    finally:
        publisher.close()


class AnswerLost:
    """A store whose first commit goes through and whose answer is lost (the connection dropped as
    COMMIT was sent): the caller sees an OperationalError for a transaction that committed."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.lost = 0

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        with self.engine.begin() as connection:
            yield connection
        if not self.lost:
            self.lost += 1
            raise OperationalError("COMMIT", {}, Exception("server closed the connection unexpectedly"))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.engine, name)


def test_a_batch_whose_commit_answer_was_lost_is_not_stored_again(
    app: FastAPI, http: httpx.Client, prefix: str, world: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    bridge = app.state.live.mqtt
    ds = world["datastream"]
    store = AnswerLost(bridge.service.write_engine)
    monkeypatch.setattr(bridge.service, "write_engine", store)
    topic = f"{prefix}v1.1/Datastreams({ds})/Observations"
    messages = [
        Message(topic, b'{"result": %d}' % i, qos=1, packet_id=i, dup=False, notification=False, generation=1)
        for i in (1, 2)
    ]
    found = session_events(bridge.client_id, "commit_found")
    assert bridge._store(messages)
    assert store.lost == 1
    assert session_events(bridge.client_id, "commit_found") == found + 1
    stored = http.get(f"/v1.1/Datastreams({ds})/Observations?$orderby=id&$select=result").json()["value"]
    assert [o["result"] for o in stored] == [0, 1, 2]


@pytest.mark.parametrize("backend", ["postgresql"])
def test_a_process_that_lost_its_slot_receives_under_its_new_one(
    app: FastAPI, http: httpx.Client, prefix: str, world: dict, engine: Engine
) -> None:
    """The listening connection that holds a process's slot fails, and another process takes the slot
    meanwhile: the process's MQTT session follows its new slot, so no two processes share a client id
    (they would take the session from each other, each storing what the other had not acknowledged)."""
    bridge = app.state.live.mqtt
    bus = app.state.live.bus
    ds = world["datastream"]
    old, lost = bridge.client_id, bus.slot
    url = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(url, autocommit=True) as other:
        listener = bus._listener.info.backend_pid
        other.execute("SELECT pg_terminate_backend(%s)", (listener,))
        wait_until(lambda: try_slot(other, bus.slot), what="the slot taken by the other process")
        wait_until(lambda: bridge.client_id != old and bridge.connected.is_set(), what="the session moved")
        assert bridge.client_id == f"{bridge.settings.mqtt_client_id}-{bus.slot}"
        assert bridge.receiver is not None and bridge.receiver.client_id == bridge.client_id
        # The process that took the slot takes up its session (the broker keeps handing that session
        # its share of the messages); both store, each message once.
        taker = MqttBridge(bridge.settings, bridge.service, bridge.authenticator, bridge.access)
        taker.start(lost)
        publisher = Publisher()
        try:
            wait_until(taker.connected.is_set, what="the other process connected")
            topic = f"{prefix}v1.1/Datastreams({ds})/Observations"
            sent = list(range(1, 51))
            for i in sent:
                publisher.publish(topic, {"result": i})
            stored_once(http, prefix, ds, publisher, sent)
            assert old == taker.client_id
        finally:
            publisher.close()
            taker.stop()
