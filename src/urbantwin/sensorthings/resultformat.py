"""`$resultFormat=dataArray`: a page of Observations as compact arrays, grouped by Datastream.

The reading half of the dataArray extension (STA 1.1, section 14.3): each group names its
Datastream, the components (the `$select`ed properties, or all of them) and the rows.
"""

from __future__ import annotations

from typing import Any

from urbantwin.errors import BadRequest
from urbantwin.sensorthings.model import OBSERVATION, EntityType
from urbantwin.sensorthings.serialize import property_value

#: Components when `$select` names none: the id and every property of an Observation.
DEFAULT_COMPONENTS = ("id", *OBSERVATION.properties)


def components(select: tuple[tuple[str, ...], ...] | None) -> tuple[str, ...]:
    if select is None:
        return DEFAULT_COMPONENTS
    names = []
    for path in select:
        name = "id" if path[0] in ("id", "@iot.id") else path[0]
        if name != "id" and name not in OBSERVATION.properties:
            raise BadRequest(f"$resultFormat=dataArray: {name!r} is not a property of an Observation")
        names.append(name)
    return tuple(dict.fromkeys(names))


def data_array(
    entity: EntityType, rows: list[dict[str, Any]], select: Any, base: str
) -> list[dict[str, Any]]:
    """The `value` of a dataArray answer for these Observation rows (in their order)."""
    if entity is not OBSERVATION:
        raise BadRequest("$resultFormat=dataArray applies to Observations only")
    names = components(select)
    properties = [OBSERVATION.property(name) for name in names]
    groups: dict[int, dict[str, Any]] = {}
    for row in rows:
        datastream = row["datastream_id"]
        group = groups.get(datastream)
        if group is None:
            group = groups[datastream] = {
                "Datastream@iot.navigationLink": f"{base}/Datastreams({datastream})",
                "components": list(names),
                "dataArray": [],
            }
        group["dataArray"].append([property_value(prop, row) for prop in properties])  # type: ignore[arg-type]
    for group in groups.values():
        group["dataArray@iot.count"] = len(group["dataArray"])
    return list(groups.values())
