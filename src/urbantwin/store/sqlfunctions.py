"""Portable SQL for JSON access, time parts, text search and safe arithmetic.

Each construct compiles to the backend's own SQL when a statement is compiled: JSON paths to
`#>`/`#>>` on PostgreSQL and `json_extract` on SQLite, time parts to `EXTRACT` or `strftime` over
the integer microseconds SQLite stores. JSON keys and literals are always bound parameters.
"""

from __future__ import annotations

import decimal
import math
import re
import sqlite3
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import orjson
from sqlalchemy import Boolean, Double, Integer, Text, bindparam
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.dialects.postgresql import TEXT as PG_TEXT
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import NullType

from urbantwin.store.dialect import spelled


def _sqlite_json_path(keys: tuple[str, ...]) -> str:
    parts = []
    for key in keys:
        if key.isascii() and key.isdigit():  # "²" is a digit to Python, not to JSON paths
            parts.append(f"[{key}]")
        else:
            parts.append('."' + key.replace('"', '""') + '"')
    return "$" + "".join(parts)


class _JsonAccess(FunctionElement):
    """Base: a JSON column and a path of keys into it."""

    inherit_cache = False

    def __init__(self, column: Any, keys: tuple[str, ...]) -> None:
        self.keys = tuple(keys)
        super().__init__(column)


class json_value(_JsonAccess):  # noqa: N801
    """The JSON value at a path, comparable with `json_literal` (jsonb on PG, a SQL value on SQLite)."""

    inherit_cache = False  # the keys are no part of the cache key
    type = NullType()


class json_text(_JsonAccess):  # noqa: N801
    """The value at a path as text (for string functions)."""

    inherit_cache = False  # the keys are no part of the cache key
    type = Text()


class json_number(_JsonAccess):  # noqa: N801
    """The value at a path as a number, NULL when it is not a number (never an error)."""

    inherit_cache = False  # the keys are no part of the cache key
    type = Double()


def _pg_keys(element: _JsonAccess, compiler: Any, **kw: Any) -> str:
    param = bindparam(None, list(element.keys), type_=ARRAY(PG_TEXT()), unique=True)
    return compiler.process(param, **kw)


def _sqlite_path(element: _JsonAccess, compiler: Any, **kw: Any) -> str:
    return compiler.process(bindparam(None, _sqlite_json_path(element.keys), unique=True), **kw)


@compiles(json_value, "postgresql")
def _pg_json_value(element: json_value, compiler: Any, **kw: Any) -> str:
    return f"({compiler.process(element.clauses, **kw)} #> {_pg_keys(element, compiler, **kw)})"


@compiles(json_text, "postgresql")
def _pg_json_text(element: json_text, compiler: Any, **kw: Any) -> str:
    return f"({compiler.process(element.clauses, **kw)} #>> {_pg_keys(element, compiler, **kw)})"


@compiles(json_number, "postgresql")
def _pg_json_number(element: json_number, compiler: Any, **kw: Any) -> str:
    col = compiler.process(element.clauses, **kw)
    keys = _pg_keys(element, compiler, **kw)
    return (
        f"(CASE WHEN jsonb_typeof({col} #> {keys}) = 'number' THEN ({col} #>> {keys})::double precision END)"
    )


@compiles(json_value)
@compiles(json_text)
def _sqlite_json_extract(element: _JsonAccess, compiler: Any, **kw: Any) -> str:
    return f"json_extract({compiler.process(element.clauses, **kw)}, {_sqlite_path(element, compiler, **kw)})"


@compiles(json_number)
def _sqlite_json_number(element: json_number, compiler: Any, **kw: Any) -> str:
    col = compiler.process(element.clauses, **kw)
    path = _sqlite_path(element, compiler, **kw)
    return f"(CASE WHEN json_type({col}, {path}) IN ('integer', 'real') THEN json_extract({col}, {path}) END)"


class json_literal(FunctionElement):  # noqa: N801
    """A literal to compare with `json_value`: jsonb on PostgreSQL, the plain value on SQLite."""

    inherit_cache = False
    type = NullType()

    def __init__(self, value: Any) -> None:
        self.value = value
        super().__init__()


@compiles(json_literal, "postgresql")
def _pg_json_literal(element: json_literal, compiler: Any, **kw: Any) -> str:
    param = bindparam(None, orjson.dumps(element.value).decode(), type_=Text(), unique=True)
    return f"CAST({compiler.process(param, **kw)} AS JSONB)"


@compiles(json_literal)
def _sqlite_json_literal(element: json_literal, compiler: Any, **kw: Any) -> str:
    value = element.value
    if isinstance(value, bool):
        value = int(value)
    return compiler.process(bindparam(None, value, unique=True), **kw)


#: Time parts of the `$filter` date functions: (PostgreSQL EXTRACT field, SQLite strftime format).
TIME_PARTS = {
    "year": ("YEAR", "%Y"),
    "month": ("MONTH", "%m"),
    "day": ("DAY", "%d"),
    "hour": ("HOUR", "%H"),
    "minute": ("MINUTE", "%M"),
}


class time_part(FunctionElement):  # noqa: N801
    """An integer part (year … minute) of a stored UTC time."""

    inherit_cache = False
    type = Integer()

    def __init__(self, part: str, column: Any) -> None:
        self.part = part
        super().__init__(column)


@compiles(time_part, "postgresql")
def _pg_time_part(element: time_part, compiler: Any, **kw: Any) -> str:
    field, _ = TIME_PARTS[element.part]
    col = compiler.process(element.clauses, **kw)
    return f"CAST(EXTRACT({field} FROM ({col} AT TIME ZONE 'UTC')) AS INTEGER)"


@compiles(time_part)
def _sqlite_time_part(element: time_part, compiler: Any, **kw: Any) -> str:
    _, fmt = TIME_PARTS[element.part]
    col = compiler.process(element.clauses, **kw)
    return f"CAST(strftime('{fmt}', {col} / 1000000, 'unixepoch') AS INTEGER)"


class time_seconds(FunctionElement):  # noqa: N801
    """Seconds of a stored UTC time; `fractional=True` gives only the fraction of the second."""

    inherit_cache = False
    type = Double()

    def __init__(self, column: Any, fractional: bool) -> None:
        self.fractional = fractional
        super().__init__(column)


@compiles(time_seconds, "postgresql")
def _pg_time_seconds(element: time_seconds, compiler: Any, **kw: Any) -> str:
    col = compiler.process(element.clauses, **kw)
    seconds = f"EXTRACT(SECOND FROM ({col} AT TIME ZONE 'UTC'))"
    if element.fractional:
        return f"CAST({seconds} - FLOOR({seconds}) AS DOUBLE PRECISION)"
    return f"CAST(FLOOR({seconds}) AS INTEGER)"


@compiles(time_seconds)
def _sqlite_time_seconds(element: time_seconds, compiler: Any, **kw: Any) -> str:
    col = compiler.process(element.clauses, **kw)
    if element.fractional:
        return f"(({col} % 1000000) / 1000000.0)"
    return f"CAST(strftime('%S', {col} / 1000000, 'unixepoch') AS INTEGER)"


class time_format(FunctionElement):  # noqa: N801
    """The date (`YYYY-MM-DD`) or time of day (`HH:MM:SS`) of a stored UTC time, as text."""

    inherit_cache = False
    type = Text()

    def __init__(self, column: Any, what: str) -> None:
        self.what = what
        super().__init__(column)


@compiles(time_format, "postgresql")
def _pg_time_format(element: time_format, compiler: Any, **kw: Any) -> str:
    col = compiler.process(element.clauses, **kw)
    fmt = "YYYY-MM-DD" if element.what == "date" else "HH24:MI:SS"
    return f"to_char(({col} AT TIME ZONE 'UTC'), '{fmt}')"


@compiles(time_format)
def _sqlite_time_format(element: time_format, compiler: Any, **kw: Any) -> str:
    col = compiler.process(element.clauses, **kw)
    fmt = "%Y-%m-%d" if element.what == "date" else "%H:%M:%S"
    return f"strftime('{fmt}', {col} / 1000000, 'unixepoch')"


@spelled("strpos({args})", "instr({args})")
class text_position(FunctionElement):  # noqa: N801
    """1-based position of `needle` in `haystack`, 0 when absent (`strpos` / `instr`)."""

    inherit_cache = True
    type = Integer()


@spelled("CAST({args} AS DOUBLE PRECISION)", "CAST({args} AS REAL)")
class as_double(FunctionElement):  # noqa: N801
    """A numeric expression as double precision, so division never truncates to an integer."""

    inherit_cache = True
    type = Double()


class json_string(_JsonAccess):  # noqa: N801
    """The value at a path when it is a JSON string, else NULL.

    Comparisons and text functions use it rather than `json_text`, which writes numbers, booleans
    and objects as text differently on each backend (`true` vs `1`, `{"a": 1}` vs `{"a":1}`)."""

    inherit_cache = False  # the keys are no part of the cache key
    type = Text()


class json_boolean(_JsonAccess):  # noqa: N801
    """The value at a path when it is a JSON boolean, else NULL (so `1` is not `true` on SQLite)."""

    inherit_cache = False  # the keys are no part of the cache key
    type = Boolean()


@compiles(json_string, "postgresql")
def _pg_json_string(element: json_string, compiler: Any, **kw: Any) -> str:
    col = compiler.process(element.clauses, **kw)
    keys = _pg_keys(element, compiler, **kw)
    return f"(CASE WHEN jsonb_typeof({col} #> {keys}) = 'string' THEN {col} #>> {keys} END)"


@compiles(json_string)
def _sqlite_json_string(element: json_string, compiler: Any, **kw: Any) -> str:
    col = compiler.process(element.clauses, **kw)
    path = _sqlite_path(element, compiler, **kw)
    return f"(CASE WHEN json_type({col}, {path}) = 'text' THEN json_extract({col}, {path}) END)"


@compiles(json_boolean, "postgresql")
def _pg_json_boolean(element: json_boolean, compiler: Any, **kw: Any) -> str:
    col = compiler.process(element.clauses, **kw)
    keys = _pg_keys(element, compiler, **kw)
    return f"(CASE WHEN jsonb_typeof({col} #> {keys}) = 'boolean' THEN ({col} #>> {keys})::boolean END)"


@compiles(json_boolean)
def _sqlite_json_boolean(element: json_boolean, compiler: Any, **kw: Any) -> str:
    col = compiler.process(element.clauses, **kw)
    path = _sqlite_path(element, compiler, **kw)
    return f"(CASE WHEN json_type({col}, {path}) IN ('true', 'false') THEN json_extract({col}, {path}) END)"


#: `$filter` rounding functions: (PostgreSQL function, SQLite function registered by
#: `register_sqlite_functions`). SQLite's own floor is replaced by SQLAlchemy with Python's
#: `math.floor`, which fails on NULL and on huge values, and ceil/trunc exist only in SQLite builds
#: with the math extension; so SQLite gets null-safe functions of its own.
ROUNDING = {"floor": ("floor", "ut_floor"), "ceiling": ("ceil", "ut_ceil"), "trunc": ("trunc", "ut_trunc")}


class rounded(FunctionElement):  # noqa: N801
    """`floor`, `ceiling` or `trunc` (towards zero) of a double, NULL for NULL, on both backends."""

    inherit_cache = False
    type = Double()

    def __init__(self, how: str, value: Any) -> None:
        self.how = how
        super().__init__(value)


@compiles(rounded, "postgresql")
def _pg_rounded(element: rounded, compiler: Any, **kw: Any) -> str:
    return f"{ROUNDING[element.how][0]}({compiler.process(element.clauses, **kw)})"


@compiles(rounded)
def _sqlite_rounded(element: rounded, compiler: Any, **kw: Any) -> str:
    return f"{ROUNDING[element.how][1]}({compiler.process(element.clauses, **kw)})"


@spelled("CAST(round(CAST({args} AS NUMERIC)) AS DOUBLE PRECISION)", "round({args})")
class round_half_away(FunctionElement):  # noqa: N801
    """OData `round`: the mid-point between two integers rounds away from zero (2.5 to 3).

    PostgreSQL's round of a double rounds half to even (2.5 to 2); its round of a numeric does not."""

    inherit_cache = True
    type = Double()


class remainder(FunctionElement):  # noqa: N801
    """OData `mod`: the remainder with the sign of the left operand, NULL when the right is 0.

    Computed in decimal on both backends, as PostgreSQL's `mod(numeric, numeric)` (a double taken
    to its 15 significant digits, as PostgreSQL casts it), so `5.1 mod 1` is 0.1 on both. Each
    operand appears once in the SQL: written out as `a - b * trunc(a / b)`, nested `mod`s doubled
    the statement at each level."""

    inherit_cache = True
    type = Double()


@compiles(remainder, "postgresql")
def _pg_remainder(element: remainder, compiler: Any, **kw: Any) -> str:
    left, right = (compiler.process(c, **kw) for c in element.clauses)
    return f"CAST(mod(CAST({left} AS NUMERIC), NULLIF(CAST({right} AS NUMERIC), 0)) AS DOUBLE PRECISION)"


@compiles(remainder)
def _sqlite_remainder(element: remainder, compiler: Any, **kw: Any) -> str:
    return f"ut_mod({compiler.process(element.clauses, **kw)})"


#: Enough digits for the quotient of any two doubles (1e308 / 5e-324 has 632).
_DECIMAL = decimal.Context(prec=1100, Emax=999_999, Emin=-999_999)


def _remainder(a: float | int | None, b: float | int | None) -> float | None:
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in (a, b)):
        return None
    try:
        left, right = (_DECIMAL.create_decimal(f"{float(v):.15g}") for v in (a, b))  # type: ignore[arg-type]
        if right == 0 or not (left.is_finite() and right.is_finite()):
            return None
        return float(_DECIMAL.remainder(left, right))  # the sign of the dividend, as PostgreSQL's mod
    except decimal.DecimalException:
        return None


def _null_safe(op: Any) -> Any:
    def call(value: float | int | None) -> float | None:
        if not isinstance(value, int | float) or isinstance(value, bool):
            return None
        number = float(value)
        return number if not math.isfinite(number) else float(op(number))

    return call


def register_sqlite_functions(connection: sqlite3.Connection) -> None:
    """The SQLite functions of `ROUNDING` on this connection (called from the engine's setup)."""
    for name, op in (("ut_floor", math.floor), ("ut_ceil", math.ceil), ("ut_trunc", math.trunc)):
        connection.create_function(name, 1, _null_safe(op), deterministic=True)
    connection.create_function("ut_mod", 2, _remainder, deterministic=True)
    connection.create_function("ut_like", 3, _like, deterministic=True)


class text_like(FunctionElement):  # noqa: N801
    """`text LIKE pattern` (wildcards `%` and `_`, escape `\\`), case-sensitive on both backends
    unless `casei` (SQLite's own LIKE ignores ASCII case, so SQLite gets a function of its own)."""

    inherit_cache = False
    type = Boolean()

    def __init__(self, text: Any, pattern: str, casei: bool = False) -> None:
        self.pattern = pattern
        self.casei = casei
        super().__init__(text)


@compiles(text_like, "postgresql")
def _pg_like(element: text_like, compiler: Any, **kw: Any) -> str:
    col = compiler.process(element.clauses, **kw)
    pattern = compiler.process(bindparam(None, element.pattern, type_=Text(), unique=True), **kw)
    if element.casei:
        return f"(lower({col}) LIKE lower({pattern}) ESCAPE '\\')"
    return f"({col} LIKE {pattern} ESCAPE '\\')"


@compiles(text_like)
def _sqlite_like(element: text_like, compiler: Any, **kw: Any) -> str:
    col = compiler.process(element.clauses, **kw)
    pattern = compiler.process(bindparam(None, element.pattern, type_=Text(), unique=True), **kw)
    return f"ut_like({col}, {pattern}, {int(element.casei)})"


#: One `%`-free piece of a LIKE pattern: its characters, with None for each `_`.
_Segment = tuple[str | None, ...]


@dataclass(frozen=True, slots=True)
class _Piece:
    """A `%`-free piece of a LIKE pattern, matched at a place or searched for in a span.

    A piece has a fixed length, so matching it at one place costs at most that many steps; a piece
    with `_` is a regular expression of literals and `.` only - no quantifier, hence no backtracking."""

    length: int
    literal: str | None
    regex: re.Pattern[str] | None

    @classmethod
    def of(cls, segment: _Segment) -> _Piece:
        if None not in segment:
            return cls(len(segment), "".join(segment), None)  # type: ignore[arg-type]
        source = "".join("." if char is None else re.escape(char) for char in segment)
        return cls(len(segment), None, re.compile(source, re.DOTALL))

    def matches_at(self, text: str, at: int) -> bool:
        if self.literal is not None:
            return text.startswith(self.literal, at)
        return self.regex.match(text, at) is not None  # type: ignore[union-attr]

    def find(self, text: str, start: int, end: int) -> int:
        """The first place in text[start:end] where the piece fits wholly, or -1."""
        if self.literal is not None:
            return text.find(self.literal, start, end)
        found = self.regex.search(text, start, end)  # type: ignore[union-attr]
        return -1 if found is None else found.start()


@lru_cache(maxsize=256)
def _like_pieces(pattern: str) -> tuple[_Piece, ...]:
    """The pieces of a pattern between its `%`s (escape `\\`; a lone escape at the end is itself)."""
    segments: list[list[str | None]] = [[]]
    escaped = False
    for char in pattern:
        if escaped:
            segments[-1].append(char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == "%":
            segments.append([])
        else:
            segments[-1].append(None if char == "_" else char)
    if escaped:
        segments[-1].append("\\")
    return tuple(_Piece.of(tuple(segment)) for segment in segments)


def like_matches(text: str, pattern: str) -> bool:
    """Whether `text` matches the LIKE `pattern` (`%` any run, `_` any character, `\\` escapes).

    Python's regular expressions would turn each `%` into `.*` and backtrack exponentially on a
    pattern of many `%`s (holding the interpreter lock, so no timeout can stop them). Here the pieces
    between the `%`s are placed greedily, each at the first place it fits after the one before: the
    first anchored at the start, the last at the end. Leftmost placement never loses a match, so
    there is no backtracking, and the work is bounded by len(text) x len(pattern) even at worst."""
    pieces = _like_pieces(pattern)
    if len(pieces) == 1:
        return len(text) == pieces[0].length and pieces[0].matches_at(text, 0)
    first, *middle, last = pieces
    end = len(text) - last.length
    if end < first.length or not first.matches_at(text, 0) or not last.matches_at(text, end):
        return False
    position = first.length
    for piece in middle:
        if piece.length == 0:  # `%%`
            continue
        found = piece.find(text, position, end)
        if found < 0:
            return False
        position = found + piece.length
    return True


def _like(text: Any, pattern: Any, casei: Any) -> int | None:
    if not isinstance(text, str) or not isinstance(pattern, str):
        return None
    if casei:  # as PostgreSQL's `lower(text) LIKE lower(pattern)`
        text, pattern = text.lower(), pattern.lower()
    return int(like_matches(text, pattern))


__all__ = [
    "JSONB",
    "as_double",
    "json_literal",
    "json_boolean",
    "json_number",
    "json_string",
    "json_text",
    "json_value",
    "like_matches",
    "register_sqlite_functions",
    "remainder",
    "round_half_away",
    "rounded",
    "text_like",
    "text_position",
    "time_format",
    "time_part",
    "time_seconds",
]


# --- JSON text made by the database -------------------------------------------------------------
# A page of entities is rendered to JSON text inside the query (see sensorthings/sqljson.py): the
# database formats a thousand rows in C faster than Python builds and encodes a thousand dicts.


class iso_time_text(FunctionElement):  # noqa: N801
    """A stored UTC time as ISO 8601 text, `2024-01-01T12:00:00Z` (`.ffffff` only when non-zero),
    the same text `datetime.isoformat` gives."""

    inherit_cache = True
    type = Text()


@compiles(iso_time_text, "postgresql")
def _pg_iso_time(element: iso_time_text, compiler: Any, **kw: Any) -> str:
    # One to_char per time, its `.000000` dropped after: a third cheaper per row than choosing the
    # format by comparing the time with its whole second, which converted the time three times.
    col = compiler.process(element.clauses, **kw)
    return (
        f"replace(to_char(({col} AT TIME ZONE 'UTC'), 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), '.000000Z', 'Z')"
    )


@compiles(iso_time_text)
def _sqlite_iso_time(element: iso_time_text, compiler: Any, **kw: Any) -> str:
    col = compiler.process(element.clauses, **kw)
    return (
        f"(strftime('%Y-%m-%dT%H:%M:%S', {col} / 1000000, 'unixepoch') || "
        f"CASE WHEN {col} % 1000000 = 0 THEN '' ELSE printf('.%06d', {col} % 1000000) END || 'Z')"
    )


@spelled("to_json({args})::text", "json_quote({args})")
class json_text_of(FunctionElement):  # noqa: N801
    """A SQL value (text or number) as JSON text: a quoted, escaped string or a number."""

    inherit_cache = True
    type = Text()


@spelled("({args})::text", "json({args})")
class json_document_text(FunctionElement):  # noqa: N801
    """A stored JSON document as JSON text."""

    inherit_cache = True
    type = Text()


@spelled("(({args})::bigint)::text", "CAST(CAST({args} AS INTEGER) AS TEXT)")
class integer_text(FunctionElement):  # noqa: N801
    """An integral number as its decimal text (a double like 3.0 written `3`)."""

    inherit_cache = True
    type = Text()
