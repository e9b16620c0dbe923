"""The dataArray write path alone: `POST /v1.1/CreateObservations` on PostgreSQL and on SQLite.

**Over HTTP** (the figure of issue 15's target): `urbantwin serve` (uvicorn, `--workers`) is started
on a fresh PostgreSQL database (`--pg-url`, dropped and recreated) or a fresh SQLite file; the
script creates one Thing, Sensor, ObservedProperty and FeatureOfInterest and `--datastreams`
Datastreams, then posts `--per` Observations to each, `--batch` rows per request (one dataArray
block of components phenomenonTime, result, FeatureOfInterest/id; `…Z` instants a minute apart,
results as the shared workload's), over `--conc` keep-alive connections. The request bodies are
built before the clock starts, so the client costs only the sending. Every answer is checked (one
selfLink per row, no "error"), and the count of Observations in the store at the end.

**In process** (`--in-process`): the same bodies handed to the SensorThings service of an app on a
fresh store, one request after the other, and the time of each step of a request summed: parsing
the JSON text (and its input check), validating the block (checking each column), the bulk insert
(`COPY` on PostgreSQL), and the rest up to the commit (the Datastreams' computed properties, the
audit record, the commit itself).

    .venv/bin/python bench/bulk_post.py --backend postgresql
    .venv/bin/python bench/bulk_post.py --backend sqlite
    .venv/bin/python bench/bulk_post.py --backend postgresql --in-process --datastreams 20
    .venv/bin/python bench/bulk_post.py --backend postgresql --in-process --spread --batch 10 --per 200
    .venv/bin/python bench/bulk_post.py --backend postgresql --copy-only --datastreams 20 \\
        [--without triggers | --without count-trigger]

`--spread` makes each request a block for every Datastream, `--batch` rows each (many small blocks,
as the MQTT ingest sends them).

**COPY alone** (`--copy-only`): the store's bulk insert of the same rows as numpy columns, each
request's rows in one transaction, and the database backend's CPU per row. For the diagnosis
only, on the benchmark's throw-away database: `--without triggers` skips every trigger, the
foreign keys' per-row checks included (`session_replication_role = replica`, a superuser's
switch); `--without count-trigger` disables the per-statement trigger that counts each
Datastream's Observations (and the capture of its transition table).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import orjson
from host import describe

DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/urbantwin_bench_bulk"
T0 = datetime(2024, 1, 1, tzinfo=UTC)
POINT = {"type": "Point", "coordinates": [12.37, 51.34]}


def bodies(
    datastreams: list[int], feature: int, per: int, batch: int, spread: bool = False
) -> list[tuple[int, bytes]]:
    """The requests: (rows, JSON body) for each `batch` rows of each Datastream; with `spread`,
    each request holds a block of `batch` rows for every Datastream (as the MQTT ingest sends)."""
    times = [(T0 + timedelta(minutes=i)).strftime("%Y-%m-%dT%H:%M:%SZ") for i in range(per)]

    def block(datastream: int, start: int) -> dict[str, Any]:
        rows = [[times[i], (i % 500) / 10, feature] for i in range(start, min(per, start + batch))]
        return {
            "Datastream": {"@iot.id": datastream},
            "components": ["phenomenonTime", "result", "FeatureOfInterest/id"],
            "dataArray": rows,
        }

    out = []
    if spread:
        for start in range(0, per, batch):
            blocks = [block(datastream, start) for datastream in datastreams]
            out.append((sum(len(b["dataArray"]) for b in blocks), orjson.dumps(blocks)))
        return out
    for datastream in datastreams:
        for start in range(0, per, batch):
            content = block(datastream, start)
            out.append((len(content["dataArray"]), orjson.dumps([content])))
    return out


def set_up(post: Callable[[str, dict[str, Any]], int], count: int) -> tuple[list[int], int]:
    """A Thing, Sensor, ObservedProperty, FeatureOfInterest and `count` Datastreams; their ids."""
    location = {"name": "l", "description": "d", "encodingType": "application/geo+json", "location": POINT}
    thing = post("Things", {"name": "bulk", "description": "dataArray bench", "Locations": [location]})
    sensor = post(
        "Sensors", {"name": "s", "description": "d", "encodingType": "application/pdf", "metadata": "x"}
    )
    prop = post("ObservedProperties", {"name": "t", "definition": "x", "description": "d"})
    feature = post(
        "FeaturesOfInterest",
        {"name": "f", "description": "d", "encodingType": "application/geo+json", "feature": POINT},
    )
    datastreams = [
        post(
            "Datastreams",
            {
                "name": f"ds {i}",
                "description": "d",
                "observationType": "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement",
                "unitOfMeasurement": {"name": "degree Celsius", "symbol": "degC", "definition": "x"},
                "Thing": {"@iot.id": thing},
                "Sensor": {"@iot.id": sensor},
                "ObservedProperty": {"@iot.id": prop},
            },
        )
        for i in range(count)
    ]
    return datastreams, feature


def check_answer(status: int, answer: bytes, rows: int) -> None:
    if status != 201:
        raise SystemExit(f"CreateObservations answered {status}: {answer[:300]!r}")
    links = orjson.loads(answer)
    if len(links) != rows or "error" in links:
        raise SystemExit(f"CreateObservations stored {len(links)} links for {rows} rows, or an error")


def fresh_store(backend: str, pg_url: str, folder: str) -> str:
    if backend == "sqlite":
        return f"sqlite:///{folder}/bench.sqlite"
    from sqlalchemy import create_engine, text

    name = urlsplit(pg_url).path.lstrip("/")
    admin = create_engine(pg_url.rsplit("/", 1)[0] + "/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return pg_url


# --------------------------------------------------------------------------------------- over HTTP


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def server(
    url: str, workers: int, folder: str, settings: dict[str, str] | None = None
) -> Iterator[tuple[str, str, int]]:
    """`urbantwin serve` on `url` (with `settings`, more URBANTWIN_* variables): yields its
    SensorThings base URL, its administrator token and its process group."""
    token = secrets.token_urlsafe(24)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("URBANTWIN_")}
    env.update(URBANTWIN_DATABASE_URL=url, URBANTWIN_ADMIN_TOKEN=token, **(settings or {}))
    # Rate limits off: the benchmark's client is one address sending as fast as it can.
    env.update(URBANTWIN_RATE_LIMIT_PER_SECOND="0", URBANTWIN_RATE_LIMIT_TOKEN_PER_SECOND="0")
    urbantwin = str(Path(sys.executable).parent / "urbantwin")
    subprocess.run([urbantwin, "db", "upgrade", "--database-url", url], env=env, cwd=folder, check=True)
    command = [urbantwin, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]
    log = open(Path(folder) / "server.log", "w")  # noqa: SIM115 (closed below)
    process = subprocess.Popen(
        command, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=folder, start_new_session=True
    )
    base = f"http://127.0.0.1:{port}/v1.1"
    try:
        deadline = time.monotonic() + 90
        while True:
            if process.poll() is not None:
                raise SystemExit((Path(folder) / "server.log").read_text()[-3000:])
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(base, timeout=5).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise SystemExit("the server did not start within 90 s")
            time.sleep(0.3)
        yield base, token, process.pid
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        log.close()


_TICK = os.sysconf("SC_CLK_TCK")


def cpu_of(pids: set[int]) -> dict[int, float]:
    """CPU seconds (user and system) each process has used so far."""
    used = {}
    for pid in pids:
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            used[pid] = (int(fields[11]) + int(fields[12])) / _TICK
    return used


def server_pids(group: int) -> set[int]:
    """The processes of the server's process group (uvicorn's supervisor and workers)."""
    pids = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError):
            if int(stat.read_text().rsplit(")", 1)[1].split()[2]) == group:
                pids.add(int(stat.parent.name))
    return pids


def database_pids(url: str) -> set[int]:
    """The PostgreSQL backends connected to the benchmark's database (none for SQLite)."""
    if not url.startswith("postgresql"):
        return set()
    import psycopg

    plain = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(plain, autocommit=True) as connection:
        rows = connection.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchall()
    return {row[0] for row in rows}


def over_http(args: argparse.Namespace, url: str, folder: str) -> dict[str, float]:
    with server(url, args.workers, folder) as (base, token, group):
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        with httpx.Client(base_url=base, headers=headers, timeout=600) as client:

            def post(path: str, document: dict[str, Any]) -> int:
                answer = client.post(f"/{path}", content=orjson.dumps(document))
                if answer.status_code != 201:
                    raise SystemExit(f"POST {path}: {answer.status_code} {answer.text[:300]}")
                return int(answer.headers["location"].rsplit("(", 1)[1].rstrip(")"))

            datastreams, feature = set_up(post, args.datastreams)
            requests = bodies(datastreams, feature, args.per, args.batch, args.spread)
            # One request first, untimed: the server's processes import and prepare on their first.
            rows, body = requests.pop()
            check_answer(*_send(client, body), rows)
            total = sum(rows for rows, _ in requests)
            queue = iter(requests)
            lock = threading.Lock()
            latencies: list[float] = []

            def sender() -> None:
                with httpx.Client(base_url=base, headers=headers, timeout=600) as own:
                    while True:
                        with lock:
                            item = next(queue, None)
                        if item is None:
                            return
                        started = time.perf_counter()
                        check_answer(*_send(own, item[1]), item[0])
                        latencies.append(time.perf_counter() - started)

            serving, database = server_pids(group), database_pids(url)
            before = cpu_of(serving | database)
            cpu = time.process_time()
            wall = time.perf_counter()
            threads = [threading.Thread(target=sender) for _ in range(args.conc)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            wall = time.perf_counter() - wall
            cpu = time.process_time() - cpu
            database |= database_pids(url)
            after = cpu_of(serving | database)
            used = {pid: after[pid] - before.get(pid, 0.0) for pid in after}
            counted = client.get("/Observations", params={"$count": "true", "$top": "0"}).json()["@iot.count"]
            if counted != total + rows:
                raise SystemExit(f"{counted} Observations stored, {total + rows} sent")
    latencies.sort()
    return {
        "obs": total,
        "per_s": total / wall,
        "wall_s": wall,
        "median ms": 1e3 * latencies[len(latencies) // 2],
        "client CPU µs": 1e6 * cpu / total,
        "server CPU µs": 1e6 * sum(used.get(pid, 0.0) for pid in serving) / total,
        "database CPU µs": 1e6 * sum(used.get(pid, 0.0) for pid in database) / total,
    }


def _send(client: httpx.Client, body: bytes) -> tuple[int, bytes]:
    answer = client.post("/CreateObservations", content=body)
    return answer.status_code, answer.content


# ---------------------------------------------------------------------------------------- in process


class Steps:
    """Wall and CPU seconds (of the calling thread) summed per step of the requests, by wrapping the
    functions that do each step. The CPU figure is the one to compare on a shared machine; the wall
    time of the insert also holds the database's own work."""

    def __init__(self) -> None:
        self.wall: dict[str, float] = {}
        self.cpu: dict[str, float] = {}

    def add(self, step: str, wall: float, cpu: float) -> None:
        self.wall[step] = self.wall.get(step, 0.0) + wall
        self.cpu[step] = self.cpu.get(step, 0.0) + cpu

    def timed(self, step: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            wall, cpu = time.perf_counter(), time.thread_time()
            try:
                return function(*args, **kwargs)
            finally:
                self.add(step, time.perf_counter() - wall, time.thread_time() - cpu)

        return wrapper


def in_process(args: argparse.Namespace, url: str) -> dict[str, float]:
    from urbantwin.app import create_app
    from urbantwin.http import parse_json
    from urbantwin.sensorthings import dataarray
    from urbantwin.settings import Settings
    from urbantwin.store.engine import make_engine, upgrade

    settings = Settings(database_url=url, admin_token="bench", rate_limit_per_second=0)
    engine = make_engine(settings)
    upgrade(engine)
    app = create_app(settings, engine)
    service = app.state.sensorthings
    principal = app.state.authenticator.principal("Bearer bench")
    base = "http://127.0.0.1:8000/v1.1"

    def post(path: str, document: dict[str, Any]) -> int:
        answer = service.handle("POST", path, "", document, base, principal)
        return int(answer.headers["Location"].rsplit("(", 1)[1].rstrip(")"))

    datastreams, feature = set_up(post, args.datastreams)
    requests = bodies(datastreams, feature, args.per, args.batch, args.spread)
    steps = Steps()
    # The steps, in the order a request takes them; what is left of the request's time is "rest".
    for name, step in (("_block_columns", "validate"), ("insert_observations", "insert")):
        setattr(dataarray, name, steps.timed(step, getattr(dataarray, name)))
    total = 0
    wall, cpu = time.perf_counter(), time.thread_time()
    for rows, body in requests:
        document = steps.timed("parse", parse_json)(body, settings)
        answer = steps.timed("request", service.handle)(
            "POST", "CreateObservations", "", document, base, principal
        )
        check_answer(answer.status, orjson.dumps(answer.body), rows)
        total += rows
    wall, cpu = time.perf_counter() - wall, time.thread_time() - cpu
    engine.dispose()
    # What the request took besides validating and inserting: the Datastreams' and features'
    # checks, the links of the answer, the computed properties, the audit record, the commit.
    for measured in (steps.wall, steps.cpu):
        measured["rest"] = measured.pop("request") - measured["validate"] - measured["insert"]
    figures = {f"{step} µs": 1e6 * seconds / total for step, seconds in steps.wall.items()}
    figures.update({f"{step} CPU µs": 1e6 * seconds / total for step, seconds in steps.cpu.items()})
    figures["all CPU µs"] = 1e6 * cpu / total
    return {"obs": total, "per_s": total / wall, "wall_s": wall, **figures}


# ------------------------------------------------------------------------------------------- COPY alone


def copy_only(args: argparse.Namespace, url: str) -> dict[str, float]:
    """The store's bulk insert alone, on numpy columns as the dataArray path hands them over, and
    the database backend's CPU per row (`--without`: see the module's docstring)."""
    import numpy as np
    from sqlalchemy import text

    from urbantwin.settings import Settings
    from urbantwin.store import bulk
    from urbantwin.store.engine import make_engine, upgrade

    engine = make_engine(Settings(database_url=url))
    upgrade(engine)
    datastream, feature = _one_datastream(url)
    count = args.batch
    total = 0
    with engine.connect() as connection:
        pid = connection.execute(text("SELECT pg_backend_pid()")).scalar_one()
        if args.without == "triggers":  # the foreign keys' checks and the count trigger
            connection.execute(text("SET session_replication_role = replica"))
        elif args.without == "count-trigger":  # the trigger counting each Datastream's Observations
            connection.execute(text("ALTER TABLE observations DISABLE TRIGGER USER"))
        connection.commit()
        start = np.datetime64("2024-01-01T00:00:00", "us")
        backend = cpu_of({pid})[pid]
        cpu, wall = time.process_time(), time.perf_counter()
        for request in range(args.datastreams * args.per // count):
            minutes = np.arange(request * count, (request + 1) * count) * np.timedelta64(60, "s")
            bulk.insert_observations(
                connection,
                {
                    "phenomenon_time_start": start + minutes,
                    "result_type": np.zeros(count, np.int16),
                    "result_number": np.arange(count) / 10,
                    "datastream_id": np.full(count, datastream, np.int64),
                    "feature_of_interest_id": np.full(count, feature, np.int64),
                },
            )
            connection.commit()
            total += count
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        backend = cpu_of({pid})[pid] - backend
    engine.dispose()
    return {
        "obs": total,
        "per_s": total / wall,
        "wall_s": wall,
        "script CPU µs": 1e6 * cpu / total,
        "database CPU µs": 1e6 * backend / total,
    }


def _one_datastream(url: str) -> tuple[int, int]:
    """A Datastream and a FeatureOfInterest made through the service, for `copy_only`."""
    from urbantwin.app import create_app
    from urbantwin.settings import Settings

    settings = Settings(database_url=url, admin_token="bench", rate_limit_per_second=0)
    app = create_app(settings)
    service = app.state.sensorthings
    principal = app.state.authenticator.principal("Bearer bench")

    def post(path: str, document: dict[str, Any]) -> int:
        answer = service.handle("POST", path, "", document, "http://127.0.0.1/v1.1", principal)
        return int(answer.headers["Location"].rsplit("(", 1)[1].rstrip(")"))

    datastreams, feature = set_up(post, 1)
    return datastreams[0], feature


# ------------------------------------------------------------------------------------------------ main


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="postgresql")
    parser.add_argument("--datastreams", type=int, default=100)
    parser.add_argument("--per", type=int, default=10_000, help="Observations per Datastream")
    parser.add_argument("--batch", type=int, default=10_000, help="rows per request (per block, --spread)")
    parser.add_argument(
        "--spread", action="store_true", help="each request a block of --batch rows for every Datastream"
    )
    parser.add_argument("--conc", type=int, default=2, help="connections sending at once")
    parser.add_argument("--workers", type=int, default=2, help="the server's uvicorn workers")
    parser.add_argument("--in-process", action="store_true", help="the service's steps, no HTTP")
    parser.add_argument("--copy-only", action="store_true", help="the store's bulk insert alone")
    parser.add_argument(
        "--without",
        choices=("triggers", "count-trigger"),
        help="with --copy-only: skip every trigger (the foreign keys' checks too), or the count trigger",
    )
    parser.add_argument(
        "--pg-url", default=DEFAULT_PG_URL, help="PostgreSQL database (DROPPED and recreated)"
    )
    args = parser.parse_args()
    load = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="urbantwin-bulk-") as folder:
        url = fresh_store(args.backend, args.pg_url, folder)
        if args.copy_only:
            figures = copy_only(args, url)
            how = "COPY alone" + (f", without {args.without}" if args.without else "")
        elif args.in_process:
            figures, how = in_process(args, url), "in process"
        else:
            figures = over_http(args, url, folder)
            how = f"HTTP, {args.conc} connections, {args.workers} workers"
    shape = f"{args.batch:,} rows"
    if args.spread:
        shape = f"{args.datastreams} blocks of {args.batch:,} rows"
    print(
        f"{args.backend}, {how}: {figures['obs']:,} Observations in requests of {shape}, "
        f"{figures['per_s']:,.0f} obs/s ({figures['wall_s']:.1f} s)"
    )
    print(
        "  "
        + ", ".join(
            f"{key} {value:.2f}" for key, value in figures.items() if key not in ("obs", "per_s", "wall_s")
        )
    )
    print(f"  {describe()}, load average {load[0]:.2f} before, {os.getloadavg()[0]:.2f} after")


if __name__ == "__main__":
    main()
