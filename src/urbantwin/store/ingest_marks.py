"""What the MQTT ingest has stored, per broker session, so a message the broker sends again after a
crash is not stored twice.

MQTT at QoS 1 is "at least once": the server acknowledges (PUBACK) a message after the transaction
holding it commits, and a process killed between the two gets the message again from the broker when
its session resumes (with the DUP flag). The fingerprints of each committed batch are written in that
same transaction, one row per batch (a packed array of 64-bit digests), so a restarted process knows
the last batches of its session and acknowledges those messages without storing them again: each
Observation is stored exactly once. Only the newest `KEPT_BATCHES` rows of a session are kept; the
broker redelivers no more than its in-flight window (a batch at most) after a reconnect.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import numpy as np
from sqlalchemy import Column, Connection, Engine, Index, LargeBinary, Table, Text, delete, insert, select

from urbantwin.store.schema import metadata
from urbantwin.store.types import Id, UtcTime

#: Batches remembered per session (the newest); pruned every `PRUNE_EVERY` batches.
KEPT_BATCHES = 64
PRUNE_EVERY = 32
#: Batches read back when a session resumes.
RESUMED_BATCHES = 16

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


def record_batch(connection: Connection, client_id: str, digests: set[int], number: int) -> None:
    """Write a committed batch's fingerprints in its transaction; every `PRUNE_EVERY`th batch (by the
    caller's running `number`) drop the session's rows beyond the newest `KEPT_BATCHES`."""
    packed = np.fromiter(digests, dtype="<u8", count=len(digests)).tobytes()
    connection.execute(
        insert(mqtt_ingest_marks).values(client_id=client_id, committed=datetime.now(UTC), digests=packed)
    )
    if number % PRUNE_EVERY == 0:
        newest = (
            select(mqtt_ingest_marks.c.id)
            .where(mqtt_ingest_marks.c.client_id == client_id)
            .order_by(mqtt_ingest_marks.c.id.desc())
            .limit(KEPT_BATCHES)
            .subquery()
        )
        connection.execute(
            delete(mqtt_ingest_marks).where(
                mqtt_ingest_marks.c.client_id == client_id,
                mqtt_ingest_marks.c.id < select(newest.c.id).order_by(newest.c.id).limit(1).scalar_subquery(),
            )
        )


def recent_batches(engine: Engine, client_id: str, count: int = RESUMED_BATCHES) -> list[set[int]]:
    """The fingerprints of the session's newest `count` batches, oldest first."""
    with engine.connect() as connection:
        rows = connection.execute(
            select(mqtt_ingest_marks.c.digests)
            .where(mqtt_ingest_marks.c.client_id == client_id)
            .order_by(mqtt_ingest_marks.c.id.desc())
            .limit(count)
        ).scalars()
        batches = [set(np.frombuffer(packed, dtype="<u8").tolist()) for packed in rows]
    return batches[::-1]
