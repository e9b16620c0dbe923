"""Readiness: whether this server process can do its work now, and if not, why.

Checked on each call (a load balancer asks every few seconds): the store answers, its schema is
the one this version of the platform needs, and, when MQTT is configured, the broker is connected.
Liveness (`/health`) checks nothing but that the process answers, so a slow database never makes a
supervisor restart a healthy server.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.exc import SQLAlchemyError

from urbantwin.logs import redact
from urbantwin.store.engine import head_revision, store_revision

OK = "ok"

log = logging.getLogger("urbantwin.operations")


@dataclass(frozen=True)
class Readiness:
    """The outcome of each check (`ok` or the reason it failed), and whether all passed."""

    checks: dict[str, str] = field(default_factory=dict)

    @property
    def ready(self) -> bool:
        return all(outcome == OK for outcome in self.checks.values())

    def problems(self) -> str:
        return "; ".join(f"{name}: {outcome}" for name, outcome in self.checks.items() if outcome != OK)


def check_store(engine: Engine) -> dict[str, str]:
    """The store's checks: `database` (it answers) and `migrations` (its schema is at head)."""
    try:
        with engine.connect() as connection:
            connection.execute(select(1))
            revision = store_revision(connection)
    except SQLAlchemyError as exc:
        # The driver's words name the database's address: logged for the operator, not answered
        # to whoever asks /ready.
        original = getattr(exc, "orig", None)
        reason = (str(original if original is not None else exc).splitlines() or [type(exc).__name__])[0]
        log.warning("not ready: the database is unreachable: %s", redact(reason))
        return {"database": "unreachable", "migrations": "unknown"}
    head = head_revision()
    if revision == head:
        migrations = OK
    elif revision is None:
        migrations = f"the store has no schema; run `urbantwin db upgrade` (to {head})"
    else:
        migrations = f"the store is at {revision}, this version needs {head}; run `urbantwin db upgrade`"
    return {"database": OK, "migrations": migrations}


def check_broker(live: Any) -> dict[str, str]:
    """The broker's check when MQTT is configured (`live.mqtt`), else none."""
    mqtt = getattr(live, "mqtt", None)
    if mqtt is None:
        return {}
    return {"broker": OK if mqtt.connected.is_set() else "not connected to the MQTT broker"}
