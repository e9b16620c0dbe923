"""What one write changed, as entity ids: the unit that travels from a committed transaction to the
subscribers of every server process.

A `ChangeSet` holds ids only, never rows: it is small enough for a PostgreSQL notification (at most
8,000 bytes, so large sets are split) and it cannot go stale, because whoever delivers it to
subscribers reads the rows as they are once the change is committed. Consecutive ids travel as one
range, so the thousand Observations of a dataArray request or an MQTT batch cost a few bytes.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy import Connection, select

from urbantwin.sensorthings.model import (
    BY_SET_NAME,
    ENTITY_TYPES,
    HISTORICAL_LOCATION,
    OBSERVATION,
    EntityType,
)

#: Largest payload of one PostgreSQL notification is 8,000 bytes; leave room for the channel name.
MAX_PAYLOAD = 7_900

CREATE, UPDATE = "create", "update"

_LINK = re.compile(r"/([A-Za-z]+)\((\d+)\)$")


@dataclass
class ChangeSet:
    """Ids of the entities created and updated, by entity type name ("Observation")."""

    created: dict[str, set[int]] = field(default_factory=dict)
    updated: dict[str, set[int]] = field(default_factory=dict)
    #: The server process whose transaction made the changes (it alone publishes them to MQTT).
    origin: str = ""

    def add(self, kind: str, entity: str, ids: Any) -> None:
        target = self.created if kind == CREATE else self.updated
        target.setdefault(entity, set()).update(ids)

    def merge(self, other: ChangeSet) -> None:
        for entity, ids in other.created.items():
            self.add(CREATE, entity, ids)
        for entity, ids in other.updated.items():
            self.add(UPDATE, entity, ids)

    def __bool__(self) -> bool:
        return any(self.created.values()) or any(self.updated.values())

    def count(self) -> int:
        return sum(len(ids) for ids in self.created.values()) + sum(len(ids) for ids in self.updated.values())

    # --- the wire form (a NOTIFY payload) ---------------------------------------------------------

    def encode(self) -> list[str]:
        """JSON payloads of at most `MAX_PAYLOAD` bytes that together carry the whole set."""
        document = {
            "o": self.origin,
            "c": {name: _ranges(ids) for name, ids in self.created.items() if ids},
            "u": {name: _ranges(ids) for name, ids in self.updated.items() if ids},
        }
        text = orjson.dumps(document).decode()
        if len(text) <= MAX_PAYLOAD:
            return [text]
        halves = [ChangeSet(origin=self.origin), ChangeSet(origin=self.origin)]
        for kind, groups in ((CREATE, self.created), (UPDATE, self.updated)):
            for name, ids in groups.items():
                ordered = sorted(ids)
                middle = len(ordered) // 2
                halves[0].add(kind, name, ordered[:middle])
                halves[1].add(kind, name, ordered[middle:])
        return [payload for half in halves if half for payload in half.encode()]

    @classmethod
    def decode(cls, payload: str) -> ChangeSet:
        document = orjson.loads(payload)
        changes = cls(origin=str(document.get("o", "")))
        for key, kind in (("c", CREATE), ("u", UPDATE)):
            for name, ranges in document.get(key, {}).items():
                if name in ENTITY_TYPES:
                    changes.add(kind, name, (i for first, last in ranges for i in range(first, last + 1)))
        return changes


def _ranges(ids: set[int]) -> list[list[int]]:
    out: list[list[int]] = []
    for ident in sorted(ids):
        if out and out[-1][1] == ident - 1:
            out[-1][1] = ident
        else:
            out.append([ident, ident])
    return out


# --- from a write's answer to its changes ---------------------------------------------------------


def changes_of(connection: Connection, target: str, answer: Any) -> ChangeSet:
    """The entities a SensorThings write (`target` "POST Things", its `ApiResponse`) created or
    changed, read on the write's own connection inside its transaction.

    The answer names the entity a POST created (its `Location`) or a PATCH/PUT changed (its
    selfLink) and the Observations of a dataArray request (their selfLinks). A new entity's children
    can only be new as well, so they are found by walking its to-many relations (a Thing's
    Datastreams and HistoricalLocations, a Datastream's Observations): a deep insert is announced
    whole, except what it links through to-one or many-to-many relations (a Datastream's new
    Sensor, a Thing's new Location), which cannot be told apart from existing entities linked by id.
    Deletes are not announced (the MQTT extension publishes creates and updates).
    """
    changes = ChangeSet()
    method, _, path = target.partition(" ")
    status = getattr(answer, "status", 500)
    if status >= 400:
        return changes
    if method == "POST" and path == "CreateObservations":
        links = answer.body if isinstance(answer.body, list) else []
        changes.add(CREATE, OBSERVATION.name, _observation_ids(links))
        return changes
    if method == "POST":
        found = _entity_of(answer.headers.get("Location", ""))
        if found is not None:
            entity, ident = found
            changes.add(CREATE, entity.name, [ident])
            if entity is not OBSERVATION:
                for child, ids in _children(connection, entity, [ident]):
                    changes.add(CREATE, child.name, ids)
        return changes
    if method in ("PATCH", "PUT") and isinstance(answer.body, dict):
        found = _entity_of(str(answer.body.get("@iot.selfLink", "")))
        if found is not None:
            changes.add(UPDATE, found[0].name, [found[1]])
    return changes


def _observation_ids(links: list[Any]) -> list[int]:
    """The ids in the selfLinks `…/Observations(7)` of a dataArray answer ("error" has none).

    Plain string splitting rather than the link pattern: an MQTT batch answers thousands of links."""
    ids = []
    for link in links:
        if isinstance(link, str) and link.endswith(")"):
            head, _, ident = link[:-1].rpartition("(")
            if head.endswith("/Observations") and ident.isdigit():
                ids.append(int(ident))
    return ids


def _entity_of(link: str) -> tuple[EntityType, int] | None:
    match = _LINK.search(link)
    if match is None or match.group(1) not in BY_SET_NAME:
        return None
    return BY_SET_NAME[match.group(1)], int(match.group(2))


def _children(
    connection: Connection, entity: EntityType, ids: list[int]
) -> Iterator[tuple[EntityType, list[int]]]:
    """The entities that point to the new `ids` through a foreign key (all new with them), and the
    HistoricalLocations of a new Location (recorded when it was given to its Thing)."""
    for relation in entity.relations.values():
        child = ENTITY_TYPES[relation.target]
        if child is HISTORICAL_LOCATION and relation.link is not None:
            link = relation.link
            assert relation.link_self and relation.link_target
            found = list(
                connection.execute(
                    select(link.c[relation.link_target]).where(link.c[relation.link_self].in_(ids))
                ).scalars()
            )
            if found:
                yield child, found
            continue
        if not relation.reverse_fk:
            continue
        table = child.table
        found = list(
            connection.execute(select(table.c.id).where(table.c[relation.reverse_fk].in_(ids))).scalars()
        )
        if found:
            yield child, found
            if child is not OBSERVATION:
                yield from _children(connection, child, found)
