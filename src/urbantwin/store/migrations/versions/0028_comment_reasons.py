"""A declined comment keeps its public reason (store/participation_schema.py:
`contribution_comments.reason`), as declined ideas and contributions do.

Revision ID: 0028
Revises: 0024
Create Date: 2026-12-07 22:15:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0028"
down_revision = "0024"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("contribution_comments", sa.Column("reason", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("contribution_comments") as batch:
        batch.drop_column("reason")
