"""Digital infrastructure: site registries, LoRaWAN device fields, uplinks and their receptions
(store/infrastructure_schema.py).

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07 07:00:00
"""

import sqlalchemy as sa
from alembic import op

from urbantwin.store.types import Id, Json, UtcTime

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "infrastructure_registries",
        sa.Column("collection_id", sa.Text(), nullable=False),
        sa.Column("operator", sa.Text(), nullable=False),
        sa.Column("source_kind", sa.Text(), nullable=False),
        sa.Column("defaults", Json, nullable=False),
        sa.Column("updated", UtcTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["collection_id"],
            ["collections.id"],
            name=op.f("fk_infrastructure_registries_collection_id"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("collection_id", name=op.f("pk_infrastructure_registries")),
    )
    op.create_table(
        "lorawan_streams",
        sa.Column("dev_eui", sa.Text(), nullable=False),
        sa.Column("field", sa.Text(), nullable=False),
        sa.Column("datastream_id", Id, nullable=False),
        sa.Column("created", UtcTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["datastream_id"],
            ["datastreams.id"],
            name=op.f("fk_lorawan_streams_datastream_id"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("dev_eui", "field", name=op.f("pk_lorawan_streams")),
    )
    op.create_table(
        "lorawan_uplinks",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("dedupe_key", sa.Text(), nullable=False),
        sa.Column("network", sa.Text(), nullable=False),
        sa.Column("dev_eui", sa.Text(), nullable=False),
        sa.Column("f_cnt", sa.Integer()),
        sa.Column("received", UtcTime(), nullable=False),
        sa.Column("observations", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lorawan_uplinks")),
        sa.UniqueConstraint("dedupe_key", name=op.f("uq_lorawan_uplinks_dedupe_key")),
    )
    op.create_index("ix_lorawan_uplinks_device", "lorawan_uplinks", ["dev_eui", "received"])
    op.create_table(
        "lorawan_receptions",
        sa.Column("uplink_id", Id, nullable=False),
        sa.Column("gateway_id", sa.Text(), nullable=False),
        sa.Column("dev_eui", sa.Text(), nullable=False),
        sa.Column("rssi", sa.Double()),
        sa.Column("snr", sa.Double()),
        sa.Column("received", UtcTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["uplink_id"],
            ["lorawan_uplinks.id"],
            name=op.f("fk_lorawan_receptions_uplink_id"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("uplink_id", "gateway_id", name=op.f("pk_lorawan_receptions")),
    )
    op.create_index("ix_lorawan_receptions_device", "lorawan_receptions", ["dev_eui", "gateway_id"])


def downgrade() -> None:
    op.drop_table("lorawan_receptions")
    op.drop_table("lorawan_uplinks")
    op.drop_table("lorawan_streams")
    op.drop_table("infrastructure_registries")
