"""Fixtures of the live tests: the app with MQTT on against the machine's Mosquitto, served for real.

Each test gets its own MQTT client id and topic prefix, so runs on one broker (concurrent test
sessions, other tests of this one) never see each other's messages.
"""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator
from functools import cache

import httpx
import pytest

from tests.conftest import ADMIN_TOKEN, backend_missing
from tests.live.helpers import MAIN_BROKER
from urbantwin.settings import Settings


@pytest.fixture
def prefix() -> str:
    """The topic prefix of this test (`t1a2b3c/` → `t1a2b3c/v1.1/Observations`)."""
    return f"t{uuid.uuid4().hex[:10]}/"


@cache
def _broker_problem() -> str | None:
    """Why the machine's Mosquitto cannot be reached (asked once per test process), or None."""
    try:
        socket.create_connection(MAIN_BROKER, timeout=2).close()
    except OSError as exc:
        return (
            f"Mosquitto is not reachable at {MAIN_BROKER[0]}:{MAIN_BROKER[1]} ({exc.strerror or exc}): "
            "`apt-get install mosquitto` and start it (`systemctl start mosquitto` or `mosquitto -d`)"
        )
    return None


@pytest.fixture
def settings(settings: Settings, prefix: str) -> Settings:
    problem = _broker_problem()
    if problem:
        backend_missing(problem)
    return settings.with_overrides(
        mqtt_url=f"mqtt://{MAIN_BROKER[0]}:{MAIN_BROKER[1]}",
        mqtt_client_id=f"test-{prefix.rstrip('/')}",
        mqtt_topic_prefix=prefix,
        mqtt_write_token=ADMIN_TOKEN,
        mqtt_select_topics="Observations?$select=result,phenomenonTime",
        live_keepalive_seconds=1,
    )


@pytest.fixture
def http(live_server: str) -> Iterator[httpx.Client]:
    """A real HTTP client of the served app, writing as the administrator."""
    with httpx.Client(
        base_url=live_server, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, timeout=30
    ) as client:
        yield client
