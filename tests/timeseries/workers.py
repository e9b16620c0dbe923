"""Code run in other processes by the tests (spawned: it must be importable by name)."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

from urbantwin.settings import Settings
from urbantwin.store import rollups
from urbantwin.store.engine import make_engine


def hammer(database_url: str, datastream: int, bounds: list[datetime], ready: Any, stop: Any) -> None:
    """Ask for the same aggregate again and again from a process of its own until `stop` is set,
    without the count guard (which would repair a double count and so hide it from the test)."""
    rollups.GUARD_ROWS = -1
    engine = make_engine(Settings(database_url=database_url))
    try:
        rollups.aggregate(engine, datastream, bounds)
        ready.set()
        deadline = time.monotonic() + 60
        while not stop.is_set() and time.monotonic() < deadline:
            rollups.aggregate(engine, datastream, bounds)
    finally:
        engine.dispose()
