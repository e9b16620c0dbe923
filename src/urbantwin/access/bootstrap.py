"""What a platform needs before its first request: the city's organisation and the default dataset.

`ensure_defaults` runs at every start and changes nothing the second time. It also gives entities
that belong to no dataset (rows written before datasets existed) the default dataset, and each
collection without one a dataset of its own, so that access, which fails closed on such rows, does
not hide them from the public after an upgrade.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Connection, Engine, inspect, select, update

from urbantwin.access.datasets import publish_collection
from urbantwin.settings import Settings
from urbantwin.store.access_schema import datasets, organisations
from urbantwin.store.engine import for_writes
from urbantwin.store.features_schema import collections
from urbantwin.store.schema import (
    datastreams,
    features_of_interest,
    locations,
    observed_properties,
    sensors,
    things,
)

MEMBER_TABLES = (things, locations, sensors, observed_properties, datastreams, features_of_interest)


def ensure_defaults(engine: Engine, settings: Settings) -> None:
    if not inspect(engine).has_table(datasets.name):
        # A store not migrated yet (`urbantwin db upgrade` makes it); nothing to complete.
        return
    with for_writes(engine).begin() as connection:
        if not connection.execute(
            select(datasets.c.id).where(datasets.c.id == settings.default_dataset)
        ).first():
            _create_default(connection, settings)
        for table in MEMBER_TABLES:
            connection.execute(
                update(table).where(table.c.dataset_id.is_(None)).values(dataset_id=settings.default_dataset)
            )
        orphans = connection.execute(select(collections.c.id).where(collections.c.dataset_id.is_(None))).all()
        for (collection_id,) in orphans:
            publish_collection(connection, collection_id, settings.default_publisher)


def _create_default(connection: Connection, settings: Settings) -> None:
    now = datetime.now(UTC)
    publisher = settings.default_publisher
    if not connection.execute(select(organisations.c.id).where(organisations.c.id == publisher)).first():
        connection.execute(
            organisations.insert().values(
                id=publisher, title=settings.default_publisher_title, kind="local-authority", created=now
            )
        )
    connection.execute(
        datasets.insert().values(
            id=settings.default_dataset,
            title="Sensor data",
            description=(
                "SensorThings entities that were created without a dataset of their own "
                "(the platform's default dataset)."
            ),
            publisher_id=publisher,
            themes=["TECH"],
            keywords=["SensorThings"],
            licence="dl-by-de/2.0",
            access_level="open",
            read_groups=[],
            writers=[],
            update_frequency="CONT",
            created=now,
            modified=now,
        )
    )
