"""LoRaWAN uplinks through the webhook: N uplinks a second, each answered only once stored, none lost.

`urbantwin serve --workers 2` on a fresh PostgreSQL database (or SQLite file) with the webhook's
token set; `--devices` devices, each a Thing with two Datastreams (temperature, luminosity) mapped
to its decoded fields. Then uplinks in The Things Stack's v3 webhook format (its documented example,
with each device's EUI, a rising frame counter and its own receive time, so none is a retry) are
POSTed to `/api/infrastructure/lorawan/uplinks/tts` at `--rate` a second for `--seconds`, over
`--connections` keep-alive connections (open loop: each uplink is due at its time; when every
connection is busy it goes out as soon as one is free, and the lag is counted), after `--warmup`
uplinks sent untimed. Reported: the rate the server took them at, latency p50/p95/p99, answers
other than 200, the CPU each party spent per uplink (server's processes, PostgreSQL's backends,
this client), and afterwards the store's count of uplinks and Observations against what was
acknowledged (two Observations an uplink).

The client is no HTTP library: the requests are encoded before the clock starts and written on
keep-alive connections by `asyncio` protocols (on uvloop where installed) that read only the
status line, Content-Length and the small JSON answer, some 50 µs of CPU an uplink where httpx
took 4.5 ms: the client must not be what is measured, and at 1,000 a second it shares the
machine's cores with the server.

    .venv/bin/python bench/lorawan.py --rate 1000 --seconds 30
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from collections.abc import Coroutine
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import orjson
from bulk_post import cpu_of, database_pids, fresh_store, server, server_pids
from host import describe
from sqlalchemy import create_engine, text

WEBHOOK_TOKEN = "bench-lorawan-webhook-token"
FIELDS = ("temperature", "luminosity")
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def uplink(device: int, count: int) -> bytes:
    """The Things Stack's documented uplink (v3 webhook), as device `device`'s `count`-th frame."""
    received = (T0 + timedelta(seconds=count, microseconds=device)).isoformat().replace("+00:00", "Z")
    return orjson.dumps(
        {
            "end_device_ids": {
                "device_id": f"bench-{device}",
                "application_ids": {"application_id": "bench"},
                "dev_eui": f"{0x0004A30B00000000 + device:016X}",
                "dev_addr": "00BCB929",
            },
            "correlation_ids": [f"as:up:bench-{device}-{count}"],
            "received_at": received,
            "uplink_message": {
                "f_cnt": count,
                "frm_payload": "gkHe",
                "decoded_payload": {"temperature": 20.0 + (count % 50) / 10, "luminosity": 0.64},
                "rx_metadata": [
                    {"gateway_ids": {"gateway_id": "gtw1", "eui": "9C5C8E00001A05C4"}, "rssi": -35, "snr": 5}
                ],
                "settings": {"data_rate": {"lora": {"bandwidth": 125000, "spreading_factor": 7}}},
                "received_at": received,
            },
        }
    )


def set_up(base: str, token: str, devices: int) -> None:
    """A Thing with two Datastreams per device, its fields mapped to them."""
    auth = {"Authorization": f"Bearer {token}"}
    api = base.rsplit("/v1.1", 1)[0]
    with httpx.Client(headers=auth, timeout=60) as client:
        for device in range(devices):
            thing = {
                "name": f"bench-{device}",
                "description": "a LoRaWAN sensor (benchmark)",
                "Locations": [
                    {
                        "name": "mast",
                        "description": "where the sensor hangs",
                        "encodingType": "application/geo+json",
                        "location": {"type": "Point", "coordinates": [12.3 + device / 1e4, 51.3]},
                    }
                ],
                "Datastreams": [
                    {
                        "name": f"bench-{device} {field}",
                        "description": field,
                        "observationType": "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement",
                        "unitOfMeasurement": {
                            "name": "u",
                            "symbol": "u",
                            "definition": "http://example.org/u",
                        },
                        "Sensor": {
                            "name": "s",
                            "description": "s",
                            "encodingType": "text/html",
                            "metadata": "x",
                        },
                        "ObservedProperty": {
                            "name": field,
                            "definition": f"http://example.org/{field}",
                            "description": field,
                        },
                    }
                    for field in FIELDS
                ],
            }
            created = client.post(f"{base}/Things", json=thing)
            created.raise_for_status()
            link = created.headers["location"].split("/v1.1/")[1]
            streams = client.get(f"{base}/{link}/Datastreams").json()["value"]
            mapping = {s["description"]: s["@iot.id"] for s in streams}
            eui = f"{0x0004A30B00000000 + device:016X}"
            client.put(
                f"{api}/api/infrastructure/lorawan/devices/{eui}", json={"fields": mapping}
            ).raise_for_status()


class _Connection(asyncio.Protocol):
    """One keep-alive connection of the load: writes a pre-encoded request, reads the answer's
    status line, Content-Length and body, and asks for the next uplink."""

    def __init__(self, load: _Load) -> None:
        self.load = load
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.sent_at = 0.0
        self.busy = False
        self.lost = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # a TCP transport: it writes
        self.load.idle(self)

    def send(self, n: int) -> None:
        if self.lost or self.transport is None or self.transport.is_closing():
            self.load.again.append(n)  # never written: another connection sends it
            return
        self.busy = True
        self.sent_at = time.monotonic()
        self.load.lags.append(self.sent_at - self.load.due(n))
        self.transport.write(self.load.requests[n])

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        head_end = self.buffer.find(b"\r\n\r\n")
        if head_end < 0:
            return
        head = bytes(self.buffer[:head_end]).lower()
        at = head.find(b"\r\ncontent-length:")
        if at < 0:
            raise RuntimeError(f"an answer without Content-Length: {head[:200]!r}")
        stop = head.find(b"\r\n", at + 2)
        length = int(head[at + 18 : stop if stop > 0 else len(head)])
        if len(self.buffer) < head_end + 4 + length:
            return
        body = bytes(self.buffer[head_end + 4 : head_end + 4 + length])
        del self.buffer[: head_end + 4 + length]
        self.busy = False
        self.load.answered(int(head[9:12]), body, time.monotonic() - self.sent_at)
        self.load.idle(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        if self.busy:
            # Not acknowledged (a network server would send it again): counted, not stored.
            self.load.failed(f"connection closed with a request open: {exc}")
        self.load.reconnect()


class _Load:
    """Uplinks sent open loop over `connections` keep-alive connections: the n-th is due at
    start + n / rate; an idle connection takes the next one and sends it when due (at once when
    late: the lag is counted). Costs the client a few tens of microseconds an uplink, so that the
    server, not the client, is what is measured."""

    def __init__(self, host: str, port: int, requests: list[bytes], rate: float, connections: int) -> None:
        self.host, self.port = host, port
        self.requests = requests
        self.rate = rate
        self.connections = connections
        self.loop = asyncio.get_running_loop()
        self.start = time.monotonic()
        self.next = 0
        self.again: list[int] = []
        self.finished = 0
        self.done = self.loop.create_future()
        self.statuses: dict[int | str, int] = {}
        self.stored = 0
        self.refused: list[str] = []  # the first refusal's answer, to say why
        self.latencies: list[float] = []
        self.lags: list[float] = []

    def due(self, n: int) -> float:
        return self.start + n / self.rate

    async def run(self) -> float:
        self.start = time.monotonic()
        for _ in range(self.connections):
            await self.loop.create_connection(lambda: _Connection(self), self.host, self.port)
        await self.done
        return time.monotonic() - self.start

    def idle(self, connection: _Connection) -> None:
        if self.again:
            connection.send(self.again.pop())
            return
        if self.next >= len(self.requests):
            return
        n, self.next = self.next, self.next + 1
        delay = self.due(n) - time.monotonic()
        if delay > 0:
            self.loop.call_later(delay, connection.send, n)
        else:
            connection.send(n)

    def answered(self, status: int, body: bytes, latency: float) -> None:
        self.latencies.append(latency)
        self.statuses[status] = self.statuses.get(status, 0) + 1
        if status == 200 and orjson.loads(body).get("stored"):
            self.stored += 1
        elif not self.refused:
            self.refused.append(f"{status} {body[:300].decode(errors='replace')}")
        self._finish()

    def failed(self, why: str) -> None:
        self.statuses["transport error"] = self.statuses.get("transport error", 0) + 1
        if not self.refused:
            self.refused.append(why)
        self._finish()

    def reconnect(self) -> None:
        if self.done.done():
            return

        async def again() -> None:
            await self.loop.create_connection(lambda: _Connection(self), self.host, self.port)

        self.loop.create_task(again())

    def _finish(self) -> None:
        self.finished += 1
        if self.finished == len(self.requests) and not self.done.done():
            self.done.set_result(None)


def requests_of(url: str, bodies: list[bytes]) -> list[bytes]:
    """The uplinks as HTTP/1.1 requests, encoded before the clock starts."""
    parts = urlsplit(url)
    head = (
        f"POST {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\nAuthorization: Bearer {WEBHOOK_TOKEN}\r\n"
        "Content-Type: application/json\r\n"
    ).encode()
    return [head + b"Content-Length: %d\r\n\r\n" % len(body) + body for body in bodies]


async def send(url: str, requests: list[bytes], rate: float, connections: int) -> dict[str, Any]:
    parts = urlsplit(url)
    load = _Load(parts.hostname or "127.0.0.1", parts.port or 80, requests, rate, connections)
    took = await load.run()
    ordered = sorted(load.latencies)

    def percentile(p: float) -> float:
        return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))] * 1000

    lags = sorted(load.lags)
    return {
        "sent": len(requests),
        "seconds": round(took, 2),
        "accepted_per_second": round(load.stored / took),
        "answers": {str(code): n for code, n in sorted(load.statuses.items(), key=lambda item: str(item[0]))},
        "acknowledged_stored": load.stored,
        "first_refusal": load.refused[0] if load.refused else None,
        "latency_ms_p50_p95_p99": [round(percentile(p), 1) for p in (50, 95, 99)] if ordered else None,
        "lag_behind_schedule_ms_p99": round(lags[int(0.99 * (len(lags) - 1))] * 1000, 1) if lags else None,
        "latency_ms_mean": round(statistics.fmean(ordered) * 1000, 1) if ordered else None,
    }


def last_uplink(url: str) -> int:
    """The id of the last uplink stored so far (0: none)."""
    engine = create_engine(url)
    with engine.connect() as connection:
        last = connection.execute(text("SELECT coalesce(max(id), 0) FROM lorawan_uplinks")).scalar_one()
    engine.dispose()
    return int(last)


def run_load(load: Coroutine[Any, Any, dict[str, Any]]) -> dict[str, Any]:
    """The load on uvloop's event loop where it is installed (uvicorn's own), else asyncio's."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(load)
    return uvloop.run(load)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=["postgresql", "sqlite"], default="postgresql")
    parser.add_argument(
        "--pg-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/urbantwin_bench_lorawan"
    )
    parser.add_argument("--rate", type=float, default=1000, help="uplinks a second")
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--devices", type=int, default=200)
    parser.add_argument("--connections", type=int, default=32, help="the network server's parallel requests")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--warmup", type=int, default=500, help="uplinks sent before the clock starts")
    args = parser.parse_args()
    print(describe())
    print(f"load average at the start: {os.getloadavg()[0]:.2f}")
    with tempfile.TemporaryDirectory(prefix="urbantwin-bench-lorawan-") as folder:
        url = fresh_store(args.backend, args.pg_url, folder)
        settings = {
            "URBANTWIN_LORAWAN_WEBHOOK_TOKEN": WEBHOOK_TOKEN,
            "URBANTWIN_RATE_LIMIT_PER_SECOND": "0",
            "URBANTWIN_RATE_LIMIT_TOKEN_PER_SECOND": "0",
        }
        with server(url, args.workers, folder, settings) as (base, token, group):
            set_up(base, token, args.devices)
            webhook = base.rsplit("/v1.1", 1)[0] + "/api/infrastructure/lorawan/uplinks/tts"
            # CPU seconds of each party while the uplinks go in: what an uplink costs, whatever
            # else the machine runs (the rate is not, on a shared machine).
            total = int(args.rate * args.seconds)
            bodies = [uplink(n % args.devices, n // args.devices + 1) for n in range(args.warmup + total)]
            requests = requests_of(webhook, bodies)
            # Untimed first: each worker's first uplinks import and prepare what they use.
            warm = run_load(send(webhook, requests[: args.warmup], args.rate, args.connections))
            before_id = last_uplink(url)
            serving, database = server_pids(group), database_pids(url)
            before = cpu_of(serving | database)
            client_cpu = time.process_time()
            result = run_load(send(webhook, requests[args.warmup :], args.rate, args.connections))
            client_cpu = time.process_time() - client_cpu
            database |= database_pids(url)
            after = cpu_of(serving | database)
            used = {pid: after[pid] - before.get(pid, 0.0) for pid in after}
            taken = max(1, result["acknowledged_stored"])
            result["cpu_ms_per_uplink"] = {
                "server": round(1e3 * sum(used.get(pid, 0.0) for pid in serving) / taken, 2),
                "database": round(1e3 * sum(used.get(pid, 0.0) for pid in database) / taken, 2),
                "client": round(1e3 * client_cpu / taken, 2),
            }
            if "transport error" in result["answers"]:  # say what the server said meanwhile
                log = (Path(folder) / "server.log").read_text(errors="replace").splitlines()
                print("\n".join([line for line in log if "uvicorn.access" not in line][-30:]))
        engine = create_engine(url)
        with engine.connect() as connection:
            uplinks = connection.execute(text("SELECT count(*) FROM lorawan_uplinks")).scalar_one()
            observations = connection.execute(text("SELECT count(*) FROM observations")).scalar_one()
            if args.backend == "postgresql":
                # The transactions that stored the timed uplinks (a row's xmin): the groups.
                groups = connection.execute(
                    text("SELECT count(DISTINCT xmin::text) FROM lorawan_uplinks WHERE id > :id"),
                    {"id": before_id},
                ).scalar_one()
                result["uplinks_per_group"] = round(result["acknowledged_stored"] / max(1, groups), 1)
        engine.dispose()
        if args.backend == "postgresql":
            fresh_store(args.backend, args.pg_url, folder)  # leaves an empty database behind, not 100 MB
    acknowledged = warm["acknowledged_stored"] + result["acknowledged_stored"]
    result |= {
        "warm_up_acknowledged": warm["acknowledged_stored"],
        "stored_uplinks": uplinks,
        "stored_observations": observations,
        "lost": acknowledged - uplinks,
        "observations_lost": len(FIELDS) * acknowledged - observations,
        "observations_per_uplink": round(observations / uplinks, 2) if uplinks else None,
        "load_average_at_the_end": round(os.getloadavg()[0], 2),
    }
    print(orjson.dumps(result, option=orjson.OPT_INDENT_2).decode())


if __name__ == "__main__":
    main()
