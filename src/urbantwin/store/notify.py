"""PostgreSQL's notifications and advisory locks, the only SQL the live updates need.

Several server processes on one PostgreSQL tell each other of committed changes by `NOTIFY` on one
channel and `LISTEN` on it; each takes a numbered slot by an advisory lock held by its listening
connection. This module alone speaks that SQL (`store/` alone knows dialects); `live/` decides what
travels and when.
"""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
from sqlalchemy import Connection, Engine, text

#: The channel every server process listens on.
CHANNEL = "urbantwin_live"
#: First key of the advisory locks by which each process takes a slot.
_SLOT_LOCK = 0x75745F6C  # "ut_l"


def listening_connection(engine: Engine) -> psycopg.Connection:
    """A connection of its own (outside the pool, autocommit) that listens on the channel."""
    url = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    connection = psycopg.connect(url, autocommit=True)
    try:
        connection.execute(f"LISTEN {CHANNEL}")
    except BaseException:
        connection.close()
        raise
    return connection


def try_slot(connection: psycopg.Connection, slot: int) -> bool:
    """Take `slot` for as long as `connection` lives, unless another connection holds it."""
    row = connection.execute("SELECT pg_try_advisory_lock(%s, %s)", (_SLOT_LOCK, slot)).fetchone()
    return bool(row and row[0])


def notifications(connection: psycopg.Connection, timeout: float) -> Iterator[str]:
    """The payloads that arrive on the listening `connection` within `timeout` seconds."""
    for notice in connection.notifies(timeout=timeout):
        yield notice.payload


def notify(connection: Connection, payloads: list[str]) -> None:
    """Send each payload on the channel, delivered to the listeners when `connection` commits."""
    for payload in payloads:
        connection.execute(
            text("SELECT pg_notify(:channel, :payload)"), {"channel": CHANNEL, "payload": payload}
        )
