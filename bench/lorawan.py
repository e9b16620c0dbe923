"""LoRaWAN uplinks through the webhook: N uplinks a second, each answered only once stored, none lost.

`urbantwin serve --workers 2` on a fresh PostgreSQL database (or SQLite file) with the webhook's
token set; `--devices` devices, each a Thing with two Datastreams (temperature, luminosity) mapped
to its decoded fields. Then uplinks in The Things Stack's v3 webhook format (its documented example,
with each device's EUI, a rising frame counter and its own receive time, so none is a retry) are
POSTed to `/api/infrastructure/lorawan/uplinks/tts` at `--rate` a second for `--seconds`, over
`--connections` keep-alive connections (open loop: each uplink is due at its time; when every
connection is busy it goes out as soon as one is free, and the lag is counted). Reported: the rate
the server took them at, latency p50/p95/p99, answers other than 200, and afterwards the store's
count of uplinks and Observations against what was acknowledged (two Observations an uplink).

    .venv/bin/python bench/lorawan.py --rate 1000 --seconds 30
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

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


async def send(url: str, rate: float, seconds: float, devices: int, connections: int) -> dict[str, Any]:
    total = int(rate * seconds)
    bodies = [uplink(n % devices, n // devices + 1) for n in range(total)]
    headers = {"Authorization": f"Bearer {WEBHOOK_TOKEN}", "Content-Type": "application/json"}
    latencies: list[float] = []
    lags: list[float] = []
    statuses: dict[int | str, int] = {}
    stored = 0
    refused: list[str] = []  # the first refusal's answer, to say why
    queue: asyncio.Queue[int] = asyncio.Queue()
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with httpx.AsyncClient(limits=limits, timeout=60, headers=headers) as client:
        start = time.monotonic()

        async def feeder() -> None:
            for n in range(total):
                due = start + n / rate
                delay = due - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                await queue.put(n)
            for _ in range(connections):
                await queue.put(-1)

        async def worker() -> None:
            nonlocal stored
            while (n := await queue.get()) >= 0:
                sent = time.monotonic()
                lags.append(sent - (start + n / rate))
                try:
                    answer = await client.post(url, content=bodies[n])
                except httpx.TransportError as exc:
                    # Not acknowledged (a network server would send it again): counted, not stored.
                    statuses["transport error"] = statuses.get("transport error", 0) + 1
                    if not refused:
                        refused.append(f"{type(exc).__name__}: {exc}")
                    continue
                latencies.append(time.monotonic() - sent)
                statuses[answer.status_code] = statuses.get(answer.status_code, 0) + 1
                if answer.status_code == 200 and answer.json().get("stored"):
                    stored += 1
                elif not refused:
                    refused.append(f"{answer.status_code} {answer.text[:300]}")

        await asyncio.gather(feeder(), *(worker() for _ in range(connections)))
        took = time.monotonic() - start
    ordered = sorted(latencies)

    def percentile(p: float) -> float:
        return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))] * 1000

    return {
        "sent": total,
        "seconds": round(took, 2),
        "accepted_per_second": round(stored / took),
        "answers": {str(code): n for code, n in sorted(statuses.items(), key=lambda item: str(item[0]))},
        "acknowledged_stored": stored,
        "first_refusal": refused[0] if refused else None,
        "latency_ms_p50_p95_p99": [round(percentile(p), 1) for p in (50, 95, 99)],
        "lag_behind_schedule_ms_p99": round(sorted(lags)[int(0.99 * (len(lags) - 1))] * 1000, 1),
        "latency_ms_mean": round(statistics.fmean(latencies) * 1000, 1),
    }


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
            serving, database = server_pids(group), database_pids(url)
            before = cpu_of(serving | database)
            client_cpu = time.process_time()
            result = asyncio.run(send(webhook, args.rate, args.seconds, args.devices, args.connections))
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
        engine.dispose()
        if args.backend == "postgresql":
            fresh_store(args.backend, args.pg_url, folder)  # leaves an empty database behind, not 100 MB
    result |= {
        "stored_uplinks": uplinks,
        "stored_observations": observations,
        "lost": result["acknowledged_stored"] - uplinks,
        "observations_per_uplink": round(observations / uplinks, 2) if uplinks else None,
        "load_average_at_the_end": round(os.getloadavg()[0], 2),
    }
    print(orjson.dumps(result, option=orjson.OPT_INDENT_2).decode())


if __name__ == "__main__":
    main()
