"""OGC API - Tiles: Mapbox Vector Tiles of every collection in the WebMercatorQuad tile matrix set.

On PostgreSQL, PostGIS makes the tile (`ST_AsMVT`, see store/mvt.py); elsewhere it is
made here with the same features and properties. A tile holds the features whose geometry meets
the tile (plus a small buffer, so lines and polygon edges join across tiles), in Web Mercator tile
units (4096 a side, y down), clipped to the buffered tile, simplified by half a unit, snapped to
the integer grid (repaired where that folds a ring), oriented as MVT wants and encoded by
mapbox-vector-tile (one layer named after the collection). Properties are the feature's own
(scalars; lists and objects are left out, as PostGIS does), its `id`, and `height` where the store
has one (the height the viewer extrudes buildings by).

Encoded tiles are cached in memory, keyed by (collection, z, row, col, collection version); every
write to a collection bumps its version, so a changed collection is never served from the cache.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from typing import Any

import mapbox_vector_tile
import numpy as np
import shapely
from mapbox_vector_tile.encoder import on_invalid_geometry_make_valid
from sqlalchemy import Connection, select

from urbantwin.access.gate import Caller
from urbantwin.errors import BadRequest, NotFound
from urbantwin.ogcapi.service import JSON, FeaturesService, _link
from urbantwin.store.feature_pages import in_box
from urbantwin.store.features_schema import collections, features
from urbantwin.store.mvt import database_tile
from urbantwin.store.replicas import read_connection

MVT = "application/vnd.mapbox-vector-tile"
WEB_MERCATOR_QUAD = "WebMercatorQuad"
TMS_URI = "http://www.opengis.net/def/tilematrixset/OGC/1.0/WebMercatorQuad"
EPSG_3857 = "http://www.opengis.net/def/crs/EPSG/0/3857"
ORIGIN = 20037508.342789244  # half the extent of Web Mercator in metres
MAX_ZOOM = 24
EXTENT = 4096  # tile coordinate units
BUFFER = 64  # of EXTENT: what is drawn beyond the tile's edge
#: What one cached tile costs besides its bytes (key, map slot, bytes object), counted against the
#: cache's budget so that many empty tiles cannot outgrow it either.
CACHE_ENTRY_OVERHEAD = 256


def tile_matrix_set() -> dict[str, Any]:
    """The OGC TMS 2.0 definition of WebMercatorQuad (zoom 0 to 24)."""
    return {
        "id": WEB_MERCATOR_QUAD,
        "title": "Google Maps Compatible for the World",
        "uri": TMS_URI,
        "crs": EPSG_3857,
        "orderedAxes": ["X", "Y"],
        "wellKnownScaleSet": "http://www.opengis.net/def/wkss/OGC/1.0/GoogleMapsCompatible",
        "tileMatrices": [
            {
                "id": str(z),
                "scaleDenominator": 559082264.028717 / 2**z,
                "cellSize": 156543.033928041 / 2**z,
                "cornerOfOrigin": "topLeft",
                "pointOfOrigin": [-ORIGIN, ORIGIN],
                "tileWidth": 256,
                "tileHeight": 256,
                "matrixWidth": 2**z,
                "matrixHeight": 2**z,
            }
            for z in range(MAX_ZOOM + 1)
        ],
    }


def tile_bounds(z: int, row: int, col: int) -> tuple[float, float, float, float]:
    """(minx, miny, maxx, maxy) of a tile in Web Mercator metres."""
    size = 2 * ORIGIN / 2**z
    minx = -ORIGIN + col * size
    maxy = ORIGIN - row * size
    return (minx, maxy - size, minx + size, maxy)


def _lonlat(x: float, y: float) -> tuple[float, float]:
    lon = x / ORIGIN * 180.0
    lat = math.degrees(2 * math.atan(math.exp(y / ORIGIN * math.pi)) - math.pi / 2)
    return lon, lat


class TileService:
    def __init__(self, features_service: FeaturesService, cache_bytes: int | None = None) -> None:
        self.engine = features_service.engine
        self.features = features_service
        # Encoded tiles, least recently used first, within a budget of bytes (`tile_cache_mb`): a
        # count alone let a server full of dense low-zoom tiles (up to 0.5 MB each) grow by gigabytes.
        self._cache: OrderedDict[tuple, bytes] = OrderedDict()
        self.cache_budget = (
            features_service.settings.tile_cache_mb * 1024 * 1024 if cache_bytes is None else cache_bytes
        )
        self.cached_bytes = 0
        self._lock = threading.Lock()

    # --- metadata ----------------------------------------------------------------------------------

    def matrix_sets(self, base: str) -> dict[str, Any]:
        url = f"{base}/ogcapi/tileMatrixSets/{WEB_MERCATOR_QUAD}"
        return {
            "tileMatrixSets": [
                {
                    "id": WEB_MERCATOR_QUAD,
                    "title": "Google Maps Compatible for the World",
                    "uri": TMS_URI,
                    "links": [_link(url, "self", JSON, "the tile matrix set")],
                }
            ]
        }

    def matrix_set(self, matrix_set: str) -> dict[str, Any]:
        self._check_matrix_set(matrix_set)
        return tile_matrix_set()

    def tilesets(self, base: str, collection_id: str, caller: Caller) -> dict[str, Any]:
        self.features.readable(caller, collection_id, "tiles")
        self._version(collection_id)
        return {
            "links": [
                _link(f"{base}/ogcapi/collections/{collection_id}/tiles", "self", JSON, "the tilesets"),
                _link(f"{base}/ogcapi/collections/{collection_id}", "collection", JSON, "the collection"),
            ],
            "tilesets": [self._tileset_summary(base, collection_id)],
        }

    def tileset(self, base: str, collection_id: str, matrix_set: str, caller: Caller) -> dict[str, Any]:
        self.features.readable(caller, collection_id, "tiles")
        self._check_matrix_set(matrix_set)
        self._version(collection_id)
        url = f"{base}/ogcapi/collections/{collection_id}/tiles/{WEB_MERCATOR_QUAD}"
        document = self._tileset_summary(base, collection_id)
        document["title"] = f"{collection_id} as Mapbox Vector Tiles"
        document["tileMatrixSetLimits"] = [
            {
                "tileMatrix": str(z),
                "minTileRow": 0,
                "maxTileRow": 2**z - 1,
                "minTileCol": 0,
                "maxTileCol": 2**z - 1,
            }
            for z in range(MAX_ZOOM + 1)
        ]
        document["layers"] = [
            {"id": collection_id, "dataType": "vector", "geometryType": "geometries", "minTileMatrix": "0"}
        ]
        document["links"] = [
            _link(url, "self", JSON, "this tileset"),
            _link(
                f"{base}/ogcapi/tileMatrixSets/{WEB_MERCATOR_QUAD}",
                "http://www.opengis.net/def/rel/ogc/1.0/tiling-scheme",
                JSON,
                "the tile matrix set",
            ),
            {
                "href": f"{url}/{{tileMatrix}}/{{tileRow}}/{{tileCol}}",
                "rel": "item",
                "type": MVT,
                "title": "a tile (template)",
                "templated": True,
            },
            _link(f"{base}/ogcapi/collections/{collection_id}", "collection", JSON, "the collection"),
        ]
        return document

    def _tileset_summary(self, base: str, collection_id: str) -> dict[str, Any]:
        url = f"{base}/ogcapi/collections/{collection_id}/tiles/{WEB_MERCATOR_QUAD}"
        return {
            "dataType": "vector",
            "crs": EPSG_3857,
            "tileMatrixSetURI": TMS_URI,
            "links": [
                _link(url, "self", JSON, "the tileset"),
                _link(
                    f"{base}/ogcapi/tileMatrixSets/{WEB_MERCATOR_QUAD}",
                    "http://www.opengis.net/def/rel/ogc/1.0/tiling-scheme",
                    JSON,
                    "the tile matrix set",
                ),
            ],
        }

    # --- tiles -------------------------------------------------------------------------------------

    def tile(
        self, collection_id: str, matrix_set: str, z_raw: str, row_raw: str, col_raw: str, caller: Caller
    ) -> bytes:
        self.features.readable(caller, collection_id, "tiles")
        self._check_matrix_set(matrix_set)
        z, row, col = (_index(raw, name) for raw, name in ((z_raw, "z"), (row_raw, "row"), (col_raw, "col")))
        if z > MAX_ZOOM:
            raise NotFound(f"no tile matrix {z} in {WEB_MERCATOR_QUAD} (0 to {MAX_ZOOM})")
        if row >= 2**z or col >= 2**z:
            raise NotFound(f"tile {z}/{row}/{col} is outside the tile matrix (0 to {2**z - 1})")
        # The version and the tile are read on one connection: with read replicas, a version read on
        # one replica and features on another that lags would keep old features under the new version.
        with read_connection(self.engine) as connection:
            key = (collection_id, z, row, col, self._version(collection_id, connection))
            with self._lock:
                cached = self._cache.get(key)
                if cached is not None:
                    self._cache.move_to_end(key)
                    return cached
            data = self.render(collection_id, z, row, col, connection)
        cost = len(data) + CACHE_ENTRY_OVERHEAD
        if cost > self.cache_budget:
            return data
        with self._lock:
            previous = self._cache.pop(key, None)  # made twice by requests at the same time
            if previous is not None:
                self.cached_bytes -= len(previous) + CACHE_ENTRY_OVERHEAD
            self._cache[key] = data
            self.cached_bytes += cost
            while self.cached_bytes > self.cache_budget:
                _, dropped = self._cache.popitem(last=False)
                self.cached_bytes -= len(dropped) + CACHE_ENTRY_OVERHEAD
        return data

    def render(
        self, collection_id: str, z: int, row: int, col: int, connection: Connection | None = None
    ) -> bytes:
        """The encoded tile, uncached: made by the database where it can (PostGIS), else here (on
        `connection` when given)."""
        if connection is None:
            with read_connection(self.engine) as own:
                return self.render(collection_id, z, row, col, own)
        data = database_tile(connection, collection_id, z, row, col, EXTENT, BUFFER)
        if data is not None:
            return data
        return self.render_in_python(collection_id, z, row, col, connection)

    def render_in_python(
        self, collection_id: str, z: int, row: int, col: int, connection: Connection | None = None
    ) -> bytes:
        """The encoded tile, made from the stored geometries with shapely and mapbox-vector-tile."""
        bounds = tile_bounds(z, row, col)
        margin = (bounds[2] - bounds[0]) * BUFFER / EXTENT
        minx, miny, maxx, maxy = (
            bounds[0] - margin,
            bounds[1] - margin,
            bounds[2] + margin,
            bounds[3] + margin,
        )
        (lon0, lat0), (lon1, lat1) = _lonlat(minx, miny), _lonlat(maxx, maxy)
        box = (lon0, lat0, lon1, lat1)
        query = (
            select(
                features.c.id,
                features.c.feature_key,
                features.c.properties,
                features.c.geom,
                features.c.height,
            )
            .where(features.c.collection_id == collection_id, in_box(features.c.id, features.c.geom, box))
            .order_by(features.c.id)
        )
        if connection is None:
            with read_connection(self.engine) as own:
                rows = own.execute(query).all()
        else:
            rows = connection.execute(query).all()
        layer_features = []
        if rows:
            # lon/lat to tile units (Web Mercator scaled, y down, 4096 a side) in one pass, then clipped
            world = 2**z * EXTENT

            def to_tile(coords: np.ndarray) -> np.ndarray:
                x = (coords[:, 0] / 360.0 + 0.5) * world - col * EXTENT
                lat = np.radians(np.clip(coords[:, 1], -85.0511287798066, 85.0511287798066))
                y = (0.5 - np.log(np.tan(np.pi / 4 + lat / 2)) / (2 * np.pi)) * world - row * EXTENT
                return np.column_stack([x, y])

            geoms = shapely.transform(shapely.from_wkb([r.geom for r in rows]), to_tile)
            geoms = shapely.clip_by_rect(geoms, -BUFFER, -BUFFER, EXTENT + BUFFER, EXTENT + BUFFER)
            geoms = shapely.simplify(geoms, 0.5, preserve_topology=True)
            geoms = shapely.transform(geoms, np.rint)  # the integer grid of the tile
            for index in np.flatnonzero(~shapely.is_valid(geoms)):  # rounding can fold a ring: repair those
                geoms[index] = _repaired(geoms[index])
            # MVT: exterior rings clockwise on screen (y down), i.e. counter-clockwise in these numbers
            geoms = shapely.orient_polygons(geoms, exterior_cw=False)
            for record, geom in zip(rows, geoms, strict=True):
                if geom is None or geom.is_empty:
                    continue
                properties = {name: _scalar(value) for name, value in (record.properties or {}).items()}
                properties = {name: value for name, value in properties.items() if value is not None}
                properties["id"] = record.feature_key
                if record.height is not None:
                    properties["height"] = _scalar(record.height)
                layer_features.append({"geometry": geom, "properties": properties, "id": record.id})
        options = {
            "y_coord_down": True,
            "extents": EXTENT,
            "on_invalid_geometry": on_invalid_geometry_make_valid,
            "check_winding_order": False,  # oriented above, at once
        }
        return mapbox_vector_tile.encode(
            [{"name": collection_id, "features": layer_features}], default_options=options
        )

    def _version(self, collection_id: str, connection: Connection | None = None) -> int:
        if connection is None:
            with read_connection(self.engine) as own:
                return self._version(collection_id, own)
        version = connection.execute(
            select(collections.c.version).where(collections.c.id == collection_id)
        ).scalar()
        if version is None:
            raise NotFound(f"no collection {collection_id!r}")
        return int(version)

    @staticmethod
    def _check_matrix_set(matrix_set: str) -> None:
        if matrix_set != WEB_MERCATOR_QUAD:
            raise NotFound(f"no tile matrix set {matrix_set!r}; offered is {WEB_MERCATOR_QUAD}")


def _repaired(geom: shapely.Geometry) -> shapely.Geometry | None:
    try:
        return shapely.set_precision(geom, 1.0)
    except shapely.errors.GEOSException:
        return None  # too small or too broken to draw at this zoom


def _index(raw: str, name: str) -> int:
    if not raw.isascii() or not raw.isdigit():
        raise BadRequest(f"{name}: expected a non-negative integer, got {raw!r}")
    return int(raw)


def _scalar(value: Any) -> Any:
    """A property value as PostGIS's ST_AsMVT writes it: scalars only, integral numbers as integers."""
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        return int(value) if value.is_integer() and abs(value) < 2**63 else value
    if isinstance(value, int) and not isinstance(value, bool) and not -(2**63) <= value < 2**63:
        return float(value)  # beyond a 64-bit integer: a double, as PostGIS writes a big JSON number
    return value if isinstance(value, bool | int | str) else None
