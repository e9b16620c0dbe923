"""The access point keeps each kind of principal's read scope while the access rules stay, and sees a
change made anywhere (another access point, another server process, plain SQL) at once."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Engine, insert, select, update

from tests.conftest import statements
from urbantwin.access.datasets import create_dataset, update_dataset
from urbantwin.access.gate import Access, Caller
from urbantwin.access.principal import ANONYMOUS, Principal
from urbantwin.settings import Settings
from urbantwin.store.access_schema import datasets, organisations
from urbantwin.store.engine import make_engine

READER = Principal("rita", user_id=7, role="reader", organisation_id="city", proof="token")


def readable(access: Access, principal: Principal) -> frozenset[str] | None:
    return access.scope(Caller(principal)).ids


def organisation(ident: str) -> dict[str, object]:
    return {"id": ident, "title": ident.title(), "kind": "administration", "created": datetime.now(UTC)}


def test_a_change_through_one_access_point_holds_at_once_in_another(engine: Engine) -> None:
    """`other` has an engine (a pool) of its own, as another server process has."""
    settings = Settings(database_url=engine.url.render_as_string(hide_password=False))
    one, other = Access.of(engine, settings), Access.of(make_engine(settings), settings)
    with engine.begin() as connection:
        connection.execute(insert(organisations).values(organisation("city")))
        create_dataset(connection, "air", access_level="open", publisher_id="city")
        create_dataset(connection, "water", access_level="internal", publisher_id="city")
    assert readable(other, ANONYMOUS) == {"air"}
    assert readable(other, READER) == {"air", "water"}

    # Revoked: `air` becomes internal to another organisation, through the first access point's engine.
    with one.engine.begin() as connection:
        connection.execute(insert(organisations).values(organisation("uni")))
        update_dataset(connection, "air", access_level="internal", publisher_id="uni")
    assert readable(other, ANONYMOUS) == frozenset()
    assert readable(other, READER) == {"water"}

    # Granted again, by plain SQL as an operator might: seen as well.
    with engine.begin() as connection:
        connection.execute(update(datasets).where(datasets.c.id == "air").values(access_level="registered"))
    assert readable(other, ANONYMOUS) == frozenset()
    assert readable(other, READER) == {"air", "water"}
    # A publisher deleted: its datasets lose it through the foreign key, which changes the rules too.
    with engine.begin() as connection:
        connection.execute(update(datasets).where(datasets.c.id == "water").values(publisher_id="uni"))
    assert readable(other, READER) == {"air"}
    with engine.begin() as connection:
        connection.execute(organisations.delete().where(organisations.c.id == "uni"))
    assert readable(other, ANONYMOUS) == frozenset()  # internal without a publisher: administrators only
    assert readable(one, READER) == readable(other, READER) == {"air"}
    other.engine.dispose()


def test_a_kept_scope_costs_one_row_and_a_version_read_along_costs_nothing(engine: Engine) -> None:
    access = Access.of(engine, Settings(database_url=str(engine.url)))
    with engine.begin() as connection:
        create_dataset(connection, "air", access_level="open")
        create_dataset(connection, "water", access_level="internal")
    assert readable(access, ANONYMOUS) == {"air"}
    with statements(engine) as seen:
        assert readable(access, ANONYMOUS) == {"air"}
        # Another anonymous request, and a signed-in user of no organisation: their own kinds.
        assert readable(access, Principal("ann", user_id=3, role="reader", proof="token")) == {"air"}
    assert len(seen) == 3  # the version twice, the rules once (the new kind of principal)
    assert "datasets" not in seen[0]
    with engine.connect() as connection:
        version = connection.execute(select(Access.policy_version())).scalar()
        with statements(engine) as seen:
            assert access.scope(Caller(ANONYMOUS), connection, version).ids == {"air"}
    assert seen == []


def test_administrators_need_no_rules_at_all(engine: Engine) -> None:
    access = Access.of(engine, Settings(database_url=str(engine.url)))
    with statements(engine) as seen:
        assert access.scope(Caller.system()).unrestricted
    assert seen == []
