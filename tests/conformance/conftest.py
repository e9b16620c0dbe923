"""Our own server for the checker, served for real on 127.0.0.1 (uvicorn, `live_server`) on both
backends: MQTT on against the machine's Mosquitto (with a topic prefix of its own, so that runs on one
broker never see each other's messages), and a small city model of four features in EPSG:25833 in
the OGC API."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from sqlalchemy import Engine

from tests.conftest import ADMIN_TOKEN, TEST_CITY, backend_missing
from tests.live.conftest import _broker_problem
from tests.live.helpers import MAIN_BROKER
from tests.ogcapi.conftest import INFO, city_geojson, write
from urbantwin.ingest.geojson import import_geojson
from urbantwin.settings import Settings
from urbantwin.store.city import write_profile
from urbantwin.store.engine import for_writes


@pytest.fixture
def prefix() -> str:
    return f"c{uuid.uuid4().hex[:10]}/"


@pytest.fixture
def settings(settings: Settings, prefix: str) -> Settings:
    problem = _broker_problem()
    if problem:
        backend_missing(problem)
    return settings.with_overrides(
        mqtt_url=f"mqtt://{MAIN_BROKER[0]}:{MAIN_BROKER[1]}",
        mqtt_client_id=f"check-{prefix.rstrip('/')}",
        mqtt_topic_prefix=prefix,
        mqtt_write_token=ADMIN_TOKEN,
        mqtt_select_topics="Observations?$select=result,phenomenonTime",
    )


@pytest.fixture
def engine(engine: Engine, tmp_path: Path) -> Engine:
    """The store with the test city's profile (EPSG:25833) and its collection `city`."""
    with for_writes(engine).begin() as connection:
        write_profile(connection, TEST_CITY)
    import_geojson(engine, write(tmp_path / "city.geojson", city_geojson()), INFO, progress=False)
    return engine
