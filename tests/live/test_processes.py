"""Real processes: several servers behave as one, the broker may go away, a server may be killed.

Servers run as `urbantwin serve` subprocesses (or in this process where the test needs to see the
bridge's state); brokers that a test stops are its own Mosquitto on a free port, never the machine's.
"""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, select

from tests.conftest import ADMIN_TOKEN
from tests.live.helpers import (
    MAIN_BROKER,
    WAIT,
    EventStream,
    Publisher,
    Subscriber,
    free_port,
    kill,
    mosquitto,
    sensor_world,
    serve,
    wait_until,
)
from urbantwin.settings import Settings
from urbantwin.store.schema import observations

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def _environment(settings: Settings, broker_port: int = MAIN_BROKER[1]) -> dict[str, str]:
    return {
        "URBANTWIN_DATABASE_URL": settings.database_url,
        "URBANTWIN_ADMIN_TOKEN": ADMIN_TOKEN,
        "URBANTWIN_MQTT_URL": f"mqtt://127.0.0.1:{broker_port}",
        "URBANTWIN_MQTT_CLIENT_ID": settings.mqtt_client_id,
        "URBANTWIN_MQTT_TOPIC_PREFIX": settings.mqtt_topic_prefix,
        "URBANTWIN_MQTT_WRITE_TOKEN": ADMIN_TOKEN,
        "URBANTWIN_LIVE_KEEPALIVE_SECONDS": "1",
        "URBANTWIN_LOG_LEVEL": "warning",
    }


def _stored_results(engine: Engine, datastream: int) -> list[float]:
    with engine.connect() as connection:
        return list(
            connection.execute(
                select(observations.c.result_number).where(observations.c.datastream_id == datastream)
            ).scalars()
        )


@pytest.mark.parametrize("backend", ["postgresql"])
def test_two_server_processes_behave_as_one(
    settings: Settings, engine: Engine, prefix: str, tmp_path: Path
) -> None:
    environment = _environment(settings)
    ports = [free_port(), free_port()]
    servers = []
    try:
        for port in ports:  # one after the other: each migrates the store when it starts
            servers.append(serve(port, environment, tmp_path / f"server-{port}.log"))
        first, second = (f"http://127.0.0.1:{port}" for port in ports)
        with (
            httpx.Client(base_url=first, headers=ADMIN, timeout=30) as a,
            httpx.Client(base_url=second, headers=ADMIN, timeout=30) as b,
        ):
            ds = sensor_world(a)["datastream"]
            stream = EventStream(f"{second}/api/live/observations?datastream={ds}")
            subscriber = Subscriber([f"{prefix}v1.1/Datastreams({ds})/Observations"])
            try:
                ids = [
                    client.post(f"/v1.1/Datastreams({ds})/Observations", json={"result": i}).json()["@iot.id"]
                    for i, client in enumerate((a, b, a))
                ]
                # A change made through the first process reaches the other's push subscribers.
                assert [int(stream.get()["id"]) for _ in ids] == ids
                # Each change is published to the broker once, by the process that made it: the
                # messages up to the last of each process include every one published before it.
                seen: list[int] = []
                while not {ids[1], ids[2]} <= set(seen):
                    seen.append(subscriber.get()[1]["@iot.id"])
                assert sorted(seen) == sorted(ids)
                # An Observation published over MQTT is stored once (one process takes the creates)
                # and pushed by both.
                publisher = Publisher()
                publisher.publish(f"{prefix}v1.1/Datastreams({ds})/Observations", {"result": 99})
                publisher.close()
                created = stream.get()["data"]
                assert created["result"] == 99
                second_stream = EventStream(
                    f"{first}/api/live/observations?datastream={ds}",
                    headers={"Last-Event-ID": str(ids[-1])},
                )
                assert second_stream.get()["data"]["@iot.id"] == created["@iot.id"]
                second_stream.close()
                listed = b.get(f"/v1.1/Datastreams({ds})/Observations?$filter=result eq 99&$count=true")
                assert listed.json()["@iot.count"] == 1
            finally:
                stream.close()
                subscriber.close()
    finally:
        for server in servers:
            kill(server)


def test_http_and_notifications_outlive_the_broker(
    settings: Settings, engine: Engine, prefix: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    port = free_port()
    with mosquitto(port, tmp_path) as broker_process:
        app = _served_app(request, settings.with_overrides(mqtt_url=f"mqtt://127.0.0.1:{port}"), engine)
        bridge = app["app"].state.live.mqtt
        assert bridge.connected.wait(WAIT)
        base = app["url"]
        with httpx.Client(base_url=base, headers=ADMIN, timeout=30) as http:
            ds = sensor_world(http)["datastream"]
            subscriber = Subscriber([f"{prefix}v1.1/Observations"], port=port)
            try:
                http.post(f"/v1.1/Datastreams({ds})/Observations", json={"result": 1})
                assert subscriber.get()[1]["result"] == 1

                broker_process.terminate()
                broker_process.wait(10)
                wait_until(lambda: not bridge.connected.is_set(), what="the server noticing the broker gone")
                # HTTP keeps working without the broker.
                answer = http.post(f"/v1.1/Datastreams({ds})/Observations", json={"result": 2})
                assert answer.status_code == 201
                subscriber.subscribed.clear()

                with mosquitto(port, tmp_path):
                    assert bridge.connected.wait(40), "the server did not reconnect to the broker"
                    assert subscriber.subscribed.wait(WAIT)
                    http.post(f"/v1.1/Datastreams({ds})/Observations", json={"result": 3})
                    assert subscriber.get()[1]["result"] == 3
                    # Creating over MQTT resumes too (the server subscribed again).
                    publisher = Publisher(port=port)
                    publisher.publish(f"{prefix}v1.1/Datastreams({ds})/Observations", {"result": 4})
                    publisher.close()
                    assert subscriber.until(lambda _t, body: body["result"] == 4)
                    assert sorted(_stored_results(engine, ds)) == [1, 2, 3, 4]
            finally:
                subscriber.close()


def _served_app(request: pytest.FixtureRequest, settings: Settings, engine: Engine) -> dict[str, Any]:
    """The app served by uvicorn in this process (so the test can watch its MQTT bridge)."""
    import uvicorn

    from urbantwin.app import create_app

    app = create_app(settings, engine)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_until(lambda: server.started, what="the test server starting")

    def stop() -> None:
        server.should_exit = True
        thread.join(timeout=15)

    request.addfinalizer(stop)
    return {"app": app, "url": f"http://127.0.0.1:{port}"}


def test_no_acknowledged_http_write_is_lost_when_the_server_is_killed(
    settings: Settings, engine: Engine, tmp_path: Path
) -> None:
    port = free_port()
    environment = {**_environment(settings), "URBANTWIN_MQTT_URL": ""}
    server = serve(port, environment, tmp_path / "server.log")
    url = f"http://127.0.0.1:{port}"
    acknowledged: list[int] = []
    enough = threading.Event()
    try:
        with httpx.Client(base_url=url, headers=ADMIN, timeout=30) as http:
            ds = sensor_world(http)["datastream"]

        def ingest(worker: int) -> None:
            with httpx.Client(base_url=url, headers=ADMIN, timeout=10) as http:
                for i in range(worker, 100_000, 4):
                    try:
                        answer = http.post(f"/v1.1/Datastreams({ds})/Observations", json={"result": i})
                    except httpx.HTTPError:
                        return  # the server is gone
                    if answer.status_code == 201:
                        acknowledged.append(i)
                        if len(acknowledged) >= 60:
                            enough.set()

        threads = [threading.Thread(target=ingest, args=(w,), daemon=True) for w in range(4)]
        for thread in threads:
            thread.start()
        assert enough.wait(60), "the server acknowledged too few writes"
        kill(server)  # SIGKILL, with requests in flight
        for thread in threads:
            thread.join(30)
        server = serve(port, environment, tmp_path / "server.log")
        stored = set(_stored_results(engine, ds))
        missing = set(acknowledged) - stored
        assert not missing, f"{len(missing)} acknowledged Observations were lost"
    finally:
        kill(server)


def test_no_acknowledged_mqtt_message_is_lost_when_the_server_is_killed(
    settings: Settings, engine: Engine, prefix: str, tmp_path: Path
) -> None:
    broker_port, port = free_port(), free_port()
    environment = _environment(settings, broker_port)
    with mosquitto(broker_port, tmp_path):
        server = serve(port, environment, tmp_path / "server.log")
        try:
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=ADMIN, timeout=30) as http:
                ds = sensor_world(http)["datastream"]
            topic = f"{prefix}v1.1/Datastreams({ds})/Observations"
            subscriber = Subscriber([topic], port=broker_port)
            publisher = Publisher(port=broker_port)
            try:
                # The server has subscribed once this first message comes back stored.
                publisher.publish(topic, {"result": -1})
                subscriber.get(timeout=30)
                acknowledged = []
                total = 600
                for i in range(total):
                    publisher.publish(topic, {"result": i})  # returns once the broker sent PUBACK
                    acknowledged.append(i)
                    if i == 200:
                        kill(server)  # mid-ingest; the rest is published while no server runs
                server = serve(port, environment, tmp_path / "server.log")
                wait_until(
                    lambda: set(acknowledged) <= set(_stored_results(engine, ds)),
                    timeout=60,
                    what="every acknowledged message stored",
                )
            finally:
                publisher.close()
                subscriber.close()
        finally:
            kill(server)


def test_a_server_told_to_stop_ends_its_event_streams(
    settings: Settings, engine: Engine, tmp_path: Path
) -> None:
    port = free_port()
    environment = {
        **_environment(settings),
        "URBANTWIN_MQTT_URL": "",
        "URBANTWIN_LIVE_KEEPALIVE_SECONDS": "30",
    }
    server = serve(port, environment, tmp_path / "server.log")
    try:
        stream = EventStream(f"http://127.0.0.1:{port}/api/live/observations")
        kill(server, signal.SIGTERM)  # a rolling restart: returns once the process has ended
        assert stream.ended.wait(WAIT)
    finally:
        kill(server)


@pytest.mark.long  # two servers started three times, a thousand messages
@pytest.mark.parametrize("backend", ["postgresql"])
def test_mqtt_ingest_on_two_nodes_stores_each_message_once_when_one_is_killed(
    settings: Settings, engine: Engine, prefix: str, tmp_path: Path
) -> None:
    broker_port, ports = free_port(), [free_port(), free_port()]
    environment = _environment(settings, broker_port)
    with mosquitto(broker_port, tmp_path):
        nodes = [serve(port, environment, tmp_path / f"node-{port}.log") for port in ports]
        clients = [
            httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=ADMIN, timeout=30) for port in ports
        ]
        publisher = Publisher(port=broker_port)
        try:
            ds = sensor_world(clients[0])["datastream"]
            topic = f"{prefix}v1.1/Datastreams({ds})/Observations"
            for node in clients:  # both nodes have joined the shared subscription
                wait_until(lambda node=node: node.get("/ready").json()["status"] == "ready", what="ready")
            acknowledged, total = [], 1000
            for i in range(total):
                publisher.publish(topic, {"result": i})  # returns once the broker sent PUBACK
                acknowledged.append(i)
                if i == total // 2:
                    kill(nodes[1])  # mid-stream, with messages of its session in flight
            nodes[1] = serve(ports[1], environment, tmp_path / f"node-{ports[1]}.log")  # resumes the session
            wait_until(
                lambda: set(acknowledged) <= set(_stored_results(engine, ds)),
                timeout=60,
                what="every acknowledged message stored",
            )
            stored = _stored_results(engine, ds)
            assert sorted(stored) == acknowledged  # each exactly once
            # Both nodes are members of the shared subscription (`bridge.creation_subscriptions`); how
            # the broker spreads the messages between them, and when each commits, is not asserted.
        finally:
            publisher.close()
            for client in clients:
                client.close()
            for node in nodes:
                kill(node)
