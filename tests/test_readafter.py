"""Read-your-writes across nodes with a read replica: two apps (two nodes behind one proxy) on a
primary and a replica of the tests' own (tests/replication.py). A client's write is read back
through either node while the replica lags; other clients read the replica."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, text
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from tests.conftest import ADMIN_TOKEN
from tests.replication import Replicated, wait_until
from urbantwin.app import create_app
from urbantwin.readafter import COOKIE, HEADER, ReadYourWritesMiddleware
from urbantwin.settings import Settings
from urbantwin.store.engine import for_writes, make_engine
from urbantwin.store.replicas import ReadRouter, parse_lsn

# The pair of servers of their own takes 10 to 30 s to make (initdb, the migrations, the base backup).
pytestmark = [pytest.mark.postgres, pytest.mark.long]

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


@pytest.fixture
def nodes(replicated_postgres: Replicated, viewer_dir) -> Iterator[tuple[TestClient, TestClient]]:  # noqa: ANN001
    settings = Settings(
        database_url=replicated_postgres.primary_url,
        database_replica_urls=(replicated_postgres.replica_url,),
        database_replica_max_lag_seconds=60,
        admin_token=ADMIN_TOKEN,
        rate_limit_per_second=0,
        rate_limit_token_per_second=0,
        viewer_dir=str(viewer_dir),
    )
    apps = [create_app(settings), create_app(settings)]
    try:
        with TestClient(apps[0]) as one, TestClient(apps[1]) as other:
            for app in apps:
                wait_until(lambda app=app: _reads_replica(app))
            yield one, other
    finally:
        for app in apps:
            app.state.replicas.dispose()
            app.state.engine.dispose()


@pytest.fixture
def replica(replicated_postgres: Replicated) -> Iterator[Engine]:
    engine = create_engine(replicated_postgres.replica_url, isolation_level="AUTOCOMMIT")
    yield engine
    with engine.connect() as connection:
        connection.execute(text("SELECT pg_wal_replay_resume()"))
    engine.dispose()


def _reads_replica(app: FastAPI) -> bool:
    app.state.replicas.refresh(force=True)
    return bool(app.state.replicas.report()[0]["readable"])


def test_a_clients_write_is_read_back_through_any_node_while_the_replica_lags(
    nodes: tuple[TestClient, TestClient], replica: Engine
) -> None:
    one, other = nodes
    with replica.connect() as connection:
        connection.execute(text("SELECT pg_wal_replay_pause()"))
    created = one.post(
        "/v1.1/Things", json={"name": "Pegel Nord", "description": "water level"}, headers=ADMIN
    )
    assert created.status_code == 201, created.text
    position = created.headers[HEADER]
    assert f"{COOKIE}={position}" in created.headers["set-cookie"]
    thing = created.headers["Location"].removeprefix("http://testserver")

    # A browser brings the cookie back, to whichever node answers.
    other.cookies.set(COOKIE, position)
    assert other.get(thing).status_code == 200
    other.cookies.clear()
    # A client without cookies brings the header back.
    assert other.get(thing, headers={HEADER: position}).status_code == 200
    # A client with a token that keeps neither reads its write on the node that took it.
    one.cookies.clear()
    assert one.get(thing, headers=ADMIN).status_code == 200

    # Everyone else reads the replica, which has not replayed the write yet.
    assert other.get(thing).status_code == 404
    assert one.get(thing).status_code == 404

    with replica.connect() as connection:
        connection.execute(text("SELECT pg_wal_replay_resume()"))
    wait_until(lambda: other.get(thing).status_code == 200)


def test_a_write_committed_by_another_thread_is_answered_with_its_position(postgres_url: str) -> None:
    """Single Observation POSTs are committed in groups by a thread of their own
    (sensorthings/posts.py), where the request's commit hook does not reach: a POST, PUT, PATCH or
    DELETE that succeeded is answered with the position all the same; a refused one and a GET not."""
    engine = make_engine(Settings(database_url=postgres_url))
    router = ReadRouter(engine, [], max_lag_seconds=5)

    def commit_elsewhere() -> None:
        with for_writes(engine).begin() as connection:
            connection.execute(text("SELECT 1"))

    async def write(request: Request) -> PlainTextResponse:
        committer = threading.Thread(target=commit_elsewhere)
        committer.start()
        committer.join()
        refused = request.query_params.get("refused")
        return PlainTextResponse("refused" if refused else "made", 400 if refused else 201)

    async def read(_request: Request) -> PlainTextResponse:
        return PlainTextResponse("read")

    app = Starlette(routes=[Route("/things", write, methods=["POST"]), Route("/things", read)])
    try:
        with TestClient(ReadYourWritesMiddleware(app, router)) as client:
            made = client.post("/things")
            assert made.status_code == 201 and parse_lsn(made.headers[HEADER]) > 0
            assert HEADER not in client.post("/things?refused=1").headers
            assert HEADER not in client.get("/things").headers
    finally:
        router.dispose()
        engine.dispose()


def test_a_position_that_is_not_one_is_refused(nodes: tuple[TestClient, TestClient]) -> None:
    one, _ = nodes
    answer = one.get("/v1.1/Things", headers={HEADER: "yesterday"})
    assert answer.status_code == 400
    assert HEADER in answer.json()["message"]
    # A malformed cookie is ignored: a browser could not get rid of it.
    one.cookies.set(COOKIE, "yesterday")
    assert one.get("/v1.1/Things").status_code == 200


def test_ready_and_metrics_show_the_replicas(
    nodes: tuple[TestClient, TestClient], replicated_postgres: Replicated
) -> None:
    one, _ = nodes
    ready = one.get("/ready").json()
    assert ready["status"] == "ready"
    [state] = ready["replicas"]
    assert state["name"] == f"127.0.0.1:{replicated_postgres.replica_port}/urbantwin"
    assert state["up"] and state["readable"] and state["lag_seconds"] is not None
    metrics = one.get("/metrics", headers=ADMIN).text
    assert f'urbantwin_db_replica_readable{{replica="{state["name"]}"}} 1.0' in metrics
    assert "urbantwin_db_replica_lag_seconds{" in metrics
