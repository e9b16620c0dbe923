"""Scenario runs of the public-transport model (store/transit_schema.py `transit_runs`).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 05:00:00
"""

import sqlalchemy as sa
from alembic import op

from urbantwin.store.types import Json, UtcTime

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "transit_runs",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("feed_id", sa.Text(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("scenario", Json, nullable=False),
        sa.Column("collection", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("error", sa.Text()),
        sa.Column("submitted_by", sa.Text(), nullable=False),
        sa.Column("created", UtcTime(), nullable=False),
        sa.Column("finished", UtcTime()),
        sa.Column("kpis", Json),
        sa.Column("baseline", Json),
        sa.Column("parameters", Json),
        sa.Column("lines", Json),
        sa.ForeignKeyConstraint(
            ["feed_id"], ["transit_feeds.id"], name=op.f("fk_transit_runs_feed_id"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_transit_runs")),
    )
    op.create_index("ix_transit_runs_feed", "transit_runs", ["feed_id"])


def downgrade() -> None:
    op.drop_table("transit_runs")
