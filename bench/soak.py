"""The soak: everything at once for a bounded time on PostgreSQL, against a real server, with checks.

A fresh database (`--pg-url`, dropped and recreated) gets the demo city (`urbantwin demo --load-only`:
its features, sensors and energy quarter); a Mosquitto of its own on a free port and `urbantwin serve
--workers 4` (as deploy/systemd/urbantwin.service runs it) serve it. Then, for `--minutes`:

- **MQTT ingest**: `--publishers` processes publish JSON Observations with QoS 1 at a paced `--rate`
  in all (2,000/s) to `v1.1/Datastreams(id)/Observations`, round robin over `--datastreams` (100)
  Datastreams of one Thing, as sensors do (bench/live.py's publisher);
- **readers**: `--readers` (50) concurrent HTTP clients, each in turn asking for one of SensorThings
  with `$expand`, an OGC API Features page in a bbox, or a vector tile (bench/memory.py's workload),
  pausing `--reader-pause` s between two requests, as people at a map do;
- **event streams**: `--sse` (100) Server-Sent Events clients of `/api/live/observations`, each
  following one of the ingest's Datastreams, opened with `Last-Event-ID` at the store's largest
  Observation id before the load (so nothing committed while they connect is missed), reconnecting
  with their last id if the server ends a stream, as a browser's EventSource does;
- **a scenario run**: one energy run (`--scenario`) submitted with `POST /api/energy/runs` when the
  warm-up ends, and followed until it is done.

Checks (the exit status is 1 if one fails):

- **0 errors**: every answer not 2xx/3xx and every exception of a client is counted and listed, and
  so is every error or traceback in the server's log; the scenario run must end `done`;
- **0 lost**: after the publishers stop (every message acknowledged by the broker), the store is
  waited for and then holds every acknowledged Observation once (counted by Datastream and time);
- **every event stream saw the changes**: each client received exactly the ids the store holds for
  its Datastream beyond where it started;
- **memory flat**: the resident memory (RSS, from /proc) of every process of the server (the parent,
  each worker, the scenario run's process) and of the broker is sampled every `--every` s; for each
  process that lives through the measured window, the mean of the last minute is within
  `--tolerance` % of the mean of the first minute after the warm-up;
- **ingest keeps up**: the committed rate (the store's largest id, every second) averages at least
  95 % of `--rate`.

Reported beside them: p50/p95/p99 latencies per workload, the committed ingest rate per second
(min/mean), the CPU model and the load average. JSON to `bench/results/soak-*.json`, the server's
log beside it. tests/bench/test_soak.py runs the same soak (`soak()` and `problems()`) for 40 s with
looser rates.

    .venv/bin/python bench/soak.py --minutes 10
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import multiprocessing
import os
import random
import re
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from array import array
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import httpx
import orjson
from host import cpu_model, describe
from live import (
    drain,
    free_port,
    max_id,
    percentile,
    publisher,
    recreate_database,
    setup,
    start_broker,
    start_server,
    stop,
    wait_quiet,
)
from memory import Workload, rss_mb
from sqlalchemy import Engine, bindparam, create_engine, text

from urbantwin.store.ingest_marks import digest

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench" / "results"
DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/urbantwin_bench_soak"
#: Every child of the soak is started fresh (not forked from a process with threads and sockets).
SPAWN = multiprocessing.get_context("spawn")
#: The processes whose memory must stay flat after the warm-up (the others are reported).
JUDGED = ("server", "worker", "resource")


@dataclass
class Plan:
    """The workload of one soak, and how strictly it is judged."""

    seconds: float = 600
    warmup: float = 120
    rate: float = 2000  # Observations a second over MQTT, in all
    publishers: int = 2
    window: int = 1000  # unacknowledged messages a publisher may have
    readers: int = 50
    reader_pause: float = 0.5
    sse_clients: int = 100
    scenario: str | None = "pv_batteries_rule"
    scenario_at: float | None = None  # seconds into the load (default: when the warm-up ends)
    every: float = 5  # seconds between two memory samples
    drain_timeout: float = 120
    memory_tolerance: float | None = 10  # per cent (None: reported, not checked)
    min_rate_share: float | None = 0.95  # of `rate`, the committed mean at least (None: not checked)


# --- processes and their memory -------------------------------------------------------------------


def _stat(pid: int) -> tuple[int, int, float] | None:
    """(parent, session, CPU seconds) of a process, from /proc; None if it is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw[raw.rindex(")") + 2 :].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return int(fields[1]), int(fields[3]), (int(fields[11]) + int(fields[12])) / ticks


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def server_processes(server: int) -> dict[int, str]:
    """The processes of a server started in a session of its own, by role: the parent (`server`),
    its uvicorn workers (`worker`), what a worker starts (`run`: a scenario run's process) and
    multiprocessing's helpers (`resource tracker`)."""
    found: dict[int, tuple[int, str]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            stat = _stat(int(entry))
            if stat is not None and stat[1] == server:
                found[int(entry)] = (stat[0], _cmdline(int(entry)))
    roles = {}
    for pid, (parent, command) in found.items():
        if pid == server:
            roles[pid] = "server"
        elif "resource_tracker" in command:
            roles[pid] = "resource tracker"
        elif parent == server:
            roles[pid] = "worker"
        else:
            roles[pid] = "run"
    return roles


class MemorySampler(threading.Thread):
    """Samples the RSS (MB) and CPU time of the server's processes and of `others` every `every`
    seconds, by "role pid", with the time since `t0`; the load average beside each sample."""

    def __init__(self, server: int, others: dict[str, int], every: float) -> None:
        super().__init__(name="soak-memory", daemon=True)
        self.server, self.others, self.every = server, others, every
        self.samples: dict[str, list[tuple[float, float]]] = {}
        self.cpu: dict[str, tuple[float, float]] = {}  # first and last CPU seconds seen
        self.loads: list[float] = []
        self.t0 = time.monotonic()
        self.halt = threading.Event()

    def run(self) -> None:
        while not self.halt.is_set():
            now = round(time.monotonic() - self.t0, 1)
            processes = {pid: role for pid, role in server_processes(self.server).items()}
            processes.update({pid: role for role, pid in self.others.items()})
            for pid, role in processes.items():
                stat = _stat(pid)
                rss = rss_mb(pid) if stat is not None else float("nan")
                if stat is None or rss != rss:  # gone meanwhile (NaN: no VmRSS, a zombie)
                    continue
                label = f"{role} {pid}"
                self.samples.setdefault(label, []).append((now, round(rss, 1)))
                first = self.cpu.get(label, (stat[2], stat[2]))[0]
                self.cpu[label] = (first, stat[2])
            self.loads.append(os.getloadavg()[0])
            self.halt.wait(self.every)


def memory_report(samples: dict[str, list[tuple[float, float]]], plan: Plan) -> dict[str, Any]:
    """Per process: RSS at the start, after the warm-up, at the end, its peak; for a process that
    lives through the measured window, the growth of the last minute's mean over the first
    minute's after the warm-up (shorter windows in shorter soaks)."""
    window = min(60.0, (plan.seconds - plan.warmup) / 4)
    out = {}
    for label, series in samples.items():
        values = [m for _, m in series]
        entry: dict[str, Any] = {
            "first_s": series[0][0],
            "last_s": series[-1][0],
            "start_mb": values[0],
            "peak_mb": max(values),
            "end_mb": values[-1],
        }
        after = [m for t, m in series if plan.warmup <= t <= plan.warmup + window]
        last = [m for t, m in series if plan.seconds - window <= t <= plan.seconds]
        lives_through = series[0][0] <= plan.warmup and series[-1][0] >= plan.seconds - plan.every
        # The server's own processes are judged. The broker's memory follows the messages it holds
        # for the server (the ingest's lag, reported as such), and a scenario run's process is a
        # computation that ends: both are reported only.
        entry["judged"] = label.split()[0] in JUDGED
        if lives_through and after and last:
            reference, end = statistics.fmean(after), statistics.fmean(last)
            entry.update(
                after_warmup_mb=round(reference, 1),
                last_minute_mb=round(end, 1),
                growth_pct=round((end - reference) / reference * 100, 1),
            )
        out[label] = entry
    return out


class Start:
    """The load's start, shared by the soak's processes: each says when it is ready (a spawned
    process takes seconds to import on a busy machine, which would come off its share of the load),
    then all begin together and end at the same time."""

    def __init__(self) -> None:
        self.ready = SPAWN.Semaphore(0)
        self.go = SPAWN.Event()
        self.stop_at = SPAWN.Value("d", 0.0)

    def wait(self) -> float:
        """Say this process is ready, wait for the start; when to stop (wall clock)."""
        self.ready.release()
        self.go.wait()
        return self.stop_at.value

    def begin(self, processes: int, seconds: float, timeout: float = 300) -> float:
        """Wait until `processes` are ready, start them all for `seconds`; the start (wall clock)."""
        for _ in range(processes):
            if not self.ready.acquire(timeout=timeout):
                raise RuntimeError("a process of the soak did not get ready")
        now = time.time()
        self.stop_at.value = now + seconds
        self.go.set()
        return now


def paced_publisher(
    start: Start, port: int, datastreams: list[int], window: int, counter: Any, seed: int, rate: float
) -> None:
    """bench/live.py's publisher, from the load's start on."""
    stop_at = start.wait()
    publisher(port, datastreams, stop_at, window, counter, seed, rate)


# --- readers --------------------------------------------------------------------------------------


def readers_main(base: str, readers: int, pause: float, start: Start, seed: int, out: Connection) -> None:
    """The readers' process: their latencies by workload, their answers by status, their errors."""
    with httpx.Client(base_url=base, timeout=60) as client:
        workload = Workload(client)
    stop_at = start.wait()
    kinds: dict[str, Callable[[random.Random], str]] = {
        "sta_expand": workload.sta,
        "features": workload.items,
        "tiles": workload.tile,
    }
    latencies: dict[str, array] = {kind: array("d") for kind in kinds}
    statuses: Counter[str] = Counter()
    errors: list[dict[str, Any]] = []

    async def reader(number: int) -> None:
        rnd = random.Random(seed * 1000 + number)
        await asyncio.sleep(rnd.uniform(0, pause))  # not all at once
        async with httpx.AsyncClient(base_url=base, timeout=60) as client:
            while time.time() < stop_at:
                kind = rnd.choice(list(kinds))
                path = kinds[kind](rnd)
                started = time.perf_counter()
                try:
                    response = await client.get(path)
                    await response.aread()
                    status = str(response.status_code)
                    latencies[kind].append((time.perf_counter() - started) * 1000)
                    if response.status_code >= 400:
                        errors.append(
                            {"kind": kind, "path": path, "status": status, "body": response.text[:300]}
                        )
                except httpx.HTTPError as error:
                    status = type(error).__name__
                    errors.append({"kind": kind, "path": path, "error": repr(error)})
                statuses[status] += 1
                await asyncio.sleep(pause)

    async def everyone() -> None:
        await asyncio.gather(*(reader(n) for n in range(readers)))

    asyncio.run(everyone())
    out.send(
        {
            "latencies": {k: v.tobytes() for k, v in latencies.items()},
            "statuses": dict(statuses),
            "errors": errors,
        }
    )


# --- event streams --------------------------------------------------------------------------------


def sse_main(base: str, datastreams: list[int], clients: int, after: int, control: Connection) -> None:
    """The event streams' process. Says `opened` once every client has its stream; then receives the
    ids the store holds per Datastream, waits (up to a minute) until every client has seen its
    Datastream's, and answers with what each saw, missed or saw twice."""
    received: list[array] = [array("q") for _ in range(clients)]
    opened = [asyncio.Event() for _ in range(clients)]
    connects = array("d")
    errors: list[dict[str, Any]] = []
    reconnects = Counter[int]()

    async def client(number: int) -> None:
        datastream = datastreams[number % len(datastreams)]
        last = after
        url = f"/api/live/observations?datastream={datastream}"
        async with httpx.AsyncClient(base_url=base, timeout=httpx.Timeout(60, read=None)) as http:
            while True:
                started = time.perf_counter()
                try:
                    async with http.stream("GET", url, headers={"Last-Event-ID": str(last)}) as response:
                        if response.status_code != 200:
                            errors.append({"client": number, "status": response.status_code})
                            await asyncio.sleep(2)
                            continue
                        connects.append((time.perf_counter() - started) * 1000)
                        async for line in response.aiter_lines():
                            if line.startswith("id:"):
                                ident = int(line[3:])
                                received[number].append(ident)
                                last = max(last, ident)
                            opened[number].set()
                except httpx.HTTPError as error:
                    errors.append({"client": number, "error": repr(error)})
                    await asyncio.sleep(2)
                reconnects[number] += 1  # the server ended the stream: as EventSource, from the last id

    async def everyone() -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        tasks = []
        for number in range(clients):
            tasks.append(asyncio.create_task(client(number)))
            await asyncio.sleep(0.02)  # browsers do not all open in the same millisecond
        await asyncio.wait_for(asyncio.gather(*(event.wait() for event in opened)), 120)
        control.send("opened")
        expected: dict[int, list[int]] = await loop.run_in_executor(None, control.recv)
        wanted = [set(expected.get(datastreams[n % len(datastreams)], ())) for n in range(clients)]
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and any(not wanted[n] <= set(received[n]) for n in range(clients)):
            await asyncio.sleep(0.5)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        summary = []
        for n in range(clients):
            seen = received[n].tolist()
            summary.append(
                {
                    "datastream": datastreams[n % len(datastreams)],
                    "expected": len(wanted[n]),
                    "received": len(seen),
                    "missed": len(wanted[n] - set(seen)),
                    "twice": len(seen) - len(set(seen)),
                    "unexpected": len(set(seen) - wanted[n]),
                    "reconnects": reconnects[n],
                }
            )
        return {"clients": summary, "connect_ms": connects.tobytes(), "errors": errors}

    control.send(asyncio.run(everyone()))


# --- the soak -------------------------------------------------------------------------------------


def stats(values: list[float]) -> dict[str, Any]:
    """n, p50, p95, p99 and max of latencies in ms."""
    if not values:
        return {"n": 0}
    return {
        "n": len(values),
        "p50_ms": round(percentile(values, 50), 1),
        "p95_ms": round(percentile(values, 95), 1),
        "p99_ms": round(percentile(values, 99), 1),
        "max_ms": round(max(values), 1),
    }


def _floats(raw: bytes) -> list[float]:
    values = array("d")
    values.frombytes(raw)
    return values.tolist()


def stored(engine: Engine, datastreams: list[int], after: int) -> tuple[int, int]:
    """Observations of the Datastreams beyond `after`: all, and distinct by Datastream and time."""
    query = text(
        "SELECT count(*), count(DISTINCT (datastream_id, phenomenon_time_start)) FROM observations "
        "WHERE id > :after AND datastream_id IN :datastreams"
    ).bindparams(bindparam("datastreams", expanding=True))
    with engine.connect() as connection:
        total, distinct = connection.execute(query, {"after": after, "datastreams": datastreams}).one()
    return int(total), int(distinct)


def session_events(base: str, token: str) -> dict[str, dict[str, int]]:
    """What happened to each MQTT ingest session (one per worker), from the server's `/metrics`:
    connections, takeovers, messages sent again (stored already or new), stale copies dropped, store
    retries, commits found after a lost answer."""
    try:
        answer = httpx.get(f"{base}/metrics", headers={"Authorization": f"Bearer {token}"}, timeout=60)
    except httpx.HTTPError as exc:
        print(f"the server's /metrics could not be read: {exc!r}", flush=True)
        return {}
    sessions: dict[str, dict[str, int]] = {}
    for line in answer.text.splitlines():
        found = _SESSION_EVENT.match(line)
        if found:
            labels = dict(_LABEL.findall(found.group(1)))
            sessions.setdefault(labels["session"], {})[labels["event"]] = int(float(found.group(2)))
    return dict(sorted(sessions.items()))


_SESSION_EVENT = re.compile(r"urbantwin_mqtt_session_events_total\{([^}]*)\} (\S+)")
_LABEL = re.compile(r'(\w+)="([^"]*)"')


def twice_by_session(
    engine: Engine, datastreams: list[int], after: int, limit: int = 200_000
) -> dict[str, int]:
    """The Observations stored more than once, by the MQTT session(s) whose batch marks hold their
    message (the publishers' payloads are made again from the stored values); a message the marks
    no longer hold (they keep each session's newest 50,000) counts under "(pruned)"."""
    query = text(
        "SELECT datastream_id, phenomenon_time_start, result_number FROM observations "
        "WHERE id > :after AND datastream_id IN :datastreams "
        "GROUP BY datastream_id, phenomenon_time_start, result_number HAVING count(*) > 1 LIMIT :limit"
    ).bindparams(bindparam("datastreams", expanding=True))
    with engine.connect() as connection:
        twice = connection.execute(query, {"after": after, "datastreams": datastreams, "limit": limit}).all()
        if not twice:
            return {}
        marks = connection.execute(text("SELECT client_id, digests FROM mqtt_ingest_marks")).all()
    sessions_of: dict[int, set[str]] = {}
    for client_id, packed in marks:
        for fingerprint in array("Q", bytes(packed)):
            sessions_of.setdefault(fingerprint, set()).add(client_id)
    found: Counter[str] = Counter()
    for datastream, time_, result in twice:
        stamp = time_.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
        payload = orjson.dumps({"result": result, "phenomenonTime": stamp})
        sessions = sessions_of.get(digest(f"v1.1/Datastreams({datastream})/Observations", payload))
        found[" + ".join(sorted(sessions)) if sessions else "(pruned)"] += 1
    return dict(found.most_common())


def ids_by_datastream(engine: Engine, datastreams: list[int], after: int) -> dict[int, list[int]]:
    query = text(
        "SELECT datastream_id, id FROM observations WHERE id > :after AND datastream_id IN :datastreams"
    ).bindparams(bindparam("datastreams", expanding=True))
    out: dict[int, list[int]] = {}
    with engine.connect() as connection:
        for datastream, ident in connection.execute(query, {"after": after, "datastreams": datastreams}):
            out.setdefault(int(datastream), []).append(int(ident))
    return out


class IngestSampler(threading.Thread):
    """The store's largest Observation id every second (committed Observations, in all)."""

    def __init__(self, engine: Engine) -> None:
        super().__init__(name="soak-ingest", daemon=True)
        self.engine = engine
        self.samples: list[tuple[float, int]] = []
        self.halt = threading.Event()

    def run(self) -> None:
        while not self.halt.is_set():
            self.samples.append((time.time(), max_id(self.engine)))
            self.halt.wait(1)


def scenario(base: str, token: str, plan: Plan, start_at: float, give_up_at: float) -> dict[str, Any]:
    """Submit the plan's energy run at `start_at` (wall clock) and follow it as the viewer does."""
    time.sleep(max(0.0, start_at - time.time()))
    latencies, errors = [], []
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=base, headers=headers, timeout=60) as client:
        started = time.perf_counter()
        answer = client.post("/api/energy/runs", json={"scenario": plan.scenario})
        latencies.append((time.perf_counter() - started) * 1000)
        if answer.status_code != 202:
            return {"status": None, "errors": [{"status": answer.status_code, "body": answer.text[:500]}]}
        run = answer.json()
        while run["status"] not in ("done", "failed") and time.time() < give_up_at:
            time.sleep(2)
            polled = time.perf_counter()
            try:
                response = client.get(f"/api/energy/runs/{run['id']}")
            except httpx.HTTPError as error:
                errors.append({"error": repr(error)})
                continue
            latencies.append((time.perf_counter() - polled) * 1000)
            if response.status_code != 200:
                errors.append({"status": response.status_code, "body": response.text[:300]})
                continue
            run = response.json()
    return {
        "id": run["id"],
        "status": run["status"],
        "seconds": round(time.perf_counter() - started, 1),
        "latencies": latencies,
        "errors": errors,
    }


def server_errors(log: Path | None) -> list[str]:
    """The lines of the server's log that report an error (a traceback, a log line at ERROR)."""
    if log is None or not log.exists():
        return []
    lines = log.read_text(encoding="utf-8", errors="replace").splitlines()
    return [line[:300] for line in lines if "Traceback" in line or "ERROR" in line]


def soak(
    base: str,
    token: str,
    broker_port: int,
    server_pid: int,
    engine: Engine,
    datastreams: list[int],
    plan: Plan,
    others: dict[str, int] | None = None,
    log: Path | None = None,
) -> dict[str, Any]:
    """Run the plan's load against the server and report what the checks (`problems`) judge."""
    after = max_id(engine)
    events_end, events_child = SPAWN.Pipe()
    events = SPAWN.Process(
        target=sse_main, args=(base, datastreams, plan.sse_clients, after, events_child), daemon=True
    )
    events.start()
    if not events_end.poll(180) or events_end.recv() != "opened":
        raise RuntimeError("the event streams did not open")
    start = Start()
    acknowledged = SPAWN.Value("q", 0)
    each = plan.rate / plan.publishers
    publishers = [
        SPAWN.Process(
            target=paced_publisher,
            args=(start, broker_port, datastreams, plan.window, acknowledged, i, each),
            daemon=True,
        )
        for i in range(plan.publishers)
    ]
    readers_end, readers_child = SPAWN.Pipe()
    readers = SPAWN.Process(
        target=readers_main,
        args=(base, plan.readers, plan.reader_pause, start, 1, readers_child),
        daemon=True,
    )
    for process in [*publishers, readers]:
        process.start()
    t0 = start.begin(len(publishers) + 1, plan.seconds)
    stop_at = t0 + plan.seconds
    memory = MemorySampler(server_pid, others or {}, plan.every)  # its times count from the load's start
    memory.start()
    ingest = IngestSampler(engine)
    ingest.start()
    run: dict[str, Any] = {}
    runner = None
    if plan.scenario:
        start_at = t0 + (plan.warmup if plan.scenario_at is None else plan.scenario_at)
        runner = threading.Thread(
            target=lambda: run.update(scenario(base, token, plan, start_at, stop_at + 300)), daemon=True
        )
        runner.start()
    for process in publishers:
        process.join(plan.seconds + 120)
    published = time.time()
    read = readers_end.recv() if readers_end.poll(plan.seconds + 120) else None
    readers.join(30)
    # Every acknowledged message is now at the broker or beyond: wait until the store has them all.
    behind = acknowledged.value - stored(engine, datastreams, after)[1]
    (total, distinct), _ = drain(
        lambda: stored(engine, datastreams, after),
        lambda counts: counts[1] >= acknowledged.value,
        plan.drain_timeout - (time.time() - published),
        every=0.5,
    )
    drained = time.time() - published
    sessions = session_events(base, token)
    twice = twice_by_session(engine, datastreams, after) if total > distinct else {}
    ingest.halt.set()
    events_end.send(ids_by_datastream(engine, datastreams, after))
    streams = events_end.recv() if events_end.poll(180) else None
    events.join(30)
    if runner is not None:
        runner.join(plan.seconds + 300)
    memory.halt.set()
    memory.join(plan.every + 5)

    per_second = [
        b[1] - a[1]
        for a, b in zip(ingest.samples, ingest.samples[1:], strict=False)
        if t0 + 5 <= a[0] < stop_at - 1
    ]
    errors: list[dict[str, Any]] = []
    latencies: dict[str, Any] = {}
    statuses: dict[str, int] = {}
    if read is None:
        errors.append({"workload": "readers", "error": "the readers did not report"})
    else:
        latencies.update({kind: stats(_floats(raw)) for kind, raw in read["latencies"].items()})
        statuses = read["statuses"]
        errors += [{"workload": "readers", **e} for e in read["errors"]]
    if streams is None:
        errors.append({"workload": "sse", "error": "the event streams did not report"})
    else:
        latencies["sse_connect"] = stats(_floats(streams["connect_ms"]))
        errors += [{"workload": "sse", **e} for e in streams["errors"]]
    if plan.scenario:
        latencies["energy_api"] = stats(run.get("latencies", []))
        errors += [{"workload": "energy", **e} for e in run.get("errors", [])]
        if run.get("status") != "done":
            errors.append({"workload": "energy", "error": f"the run ended {run.get('status')!r}"})
    errors += [{"workload": "server log", "line": line} for line in server_errors(log)]
    cpu = {label: round(last - first, 1) for label, (first, last) in memory.cpu.items()}
    return {
        "plan": asdict(plan),
        "errors": {"count": len(errors), "first": errors[:50]},
        "requests": {"by_status": statuses, "total": sum(statuses.values())},
        "latencies": latencies,
        "ingest": {
            "asked_per_second": plan.rate,
            "acknowledged": acknowledged.value,
            "acknowledged_per_second": round(acknowledged.value / plan.seconds),
            "stored": total,
            "stored_distinct": distinct,
            "lost": max(0, acknowledged.value - distinct),
            "twice": total - distinct,
            "behind_when_publishing_stopped": behind,
            "seconds_to_drain": round(drained, 1),
            "committed_per_second_min": min(per_second) if per_second else None,
            "committed_per_second_mean": round(statistics.fmean(per_second)) if per_second else None,
            "committed_per_second_max": max(per_second) if per_second else None,
            "per_second": per_second,
            "sessions": sessions,
            "twice_by_session": twice,
        },
        "sse": _sse_summary(streams),
        "scenario": {k: v for k, v in run.items() if k != "latencies"},
        "memory": memory_report(memory.samples, plan),
        "memory_samples": memory.samples,
        "cpu_seconds": cpu,
        "load_average": {
            "min": round(min(memory.loads), 2) if memory.loads else None,
            "max": round(max(memory.loads), 2) if memory.loads else None,
        },
    }


def _sse_summary(streams: dict[str, Any] | None) -> dict[str, Any]:
    if streams is None:
        return {"clients": 0}
    clients = streams["clients"]
    return {
        "clients": len(clients),
        "events_expected": sum(c["expected"] for c in clients),
        "events_received": sum(c["received"] for c in clients),
        "clients_that_missed": sum(1 for c in clients if c["missed"] or c["unexpected"]),
        "missed": sum(c["missed"] for c in clients),
        "twice": sum(c["twice"] for c in clients),
        "unexpected": sum(c["unexpected"] for c in clients),
        "reconnects": sum(c["reconnects"] for c in clients),
        "worst": sorted(clients, key=lambda c: -(c["missed"] + c["unexpected"]))[:5],
    }


def problems(result: dict[str, Any]) -> list[str]:
    """What fails the soak, in words (empty: it held)."""
    plan, ingest, sse = result["plan"], result["ingest"], result["sse"]
    found = []
    if result["errors"]["count"]:
        found.append(f"{result['errors']['count']} errors, the first: {result['errors']['first'][:3]}")
    if ingest["lost"] or ingest["twice"]:
        found.append(
            f"{ingest['lost']} of {ingest['acknowledged']} acknowledged Observations lost, "
            f"{ingest['twice']} stored twice"
        )
    if ingest["acknowledged"] == 0:
        found.append("nothing was published")
    if sse["clients"] != plan["sse_clients"] or sse["clients_that_missed"] or sse["twice"]:
        found.append(
            f"event streams: {sse['clients']} of {plan['sse_clients']} reported, "
            f"{sse.get('clients_that_missed')} missed changes ({sse.get('missed')} missed, "
            f"{sse.get('unexpected')} unexpected, {sse.get('twice')} twice)"
        )
    if plan["memory_tolerance"] is not None:
        for label, entry in result["memory"].items():
            if entry["judged"] and entry.get("growth_pct", 0) > plan["memory_tolerance"]:
                found.append(
                    f"memory of {label} grew {entry['growth_pct']} % after the warm-up "
                    f"({entry['after_warmup_mb']} → {entry['last_minute_mb']} MB)"
                )
    mean = ingest["committed_per_second_mean"]
    if plan["min_rate_share"] is not None and (mean or 0) < plan["min_rate_share"] * plan["rate"]:
        found.append(f"ingest committed {mean}/s on average, asked {plan['rate']:.0f}/s")
    return found


# --- the command ----------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--minutes", type=float, default=10, help="the load's duration, warm-up included")
    parser.add_argument("--warmup", type=float, default=120, help="seconds before memory is the reference")
    parser.add_argument("--rate", type=float, default=2000, help="MQTT Observations a second, in all")
    parser.add_argument("--publishers", type=int, default=2)
    parser.add_argument("--datastreams", type=int, default=100, help="the ingest's Datastreams")
    parser.add_argument("--readers", type=int, default=50)
    parser.add_argument("--reader-pause", type=float, default=0.5, help="seconds between a reader's requests")
    parser.add_argument("--sse", type=int, default=100, help="event stream clients")
    parser.add_argument("--scenario", default="pv_batteries_rule", help="the energy run ('' for none)")
    parser.add_argument("--workers", type=int, default=4, help="server processes (deploy/systemd: 4)")
    parser.add_argument("--every", type=float, default=5, help="seconds between memory samples")
    parser.add_argument("--tolerance", type=float, default=10, help="memory growth allowed after warm-up, %%")
    parser.add_argument("--pg-url", default=DEFAULT_PG_URL)
    parser.add_argument("--max-load", type=float, default=4.0, help="wait until the load average is below")
    parser.add_argument("--wait-idle", type=float, default=0, help="longest wait for a quieter machine, s")
    args = parser.parse_args()

    load = wait_quiet(args.max_load, args.wait_idle)
    plan = Plan(
        seconds=args.minutes * 60,
        warmup=args.warmup,
        rate=args.rate,
        publishers=args.publishers,
        readers=args.readers,
        reader_pause=args.reader_pause,
        sse_clients=args.sse,
        scenario=args.scenario or None,
        every=args.every,
        memory_tolerance=args.tolerance,
    )
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")
    token = secrets.token_urlsafe(16)
    print(f"soak {stamp}: {describe()}, load average {load:.2f}; loading the demo …", flush=True)
    recreate_database(args.pg_url)
    urbantwin = Path(sys.executable).parent / "urbantwin"
    demo = [str(urbantwin), "demo", "--load-only", "--database-url", args.pg_url]
    loaded = subprocess.run(
        demo, capture_output=True, text=True, env={**os.environ, "URBANTWIN_LOG_LEVEL": "warning"}
    )
    if loaded.returncode:
        raise SystemExit(f"the demo did not load:\n{loaded.stdout[-2000:]}{loaded.stderr[-3000:]}")
    folder = Path(tempfile.mkdtemp(prefix="urbantwin-soak-"))
    broker_port, port = free_port(), free_port()
    broker = start_broker(broker_port, folder)
    env = {
        "URBANTWIN_DATABASE_URL": args.pg_url,
        "URBANTWIN_ADMIN_TOKEN": token,
        "URBANTWIN_MQTT_URL": f"mqtt://127.0.0.1:{broker_port}",
        "URBANTWIN_MQTT_WRITE_TOKEN": token,
        "URBANTWIN_MQTT_CLIENT_ID": f"soak-{stamp}",
        "URBANTWIN_LOG_LEVEL": "warning",
        # Every client of the soak comes from 127.0.0.1: the limits per address would throttle them.
        "URBANTWIN_RATE_LIMIT_PER_SECOND": "0",
        "URBANTWIN_RATE_LIMIT_TOKEN_PER_SECOND": "0",
    }
    log = RESULTS / f"soak-{stamp}-server.log"
    engine = create_engine(args.pg_url)
    server = None
    load_before = os.getloadavg()
    try:
        server = start_server(port, env, args.workers, log, timeout=600)  # slow on a busy machine
        base = f"http://127.0.0.1:{port}"
        datastreams = setup(base, token, args.datastreams)
        print(f"load: {plan.seconds:.0f} s, warm-up {plan.warmup:.0f} s …", flush=True)
        result = soak(
            base, token, broker_port, server.pid, engine, datastreams, plan, {"mosquitto": broker.pid}, log
        )
    finally:
        if server is not None:
            stop(server, group=True)
        stop(broker)
        engine.dispose()
        shutil.rmtree(folder, ignore_errors=True)
    result.update(
        stamp=stamp,
        command=" ".join([".venv/bin/python", "bench/soak.py", *sys.argv[1:]]),
        cpu=cpu_model(),
        nproc=os.cpu_count(),
        workers=args.workers,
        load_average_before=[round(x, 2) for x in load_before],
        load_average_after=[round(x, 2) for x in os.getloadavg()],
        revision=subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=REPO
        ).stdout.strip(),
    )
    (RESULTS / f"soak-{stamp}.json").write_text(json.dumps(result, indent=2))
    found = problems(result)
    report(result, found)
    sys.exit(1 if found else 0)


def report(result: dict[str, Any], found: list[str]) -> None:
    """The figures as Markdown tables, with the machine and its load."""
    ingest, sse, plan = result["ingest"], result["sse"], result["plan"]
    print(
        f"\nSoak {result['stamp']} ({result['revision']}), {describe()}, {result['workers']} workers; "
        f"load average before {result['load_average_before']}, during {result['load_average']['min']}–"
        f"{result['load_average']['max']}, after {result['load_average_after']}\n"
    )
    print("| check | figure |\n|---|---|")
    print(f"| errors (non-2xx/3xx, exceptions, server log) | {result['errors']['count']} |")
    print(f"| requests answered | {result['requests']['total']:,} {result['requests']['by_status']} |")
    print(
        f"| MQTT: published and acknowledged per second | {ingest['acknowledged_per_second']:,} |\n"
        f"| MQTT: acknowledged / stored once (lost, twice) | {ingest['acknowledged']:,} / "
        f"{ingest['stored_distinct']:,} ({ingest['lost']}, {ingest['twice']}) |"
    )
    print(
        f"| MQTT: committed obs/s, min / mean / max (asked {plan['rate']:,.0f}) | "
        f"{ingest['committed_per_second_min']:,} / {ingest['committed_per_second_mean']:,} / "
        f"{ingest['committed_per_second_max']:,} |"
    )
    print(
        f"| MQTT: behind when publishing stopped, drained in | {ingest['behind_when_publishing_stopped']:,}, "
        f"{ingest['seconds_to_drain']} s |"
    )
    print(
        f"| SSE: clients that missed a change / clients | {sse.get('clients_that_missed')} / "
        f"{sse['clients']} "
        f"({sse.get('events_received', 0):,} events, {sse.get('reconnects')} reconnects) |"
    )
    run = result["scenario"]
    if run:
        print(f"| energy run `{plan['scenario']}` | {run.get('status')} in {run.get('seconds')} s |")
    print("\n| workload | n | p50 ms | p95 ms | p99 ms | max ms |\n|---|---:|---:|---:|---:|---:|")
    for kind, figures in result["latencies"].items():
        if figures["n"]:
            print(
                f"| {kind} | {figures['n']:,} | {figures['p50_ms']} | {figures['p95_ms']} | "
                f"{figures['p99_ms']} | {figures['max_ms']} |"
            )
    print(
        "\n| process | start MB | after warm-up MB | last minute MB | growth % | peak MB | CPU s | judged |\n"
        "|---|---:|---:|---:|---:|---:|---:|---|"
    )
    for label, entry in result["memory"].items():
        print(
            f"| {label} | {entry['start_mb']} | {entry.get('after_warmup_mb', '–')} | "
            f"{entry.get('last_minute_mb', '–')} | {entry.get('growth_pct', '–')} | {entry['peak_mb']} | "
            f"{result['cpu_seconds'].get(label, '–')} | {'yes' if entry['judged'] else 'reported'} |"
        )
    if found or ingest["twice"]:
        session_report(ingest)
    print("\n" + ("HELD" if not found else "FAILED:\n- " + "\n- ".join(found)))


def session_report(ingest: dict[str, Any]) -> None:
    """Per MQTT session (one per worker): what happened to it, and the Observations stored twice
    whose message its marks hold."""
    events = ["connected", "taken_over", "resent_stored", "resent_new", "stale_dropped"]
    events += ["store_retried", "commit_found"]
    if not ingest.get("sessions"):
        print("\nNo MQTT session reported (the server's /metrics were not read).")
    print("\n| MQTT session | " + " | ".join(events) + " |\n|---|" + "---:|" * len(events))
    for session, counts in ingest.get("sessions", {}).items():
        print(f"| {session} | " + " | ".join(f"{counts.get(e, 0):,}" for e in events) + " |")
    twice = ingest.get("twice_by_session") or {}
    if twice:
        print("\n| stored twice, by the session(s) whose marks hold the message | Observations |\n|---|---:|")
        for sessions, count in twice.items():
            print(f"| {sessions} | {count:,} |")


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        main()
