"""Many Observations at once (dataArray) and JSON batch requests with atomic change sets."""

from __future__ import annotations

from fastapi.testclient import TestClient


def _count(client: TestClient, path: str) -> int:
    return client.get(f"/v1.1/{path}?$count=true&$top=0").json()["@iot.count"]


def test_create_observations_answers_one_link_per_row_and_error_for_bad_rows(
    client: TestClient, graph
) -> None:
    datastream = graph["mitte"]["datastream"]
    feature = client.get(
        f"/v1.1/Datastreams({datastream})/Observations?$top=1&$expand=FeatureOfInterest"
    ).json()["value"][0]["FeatureOfInterest"]["@iot.id"]
    body = [
        {
            "Datastream": {"@iot.id": datastream},
            "components": ["phenomenonTime", "result", "resultTime", "FeatureOfInterest/id"],
            "dataArray": [
                ["2024-05-01T00:00:00Z", 10.5, "2024-05-01T00:01:00Z", feature],
                ["not a time", 11, None, feature],
                ["2024-05-01T02:00:00Z/2024-05-01T03:00:00Z", 12, None, feature],
                ["2024-05-01T03:00:00Z", 13, None, 987654],
            ],
        },
        {
            "Datastream": {"@iot.id": graph["west"]["datastream"]},
            "components": ["result", "phenomenonTime"],
            "dataArray": [[1, "2024-05-02T00:00:00Z"]],
        },
    ]
    response = client.post("/v1.1/CreateObservations", json=body)
    assert response.status_code == 201
    links = response.json()
    assert len(links) == 5
    assert links[1] == "error" and links[3] == "error"
    created = client.get(links[2].replace("http://testserver", "")).json()
    assert (
        created["phenomenonTime"] == "2024-05-01T02:00:00Z/2024-05-01T03:00:00Z" and created["result"] == 12
    )
    assert _count(client, f"Datastreams({datastream})/Observations") == 3 + 2
    assert client.get(links[4].replace("http://testserver", "") + "/FeatureOfInterest").status_code == 200
    assert (
        client.get(f"/v1.1/Datastreams({datastream})")
        .json()["phenomenonTime"]
        .endswith("2024-05-01T03:00:00Z")
    )


def test_create_observations_rejects_a_malformed_request_as_a_whole(client: TestClient, graph) -> None:
    for body, word in [
        ({"dataArray": []}, "array"),
        ([{"components": ["result"], "dataArray": [[1]]}], "Datastream"),
        ([{"Datastream": {"@iot.id": 999}, "components": ["result"], "dataArray": [[1]]}], "999"),
        (
            [
                {
                    "Datastream": {"@iot.id": graph["west"]["datastream"]},
                    "components": ["colour"],
                    "dataArray": [],
                }
            ],
            "colour",
        ),
    ]:
        response = client.post("/v1.1/CreateObservations", json=body)
        assert response.status_code == 400 and word in response.json()["message"], body
    assert _count(client, "Observations") == 6


def test_a_batch_runs_requests_in_order_and_refers_to_earlier_ones(client: TestClient) -> None:
    requests = [
        {
            "id": "thing",
            "method": "post",
            "url": "Things",
            "body": {
                "name": "Batch",
                "description": "b",
                "Locations": [
                    {
                        "name": "l",
                        "description": "d",
                        "encodingType": "application/geo+json",
                        "location": {"type": "Point", "coordinates": [12.3, 51.3]},
                    }
                ],
            },
        },
        {"id": "list", "method": "get", "url": "Things?$select=name"},
        {"id": "patch", "method": "patch", "url": "$thing", "body": {"description": "changed"}},
        {"id": "missing", "method": "get", "url": "Things(424242)"},
    ]
    responses = client.post("/v1.1/$batch", json={"requests": requests}).json()["responses"]
    assert [r["id"] for r in responses] == ["thing", "list", "patch", "missing"]
    assert [r["status"] for r in responses] == [201, 200, 200, 404]
    assert responses[0]["headers"]["location"].endswith(f"Things({responses[0]['body']['@iot.id']})")
    assert responses[1]["body"]["value"] == [{"name": "Batch"}]
    assert responses[2]["body"]["description"] == "changed"


def test_a_change_set_is_atomic(client: TestClient) -> None:
    requests = [
        {
            "id": "1",
            "atomicityGroup": "g",
            "method": "post",
            "url": "Things",
            "body": {"name": "a", "description": "x"},
        },
        {"id": "2", "atomicityGroup": "g", "method": "post", "url": "Things", "body": {"name": "b"}},
        {"id": "3", "method": "post", "url": "Things", "body": {"name": "c", "description": "x"}},
    ]
    responses = client.post("/v1.1/$batch", json={"requests": requests}).json()["responses"]
    statuses = {r["id"]: r["status"] for r in responses}
    assert statuses == {"1": 424, "2": 400, "3": 201}
    assert "description" in next(r for r in responses if r["id"] == "2")["body"]["message"]
    assert [t["name"] for t in client.get("/v1.1/Things").json()["value"]] == ["c"]


def test_a_malformed_batch_is_a_400(client: TestClient) -> None:
    for body in ({}, {"requests": "x"}, {"requests": [{"method": "get"}]}):
        response = client.post("/v1.1/$batch", json=body)
        assert response.status_code == 400, body


def test_observations_read_as_data_arrays_grouped_by_datastream(client: TestClient, graph) -> None:
    page = client.get(
        "/v1.1/Observations",
        params={"$resultFormat": "dataArray", "$select": "id,phenomenonTime,result", "$orderby": "id"},
    ).json()
    groups = page["value"]
    assert len(groups) == 2
    first = groups[0]
    assert first["components"] == ["id", "phenomenonTime", "result"]
    assert first["dataArray@iot.count"] == 3
    assert first["dataArray"][0][1:] == ["2024-01-01T12:00:00Z", 1.5]
    assert first["Datastream@iot.navigationLink"].endswith(f"Datastreams({graph['mitte']['datastream']})")


def test_data_arrays_are_for_observations_only(client: TestClient, graph) -> None:
    response = client.get("/v1.1/Things", params={"$resultFormat": "dataArray"})
    assert response.status_code == 400 and "Observations" in response.json()["message"]
