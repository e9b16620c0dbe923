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

Moving entities into a dataset (`POST /api/datasets/{id}/members`, `urbantwin dataset move`)
changes who sees them and who may change them, so it needs the data-steward rights on the target
dataset *and* write rights on every dataset the rows leave — the entities asked for and what moves
along (a Thing's Datastreams and Locations); rows outside every dataset only administrators move.
Ids that name nothing the caller may read answer 404, as other APIs do. Entities others use — a
Sensor or ObservedProperty of Datastreams, a FeatureOfInterest of Observations, a Location of
Things — may move only where every reader of their users' datasets can still read them
(`readers_include`): else 409 naming the users and their datasets, whoever asks, administrators
included. Move the users first (with write rights on their datasets) or choose a target at least as
open; so a move never hides an entity from the readers of an open Datastream.

Reads are decided per request as a `DatasetScope`: the set of dataset ids the principal may read,
which the APIs turn into one condition per table (`DatasetScope.allows_column`). When every dataset
is visible the scope is unrestricted and adds nothing to any query. The access point keeps each
kind of principal's scope (`scope_key`) while the version of the rules stays (access/gate.py).
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, select, true
from sqlalchemy.sql import ColumnElement

from urbantwin.access.datasets import Move
from urbantwin.access.principal import Principal
from urbantwin.errors import Conflict, Forbidden, NotFound, Unauthorized
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
        # Read afresh whenever asked: the access point (gate.py) keeps read scopes only under the
        # version of the rules the database changes with every change of this table
        # (store/policy_version.py), so a change made through one server process holds in every
        # other at once.
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

    @staticmethod
    def scope_key(principal: Principal) -> tuple[Any, ...]:
        """What of `principal` its read scope depends on: exactly what `may_read` asks of it.
        Principals with the same key read the same datasets (so a scope may be kept per key)."""
        return (principal.role, principal.user_id is None, principal.organisation_id, principal.groups)

    def fixed_scope(self, principal: Principal) -> DatasetScope | None:
        """The scope of a principal that needs no rules to know it (administrators see everything)."""
        return EVERYTHING if principal.role == "administrator" else None

    def read_scope(self, principal: Principal, connection: Connection) -> DatasetScope:
        fixed = self.fixed_scope(principal)
        if fixed is not None:
            return fixed
        return self.read_scope_in(principal, self.rules(connection))

    def read_scope_in(self, principal: Principal, rules: list[DatasetRule]) -> DatasetScope:
        """The scope of `principal` under `rules` read already (several writes in one transaction)."""
        fixed = self.fixed_scope(principal)
        if fixed is not None:
            return fixed
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

    def authorize_writer(self, principal: Principal, what: str = "writing") -> None:
        """Raise what `authorize_write` would raise for every dataset, before a route reads a body
        or a service works out which dataset a write goes to."""
        if principal.writes_everything:
            return
        if principal.anonymous:
            if self.settings.allow_anonymous_writes:
                return
            raise Unauthorized(f"{what} needs a token (Authorization: Bearer …)")
        if not principal.may_use("write"):
            raise Forbidden(f"the token of {principal.name} has no write scope")

    def may_moderate(self, principal: Principal, rule: DatasetRule | None) -> bool:
        """Whether `principal` moderates what citizens submit to a participation dataset (ideas, map
        contributions, comments) and may read their contact details: whoever may write the dataset,
        anonymous clients never (administrators, the publisher's data stewards, contributors named
        among its `writers`, such as `group:moderation`)."""
        return not principal.anonymous and self.may_write(principal, rule)

    def authorize_moderate(self, principal: Principal, connection: Connection, dataset_id: str) -> None:
        """Raise unless `principal` may moderate the participation dataset `dataset_id`."""
        if self.may_moderate(principal, self.rule(connection, dataset_id)):
            return
        if principal.anonymous:
            raise Unauthorized("moderating needs a moderator's token (Authorization: Bearer …)")
        raise Forbidden(f"{principal.name} is no moderator of {dataset_id!r} (its writers moderate)")

    def authorize_admin(self, principal: Principal) -> None:
        """Raise unless `principal` may manage organisations, users, groups and datasets."""
        if principal.is_admin:
            return
        if principal.anonymous:
            raise Unauthorized("administration needs an administrator's token")
        raise Forbidden(f"{principal.name} is no administrator (or the token lacks the admin scope)")

    def authorize_metrics(self, presented: str | None, principal: Callable[[], Principal]) -> None:
        """Raise unless the caller may read the platform's metrics (`/metrics`): the bearer token
        `presented` is the `metrics_token` setting, or the caller (`principal`, asked only then) is
        an administrator. The metrics name no data, but the platform's load and routes are no one
        else's business, so they are never public."""
        expected = self.settings.metrics_token
        if expected and presented is not None and hmac.compare_digest(presented.encode(), expected.encode()):
            return
        caller = principal()
        if caller.is_admin:
            return
        if caller.anonymous:
            raise Unauthorized("the metrics need the metrics token or an administrator's token")
        raise Forbidden(f"{caller.name} may not read the metrics (administrators and the metrics token may)")

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

    def authorize_steward(self, principal: Principal, connection: Connection, dataset_id: str) -> DatasetRule:
        """The dataset's rule, unless `principal` may not change its record, rules or members."""
        rule = self.rule(connection, dataset_id)
        if rule is not None and self.may_steward(principal, rule):
            return rule
        if principal.anonymous:
            raise Unauthorized("changing a dataset needs a token")
        if rule is None or not self.may_read(principal, rule):
            raise NotFound(f"no dataset {dataset_id!r}")
        raise Forbidden(f"{principal.name} is no data steward of dataset {dataset_id!r}")

    def readers_include(self, wider: DatasetRule, narrower: DatasetRule | None) -> bool:
        """Whether every principal who may read `narrower` may read `wider` as well.

        Exact for the levels. Between `partner` and `internal` datasets it asks that the publisher
        and the read groups of `narrower` be among those of `wider`: sufficient, though it may say
        no where a group's members all happen to belong to the publisher anyway. `narrower` None
        stands for data outside every dataset, which only open data covers.
        """
        if wider.access_level == "open":
            return True
        if narrower is None or narrower.access_level == "open":
            return False
        if wider.access_level == "registered":
            return narrower.access_level in ("registered", "partner", "internal")
        if narrower.access_level == "registered" or wider.access_level not in ("partner", "internal"):
            return False
        if narrower.access_level not in ("partner", "internal"):
            return False  # an unknown level fails closed
        return _member_set(narrower) <= _member_set(wider)

    def authorize_move(self, principal: Principal, connection: Connection, move: Move) -> None:
        """Raise unless `principal` may make `move` (see the module doc for the rule)."""
        target = self.authorize_steward(principal, connection, move.target)
        rules = {rule.id: rule for rule in self.rules(connection)}
        hidden = set(move.missing)
        for dataset_id, entities in move.leaving.items():
            rule = rules.get(dataset_id) if dataset_id is not None else None
            if rule is not None and not self.may_read(principal, rule):
                hidden.update(ident for name, ident in entities if name == move.entity_set)
        if hidden:
            raise NotFound(f"no {move.entity_set} {', '.join(map(str, sorted(hidden)))}")
        unseen = 0
        for dataset_id, entities in sorted(move.leaving.items(), key=lambda item: item[0] or ""):
            rule = rules.get(dataset_id) if dataset_id is not None else None
            if self.may_write(principal, rule):
                continue
            if rule is None:
                raise Forbidden(
                    f"{principal.name} may not move {_names(entities)}: they belong to no dataset, "
                    "and only administrators move such data"
                )
            if self.may_read(principal, rule):
                raise Forbidden(
                    f"{principal.name} may not move {_names(entities)} out of dataset {dataset_id!r}, "
                    "which they may not write"
                )
            unseen += len(entities)
        if unseen:
            raise Forbidden(
                f"{principal.name} may not move these {move.entity_set}: {unseen} of the entities that "
                "would move along belong to datasets they may not write"
            )
        blocking, unseen = [], 0
        for dataset_id, entities in sorted(move.users.items(), key=lambda item: item[0] or ""):
            rule = rules.get(dataset_id) if dataset_id is not None else None
            if self.readers_include(target, rule):
                continue
            if rule is None or self.may_read(principal, rule):
                where = f"dataset {dataset_id!r}" if dataset_id else "no dataset"
                blocking.append(f"{_names(entities)} of {where}")
            else:
                unseen += len(entities)
        if blocking or unseen:
            if unseen:
                blocking.append(f"{unseen} entities of datasets {principal.name} may not read")
            raise Conflict(
                f"moving {move.entity_set} into dataset {move.target!r} would hide them from readers of "
                f"what uses them: {'; '.join(blocking)}. Move those first, or choose a dataset every "
                "one of their readers may read"
            )


def _member_set(rule: DatasetRule) -> frozenset[str]:
    """Who may read a `partner` or `internal` dataset besides administrators, as entries."""
    members = {f"organisation:{rule.publisher_id}"} if rule.publisher_id is not None else set()
    if rule.access_level == "partner":
        members.update(f"group:{group}" for group in rule.read_groups)
    return frozenset(members)


def _names(entities: list[tuple[str, int]], limit: int = 10) -> str:
    """`Datastreams(7), Datastreams(9)` — the first `limit`, then how many more."""
    shown = ", ".join(f"{name}({ident})" for name, ident in entities[:limit])
    more = len(entities) - limit
    return shown + (f" and {more} more" if more > 0 else "")


def _writer_entries(principal: Principal) -> frozenset[str]:
    entries: set[str] = {f"user:{principal.name}"}
    if principal.organisation_id:
        entries.add(f"organisation:{principal.organisation_id}")
    entries.update(f"group:{group}" for group in principal.groups)
    return frozenset(entries)
