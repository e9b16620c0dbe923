"""Hourly rollups of Observations for the time-series extension, and their watermarks.

The tables start empty: rollups are filled lazily by the first aggregate query of each Datastream
(store/rollups.py), so this migration costs nothing on a large store.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26 18:00:00
"""

import sqlalchemy as sa
from alembic import op

from urbantwin.store.types import Id, Json, UtcTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "observation_rollups",
        sa.Column("datastream_id", Id, nullable=False),
        sa.Column("hour_start", UtcTime(), nullable=False),
        sa.Column("all_count", sa.BigInteger(), nullable=False),
        sa.Column("value_count", sa.BigInteger(), nullable=False),
        sa.Column("value_sum", sa.Double(), nullable=False),
        sa.Column("value_min", sa.Double(), nullable=True),
        sa.Column("value_max", sa.Double(), nullable=True),
        sa.ForeignKeyConstraint(
            ["datastream_id"],
            ["datastreams.id"],
            name=op.f("fk_observation_rollups_datastream_id"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("datastream_id", "hour_start", name=op.f("pk_observation_rollups")),
    )
    op.create_table(
        "observation_rollup_state",
        sa.Column("datastream_id", Id, nullable=False),
        sa.Column("merged_through", sa.BigInteger(), nullable=False),
        sa.Column("pending_through", sa.BigInteger(), nullable=True),
        sa.Column("pending_transactions", Json, nullable=True),
        sa.ForeignKeyConstraint(
            ["datastream_id"],
            ["datastreams.id"],
            name=op.f("fk_observation_rollup_state_datastream_id"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("datastream_id", name=op.f("pk_observation_rollup_state")),
    )


def downgrade() -> None:
    op.drop_table("observation_rollup_state")
    op.drop_table("observation_rollups")
