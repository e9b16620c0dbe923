"""The soak of bench/soak.py, shorter: 40 s of everything at once against `urbantwin serve --workers 2`
on PostgreSQL with a Mosquitto of its own — MQTT ingest with QoS 1, readers of SensorThings with
`$expand`, features and tiles, event-stream clients, an energy run submitted through the API — and
the soak's own checks: no request errs, every acknowledged Observation is stored once, every event
stream carries every change of its Datastream, the run is done, no process's memory runs away.

The rates are a tenth of the bench's and nothing is timed: the benchmark's figures (10 minutes at
2,000 Observations a second) are in bench/README.md. Only in CI (`CI=true`): it takes a minute of
both cores.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import shapely
from sqlalchemy import create_engine

from tests.conftest import ADMIN_TOKEN, IN_CI, spare_database
from tests.energy.test_api import load_small_quarter
from tests.live.helpers import free_port, kill, mosquitto, serve
from urbantwin.ingest.pipeline import CollectionInfo, Row, store_rows
from urbantwin.settings import Settings
from urbantwin.store.engine import make_engine

BENCH = Path(__file__).resolve().parents[2] / "bench"


def _script(name: str) -> ModuleType:
    """A bench script loaded from its file. The scripts import each other by name, as when they are
    run from bench/; they are registered under those names, and bench/ goes on the path only last
    (for the soak's spawned children), where its other files cannot shadow a package of the same
    name (bench/coverage.py at its front once hid the coverage package)."""
    spec = importlib.util.spec_from_file_location(name, BENCH / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


host, memory, live, soak = (_script(name) for name in ("host", "memory", "live", "soak"))
# The soak's children are spawned and import their target (`soak.sse_main`, …) by name: bench/ is on
# their path, last, after every installed package.
sys.path.append(str(BENCH))

pytestmark = [
    pytest.mark.long,
    pytest.mark.skipif(not IN_CI, reason="a minute of both cores: runs in CI (CI=true)"),
]

PLAN = soak.Plan(
    seconds=40,
    warmup=10,
    rate=200,
    publishers=1,
    readers=10,
    reader_pause=0.2,
    sse_clients=10,
    scenario="pv_batteries_rule",
    scenario_at=0,  # the small quarter's run is short: it starts with the load
    every=2,
    drain_timeout=90,
    memory_tolerance=50,  # a runaway only: 40 s cannot show a flat line, the bench's 10 minutes do
    min_rate_share=None,  # no timing: the store catches up after the publishers (drain), and is counted
)


@pytest.fixture
def store(postgres_url: str) -> Iterator[str]:
    """A migrated PostgreSQL store with a few places and the small energy quarter."""
    with spare_database(postgres_url) as url:
        engine = make_engine(Settings(database_url=url))
        rows = []
        for number, (lon, lat) in enumerate([(12.3747, 51.3397), (12.33, 51.33), (12.40, 51.35)]):
            point = shapely.Point(lon, lat)
            properties = {"name": f"place {number}"}
            rows.append(Row(f"p{number}", properties, shapely.to_wkb(point), point.bounds, None, None, None))
        store_rows(engine, rows, CollectionInfo("places", "Places"), "OGC:CRS84", progress=False)
        load_small_quarter(engine)
        engine.dispose()
        yield url


def test_everything_at_once_loses_nothing_and_errs_nowhere(store: str, tmp_path: Path) -> None:
    broker_port, port = free_port(), free_port()
    log = tmp_path / "server.log"
    environment = {
        "URBANTWIN_DATABASE_URL": store,
        "URBANTWIN_ADMIN_TOKEN": ADMIN_TOKEN,
        "URBANTWIN_MQTT_URL": f"mqtt://127.0.0.1:{broker_port}",
        "URBANTWIN_MQTT_WRITE_TOKEN": ADMIN_TOKEN,
        "URBANTWIN_MQTT_CLIENT_ID": f"soak-{port}",
        "URBANTWIN_RATE_LIMIT_PER_SECOND": "0",
        "URBANTWIN_RATE_LIMIT_TOKEN_PER_SECOND": "0",
        "URBANTWIN_LOG_LEVEL": "warning",
    }
    engine = create_engine(store)
    with mosquitto(broker_port, tmp_path) as broker:
        server = serve(port, environment, log, workers=2, timeout=180)  # a busy CI machine starts slowly
        try:
            base = f"http://127.0.0.1:{port}"
            datastreams = live.setup(base, ADMIN_TOKEN, 10)
            others = {"mosquitto": broker.pid}
            result: dict[str, Any] = soak.soak(
                base, ADMIN_TOKEN, broker_port, server.pid, engine, datastreams, PLAN, others, log
            )
        finally:
            kill(server)
            engine.dispose()
    assert soak.problems(result) == []
    ingest, streams = result["ingest"], result["sse"]
    assert ingest["acknowledged"] > PLAN.rate * PLAN.seconds / 2  # the publisher did publish
    assert ingest["stored_distinct"] == ingest["acknowledged"]
    assert streams["clients"] == PLAN.sse_clients
    assert streams["events_received"] >= ingest["acknowledged"]  # each Datastream followed at least once
    assert result["scenario"]["status"] == "done"
    assert all(result["latencies"][kind]["n"] > 0 for kind in ("sta_expand", "features", "tiles"))
    workers = [label for label in result["memory"] if label.startswith("worker")]
    assert len(workers) == 2, result["memory"]
