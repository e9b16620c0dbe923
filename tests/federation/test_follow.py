"""Following a partner live: the partner (the tests' app, served by uvicorn, publishing to the
machine's Mosquitto under a topic prefix of this test's own) and the local twin (a second store)
whose federation service follows it, as a server process does."""

from __future__ import annotations

import queue
import time
import uuid
from collections.abc import Callable, Iterator

import orjson
import paho.mqtt.client as paho
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from tests.conftest import backend_missing
from tests.federation.conftest import Local, add_observations, partner_station
from tests.live.conftest import _broker_problem
from tests.live.helpers import MAIN_BROKER
from urbantwin.access.gate import Caller
from urbantwin.errors import BadRequest
from urbantwin.federation.follow import Followers, RemoteFollower, broker_of
from urbantwin.federation.registry import Remote
from urbantwin.federation.remote_http import RemoteFailure
from urbantwin.settings import Settings
from urbantwin.store.federation_schema import remote_mirrors
from urbantwin.store.schema import observations

WAIT = 20.0
CREDIT = {"attribution": "Partnerstadt", "licence": "dl-de/by-2-0"}
HOURS = [(f"2026-01-01T{h:02d}:00:00Z", float(h)) for h in range(3)]


@pytest.fixture
def prefix() -> str:
    return f"t{uuid.uuid4().hex[:10]}/"


@pytest.fixture
def settings(settings: Settings, prefix: str) -> Settings:
    """The partner publishes its Observations to the broker, under this test's topic prefix and a
    client id of its own (under the default id, another test's server on the same broker would take
    the partner's session, and its notifications, QoS 0, would be lost meanwhile)."""
    problem = _broker_problem()
    if problem:
        backend_missing(problem)
    return settings.with_overrides(
        mqtt_url=f"mqtt://{MAIN_BROKER[0]}:{MAIN_BROKER[1]}",
        mqtt_topic_prefix=prefix,
        mqtt_client_id=f"partner-{prefix.rstrip('/')}",
    )


def publish(topic: str, payload: bytes) -> None:
    """Publish as the partner's broker would deliver it (QoS 1)."""
    publisher = paho.Client(paho.CallbackAPIVersion.VERSION2)
    publisher.connect(*MAIN_BROKER)
    publisher.loop_start()
    publisher.publish(topic, payload, qos=1).wait_for_publish(WAIT)
    publisher.disconnect()
    publisher.loop_stop()


def until(what: Callable[[], bool], message: str) -> None:
    deadline = time.monotonic() + WAIT
    while not what():
        assert time.monotonic() < deadline, message
        time.sleep(0.05)


@pytest.fixture
def following(
    client: TestClient, live_server: str, local: Local, prefix: str
) -> Iterator[tuple[dict, Callable[[], list[float]], Callable[[], Followers]]]:
    """A partner station with 3 hours, mirrored and set to follow; the local results (sorted) and
    a way to start a follower process (stopped at the end)."""
    datastream = partner_station(client, "Elbufer", HOURS)
    admin = Caller.system()
    local.federation.add(
        admin,
        {
            "name": "partner-sta",
            "url": f"{live_server}/v1.1",
            "kind": "sensorthings",
            "attribution": "Partnerstadt",
            "licence": "dl-de/by-2-0",
        },
    )
    report = local.federation.mirror_request(
        admin,
        "partner-sta",
        {
            "datastreams": [datastream["@iot.id"]],
            "follow": True,
            "mqtt_url": f"mqtt://{MAIN_BROKER[0]}:{MAIN_BROKER[1]}/{prefix}",
        },
    )
    assert report.errors == [] and report.observations == 3

    def results() -> list[float]:
        with local.engine.connect() as connection:
            rows = connection.execute(select(observations.c.result_number)).scalars().all()
        return sorted(rows)

    started: list[Followers] = []

    def start() -> Followers:
        followers = Followers(
            local.engine, local.settings, local.federation.sensorthings, local.federation.registry
        )
        followers.check_seconds = 0.2
        followers.start()
        started.append(followers)
        until(lambda: "partner-sta" in followers.running, "the follower did not take the lease")
        until(lambda: followers.running["partner-sta"].connected, "the follower did not subscribe")
        return followers

    yield datastream, results, start
    for followers in started:
        followers.stop()


def test_a_post_on_the_partner_reaches_our_store_without_a_poll(
    client: TestClient, local: Local, following: tuple
) -> None:
    datastream, results, start = following
    followers = start()
    follower: RemoteFollower = followers.running["partner-sta"]
    until(lambda: follower.counts.catch_ups == 1, "no catch-up after subscribing")
    add_observations(client, datastream["@iot.id"], [("2026-01-01T05:00:00Z", 5.0)])
    until(lambda: results() == [0.0, 1.0, 2.0, 5.0], f"not stored live: {results()}")
    assert follower.counts.catch_ups == 1  # no incremental pass brought it
    assert follower.counts.stored == 1
    # The mirror's cursor moved with it: an incremental run finds nothing new.
    with local.engine.connect() as connection:
        assert connection.execute(select(remote_mirrors.c.observations)).scalar_one() == 4
    again = local.federation.mirror(Caller.system(), "partner-sta")
    assert again.observations == 0 and results() == [0.0, 1.0, 2.0, 5.0]

    # A message that is no Observation is counted and logged; the follower goes on.
    topic = follower.topics().pop()
    publish(topic, b"{not json")
    publish(topic, orjson.dumps({"result": 1}))
    until(lambda: follower.counts.malformed == 2, "the malformed messages were not counted")
    add_observations(client, datastream["@iot.id"], [("2026-01-01T06:00:00Z", 6.0)])
    until(lambda: results()[-1] == 6.0, "the follower stopped after a malformed message")
    health = local.federation.registry.get(Caller.system(), "partner-sta")
    assert health.health == "ok" and health.follow


def test_a_disconnect_and_catch_up_lose_and_double_nothing(
    client: TestClient, local: Local, following: tuple
) -> None:
    datastream, results, start = following
    first = start()
    add_observations(client, datastream["@iot.id"], [("2026-01-01T03:00:00Z", 3.0)])
    until(lambda: results() == [0.0, 1.0, 2.0, 3.0], "not stored live")
    first.stop()  # the process goes away: what the partner publishes meanwhile reaches no one
    add_observations(
        client, datastream["@iot.id"], [("2026-01-01T04:00:00Z", 4.0), ("2026-01-01T05:00:00Z", 5.0)]
    )

    second = start()  # another process takes the lease, subscribes, then catches up
    follower = second.running["partner-sta"]
    until(lambda: follower.counts.catch_ups >= 1, "no catch-up")
    until(lambda: results() == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0], f"the gap was not filled: {results()}")
    add_observations(client, datastream["@iot.id"], [("2026-01-01T07:00:00Z", 7.0)])
    until(lambda: results()[-1] == 7.0, "not stored live after the catch-up")
    # An Observation that comes again (the broker's redelivery, or one a mirror run stored first)
    # is not stored twice: only what lies after the cursor, as the store has it, is taken.
    stored = client.get(f"/v1.1/Datastreams({datastream['@iot.id']})/Observations", params={"$top": 100})
    for body in stored.json()["value"]:
        publish(follower.topics().pop(), orjson.dumps(body))
    until(lambda: follower.counts.skipped == 7, f"not all were skipped: {follower.counts}")
    assert follower.counts.stored == 1
    assert results() == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 7.0]
    with local.engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(observations)).scalar_one() == 7


def test_the_broker_is_the_one_the_partner_names_unless_given() -> None:
    remote = Remote(
        "p",
        "https://p.example/v1.1",
        "sensorthings",
        "p",
        "a",
        "l",
        "remote-p",
        10.0,
        "ok",
        None,
        None,
        None,
    )
    root = {
        "serverSettings": {
            "http://www.opengis.net/spec/iot_sensing/1.1/req/receive-updates-via-mqtt/receive-updates": {
                "endpoints": ["mqtt://broker.p.example:1884"]
            }
        }
    }
    assert broker_of(remote, root) == ("broker.p.example", 1884, False, "")
    given = Remote(**{**remote.__dict__, "mqtt_url": "mqtts://b.example/city/"})
    assert broker_of(given, None) == ("b.example", 8883, True, "city/")
    with pytest.raises(RemoteFailure, match="names no MQTT broker"):
        broker_of(remote, {"serverSettings": {}})


def test_following_is_for_sensorthings_partners_at_a_broker_url(local: Local) -> None:
    admin = Caller.system()
    local.federation.add(
        admin,
        {
            "name": "geo",
            "url": "https://g.example/ogcapi",
            "kind": "ogcapi",
            "attribution": "a",
            "licence": "l",
        },
    )
    with pytest.raises(BadRequest, match="only SensorThings"):
        local.federation.registry.set_follow(admin, "geo", True)
    local.federation.add(
        admin,
        {
            "name": "sta",
            "url": "https://s.example/v1.1",
            "kind": "sensorthings",
            "attribution": "a",
            "licence": "l",
        },
    )
    with pytest.raises(BadRequest, match="mqtt_url"):
        local.federation.registry.set_follow(admin, "sta", True, "http://s.example")
    followed = local.federation.registry.set_follow(admin, "sta", True, "mqtt://u:secret@b.example:1883")
    assert followed.follow and followed.document()["mqtt_url"] == "mqtt://b.example:1883"
    # One process holds the lease; another gets it only once it has run out or been given up.
    registry = local.federation.registry
    assert registry.claim("sta", "one", 30) and registry.claim("sta", "one", 30)
    assert not registry.claim("sta", "two", 30)
    registry.release("sta", "one")
    assert registry.claim("sta", "two", 30)


def test_a_full_queue_drops_and_asks_for_a_catch_up(local: Local) -> None:
    """A message that finds the queue full is dropped and counted, and nothing more is stored live
    until an incremental pass has read what was dropped."""
    admin = Caller.system()
    local.federation.add(
        admin, {"name": "sta", "url": "https://s.example/v1.1", "kind": "sensorthings", **CREDIT}
    )
    remote = local.federation.registry.get(admin, "sta")
    service = local.federation
    follower = RemoteFollower(local.engine, local.settings, service.sensorthings, service.registry, remote)
    follower._queue = queue.Queue(1)
    follower._catch_up.clear()  # as after a catch-up

    class Message:
        topic = "v1.1/Datastreams(1)/Observations"
        payload = b"{}"

    follower._received(None, None, Message())
    assert not follower._catch_up.is_set()
    follower._received(None, None, Message())
    assert follower.counts.received == 2 and follower.counts.dropped == 1
    assert follower._catch_up.is_set()
