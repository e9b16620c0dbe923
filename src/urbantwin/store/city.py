"""Where a platform keeps its city's profile (`urbantwin.city_profile`): one row, written by
`urbantwin city init`, read by the server at start.

Kept in the store rather than in a file beside the server so that every server process, the CLI's
commands and a restored backup agree on which city the data belongs to.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Column, Connection, Engine, Integer, Table, inspect, select

from urbantwin.city_profile import NO_CITY, CityProfile, parse_profile
from urbantwin.store.schema import metadata
from urbantwin.store.types import Json, UtcTime

city_profile = Table(
    "city_profile",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("document", Json, nullable=False),
    Column("updated", UtcTime, nullable=False),
)


def read_profile(engine: Engine) -> CityProfile:
    """The stored profile; `NO_CITY` while none is stored (or the store is not migrated yet)."""
    if not inspect(engine).has_table(city_profile.name):
        return NO_CITY
    with engine.connect() as connection:
        document = connection.execute(select(city_profile.c.document).where(city_profile.c.id == 1)).scalar()
    return parse_profile(document, source="the stored profile") if document else NO_CITY


def write_profile(connection: Connection, profile: CityProfile) -> None:
    """Store `profile` in place of any before it (in the caller's transaction)."""
    row = {"document": profile.to_document(), "updated": datetime.now(UTC)}
    if connection.execute(select(city_profile.c.id).where(city_profile.c.id == 1)).first():
        connection.execute(city_profile.update().where(city_profile.c.id == 1).values(**row))
    else:
        connection.execute(city_profile.insert().values(id=1, **row))
