"""The tables of the store, in SQLAlchemy Core, shared by both backends.

Decisions made once here (see DESIGN.md): ids are 64-bit integers; times are `UtcTime`; a time
interval is two columns (`*_start`, `*_end`, the end NULL for an instant); an Observation keeps its
result as JSON and, when it is a number or a string, also in a typed column that filters and
aggregates use; geometries are `Geometry` next to the GeoJSON document the client sent, so a
Location reads back exactly as it was written.
"""

from __future__ import annotations

from sqlalchemy import (
    Column,
    Double,
    ForeignKey,
    Index,
    MetaData,
    SmallInteger,
    Table,
    Text,
    func,
    text,
)

from urbantwin.store.types import Geometry, Id, Json, UtcTime

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s",
        "pk": "pk_%(table_name)s",
    }
)


def _id() -> Column:
    return Column("id", Id, primary_key=True, autoincrement=True)


def _dataset() -> Column:
    """The catalogue dataset an entity belongs to, which decides who may see and change it.

    Observations belong to their Datastream's dataset and HistoricalLocations to their Thing's, so
    only the entities that can stand alone carry the column. NULL (rows from before datasets
    existed, until `db upgrade` assigns them) is visible to administrators only: access fails closed.
    """
    return Column("dataset_id", Text, ForeignKey("datasets.id"), index=True)


things = Table(
    "things",
    metadata,
    _id(),
    _dataset(),
    Column("name", Text, nullable=False),
    Column("description", Text, nullable=False),
    Column("properties", Json),
    Index(None, "name"),
)

locations = Table(
    "locations",
    metadata,
    _id(),
    _dataset(),
    Column("name", Text, nullable=False),
    Column("description", Text, nullable=False),
    Column("encoding_type", Text, nullable=False),
    Column("location", Json, nullable=False),
    Column("geom", Geometry()),
    Column("properties", Json),
    Index(None, "name"),
)

thing_locations = Table(
    "thing_locations",
    metadata,
    Column("thing_id", Id, ForeignKey("things.id", ondelete="CASCADE"), primary_key=True),
    Column("location_id", Id, ForeignKey("locations.id", ondelete="CASCADE"), primary_key=True),
    Index(None, "location_id"),
)

historical_locations = Table(
    "historical_locations",
    metadata,
    _id(),
    Column("time", UtcTime, nullable=False),
    Column("thing_id", Id, ForeignKey("things.id", ondelete="CASCADE"), nullable=False),
    Index(None, "thing_id", "time"),
)

location_historical_locations = Table(
    "location_historical_locations",
    metadata,
    Column("location_id", Id, ForeignKey("locations.id", ondelete="CASCADE"), primary_key=True),
    Column(
        "historical_location_id",
        Id,
        ForeignKey("historical_locations.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Index(None, "historical_location_id"),
)

sensors = Table(
    "sensors",
    metadata,
    _id(),
    _dataset(),
    Column("name", Text, nullable=False),
    Column("description", Text, nullable=False),
    Column("encoding_type", Text, nullable=False),
    Column("metadata", Text, nullable=False),
    Column("properties", Json),
    Index(None, "name"),
)

observed_properties = Table(
    "observed_properties",
    metadata,
    _id(),
    _dataset(),
    Column("name", Text, nullable=False),
    Column("definition", Text, nullable=False),
    Column("description", Text, nullable=False),
    Column("properties", Json),
    Index(None, "name"),
)

datastreams = Table(
    "datastreams",
    metadata,
    _id(),
    _dataset(),
    Column("name", Text, nullable=False),
    Column("description", Text, nullable=False),
    Column("observation_type", Text, nullable=False),
    Column("unit_of_measurement", Json, nullable=False),
    Column("observed_area", Geometry()),
    # phenomenonTime and resultTime of a Datastream are computed from its Observations when read
    # (through the indexes below), not stored: a stored summary would make every new Observation
    # update, and lock, its Datastream's row.
    Column("properties", Json),
    Column("thing_id", Id, ForeignKey("things.id", ondelete="CASCADE"), nullable=False),
    Column("sensor_id", Id, ForeignKey("sensors.id", ondelete="CASCADE"), nullable=False),
    Column(
        "observed_property_id",
        Id,
        ForeignKey("observed_properties.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Index(None, "thing_id"),
    Index(None, "sensor_id"),
    Index(None, "observed_property_id"),
    Index(None, "name"),
)

features_of_interest = Table(
    "features_of_interest",
    metadata,
    _id(),
    _dataset(),
    Column("name", Text, nullable=False),
    Column("description", Text, nullable=False),
    Column("encoding_type", Text, nullable=False),
    Column("feature", Json, nullable=False),
    Column("geom", Geometry()),
    Column("properties", Json),
    #: The Location this feature was generated from (automatic FeatureOfInterest), if any.
    Column("source_location_id", Id, ForeignKey("locations.id", ondelete="SET NULL")),
    Index(None, "source_location_id"),
)

#: How an Observation's result is held: which typed column carries it. Numbers (floats, and integers
#: that a double holds exactly) and booleans (as 0/1) live in `result_number`, strings in
#: `result_string`, anything else (objects, arrays, huge integers) in `result_json`.
RESULT_NUMBER, RESULT_STRING, RESULT_BOOLEAN, RESULT_JSON, RESULT_NULL, RESULT_INTEGER = 0, 1, 2, 3, 4, 5

observations = Table(
    "observations",
    metadata,
    _id(),
    Column("phenomenon_time_start", UtcTime, nullable=False),
    Column("phenomenon_time_end", UtcTime),
    Column("result_time", UtcTime),
    Column("result_type", SmallInteger, nullable=False),
    Column("result_number", Double),
    Column("result_string", Text),
    Column("result_json", Json),
    Column("result_quality", Json),
    Column("valid_time_start", UtcTime),
    Column("valid_time_end", UtcTime),
    Column("parameters", Json),
    Column("datastream_id", Id, ForeignKey("datastreams.id", ondelete="CASCADE"), nullable=False),
    Column(
        "feature_of_interest_id",
        Id,
        ForeignKey("features_of_interest.id", ondelete="CASCADE"),
        nullable=False,
    ),
    # The hot query: a Datastream's observations in time order, newest first or in a range.
    Index("ix_observations_datastream_time", "datastream_id", "phenomenon_time_start", "id"),
    # The end of a Datastream's phenomenonTime and its resultTime, read as max/min per Datastream.
    Index(
        "ix_observations_datastream_time_end",
        "datastream_id",
        func.coalesce(text("phenomenon_time_end"), text("phenomenon_time_start")),
    ),
    Index("ix_observations_datastream_result_time", "datastream_id", "result_time"),
    Index(None, "feature_of_interest_id"),
)

ENTITY_TABLES = (
    things,
    locations,
    historical_locations,
    sensors,
    observed_properties,
    datastreams,
    features_of_interest,
    observations,
)

# The city model's tables share this metadata (imported last: the module needs `metadata`).
from urbantwin.store import (  # noqa: E402, F401
    access_schema,
    energy_schema,
    features_schema,
    federation_schema,
    indicators_schema,
    infrastructure_schema,
    ingest_marks,
    observation_counts,
    participation_schema,
    policy_version,
    timeseries_schema,
    transit_schema,
)
