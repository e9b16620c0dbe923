"""The checks of OGC SensorThings API 1.1 part 1 (OGC 18-088), one per requirement (or per group of
operators of one requirement), in the order of the standard's classes: data model, resource path,
request data (query options, filter operators and functions, paging), create-update-delete, batch
requests, dataArray. The MQTT extension's checks are in `mqtt`.

The read checks look at what the server has (the first entity of each set) or, in a writing run, at
the world the run made first (`make_world`): a Thing with a Location, a Datastream with its Sensor and
ObservedProperty, and Observations with numbers and known times. Every expected answer is computed
from what the server itself returned, so the checks hold for any server's data.
"""

from __future__ import annotations

import math
import uuid
from datetime import UTC, datetime
from typing import Any

from urbantwin.conformance.core import (
    CheckFailed,
    Registry,
    Session,
    Skipped,
    expect_status,
    json_of,
    require,
)

R = "http://www.opengis.net/spec/iot_sensing/1.1/req"
DATAMODEL = f"{R}/datamodel"
RESOURCE_PATH = f"{R}/resource-path/resource-path-to-entities"
REQUEST_DATA = f"{R}/request-data"
CUD = f"{R}/create-update-delete"
BATCH = f"{R}/batch-request/batch-request"
DATA_ARRAY = f"{R}/data-array/data-array"
MQTT_RECEIVE = f"{R}/receive-updates-via-mqtt/receive-updates"
MQTT_CREATE = f"{R}/create-observations-via-mqtt/observations-creation"

#: The classes every SensorThings server implements (the others it claims in `serverSettings`).
MANDATORY = (DATAMODEL, RESOURCE_PATH, REQUEST_DATA)

MEASUREMENT = "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement"

#: Per entity set: its entity type's name in the requirement URIs, its mandatory properties and
#: its relations (navigation properties), as the standard's data model has them.
MODEL: dict[str, tuple[str, tuple[str, ...], tuple[str, ...]]] = {
    "Things": ("thing", ("name", "description"), ("Locations", "HistoricalLocations", "Datastreams")),
    "Locations": (
        "location",
        ("name", "description", "encodingType", "location"),
        ("Things", "HistoricalLocations"),
    ),
    "HistoricalLocations": ("historical-location", ("time",), ("Thing", "Locations")),
    "Datastreams": (
        "datastream",
        ("name", "description", "unitOfMeasurement", "observationType"),
        ("Thing", "Sensor", "ObservedProperty", "Observations"),
    ),
    "Sensors": ("sensor", ("name", "description", "encodingType", "metadata"), ("Datastreams",)),
    "ObservedProperties": ("observed-property", ("name", "definition", "description"), ("Datastreams",)),
    "Observations": ("observation", ("phenomenonTime", "result"), ("Datastream", "FeatureOfInterest")),
    "FeaturesOfInterest": (
        "feature-of-interest",
        ("name", "description", "encodingType", "feature"),
        ("Observations",),
    ),
}

REGISTRY = Registry()
check = REGISTRY.check


# --- helpers ----------------------------------------------------------------------------------


def sta(session: Session, path: str) -> str:
    assert session.sta_root is not None
    return f"{session.sta_root}/{path}"


def literal(value: Any) -> str:
    """An id or value as an OData literal: numbers as they are, strings quoted ('' for ')."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return "'" + str(value).replace("'", "''") + "'"


def values(page: Any, what: str = "the answer") -> list[dict[str, Any]]:
    require(isinstance(page, dict) and isinstance(page.get("value"), list), f"{what} has no `value` array")
    return page["value"]


def ids(items: list[dict[str, Any]]) -> list[Any]:
    return [item.get("@iot.id") for item in items]


def sample(session: Session, set_name: str) -> dict[str, Any]:
    """An entity of `set_name`: the run's own (in a writing run) or the first the server has."""
    key = f"sample:{set_name}"
    if key not in session.state:
        made = own_world(session) if session.options.write else {}
        if set_name in made:
            entity = session.get_json(sta(session, f"{set_name}({literal(made[set_name])})"))
        else:
            entity = next(iter(values(session.get_json(sta(session, set_name), {"$top": "1"}))), None)
        session.state[key] = entity
    if session.state[key] is None:
        raise Skipped(f"the server has no {set_name} to check this on (`--write` makes some)")
    return session.state[key]


def numeric_observation(session: Session) -> dict[str, Any]:
    """An Observation whose result is a number (and whose phenomenonTime is an instant)."""
    if "numeric" not in session.state:
        found = None
        if session.options.write and own_world(session):
            found = sample(session, "Observations")
        else:
            page = session.get_json(sta(session, "Observations"), {"$top": "50"})
            for item in values(page):
                result = item.get("result")
                if isinstance(result, int | float) and not isinstance(result, bool):
                    found = item
                    break
        session.state["numeric"] = found
    if session.state["numeric"] is None:
        raise Skipped("the server has no Observation with a number as result (`--write` makes one)")
    return session.state["numeric"]


def filtered(session: Session, set_name: str, expression: str, **more: str) -> list[dict[str, Any]]:
    page = session.get_json(sta(session, set_name), {"$filter": expression, **more})
    return values(page, f"{set_name}?$filter={expression}")


def expect_match(
    session: Session, set_name: str, entity: dict[str, Any], expression: str, match: bool
) -> None:
    """`$filter=id eq <entity> and (expression)` finds the entity exactly when `match`."""
    scoped = f"id eq {literal(entity['@iot.id'])} and ({expression})"
    found = ids(filtered(session, set_name, scoped))
    if match:
        require(
            found == [entity["@iot.id"]], f"$filter={expression} did not find {set_name}({entity['@iot.id']})"
        )
    else:
        require(
            found == [], f"$filter={expression} found {set_name}({entity['@iot.id']}), which it should not"
        )


def instant(value: Any) -> datetime:
    """An ISO 8601 instant (the start of an interval) as UTC."""
    require(isinstance(value, str), f"{value!r} is not a time")
    start = value.split("/")[0]
    try:
        parsed = datetime.fromisoformat(start.replace("Z", "+00:00"))
    except ValueError:
        raise CheckFailed(f"{value!r} is not an ISO 8601 time") from None
    require(parsed.tzinfo is not None, f"{value!r} has no time zone")
    return parsed.astimezone(UTC)


def missing_id(entity: dict[str, Any]) -> str:
    """An id of the same kind as `entity`'s that no entity has."""
    return "999999999999" if isinstance(entity["@iot.id"], int) else "'urbantwin-check-no-such-entity'"


def marker() -> str:
    return f"urbantwin-check-{uuid.uuid4().hex[:10]}"


# --- the world a writing run makes ------------------------------------------------------------

#: Where the run's Location stands (a point, in WGS 84 longitude/latitude).
POINT = (10.25, 50.5)
#: The Observations of the run's Datastream: phenomenonTime and result.
OBSERVATIONS = [(f"2020-03-0{day}T1{day}:2{day}:3{day}Z", day * 1.5) for day in range(1, 6)]


def world_body(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "description": "made by urbantwin check, deleted at the end of its run",
        "properties": {"checker": name},
        "Locations": [
            {
                "name": f"{name} place",
                "description": "where the checker's Thing stands",
                "encodingType": "application/geo+json",
                "location": {"type": "Point", "coordinates": list(POINT)},
            }
        ],
        "Datastreams": [
            {
                "name": f"{name} datastream",
                "description": "numbers of the checker",
                "observationType": MEASUREMENT,
                "unitOfMeasurement": {"name": "degree Celsius", "symbol": "degC", "definition": "ucum:Cel"},
                "Sensor": {
                    "name": f"{name} sensor",
                    "description": "the checker",
                    "encodingType": "text/plain",
                    "metadata": "none",
                },
                "ObservedProperty": {
                    "name": f"{name} property",
                    "definition": f"urn:urbantwin:check:{name}",
                    "description": "a number",
                },
                "Observations": [{"phenomenonTime": t, "result": r} for t, r in OBSERVATIONS],
            }
        ],
    }


def make_world(session: Session) -> dict[str, Any]:
    """Create the run's Thing (deep insert) and note its entities; they are deleted after the run
    (`Session.kept`). The ids by entity set."""
    name = marker().replace("check-", "check-world-")
    answer = session.request("POST", sta(session, "Things"), json=world_body(name))
    expect_status(answer, 201)
    thing_url = answer.headers.get("location") or json_of(answer).get("@iot.selfLink")
    require(thing_url, "the created Thing's answer has neither a Location header nor a selfLink")
    expand = (
        "Locations,HistoricalLocations,Datastreams($expand=Sensor,ObservedProperty,"
        "Observations($expand=FeatureOfInterest;$orderby=phenomenonTime asc))"
    )
    thing = session.get_json(thing_url, {"$expand": expand})
    datastream = thing["Datastreams"][0]
    observation = datastream["Observations"][0]
    world = {
        "Things": thing["@iot.id"],
        "Locations": thing["Locations"][0]["@iot.id"],
        "Datastreams": datastream["@iot.id"],
        "Sensors": datastream["Sensor"]["@iot.id"],
        "ObservedProperties": datastream["ObservedProperty"]["@iot.id"],
        "Observations": observation["@iot.id"],
        "FeaturesOfInterest": observation["FeatureOfInterest"]["@iot.id"],
    }
    if thing.get("HistoricalLocations"):
        world["HistoricalLocations"] = thing["HistoricalLocations"][0]["@iot.id"]
    for set_name in ("Sensors", "ObservedProperties", "FeaturesOfInterest", "Locations", "Things"):
        session.keep(sta(session, f"{set_name}({literal(world[set_name])})"))
    world["name"] = name
    return world


def own(session: Session, set_name: str, body: dict[str, Any]) -> dict[str, Any]:
    """POST an entity of the check's own (deleted when the check ends); the entity as read back."""
    answer = session.request("POST", sta(session, set_name), json=body)
    expect_status(answer, 201)
    url = answer.headers.get("location") or json_of(answer).get("@iot.selfLink")
    require(url, f"the created {set_name} entity's answer has neither a Location header nor a selfLink")
    session.remember(url)
    return session.get_json(url)


def own_world(session: Session) -> dict[str, Any]:
    """The run's own entities, made by the first check that needs them; {} if they could not be."""
    if "world" not in session.state:
        try:
            session.state["world"] = make_world(session)
        except (CheckFailed, KeyError, IndexError, TypeError) as exc:
            session.state["world"] = {}
            session.state["world_problem"] = f"the run could not make its own entities: {exc}"
    return session.state["world"]


def world(session: Session) -> dict[str, Any]:
    """The run's own entities (for a check that writes); skips the check when there are none."""
    session.require_write()
    made = own_world(session)
    if not made:
        raise Skipped(session.state["world_problem"])
    return made


# --- data model -------------------------------------------------------------------------------


@check(
    "sta.datamodel.control",
    "sensorthings",
    DATAMODEL,
    f"{DATAMODEL}/entity-control-information/common-control-information",
    "Every entity has @iot.id and an @iot.selfLink that leads back to it",
    "Jede Entität hat @iot.id und einen @iot.selfLink, der zu ihr zurückführt",
)
def common_control(session: Session) -> None:
    seen = 0
    for set_name in MODEL:
        try:
            entity = sample(session, set_name)
        except Skipped:
            continue
        seen += 1
        require("@iot.id" in entity, f"a {set_name} entity has no @iot.id")
        link = entity.get("@iot.selfLink")
        require(isinstance(link, str) and link, f"{set_name}({entity['@iot.id']}) has no @iot.selfLink")
        again = session.get_json(str(link))
        require(again.get("@iot.id") == entity["@iot.id"], f"the selfLink {link} leads to another entity")
    if not seen:
        raise Skipped("the server has no entities")


def shape_of(set_name: str, entity: dict[str, Any]) -> None:
    """The values the data model fixes the form of: unitOfMeasurement an object of name, symbol and
    definition; times ISO 8601; GeoJSON where the encodingType says so."""
    where = f"{set_name}({entity['@iot.id']})"
    if set_name == "Datastreams":
        unit: Any = entity.get("unitOfMeasurement")
        require(isinstance(unit, dict), f"{where}'s unitOfMeasurement is no object")
        require({"name", "symbol", "definition"} <= set(unit), f"{where}'s unitOfMeasurement lacks a member")
    for name in ("time", "phenomenonTime"):
        if isinstance(entity.get(name), str):
            instant(entity[name])
    for name in ("location", "feature"):
        if entity.get("encodingType") == "application/geo+json" and name in entity:
            value = entity[name]
            require(
                isinstance(value, dict) and isinstance(value.get("type"), str),
                f"{where}'s {name} is no GeoJSON",
            )


def _datamodel_checks() -> None:
    for set_name, (type_name, properties, relations) in MODEL.items():

        def has_properties(
            session: Session, set_name: str = set_name, properties: tuple = properties
        ) -> None:
            entity = sample(session, set_name)
            absent = [name for name in properties if name not in entity]
            require(not absent, f"{set_name}({entity['@iot.id']}) lacks {', '.join(absent)}")
            shape_of(set_name, entity)

        def has_relations(session: Session, set_name: str = set_name, relations: tuple = relations) -> None:
            entity = sample(session, set_name)
            absent = [name for name in relations if f"{name}@iot.navigationLink" not in entity]
            require(
                not absent,
                f"{set_name}({entity['@iot.id']}) has no navigation link to {', '.join(absent)}",
            )
            for name in relations:
                answer = session.get(entity[f"{name}@iot.navigationLink"])
                # A to-one relation that is not set (none here is optional) or a to-many one: 200.
                expect_status(answer, 200)

        check(
            f"sta.datamodel.{type_name}.properties",
            "sensorthings",
            DATAMODEL,
            f"{DATAMODEL}/{type_name}/properties",
            f"{set_name} have their mandatory properties ({', '.join(properties)})",
            f"{set_name} haben ihre Pflichteigenschaften ({', '.join(properties)})",
        )(has_properties)
        check(
            f"sta.datamodel.{type_name}.relations",
            "sensorthings",
            DATAMODEL,
            f"{DATAMODEL}/{type_name}/relations",
            f"{set_name} link to their relations ({', '.join(relations)}), and the links answer",
            f"{set_name} verweisen auf ihre Beziehungen ({', '.join(relations)}), und die Links antworten",
        )(has_relations)


_datamodel_checks()


# --- resource path ----------------------------------------------------------------------------


@check(
    "sta.path.root",
    "sensorthings",
    RESOURCE_PATH,
    RESOURCE_PATH,
    "The service root lists every entity set, and each answers a collection",
    "Die Wurzel des Dienstes nennt jede Entitätsmenge, und jede antwortet mit einer Sammlung",
)
def service_root(session: Session) -> None:
    root = session.get_json(sta(session, ""))
    listed = {item.get("name"): item.get("url") for item in values(root, "the service root")}
    absent = [name for name in MODEL if name not in listed]
    require(not absent, f"the service root does not list {', '.join(absent)}")
    for name in MODEL:
        values(session.get_json(str(listed[name]), {"$top": "1"}), f"the entity set {name}")


@check(
    "sta.path.entity",
    "sensorthings",
    RESOURCE_PATH,
    RESOURCE_PATH,
    "An entity is addressed by its id; an unknown id answers 404",
    "Eine Entität wird über ihre Id adressiert; eine unbekannte Id antwortet 404",
)
def entity_by_id(session: Session) -> None:
    thing = sample(session, "Things")
    again = session.get_json(sta(session, f"Things({literal(thing['@iot.id'])})"))
    require(again.get("@iot.id") == thing["@iot.id"], "Things(id) answered another entity")
    expect_status(session.get(sta(session, f"Things({missing_id(thing)})")), 404)


@check(
    "sta.path.navigation",
    "sensorthings",
    RESOURCE_PATH,
    RESOURCE_PATH,
    "Navigation to related entities: to many (a collection) and to one (an entity)",
    "Navigation zu verbundenen Entitäten: zu vielen (eine Sammlung) und zu einer (eine Entität)",
)
def navigation(session: Session) -> None:
    datastream = sample(session, "Datastreams")
    path = f"Datastreams({literal(datastream['@iot.id'])})"
    thing = session.get_json(sta(session, f"{path}/Thing"))
    require("@iot.id" in thing, f"{path}/Thing is not an entity")
    listed = values(session.get_json(sta(session, f"Things({literal(thing['@iot.id'])})/Datastreams")))
    require(
        datastream["@iot.id"] in ids(listed), f"the Thing of {path} does not list it among its Datastreams"
    )
    values(session.get_json(sta(session, f"{path}/Observations"), {"$top": "2"}), f"{path}/Observations")
    sensor = session.get_json(sta(session, f"{path}/Sensor"))
    require("@iot.id" in sensor, f"{path}/Sensor is not an entity")
    values(session.get_json(sta(session, f"{path}/Thing/Locations")), f"{path}/Thing/Locations")
    links = values(session.get_json(sta(session, f"{path}/Thing/Datastreams/$ref")))
    require(
        all(set(item) == {"@iot.selfLink"} for item in links) and len(links) >= 1,
        f"{path}/Thing/Datastreams/$ref is not a list of selfLinks",
    )


@check(
    "sta.path.property",
    "sensorthings",
    RESOURCE_PATH,
    RESOURCE_PATH,
    "A property is addressed by its name, its raw value with /$value",
    "Eine Eigenschaft wird über ihren Namen adressiert, ihr reiner Wert mit /$value",
)
def property_path(session: Session) -> None:
    thing = sample(session, "Things")
    path = f"Things({literal(thing['@iot.id'])})/name"
    body = session.get_json(sta(session, path))
    require(body == {"name": thing["name"]}, f"{path} answered {body!r}, not {{'name': …}}")
    raw = session.get(sta(session, f"{path}/$value"))
    expect_status(raw, 200)
    require(raw.text == thing["name"], f"{path}/$value is not the name itself")


@check(
    "sta.path.ref",
    "sensorthings",
    RESOURCE_PATH,
    RESOURCE_PATH,
    "$ref answers the selfLinks of a collection's entities only",
    "$ref antwortet nur mit den selfLinks der Entitäten einer Sammlung",
)
def references(session: Session) -> None:
    sample(session, "Things")
    items = values(session.get_json(sta(session, "Things/$ref"), {"$top": "3"}))
    require(items, "Things/$ref is empty although there are Things")
    for item in items:
        require(set(item) == {"@iot.selfLink"}, f"Things/$ref has {sorted(item)}, not only @iot.selfLink")


# --- request data -----------------------------------------------------------------------------


@check(
    "sta.query.status",
    "sensorthings",
    REQUEST_DATA,
    f"{REQUEST_DATA}/query-status-code",
    "A malformed or unknown query option answers 400",
    "Eine fehlerhafte oder unbekannte Abfrageoption antwortet 400",
)
def bad_queries(session: Session) -> None:
    for params in (
        {"$filter": "name eq"},
        {"$filter": "nosuchproperty eq 1"},
        {"$top": "-1"},
        {"$skip": "x"},
        {"$orderby": "nosuchproperty"},
        {"$expand": "NoSuchRelation"},
        {"$select": "nosuchproperty"},
    ):
        answer = session.get(sta(session, "Things"), params)
        require(answer.status_code == 400, f"Things?{params} answered {answer.status_code}, not 400")


@check(
    "sta.query.expand",
    "sensorthings",
    REQUEST_DATA,
    f"{REQUEST_DATA}/expand",
    "$expand inlines related entities, nested and with their own options",
    "$expand bettet verbundene Entitäten ein, verschachtelt und mit eigenen Optionen",
)
def expand(session: Session) -> None:
    datastream = sample(session, "Datastreams")
    thing = session.get_json(sta(session, f"Datastreams({literal(datastream['@iot.id'])})/Thing"))
    path = sta(session, f"Things({literal(thing['@iot.id'])})")
    body = session.get_json(path, {"$expand": "Datastreams"})
    require(isinstance(body.get("Datastreams"), list), "$expand=Datastreams gave no Datastreams array")
    require(
        datastream["@iot.id"] in ids(body["Datastreams"]), "the expanded Datastreams lack one of the Thing's"
    )
    nested = session.get_json(path, {"$expand": "Datastreams/ObservedProperty"})
    for item in nested["Datastreams"]:
        require(
            isinstance(item.get("ObservedProperty"), dict), "Datastreams/ObservedProperty was not expanded"
        )
    options = session.get_json(path, {"$expand": "Datastreams($select=name;$top=1)"})
    inner = options.get("Datastreams")
    require(isinstance(inner, list) and len(inner) == 1, "Datastreams($top=1) did not give one Datastream")
    extra = {key for key in inner[0] if not key.startswith("@iot.") and key != "name"}
    require(not extra, f"Datastreams($select=name) has {sorted(extra)} as well")
    chosen = session.get_json(
        path, {"$expand": f"Datastreams($filter=id eq {literal(datastream['@iot.id'])})"}
    )
    require(
        ids(chosen.get("Datastreams") or []) == [datastream["@iot.id"]],
        "Datastreams($filter=id eq …) did not expand that Datastream alone",
    )
    counted = session.get_json(path, {"$expand": "Datastreams($count=true;$top=1)"})
    require(
        isinstance(counted.get("Datastreams@iot.count"), int) and counted["Datastreams@iot.count"] >= 1,
        "Datastreams($count=true) gave no Datastreams@iot.count",
    )
    observations = session.get_json(
        sta(session, f"Datastreams({literal(datastream['@iot.id'])})"),
        {"$expand": "Observations($top=1;$count=true)"},
    )
    if observations.get("Observations@iot.count", 0) > 1:
        require(
            isinstance(observations.get("Observations@iot.nextLink"), str),
            "an expanded page of 1 of several Observations has no Observations@iot.nextLink",
        )


@check(
    "sta.query.select",
    "sensorthings",
    REQUEST_DATA,
    f"{REQUEST_DATA}/select",
    "$select answers the chosen properties only",
    "$select antwortet nur mit den gewählten Eigenschaften",
)
def select(session: Session) -> None:
    sample(session, "Things")
    items = values(session.get_json(sta(session, "Things"), {"$select": "name,description", "$top": "3"}))
    for item in items:
        extra = {key for key in item if not key.startswith("@iot.") and key not in ("name", "description")}
        require(not extra, f"$select=name,description answered {sorted(extra)} as well")
        require("name" in item, "$select=name,description left out the name")
    ids_only = values(session.get_json(sta(session, "Things"), {"$select": "id", "$top": "3"}))
    for item in ids_only:
        require("@iot.id" in item and "name" not in item, "$select=id did not answer the id alone")


def _times(items: list[dict[str, Any]]) -> list[datetime]:
    return [instant(item["phenomenonTime"]) for item in items]


@check(
    "sta.query.orderby",
    "sensorthings",
    REQUEST_DATA,
    f"{REQUEST_DATA}/orderby",
    "$orderby sorts ascending and descending, by several properties",
    "$orderby sortiert auf- und absteigend, nach mehreren Eigenschaften",
)
def orderby(session: Session) -> None:
    datastream = sample(session, "Datastreams")
    path = sta(session, f"Datastreams({literal(datastream['@iot.id'])})/Observations")
    down = values(session.get_json(path, {"$orderby": "phenomenonTime desc", "$top": "20"}))
    if len(down) < 2:
        raise Skipped("the Datastream has fewer than two Observations to sort")
    require(_times(down) == sorted(_times(down), reverse=True), "phenomenonTime desc is not descending")
    up = values(session.get_json(path, {"$orderby": "phenomenonTime asc,id asc", "$top": "20"}))
    require(_times(up) == sorted(_times(up)), "phenomenonTime asc,id asc is not ascending")


@check(
    "sta.query.top",
    "sensorthings",
    REQUEST_DATA,
    f"{REQUEST_DATA}/top",
    "$top limits the number of entities",
    "$top begrenzt die Zahl der Entitäten",
)
def top(session: Session) -> None:
    sample(session, "Observations")
    for limit in (1, 2):
        items = values(session.get_json(sta(session, "Observations"), {"$top": str(limit)}))
        require(0 < len(items) <= limit, f"$top={limit} answered {len(items)} entities")


@check(
    "sta.query.skip",
    "sensorthings",
    REQUEST_DATA,
    f"{REQUEST_DATA}/skip",
    "$skip leaves out the first entities",
    "$skip lässt die ersten Entitäten aus",
)
def skip(session: Session) -> None:
    sample(session, "Observations")
    first = ids(values(session.get_json(sta(session, "Observations"), {"$orderby": "id", "$top": "3"})))
    if len(first) < 2:
        raise Skipped("fewer than two Observations")
    rest = ids(
        values(session.get_json(sta(session, "Observations"), {"$orderby": "id", "$skip": "1", "$top": "2"}))
    )
    require(rest == first[1:], f"$skip=1 answered {rest}, not {first[1:]}")


@check(
    "sta.query.count",
    "sensorthings",
    REQUEST_DATA,
    f"{REQUEST_DATA}/count",
    "$count=true adds the number of all matching entities, $count=false does not",
    "$count=true fügt die Zahl aller passenden Entitäten hinzu, $count=false nicht",
)
def count(session: Session) -> None:
    sample(session, "Things")
    page = session.get_json(sta(session, "Things"), {"$count": "true", "$top": "1"})
    total = page.get("@iot.count")
    require(isinstance(total, int) and total >= len(values(page)), f"@iot.count is {total!r}")
    everything = session.get_json(sta(session, "Things"), {"$count": "true"})
    require(everything.get("@iot.count") == total, "@iot.count depends on $top")
    without = session.get_json(sta(session, "Things"), {"$count": "false"})
    require("@iot.count" not in without, "$count=false still answered @iot.count")


@check(
    "sta.query.order",
    "sensorthings",
    REQUEST_DATA,
    f"{REQUEST_DATA}/order",
    "Query options apply in the standard's order ($filter, $count, $orderby, $skip, $top)",
    "Abfrageoptionen wirken in der Reihenfolge des Standards ($filter, $count, $orderby, $skip, $top)",
)
def order(session: Session) -> None:
    observation = numeric_observation(session)
    every = session.get_json(
        sta(session, "Observations"),
        {"$filter": f"result ge {literal(observation['result'])}", "$count": "true"},
    )
    page = session.get_json(
        sta(session, "Observations"),
        {
            "$filter": f"result ge {literal(observation['result'])}",
            "$count": "true",
            "$orderby": "result desc",
            "$skip": "0",
            "$top": "1",
        },
    )
    require(page.get("@iot.count") == every.get("@iot.count"), "@iot.count was taken after $top")
    results = [item["result"] for item in values(page)]
    require(
        results and results[0] >= observation["result"], "$orderby/$top answered a result $filter excludes"
    )


@check(
    "sta.query.filter",
    "sensorthings",
    REQUEST_DATA,
    f"{REQUEST_DATA}/filter",
    "$filter selects entities, also along a navigation path",
    "$filter wählt Entitäten aus, auch entlang eines Navigationspfads",
)
def filter_basic(session: Session) -> None:
    thing = sample(session, "Things")
    found = ids(filtered(session, "Things", f"id eq {literal(thing['@iot.id'])}"))
    require(found == [thing["@iot.id"]], "$filter=id eq … did not find exactly that Thing")
    found = ids(filtered(session, "Things", f"name eq {literal(thing['name'])}"))
    require(thing["@iot.id"] in found, "$filter=name eq … did not find the Thing")
    found = ids(filtered(session, "Things", f"name ne {literal(thing['name'])}"))
    require(thing["@iot.id"] not in found, "$filter=name ne … found the Thing of that name")
    texts = {
        k: v for k, v in (thing.get("properties") or {}).items() if isinstance(v, str) and k.isidentifier()
    }
    for key, value in list(texts.items())[:1]:
        found = ids(filtered(session, "Things", f"properties/{key} eq {literal(value)}"))
        require(thing["@iot.id"] in found, f"$filter=properties/{key} eq … did not find the Thing")
    datastream = sample(session, "Datastreams")
    items = filtered(
        session,
        "Observations",
        f"Datastream/id eq {literal(datastream['@iot.id'])}",
        **{"$top": "5", "$expand": "Datastream($select=id)"},
    )
    for item in items:
        require(
            item.get("Datastream", {}).get("@iot.id") == datastream["@iot.id"],
            "$filter=Datastream/id eq … answered an Observation of another Datastream",
        )
    observed = session.get_json(
        sta(session, f"Datastreams({literal(datastream['@iot.id'])})/ObservedProperty")
    )
    hop = f"Datastream/ObservedProperty/name eq {literal(observed['name'])}"
    items = filtered(session, "Observations", hop, **{"$top": "5", "$expand": "Datastream($select=id)"})
    require(items, f"$filter={hop} found none of the Datastream's Observations")


def _filter_group(
    id: str,
    en: str,
    de: str,
    cases: Any,
    set_name: str = "Observations",
    uri: str = "built-in-filter-operations",
) -> None:
    def run(session: Session) -> None:
        entity = numeric_observation(session) if set_name == "Observations" else sample(session, set_name)
        for expression, match in cases(session, entity):
            expect_match(session, set_name, entity, expression, match)

    check(id, "sensorthings", REQUEST_DATA, f"{REQUEST_DATA}/{uri}", en, de)(run)


def _comparison(_session: Session, entity: dict[str, Any]) -> list[tuple[str, bool]]:
    r = literal(entity["result"])
    below, above = literal(entity["result"] - 1), literal(entity["result"] + 1)
    return [
        (f"result eq {r}", True),
        (f"result ne {r}", False),
        (f"result gt {below}", True),
        (f"result gt {r}", False),
        (f"result ge {r}", True),
        (f"result lt {above}", True),
        (f"result lt {r}", False),
        (f"result le {r}", True),
    ]


def _logical(_session: Session, entity: dict[str, Any]) -> list[tuple[str, bool]]:
    r = literal(entity["result"])
    return [
        (f"result eq {r} and result ge {r}", True),
        (f"result eq {r} and result ne {r}", False),
        (f"result ne {r} or result eq {r}", True),
        (f"not (result ne {r})", True),
        (f"not (result eq {r})", False),
    ]


def _arithmetic(_session: Session, entity: dict[str, Any]) -> list[tuple[str, bool]]:
    value = entity["result"]

    def between(expression: str, expected: float) -> str:
        return f"{expression} gt {literal(expected - 0.25)} and {expression} lt {literal(expected + 0.25)}"

    cases = [
        (between("result add 2", value + 2), True),
        (between("result sub 2", value - 2), True),
        (between("result mul 2", value * 2), True),
        (between("result div 2", value / 2), True),
        (between("result add 2", value + 5), False),
    ]
    if float(value).is_integer():
        cases.append((f"result mod 2 eq {int(value) % 2}", True))
    return cases


def _grouping(_session: Session, entity: dict[str, Any]) -> list[tuple[str, bool]]:
    r = literal(entity["result"])
    return [
        (f"(result eq {r} or result ne {r}) and result ne {r}", False),
        (f"result eq {r} or (result ne {r} and result ne {r})", True),
        (f"(result add 1) sub 1 ge {literal(entity['result'] - 0.5)}", True),
    ]


_filter_group(
    "sta.filter.comparison",
    "$filter comparison operators: eq, ne, gt, ge, lt, le",
    "$filter-Vergleichsoperatoren: eq, ne, gt, ge, lt, le",
    _comparison,
)
_filter_group(
    "sta.filter.logical",
    "$filter logical operators: and, or, not",
    "$filter-logische Operatoren: and, or, not",
    _logical,
)
_filter_group(
    "sta.filter.arithmetic",
    "$filter arithmetic operators: add, sub, mul, div, mod",
    "$filter-Rechenoperatoren: add, sub, mul, div, mod",
    _arithmetic,
)
_filter_group(
    "sta.filter.grouping",
    "$filter grouping with parentheses",
    "$filter-Gruppierung mit Klammern",
    _grouping,
)


def _strings(_session: Session, thing: dict[str, Any]) -> list[tuple[str, bool]]:
    name: str = thing["name"]
    if len(name) < 3:
        raise Skipped(f"the Thing's name {name!r} is too short to take apart")
    part = name[1:3]
    cases = [
        (f"substringof({literal(part)}, name)", True),
        (f"startswith(name, {literal(name[:2])})", True),
        (f"endswith(name, {literal(name[-2:])})", True),
        (f"startswith(name, {literal(name[:2] + '~~none~~')})", False),
        (f"length(name) eq {len(name)}", True),
        (f"indexof(name, {literal(part)}) eq {name.find(part)}", True),
        (f"substring(name, 1) eq {literal(name[1:])}", True),
        (f"substring(name, 1, 2) eq {literal(name[1:3])}", True),
        (f"trim(name) eq {literal(name.strip())}", True),
        (f"concat(name, 'x') eq {literal(name + 'x')}", True),
    ]
    if name.isascii():
        cases += [
            (f"tolower(name) eq {literal(name.lower())}", True),
            (f"toupper(name) eq {literal(name.upper())}", True),
        ]
    return cases


def _dates(_session: Session, observation: dict[str, Any]) -> list[tuple[str, bool]]:
    when = instant(observation["phenomenonTime"])
    if "/" in observation["phenomenonTime"]:
        raise Skipped("the Observation's phenomenonTime is an interval")
    stamp = when.strftime("%Y-%m-%dT%H:%M:%SZ")
    return [
        (f"year(phenomenonTime) eq {when.year}", True),
        (f"month(phenomenonTime) eq {when.month}", True),
        (f"day(phenomenonTime) eq {when.day}", True),
        (f"hour(phenomenonTime) eq {when.hour}", True),
        (f"minute(phenomenonTime) eq {when.minute}", True),
        (f"second(phenomenonTime) eq {when.second}", True),
        (f"year(phenomenonTime) eq {when.year + 1}", False),
        (
            f"phenomenonTime ge {stamp}"
            if when.microsecond == 0
            else f"phenomenonTime gt {when.year - 1}-12-31T00:00:00Z",
            True,
        ),
        ("phenomenonTime lt now()", True),
        ("phenomenonTime gt mindatetime()", True),
        ("phenomenonTime lt maxdatetime()", True),
    ]


def _math(_session: Session, observation: dict[str, Any]) -> list[tuple[str, bool]]:
    value = observation["result"]
    rounded = math.floor(value + 0.5) if value >= 0 else math.ceil(value - 0.5)
    return [
        (f"round(result) eq {rounded}", True),
        (f"floor(result) eq {math.floor(value)}", True),
        (f"ceiling(result) eq {math.ceil(value)}", True),
        (f"floor(result) eq {math.floor(value) + 1}", False),
    ]


def _point(location: dict[str, Any]) -> tuple[float, float]:
    geometry = location.get("location")
    if isinstance(geometry, dict) and geometry.get("type") == "Feature":
        geometry = geometry.get("geometry")
    if not (isinstance(geometry, dict) and geometry.get("type") == "Point"):
        raise Skipped("the Location is not a GeoJSON point")
    x, y = geometry["coordinates"][:2]
    return float(x), float(y)


def _box(x: float, y: float, size: float) -> str:
    a, b, c, d = x - size, y - size, x + size, y + size
    return f"geography'POLYGON(({a} {b}, {c} {b}, {c} {d}, {a} {d}, {a} {b}))'"


def _geo(_session: Session, location: dict[str, Any]) -> list[tuple[str, bool]]:
    x, y = _point(location)
    here = f"geography'POINT({x} {y})'"
    far = f"geography'POINT({x + 10} {y + 5})'"
    return [
        (f"geo.intersects(location, {_box(x, y, 0.01)})", True),
        (f"geo.intersects(location, {far})", False),
        (f"geo.distance(location, {here}) lt 0.000001", True),
        (f"geo.distance(location, {far}) gt 1", True),
        ("geo.length(location) eq 0", True),
    ]


def _spatial(_session: Session, location: dict[str, Any]) -> list[tuple[str, bool]]:
    x, y = _point(location)
    here = f"geography'POINT({x} {y})'"
    far = f"geography'POINT({x + 10} {y + 5})'"
    box = _box(x, y, 0.01)
    line = f"geography'LINESTRING({x - 1} {y - 1}, {x + 1} {y + 1})'"
    return [
        (f"st_equals(location, {here})", True),
        (f"st_within(location, {box})", True),
        (f"st_contains({box}, location)", True),
        (f"st_intersects(location, {box})", True),
        (f"st_disjoint(location, {far})", True),
        (f"st_disjoint(location, {here})", False),
        (f"st_touches(location, {box})", False),
        (f"st_overlaps(location, {box})", False),
        (f"st_crosses({line}, {box})", True),
        (f"st_relate(location, {box}, 'T********')", True),
    ]


_filter_group(
    "sta.functions.string",
    "String functions: substringof, startswith, endswith, length, indexof, substring, tolower, "
    "toupper, trim, concat",
    "Zeichenkettenfunktionen: substringof, startswith, endswith, length, indexof, substring, "
    "tolower, toupper, trim, concat",
    _strings,
    "Things",
    "built-in-query-functions",
)
_filter_group(
    "sta.functions.date",
    "Date functions: year, month, day, hour, minute, second, now, mindatetime, maxdatetime",
    "Datumsfunktionen: year, month, day, hour, minute, second, now, mindatetime, maxdatetime",
    _dates,
    "Observations",
    "built-in-query-functions",
)
_filter_group(
    "sta.functions.math",
    "Math functions: round, floor, ceiling",
    "Mathematische Funktionen: round, floor, ceiling",
    _math,
    "Observations",
    "built-in-query-functions",
)
_filter_group(
    "sta.functions.geo",
    "Geospatial functions: geo.intersects, geo.distance, geo.length",
    "Räumliche Funktionen: geo.intersects, geo.distance, geo.length",
    _geo,
    "Locations",
    "built-in-query-functions",
)
_filter_group(
    "sta.functions.spatial",
    "Spatial relationship functions: st_equals, st_within, st_contains, st_intersects, st_disjoint, "
    "st_touches, st_overlaps, st_crosses, st_relate",
    "Räumliche Beziehungen: st_equals, st_within, st_contains, st_intersects, st_disjoint, "
    "st_touches, st_overlaps, st_crosses, st_relate",
    _spatial,
    "Locations",
    "built-in-query-functions",
)


@check(
    "sta.query.pagination",
    "sensorthings",
    REQUEST_DATA,
    f"{REQUEST_DATA}/pagination",
    "A partial page has an @iot.nextLink to the next one; the pages do not overlap",
    "Eine unvollständige Seite hat einen @iot.nextLink zur nächsten; die Seiten überlappen nicht",
)
def pagination(session: Session) -> None:
    sample(session, "Observations")
    page = session.get_json(sta(session, "Observations"), {"$top": "2", "$count": "true", "$orderby": "id"})
    total = page.get("@iot.count")
    if not isinstance(total, int) or total <= 2:
        raise Skipped("no more than two Observations: nothing to page through")
    seen = ids(values(page))
    for _ in range(3):
        link = page.get("@iot.nextLink")
        if len(seen) >= total:
            break
        require(isinstance(link, str), f"a page of {len(seen)} of {total} Observations has no @iot.nextLink")
        page = session.get_json(link)
        more = ids(values(page))
        require(more, f"the nextLink {link} answered no Observations")
        require(not set(more) & set(seen), f"the page at {link} repeats Observations")
        seen += more


# --- create, update, delete -------------------------------------------------------------------


def _thing(name: str) -> dict[str, Any]:
    return {"name": name, "description": "made by urbantwin check", "properties": {"checker": name}}


@check(
    "sta.cud.create",
    "sensorthings",
    CUD,
    f"{CUD}/create-entity",
    "POST creates an entity: 201, with a Location header that leads to it",
    "POST legt eine Entität an: 201, mit einem Location-Header, der zu ihr führt",
    writes=True,
)
def create(session: Session) -> None:
    name = marker()
    answer = session.request("POST", sta(session, "Things"), json=_thing(name))
    expect_status(answer, 201)
    location = answer.headers.get("location")
    require(location, "the answer has no Location header")
    session.remember(location)
    require(session.get_json(location).get("name") == name, "the Location header leads to another entity")
    for set_name, body in (
        ("Sensors", {"name": name, "description": "d", "encodingType": "text/plain", "metadata": "m"}),
        ("ObservedProperties", {"name": name, "definition": f"urn:{name}", "description": "d"}),
    ):
        own(session, set_name, body)


@check(
    "sta.cud.foi",
    "sensorthings",
    CUD,
    f"{CUD}/create-entity",
    "An Observation created without FeatureOfInterest gets one from its Thing's Location",
    "Eine ohne FeatureOfInterest angelegte Beobachtung erhält eines aus dem Ort ihres Things",
    writes=True,
)
def feature_from_location(session: Session) -> None:
    ids_ = world(session)
    created = own(
        session,
        "Observations",
        {
            "result": 42.5,
            "phenomenonTime": "2020-04-01T00:00:00Z",
            "Datastream": {"@iot.id": ids_["Datastreams"]},
        },
    )
    feature = session.get_json(sta(session, f"Observations({literal(created['@iot.id'])})/FeatureOfInterest"))
    require("@iot.id" in feature, "the Observation has no FeatureOfInterest")
    geometry = feature.get("feature") or {}
    if geometry.get("type") == "Feature":
        geometry = geometry.get("geometry") or {}
    require(
        [round(c, 6) for c in geometry.get("coordinates", [])] == [round(c, 6) for c in POINT],
        f"the generated FeatureOfInterest is {feature.get('feature')!r}, not the Location",
    )


@check(
    "sta.cud.link",
    "sensorthings",
    CUD,
    f"{CUD}/link-to-existing-entities",
    "A new entity links to existing ones by @iot.id",
    "Eine neue Entität verweist über @iot.id auf bestehende",
    writes=True,
)
def link_existing(session: Session) -> None:
    ids_ = world(session)
    datastream = own(
        session,
        "Datastreams",
        {
            "name": marker(),
            "description": "linked",
            "observationType": MEASUREMENT,
            "unitOfMeasurement": {"name": "n", "symbol": "s", "definition": "d"},
            "Thing": {"@iot.id": ids_["Things"]},
            "Sensor": {"@iot.id": ids_["Sensors"]},
            "ObservedProperty": {"@iot.id": ids_["ObservedProperties"]},
        },
    )
    path = f"Datastreams({literal(datastream['@iot.id'])})"
    for relation, set_name in (
        ("Thing", "Things"),
        ("Sensor", "Sensors"),
        ("ObservedProperty", "ObservedProperties"),
    ):
        linked = session.get_json(sta(session, f"{path}/{relation}"))
        require(linked.get("@iot.id") == ids_[set_name], f"{path}/{relation} is not the one linked to")


@check(
    "sta.cud.deep-insert",
    "sensorthings",
    CUD,
    f"{CUD}/deep-insert",
    "A deep insert creates an entity with its related entities in one request",
    "Ein Deep Insert legt eine Entität mit ihren verbundenen Entitäten in einer Anfrage an",
    writes=True,
)
def deep_insert(session: Session) -> None:
    body = world_body(marker())
    thing = own(session, "Things", body)
    path = sta(session, f"Things({literal(thing['@iot.id'])})")
    expanded = session.get_json(
        path, {"$expand": "Locations,Datastreams($expand=Sensor,ObservedProperty,Observations)"}
    )
    for location in expanded.get("Locations", []):
        session.remember(location["@iot.selfLink"])
    for datastream in expanded.get("Datastreams", []):
        for relation in ("Sensor", "ObservedProperty"):
            if isinstance(datastream.get(relation), dict):
                session.remember(datastream[relation]["@iot.selfLink"])
    session.created.remove(thing["@iot.selfLink"]) if thing["@iot.selfLink"] in session.created else None
    session.remember(thing["@iot.selfLink"])  # the Thing first (its Datastreams go with it)
    require(len(expanded.get("Locations", [])) == 1, "the Thing's Location was not created")
    datastreams = expanded.get("Datastreams", [])
    require(len(datastreams) == 1, "the Thing's Datastream was not created")
    require(isinstance(datastreams[0].get("Sensor"), dict), "the Datastream's Sensor was not created")
    require(isinstance(datastreams[0].get("ObservedProperty"), dict), "the ObservedProperty was not created")
    require(
        len(datastreams[0].get("Observations", [])) == len(OBSERVATIONS), "the Observations were not created"
    )


@check(
    "sta.cud.deep-insert-status",
    "sensorthings",
    CUD,
    f"{CUD}/deep-insert-status-code",
    "A deep insert with an invalid part answers 400 and creates nothing",
    "Ein Deep Insert mit ungültigem Teil antwortet 400 und legt nichts an",
    writes=True,
)
def deep_insert_failure(session: Session) -> None:
    name = marker()
    body = world_body(name)
    del body["Datastreams"][0]["unitOfMeasurement"]
    answer = session.request("POST", sta(session, "Things"), json=body)
    made = answer.headers.get("location") or (answer.json() if answer.status_code == 201 else {}).get(
        "@iot.selfLink"
    )
    if made:
        session.remember(made)
    require(
        answer.status_code == 400, f"a Datastream without unitOfMeasurement answered {answer.status_code}"
    )
    left = filtered(session, "Things", f"name eq {literal(name)}")
    require(not left, "the failed deep insert left its Thing behind")


@check(
    "sta.cud.patch",
    "sensorthings",
    CUD,
    f"{CUD}/update-entity",
    "PATCH changes the given properties and keeps the others",
    "PATCH ändert die angegebenen Eigenschaften und behält die übrigen",
    writes=True,
)
def patch(session: Session) -> None:
    thing = own(session, "Things", _thing(marker()))
    url = thing["@iot.selfLink"]
    answer = session.request("PATCH", url, json={"description": "changed by the checker"})
    expect_status(answer, 200, 204)
    again = session.get_json(url)
    require(again.get("description") == "changed by the checker", "PATCH did not change the description")
    require(again.get("name") == thing["name"], "PATCH changed the name it was not given")


@check(
    "sta.cud.put",
    "sensorthings",
    CUD,
    f"{CUD}/update-entity-put",
    "PUT replaces an entity",
    "PUT ersetzt eine Entität",
    writes=True,
)
def put(session: Session) -> None:
    thing = own(session, "Things", _thing(marker()))
    url = thing["@iot.selfLink"]
    name = marker()
    answer = session.request("PUT", url, json={"name": name, "description": "replaced"})
    expect_status(answer, 200, 204)
    again = session.get_json(url)
    require(again.get("name") == name and again.get("description") == "replaced", "PUT did not replace")
    require(not again.get("properties"), "PUT kept the properties the new entity does not have")


@check(
    "sta.cud.json-patch",
    "sensorthings",
    CUD,
    f"{CUD}/update-entity-jsonpatch",
    "PATCH with a JSON Patch document (application/json-patch+json)",
    "PATCH mit einem JSON-Patch-Dokument (application/json-patch+json)",
    writes=True,
)
def json_patch(session: Session) -> None:
    import orjson

    thing = own(session, "Things", _thing(marker()))
    url = thing["@iot.selfLink"]
    operations = [
        {"op": "add", "path": "/properties/checked", "value": True},
        {"op": "replace", "path": "/description", "value": "patched"},
    ]
    answer = session.request(
        "PATCH",
        url,
        content=orjson.dumps(operations),
        headers={"Content-Type": "application/json-patch+json"},
    )
    expect_status(answer, 200, 204)
    again = session.get_json(url)
    require(again.get("description") == "patched", "the JSON Patch did not replace the description")
    require((again.get("properties") or {}).get("checked") is True, "the JSON Patch did not add the property")


@check(
    "sta.cud.delete",
    "sensorthings",
    CUD,
    f"{CUD}/delete-entity",
    "DELETE removes an entity, and what depends on it (a Thing's Datastreams)",
    "DELETE entfernt eine Entität und was von ihr abhängt (die Datastreams eines Things)",
    writes=True,
)
def delete(session: Session) -> None:
    thing = own(session, "Things", world_body(marker()))
    expanded = session.get_json(
        thing["@iot.selfLink"], {"$expand": "Locations,Datastreams($expand=Sensor,ObservedProperty)"}
    )
    for location in expanded["Locations"]:
        session.remember(location["@iot.selfLink"])
    for datastream in expanded["Datastreams"]:
        session.remember(datastream["Sensor"]["@iot.selfLink"])
        session.remember(datastream["ObservedProperty"]["@iot.selfLink"])
    answer = session.request("DELETE", thing["@iot.selfLink"])
    expect_status(answer, 200, 204)
    expect_status(session.get(thing["@iot.selfLink"]), 404)
    expect_status(session.get(expanded["Datastreams"][0]["@iot.selfLink"]), 404)


@check(
    "sta.cud.historical-auto",
    "sensorthings",
    CUD,
    f"{CUD}/historical-location-auto-creation",
    "A Thing's Location set or changed makes a HistoricalLocation",
    "Ein gesetzter oder geänderter Ort eines Things erzeugt eine HistoricalLocation",
    writes=True,
)
def historical_auto(session: Session) -> None:
    ids_ = world(session)
    thing = own(session, "Things", {**_thing(marker()), "Locations": [{"@iot.id": ids_["Locations"]}]})
    path = f"Things({literal(thing['@iot.id'])})/HistoricalLocations"
    first = values(session.get_json(sta(session, path)))
    require(len(first) == 1, f"a Thing created with a Location has {len(first)} HistoricalLocations, not 1")
    place = own(
        session,
        "Locations",
        {
            "name": marker(),
            "description": "second place",
            "encodingType": "application/geo+json",
            "location": {"type": "Point", "coordinates": [POINT[0] + 0.01, POINT[1]]},
        },
    )
    answer = session.request(
        "PATCH", thing["@iot.selfLink"], json={"Locations": [{"@iot.id": place["@iot.id"]}]}
    )
    expect_status(answer, 200, 204)
    second = values(session.get_json(sta(session, path)))
    require(len(second) == 2, f"after a new Location the Thing has {len(second)} HistoricalLocations, not 2")


@check(
    "sta.cud.historical-manual",
    "sensorthings",
    CUD,
    f"{CUD}/historical-location-manual-creation",
    "A client creates a HistoricalLocation of a Thing and Location",
    "Ein Client legt eine HistoricalLocation eines Things und Orts an",
    writes=True,
)
def historical_manual(session: Session) -> None:
    ids_ = world(session)
    thing = own(session, "Things", _thing(marker()))
    created = own(
        session,
        "HistoricalLocations",
        {
            "time": "2019-06-01T12:00:00Z",
            "Thing": {"@iot.id": thing["@iot.id"]},
            "Locations": [{"@iot.id": ids_["Locations"]}],
        },
    )
    require(instant(created.get("time")) == datetime(2019, 6, 1, 12, tzinfo=UTC), "the time was not kept")
    linked = session.get_json(sta(session, f"HistoricalLocations({literal(created['@iot.id'])})/Thing"))
    require(linked.get("@iot.id") == thing["@iot.id"], "the HistoricalLocation is not the Thing's")


# --- batch ------------------------------------------------------------------------------------


def _responses(answer: Any) -> dict[str, dict[str, Any]]:
    expect_status(answer, 200)
    body = json_of(answer)
    require(isinstance(body.get("responses"), list), "the batch answer has no `responses` array")
    return {str(item.get("id")): item for item in body["responses"]}


@check(
    "sta.batch.read",
    "sensorthings",
    BATCH,
    BATCH,
    "A JSON batch of reads answers each request with its own status",
    "Ein JSON-Batch von Lesezugriffen beantwortet jede Anfrage mit ihrem eigenen Status",
)
def batch_read(session: Session) -> None:
    thing = sample(session, "Things")
    answer = session.request(
        "POST",
        sta(session, "$batch"),
        json={
            "requests": [
                {"id": "found", "method": "get", "url": f"Things({literal(thing['@iot.id'])})"},
                {"id": "missing", "method": "get", "url": f"Things({missing_id(thing)})"},
            ]
        },
    )
    responses = _responses(answer)
    require(
        responses.get("found", {}).get("status") == 200, "the batch's read of an existing Thing is not 200"
    )
    require(
        responses["found"].get("body", {}).get("@iot.id") == thing["@iot.id"],
        "the batch's read answered another body",
    )
    require(
        responses.get("missing", {}).get("status") == 404, "the batch's read of a missing Thing is not 404"
    )


@check(
    "sta.batch.changeset",
    "sensorthings",
    BATCH,
    BATCH,
    "A batch's atomicity group: referenced creations succeed together, a failing one rolls back all",
    "Eine Atomaritätsgruppe im Batch: verknüpfte Anlagen gelingen gemeinsam, "
    "eine fehlerhafte nimmt alle zurück",
    writes=True,
)
def batch_changeset(session: Session) -> None:
    ids_ = world(session)
    name = marker()
    datastream = {
        "name": name,
        "description": "batch",
        "observationType": MEASUREMENT,
        "unitOfMeasurement": {"name": "n", "symbol": "s", "definition": "d"},
        "Sensor": {"@iot.id": ids_["Sensors"]},
        "ObservedProperty": {"@iot.id": ids_["ObservedProperties"]},
    }
    answer = session.request(
        "POST",
        sta(session, "$batch"),
        json={
            "requests": [
                {"id": "t", "atomicityGroup": "g", "method": "post", "url": "Things", "body": _thing(name)},
                {
                    "id": "d",
                    "atomicityGroup": "g",
                    "dependsOn": ["t"],
                    "method": "post",
                    "url": "$t/Datastreams",
                    "body": datastream,
                },
            ]
        },
    )
    responses = _responses(answer)
    for key in ("t", "d"):
        location = (responses.get(key, {}).get("headers") or {}).get("location")
        if location:
            session.remember(location)
    require(responses.get("t", {}).get("status") == 201, "the batch did not create the Thing")
    require(responses.get("d", {}).get("status") == 201, "the batch did not create the Datastream on $t")
    made = filtered(session, "Things", f"name eq {literal(name)}", **{"$expand": "Datastreams"})
    require(
        len(made) == 1 and len(made[0].get("Datastreams", [])) == 1,
        "the batch's Datastream is not the Thing's",
    )
    session.remember(made[0]["@iot.selfLink"])
    failing = marker()
    answer = session.request(
        "POST",
        sta(session, "$batch"),
        json={
            "requests": [
                {
                    "id": "a",
                    "atomicityGroup": "g",
                    "method": "post",
                    "url": "Things",
                    "body": _thing(failing),
                },
                {
                    "id": "b",
                    "atomicityGroup": "g",
                    "method": "post",
                    "url": "Things",
                    "body": {"name": failing},
                },
            ]
        },
    )
    expect_status(answer, 200)
    left = filtered(session, "Things", f"name eq {literal(failing)}")
    for item in left:
        session.remember(item["@iot.selfLink"])
    require(not left, "a failed atomicity group left a created Thing behind")


# --- dataArray --------------------------------------------------------------------------------


@check(
    "sta.dataarray.read",
    "sensorthings",
    DATA_ARRAY,
    DATA_ARRAY,
    "$resultFormat=dataArray answers Observations as components and rows, per Datastream",
    "$resultFormat=dataArray antwortet mit Beobachtungen als Komponenten und Zeilen, je Datastream",
)
def data_array_read(session: Session) -> None:
    sample(session, "Observations")
    params = {"$resultFormat": "dataArray", "$top": "5", "$select": "id,phenomenonTime,result"}
    groups = values(session.get_json(sta(session, "Observations"), params))
    require(groups, "the dataArray answer is empty although there are Observations")
    for group in groups:
        require(
            "Datastream@iot.navigationLink" in group, "a dataArray group has no Datastream@iot.navigationLink"
        )
        components: Any = group.get("components")
        require(
            isinstance(components, list) and set(components) == {"id", "phenomenonTime", "result"},
            f"the components are {components!r}, not those of $select",
        )
        rows: Any = group.get("dataArray")
        require(isinstance(rows, list) and rows, "a dataArray group has no rows")
        require(all(len(row) == len(components) for row in rows), "a row has not one value per component")
        if "dataArray@iot.count" in group:
            require(
                group["dataArray@iot.count"] == len(rows), "dataArray@iot.count is not the number of rows"
            )


@check(
    "sta.dataarray.create",
    "sensorthings",
    DATA_ARRAY,
    DATA_ARRAY,
    "CreateObservations creates the rows of a dataArray and answers their selfLinks",
    "CreateObservations legt die Zeilen eines dataArray an und antwortet mit ihren selfLinks",
    writes=True,
)
def data_array_create(session: Session) -> None:
    ids_ = world(session)
    rows = [["2020-05-01T00:00:00Z", 7.25], ["2020-05-01T00:10:00Z", 8.5]]
    answer = session.request(
        "POST",
        sta(session, "CreateObservations"),
        json=[
            {
                "Datastream": {"@iot.id": ids_["Datastreams"]},
                "components": ["phenomenonTime", "result"],
                "dataArray@iot.count": len(rows),
                "dataArray": rows,
            }
        ],
    )
    expect_status(answer, 201)
    links = json_of(answer)
    require(
        isinstance(links, list) and len(links) == len(rows), f"the answer is {links!r}, not {len(rows)} links"
    )
    for link, (_time, result) in zip(links, rows, strict=True):
        require(isinstance(link, str) and link.startswith("http"), f"{link!r} is not a selfLink")
        session.remember(link)
        require(session.get_json(link).get("result") == result, f"{link} does not hold the row's result")
