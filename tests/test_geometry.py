"""The one geometry validation of every API and importer: structure, ranges per CRS, validity."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import shapely

from urbantwin.geometry import (
    GeometryError,
    check_geometry,
    check_lonlat,
    crs_of,
    from_geojson,
    invalid,
    lonlat_area,
    outside_area,
    validity_problem,
)

UTM33 = crs_of("EPSG:25833")


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ("POINT(1 2)", "expected a GeoJSON geometry object, got a string"),
        ({"type": "Foo", "coordinates": [1, 2]}, "unknown geometry type 'Foo'; expected one of Point, "),
        ({"coordinates": [1, 2]}, "unknown geometry type null"),
        ({"type": "Point"}, "a Point needs 'coordinates', one position [x, y] or [x, y, z]"),
        ({"type": "Point", "coordinates": ["x", 1]}, "the coordinates of a Point must be one position"),
        ({"type": "Point", "coordinates": [True, 1]}, "the coordinates of a Point must be"),
        ({"type": "Point", "coordinates": [1, 2, 3, 4]}, "the coordinates of a Point must be"),
        ({"type": "LineString", "coordinates": [[1, 2]]}, "an array of at least 2 positions"),
        (
            {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 1]]]},
            "each an array of at least 4 positions whose first and last are the same",
        ),
        ({"type": "GeometryCollection"}, "a GeometryCollection needs 'geometries'"),
        (
            {"type": "GeometryCollection", "geometries": [{"type": "Foo"}]},
            "unknown geometry type 'Foo' (member 0 of a GeometryCollection)",
        ),
        ({"type": "Point", "coordinates": []}, "the geometry is empty"),
    ],
)
def test_structure_is_checked_in_our_words(document: Any, message: str) -> None:
    with pytest.raises(GeometryError) as caught:
        from_geojson(document)
    assert message in str(caught.value)
    assert "GEOS" not in str(caught.value) and "Exception" not in str(caught.value)


def test_a_well_formed_geometry_is_taken_with_its_z() -> None:
    geometry = from_geojson({"type": "Point", "coordinates": [12.37, 51.34, 110.5]})
    assert (geometry.x, geometry.y, geometry.z) == (12.37, 51.34, 110.5)
    assert from_geojson({"type": "MultiPoint", "coordinates": []}, allow_empty=True).is_empty


@pytest.mark.parametrize(
    ("lon", "lat", "message"),
    [
        (12.37, 95, "latitude 95 is out of range (−90 to 90)"),
        (400, 51.34, "longitude 400 is out of range (−180 to 180)"),
        (-180.5, 0, "longitude -180.5 is out of range"),
    ],
)
def test_wgs84_ranges(lon: float, lat: float, message: str) -> None:
    with pytest.raises(GeometryError, match=message.replace("(", r"\(").replace(")", r"\)")):
        check_lonlat(shapely.Point(lon, lat))
    check_lonlat(shapely.Point(180, -90))


def test_a_projected_crs_takes_its_area_of_use_widened() -> None:
    west, south, east, north = lonlat_area(UTM33)
    assert (west, east) == (9.0, 21.01)  # 12°E to 18°E, three degrees either side
    check_lonlat(shapely.Point(12.37, 51.34), UTM33)  # the city in its own zone
    check_lonlat(shapely.Point(10.0, 53.55), UTM33)  # west of the zone, still within the margin
    with pytest.raises(GeometryError, match="outside the area of use of ETRS89 / UTM zone 33N"):
        check_lonlat(shapely.Point(-3.7, 40.4), UTM33)
    assert lonlat_area(crs_of("EPSG:4326")) == (-180.0, -90.0, 180.0, 90.0)


def test_outside_area_flags_each_geometry_of_an_array() -> None:
    geometries = np.array([shapely.Point(12, 51), None, shapely.Point(12, 95), shapely.Point(-3, 40)])
    assert outside_area(geometries).tolist() == [False, False, True, False]
    assert outside_area(geometries, UTM33).tolist() == [False, False, True, True]


def test_validity_is_explained_in_our_words() -> None:
    bowtie = shapely.from_wkt("POLYGON ((0 0, 1 1, 1 0, 0 1, 0 0))")
    assert validity_problem(bowtie) == "the geometry is not valid: its boundary crosses itself near (0.5 0.5)"
    with pytest.raises(GeometryError, match="its boundary crosses itself"):
        check_geometry(bowtie)
    hole_outside = shapely.Polygon([(0, 0), (1, 0), (1, 1), (0, 1)], [[(2, 2), (3, 2), (3, 3), (2, 2)]])
    assert "a hole lies outside its polygon" in validity_problem(hole_outside)
    check_geometry(shapely.from_wkt("LINESTRING (0 0, 1 1, 1 0, 0 1)"))  # a crossing line is valid


def test_a_line_of_length_zero_is_taken_but_a_degenerate_area_is_not() -> None:
    # Real network data links two devices at one place: a line whose two positions coincide.
    link = shapely.from_wkt("LINESTRING (12.374388 51.307891, 12.374388 51.307891)")
    check_geometry(link)
    check_geometry(shapely.MultiLineString([link, shapely.LineString([(12, 51), (12.1, 51)])]))
    sliver = shapely.from_wkt("POLYGON ((12 51, 12 51, 12 51, 12 51))")
    with pytest.raises(GeometryError, match="the geometry is not valid"):
        check_geometry(sliver)
    geometries = np.array([link, sliver, None, shapely.Point(12, 51)])
    assert invalid(geometries).tolist() == [False, True, False, False]
    assert "a ring or line has too few distinct positions" in validity_problem(sliver)
