"""Where the time of a SensorThings page read goes: (b) and (c) of bench/sta.py, step by step.

On a fresh PostgreSQL database (`--pg-url`, dropped and recreated) with one Datastream of `--n`
Observations (one a minute, results 0–49, written through the API's dataArray), it measures in one
process, each step `--runs` times (medians of the runs after 10 warm-ups):

- **the service's steps** for `GET /Datastreams(id)/Observations` with (b) `$top=1000&$orderby=
  phenomenonTime desc` and (c) the interval and result filter: parsing the path and options, the
  connection from the pool (with its ping), the caller's scope, the parents' check, the page (SQL
  built, sent, rows read), the dataset of the path for the read audit, the connection's return;
- **the page's statement alone**, sent by psycopg on a connection of its own (prepared): what the
  database and the driver take, the floor of any Python server on this store;
- **the whole app in process** (ASGI, no network), the way `bench/single_post.py` drives it;
- **the HTTP floor**: uvicorn serving a bare ASGI app that answers the same bytes, fetched with a
  fresh TCP connection per request as the workload's (b) does (httpx, one client).

    .venv/bin/python bench/sta_read.py --n 20000 --runs 60

With `--asgi` it measures the server alone, for comparing two revisions on a busy machine: the app
called as uvicorn calls it (an ASGI scope, the body collected, no HTTP client whose own cost would
be counted, such as httpx's ASGI transport), per request the wall time, the CPU time of the server's
process (its event loop and worker threads; PostgreSQL's not) and the Python function calls
(cProfile's count, the same on any load). `--reuse` keeps the database an earlier run loaded, so
runs of two revisions alternate on the same data (the revision before by `PYTHONPATH` pointing at a
`git archive` of its `src/`):

    .venv/bin/python bench/sta_read.py --n 20000          # loads the database once
    for round in 1 2 3; do
        PYTHONPATH=/tmp/before/src .venv/bin/python bench/sta_read.py --asgi --reuse --runs 200
        .venv/bin/python bench/sta_read.py --asgi --reuse --runs 200
    done
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import datetime as dt
import os
import pstats
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import psycopg
from host import describe
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import make_url

from urbantwin.access.gate import Caller
from urbantwin.app import create_app
from urbantwin.sensorthings.paths import parse_path
from urbantwin.sensorthings.service import _options
from urbantwin.sensorthings.visibility import Visibility, dataset_of
from urbantwin.settings import Settings
from urbantwin.store.engine import for_reads, make_engine, upgrade

TOKEN = "bench-sta-read-token"
QUERIES = {
    "b": "%24top=1000&%24orderby=phenomenonTime%20desc",
    "c": "%24filter=phenomenonTime%20ge%202024-01-03T00%3A00%3A00Z%20and%20phenomenonTime%20lt%20"
    "2024-01-10T00%3A00%3A00Z%20and%20result%20gt%2025&%24top=1000",
}
FLOOR_APP = """
import sys
BODY = open(sys.argv[1], "rb").read()
async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(BODY)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": BODY})
import uvicorn
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[2]), log_level="warning")
"""


def median_ms(action: Callable[[], Any], runs: int) -> float:
    for _ in range(10):
        action()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


def fresh_database(pg_url: str) -> str:
    url = make_url(pg_url)
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{url.database}"'))
    admin.dispose()
    return pg_url


async def load(app: Any, n: int) -> int:
    """One Datastream with `n` Observations, written through the API; its id."""
    thing = {
        "name": "bench",
        "description": "sta_read.py",
        "Locations": [
            {
                "name": "l",
                "description": "l",
                "encodingType": "application/geo+json",
                "location": {"type": "Point", "coordinates": [12.37, 51.34]},
            }
        ],
        "Datastreams": [
            {
                "name": "d",
                "description": "d",
                "unitOfMeasurement": {"name": "unit", "symbol": "u", "definition": "u"},
                "observationType": "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement",
                "Sensor": {"name": "s", "description": "s", "encodingType": "text/plain", "metadata": "m"},
                "ObservedProperty": {"name": "p", "definition": "p", "description": "p"},
            }
        ],
    }
    transport = httpx.ASGITransport(app=app)
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1", headers=headers) as client:
        created = await client.post("/v1.1/Things", json=thing)
        created.raise_for_status()
        ident = (await client.get("/v1.1/Datastreams")).json()["value"][0]["@iot.id"]
        start = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
        for block in range(0, n, 1000):
            rows = [
                [(start + dt.timedelta(minutes=i)).isoformat().replace("+00:00", "Z"), (i * 37) % 50]
                for i in range(block, min(n, block + 1000))
            ]
            body = [
                {
                    "Datastream": {"@iot.id": ident},
                    "components": ["phenomenonTime", "result"],
                    "dataArray": rows,
                }
            ]
            (await client.post("/v1.1/CreateObservations", json=body)).raise_for_status()
    return int(ident)


def service_steps(app: Any, engine: Any, datastream: int, query: str, runs: int) -> dict[str, float]:
    """Each step of the service's GET, timed on its own (medians, ms)."""
    service = app.state.sensorthings
    caller = Caller.system("bench")
    path = f"Datastreams({datastream})/Observations"
    times: dict[str, list[float]] = {}
    clock = time.perf_counter

    def took(step: str, since: float) -> float:
        now = clock()
        times.setdefault(step, []).append((now - since) * 1e3)
        return now

    for _ in range(runs + 10):
        start = clock()
        resource, options = parse_path(path), _options(query, service.query_limits)
        start = took("parse", start)
        connection = for_reads(engine).connect()
        start = took("connect", start)
        scope = service.access.scope(caller, connection)
        start = took("scope", start)
        reader = service._reader(connection, "http://127.0.0.1/v1.1", Visibility(scope))
        reader._check_parents(resource)
        start = took("parents", start)
        reader.collection(resource.target.entity, resource.steps, options, query, "u")
        start = took("page", start)
        first = resource.steps[0]
        dataset_of(connection, first.entity, first.id)
        start = took("dataset", start)
        connection.close()
        took("close", start)
    return {step: statistics.median(values[10:]) for step, values in times.items()}


def page_statement(app: Any, engine: Any, datastream: int, query: str) -> tuple[str, Any]:
    captured: dict[str, Any] = {}

    def keep(_c: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if "observations.id" in statement and "LIMIT" in statement:
            captured["sql"], captured["parameters"] = statement, parameters

    event.listen(engine, "before_cursor_execute", keep)
    app.state.sensorthings.handle(
        "GET",
        f"Datastreams({datastream})/Observations",
        query,
        None,
        "http://127.0.0.1/v1.1",
        Caller.system("bench").principal,
    )
    event.remove(engine, "before_cursor_execute", keep)
    return captured["sql"], captured["parameters"]


def whole_app_ms(app: Any, datastream: int, query: str, runs: int) -> tuple[float, bytes]:
    async def run() -> tuple[float, bytes]:
        transport = httpx.ASGITransport(app=app)
        headers = {"Authorization": f"Bearer {TOKEN}"}
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1", headers=headers) as c:
            url = f"/v1.1/Datastreams({datastream})/Observations?{query}"
            for _ in range(10):
                answer = await c.get(url)
            times = []
            for _ in range(runs):
                start = time.perf_counter()
                answer = await c.get(url)
                times.append(time.perf_counter() - start)
            return statistics.median(times) * 1e3, answer.content

    return asyncio.run(run())


def http_floor_ms(body: bytes, runs: int) -> float:
    """uvicorn and a bare app answering `body`; a fresh TCP connection per GET."""
    with tempfile.TemporaryDirectory() as folder:
        page = Path(folder) / "page.json"
        page.write_bytes(body)
        script = Path(folder) / "floor.py"
        script.write_text(FLOOR_APP)
        port = 8799
        server = subprocess.Popen([sys.executable, str(script), str(page), str(port)])
        try:
            for _ in range(100):
                try:
                    httpx.get(f"http://127.0.0.1:{port}/", timeout=1)
                    break
                except httpx.TransportError:
                    time.sleep(0.1)
            with httpx.Client(limits=httpx.Limits(max_keepalive_connections=0)) as client:
                return median_ms(lambda: client.get(f"http://127.0.0.1:{port}/").content, runs)
        finally:
            server.terminate()
            server.wait()


#: The reads `--asgi` times: (b), (c), and a small navigation read where the per-request cost shows.
ASGI_READS = {
    **QUERIES,
    "one entity by navigation (Datastreams(id)/Thing)": "",
}


async def asgi_get(app: Any, path: str, query: str) -> tuple[int, bytes]:
    """One GET the way uvicorn hands it to the app, with the bench's token; status and body."""
    headers = [(b"host", b"127.0.0.1"), (b"authorization", f"Bearer {TOKEN}".encode())]
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 40000),
        "server": ("127.0.0.1", 80),
    }
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return sent[0]["status"], b"".join(m.get("body", b"") for m in sent[1:])


def asgi_figures(app: Any, path: str, query: str, runs: int) -> dict[str, float]:
    """Per request: wall and CPU time (medians of blocks of 10, ms) and the Python function calls on
    the event loop's thread (cProfile sees no other)."""

    async def run() -> dict[str, float]:
        for _ in range(10):
            status, _ = await asgi_get(app, path, query)
            assert status == 200, status
        walls, cpus = [], []
        for _ in range(max(1, runs // 10)):
            wall, cpu = time.perf_counter(), time.process_time()
            for _ in range(10):
                await asgi_get(app, path, query)
            walls.append((time.perf_counter() - wall) / 10)
            cpus.append((time.process_time() - cpu) / 10)
        profile = cProfile.Profile()
        profile.enable()
        for _ in range(10):
            await asgi_get(app, path, query)
        profile.disable()
        calls = pstats.Stats(profile).total_calls / 10  # type: ignore[attr-defined]
        return {"wall": statistics.median(walls) * 1e3, "cpu": statistics.median(cpus) * 1e3, "calls": calls}

    return asyncio.run(run())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pg-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/urbantwin_sta_read")
    parser.add_argument("--n", type=int, default=20000, help="Observations of the Datastream")
    parser.add_argument("--runs", type=int, default=60, help="timed runs per figure")
    parser.add_argument("--asgi", action="store_true", help="only the server, by ASGI (see above)")
    parser.add_argument("--reuse", action="store_true", help="the database an earlier run loaded")
    args = parser.parse_args()
    print(describe())
    settings = Settings(
        database_url=args.pg_url if args.reuse else fresh_database(args.pg_url),
        admin_token=TOKEN,
        rate_limit_per_second=0,
        rate_limit_token_per_second=0,
    )
    engine = make_engine(settings)
    upgrade(engine)
    app = create_app(settings, engine)
    if args.reuse:
        datastream = int(engine.connect().execute(text("SELECT min(id) FROM datastreams")).scalar_one())
    else:
        datastream = asyncio.run(load(app, args.n))
    if args.asgi:
        import urbantwin

        print(f"urbantwin from {Path(urbantwin.__file__).parent}; load average {os.getloadavg()[0]:.1f}")
        for name, query in ASGI_READS.items():
            path = f"/v1.1/Datastreams({datastream})/" + ("Observations" if query else "Thing")
            got = asgi_figures(app, path, query, args.runs)
            print(
                f"({name}) wall {got['wall']:.2f} ms, server CPU {got['cpu']:.2f} ms, "
                f"{got['calls']:,.0f} Python calls in the event loop per request; "
                f"load average {os.getloadavg()[0]:.1f}"
            )
        engine.dispose()
        return
    url = make_url(settings.database_url)
    raw = psycopg.connect(
        host=url.host, port=url.port or 5432, user=url.username, dbname=url.database, autocommit=True
    )
    print(f"{args.n} Observations; medians of {args.runs} runs, ms; load average {os.getloadavg()[0]:.1f}")
    for name, query in QUERIES.items():
        steps = service_steps(app, engine, datastream, query, args.runs)
        sql, parameters = page_statement(app, engine, datastream, query)
        statement = median_ms(
            lambda s=sql, p=parameters: raw.execute(s, p, prepare=True).fetchall(), args.runs
        )
        whole, body = whole_app_ms(app, datastream, query, args.runs)
        floor = http_floor_ms(body, args.runs)
        listed = ", ".join(f"{step} {value:.2f}" for step, value in steps.items())
        print(f"({name}) service steps: {listed}; sum {sum(steps.values()):.2f}")
        print(f"({name}) the page's statement alone (psycopg, prepared): {statement:.2f}")
        print(f"({name}) the whole app in process (ASGI): {whole:.2f}; {len(body):,} bytes")
        print(f"({name}) HTTP floor (uvicorn, bare app, same bytes, fresh connection): {floor:.2f}")
    raw.close()
    engine.dispose()


if __name__ == "__main__":
    main()
