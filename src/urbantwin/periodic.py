"""A task repeated every so many seconds in a thread of its own while the server runs.

The modules' background chores (keeping the broker's accounts in step, sampling the metrics' gauges)
share one shape: a daemon thread, a stop event that also paces the loop (so stopping never waits out
an interval), and a failure that is logged and leaves the next round to try again. Written here once
instead of in each module; a module mounts `start` and `stop` as its hooks.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger("urbantwin")


class Periodic:
    """Calls `task` every `interval` seconds (first at once when `at_start`, else after one interval)
    until `stop()`. One thread per instance; `start` and `stop` may be called again."""

    def __init__(
        self, name: str, interval: float, task: Callable[[], object], *, at_start: bool = False
    ) -> None:
        if interval <= 0:
            raise ValueError("interval must be positive")
        self.name = name
        self.interval = interval
        self.task = task
        self.at_start = at_start
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        if self.at_start:
            self._once()
        while not self._stop.wait(self.interval):
            self._once()

    def _once(self) -> None:
        try:
            self.task()
        except Exception:  # noqa: BLE001 - a failed round is logged; the next one may succeed
            log.exception("%s: a periodic task failed; it runs again in %.0f s", self.name, self.interval)

    def stop(self, timeout: float = 15.0) -> None:
        """Ends the loop; waits up to `timeout` for a round under way to finish."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=timeout)
            self._thread = None
