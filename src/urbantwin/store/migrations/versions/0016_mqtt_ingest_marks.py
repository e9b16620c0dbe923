"""MQTT ingest: the fingerprints of each committed batch per broker session, so messages redelivered
after a crash are not stored twice (store/ingest_marks.py).

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07 16:00:00
"""

import sqlalchemy as sa
from alembic import op

from urbantwin.store.types import Id, UtcTime

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "mqtt_ingest_marks",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("client_id", sa.Text(), nullable=False),
        sa.Column("committed", UtcTime(), nullable=False),
        sa.Column("digests", sa.LargeBinary(), nullable=False),
    )
    op.create_index("mqtt_ingest_marks_client", "mqtt_ingest_marks", ["client_id", "id"])


def downgrade() -> None:
    op.drop_table("mqtt_ingest_marks")
