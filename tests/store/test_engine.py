"""The store migrates on both backends and keeps times and geometries exactly."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import shapely
from sqlalchemy import Engine, insert, inspect, select, text

from urbantwin.store import schema
from urbantwin.store.engine import for_reads, upgrade
from urbantwin.store.spatial import bbox_overlaps, spatial_call
from urbantwin.store.types import geom_from_wkb


def test_migration_creates_every_table_and_is_idempotent(engine: Engine) -> None:
    upgrade(engine)  # a second time changes nothing
    tables = set(inspect(engine).get_table_names())
    assert {t.name for t in schema.metadata.sorted_tables} <= tables
    assert "alembic_version" in tables


def test_times_keep_microseconds_in_utc(engine: Engine) -> None:
    moment = datetime(2024, 2, 29, 23, 59, 59, 123456, tzinfo=UTC)
    with engine.begin() as connection:
        thing = connection.execute(
            insert(schema.things).values(name="t", description="d").returning(schema.things.c.id)
        ).scalar_one()
        connection.execute(insert(schema.historical_locations).values(time=moment, thing_id=thing))
        stored = connection.execute(select(schema.historical_locations.c.time)).scalar_one()
    assert stored == moment and stored.tzinfo is not None


def test_spatial_predicates_and_the_bbox_prefilter_agree_on_both_backends(engine: Engine) -> None:
    square = shapely.box(12.3, 51.3, 12.4, 51.4)
    points = {"inside": (12.35, 51.35), "outside": (13.0, 52.0), "edge": (12.4, 51.35)}
    locations = schema.locations
    with engine.begin() as connection:
        for name, (x, y) in points.items():
            point = shapely.Point(x, y)
            connection.execute(
                insert(locations).values(
                    name=name,
                    description="",
                    encoding_type="application/geo+json",
                    location={"type": "Point", "coordinates": [x, y]},
                    geom=shapely.to_wkb(point),
                )
            )
        wkb = geom_from_wkb(shapely.to_wkb(square))
        intersecting = (
            connection.execute(
                select(locations.c.name)
                .where(bbox_overlaps("locations", locations.c.id, locations.c.geom, square.bounds))
                .where(spatial_call("st_intersects", locations.c.geom, wkb))
                .order_by(locations.c.name)
            )
            .scalars()
            .all()
        )
        within = (
            connection.execute(
                select(locations.c.name).where(spatial_call("st_within", locations.c.geom, wkb))
            )
            .scalars()
            .all()
        )
        stored = connection.execute(select(locations.c.geom).where(locations.c.name == "inside")).scalar_one()
    assert intersecting == ["edge", "inside"]
    assert within == ["inside"]
    assert shapely.from_wkb(stored).equals(shapely.Point(12.35, 51.35))


def test_a_runaway_statement_is_stopped_by_the_query_timeout(settings, engine: Engine) -> None:
    from sqlalchemy import text
    from sqlalchemy.exc import OperationalError

    from urbantwin.store.engine import is_query_timeout, make_engine

    quick = make_engine(settings.with_overrides(query_timeout_seconds=1))
    endless = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) SELECT count(*) FROM n"
    with quick.connect() as connection:
        try:
            connection.execute(text(endless))
        except OperationalError as error:
            assert is_query_timeout(error)
        else:
            raise AssertionError("the endless statement was not stopped")
    quick.dispose()


def test_postgresql_keeps_observation_statistics_current(engine: Engine) -> None:
    from sqlalchemy import text

    if engine.dialect.name != "postgresql":
        return  # SQLite plans without table statistics
    with engine.connect() as connection:
        options = connection.execute(
            text("SELECT reloptions FROM pg_class WHERE relname = 'observations'")
        ).scalar_one()
    assert "autovacuum_analyze_scale_factor=0.02" in options


# --- the time bound of one request, against a real server --------------------------------------------

#: A quadratic $filter: each Observation is compared with every Observation of its Datastream (and
#: none matches, so the scan never stops early). With 20,000 Observations it runs for minutes.
EXPENSIVE = {"$filter": "Datastream/Observations/result gt result add 1000000000", "$top": "1"}
_INSERT = (
    "INSERT INTO observations (phenomenon_time_start, result_type, result_number, datastream_id, "
    "feature_of_interest_id) "
)
#: 20,000 Observations written by the database itself (one statement, not 20,000).
_NUMBERS = {
    "sqlite": "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < :count) "
    + _INSERT
    + "SELECT 1704067200000000 + i * 1000000, 0, i, :datastream, :feature FROM n",
    "postgresql": _INSERT
    + "SELECT timestamptz '2024-01-01Z' + i * interval '1 second', 0, i, :datastream, :feature "
    "FROM generate_series(1, :count) AS i",
}


@pytest.fixture
def app(settings, engine: Engine):  # noqa: ANN001, ANN201 - the app of `live_server`, with a short timeout
    from urbantwin.app import create_app
    from urbantwin.store.engine import make_engine

    quick = settings.with_overrides(query_timeout_seconds=2)
    quick_engine = make_engine(quick)
    yield create_app(quick, quick_engine)
    quick_engine.dispose()


def test_an_expensive_request_is_stopped_while_a_cheap_one_answers(
    live_server: str, engine: Engine, backend: str
) -> None:
    from sqlalchemy import text

    from tests.conftest import ADMIN_TOKEN
    from tests.sensorthings.conftest import station

    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    created = httpx.post(
        f"{live_server}/v1.1/Things", json=station("A", 12.3, 51.3, "city", 3), headers=admin
    )
    assert created.status_code == 201, created.text
    with engine.begin() as connection:
        datastream, feature = connection.execute(
            select(schema.observations.c.datastream_id, schema.observations.c.feature_of_interest_id)
        ).first()
        connection.execute(
            text(_NUMBERS[backend]), {"count": 20_000, "datastream": datastream, "feature": feature}
        )

    outcome: dict[str, Any] = {}

    def expensive() -> None:
        started = time.monotonic()
        outcome["response"] = httpx.get(f"{live_server}/v1.1/Observations", params=EXPENSIVE, timeout=60)
        outcome["seconds"] = time.monotonic() - started

    worker = threading.Thread(target=expensive)
    worker.start()
    time.sleep(0.3)  # the expensive statement is running
    started = time.monotonic()
    cheap = httpx.get(f"{live_server}/v1.1/Things", params={"$top": "1"}, timeout=60)
    cheap_seconds = time.monotonic() - started
    still_running = worker.is_alive()
    worker.join(timeout=60)

    assert cheap.status_code == 200 and cheap.json()["value"][0]["name"] == "A"
    assert still_running, "the cheap request waited for the expensive one"
    assert cheap_seconds < 1.5
    response = outcome["response"]
    assert response.status_code == 400, response.text
    assert "the query was stopped after 2 s: it is too expensive" in response.json()["message"]
    assert outcome["seconds"] < 10


def test_sqlite_connections_leave_nothing_behind_when_closed(tmp_path) -> None:  # noqa: ANN001
    """Every connection ever opened used to leave its query deadline in a module-level map (a slow
    leak under a pool that opens and closes overflow connections); now it lives with the connection."""
    from urbantwin.settings import Settings
    from urbantwin.store import engine as engine_module
    from urbantwin.store.engine import make_engine

    def module_state() -> dict[str, int]:
        return {name: len(value) for name, value in vars(engine_module).items() if isinstance(value, dict)}

    store = make_engine(Settings(database_url=f"sqlite:///{tmp_path / 'leak.sqlite'}"))
    before = module_state()
    for _ in range(50):
        with store.connect() as connection:
            connection.exec_driver_sql("SELECT 1")
        store.dispose()  # closes the pooled connection: the next one is new
    assert module_state() == before


def test_the_caches_of_the_store_are_sized_by_the_settings(tmp_path) -> None:  # noqa: ANN001
    from urbantwin.settings import Settings
    from urbantwin.store import spatial
    from urbantwin.store.engine import make_engine

    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'sized.sqlite'}",
        sql_cache_size=50,
        sqlite_cache_kb=1024,
        geometry_cache_size=8,
    )
    try:
        store = make_engine(settings)
        assert store._compiled_cache.capacity == 50
        with store.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA cache_size").scalar() == -1024
        for n in range(20):
            point = shapely.to_wkb(shapely.Point(n, n))
            spatial._geometry(point)
        assert spatial._geometry.cache_info().maxsize == 8
        assert spatial._geometry.cache_info().currsize == 8
    finally:
        spatial.set_geometry_cache_size(Settings().geometry_cache_size)


def test_reads_of_one_statement_open_no_transaction_on_postgresql(engine: Engine) -> None:
    """`for_reads`: no BEGIN and no ROLLBACK around the statement (two of a short read's round trips)."""
    with for_reads(engine).connect() as connection:
        connection.execute(text("SELECT 1"))
        if engine.dialect.name == "postgresql":
            raw = connection.connection.dbapi_connection
            assert raw is not None and raw.autocommit
            assert raw.info.transaction_status.name == "IDLE"  # the statement is committed already
    with engine.connect() as connection:  # the pool's connection is as before for everyone else
        if engine.dialect.name == "postgresql":
            raw = connection.connection.dbapi_connection
            assert raw is not None and not raw.autocommit
