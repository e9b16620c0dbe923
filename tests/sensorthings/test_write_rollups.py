"""Changing or deleting Observations over the SensorThings API keeps the time-series aggregates right:
the writer drops the hourly rollups of the Datastreams it touched, which the next query rebuilds."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from tests.timeseries.helpers import create_station, post_observations, utc
from urbantwin.store.timeseries_schema import observation_rollups


def _daily_sum(client: TestClient, datastream: int) -> list[float | None]:
    body = client.get(
        f"/api/timeseries/datastreams/{datastream}/aggregate",
        params={"interval": "day", "stats": "sum", "start": "2024-03-01", "end": "2024-03-03", "tz": "UTC"},
    ).json()
    return [bucket["sum"] for bucket in body["buckets"]]


def test_patch_and_delete_of_observations_rebuild_the_rollups(client: TestClient, engine: Engine) -> None:
    ds = create_station(client, "west")["datastream"]
    post_observations(
        client, ds, [(utc(2024, 3, 1, h), 1.0) for h in range(24)] + [(utc(2024, 3, 2, 6), 5.0)]
    )
    assert _daily_sum(client, ds) == [24.0, 5.0]
    with engine.connect() as connection:
        assert connection.execute(select(observation_rollups)).first() is not None, "the rollups are used"
    first = client.get(f"/v1.1/Datastreams({ds})/Observations?$orderby=phenomenonTime&$top=1").json()[
        "value"
    ][0]
    assert client.patch(f"/v1.1/Observations({first['@iot.id']})", json={"result": 101.0}).status_code == 200
    assert _daily_sum(client, ds) == [124.0, 5.0]
    assert client.delete(f"/v1.1/Observations({first['@iot.id']})").status_code == 200
    assert _daily_sum(client, ds) == [23.0, 5.0]


def test_deleting_a_feature_of_interest_rebuilds_the_rollups_of_its_datastreams(
    client: TestClient, engine: Engine
) -> None:
    ds = create_station(client, "west")["datastream"]
    post_observations(client, ds, [(utc(2024, 3, 1, h), 1.0) for h in range(24)])
    assert _daily_sum(client, ds) == [24.0, None]
    other = client.post(
        "/v1.1/FeaturesOfInterest",
        json={
            "name": "roof",
            "description": "a second place",
            "encodingType": "application/geo+json",
            "feature": {"type": "Point", "coordinates": [12.3, 51.3]},
        },
    ).json()["@iot.id"]
    for hour in (1, 2):
        body = {
            "phenomenonTime": f"2024-03-02T0{hour}:00:00Z",
            "result": 10.0,
            "FeatureOfInterest": {"@iot.id": other},
        }
        assert client.post(f"/v1.1/Datastreams({ds})/Observations", json=body).status_code == 201
    assert _daily_sum(client, ds) == [24.0, 20.0]

    assert client.delete(f"/v1.1/FeaturesOfInterest({other})").status_code == 200  # cascades
    assert _daily_sum(client, ds) == [24.0, None]


def test_a_deleted_datastream_s_observation_ids_coming_back_are_counted(client: TestClient) -> None:
    """On SQLite the ids of deleted top rows are used again: another Datastream's rollups must not
    take a new Observation with such an id for one they already hold."""
    kept = create_station(client, "kept")["datastream"]
    post_observations(client, kept, [(utc(2024, 3, 1, h), 1.0) for h in range(3)])
    gone = create_station(client, "gone", lon=12.4)["datastream"]
    post_observations(client, gone, [(utc(2024, 3, 1, h), 5.0) for h in range(5)])  # the top ids
    assert _daily_sum(client, kept) == [3.0, None]  # rollups of `kept`, watermark at the top id

    assert client.delete(f"/v1.1/Datastreams({gone})").status_code == 200
    post_observations(client, kept, [(utc(2024, 3, 2, h), 2.0) for h in range(4)])
    assert _daily_sum(client, kept) == [3.0, 8.0]
