"""Single Observations committed in groups (`sensorthings/posts.py`): the same answers, stored rows,
audit records and change records as when the writer makes each alone; every request answered only
once its group has committed; a failing request never takes the others of its group with it."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, event, select

from tests.conftest import ADMIN_TOKEN
from urbantwin.errors import BadRequest
from urbantwin.sensorthings.posts import ObservationPosts, SinglePost
from urbantwin.sensorthings.record import WriteRecord
from urbantwin.store.access_schema import audit_log
from urbantwin.store.schema import observations

BASE = "http://testserver/v1.1"


@pytest.fixture
def stream(client: TestClient, graph: dict[str, Any]) -> dict[str, int]:
    """A Datastream and the FeatureOfInterest of its Observations (a pair the writer has seen, so
    plain Observations of it are grouped)."""
    datastream = graph["mitte"]["datastream"]
    first = client.get(f"/v1.1/Datastreams({datastream})/Observations?$top=1&$expand=FeatureOfInterest")
    return {"datastream": datastream, "feature": first.json()["value"][0]["FeatureOfInterest"]["@iot.id"]}


def plain(stream: dict[str, int], **values: Any) -> dict[str, Any]:
    return {
        "phenomenonTime": "2024-02-01T10:00:00Z",
        "result": 21.5,
        "Datastream": {"@iot.id": stream["datastream"]},
        "FeatureOfInterest": {"@iot.id": stream["feature"]},
        **values,
    }


def counting(client: TestClient) -> list[SinglePost]:
    """Every request that went into a group."""
    posts: ObservationPosts = client.app.state.sensorthings.observation_posts
    grouped: list[SinglePost] = []
    submit_all = posts.submit_all

    def recorded(batch: list[SinglePost]) -> None:
        grouped.extend(batch)
        submit_all(batch)

    posts.submit_all = recorded  # type: ignore[method-assign]
    return grouped


def alone(client: TestClient) -> None:
    """From now on every request is made by the writer alone (the way before groups)."""
    client.app.state.sensorthings.observation_posts.prepare = lambda *args: None


def without_ids(answer: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in answer.items() if k != "@iot.id" and not k.startswith("@iot.selfLink")} | {
        k: v.replace(f"({answer['@iot.id']})", "(id)") for k, v in answer.items() if k.endswith("Link")
    }


BODIES = [
    {},
    {"result": 7},
    {"result": True},
    {"result": "dry"},
    {"result": None},
    {"result": {"b": 1, "a": [1, 2.5, None]}},
    {"result": 2**60},
    {"phenomenonTime": "2024-02-01T10:00:00+02:00/2024-02-01T11:00:00+02:00"},
    {"resultTime": "2024-02-01T10:05:00.123456Z", "validTime": "2024-02-01T00:00:00Z/2024-02-02T00:00:00Z"},
    {"resultQuality": {"z": None, "a": {"y": 1, "x": "2"}}, "parameters": {"b": [1], "a": None}},
    {"resultQuality": None, "parameters": None, "resultTime": None},
    {"phenomenonTime": None},
    {"@iot.id": 5, "Datastream@iot.navigationLink": "ignored"},
]


@pytest.mark.parametrize("values", BODIES, ids=[str(sorted(b)) for b in BODIES])
def test_a_plain_observation_is_answered_and_stored_as_the_writer_does(
    client: TestClient, engine: Engine, stream: dict[str, int], values: dict[str, Any]
) -> None:
    grouped = counting(client)
    answer = client.post("/v1.1/Observations", json=plain(stream, **values))
    assert answer.status_code == 201, answer.text
    assert len(grouped) == 1
    alone(client)
    before = client.post("/v1.1/Observations", json=plain(stream, **values))
    assert before.status_code == 201, before.text
    assert len(grouped) == 1
    new, old = answer.json(), before.json()
    if "phenomenonTime" in values and values["phenomenonTime"] is None:  # the time of the request
        new.pop("phenomenonTime"), old.pop("phenomenonTime")
    assert without_ids(new) == without_ids(old)
    assert answer.headers["location"] == f"{BASE}/Observations({new['@iot.id']})"
    assert client.get(answer.headers["location"]).json() == answer.json()
    # Stored alike, down to SQL NULL and JSON null.
    with engine.connect() as connection:
        rows = connection.execute(
            select(*(c.is_(None) for c in observations.c if c.name != "id")).where(
                observations.c.id.in_([new["@iot.id"], old["@iot.id"]])
            )
        ).all()
    assert rows[0] == rows[1]


def test_the_path_may_give_the_datastream(client: TestClient, stream: dict[str, int]) -> None:
    grouped = counting(client)
    body = plain(stream)
    del body["Datastream"]
    answer = client.post(f"/v1.1/Datastreams({stream['datastream']})/Observations", json=body)
    assert answer.status_code == 201, answer.text
    assert len(grouped) == 1
    assert answer.json()["Datastream@iot.navigationLink"].endswith(
        f"Observations({answer.json()['@iot.id']})/Datastream"
    )
    twice = client.post(f"/v1.1/Datastreams({stream['datastream']})/Observations", json=plain(stream))
    assert twice.status_code == 400
    assert twice.json()["message"] == "Observation: Datastream is given by the path; leave it out of the body"
    missing = client.post("/v1.1/Datastreams(999999)/Observations", json=body)
    assert missing.status_code == 404 and "Datastream" in missing.json()["message"]
    assert len(grouped) == 1


def test_requests_the_writer_must_make_are_not_grouped(client: TestClient, stream: dict[str, int]) -> None:
    grouped = counting(client)
    for body in (
        plain(stream, result="x", phenomenonTime="yesterday"),  # invalid: the writer words the 400
        {k: v for k, v in plain(stream).items() if k != "FeatureOfInterest"},  # derived feature
        plain(
            stream,
            FeatureOfInterest={
                "name": "new",
                "description": "d",
                "encodingType": "application/geo+json",
                "feature": {"type": "Point", "coordinates": [12.3, 51.3]},
            },
        ),
    ):
        client.post("/v1.1/Observations", json=body)
    assert grouped == []
    bad = client.post("/v1.1/Observations", json=plain(stream, phenomenonTime="yesterday"))
    assert bad.status_code == 400 and "phenomenonTime" in bad.json()["message"]


def test_an_observation_is_audited_and_recorded_for_the_live_updates(
    client: TestClient, engine: Engine, stream: dict[str, int]
) -> None:
    records: list[WriteRecord] = []
    client.app.state.sensorthings.on_write = lambda _connection, record: records.append(record)
    grouped = counting(client)
    answer = client.post("/v1.1/Observations", json=plain(stream))
    assert answer.status_code == 201 and len(grouped) == 1
    (record,) = records
    assert record.created == {"Observation": {answer.json()["@iot.id"]}}
    assert not record.updated and not record.deleted
    alone(client)
    assert client.post("/v1.1/Observations", json=plain(stream)).status_code == 201
    what = (audit_log.c.principal, audit_log.c.user_id, audit_log.c.action, audit_log.c.api)
    with engine.connect() as connection:
        grouped_row, alone_row = connection.execute(
            select(*what, audit_log.c.dataset_id, audit_log.c.target, audit_log.c.status)
            .order_by(audit_log.c.id.desc())
            .limit(2)
        ).all()
    assert grouped_row == alone_row
    assert grouped_row[-3:] == ("sensorthings", "POST Observations", 201)


def _posts(client: TestClient, stream: dict[str, int], bodies: list[dict[str, Any]]) -> list[SinglePost]:
    service = client.app.state.sensorthings
    principal = client.app.state.authenticator.principal(f"Bearer {ADMIN_TOKEN}")
    prepared = [
        service.observation_posts.prepare("Observations", None, body, BASE, principal) for body in bodies
    ]
    assert all(post is not None for post in prepared)
    return prepared  # type: ignore[return-value]


def test_requests_that_arrive_together_share_a_commit_and_are_answered_after_it(
    client: TestClient, engine: Engine, stream: dict[str, int]
) -> None:
    posts = _posts(client, stream, [plain(stream, result=i) for i in range(5)])
    events: list[str] = []
    stored_when_answered: list[bool] = []
    callbacks_done = threading.Semaphore(0)

    def committed(_connection: Any) -> None:
        if threading.current_thread().name == "urbantwin-observation-posts":  # not the live updates'
            events.append("commit")

    def answered(future: Any) -> None:
        events.append("answer")
        # Another connection sees the row the moment the request is answered.
        with engine.connect() as connection:
            ident = future.result().body["@iot.id"]
            found = connection.execute(select(observations.c.id).where(observations.c.id == ident)).first()
        stored_when_answered.append(found is not None)
        callbacks_done.release()

    event.listen(engine, "commit", committed)
    try:
        for post in posts:
            post.future.add_done_callback(answered)
        client.app.state.sensorthings.observation_posts.submit_all(posts)
        answers = [post.future.result(timeout=30) for post in posts]
        for _ in posts:
            assert callbacks_done.acquire(timeout=30)
    finally:
        event.remove(engine, "commit", committed)
    assert events == ["commit"] + ["answer"] * 5
    assert stored_when_answered == [True] * 5
    assert [a.status for a in answers] == [201] * 5
    assert [a.body["result"] for a in answers] == list(range(5))
    ids = [a.body["@iot.id"] for a in answers]
    assert ids == sorted(ids) and len(set(ids)) == 5


def test_a_failing_request_does_not_take_its_group_with_it(
    client: TestClient, stream: dict[str, int]
) -> None:
    bodies = [
        plain(stream, result=1),
        plain(stream, result=2),
        plain(stream, result=3),
        plain(stream, result=4),
    ]
    bodies[1]["FeatureOfInterest"] = {"@iot.id": 999999}  # only the foreign key finds this out
    bodies[2]["Datastream"] = {"@iot.id": 999998}
    # As if the writer had seen these pairs (a feature deleted since, say): grouped all the same.
    covered = client.app.state.sensorthings.covered
    covered.update({(stream["datastream"], 999999), (999998, stream["feature"])})
    posts = _posts(client, stream, bodies)
    client.app.state.sensorthings.observation_posts.submit_all(posts)
    with pytest.raises(BadRequest, match="no FeatureOfInterest with @iot.id 999999"):
        posts[1].future.result(timeout=30)
    with pytest.raises(BadRequest, match="no Datastream with @iot.id 999998"):
        posts[2].future.result(timeout=30)
    made = [posts[i].future.result(timeout=30) for i in (0, 3)]
    assert [a.status for a in made] == [201, 201]
    for answer in made:
        assert (
            client.get(f"/v1.1/Observations({answer.body['@iot.id']})").json()["result"]
            == answer.body["result"]
        )


def test_concurrent_posts_are_all_committed(client: TestClient, stream: dict[str, int]) -> None:
    grouped = counting(client)
    count = client.get(f"/v1.1/Datastreams({stream['datastream']})/Observations?$count=true&$top=0").json()[
        "@iot.count"
    ]
    statuses: list[int] = []

    def post(i: int) -> None:
        statuses.append(client.post("/v1.1/Observations", json=plain(stream, result=i)).status_code)

    threads = [threading.Thread(target=post, args=(i,)) for i in range(40)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [201] * 40 and len(grouped) == 40
    after = client.get(f"/v1.1/Datastreams({stream['datastream']})/Observations?$count=true&$top=0").json()
    assert after["@iot.count"] == count + 40


def test_a_request_given_up_before_its_group_starts_is_not_made(
    client: TestClient, stream: dict[str, int]
) -> None:
    posts = _posts(client, stream, [plain(stream, result=1), plain(stream, result=2)])
    assert posts[0].future.cancel()
    client.app.state.sensorthings.observation_posts.submit_all(posts)
    made = posts[1].future.result(timeout=30)
    assert made.status == 201 and posts[0].future.cancelled()
    results = client.get(f"/v1.1/Datastreams({stream['datastream']})/Observations?$filter=result eq 1")
    assert results.json()["value"] == []
