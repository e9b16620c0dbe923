"""The version of the access rules changes with every change of `datasets`, and is never issued twice."""

from __future__ import annotations

from sqlalchemy import Connection, Engine, delete, select

from urbantwin.access.datasets import create_dataset, update_dataset
from urbantwin.store.access_schema import datasets
from urbantwin.store.policy_version import current_version, policy_version


def version(connection: Connection) -> str | None:
    return connection.execute(select(current_version())).scalar()


def test_every_change_of_the_datasets_gives_a_new_version(engine: Engine) -> None:
    seen = []
    with engine.begin() as connection:
        create_dataset(connection, "air")
        seen.append(version(connection))
        update_dataset(connection, "air", title="Air quality")
        seen.append(version(connection))
        connection.execute(delete(datasets))
        seen.append(version(connection))
    assert None not in seen
    assert len(set(seen)) == 3


def test_a_version_seen_in_a_transaction_that_rolled_back_is_never_issued(engine: Engine) -> None:
    """A reader inside the transaction may keep a scope under the version it saw there; a counter
    would hand that number to the next committed change, whose rules differ."""
    with engine.begin() as connection:
        create_dataset(connection, "air")
        before = version(connection)
    with engine.connect() as connection:
        update_dataset(connection, "air", access_level="internal")
        abandoned = version(connection)
        connection.rollback()
    with engine.begin() as connection:
        assert version(connection) == before
        update_dataset(connection, "air", access_level="registered")
    with engine.connect() as connection:
        assert version(connection) not in (before, abandoned)


def test_a_store_without_the_row_makes_it_again_with_the_next_change(engine: Engine) -> None:
    with engine.begin() as connection:
        connection.execute(delete(policy_version))
        assert version(connection) is None  # nothing may be kept meanwhile
        create_dataset(connection, "air")
        assert version(connection) is not None
