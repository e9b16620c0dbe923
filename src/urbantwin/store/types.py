"""Column types whose storage differs between the two backends, behind one Python-facing type.

- `UtcTime`: an aware UTC `datetime` in Python; `timestamptz` on PostgreSQL and integer microseconds
  since the epoch on SQLite, so ordering and range scans use plain indexes on both.
- `Geometry`: WKB bytes in Python; PostGIS `geometry(Geometry,4326)` on PostgreSQL and a WKB blob on
  SQLite (where predicates run through functions registered from shapely, see `spatial.py`).
- `Json`: `jsonb` on PostgreSQL, JSON text on SQLite.

We write the geometry type ourselves rather than using GeoAlchemy2 because the SQLite side works
without SpatiaLite (which is not a pip dependency): the few spatial functions we need come from
shapely, so the type only has to wrap WKB in `ST_GeomFromWKB`/`ST_AsBinary` on PostgreSQL.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import JSON, BigInteger, Integer, LargeBinary
from sqlalchemy.dialects.postgresql import JSONB, TIMESTAMP
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import TypeDecorator, UserDefinedType

from urbantwin.store.dialect import spelled

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

#: Primary keys: 64-bit on PostgreSQL; on SQLite `INTEGER PRIMARY KEY` (the rowid alias).
Id = BigInteger().with_variant(Integer(), "sqlite")

#: JSON documents (properties, parameters, GeoJSON, unit of measurement).
Json = JSON().with_variant(JSONB(), "postgresql")


@compiles(JSON, "sqlite")
def _sqlite_json(type_: Any, compiler: Any, **kw: Any) -> str:
    # A column declared JSON gets NUMERIC affinity in SQLite, which turns the JSON text of a number
    # (say a result of 2**60) into an INTEGER; TEXT affinity keeps the document as written.
    return "TEXT"


def to_micros(value: datetime) -> int:
    """Microseconds since the epoch of an aware datetime (naive values are taken as UTC)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    delta = value - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_micros(value: int) -> datetime:
    return EPOCH + timedelta(microseconds=value)


class UtcTime(TypeDecorator):
    """An instant in UTC; see the module docstring for its storage."""

    impl = TIMESTAMP(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Any) -> Any:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(BigInteger())
        return dialect.type_descriptor(TIMESTAMP(timezone=True))

    def process_bind_param(self, value: Any, dialect: Any) -> Any:
        if value is None:
            return None
        if dialect.name == "sqlite":
            return to_micros(value)
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value

    def process_result_value(self, value: Any, dialect: Any) -> Any:
        if value is None:
            return None
        if dialect.name == "sqlite":
            return from_micros(value)
        return value.astimezone(UTC)


@spelled("ST_GeomFromWKB({args}, 4326)", "{args}")
class geom_from_wkb(FunctionElement):  # noqa: N801 - reads like the SQL function it stands for
    """WKB bytes to a stored geometry: `ST_GeomFromWKB(x, 4326)` on PostGIS, the bytes on SQLite."""

    inherit_cache = True
    name = "geom_from_wkb"


@spelled("ST_AsBinary({args})", "{args}")
class geom_as_wkb(FunctionElement):  # noqa: N801
    """A stored geometry to WKB bytes: `ST_AsBinary(x)` on PostGIS, the bytes on SQLite."""

    inherit_cache = True
    name = "geom_as_wkb"
    type = LargeBinary()


class Geometry(UserDefinedType):
    """A geometry in WGS 84 (EPSG:4326), exchanged with Python as WKB bytes."""

    cache_ok = True

    def get_col_spec(self, **kw: Any) -> str:
        return "geometry(Geometry,4326)"

    def bind_expression(self, bindvalue: Any) -> Any:
        return geom_from_wkb(bindvalue)

    def column_expression(self, col: Any) -> Any:
        return geom_as_wkb(col)

    def bind_processor(self, dialect: Any) -> Any:
        def process(value: Any) -> Any:
            return None if value is None else bytes(value)

        return process

    def result_processor(self, dialect: Any, coltype: Any) -> Any:
        def process(value: Any) -> Any:
            return None if value is None else bytes(value)

        return process


@compiles(Geometry, "sqlite")
def _sqlite_geometry(type_: Any, compiler: Any, **kw: Any) -> str:
    return "BLOB"
