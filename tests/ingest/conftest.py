"""Small city data in EPSG:25833 with umlauts, written by the tests in each format, and ways to read back.

German municipal data comes in ETRS89 / UTM 33N with umlauts in names; the millimetres of the
coordinates must survive the trip file → store (WGS 84) → OGC API `crs=EPSG:25833`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import shapely
from fastapi.testclient import TestClient
from pyogrio.raw import write as ogr_write
from sqlalchemy import Engine, func, select

from tests.conftest import serve_test_city
from urbantwin.ingest.pipeline import CollectionInfo
from urbantwin.store.features_schema import collections, features

EPSG_25833 = "http://www.opengis.net/def/crs/EPSG/0/25833"

#: Easting/northing in EPSG:25833 (Leipzig), with millimetres.
TREES: dict[str, tuple[float, float]] = {
    "B-1": (316000.123, 5690000.456),
    "B-2": (317500.5, 5691000.251),
    "B-3": (320000.001, 5695000.999),
}
NAMES = {"B-1": "Linde an der Käthe-Kollwitz-Straße", "B-2": "Ahorn am Südplatz", "B-3": "Eiche, Größe XL"}
HEIGHTS = {"B-1": 12, "B-2": 7, "B-3": 21}
#: A building footprint (EPSG:25833) whose corners must come back to the millimetre.
FOOTPRINT = [
    (315000.001, 5689000.002),
    (315012.503, 5689000.004),
    (315012.505, 5689009.997),
    (315000.003, 5689010.001),
]

INFO = CollectionInfo("trees", "Bäume", "Test trees in EPSG:25833", "CC-BY-4.0", "urbantwin tests", ["test"])


def write_ogr(
    path: Path,
    points: dict[str, tuple[float, float]] | None = None,
    *,
    driver: str = "GPKG",
    layer: str | None = None,
    encoding: str | None = None,
    append: bool = False,
    crs: str | None = "EPSG:25833",
    heights: dict[str, int] | None = None,
) -> Path:
    """A GeoPackage layer or Shapefile of the trees, written with pyogrio (GDAL) as real tools do."""
    points = points or TREES
    heights = heights or HEIGHTS
    keys = list(points)
    geoms = np.array([shapely.to_wkb(shapely.Point(points[k])) for k in keys], dtype=object)
    fields = [
        np.array(keys, dtype=object),
        np.array([NAMES.get(k, f"Baum {k}") for k in keys], dtype=object),
        np.array([heights.get(k, 5) for k in keys], dtype=np.int64),
        np.array([heights.get(k, 5) * 1.5 for k in keys], dtype=np.float64),
    ]
    options: dict[str, Any] = {"layer": layer} if layer else {}
    if encoding:
        options["encoding"] = encoding
    ogr_write(
        path,
        geoms,
        fields,
        fields=["baum_id", "name", "hoehe_m", "krone_m"],
        geometry_type="Point",
        crs=crs,
        driver=driver,
        append=append,
        **options,
    )
    return path


def count(engine: Engine, collection: str | None = None) -> int:
    query = select(func.count()).select_from(features)
    if collection:
        query = query.where(features.c.collection_id == collection)
    with engine.connect() as connection:
        return connection.execute(query).scalar_one()


def stored(engine: Engine, collection: str) -> dict[str, Any]:
    """The stored features of a collection by key: properties, geometry (shapely, WGS 84), height."""
    with engine.connect() as connection:
        rows = connection.execute(
            select(features.c.feature_key, features.c.properties, features.c.geom, features.c.height).where(
                features.c.collection_id == collection
            )
        ).all()
    return {
        r.feature_key: {
            "properties": r.properties,
            "geometry": shapely.from_wkb(r.geom) if r.geom is not None else None,
            "height": r.height,
        }
        for r in rows
    }


def snapshot(engine: Engine) -> tuple[list[Any], list[Any]]:
    """Every feature row and every collection row, to prove that an import changed nothing."""
    with engine.connect() as connection:
        rows = connection.execute(select(features).order_by(features.c.id)).all()
        metas = connection.execute(select(collections).order_by(collections.c.id)).all()
    return rows, metas


@pytest.fixture(autouse=True)
def city_profile(request: pytest.FixtureRequest) -> None:
    """The platform of these tests is a city that works in EPSG:25833 (`tests/conftest.py`)."""
    serve_test_city(request)


def items_in_25833(client: TestClient, collection: str) -> dict[str, Any]:
    """The collection's features through OGC API Features with `crs=EPSG:25833`, by id."""
    answer = client.get(f"/ogcapi/collections/{collection}/items", params={"crs": EPSG_25833, "limit": 1000})
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-crs"] == f"<{EPSG_25833}>"
    return {str(f["id"]): f for f in answer.json()["features"]}


def assert_millimetres(got: list[float], expected: tuple[float, float]) -> None:
    assert abs(got[0] - expected[0]) < 0.001 and abs(got[1] - expected[1]) < 0.001, (got, expected)
