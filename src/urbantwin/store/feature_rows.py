"""What goes into a row of the features table and its collection, by whichever path a feature comes:
a write of OGC API Features (`ogcapi/write.py`) or an importer (`ingest/pipeline.py`).

One rule each for the JSON type of a property in the collection's item schema, the height a feature
is extruded by, and the extent of a collection; both paths call these, so a collection reads the same
whether its features were posted one by one or imported from a file.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

#: The properties a feature's height (metres) is taken from when no importer option names one, in
#: order: the platform's own name first.
HEIGHT_PROPERTIES = ("height_m", "height")

Box = tuple[float, float, float, float]


def json_type(value: Any) -> str:
    """The JSON Schema type of a property value ("null" for None)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def property_schema(seen: set[str]) -> dict[str, Any]:
    """The schema of a property whose values had the types `seen`: nulls say nothing, integers and
    numbers together are numbers, a property never seen but null is a string, and one of several
    other types is left open (`{}`: any type)."""
    kinds = set(seen) - {"null"}
    if kinds == {"integer", "number"}:
        kinds = {"number"}
    if not kinds:
        return {"type": "string"}
    return {"type": kinds.pop()} if len(kinds) == 1 else {}


def item_schema(properties: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """The item schema of features with these properties (one dict per feature)."""
    kinds: dict[str, set[str]] = {}
    for values in properties:
        for name, value in values.items():
            kinds.setdefault(name, set()).add(json_type(value))
    return {
        "type": "object",
        "properties": {name: property_schema(seen) for name, seen in sorted(kinds.items())},
    }


def grown_schema(schema: dict[str, Any] | None, properties: dict[str, Any]) -> dict[str, Any]:
    """`schema` grown by one more feature's properties, by the same rule as `item_schema`."""
    known = dict((schema or {}).get("properties", {}))
    for name, value in properties.items():
        if value is None and name in known:
            continue
        before = known.get(name)
        seen = {json_type(value)}
        if before is not None:
            seen.add(before.get("type", "mixed"))
        known[name] = property_schema(seen) if "mixed" not in seen else {}
    return {**(schema or {}), "type": "object", "properties": dict(sorted(known.items()))}


def parse_height(value: Any, name: str) -> float | None:
    """A height in metres from a property value: a number, or a text with a decimal point or comma;
    None for none given. ValueError naming the property for anything else."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ValueError(f"'{name}' is not a number: {value!r}")
    try:
        height = float(value.strip().replace(",", ".")) if isinstance(value, str) else float(value)
    except (TypeError, ValueError):
        raise ValueError(f"'{name}' is not a number: {value!r}") from None
    if not math.isfinite(height):
        raise ValueError(f"'{name}' is not a finite number: {value!r}")
    return height


def height_of(properties: dict[str, Any], names: Sequence[str] = HEIGHT_PROPERTIES) -> float | None:
    """The height of a feature when nobody named the property that holds it: the first of `names`
    whose value is a height (a value that is none is a property like any other, not an error)."""
    for name in names:
        try:
            height = parse_height(properties.get(name), name)
        except ValueError:
            continue
        if height is not None:
            return height
    return None


def union_bounds(boxes: Iterable[Sequence[float] | None]) -> Box | None:
    """The box around `boxes` (west, south, east, north), the missing ones left out; None if none."""
    given = [box for box in boxes if box]
    if not given:
        return None
    return (
        min(float(b[0]) for b in given),
        min(float(b[1]) for b in given),
        max(float(b[2]) for b in given),
        max(float(b[3]) for b in given),
    )
