"""What the metrics of one server process are made of, beyond the counts made where things happen
(`urbantwin.metrics`): the depths of its queues, its database pool, its broker connection — sampled
when `/metrics` is read and every few seconds in between, so that in multiprocess mode every
process's figures are fresh whichever process answers — and the scenario runs by state, read from
the store (the same for every process) by the answering one.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest, multiprocess
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import REGISTRY, Collector
from sqlalchemy import Engine, func, select
from sqlalchemy.exc import SQLAlchemyError

from urbantwin.metrics import BROKER_CONNECTED, DB_POOL, QUEUE_DEPTH, REPLICA_LAG, REPLICA_READABLE
from urbantwin.periodic import Periodic
from urbantwin.store.energy_schema import energy_runs
from urbantwin.store.transit_schema import transit_runs

log = logging.getLogger("urbantwin.operations")

#: Seconds between two samples of a process's gauges.
SAMPLE_SECONDS = 5.0


def sample(state: Any) -> None:
    """Set this process's gauges from the app's objects (`app.state`)."""
    service = getattr(state, "sensorthings", None)
    if service is not None:
        QUEUE_DEPTH.labels(queue="observation_posts").set(service.observation_posts.depth)
    live = getattr(state, "live", None)
    if live is not None:
        QUEUE_DEPTH.labels(queue="live_hub").set(live.hub.depth)
        outbox = getattr(live.bus, "depth", None)  # PostgreSQL's NOTIFY outbox; none in process
        if outbox is not None:
            QUEUE_DEPTH.labels(queue="live_outbox").set(outbox)
        if live.mqtt is not None:
            QUEUE_DEPTH.labels(queue="mqtt_ingest").set(live.mqtt.inbox_depth)
            BROKER_CONNECTED.set(1 if live.mqtt.connected.is_set() else 0)
    engine: Engine | None = getattr(state, "engine", None)
    pool = engine.pool if engine is not None else None
    if pool is not None and hasattr(pool, "checkedout"):
        DB_POOL.labels(state="size").set(pool.size())  # type: ignore[attr-defined]
        DB_POOL.labels(state="checked_out").set(pool.checkedout())
        DB_POOL.labels(state="overflow").set(max(pool.overflow(), 0))  # type: ignore[attr-defined]
    replicas = getattr(state, "replicas", None)
    if replicas is not None:
        for replica in replicas.report():
            REPLICA_READABLE.labels(replica=replica["name"]).set(1 if replica["readable"] else 0)
            if replica["lag_seconds"] is not None:
                REPLICA_LAG.labels(replica=replica["name"]).set(replica["lag_seconds"])


#: The states of a scenario run, each reported (with 0 when none is in it).
RUN_STATES = ("queued", "running", "done", "failed")


class ScenarioRuns(Collector):
    """`urbantwin_scenario_runs{kind, state}`: the energy and transit scenario runs in the store, by
    state (`queued`, `running`, `done`, `failed`), read when the metrics are."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "urbantwin_scenario_runs",
            "Scenario runs in the store, by kind and state.",
            labels=("kind", "state"),
        )
        try:
            with self.engine.connect() as connection:
                for kind, table in (("energy", energy_runs), ("transit", transit_runs)):
                    counts = dict.fromkeys(RUN_STATES, 0)
                    rows = connection.execute(select(table.c.status, func.count()).group_by(table.c.status))
                    counts.update({status: count for status, count in rows})
                    for status, count in counts.items():
                        family.add_metric((kind, status), count)
        except SQLAlchemyError as exc:
            # The process's own figures are still worth scraping while the store is away (/ready
            # says so); the runs are left out until it is back.
            log.warning("metrics: the scenario runs cannot be read: %s", type(exc).__name__)
            return
        yield family


def multiprocess_dir() -> str | None:
    """The folder of multiprocess mode (`PROMETHEUS_MULTIPROC_DIR`), if the server runs in it."""
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


def exposition(state: Any) -> bytes:
    """The metrics in Prometheus's text format: every process's in multiprocess mode (the folder
    the processes write), else this process's (the client's default registry), and the runs."""
    sample(state)
    if multiprocess_dir():
        registry = CollectorRegistry(auto_describe=False)
        multiprocess.MultiProcessCollector(registry)
        figures = generate_latest(registry)
    else:
        figures = generate_latest(REGISTRY)
    runs = CollectorRegistry(auto_describe=False)
    runs.register(ScenarioRuns(state.engine))
    return figures + generate_latest(runs)


class Sampler:
    """Samples the gauges of one process every `SAMPLE_SECONDS` while the server runs."""

    def __init__(self, state: Any) -> None:
        self.state = state
        self._loop = Periodic("urbantwin-metrics", SAMPLE_SECONDS, lambda: sample(state))

    def start(self) -> None:
        self._loop.start()

    def stop(self) -> None:
        self._loop.stop(timeout=SAMPLE_SECONDS)
        if multiprocess_dir():
            # The live gauges of a stopped process no longer count (the counters stay).
            multiprocess.mark_process_dead(os.getpid())
