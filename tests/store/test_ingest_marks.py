"""The MQTT ingest's record of what each broker session stored: written per batch, read back on resume,
pruned to the session's newest messages (counted in messages, not batches), with fingerprints that
are the same in every process."""

from __future__ import annotations

import subprocess
import sys

from sqlalchemy import Engine, func, select

from urbantwin.store.engine import for_writes
from urbantwin.store.ingest_marks import (
    KEPT_MESSAGES,
    PRUNE_EVERY,
    batch_committed,
    digest,
    mqtt_ingest_marks,
    pack,
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
    rows = []
    with for_writes(engine).begin() as connection:
        for number in range(1, 5):
            rows.append(record_batch(connection, "urbantwin-0", pack({number, 1000 + number}), number))
        record_batch(connection, "urbantwin-1", pack({99}), 1)
    batches = [{1, 1001}, {2, 1002}, {3, 1003}, {4, 1004}]
    assert recent_batches(engine, "urbantwin-0") == list(zip(rows, batches, strict=True))
    # as far back as it takes to hold that many messages
    assert [b for _, b in recent_batches(engine, "urbantwin-0", messages=3)] == batches[2:]
    # only those written after a row already known (another process's, in the same session)
    assert [b for _, b in recent_batches(engine, "urbantwin-0", after=rows[1])] == batches[2:]
    assert [b for _, b in recent_batches(engine, "urbantwin-1")] == [{99}]
    assert recent_batches(engine, "urbantwin-7") == []


def test_only_the_newest_messages_of_a_session_are_kept(engine: Engine) -> None:
    size = KEPT_MESSAGES // 10  # ten batches hold what is kept
    with for_writes(engine).begin() as connection:
        record_batch(connection, "other", pack({1}), 1)
        for number in range(1, PRUNE_EVERY + 1):
            record_batch(connection, "urbantwin-0", pack(range(number * size, (number + 1) * size)), number)
    with engine.connect() as connection:
        kept = connection.execute(
            select(func.count())
            .select_from(mqtt_ingest_marks)
            .where(mqtt_ingest_marks.c.client_id == "urbantwin-0")
        ).scalar_one()
    assert kept == 10  # the last batch was a pruning one
    newest = recent_batches(engine, "urbantwin-0")
    assert sum(len(b) for _, b in newest) == KEPT_MESSAGES
    assert newest[-1][1] == set(range(PRUNE_EVERY * size, (PRUNE_EVERY + 1) * size))
    assert [b for _, b in recent_batches(engine, "other")] == [{1}]  # another session's are its own


def test_a_committed_batch_is_found_by_its_fingerprints(engine: Engine) -> None:
    with for_writes(engine).begin() as connection:
        record_batch(connection, "urbantwin-0", pack({3, 1, 2}), 1)
    assert batch_committed(engine, "urbantwin-0", pack([2, 3, 1]))  # in any order
    assert not batch_committed(engine, "urbantwin-0", pack({1, 2}))
    assert not batch_committed(engine, "urbantwin-1", pack({1, 2, 3}))
