"""Spatial SQL that works on both backends.

On PostgreSQL the functions are PostGIS's own. On SQLite they are registered on every connection
from shapely (`register_sqlite_functions`), taking and returning WKB, and a bounding-box R-tree
(`<table>_rtree`, kept in step by triggers made in the migration) prefilters the candidates so a
spatial filter does not run shapely on every row.

Callers build expressions with `spatial_call` and `bbox_overlaps`; the dialect is chosen when the
statement is compiled, so nothing outside `store/` knows which backend runs.
"""

from __future__ import annotations

import sqlite3
from functools import lru_cache
from typing import Any

import shapely
from sqlalchemy import Boolean, Double
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from urbantwin.store.dialect import spelled
from urbantwin.store.sqlfunctions import register_sqlite_functions as register_numeric_functions

#: Spatial functions of the STA `$filter`, by canonical name: (PostGIS function, result is boolean).
SPATIAL_FUNCTIONS: dict[str, tuple[str, bool]] = {
    "geo.intersects": ("ST_Intersects", True),
    "geo.distance": ("ST_Distance", False),
    "geo.length": ("ST_Length", False),
    "st_equals": ("ST_Equals", True),
    "st_disjoint": ("ST_Disjoint", True),
    "st_touches": ("ST_Touches", True),
    "st_within": ("ST_Within", True),
    "st_overlaps": ("ST_Overlaps", True),
    "st_crosses": ("ST_Crosses", True),
    "st_intersects": ("ST_Intersects", True),
    "st_contains": ("ST_Contains", True),
    "st_relate": ("ST_Relate", True),
}

#: Predicates whose truth implies that the two bounding boxes overlap, so an R-tree can prefilter.
BBOX_IMPLYING = {
    "geo.intersects",
    "st_intersects",
    "st_equals",
    "st_touches",
    "st_within",
    "st_overlaps",
    "st_crosses",
    "st_contains",
}

#: Tables with a geometry column `geom` indexed spatially, and that column's name.
SPATIAL_TABLES = {
    "locations": "geom",
    "features_of_interest": "geom",
    "datastreams": "observed_area",
    "features": "geom",
}


class spatial_call(FunctionElement):  # noqa: N801 - reads like the SQL function it stands for
    """`spatial_call("st_within", a, b)`: the STA spatial function `name` over geometry operands."""

    # The function name is not part of SQLAlchemy's cache key, so statements with it are not cached.
    inherit_cache = False

    def __init__(self, sta_name: str, *args: Any) -> None:
        self.sta_name = sta_name
        _, is_bool = SPATIAL_FUNCTIONS[sta_name]
        super().__init__(*args)
        self.type = Boolean() if is_bool else Double()


def _sqlite_name(sta_name: str) -> str:
    return "ut_" + sta_name.replace("geo.", "geo_")


@compiles(spatial_call, "postgresql")
def _pg_spatial(element: spatial_call, compiler: Any, **kw: Any) -> str:
    pg_name, _ = SPATIAL_FUNCTIONS[element.sta_name]
    return f"{pg_name}({compiler.process(element.clauses, **kw)})"


@compiles(spatial_call)
def _sqlite_spatial(element: spatial_call, compiler: Any, **kw: Any) -> str:
    return f"{_sqlite_name(element.sta_name)}({compiler.process(element.clauses, **kw)})"


class bbox_overlaps(FunctionElement):  # noqa: N801
    """True where the row's geometry bounding box overlaps `(minx, miny, maxx, maxy)`.

    PostGIS answers `&&` from its GiST index; SQLite asks the table's R-tree.
    """

    inherit_cache = False
    type = Boolean()

    def __init__(self, table_name: str, id_column: Any, geom_column: Any, bbox: tuple[float, ...]):
        self.table_name = table_name
        self.id_column = id_column
        self.geom_column = geom_column
        self.bbox = bbox
        super().__init__()


@compiles(bbox_overlaps, "postgresql")
def _pg_bbox(element: bbox_overlaps, compiler: Any, **kw: Any) -> str:
    minx, miny, maxx, maxy = (float(v) for v in element.bbox)
    geom = compiler.process(element.geom_column, **kw)
    return f"({geom} && ST_MakeEnvelope({minx!r}, {miny!r}, {maxx!r}, {maxy!r}, 4326))"


@compiles(bbox_overlaps)
def _sqlite_bbox(element: bbox_overlaps, compiler: Any, **kw: Any) -> str:
    minx, miny, maxx, maxy = (float(v) for v in element.bbox)
    ident = compiler.process(element.id_column, **kw)
    return (
        f"({ident} IN (SELECT id FROM {element.table_name}_rtree WHERE minx <= {maxx!r} "
        f"AND maxx >= {minx!r} AND miny <= {maxy!r} AND maxy >= {miny!r}))"
    )


# --- SQLite: the functions themselves, from shapely ------------------------------------------------


def _prepared(wkb: bytes) -> shapely.Geometry:
    geom = shapely.from_wkb(wkb)
    shapely.prepare(geom)
    return geom


#: Parsed and prepared geometries by their WKB, as the SQL functions below meet them row by row
#: (the same filter geometry for every row; the same features in every tile). One per process: its
#: size is the `geometry_cache_size` setting, applied by `set_geometry_cache_size`.
_geometry = lru_cache(maxsize=4096)(_prepared)


def set_geometry_cache_size(entries: int) -> None:
    """Keep at most `entries` prepared geometries (0: none); the functions use the new cache at once."""
    global _geometry
    if _geometry.cache_info().maxsize != max(0, entries):
        _geometry = lru_cache(maxsize=max(0, entries))(_prepared)


def _binary(name: str):  # noqa: ANN202 - returns a plain function for sqlite3
    op = getattr(shapely, name)

    def call(a: bytes | None, b: bytes | None) -> int | None:
        if a is None or b is None:
            return None
        return int(bool(op(_geometry(bytes(a)), _geometry(bytes(b)))))

    return call


def _distance(a: bytes | None, b: bytes | None) -> float | None:
    if a is None or b is None:
        return None
    return float(shapely.distance(_geometry(bytes(a)), _geometry(bytes(b))))


def _length(a: bytes | None) -> float | None:
    return None if a is None else _linear_length(_geometry(bytes(a)))


def _linear_length(geom: shapely.Geometry) -> float:
    """The length of the lines in `geom`, as PostGIS's ST_Length: areas and points count 0 (shapely
    would give a polygon's perimeter, and `geo.length` would disagree between the backends)."""
    if geom.geom_type in ("LineString", "LinearRing", "MultiLineString"):
        return float(shapely.length(geom))
    if geom.geom_type == "GeometryCollection":
        return sum(_linear_length(part) for part in geom.geoms)
    return 0.0


def _relate(a: bytes | None, b: bytes | None, pattern: str | None) -> int | None:
    if a is None or b is None or pattern is None:
        return None
    try:
        return int(bool(shapely.relate_pattern(_geometry(bytes(a)), _geometry(bytes(b)), pattern)))
    except shapely.errors.GEOSException:
        # A malformed DE-9IM pattern matches nothing, as PostGIS answers false for it.
        return 0


def _bbox(a: bytes | None, index: int) -> float | None:
    if a is None:
        return None
    return float(shapely.bounds(_geometry(bytes(a)))[index])


def register_sqlite_functions(connection: sqlite3.Connection) -> None:
    """Make the spatial functions of `SPATIAL_FUNCTIONS` callable in SQL on this connection."""
    register_numeric_functions(connection)  # the null-safe floor/ceil/trunc of `$filter`, too
    binary = {
        "geo.intersects": "intersects",
        "st_equals": "equals",
        "st_disjoint": "disjoint",
        "st_touches": "touches",
        "st_within": "within",
        "st_overlaps": "overlaps",
        "st_crosses": "crosses",
        "st_intersects": "intersects",
        "st_contains": "contains",
    }
    for sta_name, shapely_name in binary.items():
        connection.create_function(_sqlite_name(sta_name), 2, _binary(shapely_name), deterministic=True)
    connection.create_function(_sqlite_name("geo.distance"), 2, _distance, deterministic=True)
    connection.create_function(_sqlite_name("geo.length"), 1, _length, deterministic=True)
    connection.create_function(_sqlite_name("st_relate"), 3, _relate, deterministic=True)
    connection.create_function("ut_grow_area", 2, _grow, deterministic=True)
    connection.create_function("ut_covers", 2, _covers, deterministic=True)
    for index, name in enumerate(("ut_minx", "ut_miny", "ut_maxx", "ut_maxy")):
        connection.create_function(name, 1, lambda a, i=index: _bbox(a, i), deterministic=True)


def sqlite_rtree_ddl(table: str, geom: str) -> list[str]:
    """The R-tree of `table.geom` and the triggers that keep it in step with the table."""
    box = f"ut_minx(NEW.{geom}), ut_maxx(NEW.{geom}), ut_miny(NEW.{geom}), ut_maxy(NEW.{geom})"
    return [
        f"CREATE VIRTUAL TABLE IF NOT EXISTS {table}_rtree USING rtree(id, minx, maxx, miny, maxy)",
        f"CREATE TRIGGER IF NOT EXISTS {table}_rtree_insert AFTER INSERT ON {table} "
        f"WHEN NEW.{geom} IS NOT NULL BEGIN "
        f"INSERT INTO {table}_rtree VALUES (NEW.id, {box}); END",
        f"CREATE TRIGGER IF NOT EXISTS {table}_rtree_update AFTER UPDATE OF {geom} ON {table} BEGIN "
        f"DELETE FROM {table}_rtree WHERE id = OLD.id; "
        f"INSERT INTO {table}_rtree SELECT NEW.id, {box} WHERE NEW.{geom} IS NOT NULL; END",
        f"CREATE TRIGGER IF NOT EXISTS {table}_rtree_delete AFTER DELETE ON {table} BEGIN "
        f"DELETE FROM {table}_rtree WHERE id = OLD.id; END",
    ]


class grow_area(FunctionElement):  # noqa: N801
    """The convex hull of a stored area and one more geometry: a Datastream's observedArea after
    an Observation of a new FeatureOfInterest (`ST_ConvexHull(ST_Collect(…))` on PostGIS)."""

    inherit_cache = True


@compiles(grow_area, "postgresql")
def _pg_grow_area(element: grow_area, compiler: Any, **kw: Any) -> str:
    area, geom = (compiler.process(c, **kw) for c in element.clauses)
    return f"ST_ConvexHull(ST_Collect(COALESCE({area}, {geom}), {geom}))"


@compiles(grow_area)
def _sqlite_grow_area(element: grow_area, compiler: Any, **kw: Any) -> str:
    return f"ut_grow_area({compiler.process(element.clauses, **kw)})"


@spelled("ST_Covers({args})", "ut_covers({args})")
class covers(FunctionElement):  # noqa: N801
    """True when the first geometry covers the second (`ST_Covers`)."""

    inherit_cache = True
    type = Boolean()


def _grow(area: bytes | None, geom: bytes | None) -> bytes | None:
    if geom is None:
        return area
    if area is None:
        return shapely.to_wkb(shapely.convex_hull(_geometry(bytes(geom))))
    hull = shapely.convex_hull(shapely.union(_geometry(bytes(area)), _geometry(bytes(geom))))
    return shapely.to_wkb(hull)


def _covers(a: bytes | None, b: bytes | None) -> int | None:
    if a is None or b is None:
        return None
    return int(bool(shapely.covers(_geometry(bytes(a)), _geometry(bytes(b)))))
