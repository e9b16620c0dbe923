"""The shared steps: CRS parsing and naming, WGS 84, keys, the message format, delete_missing, gzip."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
import shapely
from pyproj import CRS
from sqlalchemy import Engine

from tests.ingest.conftest import count, stored
from urbantwin.ingest.pipeline import (
    CRS84,
    CollectionInfo,
    ImportFailure,
    ImportReport,
    Row,
    Source,
    build_rows,
    crs_name,
    feature_error,
    height_from,
    parse_crs,
    read_bytes,
    store_rows,
    to_wgs84,
)

INFO = CollectionInfo("p", "Pipeline")


def test_the_message_names_file_feature_id_where_and_field() -> None:
    error = feature_error(Path("a.csv"), 3, "lat", "not a number", key="x1", where="line 5")
    assert str(error) == "a.csv: feature 3 (id 'x1', line 5): field 'lat': not a number"
    assert str(feature_error("b.gpkg", 0, "geometry", "bad")) == "b.gpkg: feature 0: field 'geometry': bad"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (25833, "EPSG:25833"),
        ("EPSG:25833", "EPSG:25833"),
        ("urn:ogc:def:crs:EPSG::25833", "EPSG:25833"),
        ("https://www.opengis.net/def/crs/EPSG/0/25833", "EPSG:25833"),
        ("http://www.opengis.net/def/crs/OGC/1.3/CRS84", "OGC:CRS84"),
        (CRS.from_epsg(31468).to_wkt(), "EPSG:31468"),
    ],
)
def test_crs_names(value: object, expected: str) -> None:
    assert crs_name(parse_crs(value, "f", "crs")) == expected


@pytest.mark.parametrize("value", [None, "", "EPSG:123456", True, {"a": 1}])
def test_a_bad_crs_names_the_field(value: object) -> None:
    with pytest.raises(ImportFailure, match=r"^f: field 'crs_field': "):
        parse_crs(value, "f", "crs_field")


def test_wgs84_sources_are_not_transformed_and_compound_crs_use_their_horizontal_part() -> None:
    assert to_wgs84(CRS84) is None and to_wgs84(CRS.from_epsg(4326)) is None
    moved = to_wgs84(CRS.from_epsg(5556))(shapely.Point(316000.0, 5690000.0))  # ETRS89/UTM 33N + DHHN92
    plain = to_wgs84(CRS.from_epsg(25833))(shapely.Point(316000.0, 5690000.0))
    assert moved.equals_exact(plain, 1e-12)


def test_rows_reject_duplicates_bad_keys_and_unprojectable_points() -> None:
    crs = CRS.from_epsg(25833)
    point = shapely.Point(316000.0, 5690000.0)
    rows = build_rows(Path("f"), [Source(0, 7, point, {}), Source(1, "b", None, {})], crs)
    assert [r.key for r in rows] == ["7", "b"] and rows[1].wkb is None and rows[1].bounds is None
    with pytest.raises(ImportFailure, match=r"f: feature 1 \(id '7'\): field 'nr': the same id as feature 0"):
        build_rows(
            Path("f"),
            [Source(0, 7, point, {}, key_field="nr"), Source(1, "7", point, {}, key_field="nr")],
            crs,
        )
    with pytest.raises(ImportFailure, match=r"f: feature 0: field 'id': expected a string or number"):
        build_rows(Path("f"), [Source(0, [1], point, {})], crs)
    far = shapely.Point(1e12, 1e12)  # beyond the projection: pyproj answers inf
    with pytest.raises(
        ImportFailure, match=r"f: feature 0 \(id 'x'\): field 'geometry': coordinates are not finite"
    ):
        build_rows(Path("f"), [Source(0, "x", far, {})], crs)


def test_height_from_a_property() -> None:
    prepare = height_from("hoehe")
    assert prepare({"hoehe": "12,5"})[1] == 12.5 and prepare({"hoehe": 7})[1] == 7.0
    assert prepare({"hoehe": None})[1] is None and prepare({})[1] is None
    with pytest.raises(ValueError, match="'hoehe' is not a number: 'hoch'"):
        prepare({"hoehe": "hoch"})
    rows = build_rows(Path("f"), [Source(0, "a", None, {"hoehe": 3}, height=9.0)], CRS84)
    assert rows[0].height == 9.0  # a format's own height, when no hook says otherwise
    rows = build_rows(Path("f"), [Source(0, "a", None, {"hoehe": 3}, height=9.0)], CRS84, prepare)
    assert rows[0].height == 3.0


def test_delete_missing_removes_what_the_file_no_longer_has(engine: Engine) -> None:
    def rows(keys: str) -> list[Row]:
        return build_rows(
            Path("f"), [Source(i, k, shapely.Point(12 + i, 51), {"k": k}) for i, k in enumerate(keys)], CRS84
        )

    store_rows(engine, rows("abc"), INFO, "OGC:CRS84", progress=False)
    kept = store_rows(engine, rows("ab"), INFO, "OGC:CRS84", progress=False)
    assert (kept.unchanged, kept.deleted, count(engine, "p")) == (2, 0, 3)
    report = store_rows(engine, rows("bd"), INFO, "OGC:CRS84", progress=False, delete_missing=True)
    assert (report.inserted, report.updated, report.unchanged, report.deleted) == (1, 1, 0, 2)
    assert set(stored(engine, "p")) == {"b", "d"}
    assert report.summary() == "1 inserted, 1 updated, 0 unchanged, 2 deleted"


def test_the_report_summary() -> None:
    assert ImportReport("c", 1, 2, 3).summary() == "1 inserted, 2 updated, 3 unchanged"
    assert ImportReport("c", skipped=4).summary() == "0 inserted, 0 updated, 0 unchanged, 4 skipped"


def test_gzip_is_read_by_its_magic_number(tmp_path: Path) -> None:
    (tmp_path / "a.json").write_bytes(gzip.compress(b"[1]"))
    assert read_bytes(tmp_path / "a.json") == b"[1]"
    (tmp_path / "b.gz").write_bytes(b"\x1f\x8bbroken")
    with pytest.raises(ImportFailure, match="b.gz: not a readable gzip file"):
        read_bytes(tmp_path / "b.gz")
    with pytest.raises(ImportFailure, match="nowhere.csv: cannot read the file"):
        read_bytes(tmp_path / "nowhere.csv")
