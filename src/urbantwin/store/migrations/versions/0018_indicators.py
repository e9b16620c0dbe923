"""Goals and indicators: the registry and the yearly values (store/indicators_schema.py).

Revision ID: 0018
Revises: 0016
Create Date: 2026-12-07 16:00:00
"""

import sqlalchemy as sa
from alembic import op

from urbantwin.store.types import Json, UtcTime

revision = "0018"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "indicators",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("dataset_id", sa.Text(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("document", Json, nullable=False),
        sa.Column("stamp", sa.Text()),
        sa.Column("notes", Json),
        sa.Column("computed", UtcTime()),
        sa.Column("updated", UtcTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_indicators")),
    )
    op.create_table(
        "indicator_values",
        sa.Column("indicator_id", sa.Text(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("value", sa.Double(), nullable=False),
        sa.Column("origin", sa.Text(), nullable=False),
        sa.Column("recorded_by", sa.Text(), nullable=False),
        sa.Column("note", sa.Text()),
        sa.Column("recorded", UtcTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["indicator_id"],
            ["indicators.id"],
            name=op.f("fk_indicator_values_indicator_id"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("indicator_id", "year", name=op.f("pk_indicator_values")),
    )


def downgrade() -> None:
    op.drop_table("indicator_values")
    op.drop_table("indicators")
