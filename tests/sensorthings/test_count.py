"""`$count` of Observations from the counts the database keeps per Datastream.

`/Observations` and `…/Datastreams(…)/Observations` without `$filter` sum the kept counts (one row per
Datastream, `store/observation_counts.py`) instead of counting millions of rows; the triggers keep
them exact through every kind of change: single and bulk creates, deep inserts, moves, deletes and
the cascades of deleted FeaturesOfInterest and Datastreams.
"""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine, delete, func, insert, select

from urbantwin.store.observation_counts import compact, observation_counts
from urbantwin.store.schema import observations


def count(client: TestClient, path: str, query: str = "") -> int:
    response = client.get(f"/v1.1/{path}?$count=true&$top=0{query}")
    assert response.status_code == 200, response.text
    return response.json()["@iot.count"]


def kept(engine: Engine) -> dict[int, int]:
    """The counts the database keeps, per Datastream (the sum of its rows)."""
    counts = observation_counts
    with engine.connect() as connection:
        query = select(counts.c.datastream_id, func.sum(counts.c.observations)).group_by(
            counts.c.datastream_id
        )
        return {datastream: int(n) for datastream, n in connection.execute(query)}


def counted(engine: Engine) -> dict[int, int]:
    """The truth: the Observations in the table, per Datastream."""
    obs = observations
    with engine.connect() as connection:
        query = select(obs.c.datastream_id, func.count()).group_by(obs.c.datastream_id)
        return dict(connection.execute(query).all())


def nonzero(counts: dict[int, int]) -> dict[int, int]:
    return {k: v for k, v in counts.items() if v}


def post_observations(client: TestClient, datastream: int, n: int, day: int) -> list[str]:
    body = [
        {
            "Datastream": {"@iot.id": datastream},
            "components": ["phenomenonTime", "result"],
            "dataArray": [[f"2024-02-{day:02d}T{h:02d}:00:00Z", h] for h in range(n)],
        }
    ]
    response = client.post("/v1.1/CreateObservations", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def test_counts_stay_exact_through_creates_moves_and_deletes(
    client: TestClient, engine: Engine, graph: dict[str, Any]
) -> None:
    mitte, west = graph["mitte"]["datastream"], graph["west"]["datastream"]
    assert nonzero(kept(engine)) == counted(engine) == {mitte: 3, west: 3}  # deep inserts

    links = post_observations(client, mitte, 10, 1)
    client.post(
        f"/v1.1/Datastreams({west})/Observations",
        json={"result": 7, "phenomenonTime": "2024-03-01T00:00:00Z"},
    )
    assert count(client, f"Datastreams({mitte})/Observations") == 13
    assert count(client, f"Datastreams({west})/Observations") == 4
    assert count(client, "Observations") == 17
    assert count(client, f"Things({graph['west']['thing']})/Datastreams({west})/Observations") == 4

    moved = links[0].rsplit("/", 1)[-1]
    assert client.patch(f"/v1.1/{moved}", json={"Datastream": {"@iot.id": west}}).status_code == 200
    assert client.delete(f"/v1.1/{links[1].rsplit('/', 1)[-1]}").status_code == 200
    assert nonzero(kept(engine)) == counted(engine) == {mitte: 11, west: 5}

    # Deleting a FeatureOfInterest cascades to its Observations; the counts follow.
    feature = client.get(f"/v1.1/{moved}/FeatureOfInterest").json()["@iot.id"]
    assert client.delete(f"/v1.1/FeaturesOfInterest({feature})").status_code == 200
    assert nonzero(kept(engine)) == counted(engine)
    assert count(client, "Observations") == sum(counted(engine).values())

    # Deleting a Datastream takes its count with it.
    assert client.delete(f"/v1.1/Datastreams({mitte})").status_code == 200
    assert mitte not in kept(engine)
    assert count(client, "Observations") == sum(counted(engine).values())


def test_an_unfiltered_count_reads_the_kept_counts_and_a_filtered_one_counts_rows(
    client: TestClient, engine: Engine, graph: dict[str, Any]
) -> None:
    mitte = graph["mitte"]["datastream"]
    # Tamper with the kept count to see which one answers.
    counts = observation_counts
    with engine.begin() as connection:
        connection.execute(delete(counts).where(counts.c.datastream_id == mitte))
        connection.execute(insert(counts).values(datastream_id=mitte, slot=0, observations=1000))
    assert count(client, f"Datastreams({mitte})/Observations") == 1000
    assert count(client, "Observations") == 1003
    assert count(client, f"Datastreams({mitte})/Observations", "&$filter=result gt -100") == 3
    feature = client.get(f"/v1.1/Datastreams({mitte})/Observations?$top=1&$expand=FeatureOfInterest").json()
    feature_id = feature["value"][0]["FeatureOfInterest"]["@iot.id"]
    assert count(client, f"FeaturesOfInterest({feature_id})/Observations") == 3  # counted from the rows


def test_compacting_keeps_every_count(client: TestClient, engine: Engine, graph: dict[str, Any]) -> None:
    mitte, west = graph["mitte"]["datastream"], graph["west"]["datastream"]
    post_observations(client, mitte, 5, 2)
    with engine.begin() as connection:
        compact(connection)
    assert nonzero(kept(engine)) == counted(engine) == {mitte: 8, west: 3}
    with engine.connect() as connection:
        slots = connection.execute(select(observation_counts.c.slot).distinct()).scalars().all()
    assert slots == [0]
