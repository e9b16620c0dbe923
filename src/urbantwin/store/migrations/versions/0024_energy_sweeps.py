"""Energy sweeps: many runs fanned out on Dask (store/energy_schema.py: `energy_sweeps`, and the
sweep each run belongs to, `energy_runs.sweep_id`).

Revision ID: 0024
Revises: 0021
Create Date: 2026-12-07 19:00:00
"""

import sqlalchemy as sa
from alembic import op

from urbantwin.store.types import Json, UtcTime

revision = "0024"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "energy_sweeps",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("request", Json, nullable=False),
        sa.Column("submitted_by", sa.Text(), nullable=False),
        sa.Column("created", UtcTime(), nullable=False),
        sa.Column("started", UtcTime(), nullable=True),
        sa.Column("finished", UtcTime(), nullable=True),
        sa.Column("heartbeat", UtcTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_energy_sweeps")),
    )
    op.create_index("ix_energy_sweeps_status", "energy_sweeps", ["status"])
    op.add_column("energy_runs", sa.Column("sweep_id", sa.Text(), nullable=True))
    op.create_index("ix_energy_runs_sweep_id", "energy_runs", ["sweep_id"])


def downgrade() -> None:
    op.drop_index("ix_energy_runs_sweep_id", table_name="energy_runs")
    with op.batch_alter_table("energy_runs") as batch:
        batch.drop_column("sweep_id")
    op.drop_index("ix_energy_sweeps_status", table_name="energy_sweeps")
    op.drop_table("energy_sweeps")
