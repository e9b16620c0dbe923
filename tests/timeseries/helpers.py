"""Helpers of the time-series tests: Datastreams made through the SensorThings API or straight in the
store, and Observations added through the API (dataArray) or the bulk path of store/bulk.py."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Connection, Engine, insert

from urbantwin.sensorthings.values import result_columns
from urbantwin.store import schema
from urbantwin.store.bulk import insert_observations
from urbantwin.store.engine import for_writes

UNIT = {"name": "degree Celsius", "symbol": "°C", "definition": "http://unitsofmeasure.org/ucum.html#para-30"}


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def create_station(
    client: TestClient,
    name: str,
    lon: float = 12.3731,
    lat: float = 51.3397,
    observed_property: str | dict[str, Any] = "air temperature",
    unit: dict[str, Any] | None = None,
) -> dict[str, int]:
    """A Thing with a Location and one Datastream, through the API; returns their ids."""
    prop = (
        observed_property
        if isinstance(observed_property, dict)
        else {
            "name": observed_property,
            "definition": f"https://example.org/{observed_property}",
            "description": "p",
        }
    )
    body = {
        "name": name,
        "description": f"station {name}",
        "Locations": [
            {
                "name": f"{name} site",
                "description": "mast",
                "encodingType": "application/geo+json",
                "location": {"type": "Point", "coordinates": [lon, lat]},
            }
        ],
        "Datastreams": [
            {
                "name": f"{name} series",
                "description": "a series",
                "observationType": "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement",
                "unitOfMeasurement": unit or UNIT,
                "Sensor": {
                    "name": f"{name} sensor",
                    "description": "s",
                    "encodingType": "text/plain",
                    "metadata": "m",
                },
                "ObservedProperty": prop,
            }
        ],
    }
    response = client.post("/v1.1/Things", json=body)
    assert response.status_code == 201, response.text
    thing = response.json()["@iot.id"]
    expanded = client.get(
        f"/v1.1/Things({thing})?$expand=Datastreams($expand=ObservedProperty),Locations"
    ).json()
    stream = expanded["Datastreams"][0]
    return {
        "thing": thing,
        "datastream": stream["@iot.id"],
        "observed_property": stream["ObservedProperty"]["@iot.id"],
        "location": expanded["Locations"][0]["@iot.id"],
    }


def post_observations(
    client: TestClient, datastream: int, points: Iterable[tuple[datetime | str, Any]]
) -> None:
    """Observations through the dataArray extension (`POST /v1.1/CreateObservations`)."""
    rows = [[iso(t) if isinstance(t, datetime) else t, value] for t, value in points]
    body = [
        {"Datastream": {"@iot.id": datastream}, "components": ["phenomenonTime", "result"], "dataArray": rows}
    ]
    response = client.post("/v1.1/CreateObservations", json=body)
    assert response.status_code == 201, response.text
    assert "error" not in response.json()


def new_datastream(engine: Engine, name: str = "series") -> tuple[int, int]:
    """A Datastream (with its Thing, Sensor, ObservedProperty) and a FeatureOfInterest, straight in
    the store; returns (datastream id, feature id)."""
    with for_writes(engine).begin() as connection:

        def add(table: Any, **values: Any) -> int:
            return connection.execute(insert(table).values(**values).returning(table.c.id)).scalar_one()

        thing = add(schema.things, name=name, description="d")
        sensor = add(schema.sensors, name=name, description="d", encoding_type="text/plain", metadata="m")
        prop = add(schema.observed_properties, name=name, definition="d", description="d")
        datastream = add(
            schema.datastreams,
            name=name,
            description="d",
            observation_type="OM_Measurement",
            unit_of_measurement=UNIT,
            thing_id=thing,
            sensor_id=sensor,
            observed_property_id=prop,
        )
        feature = add(
            schema.features_of_interest,
            name=name,
            description="d",
            encoding_type="application/geo+json",
            feature={"type": "Point", "coordinates": [12.37, 51.34]},
        )
    return datastream, feature


def add_observations(
    engine: Engine, datastream: int, feature: int, points: Iterable[tuple[datetime, Any]]
) -> list[int]:
    """Observations through the bulk path (COPY on PostgreSQL), committed; returns their ids."""
    with for_writes(engine).begin() as connection:
        return insert_observations_on(connection, datastream, feature, points)


def insert_observations_on(
    connection: Connection, datastream: int, feature: int, points: Iterable[tuple[datetime, Any]]
) -> list[int]:
    """Observations through the bulk path in the caller's transaction; returns their ids."""
    columns: dict[str, list[Any]] = {
        "phenomenon_time_start": [],
        "result_type": [],
        "result_number": [],
        "result_string": [],
        "result_json": [],
        "datastream_id": [],
        "feature_of_interest_id": [],
    }
    for moment, value in points:
        typed = result_columns(value)
        columns["phenomenon_time_start"].append(moment)
        for name in ("result_type", "result_number", "result_string", "result_json"):
            columns[name].append(typed[name])
        columns["datastream_id"].append(datastream)
        columns["feature_of_interest_id"].append(feature)
    return insert_observations(connection, columns)
