"""Syntax tree of the SensorThings API query options ($filter, $orderby, $select, $expand, ...).

The tree is model-agnostic on purpose: a `Path` holds the segments exactly as the client wrote them,
and only the compiler, which knows the entity model, decides what they name.  That keeps syntax
errors (reported here, with positions) apart from model errors (reported by the compiler).

All nodes are frozen, slotted dataclasses, so trees are immutable, compare structurally and can be
used as cache keys.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True, slots=True)
class Interval:
    """A time interval literal such as `2024-01-01T00:00:00Z/2024-01-02T00:00:00Z` (both ends UTC)."""

    start: datetime
    end: datetime


@dataclass(frozen=True, slots=True, eq=False)
class Literal:
    """A constant.

    Datetimes are always timezone-aware UTC; a date-only literal (`2024-01-03`) becomes midnight UTC
    of that day, because the store keeps instants, not calendar dates.  Integer literals are `int`,
    decimals and exponents (`1.5`, `1e3`, `2.0`) are `float`, durations are `timedelta`.

    Equality also compares the value's type: with plain dataclass equality `Literal(True)`,
    `Literal(1)` and `Literal(1.0)` would be equal and hash alike, so `x eq true` and `x eq 1`
    could share one entry of a compiled-query cache.
    """

    value: None | bool | int | float | str | datetime | Interval | timedelta

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Literal):
            return NotImplemented
        return type(self.value) is type(other.value) and self.value == other.value

    def __hash__(self) -> int:
        return hash((type(self.value), self.value))


@dataclass(frozen=True, slots=True)
class GeoLiteral:
    """`geography'POINT(1 2)'` or `geometry'...'`; the WKT is kept as text (stripped) for the compiler."""

    wkt: str


@dataclass(frozen=True, slots=True)
class Path:
    """A property path: `Datastream/Thing/name` is ("Datastream", "Thing", "name")."""

    segments: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class BinOp:
    """A binary operator: eq ne gt ge lt le, and or, add sub mul div mod (always lower case)."""

    op: str
    left: Node
    right: Node


@dataclass(frozen=True, slots=True)
class Not:
    operand: Node


@dataclass(frozen=True, slots=True)
class Neg:
    """Unary minus on anything but a number literal (`-5` is `Literal(-5)`, `-x` is `Neg(Path(x))`)."""

    operand: Node


@dataclass(frozen=True, slots=True)
class Call:
    """A function call; `name` is lower case (`geo.intersects`, `st_relate`, `substringof`, ...)."""

    name: str
    args: tuple[Node, ...]


Node = Literal | GeoLiteral | Path | BinOp | Not | Neg | Call


@dataclass(frozen=True, slots=True)
class OrderBy:
    expr: Node
    descending: bool


@dataclass(frozen=True, slots=True)
class ExpandItem:
    """One `$expand` entry; the short form `Datastreams/Observations` is one item with a 2-segment path."""

    path: tuple[str, ...]
    options: QueryOptions


@dataclass(frozen=True, slots=True)
class QueryOptions:
    """All query options of one request, or of one expanded navigation property."""

    filter: Node | None = None
    orderby: tuple[OrderBy, ...] = ()
    #: None when $select is absent (select everything), else the selected paths.
    select: tuple[tuple[str, ...], ...] | None = None
    expand: tuple[ExpandItem, ...] = ()
    top: int | None = None
    skip: int = 0
    count: bool = False
    result_format: str | None = None
