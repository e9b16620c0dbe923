"""Observation counts per Datastream, kept by triggers, for a `$count` that stays fast.

The counts are filled from the Observations there are (one grouped scan of the table, once), then
kept by the triggers of `store/observation_counts.py` in the transaction of every change.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-26 20:00:00
"""

import sqlalchemy as sa
from alembic import op

from urbantwin.store.observation_counts import RECOUNT, drop_statements, trigger_statements
from urbantwin.store.types import Id

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "observation_counts",
        sa.Column("datastream_id", Id, nullable=False),
        sa.Column("slot", sa.Integer(), nullable=False),
        sa.Column("observations", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["datastream_id"],
            ["datastreams.id"],
            name=op.f("fk_observation_counts_datastream_id"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("datastream_id", "slot", name=op.f("pk_observation_counts")),
    )
    dialect = op.get_bind().dialect.name
    op.execute(RECOUNT)
    for statement in trigger_statements(dialect):
        op.execute(statement)


def downgrade() -> None:
    for statement in drop_statements(op.get_bind().dialect.name):
        op.execute(statement)
    op.drop_table("observation_counts")
