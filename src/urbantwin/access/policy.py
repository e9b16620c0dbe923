"""The policy decision point: every API asks here who may see or change which dataset.

Each dataset has an access level:

- `open`: everyone, anonymous clients included;
- `registered`: every signed-in user;
- `partner`: members of the publisher organisation and of the dataset's `read_groups`;
- `internal`: members of the publisher organisation only.

Administrators see and change everything. Writing needs a token with the `write` scope and either
the administrator role, the data-steward role in the publisher organisation, or the contributor role
and an entry in the dataset's `writers` (`organisation:<id>`, `group:<id>`, `user:<name>`) — a sensor
owner may so write to their own Datastreams only. Anonymous writes happen only where the settings
allow them (a fresh install does not), and only to open datasets.

Reads are decided per request as a `DatasetScope`: the set of dataset ids the principal may read,
which the APIs turn into one condition per table (`DatasetScope.allows_column`). When every dataset
is visible the scope is unrestricted and adds nothing to any query.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, select, true
from sqlalchemy.sql import ColumnElement

from urbantwin.access.principal import Principal
from urbantwin.errors import Forbidden, NotFound, Unauthorized
from urbantwin.settings import Settings
from urbantwin.store.access_schema import datasets


@dataclass(frozen=True)
class DatasetRule:
    id: str
    access_level: str
    publisher_id: str | None
    read_groups: frozenset[str]
    writers: frozenset[str]

    @classmethod
    def from_row(cls, row: Any) -> DatasetRule:
        return cls(
            id=row.id,
            access_level=row.access_level,
            publisher_id=row.publisher_id,
            read_groups=frozenset(row.read_groups or ()),
            writers=frozenset(row.writers or ()),
        )


@dataclass(frozen=True)
class DatasetScope:
    """The datasets one principal may read in one request."""

    #: None: every dataset (and the scope adds no condition); else the ids readable.
    ids: frozenset[str] | None
    #: The readable datasets that are not open: reading them is audited.
    restricted: frozenset[str] = frozenset()

    @property
    def unrestricted(self) -> bool:
        return self.ids is None

    def allows(self, dataset_id: str | None) -> bool:
        if self.ids is None:
            return True
        return dataset_id is not None and dataset_id in self.ids

    def allows_column(self, column: Any) -> ColumnElement[bool] | None:
        """A condition on a `dataset_id` column, or None when nothing is hidden."""
        if self.ids is None:
            return None
        return column.in_(sorted(self.ids)) if self.ids else ~true()


EVERYTHING = DatasetScope(None)


class AccessPolicy:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    # --- reading -------------------------------------------------------------------------------

    def rules(self, connection: Connection) -> list[DatasetRule]:
        # Read per request rather than cached: the table is small (one row per dataset), and a
        # change made through one server process must hold in every other at once.
        return [DatasetRule.from_row(row) for row in connection.execute(select(datasets))]

    def may_read(self, principal: Principal, rule: DatasetRule) -> bool:
        if principal.role == "administrator":
            return True
        level = rule.access_level
        if level == "open":
            return True
        if principal.user_id is None:  # anonymous (the platform's own principals are administrators)
            return False
        if level == "registered":
            return True
        member = principal.organisation_id is not None and principal.organisation_id == rule.publisher_id
        if level == "partner":
            return member or bool(principal.groups & rule.read_groups)
        if level == "internal":
            return member
        return False  # an unknown level fails closed

    def read_scope(self, principal: Principal, connection: Connection) -> DatasetScope:
        if principal.role == "administrator":
            return EVERYTHING
        rules = self.rules(connection)
        readable = [rule for rule in rules if self.may_read(principal, rule)]
        restricted = frozenset(rule.id for rule in readable if rule.access_level != "open")
        if len(readable) == len(rules) and not restricted:
            return EVERYTHING
        return DatasetScope(frozenset(rule.id for rule in readable), restricted)

    # --- writing -------------------------------------------------------------------------------

    def rule(self, connection: Connection, dataset_id: str | None) -> DatasetRule | None:
        if dataset_id is None:
            return None
        row = connection.execute(select(datasets).where(datasets.c.id == dataset_id)).first()
        return DatasetRule.from_row(row) if row is not None else None

    def may_write(self, principal: Principal, rule: DatasetRule | None) -> bool:
        if principal.writes_everything:
            return True
        if rule is None:
            return False
        if principal.anonymous:
            return self.settings.allow_anonymous_writes and rule.access_level == "open"
        if not principal.may_use("write") or not self.may_read(principal, rule):
            return False
        member = principal.organisation_id is not None and principal.organisation_id == rule.publisher_id
        if principal.has_role("data_steward") and member:
            return True
        if not principal.has_role("contributor"):
            return False
        return bool(_writer_entries(principal) & rule.writers)

    def authorize_write(self, principal: Principal, connection: Connection, dataset_id: str | None) -> None:
        """Raise unless `principal` may change the data of `dataset_id`."""
        rule = self.rule(connection, dataset_id)
        if self.may_write(principal, rule):
            return
        what = f"dataset {dataset_id!r}" if dataset_id else "data outside every dataset"
        if principal.anonymous:
            raise Unauthorized(f"writing to {what} needs a token (Authorization: Bearer …)")
        if rule is not None and not self.may_read(principal, rule):
            raise NotFound(f"no dataset {dataset_id!r}")
        if not principal.may_use("write"):
            raise Forbidden(f"the token of {principal.name} has no write scope")
        raise Forbidden(f"{principal.name} may not write to {what}")

    def authorize_admin(self, principal: Principal) -> None:
        """Raise unless `principal` may manage organisations, users, groups and datasets."""
        if principal.is_admin:
            return
        if principal.anonymous:
            raise Unauthorized("administration needs an administrator's token")
        raise Forbidden(f"{principal.name} is no administrator (or the token lacks the admin scope)")

    def may_steward(self, principal: Principal, rule: DatasetRule) -> bool:
        """Whether `principal` may change a dataset's catalogue record and access rules."""
        if principal.is_admin:
            return True
        return (
            principal.has_role("data_steward")
            and principal.may_use("write")
            and principal.organisation_id is not None
            and principal.organisation_id == rule.publisher_id
        )


def _writer_entries(principal: Principal) -> frozenset[str]:
    entries: set[str] = {f"user:{principal.name}"}
    if principal.organisation_id:
        entries.add(f"organisation:{principal.organisation_id}")
    entries.update(f"group:{group}" for group in principal.groups)
    return frozenset(entries)
