"""Accountability: who wrote what and who read restricted data, and how much each dataset is used.

Writes are recorded in the transaction of the write itself, so a write and its record are
committed together or not at all. Reads are recorded after the answer, batched (a read must not
become a write transaction of its own): restricted reads go to `audit_log`, every read adds to the
per-dataset, per-day request counts of `dataset_usage` that the city reports. Batches are written
every few seconds and when the server stops; a process killed with -9 loses at most that window of
read records — never a write's.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError

from urbantwin.access.principal import Principal
from urbantwin.store.access_schema import audit_log
from urbantwin.store.counters import add_usage
from urbantwin.store.engine import for_writes

log = logging.getLogger("urbantwin.access")

#: Seconds between two batches of read records.
FLUSH_SECONDS = 5.0
#: Where the usage of reads that span datasets (a collection over all visible ones) is counted.
ACROSS_DATASETS = ""


def record(
    principal: Principal,
    action: str,
    api: str,
    dataset_id: str | None,
    target: str,
    status: int,
    time: datetime | None = None,
) -> dict[str, Any]:
    return {
        "time": time or datetime.now(UTC),
        "principal": principal.name,
        "user_id": principal.user_id,
        "action": action,
        "api": api,
        "dataset_id": dataset_id,
        "target": target[:2000],
        "status": status,
    }


class AuditLog:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._reads: list[dict[str, Any]] = []
        self._usage: Counter[tuple[str, str, str]] = Counter()
        self._lock = threading.Lock()
        self._timer: threading.Timer | None = None

    def write(self, connection: Connection, principal: Principal, action: str, api: str, **what: Any) -> None:
        """Record a write inside its own transaction (`connection`)."""
        connection.execute(
            audit_log.insert().values(
                record(
                    principal,
                    action,
                    api,
                    what.get("dataset_id"),
                    what.get("target", ""),
                    what.get("status", 200),
                )
            )
        )

    def read(
        self, principal: Principal, api: str, datasets: list[str | None], target: str, restricted: bool
    ) -> None:
        """Count a read against each dataset it touched; keep a record when restricted data was read."""
        now = datetime.now(UTC)
        day = now.date().isoformat()
        with self._lock:
            for dataset in datasets or [None]:
                self._usage[(dataset or ACROSS_DATASETS, day, api)] += 1
                if restricted:
                    self._reads.append(record(principal, "read", api, dataset, target, 200, now))
            self._schedule()

    def _schedule(self) -> None:
        if self._timer is None:
            self._timer = threading.Timer(FLUSH_SECONDS, self.flush)
            self._timer.daemon = True
            self._timer.start()

    def flush(self) -> None:
        with self._lock:
            reads, usage = self._reads, self._usage
            self._reads, self._usage = [], Counter()
            self._timer = None
        if not reads and not usage:
            return
        try:
            with for_writes(self.engine).begin() as connection:
                if reads:
                    connection.execute(audit_log.insert(), reads)
                add_usage(connection, dict(usage))
        except DBAPIError as exc:
            # The store is away (a restart, a dropped database): keep the records for the next flush
            # rather than end the timer's thread with an error nobody sees.
            log.warning("audit: %d read records and usage counts not written yet (%s)", len(reads), exc.orig)
            with self._lock:
                self._reads[:0] = reads
                self._usage.update(usage)
