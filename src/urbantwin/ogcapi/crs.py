"""The CRSs the API offers (OGC API - Features Part 2) and the transformations between them.

Coordinates are stored in WGS 84 as lon/lat (CRS84). Output and `bbox-crs` coordinates follow the
axis order of each CRS's definition: EPSG:4326 is lat/lon, EPSG:25832 and EPSG:25833
easting/northing. Which CRSs are offered is the city's choice: CRS84, then the CRSs of its profile
(`city_profile.CityProfile.crs`, any EPSG code pyproj knows), then EPSG:4326 and EPSG:3857.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from functools import lru_cache

import numpy as np
import shapely
from pyproj import CRS, Transformer
from pyproj.exceptions import CRSError

from urbantwin.city_profile import NO_CITY
from urbantwin.errors import BadRequest
from urbantwin.geometry import crs_of

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
_EPSG_URI = "http://www.opengis.net/def/crs/EPSG/0/"


def crs_uri(code: str) -> str:
    """The OGC URI of a profile's CRS code (`OGC:CRS84`, `EPSG:25832`)."""
    if code.upper() in ("OGC:CRS84", "CRS84"):
        return CRS84
    match = re.fullmatch(r"EPSG:(\d+)", code.strip(), flags=re.IGNORECASE)
    if not match:
        raise ValueError(f"not an EPSG code: {code!r}")
    return _EPSG_URI + match.group(1)


def served_crs(codes: Iterable[str]) -> tuple[str, ...]:
    """The URIs of the CRSs to offer, from a profile's list (`CityProfile.served_crs()`)."""
    return tuple(dict.fromkeys(crs_uri(code) for code in codes))


#: What a platform without a city profile offers: the world's CRSs.
SUPPORTED = served_crs(NO_CITY.served_crs())


def _pyproj_name(uri: str) -> str:
    return "OGC:CRS84" if uri == CRS84 else "EPSG:" + uri.rsplit("/", 1)[1]


def parse_crs(value: str | None, parameter: str, supported: tuple[str, ...] = SUPPORTED) -> str:
    """The URI of a supported CRS, however it is spelled: the URI, a `[EPSG:25833]` CURIE,
    `EPSG:25833`, a URN — read by the platform's one CRS parser (`geometry.crs_of`), as importers do."""
    if value is None or value == "":
        return CRS84
    text = value.strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    if text.upper() == "CRS84":
        text = CRS84
    elif re.fullmatch(r"EPSG:\d+", text, flags=re.IGNORECASE):
        text = crs_uri(text)
    text = text.replace("https://", "http://")
    if text in supported:
        return text
    try:
        crs = crs_of(text) if text and len(text) < 2_000 else None
    except CRSError:
        crs = None
    for uri in supported:
        if crs is not None and crs.equals(crs_of(_pyproj_name(uri))):
            return uri
    raise BadRequest(f"{parameter}: unsupported CRS {value!r}; supported are {', '.join(supported)}")


@lru_cache(maxsize=16)
def _transformer(source: str, target: str) -> Transformer:
    return Transformer.from_crs(CRS(_pyproj_name(source)), CRS(_pyproj_name(target)), always_xy=False)


def geometry_transform(target: str) -> Callable[[shapely.Geometry], shapely.Geometry] | None:
    """A function from a stored geometry (CRS84) to `target` coordinates, None for CRS84 itself."""
    if target == CRS84:
        return None
    transformer = _transformer(CRS84, target)

    def coordinates(coords: np.ndarray) -> np.ndarray:
        a, b = transformer.transform(coords[:, 0], coords[:, 1])
        return np.column_stack([a, b])

    return lambda geom: shapely.transform(geom, coordinates)


def bbox_to_crs84(bbox: tuple[float, float, float, float], source: str) -> tuple[float, float, float, float]:
    """A bounding box given in `source` (its axis order) as (minlon, minlat, maxlon, maxlat)."""
    if source == CRS84:
        return bbox
    transformer = _transformer(source, CRS84)
    minx, miny, maxx, maxy = transformer.transform_bounds(*bbox, densify_pts=21)
    if not all(np.isfinite([minx, miny, maxx, maxy])):
        raise BadRequest(f"bbox: the box {list(bbox)} lies outside the area of {source}")
    return (minx, miny, maxx, maxy)


def geometry_to_crs84(geometry: shapely.Geometry, source: str) -> shapely.Geometry:
    """A geometry given in `source` coordinates (its axis order) in stored CRS84 lon/lat."""
    if source == CRS84:
        return geometry
    transformer = _transformer(source, CRS84)

    def coordinates(coords: np.ndarray) -> np.ndarray:
        a, b = transformer.transform(coords[:, 0], coords[:, 1])
        return np.column_stack([a, b])

    result = shapely.transform(geometry, coordinates)
    if not np.all(np.isfinite(shapely.get_coordinates(result))):
        raise BadRequest(f"the geometry lies outside the area of {source}")
    return result
