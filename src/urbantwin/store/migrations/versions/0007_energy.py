"""Stored runs of the energy quarter (status, progress, KPIs, profiles) and their 15-minute series.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27 10:00:00
"""

import sqlalchemy as sa
from alembic import op

from urbantwin.store.types import Json, UtcTime

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "energy_runs",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("scenario", sa.Text(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("strategy", sa.Text(), nullable=False),
        sa.Column("overrides", Json, nullable=False),
        sa.Column("collection", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("progress", sa.Double(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("submitted_by", sa.Text(), nullable=False),
        sa.Column("created", UtcTime(), nullable=False),
        sa.Column("started", UtcTime(), nullable=True),
        sa.Column("finished", UtcTime(), nullable=True),
        sa.Column("heartbeat", UtcTime(), nullable=False),
        sa.Column("kpis", Json, nullable=True),
        sa.Column("parameters", Json, nullable=True),
        sa.Column("profiles", Json, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_energy_runs")),
    )
    op.create_index("ix_energy_runs_status", "energy_runs", ["status"])
    op.create_table(
        "energy_run_series",
        sa.Column("run_id", sa.Text(), nullable=False),
        sa.Column("start", UtcTime(), nullable=False),
        sa.Column("steps", sa.Integer(), nullable=False),
        sa.Column("flows", Json, nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"], ["energy_runs.id"], name=op.f("fk_energy_run_series_run_id"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("run_id", name=op.f("pk_energy_run_series")),
    )


def downgrade() -> None:
    op.drop_table("energy_run_series")
    op.drop_index("ix_energy_runs_status", table_name="energy_runs")
    op.drop_table("energy_runs")
