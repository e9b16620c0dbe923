"""From a parsed `$filter`/`$orderby` and the entity model to SQLAlchemy Core, parameterised.

Paths across to-one relations (`Datastream/Thing/name`) become outer joins of the query; a
comparison over a to-many relation (`Datastreams/name eq 'x'` on Things) becomes an EXISTS over
the related rows, so a Thing matches when any of its Datastreams does. Every literal is a bound
parameter; type mismatches (comparing a name with a number) are the client's error and answer 400.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import shapely
from shapely import wkt as shapely_wkt
from sqlalchemy import (
    ColumnElement,
    Integer,
    and_,
    case,
    cast,
    exists,
    false,
    func,
    literal,
    not_,
    null,
    or_,
    select,
    true,
)
from sqlalchemy.sql import operators, visitors
from sqlalchemy.sql.elements import ColumnClause

from urbantwin.errors import BadRequest
from urbantwin.geometry import GeometryError, check_geometry
from urbantwin.sensorthings.model import ENTITY_TYPES, EntityType, Property, Relation
from urbantwin.sensorthings.query.ast import (
    BinOp,
    Call,
    GeoLiteral,
    Interval,
    Literal,
    Neg,
    Node,
    Not,
    OrderBy,
    Path,
)
from urbantwin.sensorthings.visibility import ALL, Visibility
from urbantwin.store import schema
from urbantwin.store.spatial import BBOX_IMPLYING, SPATIAL_TABLES, bbox_overlaps, spatial_call
from urbantwin.store.sqlfunctions import (
    as_double,
    json_boolean,
    json_number,
    json_string,
    json_text,
    remainder,
    round_half_away,
    rounded,
    text_position,
    time_format,
    time_part,
    time_seconds,
)
from urbantwin.store.types import UtcTime, geom_from_wkb

COMPARISONS = {"eq", "ne", "gt", "ge", "lt", "le"}
ARITHMETIC = {"add", "sub", "mul", "div", "mod"}
_SQL_COMPARE = {
    "eq": operators.eq,
    "ne": operators.ne,
    "gt": operators.gt,
    "ge": operators.ge,
    "lt": operators.lt,
    "le": operators.le,
}
_MIN_TIME = datetime(1, 1, 1, tzinfo=UTC)
_MAX_TIME = datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)
#: Result types held as a number in `result_number` (booleans are there too, as 1/0, but are no numbers).
_NUMERIC_RESULTS = (schema.RESULT_NUMBER, schema.RESULT_INTEGER)


@dataclass
class Value:
    """A compiled operand: an SQL expression and what kind of value it is.

    kind is one of number, text, bool, time, interval, json, geom, null, result, date, timeofday.
    For `interval`, `expr` is the start and `end` the end column; for `result`, `columns` holds the
    typed result columns; for `json`, `column`/`keys` locate the value in a JSON document.
    """

    kind: str
    expr: Any = None
    end: Any = None
    columns: Any = None
    column: Any = None
    keys: tuple[str, ...] = ()
    literal: Any = None
    is_literal: bool = False
    bbox: tuple[float, float, float, float] | None = None


def relation_condition(relation: Relation, source: Any, target: Any) -> ColumnElement[bool]:
    """The condition that row `target` is related to row `source` along `relation`."""
    if relation.fk:
        return target.c.id == source.c[relation.fk]
    if relation.reverse_fk:
        return target.c[relation.reverse_fk] == source.c.id
    link = relation.link
    assert link is not None and relation.link_self and relation.link_target
    # Correlate explicitly: auto-correlation would only look one query level up, and this
    # condition may sit inside an EXISTS inside the outer query.
    return target.c.id.in_(
        select(link.c[relation.link_target])
        .where(link.c[relation.link_self] == source.c.id)
        .correlate_except(link)
    )


@dataclass
class Scope:
    """Rows of one entity type in a query: its alias, the to-one joins its paths need, and the
    prefix of full paths (from the filtered entity) that resolve here."""

    entity: EntityType
    alias: Any
    prefix: tuple[str, ...] = ()
    outer: Scope | None = None
    joins: dict[tuple[str, ...], tuple[EntityType, Any, Any]] = field(default_factory=dict)

    def from_clause(self) -> Any:
        clause = self.alias
        for _entity, target, onclause in self.joins.values():
            clause = clause.outerjoin(target, onclause)
        return clause

    def covering(self, segments: tuple[str, ...]) -> Scope:
        scope: Scope | None = self
        while scope is not None:
            if segments[: len(scope.prefix)] == scope.prefix:
                return scope
            scope = scope.outer
        raise AssertionError("the root scope covers every path")


class FilterCompiler:
    """Compiles the `$filter` and `$orderby` of one query over `entity`."""

    def __init__(
        self,
        entity: EntityType,
        alias: Any | None = None,
        now: datetime | None = None,
        visibility: Visibility = ALL,
    ) -> None:
        self.root = Scope(entity, alias if alias is not None else entity.table)
        self.now = now or datetime.now(UTC)
        #: Related entities the reader may not see count as absent in joins and EXISTS.
        self.visibility = visibility

    # --- public ---------------------------------------------------------------------------------

    def predicate(self, node: Node) -> ColumnElement[bool]:
        return self._bool(node, self.root)

    def order_by(self, items: tuple[OrderBy, ...]) -> list[Any]:
        clauses = []
        for item in items:
            try:
                value = self._value(item.expr, self.root)
            except BadRequest as exc:  # the problem is in $orderby, not in a $filter
                raise BadRequest(exc.message.replace("$filter:", "$orderby:", 1)) from None
            if value.kind == "result":
                exprs = [value.columns["number"], value.columns["string"]]
            elif value.kind == "interval":
                # By the start only, so the (datastream, start) index serves "newest first".
                exprs = [value.expr]
            elif value.kind == "geom":
                raise BadRequest("$orderby: geometries cannot be ordered")
            elif value.kind == "json":
                # Numbers, then strings: the text of other JSON values differs between the backends.
                exprs = [json_number(value.column, value.keys), json_string(value.column, value.keys)]
            else:
                exprs = [value.expr]
            for expr in exprs:
                if not _references_a_column(expr):
                    # A constant orders nothing, and the databases refuse some (PostgreSQL: "non-integer
                    # constant in ORDER BY" for `true`) or read `ORDER BY 1` as "by the first column"
                    # (SQLite, where true is 1): both were 500s.
                    continue
                clauses.append(_ordered(expr, item.descending))
        return clauses

    def from_clause(self) -> Any:
        return self.root.from_clause()

    # --- booleans -------------------------------------------------------------------------------

    def _bool(self, node: Node, scope: Scope) -> ColumnElement[bool]:
        if isinstance(node, BinOp) and node.op in ("and", "or"):
            left, right = self._bool(node.left, scope), self._bool(node.right, scope)
            return and_(left, right) if node.op == "and" else or_(left, right)
        if isinstance(node, Not):
            return not_(self._bool(node.operand, scope))
        many = self._to_many_prefix(node, scope)
        if many is not None:
            return self._exists(node, scope, many)
        if isinstance(node, BinOp) and node.op in COMPARISONS:
            return self._compare(node.op, self._value(node.left, scope), self._value(node.right, scope))
        value = self._value(node, scope)
        if value.kind == "bool":
            return value.expr if not value.is_literal else (true() if value.literal else false())
        if value.kind == "json":
            return json_boolean(value.column, value.keys) == literal(True)
        if value.kind == "result":
            return and_(value.columns["type"] == schema.RESULT_BOOLEAN, value.columns["number"] == 1)
        raise BadRequest(f"$filter: expected a condition, got a {value.kind} value ({_describe(node)})")

    def _exists(self, node: Node, scope: Scope, many: tuple[Scope, Any, Relation, tuple[str, ...]]):
        source_scope, source_alias, relation, prefix = many
        target_entity = ENTITY_TYPES[relation.target]
        inner = Scope(target_entity, target_entity.table.alias(), prefix=prefix, outer=scope)
        condition = self._bool(node, inner)
        own = [inner.alias, *(target for _entity, target, _on in inner.joins.values())]
        return exists(
            select(literal(1))
            .select_from(inner.from_clause())
            .where(
                relation_condition(relation, source_alias, inner.alias),
                *self.visibility.conditions(target_entity, inner.alias),
                condition,
            )
            # Correlate explicitly: auto-correlation looks one query level up only, so a column of
            # the filtered entity two EXISTS deep (`Datastreams/Observations/result gt
            # properties/height` on Things) became a cross join with all Things (a wrong answer).
            .correlate_except(*own)
        )

    def _to_many_prefix(self, node: Node, scope: Scope):
        """The first path in `node` that crosses a to-many relation not yet entered, if any."""
        for path in _paths(node):
            covering = scope.covering(path.segments)
            rest = path.segments[len(covering.prefix) :]
            entity, alias, walked = covering.entity, covering.alias, covering.prefix
            for segment in rest[:-1] if rest else ():
                relation = entity.relations.get(segment)
                if relation is None:
                    break
                walked = (*walked, segment)
                if relation.many:
                    return covering, alias, relation, walked
                entity, alias = self._join(covering, walked, entity, alias, relation)
            if rest:
                relation = entity.relations.get(rest[-1])
                if relation is not None and relation.many:
                    raise BadRequest(
                        f"$filter: {'/'.join(path.segments)} is a collection; "
                        "compare one of its properties, e.g. "
                        f"{'/'.join(path.segments)}/id"
                    )
        return None

    def _join(
        self, scope: Scope, walked: tuple[str, ...], entity: EntityType, alias: Any, relation: Relation
    ):
        key = walked
        if key not in scope.joins:
            target_entity = ENTITY_TYPES[relation.target]
            target = target_entity.table.alias()
            onclause = and_(
                relation_condition(relation, alias, target),
                *self.visibility.conditions(target_entity, target),
            )
            scope.joins[key] = (target_entity, target, onclause)
        target_entity, target, _ = scope.joins[key]
        return target_entity, target

    # --- comparisons ----------------------------------------------------------------------------

    def _compare(self, op: str, left: Value, right: Value) -> ColumnElement[bool]:
        if left.kind == "null" and right.kind != "null":
            return self._compare(_mirror(op), right, left)
        if right.kind == "null":
            expr = self._nullable_expr(left)
            if op == "eq":
                return expr.is_(None)
            if op == "ne":
                return expr.is_not(None)
            raise BadRequest(f"$filter: '{op}' cannot compare with null; use eq or ne")
        if left.kind == "result" or right.kind == "result":
            if left.kind != "result":
                return self._compare(_mirror(op), right, left)
            return self._compare_result(op, left, right)
        if left.kind == "json" or right.kind == "json":
            if left.kind != "json":
                return self._compare(_mirror(op), right, left)
            return self._compare_json(op, left, right)
        if left.kind in ("date", "timeofday") or right.kind in ("date", "timeofday"):
            if left.kind not in ("date", "timeofday"):
                return self._compare(_mirror(op), right, left)
            if right.is_literal and isinstance(right.literal, datetime):
                fmt = "%Y-%m-%d" if left.kind == "date" else "%H:%M:%S"
                return _SQL_COMPARE[op](left.expr, literal(right.literal.strftime(fmt)))
            if right.kind in ("text", left.kind):
                return _SQL_COMPARE[op](left.expr, right.expr)
            raise BadRequest(f"$filter: cannot compare a {left.kind} with a {right.kind}")
        if left.kind in ("time", "interval") or right.kind in ("time", "interval"):
            return self._compare_time(op, left, right)
        if left.kind == "geom" or right.kind == "geom":
            raise BadRequest("$filter: geometries are compared with geo.* and st_* functions, not with " + op)
        if left.kind != right.kind:
            raise BadRequest(f"$filter: cannot compare a {left.kind} with a {right.kind} using '{op}'")
        if left.kind == "bool" and op not in ("eq", "ne"):
            # SQLAlchemy refuses `false > true` (an ArgumentError, a 500); booleans have no order.
            raise BadRequest(f"$filter: conditions are compared with eq or ne only, not with '{op}'")
        return _SQL_COMPARE[op](left.expr, right.expr)

    def _nullable_expr(self, value: Value) -> Any:
        if value.kind == "result":
            return case((value.columns["type"] == schema.RESULT_NULL, None), else_=literal(1))
        if value.kind == "json":
            return json_text(value.column, value.keys)
        return value.expr

    def _compare_result(self, op: str, result: Value, other: Value) -> ColumnElement[bool]:
        cols = result.columns
        if result.keys:  # a path into a JSON result: result/field
            return self._compare_json(op, Value("json", column=cols["json"], keys=result.keys), other)
        if other.kind == "number":
            return and_(
                cols["type"].in_((schema.RESULT_NUMBER, schema.RESULT_INTEGER)),
                _SQL_COMPARE[op](cols["number"], other.expr),
            )
        if other.kind == "text":
            return _SQL_COMPARE[op](cols["string"], other.expr)
        if other.kind == "bool":
            # A boolean result is 1/0 in the number column; PostgreSQL cannot compare a double with
            # a boolean (`double precision = boolean` was a 500), so compare with 1.0/0.0.
            flag = (
                literal(1.0 if other.literal else 0.0)
                if other.is_literal
                else case((other.expr, literal(1.0)), else_=literal(0.0))
            )
            return and_(cols["type"] == schema.RESULT_BOOLEAN, _SQL_COMPARE[op](cols["number"], flag))
        if other.kind in ("time", "interval"):
            if not other.is_literal:
                raise BadRequest("$filter: a result can be compared with a time literal only")
            return _SQL_COMPARE[op](cols["string"], literal(_iso(other.literal)))
        if other.kind == "result":
            return _SQL_COMPARE[op](cols["number"], other.columns["number"])
        if other.kind == "json":
            # `result gt Datastream/properties/threshold`: numbers with numbers, text with strings.
            compare = _SQL_COMPARE[op]
            return or_(
                and_(
                    cols["type"].in_(_NUMERIC_RESULTS),
                    compare(cols["number"], json_number(other.column, other.keys)),
                ),
                compare(cols["string"], json_string(other.column, other.keys)),
            )
        raise BadRequest(f"$filter: cannot compare a result with a {other.kind}")

    def _compare_json(self, op: str, value: Value, other: Value) -> ColumnElement[bool]:
        # A JSON value is compared only with a value of its own JSON type: the backends order
        # values of different types differently (PostgreSQL puts numbers above strings, SQLite
        # below them) and SQLite keeps `true` as 1, so a mixed comparison would answer differently.
        compare, column, keys = _SQL_COMPARE[op], value.column, value.keys
        if other.is_literal:
            lit = other.literal
            if isinstance(lit, datetime | Interval):
                lit = _iso(lit)
            if isinstance(lit, bool):
                return compare(json_boolean(column, keys), literal(lit))
            if isinstance(lit, int | float):
                return compare(json_number(column, keys), literal(lit))
            if isinstance(lit, str):
                return compare(json_string(column, keys), literal(lit))
            raise BadRequest(f"$filter: cannot compare a JSON property with {lit!r}")
        if other.kind == "number":
            return compare(json_number(column, keys), other.expr)
        if other.kind == "bool":
            return compare(json_boolean(column, keys), other.expr)
        if other.kind == "json":
            # Numbers with numbers, strings with strings, booleans with booleans; NULL otherwise.
            other_column, other_keys = other.column, other.keys
            return or_(
                compare(json_number(column, keys), json_number(other_column, other_keys)),
                compare(json_string(column, keys), json_string(other_column, other_keys)),
                compare(json_boolean(column, keys), json_boolean(other_column, other_keys)),
            )
        if other.kind in ("text", "date", "timeofday"):
            return compare(json_string(column, keys), other.expr)
        raise BadRequest(f"$filter: cannot compare a JSON property with a {other.kind}")

    def _compare_time(self, op: str, left: Value, right: Value) -> ColumnElement[bool]:
        if left.kind not in ("time", "interval"):
            return self._compare_time(_mirror(op), right, left)
        if right.kind not in ("time", "interval"):
            raise BadRequest(f"$filter: cannot compare a time with a {right.kind}")
        l_start, l_end = left.expr, left.end if left.kind == "interval" else None
        r_start, r_end = right.expr, right.end if right.kind == "interval" else None
        # Interval semantics as in FROST-Server: `a gt b` when a starts at or after b's end, etc.
        if l_end is None and r_end is None:
            return _SQL_COMPARE[op](l_start, r_start)
        l_last = l_start if l_end is None else l_end
        r_last = r_start if r_end is None else r_end
        if left.kind == "interval" and not left.is_literal and l_end is not None:
            # A stored interval column: the end is NULL for instants.
            l_last_expr = func.coalesce(l_end, l_start)
        else:
            l_last_expr = l_last
        # The same on the right: `resultTime gt phenomenonTime` compared with a NULL end and matched
        # nothing where the phenomenonTime is an instant.
        if right.kind == "interval" and not right.is_literal and r_end is not None:
            r_last = func.coalesce(r_end, r_start)
        if op == "eq":
            end_match = (
                l_end.is_(None) if (r_end is None and not left.is_literal and l_end is not None) else None
            )
            if r_end is None:
                return and_(l_start == r_start, end_match) if end_match is not None else l_start == r_start
            return and_(l_start == r_start, l_last_expr == r_last)
        if op == "ne":
            return not_(self._compare_time("eq", left, right))
        if op == "gt":
            return l_start > r_last if r_end is not None else l_start > r_start
        if op == "ge":
            return l_start >= r_last if r_end is not None else l_start >= r_start
        if op == "lt":
            # Written so an index on the start column serves it: start < x and (end is null or end < x)
            if l_end is not None and not left.is_literal:
                return and_(l_start < r_start, or_(l_end.is_(None), l_end < r_start))
            return l_last_expr < r_start
        if op == "le":
            if l_end is not None and not left.is_literal:
                return and_(l_start <= r_start, or_(l_end.is_(None), l_end <= r_start))
            return l_last_expr <= r_start
        raise BadRequest(f"$filter: unknown comparison {op}")

    # --- values ---------------------------------------------------------------------------------

    def _value(self, node: Node, scope: Scope) -> Value:
        if isinstance(node, Literal):
            return _literal_value(node.value)
        if isinstance(node, GeoLiteral):
            return _geo_literal(node.wkt)
        if isinstance(node, Path):
            return self._path(node, scope)
        if isinstance(node, Neg):
            value = self._numeric(self._value(node.operand, scope), "-")
            return Value("number", -value)
        if isinstance(node, BinOp):
            if node.op in ARITHMETIC:
                return self._arithmetic(node, scope)
            return Value("bool", self._bool(node, scope))
        if isinstance(node, Not):
            return Value("bool", self._bool(node, scope))
        if isinstance(node, Call):
            return self._call(node, scope)
        raise BadRequest(f"$filter: unsupported expression {_describe(node)}")

    def _path(self, path: Path, scope: Scope) -> Value:
        covering = scope.covering(path.segments)
        rest = path.segments[len(covering.prefix) :]
        entity, alias, walked = covering.entity, covering.alias, covering.prefix
        index = 0
        while index < len(rest):
            segment = rest[index]
            relation = entity.relations.get(segment)
            if relation is None:
                break
            if relation.many:
                raise BadRequest(f"$filter: {'/'.join(path.segments)} crosses a collection")
            walked = (*walked, segment)
            entity, alias = self._join(covering, walked, entity, alias, relation)
            index += 1
        if index >= len(rest):
            raise BadRequest(
                f"$filter: {'/'.join(path.segments)} names an entity, not a property; add a property, "
                f"e.g. {'/'.join(path.segments)}/id"
            )
        name, keys = rest[index], rest[index + 1 :]
        prop = entity.property(name)
        if prop is None:
            raise BadRequest(f"$filter: {entity.name} has no property '{name}'")
        return _property_value(prop, alias, keys, entity)

    def _numeric(self, value: Value, op: str) -> Any:
        if value.kind == "number":
            return value.expr
        if value.kind == "result":
            # Only numeric results: a boolean result is 1/0 in the number column but no number.
            columns = value.columns
            return case((columns["type"].in_(_NUMERIC_RESULTS), columns["number"]))
        if value.kind == "json":
            return json_number(value.column, value.keys)
        raise BadRequest(f"$filter: '{op}' needs numbers, got a {value.kind}")

    def _arithmetic(self, node: BinOp, scope: Scope) -> Value:
        left = self._numeric(self._value(node.left, scope), node.op)
        right = self._numeric(self._value(node.right, scope), node.op)
        if node.op == "add":
            return Value("number", left + right)
        if node.op == "sub":
            return Value("number", left - right)
        if node.op == "mul":
            return Value("number", left * right)
        if node.op == "div":
            divisor = func.nullif(as_double(right), 0)  # division by zero gives null, not an error
            return Value("number", as_double(left) / divisor)
        # OData: the remainder has the sign of the left operand (-7 mod 3 is -1, not 2 as with floor).
        return Value("number", remainder(left, right))

    def _call(self, node: Call, scope: Scope) -> Value:
        name, args = node.name, [self._value(arg, scope) for arg in node.args]
        if name in _STRING_FUNCTIONS:
            return _STRING_FUNCTIONS[name](args, name)
        if name in ("year", "month", "day", "hour", "minute"):
            return Value("number", time_part(name, _time_operand(args[0], name)))
        if name == "second":
            return Value("number", time_seconds(_time_operand(args[0], name), fractional=False))
        if name == "fractionalseconds":
            return Value("number", time_seconds(_time_operand(args[0], name), fractional=True))
        if name == "date":
            return Value("date", time_format(_time_operand(args[0], name), "date"))
        if name == "time":
            return Value("timeofday", time_format(_time_operand(args[0], name), "time"))
        if name == "totaloffsetminutes":
            operand = _time_operand(args[0], name)
            # Every stored time is UTC; a null time has no offset (was 0 for rows without the time).
            return Value("number", case((operand.is_(None), null()), else_=literal(0)))
        if name == "now":
            return _literal_value(self.now)
        if name == "mindatetime":
            return _literal_value(_MIN_TIME)
        if name == "maxdatetime":
            return _literal_value(_MAX_TIME)
        if name in ("round", "floor", "ceiling"):
            number = as_double(self._numeric(args[0], name))
            # Own constructs: PostgreSQL rounds a double half to even (OData: away from zero), and
            # SQLite's floor (from SQLAlchemy) failed with a 500 on a NULL.
            return Value("number", round_half_away(number) if name == "round" else rounded(name, number))
        if name.startswith("geo.") or name.startswith("st_"):
            return _spatial(name, args)
        raise BadRequest(f"$filter: unknown function {name}()")


# --- helpers ----------------------------------------------------------------------------------------


def _references_a_column(expr: Any) -> bool:
    return any(isinstance(e, ColumnClause) and e.table is not None for e in visitors.iterate(expr))


def _ordered(expr: Any, descending: bool) -> Any:
    """An $orderby key with nulls first ascending and last descending, on both backends (OData's
    rule and SQLite's default; PostgreSQL's default is the reverse). Not on NOT NULL columns,
    where it changes nothing and PostgreSQL could no longer read the order from an index."""
    if getattr(expr, "nullable", True) is False:
        return expr.desc() if descending else expr.asc()
    return expr.desc().nulls_last() if descending else expr.asc().nulls_first()


def _mirror(op: str) -> str:
    return {"gt": "lt", "lt": "gt", "ge": "le", "le": "ge"}.get(op, op)


def _paths(node: Node):
    if isinstance(node, Path):
        yield node
    elif isinstance(node, BinOp):
        yield from _paths(node.left)
        yield from _paths(node.right)
    elif isinstance(node, Not | Neg):
        yield from _paths(node.operand)
    elif isinstance(node, Call):
        for arg in node.args:
            yield from _paths(arg)


def _describe(node: Node) -> str:
    if isinstance(node, Path):
        return "/".join(node.segments)
    if isinstance(node, Call):
        return node.name + "()"
    if isinstance(node, Literal):
        return repr(node.value)
    return type(node).__name__


def _iso(value: Any) -> str:
    if isinstance(value, Interval):
        return f"{_iso(value.start)}/{_iso(value.end)}"
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _literal_value(value: Any) -> Value:
    if value is None:
        return Value("null", null(), literal=None, is_literal=True)
    if isinstance(value, bool):
        return Value("bool", literal(value), literal=value, is_literal=True)
    if isinstance(value, int | float):
        if isinstance(value, int) and abs(value) > 2**63 - 1:
            raise BadRequest(f"$filter: the number {value} is too large")
        return Value("number", literal(value), literal=value, is_literal=True)
    if isinstance(value, str):
        return Value("text", literal(value), literal=value, is_literal=True)
    if isinstance(value, Interval):
        return Value(
            "interval",
            literal(value.start, UtcTime()),
            end=literal(value.end, UtcTime()),
            literal=value,
            is_literal=True,
        )
    if isinstance(value, datetime):
        return Value("time", literal(value, UtcTime()), literal=value, is_literal=True)
    if isinstance(value, date):
        moment = datetime(value.year, value.month, value.day, tzinfo=UTC)
        return Value("time", literal(moment, UtcTime()), literal=moment, is_literal=True)
    if isinstance(value, timedelta):
        raise BadRequest("$filter: durations are not supported in this position")
    raise BadRequest(f"$filter: unsupported literal {value!r}")


def _geo_literal(text: str) -> Value:
    try:
        geometry = shapely_wkt.loads(text)
    except (shapely.errors.GEOSException, ValueError, TypeError):
        raise BadRequest(f"$filter: not a valid WKT geometry: {text[:80]!r}") from None
    if geometry.is_empty:
        raise BadRequest("$filter: the geometry literal is empty")
    # NaN and infinite coordinates were written into the bounding-box SQL as `nan`/`inf` (a 500);
    # an invalid geometry (a self-intersecting polygon) makes PostGIS and shapely disagree.
    if not all(math.isfinite(v) for v in geometry.bounds):
        raise BadRequest(f"$filter: the geometry literal has coordinates that are not finite: {text[:80]!r}")
    try:
        check_geometry(geometry)  # the platform's one validation: WGS 84 ranges, validity
    except GeometryError as error:
        raise BadRequest(f"$filter: the geometry literal {text[:80]!r}: {error}") from None
    wkb = shapely.to_wkb(geometry)
    return Value(
        "geom",
        geom_from_wkb(literal(wkb)),
        literal=geometry,
        is_literal=True,
        bbox=tuple(float(v) for v in geometry.bounds),  # type: ignore[arg-type]
    )


def _property_value(prop: Property, alias: Any, keys: tuple[str, ...], entity: EntityType) -> Value:
    if prop.kind == "json":
        if not keys:
            return Value("json", column=alias.c[prop.column], keys=())
        return Value("json", column=alias.c[prop.column], keys=keys)
    if keys and prop.kind != "result":
        raise BadRequest(f"$filter: {prop.name} of {entity.name} has no sub-properties ({'/'.join(keys)})")
    if prop.kind == "id":
        return Value("number", alias.c.id)
    if prop.kind == "text":
        return Value("text", alias.c[prop.column])
    if prop.kind == "time":
        return Value("time", alias.c[prop.column])
    if prop.kind == "interval":
        start, end = prop.columns
        if entity.computed is not None and start not in alias.c:
            computed = entity.computed(alias)
            return Value("interval", computed[start], end=computed[end])
        return Value("interval", alias.c[start], end=alias.c[end])
    if prop.kind == "result" and keys:
        # A path into a JSON result (`result/level`) is a JSON path like any other, for comparisons,
        # functions and $orderby alike (ordering by it used the whole result's columns).
        return Value("json", column=alias.c.result_json, keys=keys)
    if prop.kind == "result":
        columns = {
            "type": alias.c.result_type,
            "number": alias.c.result_number,
            "string": alias.c.result_string,
            "json": alias.c.result_json,
        }
        return Value("result", columns=columns, keys=keys)
    if prop.kind in ("geojson", "geometry"):
        column = entity.geometry_column or prop.column
        value = Value("geom", alias.c[column])
        value.column = (entity, alias)
        return value
    raise BadRequest(f"$filter: {prop.name} cannot be filtered")


def _time_operand(value: Value, name: str) -> Any:
    if value.kind in ("time", "interval"):
        return value.expr
    raise BadRequest(f"$filter: {name}() needs a time, got a {value.kind}")


def _text(value: Value, name: str) -> Any:
    if value.kind == "text":
        return value.expr
    if value.kind == "json":
        # JSON strings only: other JSON values are written as text differently on each backend.
        return json_string(value.column, value.keys)
    if value.kind == "result":
        return value.columns["string"]
    raise BadRequest(f"$filter: {name}() needs text, got a {value.kind}")


def _int(value: Value, name: str) -> Any:
    if value.kind == "number":
        # An integer, cut towards zero on both backends: PostgreSQL has no substr(text, bigint) (a
        # 500 for a start past 2**31) and would round a fraction where SQLite cuts it.
        return cast(rounded("trunc", as_double(value.expr)), Integer)
    raise BadRequest(f"$filter: {name}() needs a number, got a {value.kind}")


def _string_functions() -> dict[str, Any]:
    def substringof(a: list[Value], n: str) -> Value:
        return Value("bool", text_position(_text(a[1], n), _text(a[0], n)) > 0)

    def contains(a: list[Value], n: str) -> Value:
        return Value("bool", text_position(_text(a[0], n), _text(a[1], n)) > 0)

    def startswith(a: list[Value], n: str) -> Value:
        return Value("bool", text_position(_text(a[0], n), _text(a[1], n)) == 1)

    def endswith(a: list[Value], n: str) -> Value:
        text, suffix = _text(a[0], n), _text(a[1], n)
        return Value(
            "bool",
            and_(
                func.length(text) >= func.length(suffix),
                func.substr(text, func.length(text) - func.length(suffix) + 1) == suffix,
            ),
        )

    def length(a: list[Value], n: str) -> Value:
        return Value("number", func.length(_text(a[0], n)))

    def indexof(a: list[Value], n: str) -> Value:
        return Value("number", text_position(_text(a[0], n), _text(a[1], n)) - 1)

    def substring(a: list[Value], n: str) -> Value:
        # OData: a negative length is a bad request; a negative start is optional and SQLite
        # (from the end) and PostgreSQL (from the start) would read it differently.
        for value, what in zip(a[1:], ("start", "length"), strict=False):
            if value.is_literal and isinstance(value.literal, int | float) and value.literal < 0:
                raise BadRequest(f"$filter: substring() needs a {what} of 0 or more, got {value.literal}")
            if value.is_literal and isinstance(value.literal, int | float) and value.literal >= 2**31:
                # An Edm.Int32; PostgreSQL's substr cannot take more (SQLite would answer '').
                raise BadRequest(f"$filter: substring() needs a {what} below 2**31, got {value.literal}")
        start = _int(a[1], n) + 1
        if len(a) == 3:
            return Value("text", func.substr(_text(a[0], n), start, _int(a[2], n)))
        return Value("text", func.substr(_text(a[0], n), start))

    def tolower(a: list[Value], n: str) -> Value:
        return Value("text", func.lower(_text(a[0], n)))

    def toupper(a: list[Value], n: str) -> Value:
        return Value("text", func.upper(_text(a[0], n)))

    def trim(a: list[Value], n: str) -> Value:
        return Value("text", func.trim(_text(a[0], n)))

    def concat(a: list[Value], n: str) -> Value:
        return Value("text", _text(a[0], n).concat(_text(a[1], n)))

    return {
        "substringof": substringof,
        "contains": contains,
        "startswith": startswith,
        "endswith": endswith,
        "length": length,
        "indexof": indexof,
        "substring": substring,
        "tolower": tolower,
        "toupper": toupper,
        "trim": trim,
        "concat": concat,
    }


_STRING_FUNCTIONS = _string_functions()


def _geometry_operand(value: Value, name: str) -> Any:
    if value.kind != "geom":
        raise BadRequest(f"$filter: {name}() needs geometries, got a {value.kind}")
    return value.expr


def _spatial(name: str, args: list[Value]) -> Value:
    from urbantwin.store.spatial import SPATIAL_FUNCTIONS

    if name not in SPATIAL_FUNCTIONS:
        raise BadRequest(f"$filter: unknown function {name}()")
    if name == "st_relate":
        geoms = [_geometry_operand(a, name) for a in args[:2]]
        if any(a.is_literal and a.literal.geom_type == "GeometryCollection" for a in args[:2]):
            # PostGIS (GEOS before 3.13) fails on it with an internal error, a 500.
            raise BadRequest("$filter: st_relate() does not take a GEOMETRYCOLLECTION; relate its parts")
        pattern = args[2]
        if pattern.kind != "text":
            raise BadRequest("$filter: st_relate() needs a DE-9IM pattern string as third argument")
        if not pattern.is_literal or not _valid_de9im(pattern.literal):
            raise BadRequest(
                f"$filter: st_relate() pattern must be 9 characters of T F * 0 1 2, got {pattern.literal!r}"
            )
        # Upper case: GEOS (shapely, on SQLite) rejects 't' where PostGIS accepts it.
        return Value("bool", spatial_call(name, *geoms, literal(pattern.literal.upper())))
    geoms = [_geometry_operand(a, name) for a in args]
    call = spatial_call(name, *geoms)
    _, is_bool = SPATIAL_FUNCTIONS[name]
    if not is_bool:
        return Value("number", call)
    # Prefilter by bounding box through the spatial index where the predicate implies overlap.
    if name in BBOX_IMPLYING:
        column_side = next((a for a in args if not a.is_literal and isinstance(a.column, tuple)), None)
        literal_side = next((a for a in args if a.is_literal), None)
        if column_side is not None and literal_side is not None and literal_side.bbox is not None:
            entity, alias = column_side.column
            table_name = entity.table.name
            if table_name in SPATIAL_TABLES:
                return Value(
                    "bool",
                    and_(
                        bbox_overlaps(table_name, alias.c.id, column_side.expr, literal_side.bbox),
                        call,
                    ),
                )
    return Value("bool", call)


def _valid_de9im(pattern: Any) -> bool:
    return isinstance(pattern, str) and len(pattern) == 9 and all(c in "TF*012" for c in pattern.upper())
