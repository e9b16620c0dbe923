"""The extent of a feature collection, from the features it holds now: it grows and it shrinks.

A collection's row keeps its extent (`extent_bbox`) and the collection version it was right at
(`extent_version`). A write that knows the extent keeps it (`extent_after_write`): growing it by
what was added, and computing it afresh when what was removed or replaced touched its edge, the
only case in which it can shrink. A write that does not (an import stamping `extent_bbox` without
`extent_version`) leaves it stale, and `ExtentCache` computes it from the features when asked,
once per collection version, without writing on a read.

Computing is two cheap steps on either backend: the box around the features' index boxes (PostGIS's
`ST_Extent` over the boxes cached in the geometries; SQLite's R-tree, see `spatial.py`), which
are single-precision and rounded outwards, and then the exact bounds of the few features whose
index box reaches that box's edges: every side's outermost feature is one of them.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import shapely
from sqlalchemy import Connection, select, text

from urbantwin.store.feature_rows import Box, union_bounds
from urbantwin.store.features_schema import collections, features

#: How far inside the index boxes' extent a feature's index box may end and still be looked at:
#: more than the rounding of a single-precision coordinate (2^-23 of it), relative to its size.
_SLACK = 1e-6

_INDEX_BOX_SQLITE = text(
    "SELECT min(r.minx), min(r.miny), max(r.maxx), max(r.maxy) FROM features_rtree AS r "
    "JOIN features AS f ON f.id = r.id WHERE f.collection_id = :collection"
)
#: One index search per side, the R-tree first (`CROSS JOIN` keeps SQLite's planner from walking the
#: collection's features instead): the few features near the edges, not the collection.
_EDGES_SQLITE = text(
    " UNION ALL ".join(
        "SELECT f.geom FROM features_rtree AS r CROSS JOIN features AS f ON f.id = r.id "
        f"WHERE r.{column} {side} AND f.collection_id = :collection"
        for column, side in (
            ("minx", "<= :west"),
            ("miny", "<= :south"),
            ("maxx", ">= :east"),
            ("maxy", ">= :north"),
        )
    )
)
_INDEX_BOX_POSTGIS = text(
    "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM "
    "(SELECT ST_Extent(geom) AS e FROM features WHERE collection_id = :collection) AS extent"
)
#: One search of the GiST index per side: the features whose box reaches into a strip along it.
_EDGES_POSTGIS = text(
    " UNION ALL ".join(
        f"SELECT ST_AsBinary(geom) FROM features WHERE geom && ST_MakeEnvelope({strip}, 4326) "
        "AND collection_id = :collection"
        for strip in (
            "-1e9, -1e9, :west, 1e9",
            "-1e9, -1e9, 1e9, :south",
            ":east, -1e9, 1e9, 1e9",
            "-1e9, :north, 1e9, 1e9",
        )
    )
)


def collection_extent(connection: Connection, collection_id: str) -> Box | None:
    """The CRS84 box (west, south, east, north) around the collection's features as they are now,
    exact to the coordinate; None when none has a geometry."""
    postgis = connection.dialect.name == "postgresql"
    index_box = connection.execute(
        _INDEX_BOX_POSTGIS if postgis else _INDEX_BOX_SQLITE, {"collection": collection_id}
    ).one()
    if index_box[0] is None:
        return None
    west, south, east, north = (float(v) for v in index_box)
    edges = {
        "collection": collection_id,
        "west": west + _slack(west),
        "south": south + _slack(south),
        "east": east - _slack(east),
        "north": north - _slack(north),
    }
    wkbs = [bytes(row[0]) for row in connection.execute(_EDGES_POSTGIS if postgis else _EDGES_SQLITE, edges)]
    bounds = [float(v) for v in shapely.total_bounds(shapely.from_wkb(wkbs))] if wkbs else []
    if len(bounds) != 4 or any(v != v for v in bounds):  # NaN: only empty geometries
        return None
    return (bounds[0], bounds[1], bounds[2], bounds[3])


def _slack(value: float) -> float:
    return _SLACK * max(1.0, abs(value))


def feature_bounds(connection: Connection, feature_id: int) -> Box | None:
    """The box of one stored feature's geometry (None without one): what its removal may take away."""
    wkb = connection.execute(select(features.c.geom).where(features.c.id == feature_id)).scalar()
    if wkb is None:
        return None
    geometry = shapely.from_wkb(bytes(wkb))
    if geometry.is_empty:
        return None
    west, south, east, north = (float(v) for v in shapely.bounds(geometry))
    return (west, south, east, north)


def extent_after_write(
    connection: Connection,
    collection: Mapping[Any, Any],
    removed: Sequence[Box | None] = (),
    added: Sequence[Box | None] = (),
) -> dict[str, Any]:
    """The extent columns of `collection` (its row as read before the write: id, version,
    extent_bbox, extent_version) for after a write that bumps its version by one, the features
    already written on `connection`: the kept extent grown by the `added` boxes when it was right
    and no `removed` box touched its edge, else computed from the features."""
    stored = _box(collection.get("extent_bbox"))
    touched = any(box is not None and _touches_edge(box, stored) for box in removed)
    if _is_current(collection) and not touched:
        extent = union_bounds([stored, *added])
    else:
        extent = collection_extent(connection, collection["id"])
    return {"extent_bbox": list(extent) if extent else None, "extent_version": collection["version"] + 1}


def _is_current(collection: Mapping[Any, Any]) -> bool:
    """Whether the stored extent is right at the collection's version."""
    return bool(collection.get("extent_version") == collection["version"])


def _touches_edge(box: Sequence[float], extent: Box | None) -> bool:
    """Whether `box` reaches an edge of `extent` (so without it the extent might be smaller)."""
    if extent is None:
        return True
    west, south, east, north = extent
    return box[0] <= west or box[1] <= south or box[2] >= east or box[3] >= north


def _box(value: Any) -> Box | None:
    if not isinstance(value, list | tuple) or len(value) != 4:
        return None
    try:
        west, south, east, north = (float(v) for v in value)
    except (TypeError, ValueError):
        return None
    return (west, south, east, north)


class ExtentCache:
    """The current extents of collections for readers: the stored one where it is right, else one
    computed from the features, kept per collection version (every write bumps it) so it is
    computed once per change and process."""

    def __init__(self, size: int = 1024) -> None:
        self._computed: OrderedDict[tuple[str, int], Box | None] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def extents(self, connection: Connection, rows: Iterable[Mapping[Any, Any]]) -> dict[str, Box | None]:
        """Each collection's extent by id; `rows` are their rows (id, version, extent_bbox,
        extent_version)."""
        result: dict[str, Box | None] = {}
        for row in rows:
            if _is_current(row):
                result[row["id"]] = _box(row.get("extent_bbox"))
                continue
            key = (row["id"], int(row["version"]))
            with self._lock:
                if key in self._computed:
                    self._computed.move_to_end(key)
                    result[row["id"]] = self._computed[key]
                    continue
            extent = collection_extent(connection, row["id"])
            with self._lock:
                self._computed[key] = extent
                while len(self._computed) > self._size:
                    self._computed.popitem(last=False)
            result[row["id"]] = extent
        return result

    def extent(self, connection: Connection, row: Mapping[Any, Any]) -> Box | None:
        return self.extents(connection, [row])[row["id"]]


#: The columns `ExtentCache` and `extent_after_write` need of a collection's row.
EXTENT_COLUMNS = (
    collections.c.id,
    collections.c.version,
    collections.c.extent_bbox,
    collections.c.extent_version,
)
