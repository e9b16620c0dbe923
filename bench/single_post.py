"""CPU per single `POST /v1.1/Observations`, in-process: the whole app driven through ASGI.

No network and no client: `--conc` callers in one event loop post plain Observations (Datastream and
FeatureOfInterest by id, as the shared workload's (a1) does) to the app with its lifespan running
(live updates on), on a fresh SQLite file or a fresh PostgreSQL database (`--pg-url`, dropped and
recreated). Prints the server process's CPU time per POST (`time.process_time`: every thread, the
request's event loop, the thread committing groups, the live updates), the wall time, and how many
POSTs the committing thread took per group. CPU per request is the figure to compare on a shared
machine; the wall time depends on what else runs.

    .venv/bin/python bench/single_post.py --backend postgresql --n 1500 --conc 4
    .venv/bin/python bench/single_post.py --backend sqlite --n 1500 --conc 4
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import create_engine, text

from urbantwin.app import create_app
from urbantwin.settings import Settings
from urbantwin.store.engine import make_engine, upgrade

TOKEN = "bench-single-post"


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


class Driver:
    """Calls the ASGI app the way a server would, one request at a time per caller."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def call(
        self, method: str, path: str, document: Any = None
    ) -> tuple[int, dict[bytes, bytes], bytes]:
        body = b"" if document is None else orjson.dumps(document)
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": b"",
            "root_path": "",
            "headers": [
                (b"host", b"127.0.0.1:8000"),
                (b"authorization", f"Bearer {TOKEN}".encode()),
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
            "client": ("127.0.0.1", 50000),
            "server": ("127.0.0.1", 8000),
            "state": {},
        }
        sent = False

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            await asyncio.Event().wait()  # the client never goes
            raise AssertionError

        status, headers, chunks = 0, {}, []

        async def send(message: dict[str, Any]) -> None:
            nonlocal status, headers
            if message["type"] == "http.response.start":
                status, headers = message["status"], dict(message["headers"])
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await self.app(scope, receive, send)
        return status, headers, b"".join(chunks)

    async def create(self, path: str, document: dict[str, Any]) -> int:
        status, headers, answer = await self.call("POST", path, document)
        if status != 201:
            raise SystemExit(f"POST {path}: {status} {answer[:300]!r}")
        return int(headers[b"location"].decode().rsplit("(", 1)[1].rstrip(")"))


async def lifespan(app: Any) -> tuple[asyncio.Queue[dict[str, str]], asyncio.Task[None]]:
    inbox: asyncio.Queue[dict[str, str]] = asyncio.Queue()
    started = asyncio.Event()
    await inbox.put({"type": "lifespan.startup"})

    async def send(message: dict[str, Any]) -> None:
        if message["type"].startswith("lifespan.startup."):
            started.set()

    task = asyncio.create_task(
        app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}, inbox.get, send)
    )
    await started.wait()
    return inbox, task


async def run(app: Any, n: int, conc: int, warmup: int) -> dict[str, float]:
    inbox, task = await lifespan(app)
    driver = Driver(app)
    point = {"type": "Point", "coordinates": [12.37, 51.34]}
    thing = await driver.create(
        "/v1.1/Things",
        {
            "name": "bench",
            "description": "single POSTs",
            "Locations": [
                {"name": "l", "description": "d", "encodingType": "application/geo+json", "location": point}
            ],
        },
    )
    sensor = await driver.create(
        "/v1.1/Sensors", {"name": "s", "description": "d", "encodingType": "application/pdf", "metadata": "x"}
    )
    prop = await driver.create(
        "/v1.1/ObservedProperties", {"name": "t", "definition": "x", "description": "d"}
    )
    feature = await driver.create(
        "/v1.1/FeaturesOfInterest",
        {"name": "f", "description": "d", "encodingType": "application/geo+json", "feature": point},
    )
    datastream = await driver.create(
        "/v1.1/Datastreams",
        {
            "name": "ds",
            "description": "d",
            "observationType": "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement",
            "unitOfMeasurement": {"name": "degree Celsius", "symbol": "degC", "definition": "x"},
            "Thing": {"@iot.id": thing},
            "Sensor": {"@iot.id": sensor},
            "ObservedProperty": {"@iot.id": prop},
        },
    )

    def body(i: int) -> dict[str, Any]:
        return {
            "phenomenonTime": f"2024-01-{1 + i // 1440 % 28:02d}T{i // 60 % 24:02d}:{i % 60:02d}:00Z",
            "result": (i % 500) / 10,
            "Datastream": {"@iot.id": datastream},
            "FeatureOfInterest": {"@iot.id": feature},
        }

    for i in range(warmup):
        await driver.create("/v1.1/Observations", body(i))
    groups = {"count": 0}
    # Revisions before group commit have no `observation_posts`: then no groups are counted.
    posts = getattr(app.state.sensorthings, "observation_posts", None)
    if posts is not None:
        commit = posts._commit

        def counted(group: list[Any]) -> None:
            groups["count"] += 1
            commit(group)

        posts._commit = counted
    next_index = 0

    async def caller() -> None:
        nonlocal next_index
        while next_index < n:
            i, next_index = next_index, next_index + 1
            await driver.create("/v1.1/Observations", body(i))

    cpu, wall = time.process_time(), time.perf_counter()
    await asyncio.gather(*(caller() for _ in range(conc)))
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    await inbox.put({"type": "lifespan.shutdown"})
    await task
    return {
        "cpu_us": 1e6 * cpu / n,
        "wall_ms": 1e3 * wall / n,
        "per_s": n / wall,
        "per_group": n / groups["count"] if groups["count"] else 0.0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="postgresql")
    parser.add_argument("--n", type=int, default=1500, help="timed POSTs")
    parser.add_argument("--conc", type=int, default=4, help="concurrent callers")
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument(
        "--pg-url",
        default="postgresql+psycopg://postgres@127.0.0.1:5432/urbantwin_bench_single",
        help="PostgreSQL database to use (DROPPED and recreated)",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        if args.backend == "postgresql":
            name = args.pg_url.rsplit("/", 1)[1]
            admin = create_engine(args.pg_url.rsplit("/", 1)[0] + "/postgres", isolation_level="AUTOCOMMIT")
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                connection.execute(text(f'CREATE DATABASE "{name}"'))
            url = args.pg_url
        else:
            url = f"sqlite:///{folder}/bench.sqlite"
        settings = Settings(
            database_url=url, admin_token=TOKEN, rate_limit_per_second=0, rate_limit_token_per_second=0
        )
        engine = make_engine(settings)
        upgrade(engine)
        figures = asyncio.run(run(create_app(settings, engine), args.n, args.conc, args.warmup))
        engine.dispose()
    load = os.getloadavg()[0]
    print(
        f"{args.backend}, {args.n} POSTs by {args.conc} callers: CPU {figures['cpu_us']:.0f} µs per POST, "
        f"wall {figures['wall_ms']:.2f} ms per POST ({figures['per_s']:.0f}/s), "
        f"{figures['per_group']:.2f} POSTs per group; "
        f"{os.cpu_count()} cores ({cpu_model()}), load average {load:.1f}"
    )


if __name__ == "__main__":
    main()
