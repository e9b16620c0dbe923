"""CSV with coordinates: detected columns, source CRS, delimiters, German decimal commas, gzip, errors."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pyproj import Transformer
from sqlalchemy import Engine

from tests.ingest.conftest import (
    INFO,
    NAMES,
    TREES,
    assert_millimetres,
    count,
    items_in_25833,
    snapshot,
    stored,
)
from urbantwin.ingest.csvfile import detect_columns, import_csv, parse_number, read_csv
from urbantwin.ingest.pipeline import ImportFailure

TO_WGS84 = Transformer.from_crs(25833, 4326, always_xy=True)


def german_csv(points: dict[str, tuple[float, float]] | None = None) -> str:
    """As a German office exports it: `;`, decimal commas, thousands dots, postcodes with a 0."""
    lines = ["Nummer;Name;Rechtswert;Hochwert;Umfang_cm;Kosten_EUR;PLZ;gefaellt"]
    for n, (key, (x, y)) in enumerate((points or TREES).items()):
        east, north = f"{x:.3f}".replace(".", ","), f"{y:.3f}".replace(".", ",")
        lines.append(f"{key};{NAMES.get(key, key)};{east};{north};{80 + n};1.234,{n}0;0422{n};{n == 1}")
    return "\r\n".join(lines) + "\r\n"


def write(path: Path, text: str, encoding: str = "utf-8", gzipped: bool = False) -> Path:
    data = text.encode(encoding)
    path.write_bytes(gzip.compress(data) if gzipped else data)
    return path


def test_a_german_gzipped_cp1252_csv_in_25833(anonymous: TestClient, engine: Engine, tmp_path: Path) -> None:
    path = write(tmp_path / "baeume.csv.gz", german_csv(), "cp1252", gzipped=True)
    report = import_csv(
        engine, path, INFO, crs="EPSG:25833", encoding="cp1252", id_column="Nummer", progress=False
    )
    assert report.inserted == 3
    trees = stored(engine, "trees")
    assert trees["B-2"]["properties"] == {
        "Nummer": "B-2",
        "Name": "Ahorn am Südplatz",
        "Umfang_cm": 81,
        "Kosten_EUR": 1234.1,
        "PLZ": "04221",  # a leading zero: text, not the number 4221
        "gefaellt": True,
    }
    lon, lat = TO_WGS84.transform(*TREES["B-3"])
    assert trees["B-3"]["geometry"].x == pytest.approx(lon, abs=1e-11)
    assert trees["B-3"]["geometry"].y == pytest.approx(lat, abs=1e-11)
    items = items_in_25833(anonymous, "trees")
    for key, xy in TREES.items():
        assert_millimetres(items[key]["geometry"]["coordinates"], xy)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (["id", "lon", "lat"], ("lon", "lat")),
        (["ID", "Longitude", "Latitude"], ("Longitude", "Latitude")),
        (["x", "y", "name"], ("x", "y")),
        (["Rechtswert", "Hochwert"], ("Rechtswert", "Hochwert")),
        (["Betreiber", "Breitengrad", "Längengrad"], ("Längengrad", "Breitengrad")),
        (["Laengengrad", "Breitengrad"], ("Laengengrad", "Breitengrad")),
        # the federal charging point register writes the unit after the name
        (["Längengrad [DG]", "Breitengrad [DG]"], ("Längengrad [DG]", "Breitengrad [DG]")),
        (["Rechtswert (m)", "Hochwert (m)"], ("Rechtswert (m)", "Hochwert (m)")),
        (["Name", "Länge", "Breite"], ("Länge", "Breite")),
        (["standort_laengengrad", "standort_breitengrad"], ("standort_laengengrad", "standort_breitengrad")),
        (["stop_id", "stop_name", "stop_lat", "stop_lon"], ("stop_lon", "stop_lat")),
        (["name", "WKT"], "WKT"),
        (["name", "strasse"], None),
    ],
)
def test_coordinate_columns_are_detected(header: list[str], expected: object) -> None:
    assert detect_columns(header) == expected


@pytest.mark.parametrize(
    ("text", "decimal", "expected"),
    [
        ("51.3429", None, 51.3429),
        ("51,3429", None, 51.3429),
        ("1.234,5", None, 1234.5),
        ("1.234", None, 1.234),
        ("1.234", ",", 1234.0),
        ("12,5", ".", None),
        ("-3e2", None, -300.0),
        ("abc", None, None),
    ],
)
def test_numbers_with_decimal_commas(text: str, decimal: str | None, expected: float | None) -> None:
    assert parse_number(text, decimal) == expected


def test_lon_lat_with_commas_is_wgs84_without_a_crs(engine: Engine, tmp_path: Path) -> None:
    text = "name,lon,lat,art\nLinde,12.3767151,51.3429185,Tilia\nLeer,,,\n"
    crs, rows = read_csv(write(tmp_path / "t.csv", text))
    assert crs.to_string() == "OGC:CRS84"
    assert rows[0].bounds == (12.3767151, 51.3429185, 12.3767151, 51.3429185)
    assert rows[0].key == "1" and rows[1].wkb is None  # a row without a location has no geometry
    assert rows[1].properties == {"name": "Leer", "art": None}


def test_german_coordinate_names_with_decimal_commas(tmp_path: Path) -> None:
    # As the federal register of charging points writes them: latitude first, `;`, decimal comma.
    text = "Betreiber;Breitengrad;Längengrad\nStadtwerke;51,344799;12,379215\n"
    crs, rows = read_csv(write(tmp_path / "register.csv", text))
    assert crs.to_string() == "OGC:CRS84"
    assert rows[0].bounds == (12.379215, 51.344799, 12.379215, 51.344799)


def test_tab_and_pipe_delimiters_and_wkt(engine: Engine, tmp_path: Path) -> None:
    tab = write(tmp_path / "t.tsv", "id\tx\ty\nA\t13.1\t51.2\n")
    assert read_csv(tab, id_column="id")[1][0].bounds == (13.1, 51.2, 13.1, 51.2)
    pipe = write(tmp_path / "p.csv", "id|geometry\nA|LINESTRING (12 51, 13 52)\n")
    assert read_csv(pipe, id_column="id")[1][0].bounds == (12.0, 51.0, 13.0, 52.0)


def test_importing_twice_changes_nothing_and_a_changed_file_updates_what_changed(
    engine: Engine, tmp_path: Path
) -> None:
    path = write(tmp_path / "t.csv", german_csv())
    options = {"crs": "EPSG:25833", "id_column": "Nummer", "progress": False}
    import_csv(engine, path, INFO, **options)
    before = snapshot(engine)
    report = import_csv(engine, path, INFO, **options)
    assert (report.inserted, report.updated, report.unchanged) == (0, 0, 3)
    assert snapshot(engine) == before
    write(path, german_csv({**TREES, "B-1": (316000.124, 5690000.456), "B-9": (316100.0, 5690100.0)}))
    report = import_csv(engine, path, INFO, **options)
    assert (report.inserted, report.updated, report.unchanged) == (1, 1, 2)
    assert count(engine, "trees") == 4


def test_text_columns_and_untyped_import(tmp_path: Path) -> None:
    path = write(tmp_path / "t.csv", "lon,lat,nr,wert\n12.1,51.1,17,2.5\n")
    assert read_csv(path)[1][0].properties == {"nr": 17, "wert": 2.5}
    assert read_csv(path, text_columns=["nr"])[1][0].properties == {"nr": "17", "wert": 2.5}
    assert read_csv(path, infer_types=False)[1][0].properties == {"nr": "17", "wert": "2.5"}


@pytest.mark.parametrize(
    ("text", "options", "expected"),
    [
        (
            german_csv().replace("5691000,251", "abc"),
            {"id_column": "Nummer", "crs": "EPSG:25833"},
            "feature 1 (id 'B-2', line 3): field 'Hochwert': not a coordinate: 'abc'",
        ),
        (
            german_csv(),
            {"id_column": "Nummer"},
            "feature 0 (id 'B-1', line 2): field 'Rechtswert': coordinates (316000, 5.69e+06) are not",
        ),
        (
            german_csv().replace("B-3;", "B-1;"),
            {"id_column": "Nummer", "crs": "EPSG:25833"},
            "feature 2 (id 'B-1', line 4): field 'Nummer': the same id as feature 0",
        ),
        (
            german_csv().replace("B-2;", ";"),
            {"id_column": "Nummer", "crs": "EPSG:25833"},
            "feature 1 (line 3): field 'Nummer': expected a string or number as the feature's id",
        ),
        (
            german_csv().replace(";80;", ";80;;"),
            {"crs": "EPSG:25833"},
            "feature 0 (line 2): field 'row': 9 cells for 8 columns (delimiter ';')",
        ),
        (german_csv(), {"id_column": "Baum"}, "field 'Baum': no such column (the id column)"),
        (german_csv(), {"x_column": "Rechtswert"}, "field 'x/y': name both coordinate columns or neither"),
        ("name;strasse\nLinde;Brühl\n", {}, "field 'header': no coordinate columns found"),
        ("", {}, "field 'header': the file is empty"),
        ("lon,lon,lat\n1,2,3\n", {}, "field 'header': column 'lon' appears more than once"),
        (german_csv(), {"crs": "EPSG:25833", "decimal": ";"}, "field 'decimal': expected ',' or '.'"),
        (german_csv(), {"crs": "EPSG:99999"}, "field 'crs': not a CRS pyproj knows"),
    ],
)
def test_errors_name_file_feature_and_field(
    engine: Engine, tmp_path: Path, text: str, options: dict, expected: str
) -> None:
    path = write(tmp_path / "fehler.csv", text)
    with pytest.raises(ImportFailure) as error:
        import_csv(engine, path, INFO, progress=False, **options)
    assert str(error.value).startswith(f"{path}: ") and expected in str(error.value)
    assert count(engine) == 0


def test_a_wrong_encoding_is_named(tmp_path: Path) -> None:
    path = write(tmp_path / "ansi.csv", german_csv(), "cp1252")
    with pytest.raises(ImportFailure, match=r"ansi.csv: field 'encoding': the file is not utf-8-sig"):
        read_csv(path, crs="EPSG:25833")
    assert read_csv(path, crs="EPSG:25833", encoding="cp1252")[1][1].properties["Name"] == NAMES["B-2"]
