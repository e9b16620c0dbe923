"""The city model: feature collections and their features, with a spatial index.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 14:00:00
"""

import sqlalchemy as sa
from alembic import op

from urbantwin.store.spatial import sqlite_rtree_ddl
from urbantwin.store.types import Geometry, Id, Json, UtcTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "collections",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), server_default="", nullable=False),
        sa.Column("licence", sa.Text(), nullable=True),
        sa.Column("attribution", sa.Text(), nullable=True),
        sa.Column("keywords", Json, nullable=True),
        sa.Column("item_schema", Json, nullable=True),
        sa.Column("extent_bbox", Json, nullable=True),
        sa.Column("source_crs", sa.Text(), nullable=True),
        sa.Column("created", UtcTime(), nullable=False),
        sa.Column("updated", UtcTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_collections")),
    )
    op.create_table(
        "features",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("collection_id", sa.Text(), nullable=False),
        sa.Column("feature_key", sa.Text(), nullable=False),
        sa.Column("properties", Json, nullable=True),
        sa.Column("geom", Geometry(), nullable=True),
        sa.Column("height", sa.Double(), nullable=True),
        sa.Column("valid_from", UtcTime(), nullable=True),
        sa.Column("valid_to", UtcTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["collection_id"], ["collections.id"], name=op.f("fk_features_collection_id"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_features")),
        sa.UniqueConstraint(
            "collection_id", "feature_key", name=op.f("uq_features_collection_id_feature_key")
        ),
    )
    op.create_index("ix_features_collection_id_id", "features", ["collection_id", "id"], unique=False)
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE INDEX ix_features_geom_gist ON features USING gist (geom)")
    else:
        for statement in sqlite_rtree_ddl("features", "geom"):
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TABLE IF EXISTS features_rtree")
    op.drop_index("ix_features_collection_id_id", table_name="features")
    op.drop_table("features")
    op.drop_table("collections")
