"""Departures per stop and hour of imported GTFS feeds, and a feed's title (store/transit_schema.py).

Feeds imported before keep their rows but have no departures yet: their digest is cleared, so the
next `urbantwin import gtfs` of the same file imports them again (with their departures).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 06:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("transit_feeds", sa.Column("title", sa.Text()))
    op.create_table(
        "transit_stop_departures",
        sa.Column("feed_id", sa.Text(), nullable=False),
        sa.Column("stop_id", sa.Text(), nullable=False),
        sa.Column("route_id", sa.Text(), nullable=False),
        sa.Column("service_id", sa.Text(), nullable=False),
        sa.Column("hour", sa.Integer(), nullable=False),
        sa.Column("station_id", sa.Text()),
        sa.Column("departures", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["feed_id"],
            ["transit_feeds.id"],
            name=op.f("fk_transit_stop_departures_feed_id"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "feed_id", "stop_id", "route_id", "service_id", "hour", name=op.f("pk_transit_stop_departures")
        ),
    )
    op.create_index(
        "ix_transit_stop_departures_station", "transit_stop_departures", ["feed_id", "station_id"]
    )
    op.execute(sa.text("UPDATE transit_feeds SET digest = ''"))


def downgrade() -> None:
    op.drop_table("transit_stop_departures")
    with op.batch_alter_table("transit_feeds") as batch:
        batch.drop_column("title")
