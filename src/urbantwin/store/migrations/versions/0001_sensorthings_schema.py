"""The SensorThings schema: the eight entity types, their links, indexes and spatial indexes.

Revision ID: 0001
Revises:
Create Date: 2026-11-26 12:30:55.514900
"""

import sqlalchemy as sa
from alembic import op

from urbantwin.store.spatial import sqlite_rtree_ddl
from urbantwin.store.types import Geometry, Id, Json, UtcTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

#: The spatially indexed tables of this revision (frozen: later revisions add their own).
SPATIAL_TABLES = {"locations": "geom", "features_of_interest": "geom", "datastreams": "observed_area"}


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    op.create_table(
        "locations",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("encoding_type", sa.Text(), nullable=False),
        sa.Column("location", Json, nullable=False),
        sa.Column("geom", Geometry(), nullable=True),
        sa.Column("properties", Json, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_locations")),
    )
    with op.batch_alter_table("locations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_locations_name"), ["name"], unique=False)

    op.create_table(
        "observed_properties",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("definition", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("properties", Json, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_observed_properties")),
    )
    with op.batch_alter_table("observed_properties", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_observed_properties_name"), ["name"], unique=False)

    op.create_table(
        "sensors",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("encoding_type", sa.Text(), nullable=False),
        sa.Column("metadata", sa.Text(), nullable=False),
        sa.Column("properties", Json, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sensors")),
    )
    with op.batch_alter_table("sensors", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sensors_name"), ["name"], unique=False)

    op.create_table(
        "things",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("properties", Json, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_things")),
    )
    with op.batch_alter_table("things", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_things_name"), ["name"], unique=False)

    op.create_table(
        "datastreams",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("observation_type", sa.Text(), nullable=False),
        sa.Column("unit_of_measurement", Json, nullable=False),
        sa.Column("observed_area", Geometry(), nullable=True),
        sa.Column("properties", Json, nullable=True),
        sa.Column("thing_id", Id, nullable=False),
        sa.Column("sensor_id", Id, nullable=False),
        sa.Column("observed_property_id", Id, nullable=False),
        sa.ForeignKeyConstraint(
            ["observed_property_id"],
            ["observed_properties.id"],
            name=op.f("fk_datastreams_observed_property_id"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["sensor_id"], ["sensors.id"], name=op.f("fk_datastreams_sensor_id"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["thing_id"], ["things.id"], name=op.f("fk_datastreams_thing_id"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_datastreams")),
    )
    with op.batch_alter_table("datastreams", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_datastreams_name"), ["name"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_datastreams_observed_property_id"), ["observed_property_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_datastreams_sensor_id"), ["sensor_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_datastreams_thing_id"), ["thing_id"], unique=False)

    op.create_table(
        "features_of_interest",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("encoding_type", sa.Text(), nullable=False),
        sa.Column("feature", Json, nullable=False),
        sa.Column("geom", Geometry(), nullable=True),
        sa.Column("properties", Json, nullable=True),
        sa.Column("source_location_id", Id, nullable=True),
        sa.ForeignKeyConstraint(
            ["source_location_id"],
            ["locations.id"],
            name=op.f("fk_features_of_interest_source_location_id"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_features_of_interest")),
    )
    with op.batch_alter_table("features_of_interest", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_features_of_interest_source_location_id"), ["source_location_id"], unique=False
        )

    op.create_table(
        "historical_locations",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("time", UtcTime(), nullable=False),
        sa.Column("thing_id", Id, nullable=False),
        sa.ForeignKeyConstraint(
            ["thing_id"], ["things.id"], name=op.f("fk_historical_locations_thing_id"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_historical_locations")),
    )
    with op.batch_alter_table("historical_locations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_historical_locations_thing_id_time"), ["thing_id", "time"], unique=False
        )

    op.create_table(
        "thing_locations",
        sa.Column("thing_id", Id, nullable=False),
        sa.Column("location_id", Id, nullable=False),
        sa.ForeignKeyConstraint(
            ["location_id"], ["locations.id"], name=op.f("fk_thing_locations_location_id"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["thing_id"], ["things.id"], name=op.f("fk_thing_locations_thing_id"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("thing_id", "location_id", name=op.f("pk_thing_locations")),
    )
    with op.batch_alter_table("thing_locations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_thing_locations_location_id"), ["location_id"], unique=False)

    op.create_table(
        "location_historical_locations",
        sa.Column("location_id", Id, nullable=False),
        sa.Column("historical_location_id", Id, nullable=False),
        sa.ForeignKeyConstraint(
            ["historical_location_id"],
            ["historical_locations.id"],
            name=op.f("fk_location_historical_locations_historical_location_id"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["location_id"],
            ["locations.id"],
            name=op.f("fk_location_historical_locations_location_id"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "location_id", "historical_location_id", name=op.f("pk_location_historical_locations")
        ),
    )
    with op.batch_alter_table("location_historical_locations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_location_historical_locations_historical_location_id"),
            ["historical_location_id"],
            unique=False,
        )

    op.create_table(
        "observations",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("phenomenon_time_start", UtcTime(), nullable=False),
        sa.Column("phenomenon_time_end", UtcTime(), nullable=True),
        sa.Column("result_time", UtcTime(), nullable=True),
        sa.Column("result_type", sa.SmallInteger(), nullable=False),
        sa.Column("result_number", sa.Double(), nullable=True),
        sa.Column("result_string", sa.Text(), nullable=True),
        sa.Column("result_json", Json, nullable=True),
        sa.Column("result_quality", Json, nullable=True),
        sa.Column("valid_time_start", UtcTime(), nullable=True),
        sa.Column("valid_time_end", UtcTime(), nullable=True),
        sa.Column("parameters", Json, nullable=True),
        sa.Column("datastream_id", Id, nullable=False),
        sa.Column("feature_of_interest_id", Id, nullable=False),
        sa.ForeignKeyConstraint(
            ["datastream_id"],
            ["datastreams.id"],
            name=op.f("fk_observations_datastream_id"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["feature_of_interest_id"],
            ["features_of_interest.id"],
            name=op.f("fk_observations_feature_of_interest_id"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_observations")),
    )
    with op.batch_alter_table("observations", schema=None) as batch_op:
        batch_op.create_index(
            "ix_observations_datastream_time", ["datastream_id", "phenomenon_time_start", "id"], unique=False
        )
        batch_op.create_index(
            "ix_observations_datastream_time_end",
            ["datastream_id", sa.text("coalesce(phenomenon_time_end, phenomenon_time_start)")],
            unique=False,
        )
        batch_op.create_index(
            "ix_observations_datastream_result_time", ["datastream_id", "result_time"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_observations_feature_of_interest_id"), ["feature_of_interest_id"], unique=False
        )

    if dialect == "postgresql":
        for table, column in SPATIAL_TABLES.items():
            op.execute(f"CREATE INDEX ix_{table}_{column}_gist ON {table} USING gist ({column})")
    else:
        for table, column in SPATIAL_TABLES.items():
            for statement in sqlite_rtree_ddl(table, column):
                op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for table in SPATIAL_TABLES:
            op.execute(f"DROP TABLE IF EXISTS {table}_rtree")
    with op.batch_alter_table("observations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_observations_feature_of_interest_id"))
        batch_op.drop_index("ix_observations_datastream_time")
        batch_op.drop_index("ix_observations_datastream_time_end")
        batch_op.drop_index("ix_observations_datastream_result_time")

    op.drop_table("observations")
    with op.batch_alter_table("location_historical_locations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_location_historical_locations_historical_location_id"))

    op.drop_table("location_historical_locations")
    with op.batch_alter_table("thing_locations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_thing_locations_location_id"))

    op.drop_table("thing_locations")
    with op.batch_alter_table("historical_locations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_historical_locations_thing_id_time"))

    op.drop_table("historical_locations")
    with op.batch_alter_table("features_of_interest", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_features_of_interest_source_location_id"))

    op.drop_table("features_of_interest")
    with op.batch_alter_table("datastreams", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_datastreams_thing_id"))
        batch_op.drop_index(batch_op.f("ix_datastreams_sensor_id"))
        batch_op.drop_index(batch_op.f("ix_datastreams_observed_property_id"))
        batch_op.drop_index(batch_op.f("ix_datastreams_name"))

    op.drop_table("datastreams")
    with op.batch_alter_table("things", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_things_name"))

    op.drop_table("things")
    with op.batch_alter_table("sensors", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sensors_name"))

    op.drop_table("sensors")
    with op.batch_alter_table("observed_properties", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_observed_properties_name"))

    op.drop_table("observed_properties")
    with op.batch_alter_table("locations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_locations_name"))

    op.drop_table("locations")
