"""OGC API - Tiles: Mapbox Vector Tiles in WebMercatorQuad, decoded and checked, on both backends."""

from __future__ import annotations

import math
import time

import mapbox_vector_tile
import pytest
from fastapi.testclient import TestClient
from pyproj import Transformer
from sqlalchemy import Engine

from tests.conftest import DemoLayers
from tests.ogcapi.conftest import POINTS
from urbantwin.access.gate import Caller

TILES = "/ogcapi/collections/city/tiles/WebMercatorQuad"


def _tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    """(row, col) of the tile holding lon/lat at zoom z."""
    n = 2**z
    col = int((lon + 180) / 360 * n)
    row = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return row, col


def _lonlat(key: str) -> tuple[float, float]:
    return Transformer.from_crs(25833, 4326, always_xy=True).transform(*POINTS[key])


def _decode(answer) -> dict:  # noqa: ANN001
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/vnd.mapbox-vector-tile"
    return mapbox_vector_tile.decode(answer.content)


def test_tile_matrix_sets_and_tileset_metadata(anonymous: TestClient, city: Engine) -> None:
    listing = anonymous.get("/ogcapi/tileMatrixSets").json()
    assert [s["id"] for s in listing["tileMatrixSets"]] == ["WebMercatorQuad"]
    tms = anonymous.get("/ogcapi/tileMatrixSets/WebMercatorQuad").json()
    assert tms["crs"].endswith("/EPSG/0/3857") and len(tms["tileMatrices"]) == 25
    assert tms["tileMatrices"][15]["matrixWidth"] == 2**15
    assert anonymous.get("/ogcapi/tileMatrixSets/WorldCRS84Quad").status_code == 404
    tilesets = anonymous.get("/ogcapi/collections/city/tiles").json()
    assert tilesets["tilesets"][0]["dataType"] == "vector"
    tileset = anonymous.get(TILES).json()
    template = next(link for link in tileset["links"] if link["rel"] == "item")
    assert template["href"] == "http://testserver" + TILES + "/{tileMatrix}/{tileRow}/{tileCol}"
    assert template["type"] == "application/vnd.mapbox-vector-tile" and template["templated"] is True
    links = anonymous.get("/ogcapi/collections/city").json()["links"]
    assert any(link["rel"].endswith("tilesets-vector") for link in links)
    assert anonymous.get("/ogcapi/collections/nowhere/tiles").status_code == 404


def test_a_tile_holds_the_features_with_their_properties(anonymous: TestClient, city: Engine) -> None:
    lon, lat = _lonlat("a")
    row, col = _tile_of(lon, lat, 14)
    layer = _decode(anonymous.get(f"{TILES}/14/{row}/{col}"))["city"]
    assert layer["extent"] == 4096
    by_id = {f["properties"]["id"]: f for f in layer["features"]}
    assert "a" in by_id and "c" not in by_id
    assert by_id["a"]["properties"]["name"] == "stop a" and by_id["a"]["properties"]["rank"] == 1
    assert by_id["a"]["geometry"]["type"] == "Point"
    x, y = by_id["a"]["geometry"]["coordinates"]
    assert 0 <= x <= 4096 and 0 <= y <= 4096
    whole = _decode(anonymous.get(f"{TILES}/0/0/0"))["city"]
    assert sorted(f["properties"]["id"] for f in whole["features"]) == ["a", "b", "c"]  # the block: < 1 unit
    row, col = _tile_of(lon, lat, 9)
    district = _decode(anonymous.get(f"{TILES}/9/{row}/{col}"))["city"]
    assert sorted(f["properties"]["id"] for f in district["features"]) == ["a", "b", "block", "c"]
    # a tile far away is empty (no layer features)
    empty = _decode(anonymous.get(f"{TILES}/14/0/0"))
    assert not empty or not empty.get("city", {}).get("features")


def test_odd_property_values_in_tiles(client: TestClient, city: Engine) -> None:
    lon, lat = _lonlat("a")
    properties = {"big": 2**70, "whole": 2.0, "list": [1, 2], "object": {"k": 1}, "none": None, "s": "é"}
    body = {"type": "Feature", "id": "odd", "properties": properties}
    body["geometry"] = {"type": "Point", "coordinates": [lon, lat]}
    assert client.post("/ogcapi/collections/city/items", json=body).status_code == 201
    row, col = _tile_of(lon, lat, 14)
    layer = _decode(client.get(f"{TILES}/14/{row}/{col}"))["city"]
    odd = next(f for f in layer["features"] if f["properties"]["id"] == "odd")["properties"]
    assert odd == {"id": "odd", "big": pytest.approx(2.0**70), "whole": 2, "s": "é"}


def test_polygons_are_clipped_to_the_tile(anonymous: TestClient, city: Engine) -> None:
    west, south = Transformer.from_crs(25833, 4326, always_xy=True).transform(315000.0, 5689000.0)
    row, col = _tile_of(west + 0.0001, south + 0.0001, 20)
    layer = _decode(anonymous.get(f"{TILES}/20/{row}/{col}"))["city"]
    block = next(f for f in layer["features"] if f["properties"]["id"] == "block")
    assert block["geometry"]["type"] == "Polygon"
    for x, y in block["geometry"]["coordinates"][0]:
        assert -64 <= x <= 4096 + 64 and -64 <= y <= 4096 + 64


def test_cache_is_invalidated_by_writes(client: TestClient, city: Engine) -> None:
    lon, lat = _lonlat("a")
    row, col = _tile_of(lon, lat, 14)
    path = f"{TILES}/14/{row}/{col}"
    first = client.get(path)
    assert client.get(path).content == first.content
    assert (
        client.patch("/ogcapi/collections/city/items/a", json={"properties": {"rank": 99}}).status_code == 204
    )
    layer = _decode(client.get(path))["city"]
    assert next(f for f in layer["features"] if f["properties"]["id"] == "a")["properties"]["rank"] == 99
    assert client.delete("/ogcapi/collections/city/items/a").status_code == 204
    layer = _decode(client.get(path)).get("city", {"features": []})
    assert "a" not in {f["properties"]["id"] for f in layer["features"]}


@pytest.mark.parametrize(
    ("path", "status", "message"),
    [
        ("/x/0/0", 400, "z: expected a non-negative integer"),
        ("/3/-1/0", 400, "row: expected a non-negative integer"),
        ("/3/0/1.5", 400, "col: expected a non-negative integer"),
        ("/25/0/0", 404, "no tile matrix 25"),
        ("/3/8/0", 404, "outside the tile matrix"),
        ("/3/0/8", 404, "outside the tile matrix"),
    ],
)
def test_bad_tiles(anonymous: TestClient, city: Engine, path: str, status: int, message: str) -> None:
    answer = anonymous.get(TILES + path)
    assert answer.status_code == status, answer.text
    assert message in answer.json()["message"]
    assert anonymous.get("/ogcapi/collections/nowhere/tiles/WebMercatorQuad/0/0/0").status_code == 404


@pytest.mark.xdist_group("demo-layers")  # the demo's buildings, loaded once per test process
def test_building_tiles_carry_height(demo_layers: DemoLayers) -> None:
    with demo_layers.anonymous() as anonymous:
        extent = anonymous.get("/ogcapi/collections/buildings").json()["extent"]["spatial"]["bbox"][0]
        lon, lat = (extent[0] + extent[2]) / 2, (extent[1] + extent[3]) / 2
        row, col = _tile_of(lon, lat, 15)
        path = f"/ogcapi/collections/buildings/tiles/WebMercatorQuad/15/{row}/{col}"
        started = time.perf_counter()
        layer = _decode(anonymous.get(path))["buildings"]
        elapsed = time.perf_counter() - started
    assert len(layer["features"]) > 10
    # Every building has a height: the source's (or its levels'), else an estimate, said so.
    assert all("height" in f["properties"] for f in layer["features"])
    estimated = [f["properties"] for f in layer["features"] if f["properties"].get("height_estimated")]
    assert 10 < len(estimated) < len(layer["features"])
    for properties in (f["properties"] for f in layer["features"]):
        given = properties.get("height_m")
        expected = given if given is not None else properties["height_estimate_m"]
        assert properties["height"] == pytest.approx(expected)
        assert properties["height_source"].startswith("estimated: " if given is None else ("osm", "derived"))
    assert all(f["geometry"]["type"] in ("Polygon", "MultiPolygon") for f in layer["features"])
    print(f"buildings z15 tile: {len(layer['features'])} features, {elapsed * 1000:.1f} ms uncached")


@pytest.mark.long  # tiles of the demo's layers (loaded once per test process, `demo_layers`)
@pytest.mark.xdist_group("demo-layers")
def test_database_and_python_tiles_have_the_same_content(demo_layers: DemoLayers) -> None:
    """On PostGIS tiles come from ST_AsMVT, on SQLite from Python: the same features and properties."""
    from urbantwin.ogcapi.service import FeaturesService
    from urbantwin.ogcapi.tiles import TileService
    from urbantwin.settings import Settings

    tiles = TileService(FeaturesService(demo_layers.engine, Settings()))
    for collection, z, row, col in (("buildings", 15, 10921, 17506), ("lvb-stops", 13, 2730, 4376)):
        made = mapbox_vector_tile.decode(tiles.render(collection, z, row, col))[collection]["features"]
        python = mapbox_vector_tile.decode(tiles.render_in_python(collection, z, row, col))[collection]
        assert len(made) > 10
        assert {f["id"]: f["properties"] for f in made} == {
            f["id"]: f["properties"] for f in python["features"]
        }
        assert {f["id"]: f["geometry"]["type"] for f in made} == {
            f["id"]: f["geometry"]["type"] for f in python["features"]
        }


def test_an_import_invalidates_the_cached_tiles(anonymous: TestClient, city: Engine, tmp_path) -> None:  # noqa: ANN001
    from sqlalchemy import select

    from tests.ogcapi.conftest import INFO, city_geojson, write
    from urbantwin.ingest.geojson import import_geojson
    from urbantwin.store.features_schema import collections

    def version() -> int:
        with city.connect() as connection:
            return connection.execute(
                select(collections.c.version).where(collections.c.id == "city")
            ).scalar()

    lon, lat = _lonlat("a")
    row, col = _tile_of(lon, lat, 14)
    path = f"{TILES}/14/{row}/{col}"
    assert "a" in {f["properties"]["id"] for f in _decode(anonymous.get(path))["city"]["features"]}
    before = version()
    import_geojson(city, write(tmp_path / "same.geojson", city_geojson()), INFO, progress=False)
    assert version() == before  # importing the same file again changes nothing
    moved = {**POINTS, "a": (330000.0, 5700000.0)}
    import_geojson(city, write(tmp_path / "moved.geojson", city_geojson(moved)), INFO, progress=False)
    assert version() == before + 1
    layer = _decode(anonymous.get(path)).get("city", {"features": []})
    assert "a" not in {f["properties"]["id"] for f in layer["features"]}


def test_the_tile_cache_stays_within_its_budget_of_bytes(city: Engine) -> None:
    """The cache was bounded by a count of tiles only (4096), whatever their size: dense low-zoom
    building tiles of half a MB each let it grow by gigabytes under many readers."""
    from urbantwin.ogcapi.service import FeaturesService
    from urbantwin.ogcapi.tiles import CACHE_ENTRY_OVERHEAD, TileService
    from urbantwin.settings import Settings

    assert TileService(FeaturesService(city, Settings(tile_cache_mb=3))).cache_budget == 3 * 1024 * 1024
    tiles = TileService(FeaturesService(city, Settings()), cache_bytes=4000)
    lon, lat = _lonlat("a")
    made = []
    for z in range(4, 20):
        row, col = _tile_of(lon, lat, z)
        made.append(tiles.tile("city", "WebMercatorQuad", str(z), str(row), str(col), Caller.system()))
    assert sum(len(t) + CACHE_ENTRY_OVERHEAD for t in made) > 4000  # more than fits
    assert 0 < tiles.cached_bytes <= 4000
    assert tiles.cached_bytes == sum(len(t) + CACHE_ENTRY_OVERHEAD for t in tiles._cache.values())
    row, col = _tile_of(lon, lat, 19)
    assert ("city", 19, row, col) in {key[:4] for key in tiles._cache}  # the newest are kept
    assert tiles.tile("city", "WebMercatorQuad", "19", str(row), str(col), Caller.system()) == made[-1]
