"""What the writes of one request created, updated and deleted, as the writer did it.

The writer notes every row it inserts, every entity it updates and every entity it deletes here, so
whoever announces changes (the live updates: MQTT, Server-Sent Events, the other server processes)
reads the fact rather than reconstructing it from the answer: a deep insert's new Sensors, Locations,
ObservedProperties and FeaturesOfInterest are recorded like its Thing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection

CREATED, UPDATED, DELETED = "created", "updated", "deleted"

#: Where the record of the request being written lies on its connection (`Connection.info`).
_KEY = "urbantwin.write_record"


@dataclass
class WriteRecord:
    """Ids by entity type name ("Observation") of what one request created, updated and deleted.

    A deleted entity's cascade (the Observations of a deleted Datastream) is the database's and is not
    listed; an entity both created and updated in one request is listed as created only.
    """

    created: dict[str, set[int]] = field(default_factory=dict)
    updated: dict[str, set[int]] = field(default_factory=dict)
    deleted: dict[str, set[int]] = field(default_factory=dict)

    def add(self, kind: str, entity: str, ids: Any) -> None:
        target = {CREATED: self.created, UPDATED: self.updated, DELETED: self.deleted}[kind]
        target.setdefault(entity, set()).update(ids)

    def __bool__(self) -> bool:
        return any(self.created.values()) or any(self.updated.values()) or any(self.deleted.values())

    def settled(self) -> WriteRecord:
        """The record without updates of entities it created (they are announced as new)."""
        updated = {
            name: ids - self.created.get(name, set())
            for name, ids in self.updated.items()
            if ids - self.created.get(name, set())
        }
        return WriteRecord(dict(self.created), updated, dict(self.deleted))


def begin_record(connection: Connection) -> WriteRecord:
    """Start recording the writes made on `connection` (one request); `end_record` takes it back."""
    record = WriteRecord()
    connection.info[_KEY] = record
    return record


def end_record(connection: Connection) -> WriteRecord:
    return connection.info.pop(_KEY, None) or WriteRecord()


def current_record(connection: Connection) -> WriteRecord:
    """The record of the request writing on `connection`; a throw-away one outside a request, so a
    writer used on its own (an importer) never leaves a record behind on a pooled connection."""
    record = connection.info.get(_KEY)
    return record if record is not None else WriteRecord()
