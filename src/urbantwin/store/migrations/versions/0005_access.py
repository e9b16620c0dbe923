"""Who may see what: organisations, users, groups, API tokens, datasets, the audit log, usage counts,
and the dataset each SensorThings entity and feature collection belongs to.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26 16:00:00
"""

import sqlalchemy as sa
from alembic import op

from urbantwin.store.types import Id, Json, UtcTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

#: The tables whose rows belong to a dataset (Observations and HistoricalLocations follow theirs).
MEMBER_TABLES = (
    "things",
    "locations",
    "sensors",
    "observed_properties",
    "datastreams",
    "features_of_interest",
    "collections",
)


def upgrade() -> None:
    op.create_table(
        "organisations",
        sa.Column("id", sa.Text(), primary_key=True),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("homepage", sa.Text()),
        sa.Column("email", sa.Text()),
        sa.Column("created", UtcTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_organisations")),
    )
    op.create_table(
        "datasets",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), server_default="", nullable=False),
        sa.Column("publisher_id", sa.Text()),
        sa.Column("contact_name", sa.Text()),
        sa.Column("contact_email", sa.Text()),
        sa.Column("themes", Json, nullable=False),
        sa.Column("keywords", Json, nullable=False),
        sa.Column("licence", sa.Text(), nullable=False),
        sa.Column("access_level", sa.Text(), server_default="open", nullable=False),
        sa.Column("read_groups", Json, nullable=False),
        sa.Column("writers", Json, nullable=False),
        sa.Column("update_frequency", sa.Text(), server_default="UNKNOWN", nullable=False),
        sa.Column("extra", Json),
        sa.Column("created", UtcTime(), nullable=False),
        sa.Column("modified", UtcTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["publisher_id"], ["organisations.id"], name=op.f("fk_datasets_publisher_id"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_datasets")),
    )
    op.create_table(
        "users",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("display_name", sa.Text()),
        sa.Column("email", sa.Text()),
        sa.Column("organisation_id", sa.Text()),
        sa.Column("role", sa.Text(), server_default="reader", nullable=False),
        sa.Column("password_hash", sa.Text()),
        sa.Column("oidc_issuer", sa.Text()),
        sa.Column("oidc_subject", sa.Text()),
        sa.Column("default_dataset_id", sa.Text()),
        sa.Column("active", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("created", UtcTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_users_organisation_id"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["default_dataset_id"],
            ["datasets.id"],
            name=op.f("fk_users_default_dataset_id"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("name", name=op.f("uq_users_name")),
    )
    op.create_index(
        "ix_users_oidc_issuer_oidc_subject", "users", ["oidc_issuer", "oidc_subject"], unique=True
    )
    op.create_table(
        "groups",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), server_default="", nullable=False),
        sa.Column("organisation_id", sa.Text()),
        sa.Column("created", UtcTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_groups_organisation_id"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_groups")),
    )
    op.create_table(
        "group_members",
        sa.Column("group_id", sa.Text(), nullable=False),
        sa.Column("user_id", Id, nullable=False),
        sa.ForeignKeyConstraint(
            ["group_id"], ["groups.id"], name=op.f("fk_group_members_group_id"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_group_members_user_id"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("group_id", "user_id", name=op.f("pk_group_members")),
    )
    op.create_index("ix_group_members_user_id", "group_members", ["user_id"])
    op.create_table(
        "api_tokens",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("user_id", Id, nullable=False),
        sa.Column("token_hash", sa.Text(), nullable=False),
        sa.Column("prefix", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), server_default="", nullable=False),
        sa.Column("scopes", Json, nullable=False),
        sa.Column("created", UtcTime(), nullable=False),
        sa.Column("expires", UtcTime()),
        sa.Column("revoked", UtcTime()),
        sa.Column("last_used", UtcTime()),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_api_tokens_user_id"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_api_tokens_token_hash")),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("time", UtcTime(), nullable=False),
        sa.Column("principal", sa.Text(), nullable=False),
        sa.Column("user_id", Id),
        sa.Column("action", sa.Text(), nullable=False),
        sa.Column("api", sa.Text(), nullable=False),
        sa.Column("dataset_id", sa.Text()),
        sa.Column("target", sa.Text(), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    op.create_index("ix_audit_log_time", "audit_log", ["time"])
    op.create_index("ix_audit_log_dataset_id_time", "audit_log", ["dataset_id", "time"])
    op.create_index("ix_audit_log_principal_time", "audit_log", ["principal", "time"])
    op.create_table(
        "dataset_usage",
        sa.Column("dataset_id", sa.Text(), nullable=False),
        sa.Column("day", sa.Text(), nullable=False),
        sa.Column("api", sa.Text(), nullable=False),
        sa.Column("requests", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("dataset_id", "day", "api", name=op.f("pk_dataset_usage")),
    )
    sqlite = op.get_bind().dialect.name == "sqlite"
    for table in MEMBER_TABLES:
        if sqlite:
            # SQLite adds a column with a foreign key in place; a batch operation would copy the
            # table and lose the triggers that keep its R-tree current.
            op.execute(f"ALTER TABLE {table} ADD COLUMN dataset_id TEXT REFERENCES datasets (id)")
        else:
            op.add_column(table, sa.Column("dataset_id", sa.Text()))
            op.create_foreign_key(op.f(f"fk_{table}_dataset_id"), table, "datasets", ["dataset_id"], ["id"])
        op.create_index(f"ix_{table}_dataset_id", table, ["dataset_id"])


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    for table in reversed(MEMBER_TABLES):
        op.drop_index(f"ix_{table}_dataset_id", table)
        if sqlite:
            op.execute(f"ALTER TABLE {table} DROP COLUMN dataset_id")
        else:
            op.drop_constraint(op.f(f"fk_{table}_dataset_id"), table, type_="foreignkey")
            op.drop_column(table, "dataset_id")
    for table in ("dataset_usage", "audit_log", "api_tokens", "group_members", "groups", "users"):
        op.drop_table(table)
    op.drop_table("datasets")
    op.drop_table("organisations")
