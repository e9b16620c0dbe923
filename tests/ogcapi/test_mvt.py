"""The properties a vector tile gives each feature (store/mvt.py on PostGIS, Python on SQLite): the
feature key as `id`, the stored height over a `height` of the properties only where there is one,
JSON nulls left out; features clipped away leave the tile."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import mapbox_vector_tile
import shapely
from sqlalchemy import Engine

from urbantwin.ogcapi.service import FeaturesService
from urbantwin.ogcapi.tiles import TileService
from urbantwin.settings import Settings
from urbantwin.store.features_schema import collections, features

LON, LAT, Z = 12.3731, 51.3397, 15


def _tile() -> tuple[int, int]:
    n = 2**Z
    col = int((LON + 180) / 360 * n)
    row = int((1 - math.asinh(math.tan(math.radians(LAT))) / math.pi) / 2 * n)
    return row, col


def test_tile_properties_and_heights(engine: Engine, settings: Settings) -> None:
    now = datetime.now(UTC)
    point = shapely.to_wkb(shapely.Point(LON, LAT))
    rows = [
        # no stored height: the properties' own height stays; the key replaces the properties' id
        {"feature_key": "a", "properties": {"height": 7, "id": "osm-1", "none": None}, "height": None},
        # a stored height wins over the properties'
        {"feature_key": "b", "properties": {"height": 7, "name": "b"}, "height": 12.5},
        {"feature_key": "c", "properties": None, "height": 3.0},
        {"feature_key": "d", "properties": {"nested": {"x": None}, "list": [1]}, "height": None},
    ]
    with engine.begin() as connection:
        connection.execute(collections.insert().values(id="t", title="t", created=now, updated=now))
        connection.execute(features.insert(), [{"collection_id": "t", "geom": point, **row} for row in rows])
        # a polygon whose box reaches into the tile's buffer but whose shape stays outside it
        west = LON - 360 / 2**Z
        l_shape = shapely.Polygon(
            [
                (west - 1, LAT),
                (west, LAT),
                (west, LAT + 1),
                (LON + 1, LAT + 1),
                (LON + 1, LAT + 2),
                (west - 1, LAT + 2),
            ]
        )
        connection.execute(
            features.insert().values(collection_id="t", feature_key="far", geom=shapely.to_wkb(l_shape))
        )
    tiles = TileService(FeaturesService(engine, settings))
    row, col = _tile()
    layer = mapbox_vector_tile.decode(tiles.render("t", Z, row, col))["t"]
    got = {f["properties"]["id"]: f["properties"] for f in layer["features"]}
    assert got == {
        "a": {"id": "a", "height": 7},
        "b": {"id": "b", "height": 12.5, "name": "b"},
        "c": {"id": "c", "height": 3},
        "d": {"id": "d"},
    }
