"""The GeoJSON reader on the shared pipeline (its main tests are in tests/ogcapi/test_import_geojson.py)."""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from tests.ingest.conftest import INFO, NAMES, TREES, assert_millimetres, items_in_25833, stored
from urbantwin.ingest.geojson import import_geojson, read_features
from urbantwin.ingest.pipeline import ImportFailure


def trees(crs: dict[str, Any] | None) -> dict[str, Any]:
    document: dict[str, Any] = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "id": key,
                "properties": {"name": NAMES[key]},
                "geometry": {"type": "Point", "coordinates": list(xy)},
            }
            for key, xy in TREES.items()
        ],
    }
    if crs is not None:
        document["crs"] = crs
    return document


def test_a_gzipped_file_with_an_epsg_crs_member_round_trips(
    anonymous: TestClient, engine: Engine, tmp_path: Path
) -> None:
    path = tmp_path / "trees.geojson.gz"
    path.write_bytes(gzip.compress(orjson.dumps(trees({"type": "EPSG", "properties": {"code": 25833}}))))
    report = import_geojson(engine, path, INFO, progress=False)
    assert report.inserted == 3
    assert stored(engine, "trees")["B-1"]["properties"] == {"name": NAMES["B-1"]}
    items = items_in_25833(anonymous, "trees")
    for key, xy in TREES.items():
        assert_millimetres(items[key]["geometry"]["coordinates"], xy)


@pytest.mark.parametrize(
    ("crs", "expected"),
    [
        ({"type": "EPSG", "properties": {"code": "abc"}}, "field 'crs': not an EPSG code: 'abc'"),
        ({"type": "link", "properties": {"href": "x"}}, "field 'crs': unsupported crs member"),
        ({"type": "name", "properties": {}}, "field 'crs': expected a CRS, got None"),
    ],
)
def test_bad_crs_members(tmp_path: Path, crs: dict[str, Any], expected: str) -> None:
    path = tmp_path / "t.geojson"
    path.write_bytes(orjson.dumps(trees(crs)))
    with pytest.raises(ImportFailure) as error:
        read_features(path)
    assert str(error.value) == f"{path}: {expected}" or expected in str(error.value)


def test_delete_missing(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "t.geojson"
    crs = {"type": "name", "properties": {"name": "EPSG:25833"}}
    path.write_bytes(orjson.dumps(trees(crs)))
    import_geojson(engine, path, INFO, progress=False)
    document = trees(crs)
    document["features"].pop()
    path.write_bytes(orjson.dumps(document))
    report = import_geojson(engine, path, INFO, progress=False, delete_missing=True)
    assert (report.unchanged, report.deleted) == (2, 1)
    assert set(stored(engine, "trees")) == {"B-1", "B-2"}


def _one_feature(geometry: Any, properties: Any = None, key: Any = "a") -> dict[str, Any]:
    feature = {"type": "Feature", "id": key, "properties": properties or {}, "geometry": geometry}
    return {"type": "FeatureCollection", "features": [feature]}


def _nested(levels: int) -> Any:
    value: Any = 1
    for _ in range(levels):
        value = {"a": value}
    return value


BOWTIE = {"type": "Polygon", "coordinates": [[[12, 51], [13, 52], [13, 51], [12, 52], [12, 51]]]}
POINT = {"type": "Point", "coordinates": [12.37, 51.34]}


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        (
            _one_feature({"type": "Foo", "coordinates": [1, 2]}),
            "feature 0 (id 'a'): field 'geometry': unknown geometry type 'Foo'",
        ),
        (
            _one_feature({"type": "Point", "coordinates": [12.37, 95]}),
            "feature 0 (id 'a'): field 'geometry': latitude 95 is out of range (−90 to 90)",
        ),
        (
            _one_feature({"type": "Point", "coordinates": [400, 51]}),
            "feature 0 (id 'a'): field 'geometry': longitude 400 is out of range",
        ),
        (
            _one_feature(BOWTIE),
            "feature 0 (id 'a'): field 'geometry': the geometry is not valid: its boundary crosses itself",
        ),
        (
            {
                **_one_feature({"type": "Point", "coordinates": [-400000, 4000000]}),
                "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::25833"}},
            },
            "field 'geometry': the geometry lies outside the area of use of ETRS89 / UTM zone 33N",
        ),  # fmt: skip
        (
            _one_feature(POINT, {"deep": _nested(100)}),
            "field 'properties': the properties object nests deeper than 64",
        ),
        (
            _one_feature(POINT, {"name": "a\x00b"}),
            "field 'properties': a string in the properties object contains a NUL",
        ),
        (_one_feature(POINT, key="a\x00b"), "field 'id': the id contains a NUL character"),
    ],
)
def test_the_platform_s_one_validation_of_geometries_and_json(
    tmp_path: Path, document: dict[str, Any], expected: str
) -> None:
    # The same geometries and properties the APIs refuse stop an import, naming the feature and field.
    path = tmp_path / "bad.geojson"
    path.write_bytes(orjson.dumps(document))
    with pytest.raises(ImportFailure) as error:
        read_features(path)
    assert expected in str(error.value)
