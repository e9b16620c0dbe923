"""The eight entity types of SensorThings API 1.1 Sensing, as data.

One description per entity type (its properties, their kinds and columns, its relations and how
they are stored) drives parsing, the query compiler, serialisation, create/update and the OpenAPI
document: adding a property is one edit here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from sqlalchemy import Table

from urbantwin.sensorthings.computed import datastream_times
from urbantwin.store import schema

#: What a property holds, which decides how it is parsed, compared and written out.
Kind = Literal["id", "text", "json", "geojson", "time", "interval", "result", "geometry"]


@dataclass(frozen=True)
class Property:
    name: str
    kind: Kind
    #: The column (for intervals and results, the first of several; see `columns`).
    column: str
    required: bool = False
    #: False for properties the server computes (a Datastream's phenomenonTime, observedArea).
    writable: bool = True

    @property
    def columns(self) -> tuple[str, ...]:
        if self.kind == "interval":
            return (self.column + "_start", self.column + "_end")
        if self.kind == "result":
            return ("result_type", "result_number", "result_string", "result_json")
        if self.kind == "geojson":
            return (self.column,)
        return (self.column,)


@dataclass(frozen=True)
class Relation:
    name: str
    target: str
    many: bool
    #: To-one: the foreign key column on this entity's table.
    fk: str | None = None
    #: To-many through a foreign key on the target's table that points back here.
    reverse_fk: str | None = None
    #: Many-to-many: the link table and its columns for this side and the target side.
    link: Table | None = None
    link_self: str | None = None
    link_target: str | None = None
    #: A to-one relation that must be given when the entity is created.
    required: bool = False


@dataclass(frozen=True)
class EntityType:
    name: str
    set_name: str
    table: Table
    properties: dict[str, Property]
    relations: dict[str, Relation] = field(default_factory=dict)
    #: The property whose geometry spatial filters use (the GeoJSON of a Location/FeatureOfInterest).
    geometry_column: str | None = None
    #: Columns computed when read: a function of the table (or alias) giving named expressions.
    computed: Callable[[Any], dict[str, Any]] | None = None

    def columns(self, table: Any) -> list[Any]:
        """The columns a read selects: the stored ones but indexed geometry copies, then computed ones."""
        stored = [c for c in table.c if c.name != "geom"]
        if self.computed is None:
            return stored
        return stored + [expr.label(name) for name, expr in self.computed(table).items()]

    def property(self, name: str) -> Property | None:
        if name in ("id", "@iot.id"):
            return ID
        return self.properties.get(name)


ID = Property("id", "id", "id", writable=False)


def _props(*items: Property) -> dict[str, Property]:
    return {p.name: p for p in items}


_NAME = Property("name", "text", "name", required=True)
_DESCRIPTION = Property("description", "text", "description", required=True)
_PROPERTIES = Property("properties", "json", "properties")
_ENCODING = Property("encodingType", "text", "encoding_type", required=True)

THING = EntityType(
    "Thing",
    "Things",
    schema.things,
    _props(_NAME, _DESCRIPTION, _PROPERTIES),
    {
        "Locations": Relation(
            "Locations",
            "Location",
            True,
            link=schema.thing_locations,
            link_self="thing_id",
            link_target="location_id",
        ),
        "HistoricalLocations": Relation(
            "HistoricalLocations", "HistoricalLocation", True, reverse_fk="thing_id"
        ),
        "Datastreams": Relation("Datastreams", "Datastream", True, reverse_fk="thing_id"),
    },
)

LOCATION = EntityType(
    "Location",
    "Locations",
    schema.locations,
    _props(
        _NAME,
        _DESCRIPTION,
        _ENCODING,
        Property("location", "geojson", "location", required=True),
        _PROPERTIES,
    ),
    {
        "Things": Relation(
            "Things",
            "Thing",
            True,
            link=schema.thing_locations,
            link_self="location_id",
            link_target="thing_id",
        ),
        "HistoricalLocations": Relation(
            "HistoricalLocations",
            "HistoricalLocation",
            True,
            link=schema.location_historical_locations,
            link_self="location_id",
            link_target="historical_location_id",
        ),
    },
    geometry_column="geom",
)

HISTORICAL_LOCATION = EntityType(
    "HistoricalLocation",
    "HistoricalLocations",
    schema.historical_locations,
    _props(Property("time", "time", "time", required=True)),
    {
        "Thing": Relation("Thing", "Thing", False, fk="thing_id", required=True),
        "Locations": Relation(
            "Locations",
            "Location",
            True,
            link=schema.location_historical_locations,
            link_self="historical_location_id",
            link_target="location_id",
        ),
    },
)

SENSOR = EntityType(
    "Sensor",
    "Sensors",
    schema.sensors,
    _props(
        _NAME,
        _DESCRIPTION,
        _ENCODING,
        Property("metadata", "text", "metadata", required=True),
        _PROPERTIES,
    ),
    {"Datastreams": Relation("Datastreams", "Datastream", True, reverse_fk="sensor_id")},
)

OBSERVED_PROPERTY = EntityType(
    "ObservedProperty",
    "ObservedProperties",
    schema.observed_properties,
    _props(
        _NAME,
        Property("definition", "text", "definition", required=True),
        _DESCRIPTION,
        _PROPERTIES,
    ),
    {"Datastreams": Relation("Datastreams", "Datastream", True, reverse_fk="observed_property_id")},
)

DATASTREAM = EntityType(
    "Datastream",
    "Datastreams",
    schema.datastreams,
    _props(
        _NAME,
        _DESCRIPTION,
        Property("observationType", "text", "observation_type", required=True),
        Property("unitOfMeasurement", "json", "unit_of_measurement", required=True),
        Property("observedArea", "geometry", "observed_area", writable=False),
        Property("phenomenonTime", "interval", "phenomenon_time", writable=False),
        Property("resultTime", "interval", "result_time", writable=False),
        _PROPERTIES,
    ),
    {
        "Thing": Relation("Thing", "Thing", False, fk="thing_id", required=True),
        "Sensor": Relation("Sensor", "Sensor", False, fk="sensor_id", required=True),
        "ObservedProperty": Relation(
            "ObservedProperty", "ObservedProperty", False, fk="observed_property_id", required=True
        ),
        "Observations": Relation("Observations", "Observation", True, reverse_fk="datastream_id"),
    },
    geometry_column="observed_area",
    computed=datastream_times,
)

FEATURE_OF_INTEREST = EntityType(
    "FeatureOfInterest",
    "FeaturesOfInterest",
    schema.features_of_interest,
    _props(
        _NAME,
        _DESCRIPTION,
        _ENCODING,
        Property("feature", "geojson", "feature", required=True),
        _PROPERTIES,
    ),
    {"Observations": Relation("Observations", "Observation", True, reverse_fk="feature_of_interest_id")},
    geometry_column="geom",
)

OBSERVATION = EntityType(
    "Observation",
    "Observations",
    schema.observations,
    _props(
        # phenomenonTime is an instant or an interval; stored as start (+ end for an interval).
        Property("phenomenonTime", "interval", "phenomenon_time"),
        Property("resultTime", "time", "result_time"),
        Property("result", "result", "result", required=True),
        Property("resultQuality", "json", "result_quality"),
        Property("validTime", "interval", "valid_time"),
        Property("parameters", "json", "parameters"),
    ),
    {
        "Datastream": Relation("Datastream", "Datastream", False, fk="datastream_id", required=True),
        "FeatureOfInterest": Relation(
            "FeatureOfInterest", "FeatureOfInterest", False, fk="feature_of_interest_id"
        ),
    },
)

ENTITY_TYPES: dict[str, EntityType] = {
    e.name: e
    for e in (
        THING,
        LOCATION,
        HISTORICAL_LOCATION,
        SENSOR,
        OBSERVED_PROPERTY,
        DATASTREAM,
        FEATURE_OF_INTEREST,
        OBSERVATION,
    )
}
BY_SET_NAME: dict[str, EntityType] = {e.set_name: e for e in ENTITY_TYPES.values()}


def inverse(entity: EntityType, relation: Relation) -> Relation | None:
    """The relation of the target that points back along `relation` (e.g. Datastream.Thing for
    Thing.Datastreams), used to link a new entity to its parent in a path or deep insert."""
    target = ENTITY_TYPES[relation.target]
    for candidate in target.relations.values():
        if candidate.target != entity.name:
            continue
        if relation.reverse_fk and candidate.fk == relation.reverse_fk:
            return candidate
        if relation.fk and candidate.reverse_fk == relation.fk:
            return candidate
        if relation.link is not None and candidate.link is relation.link:
            return candidate
    return None
