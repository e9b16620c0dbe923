"""Following a partner live: whether a SensorThings partner's mirrored Datastreams are followed over
its MQTT topics, the broker to use (when not the one its service root names), and the lease of the
server process that follows it (store/federation_schema.py: `remotes`).

Revision ID: 0030
Revises: 0028
Create Date: 2026-12-07 22:15:00
"""

import sqlalchemy as sa
from alembic import op

from urbantwin.store.types import UtcTime

revision = "0030"
down_revision = "0028"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("remotes", sa.Column("follow", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.add_column("remotes", sa.Column("mqtt_url", sa.Text(), nullable=True))
    op.add_column("remotes", sa.Column("follower", sa.Text(), nullable=True))
    op.add_column("remotes", sa.Column("follower_until", UtcTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("remotes") as batch:
        batch.drop_column("follower_until")
        batch.drop_column("follower")
        batch.drop_column("mqtt_url")
        batch.drop_column("follow")
