"""Project portfolio, participation and the Digitalcampus: projects, ideas, procedures, contributions,
comments, support votes and campus events (store/participation_schema.py).

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-07 15:30:00
"""

import sqlalchemy as sa
from alembic import op

from urbantwin.store.types import Id, Json, UtcTime

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "portfolio_projects",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("document", Json, nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("updated", UtcTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_portfolio_projects")),
    )
    op.create_table(
        "procedures",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("start", UtcTime(), nullable=False),
        sa.Column("end", UtcTime(), nullable=False),
        sa.Column("area", Json, nullable=False),
        sa.Column("questions", Json, nullable=False),
        sa.Column("categories", Json, nullable=False),
        sa.Column("synthetic", sa.Integer(), server_default="0", nullable=False),
        sa.Column("created", UtcTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_procedures")),
    )
    op.create_table(
        "contributions",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("procedure_id", sa.Text(), nullable=False),
        sa.Column("category", sa.Text(), nullable=False),
        sa.Column("question", sa.Integer()),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("geometry", Json, nullable=False),
        sa.Column("min_lon", sa.Double(), nullable=False),
        sa.Column("min_lat", sa.Double(), nullable=False),
        sa.Column("max_lon", sa.Double(), nullable=False),
        sa.Column("max_lat", sa.Double(), nullable=False),
        sa.Column("contact", sa.Text()),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("answer", sa.Text()),
        sa.Column("reason", sa.Text()),
        sa.Column("fingerprint", sa.Text(), nullable=False),
        sa.Column("created", UtcTime(), nullable=False),
        sa.Column("updated", UtcTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["procedure_id"],
            ["procedures.id"],
            name=op.f("fk_contributions_procedure_id"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contributions")),
    )
    op.create_index("ix_contributions_procedure", "contributions", ["procedure_id", "status"])
    op.create_table(
        "ideas",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("category", sa.Text(), nullable=False),
        sa.Column("geometry", Json),
        sa.Column("contact", sa.Text()),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("answer", sa.Text()),
        sa.Column("reason", sa.Text()),
        sa.Column("project_id", sa.Text()),
        sa.Column("fingerprint", sa.Text(), nullable=False),
        sa.Column("created", UtcTime(), nullable=False),
        sa.Column("updated", UtcTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"], ["portfolio_projects.id"], name=op.f("fk_ideas_project_id"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ideas")),
    )
    op.create_index("ix_ideas_fingerprint", "ideas", ["fingerprint"])
    op.create_index("ix_ideas_status", "ideas", ["status", "created"])
    op.create_table(
        "contribution_comments",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("contribution_id", Id, nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("created", UtcTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["contribution_id"],
            ["contributions.id"],
            name=op.f("fk_contribution_comments_contribution_id"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contribution_comments")),
    )
    op.create_index("ix_contribution_comments_contribution", "contribution_comments", ["contribution_id"])
    op.create_table(
        "contribution_supports",
        sa.Column("contribution_id", Id, nullable=False),
        sa.Column("voter", sa.Text(), nullable=False),
        sa.Column("created", UtcTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["contribution_id"],
            ["contributions.id"],
            name=op.f("fk_contribution_supports_contribution_id"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("contribution_id", "voter", name=op.f("pk_contribution_supports")),
    )
    op.create_table(
        "campus_events",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("document", Json, nullable=False),
        sa.Column("start", UtcTime()),
        sa.Column("end", UtcTime()),
        sa.Column("updated", UtcTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campus_events")),
    )
    op.create_index("ix_campus_events_start", "campus_events", ["start"])


def downgrade() -> None:
    op.drop_table("campus_events")
    op.drop_table("contribution_supports")
    op.drop_table("contribution_comments")
    op.drop_table("ideas")
    op.drop_table("contributions")
    op.drop_table("procedures")
    op.drop_table("portfolio_projects")
