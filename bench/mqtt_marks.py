"""CPU of the MQTT ingest's exactly-once bookkeeping per message, before and after the fix of the
soak's duplicates (issue 24/25): what `MqttBridge._store` does per batch besides storing it.

- before (urbantwin f2e93b8): a set of the batch's fingerprints, a DUP message looked up in the
  newest 16 batches, the set appended to a deque, the set packed for its `mqtt_ingest_marks` row;
- after: the fingerprints listed once, DUP messages looked up in the batch so far and in `Marks`
  (the session's newest 50,000 messages, one dict), the batch added to `Marks` (and the oldest
  leaving), the fingerprints sorted and packed (`pack`, so a batch can be found again by them).

Batches of 2,000 messages like bench/live.py's (`{"result": …, "phenomenonTime": …}` on 100
Datastreams' topics), none DUP (the steady state) and, separately, all DUP and stored already (right
after a reconnect). Process CPU time (`time.process_time`), best of 5 rounds of 200 batches.

    nice -n 19 .venv/bin/python bench/mqtt_marks.py
"""

from __future__ import annotations

import datetime as dt
import os
import time
from collections import deque

import numpy as np
import orjson
from host import cpu_model

from urbantwin.live.mqtt import INGEST_BATCH, Marks
from urbantwin.live.wire import Message
from urbantwin.store.ingest_marks import digest, pack

ROUNDS, BATCHES = 5, 200


def messages(batch: int, dup: bool) -> list[Message]:
    start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC) + dt.timedelta(seconds=batch * INGEST_BATCH)
    out = []
    for i in range(INGEST_BATCH):
        stamp = (start + dt.timedelta(seconds=i)).isoformat().replace("+00:00", "Z")
        payload = orjson.dumps({"result": (i % 1000) / 10, "phenomenonTime": stamp})
        out.append(Message(f"v1.1/Datastreams({i % 100 + 1})/Observations", payload, 1, i + 1, dup, False, 1))
    return out


def before(batches: list[list[Message]]) -> None:
    recent: deque[set[int]] = deque(maxlen=16)
    for batch in batches:
        hashes = {digest(m.topic, m.payload) for m in batch}
        for m in batch:
            if m.dup and any(digest(m.topic, m.payload) in seen for seen in recent):
                continue
        np.fromiter(hashes, dtype="<u8", count=len(hashes)).tobytes()
        recent.append(hashes)


def after(batches: list[list[Message]]) -> None:
    marks = Marks()
    for row, batch in enumerate(batches):
        fingerprints = [digest(m.topic, m.payload) for m in batch]
        hashes: set[int] = set()
        for message, fingerprint in zip(batch, fingerprints, strict=True):
            if message.dup and (fingerprint in marks or fingerprint in hashes):
                continue
            hashes.add(fingerprint)
        pack(hashes)
        marks.add(hashes, row)


def best(run: object, batches: list[list[Message]]) -> float:
    """µs of CPU per message, the best of `ROUNDS`."""
    times = []
    for _ in range(ROUNDS):
        started = time.process_time()
        run(batches)  # type: ignore[operator]
        times.append(time.process_time() - started)
    return min(times) / (len(batches) * INGEST_BATCH) * 1e6


def main() -> None:
    print(f"{cpu_model()}, load average {os.getloadavg()[0]:.2f}")
    fresh = [messages(b, dup=False) for b in range(BATCHES)]
    print(f"no DUP: before {best(before, fresh):.2f}, after {best(after, fresh):.2f} µs/message")
    # Sent again after a reconnect: the same messages once more, now with DUP.
    resent = [[Message(m.topic, m.payload, 1, m.packet_id, True, False, 2) for m in b] for b in fresh[-8:]]
    again = fresh[-8:] + resent
    print(f"with DUP: before {best(before, again):.2f}, after {best(after, again):.2f} µs/message")


if __name__ == "__main__":
    main()
