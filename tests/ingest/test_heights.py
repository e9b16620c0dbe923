"""Estimated heights for the buildings an import has without one: by type, typical, neighbours, import."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
import shapely
from typer.testing import CliRunner

from tests.ingest.conftest import stored
from urbantwin.ingest.cli import import_app
from urbantwin.ingest.heights import HeightEstimate, estimate_heights
from urbantwin.ingest.pipeline import Row
from urbantwin.settings import Settings
from urbantwin.store.engine import make_engine

#: Degrees per metre near 51.34° N (a few metres' error over a kilometre is of no matter here).
LAT_M = 1 / 111_320
LON_M = 1 / 69_560
ORIGIN = (12.37, 51.34)


def building(key: str, east_m: float, north_m: float, kind: str = "yes", height: float | None = None) -> Row:
    """A 10 m × 10 m footprint whose south-west corner lies east_m, north_m from the origin."""
    lon, lat = ORIGIN[0] + east_m * LON_M, ORIGIN[1] + north_m * LAT_M
    square = shapely.box(lon, lat, lon + 10 * LON_M, lat + 10 * LAT_M)
    properties: dict[str, Any] = {"building": kind}
    return Row(key, properties, shapely.to_wkb(square), square.bounds, height, None, None)


def town() -> dict[str, Row]:
    """Five apartment blocks with heights in one street, low garden houses elsewhere, gaps to fill."""
    rows = [
        building("a1", 0, 0, "apartments", 12.0),
        building("a2", 20, 0, "apartments", 15.0),
        building("a3", 40, 0, "apartments", 15.0),
        building("a4", 60, 0, "apartments", 18.0),
        building("a5", 80, 0, "apartments", 21.0),
        building("h1", 1000, 1000, "house", 6.0),
        building("h2", 1020, 1000, "house", 7.0),
        building("h3", 1040, 1000, "house", 9.0),
        # without heights:
        building("apartment-far", 5000, 0, "apartments"),  # the type's median, wherever it is
        building("garage", 30, 30, "garage"),  # no garage with a height: a typical one-storey one
        building("yes-in-the-street", 40, 30),  # a generic type: its neighbours
        building("house-among-houses", 1030, 1030, "house"),  # 3 houses: too few for a type median
        building("church", 60, 40, "church"),  # no sample, no typical height: its neighbours
        building("alone", 3000, 3000),  # nothing within 100 m: the import's median
    ]
    return {row.key: row for row in rows}


def test_each_missing_height_is_estimated_the_documented_way_and_labelled() -> None:
    rows = town()
    report = estimate_heights(list(rows.values()))
    assert report.known == 8
    assert dict(report.estimated) == {"type": 1, "typical": 1, "neighbours": 3, "import": 1}
    assert report.summary() == (
        "6 heights estimated (1 by import, 3 by neighbours, 1 by type, 1 by typical; 8 known)"
    )
    expected = {
        "apartment-far": (15.0, "estimated: median height of the 5 'apartments' buildings with a height"),
        "garage": (3.0, "estimated: typical height of a one-storey 'garage'"),
        # a1–a5 lie within 100 m of (40, 30): 12, 15, 15, 18, 21 → 15
        "yes-in-the-street": (15.0, "estimated: median height of the 5 buildings with a height within 100 m"),
        # houses 6, 7, 9 within 100 m
        "house-among-houses": (7.0, "estimated: median height of the 3 buildings with a height within 100 m"),
        # a2–a5 lie within 100 m of (60, 40) (a1's centroid is 67 m away: within too): all five
        "church": (15.0, "estimated: median height of the 5 buildings with a height within 100 m"),
        # the median of 6, 7, 9, 12, 15, 15, 18, 21
        "alone": (13.5, "estimated: median height of the 8 buildings of the import with a height"),
    }
    for key, (height, label) in expected.items():
        row = rows[key]
        assert (row.height, row.properties["height_source"]) == (height, label), key
        assert row.properties["height_estimated"] is True
        assert row.properties["height_estimate_m"] == height


def test_a_known_height_is_never_changed_nor_labelled() -> None:
    rows = town()
    before = {key: (row.height, dict(row.properties)) for key, row in rows.items() if row.height is not None}
    estimate_heights(list(rows.values()))
    assert {key: (rows[key].height, rows[key].properties) for key in before} == before


def test_the_parameters_change_the_choice() -> None:
    rows = town()
    # With a type median from 3 buildings on, the house among houses takes its type's median (7).
    estimate_heights(list(rows.values()), HeightEstimate(min_type_sample=3, radius_m=10))
    assert (
        rows["house-among-houses"]
        .properties["height_source"]
        .startswith("estimated: median height of the 3 'house' buildings")
    )
    # Within 10 m there are no neighbours: the generic building in the street takes the import's median.
    assert rows["yes-in-the-street"].height == 13.5


def test_points_and_rows_without_geometry_are_not_buildings() -> None:
    point = Row("p", {"building": "yes"}, shapely.to_wkb(shapely.Point(*ORIGIN)), None, None, None, None)
    empty = Row("e", {}, None, None, None, None, None)
    report = estimate_heights([point, empty, building("b", 0, 0, height=9.0)])
    assert (report.not_areas, report.known, sum(report.estimated.values())) == (2, 1, 0)
    assert point.height is None and "height_source" not in point.properties
    assert report.summary() == "no height estimated (1 known)"


def test_nothing_known_nothing_estimated() -> None:
    rows = [building("a", 0, 0), building("b", 20, 0, "garage")]
    report = estimate_heights(rows)
    assert sum(report.estimated.values()) == 0 and all(row.height is None for row in rows)


@pytest.mark.parametrize("estimate", [False, True])
def test_the_geojson_import_estimates_heights_when_asked(tmp_path: Path, estimate: bool) -> None:
    def feature(row: Row) -> dict[str, Any]:
        properties = dict(row.properties)
        if row.height is not None:
            properties["height"] = row.height
        geometry = shapely.geometry.mapping(shapely.from_wkb(row.wkb))
        return {"type": "Feature", "id": row.key, "properties": properties, "geometry": geometry}

    path = tmp_path / "buildings.geojson"
    document = {"type": "FeatureCollection", "features": [feature(row) for row in town().values()]}
    path.write_bytes(orjson.dumps(document))
    url = f"sqlite:///{tmp_path / 'h.sqlite'}"
    options = ["--estimate-heights"] if estimate else []
    answer = CliRunner().invoke(
        import_app,
        ["geojson", str(path), "--collection", "buildings", "--database-url", url, "--licence", "CC0"]
        + options,
    )
    assert answer.exit_code == 0, answer.output
    engine = make_engine(Settings(database_url=url))
    try:
        found = stored(engine, "buildings")
    finally:
        engine.dispose()
    assert found["a2"]["height"] == 15.0
    if estimate:
        assert "14 inserted, 0 updated, 0 unchanged; 6 heights estimated" in answer.stdout
        assert found["garage"]["height"] == 3.0
        garage = found["garage"]["properties"]["height_source"]
        assert garage == "estimated: typical height of a one-storey 'garage'"
    else:
        assert "estimated" not in answer.stdout
        assert found["garage"]["height"] is None and "height_source" not in found["garage"]["properties"]
