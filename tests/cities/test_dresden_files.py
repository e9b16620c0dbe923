"""The Dresden data set in cities/dresden/ says what SOURCES.md says of it, so it cannot rot unseen.

Every file SOURCES.md names exists and no file goes unnamed; the byte-for-byte copies keep their
SHA-256; the Stadtteile are valid polygons inside the profile's extent with the population of the
table beside them; the air quality files keep the LfULG layout (units line, end-of-hour MEZ stamps)
with the rows and time range stated; the charging register keeps its German columns.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
import tomllib
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
import shapely
from shapely.geometry import shape

CITY = Path(__file__).resolve().parents[2] / "cities" / "dresden"
SOURCES = CITY / "SOURCES.md"
YEARS = (2020, 2022, 2024)

#: Files copied unchanged from their source repository, with their SHA-256.
COPIES = {
    "luftqualitaet/joint/2019/01/Dresden-Nord.csv": (
        "f7587ca92943d538c2ab98121764de8355cbba00a5e7c3f94c22fee9db4d7bd5"
    ),
    "luftqualitaet/joint/2019/01/Dresden-Bergstraße.csv": (
        "6147855c5d27809ba09dbece6f36043e23ca3f2134c5c2331cb987867e96cf86"
    ),
    "luftqualitaet/joint/2019/01/Dresden-Winckelmannstr..csv": (
        "2cb8ba6c03f74b6c6624a6a910a2a74b6742faf048d979de21995efacbf0ae84"
    ),
    "luftqualitaet/joint/2019/02/Dresden-Nord.csv": (
        "1a88b84694c7d4942746c707d462405fa0aa5e66b4d9cd221d1c16d32d8eebf4"
    ),
    "luftqualitaet/joint/2019/02/Dresden-Bergstraße.csv": (
        "6d2e8a1f619a071af91ada7c159da03f48a2a6fd221445667b1c7406941f6669"
    ),
    "luftqualitaet/joint/2019/02/Dresden-Winckelmannstr..csv": (
        "01be1c3dc38f90cdd654ca62bdcb7880f2472e1524eeb9a92ddb0d4bf462d669"
    ),
    "luftqualitaet/raw/2019/02/Dresden-Nord,NO2.csv": (
        "0ae71790a81c40eaa74c97b17405e950042bcff08d7ba173a98c31577c21795a"
    ),
    "luftqualitaet/raw/2019/02/Dresden-Bergstraße,NO2.csv": (
        "7ec13a6f82d0ebddc6a2f0f3edcf11e837ddf26f9cd9cf418170854c16bf4c9b"
    ),
    "luftqualitaet/raw/2019/02/Dresden-Winckelmannstr.,NO2.csv": (
        "a38ba04337528b19b450b3ba5bba6b41f784492281a2263f9d0344ca265b44c0"
    ),
    "luftqualitaet/cams_pm25_daily_forecast_DD-Nord.csv": (
        "a7bbee9aaf6fd9eab89de993a94594ab9aea054637741ad4c017bc5238190061"
    ),
}

#: Hourly and daily data rows of the joint files (SOURCES.md), by month and station.
JOINT_ROWS = {
    ("2019/01", "Dresden-Nord"): (744, 15),
    ("2019/01", "Dresden-Bergstraße"): (744, 15),
    ("2019/01", "Dresden-Winckelmannstr."): (744, 15),
    ("2019/02", "Dresden-Nord"): (672, 14),
    ("2019/02", "Dresden-Bergstraße"): (670, 14),
    ("2019/02", "Dresden-Winckelmannstr."): (672, 14),
}
STATIONS = ("Dresden-Bergstraße", "Dresden-Nord", "Dresden-Winckelmannstr.")
#: Residents per year, the sum over the Stadtteile (SOURCES.md).
CITY_TOTALS = {2020: 561_119, 2022: 566_304, 2024: 571_789}


def _rows(name: str) -> list[list[str]]:
    with open(CITY / name, encoding="utf-8", newline="") as handle:
        return [row for row in csv.reader(handle) if row]


def _geojson(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((CITY / name).read_text(encoding="utf-8"))
    assert data["type"] == "FeatureCollection"
    return data


def _profile() -> dict[str, Any]:
    with open(CITY / "city.toml", "rb") as handle:
        return tomllib.load(handle)


def test_every_file_is_listed_in_sources_and_every_listed_file_exists() -> None:
    listed = set(re.findall(r"^## `([^`]+)`$", SOURCES.read_text(encoding="utf-8"), flags=re.MULTILINE))
    present = {
        path.relative_to(CITY).as_posix()
        for path in CITY.rglob("*")
        if path.is_file() and path.name not in ("SOURCES.md", "city.toml")
    }
    assert listed == present
    assert set(COPIES) <= listed


@pytest.mark.parametrize("name", sorted(COPIES))
def test_copies_are_byte_for_byte_the_source_files(name: str) -> None:
    assert hashlib.sha256((CITY / name).read_bytes()).hexdigest() == COPIES[name]


def test_the_folder_stays_small() -> None:
    assert sum(path.stat().st_size for path in CITY.rglob("*") if path.is_file()) < 2_000_000


def test_profile_names_the_city_its_crs_and_the_district_collection() -> None:
    profile = _profile()
    assert profile["city"]["id"] == "dresden"
    assert profile["city"]["crs"][0] == "EPSG:25833"
    assert profile["publisher"]["id"] == "stadt-dresden"
    (districts,) = profile["districts"]
    assert districts["collection"] == "stadtteile"
    assert districts["name_property"] == "name"
    assert districts["population_property"] == "population_{year}"
    # Every licence of SOURCES.md is in the attribution.
    for licence in ("dl-de/by-2-0", "CC BY 4.0", "Copernicus", "LfULG"):
        assert licence in profile["city"]["attribution"]


def test_stadtteile_are_valid_polygons_inside_the_profile_extent() -> None:
    features = _geojson("stadtteile.geojson")["features"]
    assert len(features) == 64
    geometries = [shape(feature["geometry"]) for feature in features]
    assert all(
        g.geom_type in ("Polygon", "MultiPolygon") and g.is_valid and not g.is_empty for g in geometries
    )
    numbers = [feature["properties"]["nr"] for feature in features]
    assert len(set(numbers)) == 64 and all(re.fullmatch(r"\d\d", nr) for nr in numbers)
    assert all(feature["properties"]["name"] for feature in features)
    assert all(f["properties"]["stadtbezirk_nr"] == f["properties"]["nr"][0] for f in features)
    assert len({(f["properties"]["stadtbezirk_nr"], f["properties"]["stadtbezirk"]) for f in features}) == 10
    west, south, east, north = _profile()["city"]["extent"]
    minx, miny, maxx, maxy = shapely.union_all(geometries).bounds
    assert west <= minx < maxx <= east and south <= miny < maxy <= north
    assert sum(feature["properties"]["area_km2"] for feature in features) == pytest.approx(328.48, abs=0.01)


def test_stadtteile_carry_the_population_of_the_table() -> None:
    features = _geojson("stadtteile.geojson")["features"]
    table = {(int(row["jahr"]), row["nr"]): row for row in _dict_rows("einwohner_stadtteile_2020-2024.csv")}
    assert len(table) == 183
    without = sorted(f["properties"]["nr"] for f in features if f["properties"]["population_2020"] is None)
    assert without == ["33", "34", "44"]
    for year in YEARS:
        total = 0
        for feature in features:
            props = feature["properties"]
            row = table.get((year, props["nr"]))
            if row is None:
                assert props[f"population_{year}"] is None
                continue
            parts = [
                int(row[c])
                for c in (
                    "maennlich_deutsche",
                    "maennlich_auslaender",
                    "weiblich_deutsche",
                    "weiblich_auslaender",
                )
            ]
            assert sum(parts) == int(row["einwohner"]) == props[f"population_{year}"]
            assert row["name"] == props["name"]
            total += props[f"population_{year}"]
        assert total == CITY_TOTALS[year]


def _dict_rows(name: str) -> list[dict[str, str]]:
    with open(CITY / name, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.mark.parametrize(("month", "station"), sorted(JOINT_ROWS))
def test_joint_files_keep_the_lfulg_layout_rows_and_time_range(month: str, station: str) -> None:
    header, units, *data = _rows(f"luftqualitaet/joint/{month}/{station}.csv")
    assert header[:2] == ["Datum", "Zeit"] and {"NO2", "PM10_TEOM", "O3"} <= set(header)
    assert units[:2] == ["yyyy-mm-dd", "hh:mm"]
    assert units[header.index("NO2")] == "µg/m³"
    assert all(len(row) == len(header) for row in data)
    hourly = [datetime.fromisoformat(f"{row[0]}T{row[1]}") for row in data if row[1]]
    daily = [row for row in data if not row[1]]
    assert (len(hourly), len(daily)) == JOINT_ROWS[(month, station)]
    # End-of-hour stamps: 01:00 on the 1st of the month .. 00:00 on the 1st of the next one.
    year, number = (int(part) for part in month.split("/"))
    first = datetime(year, number, 1, 1)
    last = datetime(year + number // 12, number % 12 + 1, 1)
    assert hourly[0] == first and hourly[-1] == last
    assert hourly == sorted(set(hourly))
    for row in data:
        for value in row[2:]:
            if value:
                float(value)  # decimal point, no "n. def."


@pytest.mark.parametrize("station", STATIONS)
def test_raw_files_keep_the_download_layout(station: str) -> None:
    header, units, *data = _rows(f"luftqualitaet/raw/2019/02/{station},NO2.csv")
    assert header == ["Datum Zeit", f"{station} NO2"]
    assert units == ["", "µg/m³"]
    stamps = [datetime.strptime(row[0], "%d-%m-%y %H:%M") for row in data]
    assert len(stamps) == 672
    assert stamps[0] == datetime(2019, 3, 1) and stamps[-1] == datetime(2019, 2, 1, 1)
    assert stamps == sorted(stamps, reverse=True)
    assert (CITY / f"luftqualitaet/raw/2019/02/{station},NO2.csv").read_bytes().count(b"\r\n") >= 674


def test_stations_are_named_as_the_files_and_lie_in_stadtteile() -> None:
    stations = _geojson("luftqualitaet/lfulg_stationen_dresden.geojson")["features"]
    assert sorted(f["properties"]["name"] for f in stations) == list(STATIONS)
    districts = [
        (f["properties"]["name"], shape(f["geometry"])) for f in _geojson("stadtteile.geojson")["features"]
    ]
    found = {}
    for station in stations:
        assert station["geometry"]["type"] == "Point"
        point = shape(station["geometry"])
        found[station["properties"]["name"]] = [name for name, area in districts if area.contains(point)]
    assert found == {
        "Dresden-Bergstraße": ["Räcknitz/Zschertnitz"],
        "Dresden-Nord": ["Innere Neustadt"],
        "Dresden-Winckelmannstr.": ["Südvorstadt-West"],
    }


def test_cams_forecast_is_daily_model_data_for_two_years() -> None:
    header, *data = _rows("luftqualitaet/cams_pm25_daily_forecast_DD-Nord.csv")
    assert header == ["date", "ENSEMBLE", "EURAD-IM"]
    days = [date.fromisoformat(row[0]) for row in data]
    assert len(days) == 732 and days[0] == date(2020, 1, 1) and days[-1] == date(2022, 1, 1)
    assert all(float(row[1]) >= 0 and float(row[2]) >= 0 for row in data)


def test_charging_register_keeps_its_german_columns_and_dresden_rows() -> None:
    with open(CITY / "ladesaeulenregister_dresden_2019-07-19.csv", encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter=";"))
    assert len(rows) == 24
    assert {"Betreiber", "Adresse", "Postleitzahl Ort", "Längengrad [DG]", "Breitengrad [DG]"} <= set(rows[0])
    assert all(row["Postleitzahl Ort"].split(" ", 1)[1] == "Dresden" for row in rows)
    kinds = [row["Art der Ladeeinrichtung"] for row in rows]
    assert kinds.count("Normalladeeinrichtung") == 16 and kinds.count("Schnellladeeinrichtung") == 8
    assert sum(int(row["Anzahl Ladepunkte"]) for row in rows) == 67
    commissioned = sorted(date.fromisoformat(row["Inbetriebnahmedatum"]) for row in rows)
    assert commissioned[0] == date(2016, 6, 28) and commissioned[-1] == date(2019, 4, 17)
    west, south, east, north = _profile()["city"]["extent"]
    outside = [
        row["Adresse"]
        for row in rows
        if not (
            west <= float(row["Längengrad [DG]"]) <= east and south <= float(row["Breitengrad [DG]"]) <= north
        )
    ]
    assert outside == ["Wigardstraße 2"]  # as published, see SOURCES.md
