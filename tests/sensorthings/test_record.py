"""The writer records what each request created, updated and deleted: the fact the live updates
announce, deep inserts included."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.sensorthings.conftest import station
from urbantwin.sensorthings.record import WriteRecord


def recording(client: TestClient) -> list[WriteRecord]:
    """Every record the service hands on, in order (instead of the live updates)."""
    records: list[WriteRecord] = []
    client.app.state.sensorthings.on_write = lambda _connection, record: records.append(record)
    return records


def ids_of(client: TestClient, path: str) -> set[int]:
    return {entity["@iot.id"] for entity in client.get(f"/v1.1/{path}").json()["value"]}


def test_a_deep_insert_records_every_entity_it_creates(client: TestClient) -> None:
    records = recording(client)
    answer = client.post("/v1.1/Things", json=station("Nord", 12.37, 51.36, "city", 20))
    assert answer.status_code == 201, answer.text
    (record,) = records
    assert record.created == {
        "Thing": ids_of(client, "Things"),
        "Location": ids_of(client, "Locations"),
        "HistoricalLocation": ids_of(client, "HistoricalLocations"),
        "Datastream": ids_of(client, "Datastreams"),
        "Sensor": ids_of(client, "Sensors"),
        "ObservedProperty": ids_of(client, "ObservedProperties"),
        "Observation": ids_of(client, "Observations"),
        "FeatureOfInterest": ids_of(client, "FeaturesOfInterest"),
    }
    assert not record.updated and not record.deleted


def test_updates_and_deletes_are_recorded(client: TestClient, graph: dict[str, Any]) -> None:
    records = recording(client)
    thing = graph["mitte"]["thing"]
    assert client.patch(f"/v1.1/Things({thing})", json={"description": "moved"}).status_code == 200
    assert client.delete(f"/v1.1/Things({thing})").status_code == 200
    assert [r.updated for r in records] == [{"Thing": {thing}}, {}]
    assert records[1].deleted == {"Thing": {thing}}


def test_a_new_location_given_to_a_thing_records_its_historical_location(
    client: TestClient, graph: dict[str, Any]
) -> None:
    thing = graph["west"]["thing"]
    place = {
        "name": "new site",
        "description": "d",
        "encodingType": "application/geo+json",
        "location": {"type": "Point", "coordinates": [12.3, 51.3]},
    }
    created = client.post("/v1.1/Locations", json=place)
    assert created.status_code == 201, created.text
    records = recording(client)
    # An update links the Location by id (it creates none inline); the server adds the history.
    link = {"Locations": [{"@iot.id": created.json()["@iot.id"]}]}
    linked = client.patch(f"/v1.1/Things({thing})", json=link)
    assert linked.status_code == 200
    (record,) = records
    assert set(record.created) == {"HistoricalLocation"}
    assert record.updated == {"Thing": {thing}}


def test_observations_of_a_data_array_are_recorded(client: TestClient, graph: dict[str, Any]) -> None:
    records = recording(client)
    datastream = graph["mitte"]["datastream"]
    body = [
        {
            "Datastream": {"@iot.id": datastream},
            "components": ["phenomenonTime", "result"],
            "dataArray": [["2024-02-01T00:00:00Z", 1], ["2024-02-01T01:00:00Z", 2]],
        }
    ]
    links = client.post("/v1.1/CreateObservations", json=body).json()
    (record,) = records
    assert record.created == {"Observation": {int(link.rsplit("(", 1)[1][:-1]) for link in links}}


def test_a_failed_write_hands_on_no_record(client: TestClient, graph: dict[str, Any]) -> None:
    records = recording(client)
    answer = client.post("/v1.1/Things", json={"name": "no description", "Locations": "not a list"})
    assert answer.status_code == 400
    assert records == []
