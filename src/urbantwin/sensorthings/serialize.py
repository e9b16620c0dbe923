"""Rows of the store to SensorThings JSON, with `@iot.id`, `@iot.selfLink` and navigation links.

One `RowWriter` is built per entity type and `$select`, and turns a row mapping into the entity's
JSON object; times are written as ISO 8601 in UTC, intervals as `start/end`. A property without a
value is left out, except `result` and `resultTime`, which are written as null: FROST-Server does the
same, and clients depend on it (frost-sta-client cannot read a Sensor whose `properties` is null).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import orjson
import shapely
from shapely.geometry import mapping

from urbantwin.http import dumps_json
from urbantwin.sensorthings.model import EntityType, Property
from urbantwin.store import schema


def format_time(value: datetime | None) -> str | None:
    if value is None:
        return None
    text = value.astimezone(UTC).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def format_interval(start: datetime | None, end: datetime | None) -> str | None:
    if start is None:
        return None
    if end is None:
        return format_time(start)
    return f"{format_time(start)}/{format_time(end)}"


def result_value(row: Mapping[str, Any]) -> Any:
    kind = row["result_type"]
    if kind == schema.RESULT_NUMBER:
        return row["result_number"]
    if kind == schema.RESULT_INTEGER:
        return int(row["result_number"])
    if kind == schema.RESULT_STRING:
        return row["result_string"]
    if kind == schema.RESULT_BOOLEAN:
        return bool(row["result_number"])
    if kind == schema.RESULT_NULL:
        return None
    return row["result_json"]


def geometry_json(wkb: bytes | None) -> Any:
    if wkb is None:
        return None
    return mapping(shapely.from_wkb(wkb))


def _property_reader(prop: Property) -> Callable[[Mapping[str, Any]], Any]:
    if prop.kind == "time":
        col = prop.column
        return lambda row: format_time(row[col])
    if prop.kind == "interval":
        start, end = prop.columns
        return lambda row: format_interval(row[start], row[end])
    if prop.kind == "result":
        return result_value
    if prop.kind == "geometry":
        col = prop.column
        return lambda row: geometry_json(row[col])
    col = prop.column
    return lambda row: row[col]


def property_value(prop: Property, row: Mapping[str, Any]) -> Any:
    """The JSON value of one property of a row (for `/Things(1)/name`)."""
    if prop.kind == "id":
        return row["id"]
    return _property_reader(prop)(row)


#: The properties written as null when they have no value; every other one is left out then.
_WRITTEN_WHEN_NULL = frozenset({"result", "resultTime"})


class RowWriter:
    """Writes rows of one entity type as JSON objects, honouring `$select`."""

    def __init__(self, entity: EntityType, base: str, select: tuple[tuple[str, ...], ...] | None) -> None:
        self.entity = entity
        self.base = base
        names = None if select is None else {s[0] for s in select}
        self.with_id = names is None or "id" in names or "@iot.id" in names
        self.with_self = names is None or "@iot.selfLink" in names
        self.readers = [
            (name, _property_reader(prop), name in _WRITTEN_WHEN_NULL)
            for name, prop in entity.properties.items()
            if names is None or name in names
        ]
        self.navigation = [
            (rel + "@iot.navigationLink", rel) for rel in entity.relations if names is None or rel in names
        ]
        self.prefix = f"{base}/{entity.set_name}("

    def self_link(self, ident: int) -> str:
        return f"{self.prefix}{ident})"

    def __call__(self, row: Mapping[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        ident = row["id"]
        if self.with_id:
            out["@iot.id"] = ident
        if self.with_self:
            out["@iot.selfLink"] = f"{self.prefix}{ident})"
        for name, read, when_null in self.readers:
            value = read(row)
            if value is not None or when_null:
                out[name] = value
        if self.navigation:
            link = f"{self.prefix}{ident})/"
            for key, rel in self.navigation:
                out[key] = link + rel
        return out


def dumps(value: Any) -> bytes:
    """A response body; an entity stored deeper than orjson writes does not break it (see `dumps_json`)."""
    return dumps_json(value, orjson.OPT_NON_STR_KEYS)
