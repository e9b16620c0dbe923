"""The CRSs the API offers (OGC API - Features Part 2) and the transformations between them.

Coordinates are stored in WGS 84 as lon/lat (CRS84). Output and `bbox-crs` coordinates follow the
axis order of each CRS's definition: EPSG:4326 is lat/lon, EPSG:25833 easting/northing.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

import numpy as np
import shapely
from pyproj import CRS, Transformer
from pyproj.exceptions import CRSError

from urbantwin.errors import BadRequest
from urbantwin.geometry import crs_of

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
SUPPORTED = (
    CRS84,
    "http://www.opengis.net/def/crs/EPSG/0/4326",
    "http://www.opengis.net/def/crs/EPSG/0/25833",
    "http://www.opengis.net/def/crs/EPSG/0/3857",
)
_PYPROJ = {uri: ("OGC:CRS84" if uri == CRS84 else "EPSG:" + uri.rsplit("/", 1)[1]) for uri in SUPPORTED}
_ALIASES = {"EPSG:4326": SUPPORTED[1], "EPSG:25833": SUPPORTED[2], "EPSG:3857": SUPPORTED[3], "CRS84": CRS84}


def parse_crs(value: str | None, parameter: str) -> str:
    """The URI of a supported CRS, however it is spelled: the URI, a `[EPSG:25833]` CURIE,
    `EPSG:25833`, a URN — read by the platform's one CRS parser (`geometry.crs_of`), as importers do."""
    if value is None or value == "":
        return CRS84
    text = value.strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    text = _ALIASES.get(text, text).replace("https://", "http://")
    if text in SUPPORTED:
        return text
    try:
        crs = crs_of(text) if text and len(text) < 2_000 else None
    except CRSError:
        crs = None
    for uri in SUPPORTED:
        if crs is not None and crs.equals(crs_of(_PYPROJ[uri])):
            return uri
    raise BadRequest(f"{parameter}: unsupported CRS {value!r}; supported are {', '.join(SUPPORTED)}")


@lru_cache(maxsize=16)
def _transformer(source: str, target: str) -> Transformer:
    return Transformer.from_crs(CRS(_PYPROJ[source]), CRS(_PYPROJ[target]), always_xy=False)


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
