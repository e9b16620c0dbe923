"""Fixtures shared by the whole suite: a store on each backend, an app on it, a live server.

Every backend test runs twice, on SQLite and on a real PostgreSQL with PostGIS on 127.0.0.1. Without
PostgreSQL the PostgreSQL runs skip with a notice saying how to start it, except in CI (`CI=true`),
where a missing backend is a failure. The same holds for the other services of the machine the suite
uses (Mosquitto, Chromium, GDAL's tools): `backend_missing` skips or fails, and the end of the run
prints one line per missing service with how to get it, also under `pytest -q`.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import pytest
import uvicorn
from fastapi.testclient import TestClient
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.exc import OperationalError
from typer.testing import CliRunner

from tests.replication import Replicated, replicated
from tests.replication import missing as replication_missing
from urbantwin.app import create_app
from urbantwin.city_profile import parse_profile
from urbantwin.cli import app as cli_app
from urbantwin.cli import load_demo
from urbantwin.ingest.pipeline import ImportReport
from urbantwin.ingest.sta_client import LocalClient
from urbantwin.settings import Settings
from urbantwin.store.city import write_profile
from urbantwin.store.engine import for_writes, make_engine, upgrade
from urbantwin.store.schema import metadata

#: The fuzz suite's summary line per backend (a plugin, so the controller of `pytest -n` prints it too).
pytest_plugins = ["tests.fuzz.tally"]

ADMIN_TOKEN = "test-admin-token"
PG_ADMIN_URL = os.environ.get("URBANTWIN_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
IN_CI = os.environ.get("CI", "").lower() == "true"
PG_HELP = (
    "PostgreSQL with PostGIS is not reachable at 127.0.0.1:5432 (user postgres). Start it with "
    "`pg_ctlcluster 15 main start` after `apt-get install postgresql-15-postgis-3`, or set "
    "URBANTWIN_TEST_PG to another server's admin URL."
)


#: Starts the reason of every skip for a missing service, so the summary can find them (also in the
#: reports xdist workers send, which carry the reason's text only).
BACKEND_SKIP = "backend not available: "


def backend_missing(problem: str) -> NoReturn:
    """Skip the test because a service it needs is missing (`problem` says how to get it); in CI fail."""
    if IN_CI:
        pytest.fail(problem)
    pytest.skip(BACKEND_SKIP + problem)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """One line per missing service with the number of tests it skipped, even under `-q` (whose
    summary shows skips as a bare count)."""
    reasons: Counter[str] = Counter()
    for report in terminalreporter.stats.get("skipped", []):
        if isinstance(report.longrepr, tuple):
            reason = report.longrepr[2].removeprefix("Skipped: ")
            if reason.startswith(BACKEND_SKIP):
                reasons[reason.removeprefix(BACKEND_SKIP)] += 1
    for reason, tests in sorted(reasons.items()):
        terminalreporter.write_line(f"{tests} tests skipped, {reason}", yellow=True)


@pytest.hookimpl(trylast=True)  # after pytest has ordered the tests and xdist named their groups
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The tests of an xdist group on one worker, and the tests marked `long` first.

    pytest-xdist 3.8 names a test's group by writing `item._nodeid`, which pytest 9 no longer reads
    (a node's id is `item._id` now): `--dist loadgroup` silently handed out every test on its own,
    so the stores and servers a group shares were built on both workers. The name xdist wrote is
    made the test's id here, as xdist meant it (`…[sqlite]@fuzz`).

    `--dist loadgroup` hands out the groups first (the largest first) and then the tests in this
    order: a long test collected last (the browser's, in tests/web) kept one worker busy for a
    minute after the other had run out of work.
    """
    for item in items:
        grouped = item.__dict__.get("_nodeid")
        if isinstance(grouped, str) and grouped != item.nodeid and hasattr(item, "_id"):
            item._id = type(item._id).parse(grouped)
    items.sort(key=lambda item: item.get_closest_marker("long") is None)


def _postgres_available() -> str | None:
    try:
        engine = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with engine.connect() as connection:
            has_postgis = connection.execute(
                text("SELECT 1 FROM pg_available_extensions WHERE name = 'postgis'")
            ).first()
        engine.dispose()
    except Exception as exc:  # noqa: BLE001 - any failure to connect means "not available"
        return f"{PG_HELP} ({type(exc).__name__})"
    if has_postgis is None:
        return "PostgreSQL runs but PostGIS is not installed: apt-get install postgresql-15-postgis-3"
    return None


def create_test_database(connection: Connection, name: str) -> None:
    """A database for tests. Its commits do not wait for the disk (`synchronous_commit = off`): a
    crash may lose the last commits of a throw-away database, which does not matter."""
    connection.execute(text(f'CREATE DATABASE "{name}"'))
    connection.execute(text(f'ALTER DATABASE "{name}" SET synchronous_commit = off'))


@contextmanager
def statements(engine: Engine, thread: str | None = None) -> Iterator[list[str]]:
    """The SQL statements run on `engine` within the block (SQLite's BEGIN aside): what a request
    costs in round trips, without timing anything. `thread`: only those of the thread of that name
    (not the audit log's flush or the live updates' notifications that may fall into the block)."""
    seen: list[str] = []

    def note(_conn, _cursor, statement, *_args) -> None:  # noqa: ANN001
        if thread is not None and threading.current_thread().name != thread:
            return
        if not statement.startswith("BEGIN"):
            seen.append(statement)

    event.listen(engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", note)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    problem = _postgres_available()
    if problem:
        backend_missing(problem)
    name = f"urbantwin_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        create_test_database(connection, name)
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    spare: list[str] = []
    _spare_databases[url] = spare
    kept: list[str] = []
    _kept_databases[url] = kept
    yield url
    with admin.connect() as connection:
        for database in [name, *spare, *kept]:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
    admin.dispose()


#: Per session database, further databases of this test process that are done with (see
#: `spare_database`). Dropping a database makes PostgreSQL write a checkpoint of the whole server,
#: which took 10 to 20 s on a busy machine, so each is emptied and used again and dropped at the end.
_spare_databases: dict[str, list[str]] = {}
#: Per session database, the databases of this test process kept for the whole session (a store
#: built once and shared, see `demo_layers`), dropped with it at the end.
_kept_databases: dict[str, list[str]] = {}


@contextmanager
def spare_database(session_url: str) -> Iterator[str]:
    """The URL of a migrated, empty PostgreSQL database beside the session's, until the block ends."""
    spare = _spare_databases[session_url]
    reused = spare.pop() if spare else None
    name = f"{session_url.rsplit('/', 1)[1]}_m{uuid.uuid4().hex[:6]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        if reused is None:
            create_test_database(connection, name)
        else:
            # A new name for the database used before: whatever of the earlier test still holds its
            # URL (an audit log's timer, a service never shut down) finds no database, rather than
            # writing into this test's store.
            for attempt in range(10):  # a stale pool may connect again between the two statements
                connection.execute(
                    text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :name"),
                    {"name": reused},
                )
                try:
                    connection.execute(text(f'ALTER DATABASE "{reused}" RENAME TO "{name}"'))
                    break
                except OperationalError:
                    if attempt == 9:
                        raise
                    time.sleep(0.1)
    admin.dispose()
    url = session_url.rsplit("/", 1)[0] + "/" + name
    engine = make_engine(Settings(database_url=url))
    try:
        upgrade(engine)
        _empty(engine)
    finally:
        engine.dispose()
    try:
        yield url
    finally:
        spare.append(name)


@pytest.fixture(scope="session")
def _engines(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Engine]:
    return {}


#: The page of the tiny viewer build the tests' apps serve at `/` (see `viewer_dir`).
VIEWER_PAGE = "<!doctype html><title>urbantwin test viewer</title><script src=assets/viewer-1a2b.js></script>"


@pytest.fixture(scope="session")
def viewer_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny stand-in for the viewer's build, so the apps of the tests answer `/` (and warm their
    first view) the same whether or not `make viewer` has built the real one into the package."""
    folder = tmp_path_factory.mktemp("viewer")
    (folder / "assets").mkdir()
    (folder / "index.html").write_text(VIEWER_PAGE, encoding="utf-8")
    (folder / "assets" / "viewer-1a2b.js").write_text("console.log('test viewer');", encoding="utf-8")
    return folder


def _settings(url: str, viewer: Path) -> Settings:
    # Rate limits off: a test makes hundreds of requests a second from one client (tests/test_ratelimit.py
    # turns them on where it tests them).
    return Settings(
        database_url=url,
        admin_token=ADMIN_TOKEN,
        max_top=1000,
        default_top=100,
        rate_limit_per_second=0,
        rate_limit_token_per_second=0,
        viewer_dir=str(viewer),
        # No app of the tests follows partners live on its own (a thread looking at the store every
        # few seconds); tests/federation/test_follow.py starts the followers it tests.
        federation_follow=False,
    )


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def settings(
    backend: str,
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    _engines: dict[str, Engine],
    viewer_dir: Path,
) -> Settings:
    if backend == "postgresql":
        url = request.getfixturevalue("postgres_url")
    else:
        url = f"sqlite:///{tmp_path_factory.getbasetemp() / 'store.sqlite'}"
    return _settings(url, viewer_dir)


@pytest.fixture
def engine(settings: Settings, backend: str, _engines: dict[str, Engine]) -> Iterator[Engine]:
    """A migrated, empty store on the backend (created once per session, emptied per test)."""
    engine = _engines.get(backend)
    if engine is None:
        engine = make_engine(settings)
        upgrade(engine)
        _engines[backend] = engine
    _empty(engine)
    yield engine


#: The identity and serial sequences of the store's tables that have handed out a number.
_USED_SEQUENCES = text(
    """SELECT DISTINCT t.relname, s.relname FROM pg_depend d
    JOIN pg_class s ON s.oid = d.objid AND s.relkind = 'S'
    JOIN pg_class t ON t.oid = d.refobjid
    JOIN pg_sequences q ON q.schemaname = current_schema() AND q.sequencename = s.relname
    WHERE d.deptype IN ('a', 'i') AND q.last_value IS NOT NULL"""
)


def _empty(engine: Engine) -> None:
    tables = [t.name for t in reversed(metadata.sorted_tables)]
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            # TRUNCATE makes new files for each table and index it reaches, and every app start
            # writes the default organisation and dataset, which most tables refer to: emptying
            # took about a second before every test on a busy machine. The few rows a test leaves
            # are deleted instead (children first) and the used id sequences restarted, which
            # leaves the store as fresh as TRUNCATE … RESTART IDENTITY did. Triggers fire on DELETE
            # (deleted Observations are counted down in observation_counts), so until none is left.
            probes = [f"SELECT '{table}' WHERE EXISTS (SELECT 1 FROM {table})" for table in tables]
            with_rows = text(" UNION ALL ".join(probes))
            while found := set(connection.execute(with_rows).scalars()):
                for table in (t for t in tables if t in found):
                    connection.execute(text(f"DELETE FROM {table}"))
            for table, sequence in connection.execute(_USED_SEQUENCES).all():
                if table in tables:
                    connection.execute(text(f'ALTER SEQUENCE "{sequence}" RESTART'))
        else:
            for table in tables:
                connection.execute(text(f"DELETE FROM {table}"))
            connection.execute(text("DELETE FROM sqlite_sequence")) if _has_sequence(connection) else None


def _has_sequence(connection) -> bool:  # noqa: ANN001
    return (
        connection.execute(text("SELECT 1 FROM sqlite_master WHERE name='sqlite_sequence'")).first()
        is not None
    )


#: The city of the tests that need a city's own CRS: it works in EPSG:25833, as its profile says.
TEST_CITY = parse_profile({"name": "Teststadt", "crs": ["EPSG:25833"], "time_zone": "Europe/Berlin"})


def serve_test_city(request: pytest.FixtureRequest) -> None:
    """For a test with a store: store the test city's profile before its app is built (the app
    reads the profile at start). A test without a store is left alone (and not made one per backend)."""
    if "engine" in request.fixturenames:
        engine = request.getfixturevalue("engine")
        with for_writes(engine).begin() as connection:
            write_profile(connection, TEST_CITY)


@contextmanager
def serving(
    command: list[str], folder: Path, ready_url: str, seconds: float, env: dict[str, str] | None = None
) -> Iterator[None]:
    """Run a server command (`urbantwin serve`, `urbantwin demo`) with its output in `folder/server.log`
    until `ready_url` answers, and stop it after the block. Fails the test, with the end of the log,
    when the command ends first or does not answer within `seconds`."""
    import subprocess
    import urllib.request

    log_path = folder / "server.log"
    name = " ".join(command[1:3])  # `urbantwin serve`, `-m urbantwin.cli`: enough to tell which
    with log_path.open("w") as log:
        server = subprocess.Popen(command, env=env, cwd=folder, stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + seconds
            while True:
                if server.poll() is not None:
                    pytest.fail(f"{name} ended: {log_path.read_text(errors='replace')[-3000:]}")
                try:
                    with urllib.request.urlopen(ready_url, timeout=2):
                        break
                except OSError:
                    if time.monotonic() > deadline:
                        pytest.fail(f"{name} did not answer within {seconds:.0f} s")
                    time.sleep(0.3)
            yield
        finally:
            server.terminate()
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()


@pytest.fixture
def app(settings: Settings, engine: Engine):  # noqa: ANN201
    return create_app(settings, engine)


@pytest.fixture
def client(app) -> Iterator[TestClient]:  # noqa: ANN001
    """An HTTP client of the app that writes as the administrator."""
    with TestClient(app, base_url="http://testserver") as test_client:
        test_client.headers["Authorization"] = f"Bearer {ADMIN_TOKEN}"
        yield test_client


@pytest.fixture
def anonymous(app) -> Iterator[TestClient]:  # noqa: ANN001
    with TestClient(app, base_url="http://testserver") as test_client:
        yield test_client


# --- the Leipzig demo, loaded once per test process -----------------------------------------------
# Loading the whole demo takes a while; the tests that read what the command made share one load per
# test process (the `demo` xdist group keeps them on one worker under `--dist loadgroup`).


@dataclass(frozen=True)
class DemoStore:
    """What `urbantwin demo --load-only` made: its folder (with the SQLite store) and its output."""

    folder: Path
    output: str

    @property
    def url(self) -> str:
        return f"sqlite:///{self.folder / 'leipzig-demo.sqlite'}"

    def copy(self, folder: Path) -> str:
        """A copy of the store in `folder` for a test that writes (or starts an app on it); its URL."""
        shutil.copyfile(self.folder / "leipzig-demo.sqlite", folder / "leipzig-demo.sqlite")
        return f"sqlite:///{folder / 'leipzig-demo.sqlite'}"


@pytest.fixture(scope="session")
def demo_store(tmp_path_factory: pytest.TempPathFactory) -> DemoStore:
    """The whole demo (SensorThings data, city model, catalogue) as the command loads it. Read only:
    tests that write, or start an app on it (which writes defaults), use `DemoStore.copy`."""
    folder = tmp_path_factory.mktemp("demo")
    result = CliRunner().invoke(cli_app, ["demo", "--data-dir", str(folder), "--load-only"])
    assert result.exit_code == 0, result.output
    # The command's engine still holds the store open in WAL mode: fold the log into the file, so a
    # copy of the file alone is the whole store.
    store = DemoStore(folder, result.output)
    engine = make_engine(Settings(database_url=store.url))
    with engine.connect() as connection:
        connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return store


def _session_store(
    name: str,
    backend: str,
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    viewer_dir: Path,
) -> tuple[Settings, Engine]:
    """A migrated store of the test city on `backend` of its own, kept until the session ends (for a
    store built once and shared by the tests that read it)."""
    if backend == "postgresql":
        session_url = request.getfixturevalue("postgres_url")
        database = f"{session_url.rsplit('/', 1)[1]}_{name}"
        admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            create_test_database(connection, database)
        admin.dispose()
        _kept_databases[session_url].append(database)
        url = session_url.rsplit("/", 1)[0] + "/" + database
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp(name) / f'{name}.sqlite'}"
    settings = _settings(url, viewer_dir)
    engine = make_engine(settings)
    upgrade(engine)
    with for_writes(engine).begin() as connection:  # the test city, as `serve_test_city` writes it
        write_profile(connection, TEST_CITY)
    return settings, engine


# --- the demo's feature layers, loaded once per backend and test process ----------------------------
# Loading every layer of the city model (some 17,000 features) took 20 to 40 s per backend, and five
# tests did it each, three of them only to read what it made. The tests that read them share one
# store per backend (the `demo-layers` xdist group keeps them on one worker); the two loads and what
# they reported are kept for the tests of the importer.


@dataclass(frozen=True)
class DemoLayers:
    """A store holding the demo's feature layers. Read only: no test writes into it."""

    engine: Engine
    settings: Settings
    #: What the load into the store, empty but for the app's defaults, reported per collection.
    first: list[ImportReport]
    #: What loading the same layers again reported (it must change nothing).
    again: list[ImportReport]

    @contextmanager
    def anonymous(self) -> Iterator[TestClient]:
        """An anonymous HTTP client of an app on the store."""
        with TestClient(create_app(self.settings, self.engine), base_url="http://testserver") as client:
            yield client


_demo_layers: dict[str, DemoLayers] = {}


@pytest.fixture
def demo_layers(
    backend: str,
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    viewer_dir: Path,
) -> DemoLayers:
    """The demo's feature layers on `backend`, loaded (twice) by the first test of the process that asks."""
    from urbantwin.demo.features import load_feature_layers

    layers = _demo_layers.get(backend)
    if layers is None:
        settings, engine = _session_store("layers", backend, request, tmp_path_factory, viewer_dir)
        with TestClient(create_app(settings, engine)):
            pass  # the app's defaults, written at its start, as under the tests' `anonymous` client
        first = load_feature_layers(engine, progress=False)
        again = load_feature_layers(engine, progress=False)
        layers = _demo_layers[backend] = DemoLayers(engine, settings, first, again)
    return layers


# --- the demo's SensorThings data, loaded once per backend and test process --------------------------
# The station importers' tests (LfULG, CAMS) import the real files into the demo's store and must
# find everything there already; each loaded the demo (17 s on SQLite on a busy machine) per backend.


@dataclass(frozen=True)
class DemoSensors:
    """A store holding the demo's SensorThings data (`load_demo`). Its tests only read it, or write
    nothing when they pass: what an import found there already it does not write again."""

    engine: Engine
    settings: Settings

    @contextmanager
    def client(self) -> Iterator[LocalClient]:
        """The local SensorThings client on the store, as the importers use it."""
        client = LocalClient(self.engine, self.settings)
        try:
            yield client
        finally:
            client.close()


_demo_sensors: dict[str, DemoSensors] = {}


@pytest.fixture
def demo_sensors(
    backend: str,
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    viewer_dir: Path,
) -> DemoSensors:
    """The demo's SensorThings data on `backend`, loaded by the first test of the process that asks."""
    sensors = _demo_sensors.get(backend)
    if sensors is None:
        settings, engine = _session_store("sensors", backend, request, tmp_path_factory, viewer_dir)
        load_demo(engine, settings)
        sensors = _demo_sensors[backend] = DemoSensors(engine, settings)
    return sensors


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def live_server(app) -> Iterator[str]:  # noqa: ANN001
    """The app served by uvicorn on a free port of 127.0.0.1, for clients that speak real HTTP."""
    port = _free_port()
    # An event stream whose client left notices it at its next heartbeat; the server waits for its
    # open connections before it stops, so a test that leaves streams would wait that long.
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", timeout_graceful_shutdown=1
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


DATA = Path(__file__).parent


@pytest.fixture(scope="session")
def replicated_postgres() -> Iterator[Replicated]:
    """A migrated PostgreSQL primary of the tests' own and its streaming replica (tests/replication.py)."""
    problem = replication_missing()
    if problem:
        backend_missing(problem)
    with replicated() as pair:
        yield pair
