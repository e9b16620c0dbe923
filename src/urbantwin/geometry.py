"""One validation of geometries for every API and importer: structure, coordinate ranges, validity.

A geometry enters the platform through SensorThings (Locations, FeaturesOfInterest), OGC API Features
writes, CQL2 filter literals and the importers; all of them ask this module, so a geometry gets the
same answer everywhere and on both backends (the database is never the first to notice):

- structure: a GeoJSON geometry object of a known `type` whose coordinates nest as that type needs;
- ranges: coordinates are finite and, in WGS 84, longitude −180…180 and latitude −90…90; a geometry
  given in a projected CRS (EPSG:25833) must lie in that CRS's area of use (pyproj knows it), widened
  by a margin, since data near a zone's edge is commonly kept in the neighbouring zone's CRS;
- validity: the OGC simple-feature rules (no self-intersecting polygon): PostGIS and shapely answer
  spatial predicates on an invalid geometry differently, so none is stored.

Problems are `GeometryError`s in the platform's words (never GEOS's text); each caller says where
(`Location location: …`, `feature 3 (id 'a'): field 'geometry': …`).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np
import orjson
import shapely
from pyproj import CRS

#: What the coordinates of each GeoJSON geometry type are, for messages.
_COORDINATES = {
    "Point": "one position [x, y] or [x, y, z]",
    "MultiPoint": "an array of positions",
    "LineString": "an array of at least 2 positions",
    "MultiLineString": "an array of lines, each an array of at least 2 positions",
    "Polygon": "an array of rings, each an array of at least 4 positions whose first and last are the same",
    "MultiPolygon": "an array of polygons, each an array of rings of at least 4 positions, closed",
}
GEOMETRY_TYPES = (*_COORDINATES, "GeometryCollection")
#: Degrees by which a projected CRS's area of use is widened (half a UTM zone's width).
AREA_MARGIN_DEGREES = 3.0
WORLD = (-180.0, -90.0, 180.0, 90.0)

#: GEOS's reasons of invalidity (`is_valid_reason`) in the platform's words.
_REASONS = {
    "Self-intersection": "its boundary crosses itself",
    "Ring Self-intersection": "one of its rings crosses itself",
    "Too few points": "a ring or line has too few distinct positions",
    "Hole lies outside shell": "a hole lies outside its polygon",
    "Nested holes": "a hole lies inside another hole",
    "Interior is disconnected": "a hole divides the polygon's interior",
    "Nested shells": "one polygon lies inside another of the same multipolygon",
    "Duplicate Rings": "a ring is given twice",
    "Invalid Coordinate": "a coordinate is not a finite number",
    "Ring is not closed": "a ring does not end where it starts",
}


#: shapely's type ids of lines and multilines.
_LINEAL = (1, 2, 5)


class GeometryError(ValueError):
    """A geometry that cannot be taken; the message says why, without saying where (the caller does)."""


def from_geojson(document: Any, *, allow_empty: bool = False) -> shapely.Geometry:
    """A shapely geometry from a GeoJSON geometry object, checked for structure and finite numbers.

    Coordinates are taken as they are given (no CRS is assumed here): check the ranges with
    `check_lonlat` once they are in WGS 84.
    """
    _check_structure(document)
    try:
        geometry = shapely.from_geojson(orjson.dumps(document))
    except (shapely.errors.GEOSException, ValueError, TypeError, orjson.JSONEncodeError):
        raise GeometryError(_malformed(document)) from None
    if geometry is None or (geometry.is_empty and not allow_empty):
        raise GeometryError("the geometry is empty")
    if not np.isfinite(shapely.get_coordinates(geometry, include_z=bool(shapely.has_z(geometry)))).all():
        raise GeometryError("the geometry has coordinates that are not finite numbers")
    return geometry


def _check_structure(document: Any, within: str = "") -> None:
    """The parts of GeoJSON that GEOS's reader would reject only in its own words, in ours."""
    if not isinstance(document, dict):
        raise GeometryError(f"expected a GeoJSON geometry object{within}, got {_kind(document)}")
    kind = document.get("type")
    if kind not in GEOMETRY_TYPES:
        shown = repr(kind) if isinstance(kind, str) else _kind(kind)
        raise GeometryError(
            f"unknown geometry type {shown:.60}{within}; expected one of {', '.join(GEOMETRY_TYPES)}"
        )
    if kind == "GeometryCollection":
        members = document.get("geometries")
        if not isinstance(members, list | tuple):
            raise GeometryError(f"a GeometryCollection{within} needs 'geometries', an array of geometries")
        for index, member in enumerate(members):
            _check_structure(member, f" (member {index} of a GeometryCollection)")
        return
    if not isinstance(document.get("coordinates"), list | tuple):
        raise GeometryError(f"a {kind}{within} needs 'coordinates', {_COORDINATES[kind]}")


def _malformed(document: dict[str, Any]) -> str:
    kind = document["type"]
    if kind == "GeometryCollection":
        return "the coordinates of a member of the GeometryCollection are not well formed"
    return f"the coordinates of a {kind} must be {_COORDINATES[kind]}, with numbers for x, y (and z)"


@lru_cache(maxsize=64)
def crs_of(name: str) -> CRS:
    """The pyproj CRS of a name: an OGC URI, `EPSG:25833`, a URN or WKT (cached: building one is slow)."""
    return CRS.from_user_input(name)


@lru_cache(maxsize=64)
def lonlat_area(crs: CRS | None) -> tuple[float, float, float, float]:
    """Where coordinates of a geometry given in `crs` may lie, as a WGS 84 box (west, south, east, north).

    The world for geographic CRSs (and when the CRS is not known); a projected CRS's area of use,
    widened by `AREA_MARGIN_DEGREES`.
    """
    if crs is None or crs.is_geographic or crs.area_of_use is None:
        return WORLD
    west, south, east, north = crs.area_of_use.bounds
    if east < west:  # an area across the antimeridian: take all longitudes
        west, east = -180.0, 180.0
    return (
        max(west - AREA_MARGIN_DEGREES, -180.0),
        max(south - AREA_MARGIN_DEGREES, -90.0),
        min(east + AREA_MARGIN_DEGREES, 180.0),
        min(north + AREA_MARGIN_DEGREES, 90.0),
    )


def check_lonlat(geometry: shapely.Geometry, source: CRS | None = None) -> None:
    """`GeometryError` unless the geometry, now in WGS 84 lon/lat, lies where it may (see `lonlat_area`)."""
    coordinates = shapely.get_coordinates(geometry)
    if not len(coordinates):
        return
    if not np.isfinite(coordinates).all():
        raise GeometryError("the geometry has coordinates that are not finite numbers (or outside its CRS)")
    problem = _out_of_range(coordinates, lonlat_area(source), source)
    if problem:
        raise GeometryError(problem)


def _out_of_range(
    coordinates: np.ndarray, area: tuple[float, float, float, float], source: CRS | None
) -> str | None:
    lon, lat = coordinates[:, 0], coordinates[:, 1]
    if area == WORLD:
        bad_lon, bad_lat = np.abs(lon) > 180, np.abs(lat) > 90
        if bad_lat.any():
            return f"latitude {float(lat[bad_lat][0]):g} is out of range (−90 to 90)"
        if bad_lon.any():
            return f"longitude {float(lon[bad_lon][0]):g} is out of range (−180 to 180)"
        return None
    west, south, east, north = area
    outside = (lon < west) | (lon > east) | (lat < south) | (lat > north)
    if outside.any():
        name = source.name if source is not None else "its CRS"
        return (
            f"the geometry lies outside the area of use of {name} (a position at lon "
            f"{float(lon[outside][0]):.4f}, lat {float(lat[outside][0]):.4f})"
        )
    return None


def outside_area(geometries: np.ndarray, source: CRS | None = None) -> np.ndarray:
    """For an array of WGS 84 geometries (None allowed), which lie outside where they may (importers)."""
    coordinates, owner = shapely.get_coordinates(geometries, return_index=True)
    flags = np.zeros(len(geometries), dtype=bool)
    if not len(coordinates):
        return flags
    west, south, east, north = lonlat_area(source)
    lon, lat = coordinates[:, 0], coordinates[:, 1]
    outside = (lon < west) | (lon > east) | (lat < south) | (lat > north)
    flags[owner[outside]] = True
    return flags


def range_problem(geometry: shapely.Geometry, source: CRS | None = None) -> str:
    """The message of `check_lonlat` for one geometry that `outside_area` flagged."""
    try:
        check_lonlat(geometry, source)
    except GeometryError as error:
        return str(error)
    return "the geometry lies outside the area of its CRS"


def invalid(geometries: Any) -> Any:
    """Which geometries (one or an array) break the simple-feature rules in a way that matters.

    Areas must be valid: a self-crossing polygon makes the backends' spatial predicates fail. Lines
    are taken as they are: their one rule is two distinct positions, and a line of length zero (a
    link between two devices at one place, as real network data has) breaks no predicate.
    """
    lineal = np.isin(shapely.get_type_id(geometries), _LINEAL)
    return ~shapely.is_valid(geometries) & ~lineal & ~shapely.is_missing(geometries)


def check_valid(geometry: shapely.Geometry) -> None:
    """`GeometryError` when the geometry breaks the OGC simple-feature rules, saying which and where."""
    if not invalid(geometry):
        return
    raise GeometryError(validity_problem(geometry))


def validity_problem(geometry: shapely.Geometry) -> str:
    """Why a geometry is not valid, in the platform's words (GEOS: `Self-intersection[0.5 0.5]`)."""
    reason = shapely.is_valid_reason(geometry) or ""
    name, _, place = reason.partition("[")
    # GEOS adds detail to some reasons ("Too few points in geometry component"): match the start.
    words = next(
        (ours for theirs, ours in _REASONS.items() if name.strip().startswith(theirs)),
        "it breaks the rules of valid geometries (OGC simple features)",
    )
    at = f" near ({place.rstrip(']')})" if place else ""
    return f"the geometry is not valid: {words}{at}"


def check_geometry(geometry: shapely.Geometry, source: CRS | None = None) -> None:
    """Ranges and validity of a geometry already in WGS 84 (given in `source` before transformation)."""
    check_lonlat(geometry, source)
    check_valid(geometry)


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}.get(
        type(value), "a number" if isinstance(value, int | float) else type(value).__name__
    )


def metric_crs(longitude: float, latitude: float) -> str:
    """The CRS footprint areas and orientations are measured in: the UTM zone of the place, on
    ETRS89 where it is defined (zones 28-38 north, Europe), else on WGS 84."""
    zone = min(int((longitude + 180.0) // 6.0) + 1, 60)
    if latitude >= 0 and 28 <= zone <= 38:
        return f"EPSG:{25800 + zone}"
    return f"EPSG:{(32600 if latitude >= 0 else 32700) + zone}"
