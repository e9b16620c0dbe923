"""What one write changed, as entity ids: the unit that travels from a committed transaction to the
subscribers of every server process.

A `ChangeSet` holds ids only, never rows: it is small enough for a PostgreSQL notification (at most
8,000 bytes, so large sets are split) and it cannot go stale, because whoever delivers it to
subscribers reads the rows as they are once the change is committed. Consecutive ids travel as one
range, so the thousand Observations of a dataArray request or an MQTT batch cost a few bytes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from urbantwin.sensorthings.model import ENTITY_TYPES
from urbantwin.sensorthings.record import WriteRecord

#: Largest payload of one PostgreSQL notification is 8,000 bytes; leave room for the channel name.
MAX_PAYLOAD = 7_900

CREATE, UPDATE = "create", "update"


@dataclass
class ChangeSet:
    """Ids of the entities created and updated, by entity type name ("Observation")."""

    created: dict[str, set[int]] = field(default_factory=dict)
    updated: dict[str, set[int]] = field(default_factory=dict)
    #: The server process whose transaction made the changes (it alone publishes them to MQTT).
    origin: str = ""

    @classmethod
    def of(cls, record: WriteRecord) -> ChangeSet:
        """The creates and updates the writer recorded (deletes are not announced)."""
        changes = cls()
        for name, ids in record.created.items():
            changes.add(CREATE, name, ids)
        for name, ids in record.updated.items():
            changes.add(UPDATE, name, ids)
        return changes

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
