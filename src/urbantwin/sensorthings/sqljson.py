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


#: A JSON text in pieces: literal texts (str) and SQL expressions, concatenated by `_joined`.
Pieces = list[Any]


def _joined(pieces: Pieces) -> Any:
    """The SQL concatenation of the pieces, adjacent literal texts merged into one: each `||` left
    in the expression is evaluated for every row, and a page of a thousand entities had some forty
    of them per entity, most between two literals."""
    merged: Pieces = []
    for piece in pieces:
        if isinstance(piece, str) and merged and isinstance(merged[-1], str):
            merged[-1] += piece
        else:
            merged.append(piece)
    text: Any = None
    for piece in merged:
        part = literal(piece) if isinstance(piece, str) else piece
        text = part if text is None else text + part
    return text


def _value_text(prop: Property, columns: dict[str, Any]) -> Pieces:
    """JSON text of one property in pieces; NULL when the value is null (but see `result`)."""
    if prop.kind == "text":
        return [json_text_of(columns[prop.column])]
    if prop.kind in ("json", "geojson"):
        return [json_document_text(columns[prop.column])]
    if prop.kind == "time":
        return ['"', iso_time_text(columns[prop.column]), '"']
    if prop.kind == "interval":
        start, end = (columns[c] for c in prop.columns)
        tail = literal("/") + iso_time_text(end)
        # NULL when the start is: `'"' || NULL` is NULL.
        return [
            '"',
            case((end.is_(None), iso_time_text(start)), else_=iso_time_text(start) + tail),
            '"',
        ]
    if prop.kind == "result":
        kind, number = columns["result_type"], columns["result_number"]
        return [
            case(
                (kind == schema.RESULT_NUMBER, json_text_of(number)),
                (kind == schema.RESULT_INTEGER, integer_text(number)),
                (kind == schema.RESULT_STRING, json_text_of(columns["result_string"])),
                (kind == schema.RESULT_BOOLEAN, case((number != 0, literal("true")), else_=literal("false"))),
                (kind == schema.RESULT_JSON, json_document_text(columns["result_json"])),
                else_=literal("null"),
            )
        ]
    raise ValueError(f"{prop.name} is not rendered by the database")


#: Built expressions by (entity, table, base URL, $select): building one took milliseconds of Python
#: per request (a hundred SQL elements), about as long as the database takes to render a page with
#: it. Expressions are immutable and shared by any number of statements; the bound keeps a server
#: reached under many host names from growing it without end.
_BUILT: dict[tuple[str, Any, str, Any], Any] = {}
_BUILT_LIMIT = 256


def row_json(entity: EntityType, table: Any, base: str, select: tuple[tuple[str, ...], ...] | None) -> Any:
    """An SQL expression giving each row of `table` as the entity's JSON text."""
    key = (entity.name, table, base, select)
    built = _BUILT.get(key)
    if built is None:
        if len(_BUILT) >= _BUILT_LIMIT:
            _BUILT.clear()
        built = _BUILT[key] = _row_json(entity, table, base, select)
    return built


def _row_json(entity: EntityType, table: Any, base: str, select: tuple[tuple[str, ...], ...] | None) -> Any:
    names = _selected(entity, select)
    columns = {c.name: c for c in table.c}
    if entity.computed is not None:
        columns.update(entity.computed(table))
    ident = table.c.id
    id_text = integer_text(ident)
    parts: list[Pieces] = []
    if names is None or "id" in names or "@iot.id" in names:
        parts.append(['"@iot.id":', id_text])
    prefix = orjson.dumps(f"{base}/{entity.set_name}(").decode()[:-1]
    if names is None or "@iot.selfLink" in names:
        parts.append(['"@iot.selfLink":', prefix, id_text, ')"'])
    optional: list[Pieces] = []
    for name, prop in entity.properties.items():
        if names is not None and name not in names:
            continue
        key = orjson.dumps(name).decode() + ":"
        value = _value_text(prop, columns)
        if prop.kind == "result":
            parts.append([key, *value])  # never NULL: a null result is the text null
        elif name in _WRITTEN_WHEN_NULL:
            parts.append([key, func.coalesce(_joined(value), literal("null"))])
        else:
            optional.append([key, *value])
    for relation in entity.relations:
        if names is not None and relation not in names:
            continue
        link_key = orjson.dumps(relation + "@iot.navigationLink").decode() + ":"
        parts.append([link_key, prefix, id_text, f')/{relation}"'])
    # Always-present parts joined by commas; each optional part brings its own leading comma and
    # vanishes when its value is NULL (NULL || text is NULL on both backends).
    pieces: Pieces = ["{"]
    for index, part in enumerate(parts):
        pieces += part if index == 0 else [",", *part]
    lead = "," if parts else ""
    for part in optional:
        pieces.append(func.coalesce(_joined([lead, *part]), literal("")))
        lead = ","
    pieces.append("}")
    return _joined(pieces).label("json")
