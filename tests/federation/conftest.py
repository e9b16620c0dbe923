"""Two twins on loopback: the partner (the tests' usual app and store, served by uvicorn at
`live_server`) and the local twin (a second store on the same backend) that mirrors and harvests it."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from tests.conftest import spare_database
from urbantwin.access.bootstrap import ensure_defaults
from urbantwin.access.gate import Access
from urbantwin.federation.service import FederationService
from urbantwin.sensorthings.service import SensorThingsService
from urbantwin.settings import Settings
from urbantwin.store.engine import make_engine, upgrade


@dataclasses.dataclass
class Local:
    """The local twin: its settings, store and federation service."""

    settings: Settings
    engine: Engine
    federation: FederationService


@pytest.fixture
def local(
    settings: Settings, backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[Local]:
    def made(url: str) -> Local:
        own = dataclasses.replace(settings, database_url=url)
        engine = make_engine(own)
        upgrade(engine)
        ensure_defaults(engine, own)
        access = Access.of(engine, own)
        sensorthings = SensorThingsService(engine, own, access)
        return Local(own, engine, FederationService(engine, own, access, sensorthings))

    if backend == "postgresql":
        with spare_database(request.getfixturevalue("postgres_url")) as url:
            twin = made(url)
            yield twin
            twin.engine.dispose()
    else:
        twin = made(f"sqlite:///{tmp_path / 'local.sqlite'}")
        yield twin
        twin.engine.dispose()


def partner_station(client: TestClient, name: str, values: list[tuple[str, float]]) -> dict[str, Any]:
    """A Thing with one Datastream and its Observations on the partner; the Datastream as created."""
    thing = {
        "name": name,
        "description": f"station {name} of the partner city",
        "properties": {"operator": "partner"},
        "Locations": [
            {
                "name": name,
                "description": "where it stands",
                "encodingType": "application/geo+json",
                "location": {"type": "Point", "coordinates": [9.99, 53.55]},
            }
        ],
        "Datastreams": [
            {
                "name": f"{name} air temperature",
                "description": "hourly air temperature",
                "observationType": "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement",
                "unitOfMeasurement": {"name": "degree Celsius", "symbol": "°C", "definition": "ucum:Cel"},
                "Sensor": {
                    "name": "PT100",
                    "description": "thermometer",
                    "encodingType": "application/pdf",
                    "metadata": "https://example.org/pt100.pdf",
                },
                "ObservedProperty": {
                    "name": "air temperature",
                    "description": "temperature of the air",
                    "definition": "http://vocab.nerc.ac.uk/collection/P07/current/CFSN0023/",
                },
            }
        ],
    }
    created = client.post("/v1.1/Things", json=thing)
    assert created.status_code == 201, created.text
    datastream = client.get(f"/v1.1/Things({created.json()['@iot.id']})/Datastreams").json()["value"][0]
    add_observations(client, datastream["@iot.id"], values)
    return datastream


def add_observations(client: TestClient, datastream: int, values: list[tuple[str, float]]) -> None:
    if not values:
        return
    body = [
        {
            "Datastream": {"@iot.id": datastream},
            "components": ["phenomenonTime", "resultTime", "result"],
            "dataArray": [[t, t, v] for t, v in values],
        }
    ]
    answer = client.post("/v1.1/CreateObservations", json=body)
    assert answer.status_code == 201, answer.text
