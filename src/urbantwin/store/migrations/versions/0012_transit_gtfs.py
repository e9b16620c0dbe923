"""Imported GTFS feeds: feeds, routes, trips (distance, departures), service days (store/transit_schema.py).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 05:00:00
"""

import sqlalchemy as sa
from alembic import op

from urbantwin.store.types import Json, UtcTime

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def _feed_key() -> sa.Column:
    return sa.Column("feed_id", sa.Text(), nullable=False)


def _to_feed(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["feed_id"], ["transit_feeds.id"], name=op.f(f"fk_{table}_feed_id"), ondelete="CASCADE"
    )


def upgrade() -> None:
    op.create_table(
        "transit_feeds",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("digest", sa.Text(), nullable=False),
        sa.Column("version", sa.Text()),
        sa.Column("source", sa.Text()),
        sa.Column("licence", sa.Text()),
        sa.Column("detour_factor", sa.Double(), nullable=False),
        sa.Column("distance_unit", sa.Text()),
        sa.Column("imported", UtcTime(), nullable=False),
        sa.Column("summary", Json, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_transit_feeds")),
    )
    op.create_table(
        "transit_routes",
        _feed_key(),
        sa.Column("route_id", sa.Text(), nullable=False),
        sa.Column("short_name", sa.Text(), nullable=False),
        sa.Column("long_name", sa.Text(), nullable=False),
        sa.Column("route_type", sa.Integer(), nullable=False),
        sa.Column("mode", sa.Text(), nullable=False),
        sa.Column("color", sa.Text()),
        sa.PrimaryKeyConstraint("feed_id", "route_id", name=op.f("pk_transit_routes")),
        _to_feed("transit_routes"),
    )
    op.create_table(
        "transit_trips",
        _feed_key(),
        sa.Column("trip_id", sa.Text(), nullable=False),
        sa.Column("route_id", sa.Text(), nullable=False),
        sa.Column("service_id", sa.Text(), nullable=False),
        sa.Column("direction_id", sa.Integer()),
        sa.Column("block_id", sa.Text()),
        sa.Column("shape_id", sa.Text()),
        sa.Column("stops", sa.Integer(), nullable=False),
        sa.Column("distance_km", sa.Double(), nullable=False),
        sa.Column("distance_method", sa.Text(), nullable=False),
        sa.Column("first_departure", sa.Integer(), nullable=False),
        sa.Column("last_arrival", sa.Integer(), nullable=False),
        sa.Column("runs", sa.Integer(), nullable=False),
        sa.Column("starts", Json),
        sa.PrimaryKeyConstraint("feed_id", "trip_id", name=op.f("pk_transit_trips")),
        _to_feed("transit_trips"),
    )
    op.create_index("ix_transit_trips_service", "transit_trips", ["feed_id", "service_id"])
    op.create_index("ix_transit_trips_route", "transit_trips", ["feed_id", "route_id"])
    op.create_table(
        "transit_service_days",
        _feed_key(),
        sa.Column("service_id", sa.Text(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("feed_id", "service_id", "day", name=op.f("pk_transit_service_days")),
        _to_feed("transit_service_days"),
    )


def downgrade() -> None:
    op.drop_table("transit_service_days")
    op.drop_index("ix_transit_trips_route", table_name="transit_trips")
    op.drop_index("ix_transit_trips_service", table_name="transit_trips")
    op.drop_table("transit_trips")
    op.drop_table("transit_routes")
    op.drop_table("transit_feeds")
