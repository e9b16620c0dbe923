"""The city's profile, one row written by `urbantwin city init` (store/city.py).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 04:00:00
"""

import sqlalchemy as sa
from alembic import op

from urbantwin.store.types import Json, UtcTime

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "city_profile",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("document", Json, nullable=False),
        sa.Column("updated", UtcTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_city_profile")),
    )


def downgrade() -> None:
    op.drop_table("city_profile")
