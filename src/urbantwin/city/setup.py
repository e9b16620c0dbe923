"""`init_city`: an empty platform made the city's, from its profile.

What it does, in one transaction, so a platform is either the city's or as it was:
- the profile is stored (`store/city.py`), for the server, the viewer, the catalogue and the
  district statistics to read;
- the publisher the profile names becomes an organisation of the platform (made, or brought up to
  the profile's title, kind, homepage and e-mail);
- the platform's default dataset is made, published by it (a default dataset still published by the
  built-in placeholder organisation is handed over to it).

Running it again with a changed profile changes the platform to match; with the same profile it
changes nothing. It is recorded in the audit log like every administrative change.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime

from sqlalchemy import Connection, Engine, select, update

from urbantwin.access.audit import AuditLog
from urbantwin.access.bootstrap import ensure_defaults
from urbantwin.access.principal import SYSTEM
from urbantwin.city_profile import CityProfile, ProfileError, Publisher
from urbantwin.settings import Settings
from urbantwin.store.access_schema import ORGANISATION_KINDS, datasets, organisation_kind, organisations
from urbantwin.store.city import write_profile
from urbantwin.store.engine import for_writes, upgrade


@dataclass(frozen=True)
class CitySetup:
    """What `init_city` found and did, for the command to report."""

    profile: CityProfile
    publisher: str
    publisher_created: bool
    default_dataset: str
    default_dataset_moved: bool


def city_settings(settings: Settings, profile: CityProfile) -> Settings:
    """`settings` with the profile's publisher as the default publisher, unless the settings name
    one of their own (an operator's explicit setting wins over the profile)."""
    if profile.publisher is None or settings.default_publisher != Settings.default_publisher:
        return settings
    return replace(
        settings, default_publisher=profile.publisher.id, default_publisher_title=profile.publisher.title
    )


def init_city(engine: Engine, settings: Settings, profile: CityProfile) -> CitySetup:
    publisher = profile.publisher or Publisher(id=profile.id, title=profile.name)
    publisher = replace(publisher, kind=organisation_kind(publisher.kind))  # a former name taken too
    if publisher.kind not in ORGANISATION_KINDS:
        raise ProfileError(
            f"publisher.kind: {publisher.kind!r} is not an organisation kind; "
            f"known are {', '.join(ORGANISATION_KINDS)}"
        )
    upgrade(engine)
    settings = city_settings(settings, replace(profile, publisher=publisher))
    with for_writes(engine).begin() as connection:
        write_profile(connection, profile)
        created = _ensure_publisher(connection, publisher)
        moved = _hand_over_default_dataset(connection, settings.default_dataset, publisher.id)
        AuditLog(engine).write(connection, SYSTEM, "admin", "admin", target=f"city init {profile.id}")
    # The default dataset, where there is none yet, published by the city (as every start does).
    ensure_defaults(engine, settings)
    return CitySetup(profile, publisher.id, created, settings.default_dataset, moved)


def _ensure_publisher(connection: Connection, publisher: Publisher) -> bool:
    values = {
        "title": publisher.title,
        "kind": publisher.kind,
        "homepage": publisher.homepage or None,
        "email": publisher.email or None,
    }
    if connection.execute(select(organisations.c.id).where(organisations.c.id == publisher.id)).first():
        connection.execute(update(organisations).where(organisations.c.id == publisher.id).values(**values))
        return False
    connection.execute(organisations.insert().values(id=publisher.id, created=datetime.now(UTC), **values))
    return True


def _hand_over_default_dataset(connection: Connection, dataset: str, publisher: str) -> bool:
    """A default dataset published by the built-in placeholder organisation becomes the city's."""
    current = connection.execute(select(datasets.c.publisher_id).where(datasets.c.id == dataset)).scalar()
    if current != Settings.default_publisher:
        return False
    connection.execute(
        update(datasets)
        .where(datasets.c.id == dataset)
        .values(publisher_id=publisher, modified=datetime.now(UTC))
    )
    return True
