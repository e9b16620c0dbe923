"""A small city model in EPSG:25833 (as German municipal data comes), imported through the importer."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import Engine

from tests.conftest import serve_test_city
from urbantwin.ingest.geojson import CollectionInfo, import_geojson

#: Easting/northing in EPSG:25833, with millimetres that must survive the trip through the store.
POINTS = {
    "a": (316000.123, 5690000.456),
    "b": (317500.5, 5691000.25),
    "c": (320000.001, 5695000.999),
}
SQUARE = [(315000.0, 5689000.0), (315100.0, 5689000.0), (315100.0, 5689100.0), (315000.0, 5689100.0)]


def city_geojson(points: dict[str, tuple[float, float]] | None = None) -> dict:
    points = points or POINTS
    features = [
        {
            "type": "Feature",
            "id": key,
            "properties": {"name": f"stop {key}", "rank": rank, "kind": "stop", "open": rank != 2},
            "geometry": {"type": "Point", "coordinates": list(xy)},
        }
        for rank, (key, xy) in enumerate(points.items(), start=1)
    ]
    features.append(
        {
            "type": "Feature",
            "id": "block",
            "properties": {"name": "block", "rank": 10, "kind": "area", "open": True},
            "geometry": {"type": "Polygon", "coordinates": [[*map(list, SQUARE), list(SQUARE[0])]]},
        }
    )
    return {
        "type": "FeatureCollection",
        "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::25833"}},
        "features": features,
    }


def write(path: Path, document: dict) -> Path:
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


INFO = CollectionInfo(
    "city",
    "A small city",
    "Three stops and a block, given in EPSG:25833",
    "CC-BY-4.0",
    "urbantwin tests",
    ["test"],
)


@pytest.fixture(autouse=True)
def city_profile(request: pytest.FixtureRequest) -> None:
    """The platform of these tests is a city that works in EPSG:25833 (`tests/conftest.py`)."""
    serve_test_city(request)


@pytest.fixture
def city(engine: Engine, tmp_path: Path) -> Engine:
    """The store with the collection `city` imported from a 25833 file."""
    import_geojson(engine, write(tmp_path / "city.geojson", city_geojson()), INFO, progress=False)
    return engine
