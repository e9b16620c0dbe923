"""Live-data benchmark on PostgreSQL: MQTT ingest sustained, and end-to-end latency to subscribers.

1. **MQTT ingest (QoS 1)**: `--publishers` processes publish JSON Observations with QoS 1 to
   `v1.1/Datastreams(id)/Observations` (round robin over `--datastreams` Datastreams) as fast as the
   broker acknowledges them (at most `--window` unacknowledged each), for `--seconds` after a warm-up.
   The committed rate is read from the store (the largest Observation id, sampled every second) over
   the timed window; afterwards the backlog the broker still held is drained and counted, so
   "published and acknowledged" can be compared with "stored".
   With `--rate`, (c) publishers pace themselves to that many messages a second in all for
   `--rate-seconds`, beside the server, as sensors do: the committed rate, and how many were not yet
   stored when they stopped (a server that keeps up has only its last batches in flight).
2. **Latency**: `--latency-n` single `POST /v1.1/Datastreams(id)/Observations`, one every 20 ms, on the
   quiet server; an MQTT subscriber of `v1.1/Datastreams(id)/Observations` and a Server-Sent Events
   client of `/api/live/observations?datastream=id` note when each Observation arrives. Latency is
   from just before the POST is sent to the arrival (p50, p95), one clock (CLOCK_MONOTONIC).

The script starts everything itself on this machine: a fresh database (`--pg-url`, dropped and
recreated), its own Mosquitto on a free port (unlimited queue per client, so the broker drops nothing
it acknowledged), and `urbantwin serve --workers N`. Results go to `bench/results/live-*.json`.

    .venv/bin/python bench/live.py --seconds 60 --workers 2 --publishers 2
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import multiprocessing
import os
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import orjson
import paho.mqtt.client as paho
from host import cpu_model, describe
from sqlalchemy import create_engine, text

from urbantwin.live.wire import connect_packet, utf8, varint

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench" / "results"
DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/urbantwin_bench_live"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_port(port: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"nothing listens on {port}")


def wait_quiet(limit: float, patience: float) -> float:
    """Wait (up to `patience` s) until the 1-minute load average is below `limit`; return it."""
    deadline = time.monotonic() + patience
    while True:
        load = os.getloadavg()[0]
        if load < limit or time.monotonic() > deadline:
            return load
        print(f"load average {load:.2f} ≥ {limit}: waiting for a quiet machine", flush=True)
        time.sleep(15)


def recreate_database(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    admin = create_engine(url.rsplit("/", 1)[0] + "/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()


def start_broker(port: int, folder: Path) -> subprocess.Popen:
    config = folder / "mosquitto.conf"
    config.write_text(
        f"listener {port} 127.0.0.1\nallow_anonymous true\nmax_queued_messages 0\nmax_inflight_messages 0\n"
    )
    broker = subprocess.Popen(
        [shutil.which("mosquitto") or "/usr/sbin/mosquitto", "-c", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_port(port)
    return broker


def start_server(
    port: int, env: dict[str, str], workers: int, log: Path, timeout: float = 120
) -> subprocess.Popen:
    # The checkout's own venv, else the one running this script (a worktree has none of its own).
    venv = REPO / ".venv" / "bin" / "urbantwin"
    urbantwin = venv if venv.exists() else Path(sys.executable).parent / "urbantwin"
    command = [str(urbantwin), "serve", "--host", "127.0.0.1", "--port", str(port)]
    if workers > 1:
        command += ["--workers", str(workers)]
    with log.open("wb") as out:
        server = subprocess.Popen(
            command, env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        wait_port(port, timeout)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/v1.1/", timeout=2).status_code == 200:
                    return server
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise TimeoutError("the server did not answer")
    except BaseException:
        stop(server, group=True)  # not left running when it started too slowly
        raise


def drain(
    counted: Callable[[], Any], enough: Callable[[Any], bool], timeout: float, every: float = 1.0
) -> tuple[Any, float]:
    """Ask `counted` (the store, for what it holds) every `every` s until what it says is `enough` or
    `timeout` s have passed: the last answer, and the seconds waited."""
    started = time.monotonic()
    value = counted()
    while not enough(value) and time.monotonic() - started < timeout:
        time.sleep(every)
        value = counted()
    return value, time.monotonic() - started


def stop(process: subprocess.Popen, group: bool = False) -> None:
    if process.poll() is None:
        if group:
            os.killpg(process.pid, signal.SIGTERM)
        else:
            process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()


def setup(base: str, token: str, datastreams: int) -> list[int]:
    headers = {"Authorization": f"Bearer {token}"}
    body = {
        "name": "bench station",
        "description": "live benchmark",
        "Locations": [
            {
                "name": "Leipzig",
                "description": "Markt",
                "encodingType": "application/geo+json",
                "location": {"type": "Point", "coordinates": [12.3747, 51.3397]},
            }
        ],
        "Datastreams": [
            {
                "name": f"series {i}",
                "description": "d",
                "observationType": "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement",
                "unitOfMeasurement": {"name": "degree Celsius", "symbol": "°C", "definition": "ucum:Cel"},
                "Sensor": {
                    "name": f"s{i}",
                    "description": "s",
                    "encodingType": "text/plain",
                    "metadata": "m",
                },
                "ObservedProperty": {"name": f"p{i}", "definition": "p", "description": "p"},
            }
            for i in range(datastreams)
        ],
    }
    with httpx.Client(base_url=base, headers=headers, timeout=60) as client:
        thing = client.post("/v1.1/Things", json=body)
        thing.raise_for_status()
        ids = [
            d["@iot.id"]
            for d in client.get(f"/v1.1/Things({thing.json()['@iot.id']})/Datastreams").json()["value"]
        ]
        # One Observation per Datastream first: it derives the FeatureOfInterest, off the clock.
        for ident in ids:
            client.post(f"/v1.1/Datastreams({ident})/Observations", json={"result": 0}).raise_for_status()
    return ids


# --- 1. MQTT ingest -------------------------------------------------------------------------------


def publisher(
    port: int, datastreams: list[int], stop_at: float, window: int, counter: Any, seed: int, rate: float = 0
) -> None:
    """A publishing process: QoS 1, at most `window` unacknowledged; counts acknowledged messages.
    With `rate` (messages a second) it publishes at that pace, like sensors, not as fast as it can.

    It speaks MQTT 5 itself (CONNECT, PUBLISH with packet ids, reading PUBACKs) and writes many
    messages per system call: paho spends some 100 µs of CPU per QoS 1 message, so two paho
    publishers alone would take a core of this two-core machine from the server being measured.
    """
    sock = socket.create_connection(("127.0.0.1", port))
    sock.sendall(connect_packet(f"bench-pub-{seed}-{os.getpid()}", None, None, 60))
    connack = sock.recv(64)
    assert connack[0] == 0x20 and connack[3] == 0, connack
    sock.settimeout(30)
    topics = [utf8(f"v1.1/Datastreams({d})/Observations") for d in datastreams]
    start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC) + dt.timedelta(days=seed * 400)
    sent = acked = 0
    buffer = b""
    started = time.time()
    while True:
        now = time.time()
        burst = []
        allowed = int((now - started) * rate) if rate else sent + 200
        while now < stop_at and sent - acked < window and len(burst) < 200 and sent < allowed:
            stamp = (start + dt.timedelta(seconds=sent)).isoformat().replace("+00:00", "Z")
            payload = orjson.dumps({"result": (sent % 1000) / 10, "phenomenonTime": stamp})
            packet_id = sent % 65535 + 1
            head = topics[sent % len(topics)] + packet_id.to_bytes(2, "big") + b"\x00"
            burst.append(b"\x32" + varint(len(head) + len(payload)) + head + payload)
            sent += 1
        if burst:
            sock.sendall(b"".join(burst))
        if now >= stop_at and acked >= sent:
            break
        if sent - acked >= window or not burst or now >= stop_at:
            if rate and acked >= sent:
                time.sleep(0.001)  # paced and nothing to wait for: the next messages are due soon
                continue
            buffer += sock.recv(65536)
            while len(buffer) >= 2:  # PUBACKs: 0x40, remaining length, packet id (+ reason, properties)
                length = buffer[1]
                if len(buffer) < 2 + length:
                    break
                if buffer[0] >> 4 == 4:
                    acked += 1
                buffer = buffer[2 + length :]
    sock.sendall(b"\xe0\x00")  # DISCONNECT
    sock.close()
    with counter.get_lock():
        counter.value += acked


def max_id(engine: Any) -> int:
    with engine.connect() as connection:
        return connection.execute(text("SELECT coalesce(max(id), 0) FROM observations")).scalar_one()


def count(engine: Any) -> int:
    with engine.connect() as connection:
        return connection.execute(text("SELECT count(*) FROM observations")).scalar_one()


def publish_all(
    args: argparse.Namespace, broker_port: int, datastreams: list[int], seconds: float, rate: float = 0
) -> int:
    """Publish with every publisher for `seconds` (at `rate` messages a second in all, 0: as fast as
    the broker takes them); the number of messages the broker acknowledged."""
    counter = multiprocessing.Value("q", 0)
    stop_at = time.time() + seconds
    each = rate / args.publishers
    processes = [
        multiprocessing.Process(
            target=publisher,
            args=(broker_port, datastreams, stop_at, args.window, counter, i, each),
            daemon=True,
        )
        for i in range(args.publishers)
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join(seconds + 120)
    return counter.value


def measure(engine: Any, seconds: float) -> tuple[float, list[int]]:
    """Committed Observations per second over `seconds` (from the largest id), and per-second counts."""
    t0, id0 = time.monotonic(), max_id(engine)
    samples = [id0]
    while time.monotonic() - t0 < seconds:
        time.sleep(1)
        samples.append(max_id(engine))
    rate = (samples[-1] - id0) / (time.monotonic() - t0)
    return rate, [b - a for a, b in zip(samples, samples[1:], strict=False)]


def ingest(
    args: argparse.Namespace, broker_port: int, datastreams: list[int], engine: Any, restart: Any
) -> dict[str, Any]:
    """(a) backlog: the broker holds what sensors published while the server was stopped, and the
    server stores it as fast as it can (the publishers take no CPU meanwhile); (b) concurrent:
    publishers and server share the machine."""
    before = count(engine)
    stop_server = restart()  # stops the server: its session stays at the broker and collects messages
    backlog = publish_all(args, broker_port, datastreams, args.backlog_seconds)
    stop_server()  # starts it again
    time.sleep(3)  # reconnecting, warming up
    backlog_rate, backlog_seconds = measure(engine, args.seconds)
    stored, _ = drain(lambda: count(engine) - before, lambda n: n >= backlog, args.drain_timeout)
    out: dict[str, Any] = {
        "backlog": {
            "published_acknowledged": backlog,
            "seconds": args.seconds,
            "committed_per_second": round(backlog_rate),
            "per_second_min_max": [min(backlog_seconds), max(backlog_seconds)],
            # every second's count, to see where a rate swings (the server's start, checkpoints)
            "per_second": backlog_seconds,
            "stored_after_drain": stored,
            "lost": max(0, backlog - stored),
        }
    }
    if args.concurrent_seconds:
        before = count(engine)
        result: dict[str, int] = {}
        thread = threading.Thread(
            target=lambda: result.update(
                n=publish_all(args, broker_port, datastreams, args.concurrent_seconds)
            )
        )
        thread.start()
        time.sleep(3)
        rate, _ = measure(engine, args.concurrent_seconds - 4)
        thread.join()
        stored, _ = drain(lambda: count(engine) - before, lambda n: n >= result["n"], args.drain_timeout)
        out["concurrent"] = {
            "published_acknowledged": result["n"],
            "published_per_second": round(result["n"] / args.concurrent_seconds),
            "committed_per_second": round(rate),
            "stored_after_drain": stored,
            "lost": max(0, result["n"] - stored),
        }
    if args.rate:
        out["paced"] = paced(args, broker_port, datastreams, engine)
    return out


def paced(args: argparse.Namespace, broker_port: int, datastreams: list[int], engine: Any) -> dict[str, Any]:
    """(c) paced: sensors publish `--rate` messages a second in all for `--rate-seconds`, beside the
    server; does the server keep up (committed rate, how far behind when publishing stops)?"""
    before, id0 = count(engine), max_id(engine)
    result: dict[str, int] = {}
    thread = threading.Thread(
        target=lambda: result.update(
            n=publish_all(args, broker_port, datastreams, args.rate_seconds, args.rate)
        )
    )
    started = time.monotonic()
    thread.start()
    time.sleep(3)  # the publishers start
    rate, per_second = measure(engine, args.rate_seconds - 4)
    thread.join()
    stopped = time.monotonic()
    behind = result["n"] - (count(engine) - before)
    stored, caught_up = drain(
        lambda: count(engine) - before, lambda n: n >= result["n"], args.drain_timeout, every=0.2
    )
    return {
        "rate_asked": args.rate,
        "seconds": args.rate_seconds,
        "published_acknowledged": result["n"],
        "published_per_second": round(result["n"] / (stopped - started)),
        "committed_per_second": round(rate),
        "per_second_min_max": [min(per_second), max(per_second)],
        "behind_when_publishing_stopped": behind,
        "seconds_to_catch_up": round(caught_up, 1),
        "stored_after_drain": stored,
        "lost": max(0, result["n"] - stored),
        "first_id": id0 + 1,
    }


# --- 2. latency -----------------------------------------------------------------------------------


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def latency(
    args: argparse.Namespace, base: str, token: str, broker_port: int, datastream: int
) -> dict[str, Any]:
    arrivals: dict[str, dict[int, float]] = {"mqtt": {}, "sse": {}}
    ready = threading.Event()
    topic = f"v1.1/Datastreams({datastream})/Observations"

    subscriber = paho.Client(paho.CallbackAPIVersion.VERSION2, protocol=paho.MQTTv5)
    subscriber.on_connect = lambda c, *_: c.subscribe(topic, 0)
    subscriber.on_subscribe = lambda *_: ready.set()
    subscriber.on_message = lambda _c, _u, m: arrivals["mqtt"].setdefault(
        orjson.loads(m.payload)["@iot.id"], time.perf_counter()
    )
    subscriber.connect("127.0.0.1", broker_port)
    subscriber.loop_start()
    ready.wait(10)

    sse_open = threading.Event()
    stop_sse = threading.Event()

    def read_sse() -> None:
        with (
            httpx.Client(timeout=None) as client,
            client.stream("GET", f"{base}/api/live/observations?datastream={datastream}") as response,
        ):
            for line in response.iter_lines():
                sse_open.set()
                if line.startswith("id: "):
                    arrivals["sse"].setdefault(int(line[4:]), time.perf_counter())
                if stop_sse.is_set():
                    return

    threading.Thread(target=read_sse, daemon=True).start()
    sse_open.wait(10)

    sent: dict[int, float] = {}
    round_trips = []
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=30) as client:
        for i in range(args.latency_n + 20):
            start = time.perf_counter()
            answer = client.post(f"/v1.1/Datastreams({datastream})/Observations", json={"result": i})
            done = time.perf_counter()
            if i >= 20:  # warm-up
                sent[answer.json()["@iot.id"]] = start
                round_trips.append(done - start)
            time.sleep(0.02)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(
        len(a.keys() & sent.keys()) < len(sent) for a in arrivals.values()
    ):
        time.sleep(0.1)
    stop_sse.set()
    subscriber.disconnect()
    subscriber.loop_stop()
    out: dict[str, Any] = {
        "n": len(sent),
        "post_round_trip_ms_p50": round(percentile(round_trips, 50) * 1000, 2),
    }
    for name, got in arrivals.items():
        delays = [(got[i] - sent[i]) * 1000 for i in sent if i in got]
        out[name] = {
            "received": len(delays),
            "p50_ms": round(percentile(delays, 50), 2) if delays else None,
            "p95_ms": round(percentile(delays, 95), 2) if delays else None,
            "mean_ms": round(statistics.fmean(delays), 2) if delays else None,
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=int, default=60, help="timed MQTT ingest")
    parser.add_argument("--publishers", type=int, default=2, help="publishing processes")
    parser.add_argument("--window", type=int, default=1000, help="unacknowledged messages per publisher")
    parser.add_argument("--datastreams", type=int, default=10)
    parser.add_argument("--workers", type=int, default=2, help="urbantwin server processes")
    parser.add_argument(
        "--backlog-seconds", type=float, default=40, help="publishing while the server is off"
    )
    parser.add_argument(
        "--concurrent-seconds", type=float, default=30, help="publishing beside the server (0: skip)"
    )
    parser.add_argument(
        "--rate", type=float, default=0, help="(c) paced publishing at this many messages/s in all (0: skip)"
    )
    parser.add_argument("--rate-seconds", type=float, default=60, help="how long the paced publishers run")
    parser.add_argument("--latency-n", type=int, default=500)
    parser.add_argument("--drain-timeout", type=float, default=300)
    parser.add_argument("--pg-url", default=DEFAULT_PG_URL)
    parser.add_argument(
        "--select-topics", default=None, help="URBANTWIN_MQTT_SELECT_TOPICS (default: the server's)"
    )
    parser.add_argument("--max-load", type=float, default=2.0, help="wait until the load average is below")
    parser.add_argument("--wait-idle", type=float, default=900, help="longest wait for a quiet machine, s")
    args = parser.parse_args()

    load = wait_quiet(args.max_load, args.wait_idle)
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    token = secrets.token_urlsafe(16)
    recreate_database(args.pg_url)
    # The broker's configuration and store live here until the end, whatever ends the run.
    folder = Path(tempfile.mkdtemp(prefix="urbantwin-live-bench-"))
    try:
        result = run(args, stamp, token, load, folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    report(result)


def run(args: argparse.Namespace, stamp: str, token: str, load: float, folder: Path) -> dict[str, Any]:
    """The phases against a server and broker of their own (set up in `folder`); the results."""
    broker_port, port = free_port(), free_port()
    broker = start_broker(broker_port, folder)
    env = {
        "URBANTWIN_DATABASE_URL": args.pg_url,
        "URBANTWIN_ADMIN_TOKEN": token,
        "URBANTWIN_MQTT_URL": f"mqtt://127.0.0.1:{broker_port}",
        "URBANTWIN_MQTT_WRITE_TOKEN": token,
        "URBANTWIN_MQTT_CLIENT_ID": f"bench-{stamp}",
        "URBANTWIN_LOG_LEVEL": "warning",
        # Rate limits off: every client of the benchmark comes from 127.0.0.1 (and it measures the server).
        "URBANTWIN_RATE_LIMIT_PER_SECOND": "0",
        "URBANTWIN_RATE_LIMIT_TOKEN_PER_SECOND": "0",
    }
    if args.select_topics is not None:
        env["URBANTWIN_MQTT_SELECT_TOPICS"] = args.select_topics
    log = RESULTS / f"live-{stamp}-server.log"
    servers: list[Any] = []
    base = f"http://127.0.0.1:{port}"
    engine = create_engine(args.pg_url)

    def restart() -> Any:
        stop(servers.pop(), group=True)
        return lambda: servers.append(start_server(port, env, args.workers, log))

    try:
        servers.append(start_server(port, env, args.workers, log))
        datastreams = setup(base, token, args.datastreams)
        print(
            f"MQTT ingest: backlog of {args.backlog_seconds} s of {args.publishers} publishers …", flush=True
        )
        ingested = ingest(args, broker_port, datastreams, engine, restart)
        print(json.dumps(ingested, indent=2), flush=True)
        latencies: dict[str, Any] = {}
        if args.latency_n:  # 0: the ingest alone
            print(f"latency: {args.latency_n} POSTs …", flush=True)
            latencies = latency(args, base, token, broker_port, datastreams[0])
            print(json.dumps(latencies, indent=2), flush=True)
    finally:
        for server in servers:
            stop(server, group=True)
        stop(broker)
        engine.dispose()
    result = {
        "stamp": stamp,
        "command": " ".join([".venv/bin/python", "bench/live.py", *sys.argv[1:]]),
        "cpu": cpu_model(),
        "nproc": os.cpu_count(),
        "load_average_at_start": round(load, 2),
        "revision": subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=REPO
        ).stdout.strip(),
        "args": vars(args),
        "ingest": ingested,
        "latency": latencies,
    }
    (RESULTS / f"live-{stamp}.json").write_text(json.dumps(result, indent=2))
    return result


def report(result: dict[str, Any]) -> None:
    """The table of the figures, with the machine they were measured on."""
    ingested, latencies, load = result["ingest"], result["latency"], result["load_average_at_start"]
    backlog, concurrent = ingested["backlog"], ingested.get("concurrent", {})
    paced_ = ingested.get("paced", {})
    phases = [backlog, concurrent, paced_]
    rows = [
        (
            "MQTT ingest QoS 1 from a backlog, committed obs/s",
            f"{backlog['committed_per_second']:,}",
            "≥ 20,000",
        ),
        (
            "MQTT ingest QoS 1 beside the publishers, committed obs/s",
            f"{concurrent.get('committed_per_second', 0):,}",
            "≥ 20,000",
        ),
        (
            f"MQTT ingest QoS 1, sensors publishing {paced_.get('rate_asked', 0):,.0f}/s for "
            f"{paced_.get('seconds', 0):.0f} s: committed obs/s (behind when they stopped)",
            f"{paced_.get('committed_per_second', 0):,} "
            f"({paced_.get('behind_when_publishing_stopped', 0):,})",
            "≥ 20,000",
        ),
        (
            "acknowledged by the broker / stored (lost)",
            f"{sum(p.get('published_acknowledged', 0) for p in phases):,} / "
            f"{sum(p.get('stored_after_drain', 0) for p in phases):,} "
            f"({sum(p.get('lost', 0) for p in phases)})",
            "0 lost",
        ),
    ]
    if latencies:
        rows += [
            (
                "HTTP POST → MQTT subscriber, p50 / p95 ms",
                f"{latencies['mqtt']['p50_ms']} / {latencies['mqtt']['p95_ms']}",
                "p50 ≤ 20",
            ),
            (
                "HTTP POST → SSE client, p50 / p95 ms",
                f"{latencies['sse']['p50_ms']} / {latencies['sse']['p95_ms']}",
                "p50 ≤ 20",
            ),
        ]
    print(f"\nMQTT ingest and latency, {describe()}, load average {load:.2f} at the start:")
    print("\n| measure | urbantwin PostgreSQL | target |\n|---|---:|---|")
    for row in rows:
        print(f"| {' | '.join(row)} |")


if __name__ == "__main__":
    main()
