"""The fuzz suite's fixtures: one real server per backend on a small store, and a checking client.

The store holds a little of everything the APIs serve: two weather stations in SensorThings (a Thing
with a Location, a Datastream, Observations) and the small city collection of OGC API Features. The
server, its store and its liveness probe live for the whole session; every test gets a `Fuzzer` whose
problems fail the test at its end and whose tally goes into the summary line of its backend.

`URBANTWIN_FUZZ_EXAMPLES` sets how many examples each property test draws (default: a CI budget of
about two minutes for the whole folder on two cores); set it to a few hundred for a deeper local run.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from hypothesis import HealthCheck, Phase, settings
from sqlalchemy import Engine, create_engine, text

from tests.conftest import ADMIN_TOKEN, _settings
from tests.energy.test_api import load_small_quarter
from tests.fuzz.server import Fuzzer, Probe, ServerProcess
from tests.fuzz.tally import KEY
from tests.ogcapi.conftest import INFO, city_geojson, write
from tests.sensorthings.conftest import station
from urbantwin.access.principal import SYSTEM
from urbantwin.app import create_app
from urbantwin.ingest.geojson import import_geojson
from urbantwin.store.engine import make_engine, upgrade

#: Examples per property test; each example is one to three requests.
EXAMPLES = int(os.environ.get("URBANTWIN_FUZZ_EXAMPLES", "10"))

#: The Hypothesis settings of every fuzz test. Derandomized (the same examples every run, so a failure
#: in CI reproduces locally), without the example database, and without shrinking: a failing input is
#: recorded by the Fuzzer, not raised, so every example runs and the test lists every input that broke
#: the server.
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)


@dataclass
class Served:
    backend: str
    server: ServerProcess
    probe: Probe


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def served(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, viewer_dir: Path
) -> Iterator[Served]:
    """The platform served by uvicorn in its own process on a small store of the backend."""
    backend: str = request.param
    folder = tmp_path_factory.mktemp(f"fuzz_{backend}")
    admin = None
    name = ""
    if backend == "postgresql":
        session_url: str = request.getfixturevalue("postgres_url")  # skips or fails without PostgreSQL
        name = f"{session_url.rsplit('/', 1)[1]}_f{uuid.uuid4().hex[:6]}"
        admin = create_engine(session_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        url = session_url.rsplit("/", 1)[0] + "/" + name
    else:
        url = f"sqlite:///{folder / 'store.sqlite'}"
    engine = make_engine(_settings(url, viewer_dir))
    upgrade(engine)
    import_geojson(engine, write(folder / "city.geojson", city_geojson()), INFO, progress=False)
    if backend == "sqlite":
        finish_an_energy_run(url, engine, viewer_dir)
    engine.dispose()
    server = ServerProcess(url, folder / "server.log")
    probe = Probe(server)
    try:
        server.start()
        seed(server.base_url)
        probe.start()
        yield Served(backend, server, probe)
    finally:
        probe.stop()
        server.stop()
        if admin is not None:
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()


def finish_an_energy_run(url: str, engine: Engine, viewer_dir: Path) -> None:
    """A finished run of a bundled scenario over a small quarter, so that the energy monitoring gets past
    "no run to compare with" to its arithmetic over the period (`days`, `end`).

    On SQLite only: a run takes seconds of the CI budget, and the monitoring's arithmetic is the same
    on both backends.
    """
    load_small_quarter(engine)
    runs = create_app(_settings(url, viewer_dir), engine).state.energy.runs
    runs.submit(SYSTEM, {"scenario": "pv_batteries_rule"}, start=False)
    runs.execute(runs.claim())


def seed(base_url: str) -> None:
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    for args in (("Mitte", 12.3731, 51.3397, "city", 30), ("West", 12.3147, 51.3351, "university", 12)):
        response = httpx.post(f"{base_url}/v1.1/Things", json=station(*args), headers=headers, timeout=30)
        assert response.status_code == 201, response.text


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    """A test with a Fuzzer fails after all its examples ran, listing every problem the Fuzzer saw."""
    result = yield
    fuzzer = getattr(item, "funcargs", {}).get("fuzz")
    if isinstance(fuzzer, Fuzzer):
        fuzzer.verdict()
    return result


@pytest.fixture
def fuzz(served: Served, request: pytest.FixtureRequest) -> Iterator[Fuzzer]:
    """A checking client of the backend's server; its problems fail the test once all examples ran."""
    fuzzer = Fuzzer(served.backend, served.server, served.probe)
    yield fuzzer
    tally = fuzzer.tally
    request.node.user_properties.append(
        (
            KEY,
            (
                served.backend,
                tally.inputs,
                tally.server_errors,
                tally.slowest,
                tally.slowest_request,
                served.probe.slowest,
            ),
        )  # fmt: skip
    )
