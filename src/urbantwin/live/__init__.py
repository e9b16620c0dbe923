"""Live data: every committed change reaches MQTT subscribers and browsers, from any server process.

    write (HTTP, $batch, MQTT) ─ commit ─▶ CommitBound ─▶ bus ─▶ the Hub of every process
                                    (NOTIFY on PostgreSQL,    ├▶ MqttBridge (its own changes)
                                     in-process on SQLite)    └▶ SSE streams (/api/live/observations)

`Live` wires these together for one app: it is built with the app, started and stopped by the app's
lifespan. See docs/live.md for what is published where, and who may see it.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
import uuid
from typing import Any

from sqlalchemy import Connection, Engine

from urbantwin.access.authenticate import Authenticator
from urbantwin.access.gate import Access
from urbantwin.live.changes import ChangeSet
from urbantwin.live.mqtt import CONFORMANCE_CREATE, CONFORMANCE_RECEIVE, MqttBridge
from urbantwin.live.notify import CommitBound, Hub, LocalBus, PostgresBus
from urbantwin.sensorthings.record import WriteRecord
from urbantwin.sensorthings.service import SensorThingsService
from urbantwin.settings import Settings

log = logging.getLogger("urbantwin.live")

MQTT_OFF = (
    "MQTT is off: no broker is configured (URBANTWIN_MQTT_URL, e.g. mqtt://127.0.0.1:1883). New "
    "Observations still reach browsers as Server-Sent Events at /api/live/observations."
)


class Live:
    """The live machinery of one app (one server process)."""

    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        service: SensorThingsService,
        access: Access,
        authenticator: Authenticator,
    ) -> None:
        self.settings = settings
        self.service = service
        #: This process, as named in the notifications it sends.
        self.origin = uuid.uuid4().hex
        self.hub = Hub(engine)
        self.bus: LocalBus | PostgresBus = (
            LocalBus(self.hub)
            if engine.dialect.name == "sqlite"
            else PostgresBus(engine, self.hub, self.origin)
        )
        self.commits = CommitBound(engine, self.bus.publish)
        self.mqtt = MqttBridge(settings, service, authenticator, access) if settings.mqtt_url else None
        self.running = False
        self._users = 0
        #: Set when the server stops: event streams end (see `_hook_signals`).
        self.closing = threading.Event()
        self._describe()

    def _describe(self) -> None:
        """The MQTT extension's broker in the service root when it is on (its conformance classes
        are declared in `live/module.py` and listed by the app), or why it is off."""
        if self.mqtt is None:
            self.service.extra_server_settings["urbantwin:mqtt"] = MQTT_OFF
            return
        endpoint = {"endpoints": [self.mqtt.public_url]}
        self.service.extra_server_settings[CONFORMANCE_RECEIVE] = endpoint
        if self.mqtt.creates:
            self.service.extra_server_settings[CONFORMANCE_CREATE] = endpoint

    def start(self) -> None:
        """Start (once: an app whose lifespan runs twice, as in tests, shares one machinery)."""
        self._users += 1
        if self._users > 1:
            return
        self._hook_signals()
        self.commits.install()
        self.service.on_write = self._on_write
        self.hub.start()
        slot = self.bus.start()
        if self.mqtt is None:
            log.info(MQTT_OFF)
        else:
            self.mqtt.start(slot)
            if isinstance(self.bus, PostgresBus):
                self.bus.on_slot = self.mqtt.move
            self.hub.add_sink(self.mqtt)
        self.running = True

    def stop(self) -> None:
        self._users -= 1
        if self._users > 0:
            return
        self.running = False
        self._end_streams()
        self._unhook_signals()
        if self.service.on_write == self._on_write:
            self.service.on_write = None
        if self.mqtt is not None:
            self.hub.remove_sink(self.mqtt)
            self.mqtt.stop()
        self.bus.stop()
        self.hub.stop()
        self.commits.remove()

    # --- ending the event streams when the server stops ---------------------------------------

    def _hook_signals(self) -> None:
        """End the event streams as soon as the server is told to stop.

        uvicorn waits for open responses to finish before it shuts the app down, and an event stream
        never finishes: without this, SIGTERM (a rolling restart) would wait for every browser to go.
        The server's own handlers still run after ours.
        """
        self._previous_handlers: dict[int, Any] = {}
        for number in (signal.SIGTERM, signal.SIGINT):
            previous = signal.getsignal(number)
            if not callable(previous):
                continue  # not uvicorn's: default or ignored, leave it alone

            def handler(sig: int, frame: Any, previous: Any = previous) -> None:
                self._end_streams()
                previous(sig, frame)

            try:
                signal.signal(number, handler)
            except ValueError:
                return  # not the main thread (a server run in a thread, as in tests): nothing to hook
            self._previous_handlers[number] = previous

    def _unhook_signals(self) -> None:
        for number, previous in getattr(self, "_previous_handlers", {}).items():
            with contextlib.suppress(ValueError):
                signal.signal(number, previous)
        self._previous_handlers = {}

    def _end_streams(self) -> None:
        self.closing.set()
        for sink in self.hub.sinks():
            end = getattr(sink, "end", None)
            if end is not None:
                end()

    def _on_write(self, connection: Connection, record: WriteRecord) -> None:
        """A write's record becomes the change set announced once its transaction commits (deletes
        are not announced: the MQTT extension publishes creates and updates)."""
        self.commits.record(connection, ChangeSet.of(record))


__all__ = ["Live"]
