"""Pages of OGC API features read, and written as GeoJSON text, by the database, on both backends.

A page of 1,000 features is mostly formatting work: geometries into GeoJSON, properties into JSON
text, feature keys into link URLs. Done in Python (rows to dicts to orjson) it cost as much as the
query; done in the query, the database formats each row in C and Python only joins the texts.

- PostgreSQL writes the whole Feature: `ST_AsGeoJSON`, `jsonb::text`, `to_json`.
- SQLite writes all but the geometry with its JSON functions; it has no GeoJSON writer, and a
  function registered from shapely costs about 10 µs a call, more than shapely's vectorised writer
  spends on the whole page, so the geometries are written by shapely in one call and set into the
  texts (`_fill_geometries`).

Either way the text equals, once parsed, what `ogcapi/service.py` writes in Python for the same
rows (tests/ogcapi/test_feature_pages.py holds them to it).

The page query (`read_page`) is built so that its cost does not grow with what it skips:

- the features of a bounding box are those whose box overlaps it (spatial index) and that either lie
  with their whole box inside it — certain, no geometric test — or intersect it (`in_box`);
- with a filter, the matching ids are found once and serve both `numberMatched` and the page (one
  spatial scan instead of two);
- a page behind an offset (or after a count) is chosen by id first and only its own rows are read
  and written (late row lookup), so the skipped rows are never formatted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import orjson
import shapely
from sqlalchemy import Connection, LargeBinary, Table, Text, and_, bindparam, func, literal, or_, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql import ColumnElement
from sqlalchemy.sql.functions import FunctionElement

from urbantwin.store.dialect import spelled
from urbantwin.store.sqlfunctions import json_text_of

#: Most decimals PostGIS may write per coordinate. PostGIS writes the shortest text that reads back
#: as the same double, cut at this many decimals; 30 cuts no coordinate in degrees above 1e-12
#: (PostGIS writes smaller numbers as 0), so the text reads as the stored double, as shapely's does.
GEOJSON_DECIMALS = 30
#: Marks a SQLite connection whose functions `prepare` registered (in the pool's per-connection info).
_REGISTERED = "urbantwin_feature_pages"


# --- JSON text of one feature --------------------------------------------------------------------


class geometry_geojson(FunctionElement):  # noqa: N801 - reads like the SQL function it stands for
    """A stored geometry as GeoJSON text, NULL for NULL (PostGIS only: SQLite's are written by
    shapely, see the module's docstring)."""

    inherit_cache = True
    type = Text()


@compiles(geometry_geojson, "postgresql")
def _pg_geojson(element: geometry_geojson, compiler: Any, **kw: Any) -> str:
    return f"ST_AsGeoJSON({compiler.process(element.clauses, **kw)}, {GEOJSON_DECIMALS}, 0)"


# Keys of unreserved characters only (nearly all) pass as they are. Others, on PostgreSQL, are split
# into characters and each UTF-8 byte of a reserved one is written %XX (chr(37) is '%', which the
# driver's parameter style would take for a placeholder if written literally); SQLite calls Python.
_PG_QUOTE = (
    "(CASE WHEN {args} ~ '^[A-Za-z0-9_.~-]*$' THEN {args} ELSE ("
    "SELECT string_agg(CASE WHEN c ~ '^[A-Za-z0-9_.~-]$' THEN c ELSE upper(regexp_replace("
    "encode(convert_to(c, 'UTF8'), 'hex'), '(..)', chr(37) || '\\1', 'g')) END, '' ORDER BY n) "
    "FROM regexp_split_to_table({args}, '') WITH ORDINALITY AS t(c, n)) END)"
)
_SQLITE_QUOTE = "(CASE WHEN {args} GLOB '*[^-A-Za-z0-9_.~]*' THEN ut_url_quote({args}) ELSE {args} END)"


@spelled(_PG_QUOTE, _SQLITE_QUOTE)
class url_quoted(FunctionElement):  # noqa: N801
    """Text percent-encoded as `urllib.parse.quote(text, safe="")` does (a path segment of a URL).

    Its argument is written several times: give it a column, not a bound parameter."""

    inherit_cache = True
    type = Text()


@spelled(
    "(CASE WHEN jsonb_typeof({args}) = 'object' THEN ({args})::text ELSE '{}' END)",
    "(CASE WHEN json_type({args}) = 'object' THEN json({args}) ELSE '{}' END)",
)
class properties_text(FunctionElement):  # noqa: N801
    """A stored properties document as JSON text; anything but an object (NULL too) as `{}`.

    Its argument is written several times: give it a column, not a bound parameter."""

    inherit_cache = True
    type = Text()


class selected_properties_text(FunctionElement):  # noqa: N801
    """The named members of a stored properties object as JSON text (`properties=a,b`); SQLite
    calls Python, as its `json_each` turns integers beyond 2**63 into doubles."""

    inherit_cache = True
    type = Text()

    def __init__(self, column: Any, names: Sequence[str]) -> None:
        super().__init__(column, bindparam(None, orjson.dumps(list(names)).decode(), type_=Text()))


@compiles(selected_properties_text, "postgresql")
def _pg_selected(element: selected_properties_text, compiler: Any, **kw: Any) -> str:
    column, names = (compiler.process(c, **kw) for c in element.clauses)
    return (
        "COALESCE((SELECT jsonb_object_agg(e.key, e.value) FROM jsonb_each(CASE WHEN "
        f"jsonb_typeof({column}) = 'object' THEN {column} END) AS e WHERE e.key IN "
        f"(SELECT jsonb_array_elements_text(CAST({names} AS jsonb)))), '{{}}'::jsonb)::text"
    )


@compiles(selected_properties_text)
def _sqlite_selected(element: selected_properties_text, compiler: Any, **kw: Any) -> str:
    return f"ut_json_select({compiler.process(element.clauses, **kw)})"


@dataclass(frozen=True)
class FeatureText:
    """How a page's features are written: under which items URL their links go, and which
    properties they keep (None: all)."""

    items_url: str
    selected: tuple[str, ...] | None = None

    def parts(self, table: Table) -> tuple[ColumnElement[str], ColumnElement[str]]:
        """The JSON text of a row's Feature before its geometry and after it."""
        props = (
            properties_text(table.c.properties)
            if self.selected is None
            else selected_properties_text(table.c.properties, self.selected)
        )
        link = orjson.dumps({"rel": "self", "type": "application/geo+json", "title": "this feature"})
        head = (
            literal('{"type":"Feature","id":') + json_text_of(table.c.feature_key) + literal(',"geometry":')
        )
        tail = (
            literal(',"properties":')
            + props
            + literal(',"links":[{"href":')
            + json_text_of(literal(self.items_url + "/") + url_quoted(table.c.feature_key))
            + literal("," + link.decode()[1:] + "]}")
        )
        return head, tail


def _fill_geometries(rows: Sequence[Any]) -> list[str]:
    """Texts of rows (head, geom WKB, tail): the geometries written by shapely in one call."""
    geometries = shapely.to_geojson(shapely.from_wkb([row.geom for row in rows]))
    return [
        row.head + (text if text is not None else "null") + row.tail
        for row, text in zip(rows, geometries, strict=True)
    ]


# --- the bounding box ----------------------------------------------------------------------------


class _BoxTest(FunctionElement):
    """Base of the three tests of `in_box`: the id and geometry columns, the box's corners and the
    box as WKB, all bound parameters (so the statement's compiled form is cached). No SQL type: a
    boolean would be written `(…) = 1` on SQLite, which keeps it from driving the query by R-tree."""

    inherit_cache = True

    def __init__(self, id_column: Any, geom_column: Any, box: Sequence[float]) -> None:
        minx, miny, maxx, maxy = (float(v) for v in box)
        corners: list[Any] = [bindparam(None, v) for v in (minx, miny, maxx, maxy)]
        envelope = bindparam(None, shapely.to_wkb(shapely.box(minx, miny, maxx, maxy)), type_=LargeBinary)
        super().__init__(id_column, geom_column, *corners, envelope)


class _box_overlaps(_BoxTest):  # noqa: N801
    """The row's bounding box overlaps the box (the spatial index answers)."""

    inherit_cache = True


class _box_holds(_BoxTest):  # noqa: N801
    """The row's bounding box lies within the box (the spatial index answers)."""

    inherit_cache = True


class _box_intersects(_BoxTest):  # noqa: N801
    """The row's geometry intersects the box (a geometric test)."""

    inherit_cache = True


def _parts(element: _BoxTest, compiler: Any, **kw: Any) -> list[str]:
    return [compiler.process(c, **kw) for c in element.clauses]


def _pg_envelope(minx: str, miny: str, maxx: str, maxy: str) -> str:
    return f"ST_MakeEnvelope({minx}, {miny}, {maxx}, {maxy}, 4326)"


@compiles(_box_overlaps, "postgresql")
def _pg_box_overlaps(element: _BoxTest, compiler: Any, **kw: Any) -> str:
    _ident, geom, *corners, _wkb = _parts(element, compiler, **kw)
    return f"({geom} && {_pg_envelope(*corners)})"


@compiles(_box_holds, "postgresql")
def _pg_box_holds(element: _BoxTest, compiler: Any, **kw: Any) -> str:
    _ident, geom, *corners, _wkb = _parts(element, compiler, **kw)
    return f"({geom} @ {_pg_envelope(*corners)})"


@compiles(_box_intersects, "postgresql")
def _pg_box_intersects(element: _BoxTest, compiler: Any, **kw: Any) -> str:
    _ident, geom, *corners, _wkb = _parts(element, compiler, **kw)
    return f"ST_Intersects({geom}, {_pg_envelope(*corners)})"


def _rtree(element: _BoxTest) -> str:
    return f"{element.clauses.clauses[0].table.name}_rtree"  # the R-tree of the id column's table


@compiles(_box_overlaps)
def _sqlite_box_overlaps(element: _BoxTest, compiler: Any, **kw: Any) -> str:
    ident, _geom, minx, miny, maxx, maxy, _wkb = _parts(element, compiler, **kw)
    return (
        f"{ident} IN (SELECT id FROM {_rtree(element)} WHERE minx <= {maxx} AND maxx >= {minx} "
        f"AND miny <= {maxy} AND maxy >= {miny})"
    )


@compiles(_box_holds)
def _sqlite_box_holds(element: _BoxTest, compiler: Any, **kw: Any) -> str:
    ident, _geom, minx, miny, maxx, maxy, _wkb = _parts(element, compiler, **kw)
    return (
        f"{ident} IN (SELECT id FROM {_rtree(element)} WHERE minx >= {minx} AND maxx <= {maxx} "
        f"AND miny >= {miny} AND maxy <= {maxy})"
    )


@compiles(_box_intersects)
def _sqlite_box_intersects(element: _BoxTest, compiler: Any, **kw: Any) -> str:
    _ident, geom, *_corners, wkb = _parts(element, compiler, **kw)
    return f"ut_st_intersects({geom}, {wkb})"


def in_box(id_column: Any, geom_column: Any, box: Sequence[float]) -> ColumnElement[bool]:
    """True where a row's geometry intersects the box (minx, miny, maxx, maxy) in the stored CRS.

    The spatial index finds the rows whose bounding box overlaps; a row whose bounding box lies
    within the box certainly intersects it, and only the rest (along the edges) are tested
    geometrically. Both indexes keep boxes rounded outwards (float4), so a stored box inside the
    query box proves the true one inside it.
    """
    args = (id_column, geom_column, box)
    return and_(_box_overlaps(*args), or_(_box_holds(*args), _box_intersects(*args)))


# --- the page ------------------------------------------------------------------------------------


class _in_ids(FunctionElement):  # noqa: N801
    """`column` is among the ids a select returns; on PostgreSQL as an array the primary key is
    probed with (a plan that cannot become a hash join over the whole table)."""

    inherit_cache = True

    def __init__(self, column: Any, ids: Any) -> None:
        super().__init__(column, ids.scalar_subquery())


@compiles(_in_ids, "postgresql")
def _pg_in_ids(element: _in_ids, compiler: Any, **kw: Any) -> str:
    column, ids = (compiler.process(c, **kw) for c in element.clauses)
    return f"{column} = ANY(ARRAY{ids})"


@compiles(_in_ids)
def _sqlite_in_ids(element: _in_ids, compiler: Any, **kw: Any) -> str:
    column, ids = (compiler.process(c, **kw) for c in element.clauses)
    return f"{column} IN {ids}"


@dataclass
class Page:
    """A page, in order: `texts` (the Features' JSON text) when the page was read with a
    `FeatureText`, else `rows` (feature_key, properties, geom); and, when it was counted along,
    the number of all matches (`matched`)."""

    rows: list[Any]
    texts: list[str] | None
    matched: int | None

    def __len__(self) -> int:
        return len(self.rows)


def _ordered(keys: Sequence[tuple[Any, bool]], ident: Any) -> list[Any]:
    terms = [(key.desc() if descending else key.asc()).nulls_last() for key, descending in keys]
    return [*terms, ident.asc()]


def read_page(
    connection: Connection,
    table: Table,
    where: ColumnElement[bool],
    keys: Sequence[tuple[Any, bool]],
    limit: int,
    offset: int,
    count: bool,
    text: FeatureText | None,
) -> Page:
    """The rows of `table` (a features table) matching `where`, ordered by `keys` ((expression,
    descending) pairs; NULLs last) and then id, `limit` of them after `offset`; written as GeoJSON
    by `text`, or as the stored columns when it is None.

    With `count`, the number of all matches comes from the same scan (`Page.matched`; None when the
    page is empty and so does not carry it). Without, the query is the plain ordered one when
    nothing is skipped, else the ids are chosen first and only the page's rows read.
    """
    ident = table.c.id
    postgresql = connection.dialect.name == "postgresql"
    if text is None:
        columns: list[Any] = [table.c.feature_key, table.c.properties, table.c.geom]
    else:
        head, tail = text.parts(table)
        if postgresql:
            columns = [(head + func.coalesce(geometry_geojson(table.c.geom), "null") + tail).label("text")]
        else:
            prepare(connection)
            columns = [head.label("head"), table.c.geom, tail.label("tail")]
    if count:
        # The matching ids (and sort keys) once, counted, and the page picked from them; a CTE used
        # twice is computed once on both backends.
        labels = [key.label(f"k{i}") for i, (key, _) in enumerate(keys)]
        matches = select(ident.label("id"), *labels).where(where).cte("matches")
        by = [(matches.c[f"k{i}"], descending) for i, (_, descending) in enumerate(keys)]
        picked = select(matches.c.id).order_by(*_ordered(by, matches.c.id)).limit(limit).offset(offset)
        total = select(func.count()).select_from(matches).scalar_subquery().label("matched")
        query = select(total, *columns).where(_in_ids(ident, picked)).order_by(*_ordered(keys, ident))
    elif offset:
        picked = select(ident).where(where).order_by(*_ordered(keys, ident)).limit(limit).offset(offset)
        query = select(*columns).where(_in_ids(ident, picked)).order_by(*_ordered(keys, ident))
    else:
        query = select(*columns).where(where).order_by(*_ordered(keys, ident)).limit(limit)
    rows = list(connection.execute(query).all())
    matched = (rows[0].matched if rows else None) if count else None
    if text is None:
        return Page(rows, None, matched)
    return Page(rows, [row.text for row in rows] if postgresql else _fill_geometries(rows), matched)


# --- SQLite: the functions the JSON text needs -----------------------------------------------------


def _url_quote(text: str | None) -> str | None:
    return None if text is None else quote(text, safe="")


def _json_select(document: str | None, names: str) -> str:
    values = orjson.loads(document) if document is not None else None
    if not isinstance(values, dict):
        return "{}"
    return orjson.dumps({name: values[name] for name in orjson.loads(names) if name in values}).decode()


def prepare(connection: Connection) -> None:
    """Register the SQLite functions of the feature text on this connection, once per connection
    (the pool keeps a mark in the connection's info); nothing to do on PostgreSQL."""
    if connection.dialect.name != "sqlite":
        return
    info = connection.connection.info
    if info.get(_REGISTERED):
        return
    raw: Any = connection.connection.driver_connection
    raw.create_function("ut_url_quote", 1, _url_quote, deterministic=True)
    raw.create_function("ut_json_select", 2, _json_select, deterministic=True)
    info[_REGISTERED] = True


__all__ = ["GEOJSON_DECIMALS", "FeatureText", "Page", "in_box", "prepare", "read_page"]
