"""Property values sent by clients, checked and turned into column values.

Every check names the entity, the property and what was wrong, so a client can fix its request.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import shapely

from urbantwin.errors import BadRequest
from urbantwin.geometry import GeometryError, check_geometry, from_geojson
from urbantwin.sensorthings.model import EntityType, Property
from urbantwin.sensorthings.paths import MAX_ID
from urbantwin.store import schema
from urbantwin.times import parse_instant

GEOJSON_ENCODINGS = {"application/geo+json", "application/vnd.geo+json", "application/geojson"}
_LARGEST_EXACT_INTEGER = 2**53


def parse_time(text: Any, where: str) -> datetime:
    """An ISO 8601 instant in UTC; a time without offset is taken as UTC (the platform's one reading of
    times, `urbantwin.times`)."""
    return parse_instant(text, where)


def parse_time_or_interval(text: Any, where: str) -> tuple[datetime, datetime | None]:
    """An instant (end None) or an interval `start/end` with start ≤ end."""
    if isinstance(text, str) and "/" in text:
        start_text, _, end_text = text.partition("/")
        start, end = parse_time(start_text, where), parse_time(end_text, where)
        if end < start:
            raise BadRequest(f"{where}: the interval {text!r} ends before it starts")
        return start, end
    return parse_time(text, where), None


def parse_interval(text: Any, where: str) -> tuple[datetime, datetime]:
    if not (isinstance(text, str) and "/" in text):
        raise BadRequest(f"{where}: expected a time interval 'start/end', got {text!r}")
    start, end = parse_time_or_interval(text, where)
    assert end is not None
    return start, end


def entity_id(raw: Any, where: str) -> int:
    """An `@iot.id` given in a body: an integer, or a string of digits, from 0 to 2^63 - 1.

    Checked before the id reaches the database, so a number beyond 64 bits is the same 400 on both
    backends (SQLite's driver cannot even bind it, PostgreSQL reports a range error).
    """
    text = raw if isinstance(raw, str) else None
    if isinstance(raw, int) and not isinstance(raw, bool):
        number = raw
    elif text is not None and text.strip().isdigit() and text.strip().isascii():
        number = int(text.strip())
    else:
        number = -1
    if not 0 <= number <= MAX_ID:
        raise BadRequest(f"{where}: @iot.id must be an integer from 0 to {MAX_ID}, got {raw!r:.40}")
    return number


def geometry_wkb(document: Any, where: str) -> bytes:
    """WKB of a GeoJSON geometry or Feature (its geometry), checked by the platform's one geometry
    validation (structure, WGS 84 ranges, validity)."""
    if not isinstance(document, dict):
        raise BadRequest(f"{where}: expected a GeoJSON object, got {_kind(document)}")
    geometry = document.get("geometry") if document.get("type") == "Feature" else document
    if not isinstance(geometry, dict):
        raise BadRequest(f"{where}: the Feature has no geometry")
    try:
        geom = from_geojson(geometry)
        check_geometry(geom)  # SensorThings geometries are WGS 84 lon/lat
    except GeometryError as error:
        raise BadRequest(f"{where}: {error}") from None
    return shapely.to_wkb(geom)


def result_columns(result: Any) -> dict[str, Any]:
    """An Observation's result spread over the typed result columns (see store.schema)."""
    if isinstance(result, bool):
        return {
            "result_type": schema.RESULT_BOOLEAN,
            "result_number": float(result),
            "result_string": None,
            "result_json": None,
        }
    if isinstance(result, int):
        if abs(result) <= _LARGEST_EXACT_INTEGER:
            return {
                "result_type": schema.RESULT_INTEGER,
                "result_number": float(result),
                "result_string": None,
                "result_json": None,
            }
        return {
            "result_type": schema.RESULT_JSON,
            "result_number": float(result),
            "result_string": None,
            "result_json": result,
        }
    if isinstance(result, float):
        if not _finite(result):
            raise BadRequest("Observation result: not a finite number")
        return {
            "result_type": schema.RESULT_NUMBER,
            "result_number": result,
            "result_string": None,
            "result_json": None,
        }
    if isinstance(result, str):
        return {
            "result_type": schema.RESULT_STRING,
            "result_number": None,
            "result_string": result,
            "result_json": None,
        }
    if result is None:
        return {
            "result_type": schema.RESULT_NULL,
            "result_number": None,
            "result_string": None,
            "result_json": None,
        }
    return {
        "result_type": schema.RESULT_JSON,
        "result_number": None,
        "result_string": None,
        "result_json": result,
    }


def property_columns(entity: EntityType, prop: Property, value: Any) -> dict[str, Any]:
    """Column values for one property of a create or update request."""
    where = f"{entity.name} {prop.name}"
    if prop.kind == "text":
        if not isinstance(value, str):
            raise BadRequest(f"{where}: expected a string, got {_kind(value)}")
        return {prop.column: value}
    if prop.kind == "json":
        objects_only = prop.name in ("properties", "parameters", "unitOfMeasurement")
        if objects_only and value is not None and not isinstance(value, dict):
            raise BadRequest(f"{where}: expected a JSON object, got {_kind(value)}")
        return {prop.column: value}
    if prop.kind == "geojson":
        wkb = geometry_wkb(value, where)
        return {prop.column: value, entity.geometry_column or "geom": wkb}
    if prop.kind == "time":
        if value is None:
            return {prop.column: None}
        return {prop.column: parse_time(value, where)}
    if prop.kind == "interval":
        start_col, end_col = prop.columns
        if value is None:
            if prop.required:
                raise BadRequest(f"{where}: must not be null")
            return {start_col: None, end_col: None}
        if prop.name == "phenomenonTime":
            start, end = parse_time_or_interval(value, where)
        else:
            start, end = parse_interval(value, where)
        return {start_col: start, end_col: end}
    if prop.kind == "result":
        return result_columns(value)
    raise BadRequest(f"{where}: is computed by the server and cannot be written")


def _finite(number: float) -> bool:
    return number == number and number not in (float("inf"), float("-inf"))


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}.get(
        type(value), "a number" if isinstance(value, int | float) else type(value).__name__
    )
