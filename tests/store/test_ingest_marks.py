"""The MQTT ingest's record of what each broker session stored: written per batch, read back on resume,
pruned to the newest batches, with fingerprints that are the same in every process."""

from __future__ import annotations

import subprocess
import sys

from sqlalchemy import Engine, func, select

from urbantwin.store.engine import for_writes
from urbantwin.store.ingest_marks import (
    KEPT_BATCHES,
    PRUNE_EVERY,
    digest,
    mqtt_ingest_marks,
    recent_batches,
    record_batch,
)


def test_a_fingerprint_is_the_same_in_another_process() -> None:
    here = digest("v1.1/Datastreams(1)/Observations", b'{"result": 1}')
    there = subprocess.run(
        [sys.executable, "-c", "from urbantwin.store.ingest_marks import digest; "
         "print(digest('v1.1/Datastreams(1)/Observations', b'{\"result\": 1}'))"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert int(there) == here
    assert digest("v1.1/Datastreams(1)/Observations", b'{"result": 2}') != here
    assert digest("v1.1/Datastreams(2)/Observations", b'{"result": 1}') != here


def test_a_resumed_session_reads_its_newest_batches_oldest_first(engine: Engine) -> None:
    with for_writes(engine).begin() as connection:
        for number in range(1, 5):
            record_batch(connection, "urbantwin-0", {number, 1000 + number}, number)
        record_batch(connection, "urbantwin-1", {99}, 1)
    assert recent_batches(engine, "urbantwin-0", count=2) == [{3, 1003}, {4, 1004}]
    assert recent_batches(engine, "urbantwin-1") == [{99}]
    assert recent_batches(engine, "urbantwin-7") == []


def test_only_the_newest_batches_of_a_session_are_kept(engine: Engine) -> None:
    batches = KEPT_BATCHES + 2 * PRUNE_EVERY
    with for_writes(engine).begin() as connection:
        record_batch(connection, "other", {1}, 1)
        for number in range(1, batches + 1):
            record_batch(connection, "urbantwin-0", {number}, number)
    with engine.connect() as connection:
        kept = connection.execute(
            select(func.count())
            .select_from(mqtt_ingest_marks)
            .where(mqtt_ingest_marks.c.client_id == "urbantwin-0")
        ).scalar_one()
    assert kept == KEPT_BATCHES  # the last batch was a pruning one
    assert recent_batches(engine, "urbantwin-0", count=1) == [{batches}]
    assert recent_batches(engine, "other") == [{1}]  # another session's are its own
