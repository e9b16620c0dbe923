"""Entities rendered to JSON text by the database, for large pages.

For a collection page without `$expand`, the query itself returns each entity as its JSON text,
built from the same model as `serialize.RowWriter` and with the same rules (null properties left
out, but `result` and `resultTime` always written), so the two give equal JSON. The database
formats rows in C; Python only joins the texts. Properties whose JSON the database would write
differently from shapely (a Datastream's observedArea) make `supports` answer False, and the page
goes through `RowWriter`.
"""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import case, func, literal

from urbantwin.sensorthings.model import EntityType, Property
from urbantwin.store import schema
from urbantwin.store.sqlfunctions import integer_text, iso_time_text, json_document_text, json_text_of

#: Properties written as null when they have no value (as in serialize.RowWriter).
_WRITTEN_WHEN_NULL = frozenset({"result", "resultTime"})


def _selected(entity: EntityType, select: tuple[tuple[str, ...], ...] | None) -> set[str] | None:
    return None if select is None else {s[0] for s in select}


def supports(entity: EntityType, select: tuple[tuple[str, ...], ...] | None) -> bool:
    names = _selected(entity, select)
    if names is not None and not names & {
        "id",
        "@iot.id",
        "@iot.selfLink",
        *_WRITTEN_WHEN_NULL,
        *entity.relations,
    }:
        return False  # nothing always written to hang the optional properties' commas on
    return not any(
        prop.kind == "geometry" and (names is None or name in names)
        for name, prop in entity.properties.items()
    )


def _quoted(text: Any) -> Any:
    return literal('"') + text + literal('"')


def _value_text(prop: Property, columns: dict[str, Any]) -> Any:
    """JSON text of one property, NULL when the value is null."""
    if prop.kind == "text":
        return json_text_of(columns[prop.column])
    if prop.kind in ("json", "geojson"):
        return json_document_text(columns[prop.column])
    if prop.kind == "time":
        return _quoted(iso_time_text(columns[prop.column]))
    if prop.kind == "interval":
        start, end = (columns[c] for c in prop.columns)
        tail = literal("/") + iso_time_text(end)
        return case(
            (start.is_(None), None),
            (end.is_(None), _quoted(iso_time_text(start))),
            else_=_quoted(iso_time_text(start) + tail),
        )
    if prop.kind == "result":
        kind, number = columns["result_type"], columns["result_number"]
        return case(
            (kind == schema.RESULT_NUMBER, json_text_of(number)),
            (kind == schema.RESULT_INTEGER, integer_text(number)),
            (kind == schema.RESULT_STRING, json_text_of(columns["result_string"])),
            (kind == schema.RESULT_BOOLEAN, case((number != 0, literal("true")), else_=literal("false"))),
            (kind == schema.RESULT_JSON, json_document_text(columns["result_json"])),
            else_=literal("null"),
        )
    raise ValueError(f"{prop.name} is not rendered by the database")


def row_json(entity: EntityType, table: Any, base: str, select: tuple[tuple[str, ...], ...] | None) -> Any:
    """An SQL expression giving each row of `table` as the entity's JSON text."""
    names = _selected(entity, select)
    columns = {c.name: c for c in table.c}
    if entity.computed is not None:
        columns.update(entity.computed(table))
    ident = table.c.id
    id_text = integer_text(ident)
    parts: list[Any] = []
    if names is None or "id" in names or "@iot.id" in names:
        parts.append(literal('"@iot.id":') + id_text)
    prefix = f"{base}/{entity.set_name}("
    link = literal(orjson.dumps(prefix).decode()[:-1]) + id_text + literal(')"')
    if names is None or "@iot.selfLink" in names:
        parts.append(literal('"@iot.selfLink":') + link)
    optional: list[Any] = []
    for name, prop in entity.properties.items():
        if names is not None and name not in names:
            continue
        key = literal(orjson.dumps(name).decode() + ":")
        value = _value_text(prop, columns)
        if prop.kind == "result":
            parts.append(key + value)  # never NULL: a null result is the text null
        elif name in _WRITTEN_WHEN_NULL:
            parts.append(key + func.coalesce(value, literal("null")))
        else:
            optional.append(key + value)
    for relation in entity.relations:
        if names is not None and relation not in names:
            continue
        nav = literal(orjson.dumps(prefix).decode()[:-1]) + id_text + literal(f')/{relation}"')
        parts.append(literal(orjson.dumps(relation + "@iot.navigationLink").decode() + ":") + nav)
    # Always-present parts joined by commas; each optional part brings its own leading comma and
    # vanishes when its value is NULL (NULL || text is NULL on both backends).
    text: Any = literal("{")
    for index, part in enumerate(parts):
        text = text + (part if index == 0 else literal(",") + part)
    lead = "," if parts else ""
    for part in optional:
        text = text + _coalesce(literal(lead) + part)
        lead = ","
    return (text + literal("}")).label("json")


def _coalesce(part: Any) -> Any:
    return func.coalesce(part, literal(""))
