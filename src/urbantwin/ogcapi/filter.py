"""OGC API - Features Part 3: CQL2 filters (text and JSON, parsed by pygeofilter) as SQL conditions.

pygeofilter parses `filter` into its AST; `FilterCompiler` turns that AST into a SQLAlchemy Core
condition over the features table. Properties are JSON, read with the store's portable JSON helpers
(a number compares as a number, a string as a string, never one as the other); geometries go
through the store's spatial functions with a bounding-box prefilter; `valid_from`/`valid_to` are
the features' validity and take the temporal operators. Anything the compiler does not know answers
400 naming it.

A filter is bounded before it costs anything: its length (`max_filter_length`), the nesting of a
CQL2-JSON document (`max_json_depth`) and the depth of the parsed tree (`max_filter_depth`, a chain
`a OR b OR c` as deep as it is long), measured without recursion, since the compiler and SQLAlchemy
walk the tree recursively.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, time
from typing import Any

import numpy as np
import shapely
from lark.exceptions import LarkError
from pygeofilter import ast, values
from pygeofilter.parsers.cql2_json import parse as parse_cql2_json
from pygeofilter.parsers.cql2_text import parse as parse_cql2_text
from sqlalchemy import LargeBinary, and_, func, literal, not_, or_

from urbantwin.errors import BadRequest
from urbantwin.geometry import GeometryError, check_lonlat, crs_of, from_geojson
from urbantwin.http import parse_json
from urbantwin.ogcapi.crs import geometry_to_crs84
from urbantwin.settings import Settings
from urbantwin.store.features_schema import features
from urbantwin.store.spatial import bbox_overlaps, spatial_call
from urbantwin.store.sqlfunctions import json_boolean, json_number, json_string, json_value, text_like
from urbantwin.store.types import geom_from_wkb
from urbantwin.times import parse_instant

#: The queryable of the features' geometry, and the temporal queryables.
GEOMETRY = "geometry"
TEMPORAL = ("valid_from", "valid_to")
LANGUAGES = ("cql2-text", "cql2-json")

_SPATIAL = {
    ast.GeometryIntersects: "st_intersects",
    ast.GeometryDisjoint: "st_disjoint",
    ast.GeometryContains: "st_contains",
    ast.GeometryWithin: "st_within",
    ast.GeometryTouches: "st_touches",
    ast.GeometryCrosses: "st_crosses",
    ast.GeometryOverlaps: "st_overlaps",
    ast.GeometryEquals: "st_equals",
}
#: The predicate with its operands swapped (`S_WITHIN(POINT(…), geometry)` is `S_CONTAINS(geometry, …)`).
_SWAPPED = {"st_within": "st_contains", "st_contains": "st_within"}
_COMPARE = {
    ast.Equal: lambda a, b: a == b,
    ast.NotEqual: lambda a, b: a != b,
    ast.LessThan: lambda a, b: a < b,
    ast.LessEqual: lambda a, b: a <= b,
    ast.GreaterThan: lambda a, b: a > b,
    ast.GreaterEqual: lambda a, b: a >= b,
}

_MIRROR = {
    ast.LessThan: ast.GreaterThan,
    ast.GreaterThan: ast.LessThan,
    ast.LessEqual: ast.GreaterEqual,
    ast.GreaterEqual: ast.LessEqual,
}


def check_language(language: str | None) -> str:
    """The `filter-lang` (default cql2-text), or 400 naming the supported ones."""
    language = language or "cql2-text"
    if language not in LANGUAGES:
        raise BadRequest(f"filter-lang: unsupported {language!r}; use one of {', '.join(LANGUAGES)}")
    return language


def parse_filter(text: str, language: str | None, settings: Settings) -> ast.Node:
    """The AST of a `filter` in `filter-lang` (default cql2-text), within the settings' limits."""
    language = check_language(language)
    if len(text) > settings.max_filter_length:
        raise BadRequest(
            f"filter: too long ({len(text)} characters); the limit is {settings.max_filter_length} characters"
        )
    node = _parse(text, language, settings)
    if tree_height(node) > settings.max_filter_depth:
        raise BadRequest(_too_deep(settings))
    return node


def _too_deep(settings: Settings) -> str:
    return (
        f"filter: nested too deeply; the limit is {settings.max_filter_depth} levels of parentheses, "
        "functions and operators (each AND, OR or arithmetic operator of a chain counts)"
    )


def tree_height(node: Any) -> int:
    """The longest way from `node` down to a leaf of its tree (a literal or a property is 0), walked
    without recursion so that a tree of any depth is measured."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(node, 0)]
    while stack:
        current, level = stack.pop()
        deepest = max(deepest, level)
        if isinstance(current, ast.Node):
            stack.extend((child, level + 1) for child in current.get_sub_nodes())
    return deepest


def _parse(text: str, language: str, settings: Settings) -> ast.Node:
    try:
        if language == "cql2-json":
            # The one rule of JSON input (depth, NUL), with the settings' limit of nesting.
            document = parse_json(text, settings, "filter (cql2-json)")
            _check_times(document)
            return parse_cql2_json(document)
        return parse_cql2_text(text)
    except BadRequest:
        raise
    except RecursionError:  # pygeofilter transforms its parse tree recursively
        raise BadRequest(_too_deep(settings)) from None
    except LarkError as error:
        first = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise BadRequest(f"filter: invalid {language}: {first}") from None
    except Exception as error:  # noqa: BLE001 - pygeofilter raises plain errors for bad input
        raise BadRequest(f"filter: invalid {language}: {error or type(error).__name__}") from None


def _check_times(document: Any) -> None:
    """Every `timestamp` and `interval` of a CQL2 JSON document is ISO 8601 (RFC 3339, as CQL2 says),
    or 400 naming it. pygeofilter hands a time that is not ISO to dateparser, which tries each of
    its 200 languages on it: one odd text cost seconds of CPU (about 8 s on a quiet core, a minute
    on a busy machine), in the request's thread, for an answer that is a 400 anyway."""
    stack = [document]
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            stack.extend(node)
            continue
        if not isinstance(node, dict):
            continue
        if "timestamp" in node:
            parse_instant(node["timestamp"], "filter (cql2-json): timestamp")
        interval = node.get("interval")
        if isinstance(interval, list):
            for end in interval:
                # ".." is an open end; a duration (P1D) pygeofilter reads itself
                if not (isinstance(end, str) and (end == ".." or end.lstrip("+-").startswith("P"))):
                    parse_instant(end, "filter (cql2-json): interval")
        stack.extend(node.values())


class FilterCompiler:
    """Compiles a pygeofilter AST into a condition, given the collection's property schema."""

    def __init__(self, schema: dict[str, Any], crs: str, temporal: bool) -> None:
        self.schema = schema
        self.crs = crs
        self.temporal = temporal

    def compile(self, node: Any) -> Any:
        if isinstance(node, ast.And):
            return and_(self.compile(node.lhs), self.compile(node.rhs))
        if isinstance(node, ast.Or):
            return or_(self.compile(node.lhs), self.compile(node.rhs))
        if isinstance(node, ast.Not):
            return not_(self.compile(node.sub_node))
        if isinstance(node, bool):
            return literal(node)
        if type(node) in _COMPARE:
            return self._comparison(node)
        if isinstance(node, ast.Like):
            return self._like(node)
        if isinstance(node, ast.Between):
            value, (low, high) = self._sides(node.lhs, [node.low, node.high])
            condition = and_(value >= low, value <= high)
            return not_(condition) if node.not_ else condition
        if isinstance(node, ast.In):
            if not node.sub_nodes:
                raise BadRequest("filter: IN needs at least one value")
            value, items = self._sides(node.lhs, list(node.sub_nodes))
            condition = or_(*(value == item for item in items))
            return not_(condition) if node.not_ else condition
        if isinstance(node, ast.IsNull):
            condition = self._is_null(node.lhs)
            return not_(condition) if node.not_ else condition
        if type(node) in _SPATIAL:
            return self._spatial(node)
        if isinstance(node, ast.BBox):
            box = values.Envelope(node.minx, node.maxx, node.miny, node.maxy)
            return self._spatial(ast.GeometryIntersects(node.lhs, box))
        if isinstance(node, ast.TemporalPredicate):
            return self._temporal(node)
        name = getattr(node, "op", None)
        label = getattr(name, "value", None) or type(node).__name__
        raise BadRequest(f"filter: the operator {label!r} is not supported here")

    # --- operands ----------------------------------------------------------------------------------

    def _attribute(self, node: ast.Attribute) -> str:
        name = node.name
        if name in self.schema or name == GEOMETRY or (self.temporal and name in TEMPORAL):
            return name
        known = sorted(self.schema) + [GEOMETRY] + (list(TEMPORAL) if self.temporal else [])
        raise BadRequest(f"filter: unknown queryable {name!r}; known are: {', '.join(known)}")

    def _kind_of(self, node: Any) -> str:
        """What an operand is compared as: number, boolean, string or time."""
        if isinstance(node, bool):
            return "boolean"
        if isinstance(node, int | float | ast.Arithmetic):
            return "number"
        if isinstance(node, str):
            return "string"
        if isinstance(node, datetime | date):
            return "time"
        if isinstance(node, ast.Attribute):
            name = self._attribute(node)
            if name == GEOMETRY:
                raise BadRequest("filter: compare the geometry with the spatial operators (S_INTERSECTS, …)")
            if name in TEMPORAL:
                return "time"
            return {"integer": "number", "number": "number", "boolean": "boolean"}.get(
                self._kind(name) or "", "string"
            )
        raise BadRequest(f"filter: {node!r} cannot be compared")

    def _kind(self, name: str) -> str | None:
        return (self.schema.get(name) or {}).get("type")

    def _common_kind(self, lhs: Any, others: list[Any]) -> str:
        """The kind of a comparison: that of its literals (all alike), else that of its left side."""
        literals = [o for o in others if not isinstance(o, ast.Attribute | ast.Arithmetic)]
        kinds = {self._kind_of(o) for o in literals}
        if len(kinds) > 1:
            raise BadRequest(f"filter: the values {literals!r} are of different types")
        return kinds.pop() if kinds else self._kind_of(lhs)

    def _expr(self, node: Any, kind: str, column_time: bool) -> Any:
        """The SQL of an operand compared as `kind` (`column_time`: against a validity column)."""
        if isinstance(node, ast.Attribute):
            name = self._attribute(node)
            if name == GEOMETRY:
                raise BadRequest("filter: compare the geometry with the spatial operators (S_INTERSECTS, …)")
            if name in TEMPORAL:
                if kind != "time":
                    raise BadRequest(f"filter: {name} is a time; compare it with a TIMESTAMP or DATE")
                return features.c[name]
            accessor = {"number": json_number, "boolean": json_boolean}.get(kind, json_string)
            return accessor(features.c.properties, (name,))
        if isinstance(node, ast.Arithmetic):
            if kind != "number":
                raise BadRequest("filter: arithmetic compares only with numbers")
            return self._arithmetic(node)
        if self._kind_of(node) != kind:
            raise BadRequest(f"filter: a {kind} cannot be compared with {node!r}")
        if kind == "time":
            instant = _instant(node, "compare")
            return instant if column_time else instant.isoformat().replace("+00:00", "Z")
        if kind == "number":
            return _finite(node)
        return node

    def _sides(self, lhs: Any, others: list[Any]) -> tuple[Any, list[Any]]:
        if not isinstance(lhs, ast.Attribute | ast.Arithmetic):
            raise BadRequest(f"filter: expected a property on the left of a comparison, got {lhs!r}")
        kind = self._common_kind(lhs, others)
        column_time = isinstance(lhs, ast.Attribute) and lhs.name in TEMPORAL
        return self._expr(lhs, kind, column_time), [self._expr(o, kind, column_time) for o in others]

    def _arithmetic(self, node: ast.Arithmetic) -> Any:
        def side(operand: Any) -> Any:
            if isinstance(operand, ast.Arithmetic):
                return self._arithmetic(operand)
            if isinstance(operand, ast.Attribute):
                return json_number(features.c.properties, (self._attribute(operand),))
            if isinstance(operand, int | float) and not isinstance(operand, bool):
                return literal(_finite(operand))
            raise BadRequest(f"filter: arithmetic needs numbers, got {operand!r}")

        lhs, rhs = side(node.lhs), side(node.rhs)
        if node.op.value == "/":
            return lhs / func.nullif(rhs, 0.0)  # NULL (matching nothing) rather than an error
        return {"+": lhs + rhs, "-": lhs - rhs, "*": lhs * rhs}[node.op.value]

    # --- predicates --------------------------------------------------------------------------------

    def _comparison(self, node: ast.Comparison) -> Any:
        lhs, rhs = node.lhs, node.rhs
        if not isinstance(lhs, ast.Attribute | ast.Arithmetic) and isinstance(rhs, ast.Attribute):
            lhs, rhs = rhs, lhs  # `5 < rank`: the property on the left, the operator mirrored
            compare = _COMPARE[_MIRROR.get(type(node), type(node))]
        else:
            compare = _COMPARE[type(node)]
        if isinstance(lhs, ast.Function) or isinstance(rhs, ast.Function):
            return self._function_comparison(lhs, rhs, compare)
        value, (other,) = self._sides(lhs, [rhs])
        return compare(value, other)

    def _function_comparison(self, lhs: Any, rhs: Any, compare: Any) -> Any:
        """`CASEI(name) = casei('x')`: both sides case-folded."""

        def side(operand: Any) -> Any:
            if isinstance(operand, ast.Function) and operand.name in ("lower", "casei") and operand.arguments:
                inner = operand.arguments[0]
                if isinstance(inner, ast.Attribute):
                    return func.lower(json_string(features.c.properties, (self._attribute(inner),)))
                if isinstance(inner, str):
                    return inner.lower()
            if isinstance(operand, str):
                return operand
            if isinstance(operand, ast.Attribute):
                return json_string(features.c.properties, (self._attribute(operand),))
            name = getattr(operand, "name", operand)
            raise BadRequest(f"filter: the function {name!r} is not supported here")

        return compare(side(lhs), side(rhs))

    def _like(self, node: ast.Like) -> Any:
        lhs = node.lhs
        casei = node.nocase
        if isinstance(lhs, ast.Function) and lhs.name in ("lower", "casei") and lhs.arguments:
            lhs, casei = lhs.arguments[0], True
        if not isinstance(lhs, ast.Attribute):
            raise BadRequest("filter: LIKE needs a property on its left")
        name = self._attribute(lhs)
        pattern = node.pattern
        if isinstance(pattern, ast.Function) and pattern.name in ("lower", "casei") and pattern.arguments:
            pattern, casei = pattern.arguments[0], True
        if not isinstance(pattern, str):
            raise BadRequest("filter: the pattern of LIKE must be a string")
        if (len(pattern) - len(pattern.rstrip("\\"))) % 2:
            raise BadRequest(f"filter: the LIKE pattern {pattern!r} ends with a lone escape character")
        condition = text_like(json_string(features.c.properties, (name,)), pattern, casei)
        return not_(condition) if node.not_ else condition

    def _is_null(self, lhs: Any) -> Any:
        if not isinstance(lhs, ast.Attribute):
            raise BadRequest("filter: IS NULL needs a property")
        name = self._attribute(lhs)
        if name == GEOMETRY:
            return features.c.geom.is_(None)
        if name in TEMPORAL:
            return features.c[name].is_(None)
        return json_value(features.c.properties, (name,)).is_(None)

    def _spatial(self, node: Any) -> Any:
        function = _SPATIAL[type(node)]
        lhs, rhs = node.lhs, node.rhs
        if not isinstance(lhs, ast.Attribute) and isinstance(rhs, ast.Attribute):
            lhs, rhs = rhs, lhs
            function = _SWAPPED.get(function, function)
        if not isinstance(lhs, ast.Attribute) or self._attribute(lhs) != GEOMETRY:
            raise BadRequest(f"filter: {function.upper()} needs the queryable {GEOMETRY!r} as one operand")
        literal_geometry = _geometry_literal(rhs)
        if not np.isfinite(shapely.get_coordinates(literal_geometry)).all():
            raise BadRequest("filter: the geometry's coordinates must be finite numbers")
        geometry = geometry_to_crs84(literal_geometry, self.crs)
        try:
            check_lonlat(geometry, crs_of(self.crs))
        except GeometryError as error:
            raise BadRequest(f"filter: {error}") from None
        if not geometry.is_valid:  # a self-crossing polygon would make the backends' predicates fail
            geometry = shapely.make_valid(geometry)
        wkb = geom_from_wkb(literal(shapely.to_wkb(geometry), LargeBinary))
        condition: Any = spatial_call(function, features.c.geom, wkb)
        if function != "st_disjoint" and not geometry.is_empty:
            box = tuple(float(v) for v in geometry.bounds)
            condition = and_(bbox_overlaps("features", features.c.id, features.c.geom, box), condition)
        return condition

    def _temporal(self, node: ast.TemporalPredicate) -> Any:
        lhs, rhs = node.lhs, node.rhs
        if not isinstance(lhs, ast.Attribute) or self._attribute(lhs) not in TEMPORAL:
            known = " or ".join(TEMPORAL) if self.temporal else "none in this collection"
            raise BadRequest(f"filter: temporal operators need a temporal queryable ({known})")
        column = features.c[lhs.name]
        if isinstance(rhs, values.Interval):
            start = None if rhs.start is None else _instant(rhs.start, "start")
            end = None if rhs.end is None else _instant(rhs.end, "end")
        else:
            start = end = _instant(rhs, "compare")
        op = type(node)
        if op is ast.TimeBefore:
            return column < start if start is not None else literal(False)
        if op is ast.TimeAfter:
            return column > end if end is not None else literal(False)
        within = and_(
            *([column >= start] if start else []), *([column <= end] if end else []), column.isnot(None)
        )
        if op in (ast.TimeDuring, ast.TimeEquals):
            if op is ast.TimeEquals and start != end:
                raise BadRequest("filter: T_EQUALS of an instant needs an instant")
            return within
        if op is ast.TimeDisjoint:
            return not_(within)
        raise BadRequest(f"filter: the temporal operator {op.op.value!r} is not supported on instants")


def _finite(value: Any) -> float:
    try:
        number = float(value)
    except OverflowError:
        number = math.inf
    if not math.isfinite(number):
        raise BadRequest(f"filter: {value!r} is not a finite number")
    return number


def _instant(value: Any, what: str) -> datetime:
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if isinstance(value, date):
        return datetime.combine(value, time(), tzinfo=UTC)
    raise BadRequest(f"filter: expected a TIMESTAMP or DATE to {what}, got {value!r}")


def _geometry_literal(node: Any) -> shapely.Geometry:
    try:
        if isinstance(node, values.Geometry):
            return from_geojson(node.geometry, allow_empty=True)
        if isinstance(node, values.Envelope):
            return shapely.box(node.x1, node.y1, node.x2, node.y2)
        if isinstance(node, ast.Function) and node.name.lower() == "bbox" and len(node.arguments) in (4, 6):
            numbers = [float(v) for v in node.arguments]
            if len(numbers) == 6:
                numbers = [numbers[0], numbers[1], numbers[3], numbers[4]]
            return shapely.box(*numbers)
    except GeometryError as error:
        raise BadRequest(f"filter: invalid geometry: {error}") from None
    except (ValueError, TypeError, shapely.errors.GEOSException) as error:
        raise BadRequest(f"filter: invalid geometry: {error}") from None
    raise BadRequest(f"filter: expected a geometry literal, got {node!r}")
