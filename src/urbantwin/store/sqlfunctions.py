"""Portable SQL for JSON access, time parts, text search and safe arithmetic.

Each construct compiles to the backend's own SQL when a statement is compiled: JSON paths to
`#>`/`#>>` on PostgreSQL and `json_extract` on SQLite, time parts to `EXTRACT` or `strftime` over
the integer microseconds SQLite stores. JSON keys and literals are always bound parameters.
"""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import Double, Integer, Text, bindparam
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.dialects.postgresql import TEXT as PG_TEXT
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import NullType


def _sqlite_json_path(keys: tuple[str, ...]) -> str:
    parts = []
    for key in keys:
        if key.isdigit():
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

    type = NullType()


class json_text(_JsonAccess):  # noqa: N801
    """The value at a path as text (for string functions)."""

    type = Text()


class json_number(_JsonAccess):  # noqa: N801
    """The value at a path as a number, NULL when it is not a number (never an error)."""

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


class text_position(FunctionElement):  # noqa: N801
    """1-based position of `needle` in `haystack`, 0 when absent (`strpos` / `instr`)."""

    inherit_cache = True
    type = Integer()


@compiles(text_position, "postgresql")
def _pg_position(element: text_position, compiler: Any, **kw: Any) -> str:
    return f"strpos({compiler.process(element.clauses, **kw)})"


@compiles(text_position)
def _sqlite_position(element: text_position, compiler: Any, **kw: Any) -> str:
    return f"instr({compiler.process(element.clauses, **kw)})"


class as_double(FunctionElement):  # noqa: N801
    """A numeric expression as double precision, so division never truncates to an integer."""

    inherit_cache = True
    type = Double()


@compiles(as_double, "postgresql")
def _pg_double(element: as_double, compiler: Any, **kw: Any) -> str:
    return f"CAST({compiler.process(element.clauses, **kw)} AS DOUBLE PRECISION)"


@compiles(as_double)
def _sqlite_double(element: as_double, compiler: Any, **kw: Any) -> str:
    return f"CAST({compiler.process(element.clauses, **kw)} AS REAL)"


__all__ = [
    "JSONB",
    "as_double",
    "json_literal",
    "json_number",
    "json_text",
    "json_value",
    "text_position",
    "time_format",
    "time_part",
    "time_seconds",
]
