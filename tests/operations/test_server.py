"""`urbantwin serve --workers 2 --log-format json`, run for real: the metrics add up the workers,
every log line is JSON with the request's id, and no secret the requests or the settings used is
in any log line.

The server runs at the debug level with tokens in `Authorization` headers (Bearer and Basic), in
query parameters, the LoRaWAN webhook's token, a refused token, the broker's password and, on
PostgreSQL, the database's password; the captured output of both workers and the parent is then
searched for each of them.
"""

from __future__ import annotations

import base64
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Engine
from sqlalchemy.engine import make_url

from tests.conftest import _free_port
from tests.live.helpers import Publisher
from urbantwin.settings import Settings

ADMIN = "admin-secret-7c1f2e"
METRICS = "metrics-secret-0b9d4a"
LORAWAN = "lorawan-secret-55e1aa"
BROKER_PASSWORD = "broker-secret-3f3f3f"
DATABASE_PASSWORD = "database-secret-a1a1a1"
QUERY_TOKEN = "query-secret-9e9e9e"
REFUSED = "refused-secret-4d4d4d"
BASIC_PASSWORD = "basic-secret-6b6b6b"
MQTT_WRITER = "mqtt-writer-secret-2c2c2c"  # no token of any user: the bridge reports that it is refused

#: At least this many `/health` requests are made (more if one worker took them all).
HEALTH_CHECKS = 24


def _database_url(settings: Settings) -> str:
    """The store's URL, on PostgreSQL with a password in it (the test server trusts local clients,
    so it is sent along and must still never be logged)."""
    if settings.is_sqlite:
        return settings.database_url
    return (
        make_url(settings.database_url).set(password=DATABASE_PASSWORD).render_as_string(hide_password=False)
    )


@pytest.fixture
def server(settings: Settings, engine: Engine, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """The base URL of a server of two workers on the test store, and the file of its output."""
    port = _free_port()
    log = tmp_path / "server.log"
    environment = {
        **os.environ,
        "URBANTWIN_DATABASE_URL": _database_url(settings),
        "URBANTWIN_ADMIN_TOKEN": ADMIN,
        "URBANTWIN_METRICS_TOKEN": METRICS,
        "URBANTWIN_LORAWAN_WEBHOOK_TOKEN": LORAWAN,
        "URBANTWIN_MQTT_URL": f"mqtt://urbantwin:{BROKER_PASSWORD}@127.0.0.1:1883",
        "URBANTWIN_MQTT_WRITE_TOKEN": MQTT_WRITER,
        "URBANTWIN_MQTT_TOPIC_PREFIX": f"ops-{port}/",
        # A client id of its own: under the default one, another test's server on this broker would
        # take its sessions (and it theirs).
        "URBANTWIN_MQTT_CLIENT_ID": f"ops-{port}",
        "URBANTWIN_LOG_LEVEL": "debug",
        "URBANTWIN_RATE_LIMIT_PER_SECOND": "0",
        "URBANTWIN_RATE_LIMIT_TOKEN_PER_SECOND": "0",
        "URBANTWIN_VIEWER_DIR": settings.viewer_dir,
    }
    environment.pop("PROMETHEUS_MULTIPROC_DIR", None)
    command = [sys.executable, "-m", "urbantwin.cli", "serve", "--port", str(port), "--workers", "2"]
    with log.open("wb") as output:
        process = subprocess.Popen(
            [*command, "--log-format", "json"], env=environment, stdout=output, stderr=subprocess.STDOUT
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:  # until both workers have started (each says so) and one answers
            try:
                started = log.read_text(encoding="utf-8").count("Application startup complete")
                if started == 2 and httpx.get(f"{base}/ready", timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the server did not become ready:\n{log.read_text()[-3000:]}")
            time.sleep(0.5)
        yield base, log
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _access_pids(log: Path) -> set[int]:
    """The processes that have logged an answer so far."""
    return {
        entry["pid"]
        for entry in (
            orjson.loads(line) for line in log.read_text(encoding="utf-8").splitlines() if line.strip()
        )
        if entry["logger"] == "uvicorn.access"
    }


def _health_count(body: str) -> float:
    for family in text_string_to_metric_families(body):
        for sample in family.samples:
            if (
                sample.name == "urbantwin_http_request_duration_seconds_count"
                and sample.labels.get("route") == "/health"
            ):
                return sample.value
    return 0.0


@pytest.mark.long
def test_two_workers_log_json_without_secrets_and_add_up_their_metrics(server: tuple[str, Path]) -> None:
    base, log = server
    admin = {"Authorization": f"Bearer {ADMIN}"}
    basic = base64.b64encode(f"someone:{BASIC_PASSWORD}".encode()).decode()
    # A new connection each (no keep-alive), until both workers have answered some (the kernel
    # hands a connection to whichever worker accepts it first; on a loaded machine the second may
    # still be starting while the first answers hundreds).
    checks = 0
    deadline = time.monotonic() + 180
    while checks < HEALTH_CHECKS or len(_access_pids(log)) < 2:
        assert time.monotonic() < deadline, f"one worker answered every request:\n{log.read_text()[-4000:]}"
        with httpx.Client(base_url=base) as client:
            answer = client.get("/health", headers={"X-Request-Id": f"probe-{checks}"})
            assert answer.headers["x-request-id"] == f"probe-{checks}"
        checks += 1
    with httpx.Client(base_url=base, timeout=30) as client:
        assert client.get("/v1.1/Things", headers=admin).status_code == 200
        assert client.get("/v1.1/Things", params={"token": QUERY_TOKEN, "$top": "1"}).status_code == 200
        assert client.get("/api/live/observations/nothing", params={"access_token": QUERY_TOKEN}).status_code
        assert client.get("/v1.1/Things", headers={"Authorization": f"Bearer {REFUSED}"}).status_code == 401
        assert client.get("/v1.1/Things", headers={"Authorization": f"Basic {basic}"}).status_code == 401
        uplink = client.post(
            "/api/infrastructure/lorawan/uplinks/ttn",
            headers={"Authorization": f"Bearer {LORAWAN}"},
            json={"end_device_ids": {"dev_eui": "0004A30B001C0530"}, "uplink_message": {}},
        )
        assert uplink.status_code < 500
        assert client.get("/metrics").status_code == 401
    # An Observation over MQTT: the bridge asks who the write token is, and says it is refused
    # (published again each second until it does: the receiving worker may be reconnecting).
    publisher = Publisher()
    try:
        topic = f"ops-{httpx.URL(base).port}/v1.1/Datastreams(1)/Observations"
        deadline = time.monotonic() + 60
        while "URBANTWIN_MQTT_WRITE_TOKEN is refused" not in log.read_text(encoding="utf-8"):
            assert time.monotonic() < deadline, "the bridge did not report the refused write token"
            publisher.publish(topic, {"result": 1})
            time.sleep(1)
    finally:
        publisher.close()
    # Whichever worker answers, the metrics count every worker's requests.
    seen = set()
    for _ in range(6):
        with httpx.Client(base_url=base) as client:
            scraped = client.get("/metrics", headers={"Authorization": f"Bearer {METRICS}"})
            assert scraped.status_code == 200
            seen.add(_health_count(scraped.text))
    assert seen == {checks}

    text = log.read_text(encoding="utf-8")  # what the server has logged so far (each line flushed)
    secrets = (ADMIN, METRICS, LORAWAN, BROKER_PASSWORD, DATABASE_PASSWORD, QUERY_TOKEN, REFUSED, MQTT_WRITER)
    for secret in (*secrets, basic):
        assert secret not in text, f"a secret is in the log: {secret}"
    lines = [orjson.loads(line) for line in text.splitlines() if line.strip()]
    assert all({"time", "level", "logger", "message"} <= line.keys() for line in lines)
    access = [line for line in lines if line["logger"] == "uvicorn.access"]
    assert any(line.get("request_id") == "probe-3" and "/health" in line["message"] for line in access)
    assert any("[redacted]" in line["message"] for line in access)  # the query token, masked


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_an_idle_connection_stays_open_longer_than_a_proxy_keeps_its_own(server: tuple[str, Path]) -> None:
    # nginx (deploy/) keeps idle connections to the server for 60 s and sends its next request on
    # one of them: a server that closed it first makes that request fail. Idle for longer than
    # uvicorn's own default (5 s), the connection must still take a request.
    import socket

    base, _log = server
    port = int(base.rsplit(":", 1)[1])
    request = b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: keep-alive\r\n\r\n"

    def answer(connection: socket.socket) -> bytes:
        """One whole answer: its head, then as many bytes of body as it announces."""
        received = b""
        while b"\r\n\r\n" not in received:
            chunk = connection.recv(65536)
            assert chunk, f"the server closed the connection: {received[:200]!r}"
            received += chunk
        head, body = received.split(b"\r\n\r\n", 1)
        length = next(
            int(line.split(b":", 1)[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        )
        while len(body) < length:
            body += connection.recv(65536)
        return head

    with socket.create_connection(("127.0.0.1", port), timeout=30) as connection:
        for _ in range(2):
            connection.sendall(request)
            head = answer(connection)
            assert head.startswith(b"HTTP/1.1 200"), head[:200]
            time.sleep(6)


def test_the_keep_alive_must_be_a_second_at_least() -> None:
    with pytest.raises(ValueError, match="http_keepalive_seconds"):
        Settings(http_keepalive_seconds=0)
