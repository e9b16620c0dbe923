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


def test_create_observations_reads_every_value_as_a_single_post_does(client: TestClient, graph) -> None:
    """The usual values (`…Z` instants, finite numbers, integer ids) take a fast path; every other
    form is read by the same checks as a single POST, and refused in its row alone."""
    datastream = graph["west"]["datastream"]
    rows = [
        ["2024-06-01T02:00:00+02:00", 1, " 2024-06-01T00:00:00Z ", None],
        ["2024-06-02", True, None, "2024-06-02T00:00:00Z/2024-06-03T00:00:00Z"],
        ["2024-06-03T00:00:00.250Z", "text", "2024-06-03T00:00:00Z", None],
        ["2024-06-04T00:00:00Z", {"a": [1, 2]}, None, None],
        ["2024-06-05T00:00:00Z", 2**60, None, None],
        ["2024-06-06T00:00:00Z", None, None, None],
        ["2024-13-01T00:00:00Z", 1.0, None, None],  # no 13th month
        ["10000-01-01T00:00:00Z", 1.0, None, None],  # out of range
        ["2024-06-07T00:00:00Z/2024-06-06T00:00:00Z", 1.0, None, None],  # ends before it starts
        [20240608, 1.0, None, None],  # not a string
        ["2024-06-09T00:00:00Z", 1.0, "yesterday", None],
        ["2024-06-10T00:00:00Z", 1.0, None, "2024-06-10T00:00:00Z"],  # validTime is an interval
        ["2024-06-11T00:00:00Z", 1.0, None],  # a value short
        "not a row",
    ]
    body = [
        {
            "Datastream": {"@iot.id": datastream},
            "components": ["phenomenonTime", "result", "resultTime", "validTime"],
            "dataArray": rows,
        }
    ]
    response = client.post("/v1.1/CreateObservations", json=body)
    assert response.status_code == 201, response.text
    links = response.json()
    assert links[6:] == ["error"] * 8 and "error" not in links[:6]
    stored = [client.get(link.replace("http://testserver", "")).json() for link in links[:6]]
    assert [(o["phenomenonTime"], o["result"], o["resultTime"], o.get("validTime")) for o in stored] == [
        ("2024-06-01T00:00:00Z", 1, "2024-06-01T00:00:00Z", None),
        ("2024-06-02T00:00:00Z", True, None, "2024-06-02T00:00:00Z/2024-06-03T00:00:00Z"),
        ("2024-06-03T00:00:00.250000Z", "text", "2024-06-03T00:00:00Z", None),
        ("2024-06-04T00:00:00Z", {"a": [1, 2]}, None, None),
        ("2024-06-05T00:00:00Z", 2**60, None, None),
        ("2024-06-06T00:00:00Z", None, None, None),
    ]
