"""The PostgreSQL bus of the live updates: stopping a server process does not wait for its listener."""

from __future__ import annotations

import logging
import time

import pytest

from urbantwin.live.changes import ChangeSet
from urbantwin.live.notify import PostgresBus
from urbantwin.settings import Settings
from urbantwin.store.engine import make_engine


class Recording:
    """Stands in for a process's hub: keeps what the bus hands on."""

    def __init__(self) -> None:
        self.dispatched: list[tuple[ChangeSet, bool]] = []

    def dispatch(self, changes: ChangeSet, local: bool) -> None:
        self.dispatched.append((changes, local))


def test_a_bus_stops_at_once_and_other_processes_pass_over_its_wake_up(
    postgres_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    engine = make_engine(Settings(database_url=postgres_url))
    other_hub = Recording()
    other = PostgresBus(engine, other_hub, "other process")  # type: ignore[arg-type]
    other.start()
    try:
        seconds = []
        for _ in range(3):
            bus = PostgresBus(engine, Recording(), "stopping process")  # type: ignore[arg-type]
            bus.start()
            began = time.perf_counter()
            bus.stop()
            seconds.append(time.perf_counter() - began)
        # The listener waits half a second for notifications; a stop used to wait for the end of it.
        assert min(seconds) < 0.4, seconds
        time.sleep(0.7)  # the other process's listener has gone round at least once
    finally:
        other.stop()
        engine.dispose()
    assert other_hub.dispatched == []
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING], caplog.text
