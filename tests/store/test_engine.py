"""The store migrates on both backends and keeps times and geometries exactly."""

from __future__ import annotations

from datetime import UTC, datetime

import shapely
from sqlalchemy import Engine, insert, inspect, select

from urbantwin.store import schema
from urbantwin.store.engine import upgrade
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
