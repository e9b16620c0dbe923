"""GeoPackage and Shapefile through pyogrio: CRS from the file, layers, DBF encodings, keys, errors."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pyproj import Transformer
from sqlalchemy import Engine, select

from tests.ingest.conftest import (
    HEIGHTS,
    INFO,
    NAMES,
    TREES,
    assert_millimetres,
    count,
    items_in_25833,
    snapshot,
    stored,
    write_ogr,
)
from urbantwin.ingest.ogr import import_ogr, list_layers, read_layer
from urbantwin.ingest.pipeline import ImportFailure, height_from
from urbantwin.store.features_schema import collections

TO_WGS84 = Transformer.from_crs(25833, 4326, always_xy=True)


def test_a_geopackage_in_25833_lands_in_wgs84_with_its_umlauts(engine: Engine, tmp_path: Path) -> None:
    path = write_ogr(tmp_path / "bäume.gpkg")
    report = import_ogr(engine, path, INFO, id_field="baum_id", progress=False)
    assert (report.inserted, report.updated, report.unchanged) == (3, 0, 0)
    trees = stored(engine, "trees")
    assert set(trees) == set(TREES)
    for key, (x, y) in TREES.items():
        lon, lat = TO_WGS84.transform(x, y)
        point = trees[key]["geometry"]
        assert point.x == pytest.approx(lon, abs=1e-11) and point.y == pytest.approx(lat, abs=1e-11)
        assert trees[key]["properties"] == {
            "baum_id": key,
            "name": NAMES[key],
            "hoehe_m": HEIGHTS[key],
            "krone_m": HEIGHTS[key] * 1.5,
        }
    with engine.connect() as connection:
        meta = connection.execute(select(collections).where(collections.c.id == "trees")).one()._mapping
    assert meta["source_crs"] == "EPSG:25833" and meta["title"] == "Bäume"
    assert meta["item_schema"]["properties"]["hoehe_m"] == {"type": "integer"}
    assert meta["item_schema"]["properties"]["krone_m"] == {"type": "number"}


def test_the_fid_is_the_default_key(engine: Engine, tmp_path: Path) -> None:
    path = write_ogr(tmp_path / "t.gpkg")
    import_ogr(engine, path, INFO, progress=False)
    assert set(stored(engine, "trees")) == {"1", "2", "3"}  # a GeoPackage's FIDs start at 1


def test_coordinates_round_trip_25833_within_a_millimetre(
    anonymous: TestClient, engine: Engine, tmp_path: Path
) -> None:
    import_ogr(engine, write_ogr(tmp_path / "t.gpkg"), INFO, id_field="baum_id", progress=False)
    items = items_in_25833(anonymous, "trees")
    for key, xy in TREES.items():
        assert_millimetres(items[key]["geometry"]["coordinates"], xy)


def test_a_layer_of_a_multi_layer_geopackage(engine: Engine, tmp_path: Path) -> None:
    path = write_ogr(tmp_path / "two.gpkg", layer="baeume")
    write_ogr(path, {"X-1": (318000.0, 5692000.0)}, layer="neupflanzungen", append=True)
    assert list_layers(path) == ["baeume", "neupflanzungen"]
    with pytest.raises(ImportFailure) as error:
        import_ogr(engine, path, INFO, progress=False)
    assert f"{path}: field 'layer': the file has 2 layers (baeume, neupflanzungen)" in str(error.value)
    with pytest.raises(ImportFailure, match="field 'layer': no layer 'bäume'"):
        import_ogr(engine, path, INFO, layer="bäume", progress=False)
    report = import_ogr(engine, path, INFO, layer="neupflanzungen", id_field="baum_id", progress=False)
    assert report.inserted == 1 and set(stored(engine, "trees")) == {"X-1"}


def test_importing_twice_changes_nothing_and_a_changed_file_updates_what_changed(
    engine: Engine, tmp_path: Path
) -> None:
    path = write_ogr(tmp_path / "t.gpkg")
    import_ogr(engine, path, INFO, id_field="baum_id", progress=False)
    before = snapshot(engine)
    again = import_ogr(engine, path, INFO, id_field="baum_id", progress=False)
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 3)
    assert snapshot(engine) == before
    changed = {**TREES, "B-2": (317501.5, 5691000.251), "B-4": (318000.0, 5692000.0)}
    path.unlink()
    report = import_ogr(engine, write_ogr(path, changed), INFO, id_field="baum_id", progress=False)
    assert (report.inserted, report.updated, report.unchanged, report.deleted) == (1, 1, 2, 0)
    assert count(engine, "trees") == 4
    fewer = {k: v for k, v in TREES.items() if k != "B-3"}
    path.unlink()
    report = import_ogr(
        engine, write_ogr(path, fewer), INFO, id_field="baum_id", delete_missing=True, progress=False
    )
    assert (report.inserted, report.updated, report.unchanged, report.deleted) == (0, 1, 1, 2)
    assert set(stored(engine, "trees")) == {"B-1", "B-2"}


def test_a_shapefile_with_cpg_prj_and_umlauts(anonymous: TestClient, engine: Engine, tmp_path: Path) -> None:
    path = write_ogr(tmp_path / "baeume.shp", driver="ESRI Shapefile", encoding="cp1252")
    assert (tmp_path / "baeume.cpg").read_text().strip().upper() in ("CP1252", "1252")
    import_ogr(engine, path, INFO, id_field="baum_id", progress=False)
    trees = stored(engine, "trees")
    assert {k: t["properties"]["name"] for k, t in trees.items()} == NAMES
    items = items_in_25833(anonymous, "trees")
    for key, xy in TREES.items():
        assert_millimetres(items[key]["geometry"]["coordinates"], xy)


def test_the_dbf_encoding_is_honoured_where_no_cpg_states_it(engine: Engine, tmp_path: Path) -> None:
    path = write_ogr(tmp_path / "dos.shp", driver="ESRI Shapefile", encoding="cp850")
    (tmp_path / "dos.cpg").unlink()  # as old DOS-era files come: no .cpg, no language driver id
    _, guessed = read_layer(path, id_field="baum_id")
    assert guessed[0].properties["name"] != NAMES["B-1"]  # GDAL's default (ISO-8859-1) garbles it
    import_ogr(engine, path, INFO, id_field="baum_id", encoding="cp850", progress=False)
    assert {k: t["properties"]["name"] for k, t in stored(engine, "trees").items()} == NAMES


@pytest.mark.filterwarnings("ignore:'crs' was not provided")
def test_a_file_without_crs_needs_one_named(engine: Engine, tmp_path: Path) -> None:
    path = write_ogr(tmp_path / "no_prj.shp", driver="ESRI Shapefile", crs=None)
    with pytest.raises(ImportFailure, match=r"no_prj.shp: field 'crs': the file states no CRS"):
        import_ogr(engine, path, INFO, progress=False)
    import_ogr(engine, path, INFO, crs="EPSG:25833", id_field="baum_id", progress=False)
    lon, lat = TO_WGS84.transform(*TREES["B-1"])
    assert stored(engine, "trees")["B-1"]["geometry"].x == pytest.approx(lon, abs=1e-11)


def test_the_height_field_fills_the_height_column(engine: Engine, tmp_path: Path) -> None:
    path = write_ogr(tmp_path / "t.gpkg")
    import_ogr(engine, path, INFO, id_field="baum_id", prepare=height_from("krone_m"), progress=False)
    assert {k: t["height"] for k, t in stored(engine, "trees").items()} == {
        k: h * 1.5 for k, h in HEIGHTS.items()
    }
    with pytest.raises(ImportFailure) as error:
        import_ogr(engine, path, INFO, id_field="baum_id", prepare=height_from("name"), progress=False)
    assert f"{path}: feature 0 (id 'B-1'): field 'properties': 'name' is not a number" in str(error.value)


@pytest.mark.parametrize(
    ("make", "options", "expected"),
    [
        (
            lambda p: write_ogr(p, {"B-1": (1.0, 2.0), "B-2": (3.0, 4.0)}),
            {"id_field": "nummer"},
            "field 'nummer': no such field; the fields are baum_id, name, hoehe_m, krone_m",
        ),
        (
            lambda p: write_ogr(p, heights={"B-1": 12, "B-2": 7, "B-3": 12}),
            {"id_field": "hoehe_m"},
            "feature 2 (id '12'): field 'hoehe_m': the same id as feature 0",
        ),
        (lambda p: write_ogr(p), {"crs": "EPSG:0"}, "field 'crs': not a CRS pyproj knows"),
        (
            lambda p: p.write_text("kein GeoPackage", encoding="utf-8") or p,
            {},
            "not a file GDAL can read as vector data",
        ),
        (lambda p: p, {}, "cannot read the file: no such file"),
    ],
)
def test_errors_name_file_feature_and_field(
    engine: Engine,
    tmp_path: Path,
    make: Callable[[Path], object],
    options: dict,
    expected: str,
) -> None:
    path = tmp_path / "fehler.gpkg"
    make(path)
    with pytest.raises(ImportFailure) as error:
        import_ogr(engine, path, INFO, progress=False, **options)
    assert str(error.value).startswith(str(path)) and expected in str(error.value)
    assert count(engine) == 0
