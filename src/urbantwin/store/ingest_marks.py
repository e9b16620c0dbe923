"""What the MQTT ingest has stored, per broker session, so a message the broker sends again is not
stored twice.

MQTT at QoS 1 is "at least once": the server acknowledges (PUBACK) a message after the transaction
holding it commits, and every unacknowledged message of a session is sent again (with the DUP flag)
when the session's connection is made anew: after a crash, after a connection the broker or the
process gave up (a keepalive missed, a write that timed out), after a restart. The fingerprints of
each committed batch are written in that same transaction, one row per batch (a packed array of
64-bit digests), so whoever holds the session next knows what it stored, and acknowledges those
messages without storing them again: each Observation is stored exactly once.

What must be remembered is counted in messages, not batches: the broker holds at most its in-flight
window (the receiver's Receive Maximum) unacknowledged for a session, and a batch may hold one
message or thousands. So each session keeps the rows of its newest `KEPT_MESSAGES` messages (more
than any in-flight window plus a batch); older rows are pruned every `PRUNE_EVERY` batches, by the
session's own index.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import UTC, datetime

import numpy as np
from sqlalchemy import (
    Column,
    Connection,
    Engine,
    Index,
    LargeBinary,
    Table,
    Text,
    delete,
    func,
    insert,
    select,
)

from urbantwin.store.schema import metadata
from urbantwin.store.types import Id, UtcTime

#: Messages remembered per session (the newest); pruned every `PRUNE_EVERY` batches.
KEPT_MESSAGES = 50_000
PRUNE_EVERY = 32
#: Bytes of one fingerprint in `digests`.
_DIGEST_BYTES = 8

mqtt_ingest_marks = Table(
    "mqtt_ingest_marks",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    # The broker session (its client id) whose messages these were.
    Column("client_id", Text, nullable=False),
    Column("committed", UtcTime, nullable=False),
    # `digest` of every message of the batch, as little-endian unsigned 64-bit integers.
    Column("digests", LargeBinary, nullable=False),
    Index("mqtt_ingest_marks_client", "client_id", "id"),
)


def digest(topic: str, payload: bytes) -> int:
    """A message's fingerprint, the same in every process (Python's `hash` is salted per process)."""
    return int.from_bytes(hashlib.blake2b(topic.encode() + b"\0" + payload, digest_size=8).digest(), "little")


def pack(digests: Iterable[int]) -> bytes:
    """A batch's fingerprints as they are stored (and compared, `batch_committed`)."""
    values = sorted(digests)
    return np.array(values, dtype="<u8").tobytes()


def record_batch(connection: Connection, client_id: str, packed: bytes, number: int) -> int:
    """Write a committed batch's fingerprints (`pack`) in its transaction, and return the row's id;
    every `PRUNE_EVERY`th batch (by the caller's running `number`) drop the session's rows beyond
    those of its newest `KEPT_MESSAGES` messages."""
    row = connection.execute(
        insert(mqtt_ingest_marks)
        .values(client_id=client_id, committed=datetime.now(UTC), digests=packed)
        .returning(mqtt_ingest_marks.c.id)
    ).scalar_one()
    if number % PRUNE_EVERY == 0:
        _prune(connection, client_id)
    return int(row)


def _prune(connection: Connection, client_id: str) -> None:
    sizes = connection.execute(
        select(mqtt_ingest_marks.c.id, func.length(mqtt_ingest_marks.c.digests))
        .where(mqtt_ingest_marks.c.client_id == client_id)
        .order_by(mqtt_ingest_marks.c.id.desc())
    )
    kept = 0
    for row_id, size in sizes:
        kept += size // _DIGEST_BYTES
        if kept >= KEPT_MESSAGES:
            sizes.close()
            connection.execute(
                delete(mqtt_ingest_marks).where(
                    mqtt_ingest_marks.c.client_id == client_id, mqtt_ingest_marks.c.id < row_id
                )
            )
            return


def recent_batches(
    engine: Engine, client_id: str, after: int = 0, messages: int = KEPT_MESSAGES
) -> list[tuple[int, set[int]]]:
    """(row id, fingerprints) of the session's newest batches, oldest first: those written after the
    row `after`, and no further back than it takes to hold `messages` messages."""
    batches: list[tuple[int, set[int]]] = []
    with engine.connect() as connection:
        rows = connection.execute(
            select(mqtt_ingest_marks.c.id, mqtt_ingest_marks.c.digests)
            .where(mqtt_ingest_marks.c.client_id == client_id, mqtt_ingest_marks.c.id > after)
            .order_by(mqtt_ingest_marks.c.id.desc())
        )
        held = 0
        for row_id, packed in rows:
            batch = set(np.frombuffer(packed, dtype="<u8").tolist())
            batches.append((int(row_id), batch))
            held += len(batch)
            if held >= messages:
                rows.close()
                break
    return batches[::-1]


def batch_committed(engine: Engine, client_id: str, packed: bytes) -> bool:
    """Whether a batch with exactly these fingerprints (`pack`) is among the session's rows: asked
    when a commit's answer was lost, before the batch is stored again."""
    with engine.connect() as connection:
        found = connection.execute(
            select(mqtt_ingest_marks.c.id)
            .where(mqtt_ingest_marks.c.client_id == client_id, mqtt_ingest_marks.c.digests == packed)
            .limit(1)
        ).first()
    return found is not None
