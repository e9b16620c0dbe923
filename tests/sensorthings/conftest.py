"""A small, known entity graph for the SensorThings tests: two weather stations in Leipzig."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

UNIT = {"name": "degree Celsius", "symbol": "°C", "definition": "http://unitsofmeasure.org/ucum.html#para-30"}


def station(name: str, lon: float, lat: float, owner: str, height: int) -> dict[str, Any]:
    return {
        "name": name,
        "description": f"weather station {name}",
        "properties": {"owner": owner, "height": height, "tags": ["weather", "city"]},
        "Locations": [
            {
                "name": f"{name} site",
                "description": "mast on a roof",
                "encodingType": "application/geo+json",
                "location": {"type": "Point", "coordinates": [lon, lat]},
            }
        ],
        "Datastreams": [
            {
                "name": f"{name} air temperature",
                "description": "2 m air temperature",
                "observationType": "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement",
                "unitOfMeasurement": UNIT,
                "Sensor": {
                    "name": f"{name} thermometer",
                    "description": "PT100",
                    "encodingType": "application/pdf",
                    "metadata": "https://example.org/pt100.pdf",
                },
                "ObservedProperty": {
                    "name": f"{name} temperature",
                    "definition": "http://vocab.nerc.ac.uk/collection/P07/current/CFSN0023/",
                    "description": "air temperature",
                },
                "Observations": [
                    {"phenomenonTime": f"2024-01-0{day}T12:00:00Z", "result": value, "resultTime": None}
                    for day, value in ((1, 1.5), (2, 3.0), (3, -2.0))
                ],
            }
        ],
    }


@pytest.fixture
def graph(client: TestClient) -> dict[str, Any]:
    """Two Things with a Location, a Datastream and three Observations each; returns their ids."""
    ids: dict[str, Any] = {}
    for key, args in {
        "mitte": ("Mitte", 12.3731, 51.3397, "city", 30),
        "west": ("West", 12.3147, 51.3351, "university", 12),
    }.items():
        response = client.post("/v1.1/Things", json=station(*args))
        assert response.status_code == 201, response.text
        thing = response.json()["@iot.id"]
        datastream = client.get(f"/v1.1/Things({thing})/Datastreams").json()["value"][0]["@iot.id"]
        ids[key] = {"thing": thing, "datastream": datastream}
    return ids
