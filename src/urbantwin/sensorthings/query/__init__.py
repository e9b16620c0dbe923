"""SensorThings API 1.1 query options: parsing ($filter, $orderby, $select, $expand, ...) into an AST.

The parser is model-agnostic; the compiler checks the AST against the entity model.
"""

from urbantwin.sensorthings.query.ast import (
    BinOp,
    Call,
    ExpandItem,
    GeoLiteral,
    Interval,
    Literal,
    Neg,
    Node,
    Not,
    OrderBy,
    Path,
    QueryOptions,
)
from urbantwin.sensorthings.query.parser import (
    MAX_DEPTH,
    MAX_LENGTH,
    QueryLimits,
    QuerySyntaxError,
    parse_expand,
    parse_filter,
    parse_orderby,
    parse_query_options,
    parse_select,
)

__all__ = [
    "MAX_DEPTH",
    "MAX_LENGTH",
    "BinOp",
    "Call",
    "ExpandItem",
    "GeoLiteral",
    "Interval",
    "Literal",
    "Neg",
    "Node",
    "Not",
    "OrderBy",
    "Path",
    "QueryLimits",
    "QueryOptions",
    "QuerySyntaxError",
    "parse_expand",
    "parse_filter",
    "parse_orderby",
    "parse_query_options",
    "parse_select",
]
