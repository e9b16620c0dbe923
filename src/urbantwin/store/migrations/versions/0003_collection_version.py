"""A version counter per feature collection, bumped by every write (keys the tile cache).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 15:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("collections", sa.Column("version", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("collections") as batch:
        batch.drop_column("version")
