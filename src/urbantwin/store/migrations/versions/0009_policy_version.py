"""The version of the access rules, changed by triggers with every change of `datasets`, so that a
server may keep the read scopes it worked out while the version stays (store/policy_version.py).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 01:00:00
"""

import sqlalchemy as sa
from alembic import op

from urbantwin.store.policy_version import drop_statements, first_version, trigger_statements

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    table = op.create_table(
        "policy_version",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("version", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_policy_version")),
    )
    op.bulk_insert(table, [first_version()])
    for statement in trigger_statements(op.get_bind().dialect.name):
        op.execute(statement)


def downgrade() -> None:
    for statement in drop_statements(op.get_bind().dialect.name):
        op.execute(statement)
    op.drop_table("policy_version")
