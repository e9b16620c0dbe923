"""New Observations pushed to browsers as Server-Sent Events, on both backends: filters, keep-alive,
resumption with Last-Event-ID, only what the caller may read, nothing that was not committed.

Negative checks rely on order: the hub of a process hands on changes in commit order, so when an
Observation committed later has arrived, one committed before it that the stream should not carry
would have arrived first.
"""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import ADMIN_TOKEN
from tests.live.helpers import EventStream, sensor_world, wait_until

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


@pytest.fixture
def stations(http: httpx.Client) -> dict[str, dict[str, int]]:
    return {
        "west": sensor_world(http, "west", (12.33, 51.33)),
        "east": sensor_world(http, "east", (12.45, 51.35)),
    }


def _post(http: httpx.Client, datastream: int, result: object) -> int:
    answer = http.post(f"/v1.1/Datastreams({datastream})/Observations", json={"result": result})
    assert answer.status_code == 201, answer.text
    return answer.json()["@iot.id"]


def test_each_stream_gets_what_its_filters_select(
    live_server: str, http: httpx.Client, stations: dict
) -> None:
    west, east = stations["west"], stations["east"]
    url = f"{live_server}/api/live/observations"
    streams = {
        "all": EventStream(url),
        "datastream": EventStream(f"{url}?datastream={west['datastream']}"),
        "thing": EventStream(f"{url}?thing={east['thing']}"),
        "bbox": EventStream(f"{url}?bbox=12.3,51.3,12.35,51.34"),
        "both": EventStream(
            f"{url}?datastream={west['datastream']},{east['datastream']}&thing={east['thing']}"
        ),
    }
    try:
        first = _post(http, east["datastream"], 1.0)
        second = _post(http, west["datastream"], 2.0)
        event = streams["all"].get()
        assert event["event"] == "observation"
        assert int(event["id"]) == first
        assert event["data"]["@iot.id"] == first
        assert event["data"]["result"] == 1.0
        assert event["data"]["Datastream"] == {"@iot.id": east["datastream"]}
        assert event["data"]["@iot.selfLink"] == f"{live_server}/v1.1/Observations({first})"
        assert int(streams["all"].get()["id"]) == second
        assert int(streams["datastream"].get()["id"]) == second
        assert int(streams["thing"].get()["id"]) == first
        assert int(streams["bbox"].get()["id"]) == second
        assert int(streams["both"].get()["id"]) == first
        third = _post(http, west["datastream"], 3.0)
        assert int(streams["datastream"].get()["id"]) == third
        fourth = _post(http, east["datastream"], 4.0)
        assert (
            int(streams["both"].get()["id"]) == fourth
        )  # the West one (third) did not pass the thing filter
    finally:
        for stream in streams.values():
            stream.close()


def test_a_big_batch_is_streamed_as_the_api_writes_each_observation(
    live_server: str, http: httpx.Client, stations: dict
) -> None:
    """From 64 Observations on, the database writes the streamed bodies (no columns read back)."""
    west = stations["west"]["datastream"]
    stream = EventStream(f"{live_server}/api/live/observations?datastream={west}")
    try:
        block = {
            "Datastream": {"@iot.id": west},
            "components": ["phenomenonTime", "result"],
            "dataArray": [[f"2026-03-01T00:{i // 60:02d}:{i % 60:02d}Z", i / 4] for i in range(150)],
        }
        answer = http.post("/v1.1/CreateObservations", json=[block])
        assert answer.status_code == 201, answer.text
        links = answer.json()
        streamed = [stream.get() for _ in links]
        assert [int(e["id"]) for e in streamed] == [int(link.rsplit("(", 1)[1][:-1]) for link in links]
        for event in (streamed[0], streamed[77], streamed[-1]):
            stored = http.get(f"/v1.1/Observations({event['id']})").json()
            assert event["data"] == {**stored, "Datastream": {"@iot.id": west}}
    finally:
        stream.close()


def test_an_idle_stream_carries_keep_alive_comments(live_server: str) -> None:
    stream = EventStream(f"{live_server}/api/live/observations")
    try:
        assert stream.comments.get(timeout=5) == "connected"
        assert stream.comments.get(timeout=5) == "keep-alive"
    finally:
        stream.close()


def test_a_reconnecting_client_gets_what_it_missed(
    live_server: str, http: httpx.Client, stations: dict
) -> None:
    west, east = stations["west"], stations["east"]
    seen = _post(http, west["datastream"], 1)
    missed = [
        _post(http, west["datastream"], 2),
        _post(http, east["datastream"], 3),
        _post(http, west["datastream"], 4),
    ]
    stream = EventStream(
        f"{live_server}/api/live/observations?datastream={west['datastream']}",
        headers={"Last-Event-ID": str(seen)},
    )
    try:
        assert [int(stream.get()["id"]) for _ in range(2)] == [missed[0], missed[2]]
        later = _post(http, west["datastream"], 5)
        assert int(stream.get()["id"]) == later
    finally:
        stream.close()


def test_a_stream_carries_only_what_its_caller_may_read(
    live_server: str, http: httpx.Client, stations: dict
) -> None:
    secret = sensor_world(http, "meter")
    created = http.post(
        "/api/admin/datasets",
        json={"id": "meters", "title": "Meters", "publisher_id": "city", "access_level": "internal"},
    )
    assert created.status_code == 201, created.text
    assert (
        http.post(
            "/api/datasets/meters/members", json={"entity_set": "Things", "ids": [secret["thing"]]}
        ).status_code
        == 200
    )
    url = f"{live_server}/api/live/observations"
    anonymous, admin = EventStream(url), EventStream(url, headers=ADMIN)
    try:
        hidden = _post(http, secret["datastream"], 666)
        public = _post(http, stations["west"]["datastream"], 1)
        assert int(anonymous.get()["id"]) == public
        assert int(admin.get()["id"]) == hidden
        assert int(admin.get()["id"]) == public
        # Nor does a replay show it.
        resumed = EventStream(url, headers={"Last-Event-ID": str(hidden - 1)})
        try:
            assert int(resumed.get()["id"]) == public
        finally:
            resumed.close()
    finally:
        anonymous.close()
        admin.close()


def test_a_change_set_is_announced_only_when_it_commits(
    live_server: str, http: httpx.Client, stations: dict
) -> None:
    ds = stations["west"]["datastream"]
    stream = EventStream(f"{live_server}/api/live/observations")
    try:

        def batch(*results: object, missing: bool = False) -> dict:
            requests = [
                {
                    "id": f"r{i}",
                    "atomicityGroup": "g",
                    "method": "post",
                    "url": f"Datastreams({ds})/Observations",
                    "body": {"result": r},
                }
                for i, r in enumerate(results)
            ]
            if missing:
                requests.append(
                    {
                        "id": "bad",
                        "atomicityGroup": "g",
                        "method": "post",
                        "url": "Datastreams(999999)/Observations",
                        "body": {"result": 0},
                    }
                )
            answer = http.post("/v1.1/$batch", json={"requests": requests})
            assert answer.status_code == 200, answer.text
            return answer.json()

        failed = batch("rolled back", missing=True)
        assert [r["status"] for r in failed["responses"]] == [424, 404]
        kept = batch("a", "b")
        ids = [r["body"]["@iot.id"] for r in kept["responses"]]
        received = [stream.get()["data"] for _ in range(2)]
        assert [o["@iot.id"] for o in received] == ids
        assert [o["result"] for o in received] == ["a", "b"]
    finally:
        stream.close()


def test_malformed_filters_are_refused(live_server: str) -> None:
    for query in ("datastream=a", "bbox=1,2,3", "bbox=5,5,1,1", "thing=1,,x"):
        answer = httpx.get(f"{live_server}/api/live/observations?{query}")
        assert answer.status_code == 400, query
        assert answer.json()["message"]
    answer = httpx.get(f"{live_server}/api/live/observations", headers={"Last-Event-ID": "yesterday"})
    assert answer.status_code == 400


def test_the_stream_is_in_the_openapi_document(live_server: str) -> None:
    document = httpx.get(f"{live_server}/openapi.json").json()
    operation = document["paths"]["/api/live/observations"]["get"]
    assert "text/event-stream" in operation["responses"]["200"]["content"]
    assert {p["name"] for p in operation["parameters"]} >= {"datastream", "thing", "bbox", "Last-Event-ID"}


def test_a_stream_whose_client_went_is_dropped(live_server: str, app) -> None:  # noqa: ANN001
    sinks = app.state.live.hub._sinks
    before = len(sinks)
    stream = EventStream(f"{live_server}/api/live/observations")
    wait_until(lambda: len(sinks) == before + 1, what="the stream subscribed")
    stream.close()
    wait_until(lambda: len(sinks) == before, what="the stream of the gone client dropped")
