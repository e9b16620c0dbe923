"""Connected twins: remote endpoints, mirror cursors and harvested catalogue records
(store/federation_schema.py).

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07 15:40:00
"""

import sqlalchemy as sa
from alembic import op

from urbantwin.store.types import Id, Json, UtcTime

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "remotes",
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("attribution", sa.Text(), nullable=False),
        sa.Column("licence", sa.Text(), nullable=False),
        sa.Column("dataset_id", sa.Text(), nullable=False),
        sa.Column("requests_per_second", sa.Double(), nullable=False),
        sa.Column("created", UtcTime(), nullable=False),
        sa.Column("health", sa.Text(), nullable=False),
        sa.Column("last_checked", UtcTime()),
        sa.Column("last_sync", UtcTime()),
        sa.Column("last_error", sa.Text()),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_remotes")),
    )
    op.create_table(
        "remote_mirrors",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("remote", sa.Text(), nullable=False),
        sa.Column("remote_id", sa.Text(), nullable=False),
        sa.Column("remote_link", sa.Text(), nullable=False),
        sa.Column("datastream_id", Id, nullable=False),
        sa.Column("cursor_field", sa.Text(), nullable=False),
        sa.Column("cursor_time", UtcTime()),
        sa.Column("cursor_id", sa.Text()),
        sa.Column("observations", sa.BigInteger(), nullable=False),
        sa.Column("updated", UtcTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["remote"], ["remotes.name"], name=op.f("fk_remote_mirrors_remote"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["datastream_id"],
            ["datastreams.id"],
            name=op.f("fk_remote_mirrors_datastream_id"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_remote_mirrors")),
        sa.UniqueConstraint("remote", "remote_id", name=op.f("uq_remote_mirrors_remote_remote_id")),
    )
    op.create_table(
        "harvested_records",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("remote", sa.Text(), nullable=False),
        sa.Column("iri", sa.Text(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("details", Json, nullable=False),
        sa.Column("modified", sa.Text()),
        sa.Column("harvested", UtcTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["remote"], ["remotes.name"], name=op.f("fk_harvested_records_remote"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_harvested_records")),
        sa.UniqueConstraint("remote", "iri", name=op.f("uq_harvested_records_remote_iri")),
    )
    op.create_index("ix_harvested_records_remote", "harvested_records", ["remote"])


def downgrade() -> None:
    op.drop_index("ix_harvested_records_remote", table_name="harvested_records")
    op.drop_table("harvested_records")
    op.drop_table("remote_mirrors")
    op.drop_table("remotes")
