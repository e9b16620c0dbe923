"""Reads on a PostgreSQL streaming replica, the writer's own next reads on the primary, and a
replica that falls behind or goes away skipped without an error (a primary and a replica of the
test's own, tests/replication.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Connection, Engine, create_engine, text

from tests.replication import Replicated, wait_until
from urbantwin.settings import Settings
from urbantwin.store.engine import for_writes, make_engine
from urbantwin.store.replicas import (
    ReadRouter,
    attach,
    attach_replicas,
    format_lsn,
    parse_lsn,
    read_connection,
    reading_after,
    router_of,
)

# The pair of servers of their own takes 10 to 30 s to make (initdb, the migrations, the base backup).
pytestmark = [pytest.mark.postgres, pytest.mark.long]


def test_a_wal_position_reads_and_writes_as_postgresql_writes_it() -> None:
    assert parse_lsn("16/B374D848") == (0x16 << 32) | 0xB374D848
    assert format_lsn(parse_lsn("0/3000148")) == "0/3000148"
    for wrong in ("", "16", "16/", "/B374D848", "x/1", "1/2/3", "123456789/0"):
        with pytest.raises(ValueError):
            parse_lsn(wrong)


def test_replicas_of_a_sqlite_store_are_refused(tmp_path) -> None:  # noqa: ANN001
    settings = Settings(
        database_url=f"sqlite:///{tmp_path}/s.sqlite", database_replica_urls=("postgresql://x/y",)
    )
    engine = make_engine(settings)
    with pytest.raises(ValueError, match="read replicas need a PostgreSQL store"):
        attach_replicas(engine, settings)


@pytest.fixture
def primary(replicated_postgres: Replicated) -> Iterator[Engine]:
    engine = make_engine(Settings(database_url=replicated_postgres.primary_url))
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE IF NOT EXISTS replica_probe (note text)"))
        connection.execute(text("DELETE FROM replica_probe"))
    yield engine
    engine.dispose()


@pytest.fixture
def replica(replicated_postgres: Replicated) -> Iterator[Engine]:
    """The replica as a test looks at it (not through the router), replaying when the test ends."""
    engine = create_engine(replicated_postgres.replica_url, isolation_level="AUTOCOMMIT")
    yield engine
    with engine.connect() as connection:
        connection.execute(text("SELECT pg_wal_replay_resume()"))
    engine.dispose()


def _router(primary: Engine, pair: Replicated, max_lag: float, check_seconds: float = 0.05) -> ReadRouter:
    replica_engine = make_engine(Settings(database_url=pair.replica_url), connect_timeout=2)
    router = ReadRouter(primary, [("replica", replica_engine)], max_lag, check_seconds, down_seconds=0.5)
    return attach(router)


def _on_replica(connection: Connection) -> bool:
    return bool(connection.execute(text("SELECT pg_is_in_recovery()")).scalar())


def _notes(connection: Connection) -> list[str]:
    return list(connection.execute(text("SELECT note FROM replica_probe ORDER BY note")).scalars())


def _caught_up(router: ReadRouter) -> bool:
    router.refresh(force=True)
    return router.report()[0]["readable"]


def _write(primary: Engine, note: str) -> int:
    """Write `note` on the primary as a request would, and the position its client is handed."""
    router = router_of(primary)
    assert router is not None
    with reading_after(0) as state:
        with for_writes(primary).begin() as connection:
            connection.execute(text("INSERT INTO replica_probe VALUES (:note)"), {"note": note})
        assert state.wrote, "a commit on the primary marks the request as one that wrote"
    return router.primary_position()


def test_reads_go_to_the_replica_and_writes_to_the_primary(
    primary: Engine, replica: Engine, replicated_postgres: Replicated
) -> None:
    router = _router(primary, replicated_postgres, max_lag=30)
    try:
        _write(primary, "one")
        wait_until(lambda: _caught_up(router))
        served_by_replica = 0
        for _ in range(3):
            with read_connection(primary) as connection:
                served_by_replica += _on_replica(connection)
                assert _notes(connection) == ["one"]
        assert served_by_replica == 3
        with for_writes(primary).begin() as connection:  # writes are the primary's, replicas refuse them
            assert not _on_replica(connection)
    finally:
        router.dispose()


def test_the_writers_next_read_sees_its_write_while_the_replica_is_paused(
    primary: Engine, replica: Engine, replicated_postgres: Replicated
) -> None:
    router = _router(primary, replicated_postgres, max_lag=30)
    try:
        wait_until(lambda: _caught_up(router))
        with replica.connect() as connection:
            connection.execute(text("SELECT pg_wal_replay_pause()"))
        position = _write(primary, "mine")
        router.refresh(force=True)
        with reading_after(position), read_connection(primary) as connection:
            assert not _on_replica(connection)
            assert _notes(connection) == ["mine"]
        # Another client, which wrote nothing, reads the replica: within the lag allowed, without
        # the write it has not replayed yet.
        with reading_after(0), read_connection(primary) as connection:
            assert _on_replica(connection)
            assert _notes(connection) == []
        with replica.connect() as connection:
            connection.execute(text("SELECT pg_wal_replay_resume()"))
        # Once the replica has replayed the write, the writer reads it there too.
        wait_until(lambda: router.refresh(force=True) or router.replicas[0].state.replayed >= position)
        with reading_after(position), read_connection(primary) as connection:
            assert _on_replica(connection)
            assert _notes(connection) == ["mine"]
    finally:
        router.dispose()


def test_a_replica_behind_by_more_than_the_limit_is_skipped(
    primary: Engine, replica: Engine, replicated_postgres: Replicated
) -> None:
    router = _router(primary, replicated_postgres, max_lag=0.3)
    try:
        wait_until(lambda: _caught_up(router))
        with replica.connect() as connection:
            connection.execute(text("SELECT pg_wal_replay_pause()"))
        _write(primary, "later")
        wait_until(lambda: not _caught_up(router), seconds=5)
        [state] = router.report()
        assert state["up"] and not state["readable"] and state["lag_seconds"] > 0.3
        with read_connection(primary) as connection:
            assert not _on_replica(connection)
            assert _notes(connection) == ["later"]
        with replica.connect() as connection:
            connection.execute(text("SELECT pg_wal_replay_resume()"))
        wait_until(lambda: _caught_up(router))
        with read_connection(primary) as connection:
            assert _on_replica(connection)
    finally:
        router.dispose()


def test_a_stopped_replica_is_skipped_without_an_error(
    primary: Engine, replicated_postgres: Replicated
) -> None:
    router = _router(primary, replicated_postgres, max_lag=30)
    try:
        wait_until(lambda: _caught_up(router))
        with read_connection(primary) as connection:
            assert _on_replica(connection)  # its pool holds a connection to the replica now
        replicated_postgres.stop_replica()
        try:
            # Before any check has noticed: the failed connection marks the replica down, and the
            # read goes to the primary.
            with read_connection(primary) as connection:
                assert not _on_replica(connection)
                assert _notes(connection) == []
            [state] = router.report()
            assert not state["up"] and not state["readable"]
        finally:
            replicated_postgres.start_replica()
        wait_until(lambda: _caught_up(router))
        with read_connection(primary) as connection:
            assert _on_replica(connection)
    finally:
        router.dispose()
