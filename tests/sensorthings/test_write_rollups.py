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
