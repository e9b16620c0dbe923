"""A collection's extent, from the features it holds now, on both backends: exact to the coordinate
(though the spatial indexes keep single-precision boxes), shrinking when the outermost feature goes,
and computed once per collection version when a writer left it stale."""

from __future__ import annotations

from datetime import UTC, datetime

import shapely
from sqlalchemy import Engine, delete, insert, select, update

from tests.conftest import statements
from urbantwin.store.extents import EXTENT_COLUMNS, ExtentCache, collection_extent, extent_after_write
from urbantwin.store.features_schema import collections, features

T0 = datetime(2024, 1, 1, tzinfo=UTC)
#: Coordinates a single-precision float cannot hold (the R-tree's and PostGIS's cached boxes).
INNER = shapely.Polygon([(12.3456789012, 51.3012345678), (12.4, 51.3), (12.4, 51.35), (12.35, 51.35)])
FAR = shapely.Point(13.7654321098, 52.1234567891)
NEAR = shapely.Point(12.3750000001, 51.3200000003)


def _store(engine: Engine, *geometries: shapely.Geometry | None) -> list[int]:
    with engine.begin() as connection:
        connection.execute(
            insert(collections).values(id="c", title="C", created=T0, updated=T0, version=1, extent_bbox=None)
        )
        return [
            connection.execute(
                insert(features)
                .values(
                    collection_id="c",
                    feature_key=f"f{n}",
                    properties={},
                    geom=None if geometry is None else shapely.to_wkb(geometry),
                )
                .returning(features.c.id)
            ).scalar_one()
            for n, geometry in enumerate(geometries)
        ]


def _bounds(*geometries: shapely.Geometry) -> tuple[float, ...]:
    return tuple(float(v) for v in shapely.total_bounds(list(geometries)))


def test_the_extent_is_exact_and_shrinks_when_the_outermost_feature_goes(engine: Engine) -> None:
    inner, far, _, _ = _store(engine, INNER, FAR, NEAR, None)
    with engine.connect() as connection:
        assert collection_extent(connection, "c") == _bounds(INNER, FAR, NEAR)
    with engine.begin() as connection:
        connection.execute(delete(features).where(features.c.id == far))
    with engine.connect() as connection:
        assert collection_extent(connection, "c") == _bounds(INNER, NEAR)
    with engine.begin() as connection:
        connection.execute(delete(features).where(features.c.id == inner))
    with engine.connect() as connection:
        assert collection_extent(connection, "c") == _bounds(NEAR)
        assert collection_extent(connection, "nowhere") is None


def test_a_collection_without_geometries_has_no_extent(engine: Engine) -> None:
    _store(engine, None, shapely.Point())
    with engine.connect() as connection:
        assert collection_extent(connection, "c") is None


def test_a_write_grows_a_right_extent_and_computes_one_that_may_shrink(engine: Engine) -> None:
    _store(engine, INNER, FAR)
    right = {"id": "c", "version": 1, "extent_version": 1, "extent_bbox": list(_bounds(INNER, FAR))}
    with engine.connect() as connection, statements(engine) as seen:
        # Something inside goes, something further out comes: no query, the box grows.
        grown = extent_after_write(connection, right, [_bounds(NEAR)], [(14.0, 53.0, 14.0, 53.0)])
        assert seen == []
        assert grown == {"extent_bbox": [*_bounds(INNER)[:2], 14.0, 53.0], "extent_version": 2}
        # The far feature (at the edge) goes: the extent is computed from what is there.
        assert extent_after_write(connection, right, [_bounds(FAR)], [])["extent_bbox"] == list(
            _bounds(INNER, FAR)
        )
        # A stale stored extent (an importer's) is not grown but computed.
        stale = {**right, "extent_version": None, "extent_bbox": [0.0, 0.0, 1.0, 1.0]}
        assert extent_after_write(connection, stale, [], [])["extent_bbox"] == list(_bounds(INNER, FAR))


def test_readers_compute_a_stale_extent_once_per_version(engine: Engine) -> None:
    _store(engine, INNER, FAR)
    cache = ExtentCache()

    def read() -> tuple[float, ...] | None:
        with engine.connect() as connection:
            row = connection.execute(select(*EXTENT_COLUMNS).where(collections.c.id == "c")).one()
            return cache.extent(connection, row._mapping)

    with engine.begin() as connection:  # as an importer leaves it: a box, not said to be right
        connection.execute(update(collections).values(extent_bbox=[0.0, 0.0, 20.0, 60.0], version=2))
    assert read() == _bounds(INNER, FAR)
    with statements(engine) as seen:
        assert read() == _bounds(INNER, FAR)
    assert len(seen) == 1  # the row only: kept for version 2
    with engine.begin() as connection:
        connection.execute(
            update(collections).values(extent_bbox=[1.0, 2.0, 3.0, 4.0], extent_version=2)
        )  # a writer that kept it says so
    assert read() == (1.0, 2.0, 3.0, 4.0)
