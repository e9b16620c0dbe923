"""Energy plans: the target-seeking planner run through the run queue (store/energy_schema.py:
`energy_runs.kind`, `run` or `plan`, and `energy_runs.plan`, a plan's request and summary).

Revision ID: 0031
Revises: 0030
Create Date: 2026-12-07 22:00:00
"""

import sqlalchemy as sa
from alembic import op

from urbantwin.store.types import Json

revision = "0031"
down_revision = "0030"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("energy_runs", sa.Column("kind", sa.Text(), nullable=False, server_default="run"))
    op.add_column("energy_runs", sa.Column("plan", Json, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("energy_runs") as batch:
        batch.drop_column("plan")
        batch.drop_column("kind")
