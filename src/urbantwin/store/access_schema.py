"""The tables of who may see what: organisations, users, groups, API tokens, datasets, the audit log.

A *dataset* is the unit of the catalogue and of access rules: a group of SensorThings entities
(their `dataset_id`), a feature collection (`collections.dataset_id`), an analysis result or a file.
Each dataset has one access level (`open`, `registered`, `partner`, `internal`), the groups that may
read it at the `partner` level, and the principals that may write it. `access/` reads these tables
to decide; no other package interprets them.

Ids of organisations, groups and datasets are short names ("stadt-musterstadt", "luftqualitaet")
because they appear in URLs, the catalogue and the CLI; users and tokens have integer ids.
"""

from __future__ import annotations

from sqlalchemy import Boolean, Column, ForeignKey, Index, Integer, Table, Text

from urbantwin.store.schema import metadata
from urbantwin.store.types import Id, Json, UtcTime

#: Kinds of organisation the platform serves (the issue's "defined criteria"), each saying what the
#: catalogue calls its publisher type (the ADMS publisher types of DCAT-AP.de): a city's own
#: administration is a local authority, a state agency a regional one, a federal agency a national
#: one.
ORGANISATION_KINDS = (
    "local-authority",
    "regional-authority",
    "national-authority",
    "supranational-authority",
    "municipal-company",
    "company",
    "research",
    "ngo",
    "non-profit",
    "industry-consortium",
    "standardisation-body",
    "private-individual",
)
#: The kinds of earlier versions, which stored rows may still hold (migration 0010 renames them) and
#: which the CLI and the admin API still take: `administration` said nothing of the level, and was a
#: city's in every case seen.
FORMER_KINDS = {
    "administration": "local-authority",
    "municipal_company": "municipal-company",
    "science": "research",
    "business": "company",
    "civil_society": "ngo",
}


def organisation_kind(kind: str) -> str:
    """The kind `kind` stands for today (a former name renamed; anything else as it is)."""
    return FORMER_KINDS.get(kind, kind)


#: Roles, each including the rights of those before it.
ROLES = ("reader", "contributor", "data_steward", "administrator")

#: Access levels of a dataset, from the most open to the most closed.
ACCESS_LEVELS = ("open", "registered", "partner", "internal")

organisations = Table(
    "organisations",
    metadata,
    Column("id", Text, primary_key=True),
    Column("title", Text, nullable=False),
    Column("kind", Text, nullable=False),
    Column("homepage", Text),
    Column("email", Text),
    Column("created", UtcTime, nullable=False),
)

users = Table(
    "users",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("name", Text, nullable=False, unique=True),
    Column("display_name", Text),
    Column("email", Text),
    Column("organisation_id", Text, ForeignKey("organisations.id", ondelete="SET NULL")),
    Column("role", Text, nullable=False, server_default="reader"),
    #: argon2 hash of a password, for users who sign in with one (most use tokens or SSO).
    Column("password_hash", Text),
    #: The OIDC identity this user is (issuer URL and subject), for single sign-on.
    Column("oidc_issuer", Text),
    Column("oidc_subject", Text),
    #: Where SensorThings entities this user creates without a parent land (a sensor owner's own).
    Column("default_dataset_id", Text, ForeignKey("datasets.id", ondelete="SET NULL")),
    Column("active", Boolean, nullable=False, server_default="1"),
    Column("created", UtcTime, nullable=False),
    Index(None, "oidc_issuer", "oidc_subject", unique=True),
)

groups = Table(
    "groups",
    metadata,
    Column("id", Text, primary_key=True),
    Column("title", Text, nullable=False),
    Column("description", Text, nullable=False, server_default=""),
    Column("organisation_id", Text, ForeignKey("organisations.id", ondelete="CASCADE")),
    Column("created", UtcTime, nullable=False),
)

group_members = Table(
    "group_members",
    metadata,
    Column("group_id", Text, ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", Id, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Index(None, "user_id"),
)

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("user_id", Id, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    #: SHA-256 of the token: tokens are 256 random bits, so a fast hash cannot be brute-forced,
    #: and a lookup by hash stays one index probe per request (argon2 is for passwords).
    Column("token_hash", Text, nullable=False, unique=True),
    #: The token's first characters, shown in listings so a user can tell tokens apart.
    Column("prefix", Text, nullable=False),
    Column("name", Text, nullable=False, server_default=""),
    #: What the token may do: "read", "write", "admin" (never more than its user's role allows).
    Column("scopes", Json, nullable=False),
    Column("created", UtcTime, nullable=False),
    Column("expires", UtcTime),
    Column("revoked", UtcTime),
    Column("last_used", UtcTime),
)

datasets = Table(
    "datasets",
    metadata,
    Column("id", Text, primary_key=True),
    Column("title", Text, nullable=False),
    Column("description", Text, nullable=False, server_default=""),
    Column("publisher_id", Text, ForeignKey("organisations.id", ondelete="SET NULL")),
    Column("contact_name", Text),
    Column("contact_email", Text),
    #: EU data themes (DCAT-AP), as their codes: "ENVI", "TRAN", "ENER", "REGI", "GOVE", …
    Column("themes", Json, nullable=False),
    Column("keywords", Json, nullable=False),
    #: A licence of the DCAT-AP.de vocabulary, by its code: "dl-by-de/2.0", "dl-zero-de/2.0",
    #: "cc-by/4.0", "odbl", …
    Column("licence", Text, nullable=False),
    Column("access_level", Text, nullable=False, server_default="open"),
    #: Groups that may read at the "partner" level (besides the publisher's members).
    Column("read_groups", Json, nullable=False),
    #: Who may write besides administrators and the publisher's data stewards: entries
    #: "organisation:<id>", "group:<id>" or "user:<name>", each needing the contributor role.
    Column("writers", Json, nullable=False),
    #: EU frequency code: "CONT", "HOURLY", "DAILY", "WEEKLY", "MONTHLY", "ANNUAL", "IRREG", "UNKNOWN".
    Column("update_frequency", Text, nullable=False, server_default="UNKNOWN"),
    #: Everything else a catalogue record may carry (landing page, political geocoding, …).
    Column("extra", Json),
    Column("created", UtcTime, nullable=False),
    Column("modified", UtcTime, nullable=False),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("time", UtcTime, nullable=False),
    #: The principal's name ("anonymous", a user name, "admin" for the bootstrap token).
    Column("principal", Text, nullable=False),
    Column("user_id", Id),
    #: "read", "create", "update", "delete", "admin".
    Column("action", Text, nullable=False),
    #: "sensorthings", "features", "tiles", "catalog", "admin", "mqtt".
    Column("api", Text, nullable=False),
    Column("dataset_id", Text),
    #: What was touched: a request path, an entity, a management object.
    Column("target", Text, nullable=False),
    Column("status", Integer, nullable=False),
    Index(None, "time"),
    Index(None, "dataset_id", "time"),
    Index(None, "principal", "time"),
)

#: Requests per dataset, API and day, for the city's reporting (kept for open data too).
dataset_usage = Table(
    "dataset_usage",
    metadata,
    Column("dataset_id", Text, primary_key=True),
    Column("day", Text, primary_key=True),
    Column("api", Text, primary_key=True),
    Column("requests", Integer, nullable=False),
)
