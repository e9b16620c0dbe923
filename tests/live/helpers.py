"""Clients for the live tests: an MQTT subscriber, an SSE reader, the sensor world, real processes.

Every wait has a timeout and waits for an event (a message, a line, a port), never for a fixed time.
"""

from __future__ import annotations

import os
import queue
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import httpx
import orjson
import paho.mqtt.client as paho

from urbantwin.live.mqtt import NOTIFICATION

MAIN_BROKER = ("127.0.0.1", 1883)
MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
WAIT = 15.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, timeout: float = WAIT, process: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"the process ended with {process.returncode} before listening on {port}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on port {port} after {timeout} s")


def wait_until(condition: Callable[[], Any], timeout: float = WAIT, what: str = "the condition") -> Any:
    """Poll `condition` (a store query) until it is true; for states no message announces."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} did not hold after {timeout} s")
        time.sleep(0.05)


class Subscriber:
    """An MQTT client subscribed to topics, collecting (topic, JSON payload) in a queue."""

    def __init__(self, topics: list[str], host: str = MAIN_BROKER[0], port: int = MAIN_BROKER[1]) -> None:
        self.messages: queue.Queue[tuple[str, Any]] = queue.Queue()
        self.subscribed = threading.Event()
        self.connected = threading.Event()
        self.topics = topics
        self.client = paho.Client(paho.CallbackAPIVersion.VERSION2, protocol=paho.MQTTv5)
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = lambda *_args: self.subscribed.set()
        self.client.on_message = self._on_message
        self.client.reconnect_delay_set(1, 2)
        self.client.connect_async(host, port)
        self.client.loop_start()
        if not self.subscribed.wait(WAIT):
            raise TimeoutError("the test subscriber did not subscribe")

    def _on_connect(self, client: paho.Client, *_args: Any) -> None:
        self.subscribed.clear()
        client.subscribe([(topic, 1) for topic in self.topics])
        self.connected.set()

    def _on_message(self, _client: paho.Client, _userdata: Any, message: paho.MQTTMessage) -> None:
        # Only the server's notifications: on a creation topic the sensors' own messages pass too.
        if NOTIFICATION in (getattr(message.properties, "UserProperty", None) or ()):
            self.messages.put((message.topic, orjson.loads(message.payload)))

    def get(self, timeout: float = WAIT) -> tuple[str, Any]:
        return self.messages.get(timeout=timeout)

    def until(self, predicate: Callable[[str, Any], bool], timeout: float = WAIT) -> list[tuple[str, Any]]:
        """Every message up to and including the first that satisfies `predicate`."""
        seen = []
        deadline = time.monotonic() + timeout
        while True:
            topic, body = self.messages.get(timeout=max(0.01, deadline - time.monotonic()))
            seen.append((topic, body))
            if predicate(topic, body):
                return seen

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


class Publisher:
    """An MQTT client that publishes with QoS 1 and waits for the broker's PUBACK of each message."""

    def __init__(self, host: str = MAIN_BROKER[0], port: int = MAIN_BROKER[1]) -> None:
        self.client = paho.Client(paho.CallbackAPIVersion.VERSION2, protocol=paho.MQTTv5)
        self.client.connect(host, port)
        self.client.loop_start()

    def publish(self, topic: str, body: Any, timeout: float = WAIT) -> None:
        info = self.client.publish(topic, orjson.dumps(body), qos=1)
        info.wait_for_publish(timeout)
        if not info.is_published():
            raise TimeoutError(f"the broker did not acknowledge a message on {topic}")

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


class EventStream:
    """A Server-Sent Events reader in a thread: events (dicts with id, event, data) and comments."""

    def __init__(self, url: str, headers: dict[str, str] | None = None, verify: Any = True) -> None:
        self.verify = verify  # what httpx checks the server's certificate against (a CA file)
        self.events: queue.Queue[dict[str, Any]] = queue.Queue()
        self.comments: queue.Queue[str] = queue.Queue()
        self.opened = threading.Event()
        self.ended = threading.Event()
        self.status: int | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, args=(url, headers or {}), daemon=True)
        self._thread.start()
        if not self.opened.wait(WAIT):
            raise TimeoutError(f"the event stream {url} did not open")

    def _read(self, url: str, headers: dict[str, str]) -> None:
        try:
            self._stream(url, headers)
        except httpx.HTTPError:
            pass  # the server went away: the stream simply ends
        finally:
            self.ended.set()

    def _stream(self, url: str, headers: dict[str, str]) -> None:
        with (
            httpx.Client(timeout=httpx.Timeout(WAIT * 4, connect=WAIT), verify=self.verify) as client,
            client.stream("GET", url, headers=headers) as response,
        ):
            self.status = response.status_code
            if response.status_code != 200:
                self.body = response.read().decode()
                self.opened.set()
                return
            event: dict[str, Any] = {}
            for line in response.iter_lines():
                if self._stop.is_set():
                    return
                if line.startswith(":"):
                    self.comments.put(line[1:].strip())
                    self.opened.set()
                elif not line:
                    if "data" in event:
                        event["data"] = orjson.loads(event["data"])
                        self.events.put(event)
                    event = {}
                else:
                    key, _, value = line.partition(":")
                    event[key] = value.removeprefix(" ")

    def get(self, timeout: float = WAIT) -> dict[str, Any]:
        return self.events.get(timeout=timeout)

    def close(self) -> None:
        self._stop.set()


@contextmanager
def mosquitto(port: int, directory: Path, persistence: bool = False) -> Iterator[subprocess.Popen]:
    """A broker of our own on `port` (the machine's main broker is never stopped by a test)."""
    config = directory / f"mosquitto-{port}.conf"
    lines = [f"listener {port} 127.0.0.1", "allow_anonymous true", "max_queued_messages 100000"]
    if persistence:
        lines += ["persistence true", f"persistence_location {directory}/"]
    config.write_text("\n".join(lines) + "\n")
    process = subprocess.Popen(
        [MOSQUITTO, "-c", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        wait_for_port(port, process=process)
        yield process
    finally:
        if process.poll() is None:
            process.terminate()
            process.wait(10)


def serve(
    port: int, environment: dict[str, str], log: Path, workers: int = 1, timeout: float = 60
) -> subprocess.Popen:
    """`urbantwin serve` as a real process, returned once it answers HTTP (within `timeout` s each
    for listening and answering)."""
    env = {**os.environ, **environment}
    command = [sys.executable, "-m", "urbantwin.cli", "serve", "--host", "127.0.0.1", "--port", str(port)]
    if workers > 1:
        command += ["--workers", str(workers)]
    with log.open("ab") as out:
        process = subprocess.Popen(
            command, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        wait_for_port(port, timeout=timeout, process=process)
        wait_until(lambda: _answers(port), timeout=timeout, what=f"the server on {port} answering")
    except BaseException:
        kill(process)
        raise
    return process


def _answers(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/v1.1/", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def kill(process: subprocess.Popen, sig: int = signal.SIGKILL) -> None:
    """Send `sig` to the server's process group (its uvicorn workers too) and reap it."""
    if process.poll() is None:
        with suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
    process.wait(30)


def sensor_world(
    client: Any, name: str = "station", point: tuple[float, float] = (12.37, 51.34)
) -> dict[str, int]:
    """A Thing with a Location and a Datastream, created over HTTP; their ids (and the derived FOI's)."""
    thing = client.post(
        "/v1.1/Things",
        json={
            "name": name,
            "description": f"{name} for the live tests",
            "Locations": [
                {
                    "name": f"{name} place",
                    "description": "where it stands",
                    "encodingType": "application/geo+json",
                    "location": {"type": "Point", "coordinates": list(point)},
                }
            ],
            "Datastreams": [
                {
                    "name": f"{name} temperature",
                    "description": "air temperature",
                    "observationType": "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement",
                    "unitOfMeasurement": {"name": "degree Celsius", "symbol": "°C", "definition": "ucum:Cel"},
                    "Sensor": {
                        "name": "thermo",
                        "description": "t",
                        "encodingType": "text/plain",
                        "metadata": "m",
                    },
                    "ObservedProperty": {"name": "temperature", "definition": "t", "description": "t"},
                }
            ],
        },
    )
    assert thing.status_code == 201, thing.text
    thing_id = thing.json()["@iot.id"]
    expanded = client.get(f"/v1.1/Things({thing_id})?$expand=Locations,Datastreams").json()
    return {
        "thing": thing_id,
        "location": expanded["Locations"][0]["@iot.id"],
        "datastream": expanded["Datastreams"][0]["@iot.id"],
    }
