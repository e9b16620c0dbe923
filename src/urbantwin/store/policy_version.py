"""The version of the access rules: a token the database replaces whenever the `datasets` table changes.

Who may read what is decided from the principal (built afresh per request from the users, groups
and tokens) and the rows of `datasets` (access levels, publishers, read groups). `access/gate.py`
keeps the read scope it worked out per kind of principal under the version it read, and asks the
database for nothing more than this one value while the version stays the same.

The version is changed by triggers, in the transaction of the change itself, whatever writes it
(the admin API, the CLI, an importer, a foreign key's `SET NULL` when a publisher is deleted, an
operator's SQL): a change is committed together with its new version or not at all, so every
server process sees both at once. It is a random 128-bit token rather than a counter, so that a
version is never issued twice: a counter bumped by a transaction that then rolled back (whose
reader, inside it, saw the bumped value) would hand the same number to the next change, and a
store dropped and made anew would start counting again while a server kept its old scopes. Readers
compare versions for equality only.

The table holds one row (`id` 1). Where it is missing (a store emptied by a test) the next change
of `datasets` makes it again; meanwhile the version reads NULL and nothing is kept.
"""

from __future__ import annotations

import secrets

from sqlalchemy import Column, Integer, ScalarSelect, Table, Text, select

from urbantwin.store.schema import metadata

policy_version = Table(
    "policy_version",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("version", Text, nullable=False),
)

_POSTGRESQL = [
    """
    CREATE FUNCTION urbantwin_policy_changed() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO policy_version AS v (id, version) VALUES (1, gen_random_uuid()::text)
        ON CONFLICT (id) DO UPDATE SET version = excluded.version;
        RETURN NULL;
    END
    $$
    """,
    # Once per statement, whatever it touched (TRUNCATE included).
    """
    CREATE TRIGGER datasets_policy_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON datasets
    FOR EACH STATEMENT EXECUTE FUNCTION urbantwin_policy_changed()
    """,
]

_SQLITE_BUMP = (
    "INSERT INTO policy_version (id, version) VALUES (1, lower(hex(randomblob(16)))) "
    "ON CONFLICT (id) DO UPDATE SET version = excluded.version;"
)
_SQLITE = [
    f"CREATE TRIGGER datasets_policy_changed_{event.lower()} AFTER {event} ON datasets "
    f"BEGIN {_SQLITE_BUMP} END"
    for event in ("INSERT", "UPDATE", "DELETE")
]


def first_version() -> dict[str, object]:
    """The row a new store starts with: a random version as well (a fixed one would repeat the
    version of a store dropped and made anew)."""
    return {"id": 1, "version": secrets.token_hex(16)}


def trigger_statements(dialect: str) -> list[str]:
    """The statements that make the database change the version with `datasets` (after both exist)."""
    return _POSTGRESQL if dialect == "postgresql" else _SQLITE


def drop_statements(dialect: str) -> list[str]:
    if dialect == "postgresql":
        return [
            "DROP TRIGGER IF EXISTS datasets_policy_changed ON datasets",
            "DROP FUNCTION IF EXISTS urbantwin_policy_changed()",
        ]
    return [f"DROP TRIGGER IF EXISTS datasets_policy_changed_{e}" for e in ("insert", "update", "delete")]


def current_version() -> ScalarSelect[str]:
    """The version as a scalar subquery (NULL when the row is missing), to read alone or alongside
    another query in the same statement."""
    return select(policy_version.c.version).where(policy_version.c.id == 1).scalar_subquery()
