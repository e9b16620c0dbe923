"""Dataset records: creating them, publishing a feature collection as one, moving entities between them.

Used by the start-up defaults, the importers, the admin API and the CLI; deciding who may do so is
the policy's business, not this module's.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, or_, select, update
from sqlalchemy.exc import IntegrityError

from urbantwin.errors import BadRequest, NotFound
from urbantwin.store.access_schema import (
    ACCESS_LEVELS,
    FORMER_KINDS,
    datasets,
    groups,
    organisations,
    users,
)
from urbantwin.store.features_schema import collections
from urbantwin.store.schema import (
    datastreams,
    features_of_interest,
    historical_locations,
    location_historical_locations,
    locations,
    observations,
    observed_properties,
    sensors,
    thing_locations,
    things,
)

#: Licence codes of the DCAT-AP.de vocabulary (http://dcat-ap.de/def/licenses/<code>) this platform
#: names, and how free-text licence notes of sources spell them.
LICENCE_PATTERNS: tuple[tuple[str, str], ...] = (
    (r"dl-de[/-]?by[/-]?2[.-]0|dl-by-de/2\.0", "dl-by-de/2.0"),
    (r"dl-de[/-]?zero[/-]?2[.-]0|dl-zero-de/2\.0", "dl-zero-de/2.0"),
    (r"cc[- ]?by[- ]?sa[- ]?4", "cc-by-sa/4.0"),
    (r"cc[- ]?by[- /]?4", "cc-by/4.0"),
    (r"cc0|cc[- ]?zero", "cc-zero"),
    (r"odbl", "odbl"),
)

#: Entity sets that can be moved between datasets, with what moves along with them.
MOVABLE = {"Things", "Datastreams", "Sensors", "ObservedProperties", "Locations", "FeaturesOfInterest"}
_TABLES = {
    "Things": things,
    "Datastreams": datastreams,
    "Sensors": sensors,
    "ObservedProperties": observed_properties,
    "Locations": locations,
    "FeaturesOfInterest": features_of_interest,
}

_ID = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,99}$")


def licence_code(note: str | None) -> str:
    """The DCAT-AP.de licence code a free-text licence note names (the first that matches)."""
    for pattern, code in LICENCE_PATTERNS:
        if note and re.search(pattern, note, re.IGNORECASE):
            return code
    return "other-open" if note else "other-closed"


def check_id(kind: str, ident: str) -> str:
    if not _ID.match(ident or ""):
        raise BadRequest(
            f"{kind} id {ident!r} must be 1-100 lower-case letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    return ident


def create_dataset(connection: Connection, ident: str, **fields: Any) -> None:
    check_id("dataset", ident)
    if connection.execute(select(datasets.c.id).where(datasets.c.id == ident)).first():
        raise BadRequest(f"a dataset {ident!r} exists already")
    values = dataset_values(connection, fields)
    now = datetime.now(UTC)
    values.setdefault("title", ident)
    empty: list[str] = []
    for key, default in (("themes", empty), ("keywords", empty), ("read_groups", empty), ("writers", empty)):
        values.setdefault(key, default)
    values.setdefault("licence", "other-closed")
    if values.get("publisher_id") is None:
        # A catalogue record needs a publisher (DCAT-AP.de): unnamed, the platform's city publishes it.
        values["publisher_id"] = _default_publisher(connection)
    connection.execute(datasets.insert().values(id=ident, created=now, modified=now, **values))


def create_dataset_unless_exists(connection: Connection, ident: str, **fields: Any) -> bool:
    """Create the dataset `ident` unless it exists (True: it was created here). Modules that keep a
    dataset of their own call this when a server starts; every worker process of every node starts
    at once, so another may create it between the check and the insert: the insert runs in a
    savepoint, and losing that race means the dataset exists, which is all that is asked."""
    if connection.execute(select(datasets.c.id).where(datasets.c.id == ident)).first():
        return False
    try:
        with connection.begin_nested():
            create_dataset(connection, ident, **fields)
    except IntegrityError:
        if connection.execute(select(datasets.c.id).where(datasets.c.id == ident)).first() is None:
            raise
        return False
    return True


def update_dataset(connection: Connection, ident: str, **fields: Any) -> None:
    values = dataset_values(connection, fields)
    values["modified"] = datetime.now(UTC)
    result = connection.execute(update(datasets).where(datasets.c.id == ident).values(**values))
    if result.rowcount == 0:
        raise NotFound(f"no dataset {ident!r}")


_FIELDS = {
    "title": str,
    "description": str,
    "publisher_id": str,
    "contact_name": str,
    "contact_email": str,
    "themes": list,
    "keywords": list,
    "licence": str,
    "access_level": str,
    "read_groups": list,
    "writers": list,
    "update_frequency": str,
    "extra": dict,
}
_WRITER = re.compile(r"^(organisation|group|user):.+$")
#: Where the id of each kind of `writers` entry is looked up.
_WRITER_COLUMNS = {"organisation": organisations.c.id, "group": groups.c.id, "user": users.c.name}


def dataset_values(connection: Connection, fields: dict[str, Any]) -> dict[str, Any]:
    """Checked column values of a dataset record, with errors naming the field at fault."""
    values: dict[str, Any] = {}
    for key, value in fields.items():
        kind = _FIELDS.get(key)
        if kind is None:
            raise BadRequest(f"a dataset has no field {key!r}; known: {', '.join(sorted(_FIELDS))}")
        if value is None and key in ("publisher_id", "contact_name", "contact_email", "extra"):
            values[key] = None
            continue
        if not isinstance(value, kind) or (kind is list and not all(isinstance(v, str) for v in value)):
            expected = "a list of strings" if kind is list else kind.__name__
            raise BadRequest(f"dataset field {key!r} must be {expected}")
        values[key] = value
    if values.get("access_level") is not None and values["access_level"] not in ACCESS_LEVELS:
        raise BadRequest(
            f"access_level must be one of {', '.join(ACCESS_LEVELS)}, not {values['access_level']!r}"
        )
    for entry in values.get("writers") or ():
        if not _WRITER.match(entry):
            raise BadRequest(f"writers entry {entry!r} must be organisation:<id>, group:<id> or user:<name>")
    require_existing(connection, "publisher_id", organisations, values.get("publisher_id"))
    # A rule naming nobody would silently grant nothing now and, worse, grant to whoever is later
    # created under that name: so every group, organisation and user named must exist already.
    for group in values.get("read_groups") or ():
        require_existing(connection, "read_groups", groups, group)
    for entry in values.get("writers") or ():
        kind, _, ident = entry.partition(":")
        column = _WRITER_COLUMNS[kind]
        if not connection.execute(select(column).where(column == ident)).first():
            raise BadRequest(f"writers: no {kind} {ident!r}")
    return values


def require_existing(connection: Connection, field: str, table: Any, ident: str | None) -> None:
    """400 naming `field` unless `ident` is None or a row of `table` (an organisation, a dataset).

    `is not None`, not truthiness: an empty id refers to nothing too (it was a 500 through the
    foreign key).
    """
    if ident is not None and not connection.execute(select(table.c.id).where(table.c.id == ident)).first():
        raise BadRequest(f"{field}: no {table.name.rstrip('s')} {ident!r}")


def publish_collection(connection: Connection, collection_id: str, publisher: str | None = None) -> str:
    """Give a feature collection a dataset of its own (same id) unless it has one; its id.

    The dataset is open, published by `publisher` or else by the first local authority (the city
    running the platform, made at start); a data steward refines it afterwards.
    """
    row = connection.execute(select(collections).where(collections.c.id == collection_id)).one()
    if row.dataset_id is not None:
        return row.dataset_id
    if not connection.execute(select(datasets.c.id).where(datasets.c.id == collection_id)).first():
        now = datetime.now(UTC)
        connection.execute(
            datasets.insert().values(
                id=collection_id,
                title=row.title,
                description=row.description or "",
                publisher_id=publisher or _default_publisher(connection),
                themes=[],
                keywords=list(row.keywords or []),
                licence=licence_code(row.licence),
                access_level="open",
                read_groups=[],
                writers=[],
                update_frequency="IRREG",
                extra={"licence_note": row.licence, "attribution": row.attribution},
                created=now,
                modified=now,
            )
        )
    connection.execute(
        update(collections).where(collections.c.id == collection_id).values(dataset_id=collection_id)
    )
    return collection_id


def derive_dataset(connection: Connection, ident: str, source: str, title: str) -> bool:
    """Create dataset `ident` with the publisher and access rules of dataset `source`, for results
    derived from it (an analysis's variant), unless `ident` exists or `source` does not; whether
    it did. A result published open by default would be more open than what it derives from.
    """
    if connection.execute(select(datasets.c.id).where(datasets.c.id == ident)).first():
        return False
    rule = connection.execute(select(datasets).where(datasets.c.id == source)).first()
    if rule is None:
        return False
    now = datetime.now(UTC)
    connection.execute(
        datasets.insert().values(
            id=ident,
            title=title,
            description=f"Derived from dataset {source}.",
            publisher_id=rule.publisher_id,
            themes=list(rule.themes or []),
            keywords=list(rule.keywords or []),
            licence=rule.licence,
            access_level=rule.access_level,
            read_groups=list(rule.read_groups or []),
            writers=list(rule.writers or []),
            update_frequency="IRREG",
            extra={"derived_from": source},
            created=now,
            modified=now,
        )
    )
    return True


def _kinds_of(kind: str) -> list[str]:
    """`kind` and the former names of it that a row may still hold."""
    return [kind, *(former for former, now in FORMER_KINDS.items() if now == kind)]


def _default_publisher(connection: Connection) -> str | None:
    return connection.execute(
        select(organisations.c.id)
        .where(organisations.c.kind.in_(_kinds_of("local-authority")))
        .order_by(organisations.c.created, organisations.c.id)
        .limit(1)
    ).scalar()


@dataclass(frozen=True)
class Move:
    """What moving entities into a dataset would change, for the policy to judge before it happens.

    Entities are named as the SensorThings API names them, `("Things", 2)`.
    """

    target: str
    entity_set: str
    ids: tuple[int, ...]
    #: The ids asked for that name no entity of the set.
    missing: tuple[int, ...]
    #: Each dataset rows would leave (None: rows outside every dataset) → those rows: the entities
    #: asked for and what moves along with them (a Thing's Datastreams and Locations).
    leaving: dict[str | None, list[tuple[str, int]]]
    #: Each dataset of entities that stay where they are but use a moved one → those entities: a
    #: Sensor's or ObservedProperty's Datastreams, a FeatureOfInterest's Observations' Datastreams,
    #: a Location's Things. Their readers would lose sight of what they use.
    users: dict[str | None, list[tuple[str, int]]]


def plan_move(connection: Connection, dataset_id: str, entity_set: str, ids: list[int]) -> Move:
    """The `Move` of `move_entities(connection, dataset_id, entity_set, ids)`, changing nothing."""
    if entity_set not in MOVABLE:
        raise BadRequest(f"entities of {entity_set!r} cannot be moved; movable: {', '.join(sorted(MOVABLE))}")
    table = _TABLES[entity_set]
    wanted = sorted(set(ids))
    rows = connection.execute(select(table.c.id, table.c.dataset_id).where(table.c.id.in_(wanted))).all()
    found = {row.id for row in rows}
    leaving: dict[str | None, list[tuple[str, int]]] = {}
    users: dict[str | None, list[tuple[str, int]]] = {}

    def leave(name: str, moved: Sequence[Any]) -> None:
        for row in moved:
            if row.dataset_id != dataset_id:
                leaving.setdefault(row.dataset_id, []).append((name, row.id))

    def used_by(name: str, query: Any) -> None:
        for row in connection.execute(query.distinct()):
            users.setdefault(row.dataset_id, []).append((name, row.id))

    def staying(column: Any) -> Any:
        # `IS DISTINCT FROM`: a user outside every dataset (NULL) stays behind too.
        return column.is_distinct_from(dataset_id)

    leave(entity_set, rows)
    moved_locations = sorted(found) if entity_set == "Locations" else []
    if entity_set == "Things":
        leave(
            "Datastreams",
            connection.execute(
                select(datastreams.c.id, datastreams.c.dataset_id).where(datastreams.c.thing_id.in_(wanted))
            ).all(),
        )
        along = connection.execute(
            select(locations.c.id, locations.c.dataset_id).where(
                locations.c.id.in_(
                    select(thing_locations.c.location_id).where(thing_locations.c.thing_id.in_(wanted))
                )
            )
        ).all()
        leave("Locations", along)
        moved_locations = [row.id for row in along]
    if entity_set in ("Sensors", "ObservedProperties"):
        column = datastreams.c.sensor_id if entity_set == "Sensors" else datastreams.c.observed_property_id
        used_by(
            "Datastreams",
            select(datastreams.c.id, datastreams.c.dataset_id).where(
                column.in_(wanted), staying(datastreams.c.dataset_id)
            ),
        )
    if entity_set == "FeaturesOfInterest":
        used_by(
            "Datastreams",
            select(datastreams.c.id, datastreams.c.dataset_id)
            .join(observations, observations.c.datastream_id == datastreams.c.id)
            .where(observations.c.feature_of_interest_id.in_(wanted), staying(datastreams.c.dataset_id)),
        )
    if moved_locations:
        # Things that stay elsewhere but are, or were, at a moved Location.
        moving_things = wanted if entity_set == "Things" else []
        were_there = (
            select(historical_locations.c.thing_id)
            .join(
                location_historical_locations,
                location_historical_locations.c.historical_location_id == historical_locations.c.id,
            )
            .where(location_historical_locations.c.location_id.in_(moved_locations))
        )
        are_there = select(thing_locations.c.thing_id).where(
            thing_locations.c.location_id.in_(moved_locations)
        )
        used_by(
            "Things",
            select(things.c.id, things.c.dataset_id).where(
                or_(things.c.id.in_(are_there), things.c.id.in_(were_there)),
                things.c.id.not_in(moving_things),
                staying(things.c.dataset_id),
            ),
        )
    for entities in users.values():
        entities[:] = sorted(set(entities))
    return Move(
        target=dataset_id,
        entity_set=entity_set,
        ids=tuple(wanted),
        missing=tuple(i for i in wanted if i not in found),
        leaving=leaving,
        users=users,
    )


def move_entities(connection: Connection, dataset_id: str, entity_set: str, ids: list[int]) -> int:
    """Put entities into `dataset_id`; a Thing takes its Datastreams and Locations along.

    Returns the number of rows changed. Observations and HistoricalLocations follow their Datastream
    and Thing without being touched.
    """
    if entity_set not in MOVABLE:
        raise BadRequest(f"entities of {entity_set!r} cannot be moved; movable: {', '.join(sorted(MOVABLE))}")
    table = _TABLES[entity_set]
    changed = connection.execute(
        update(table).where(table.c.id.in_(ids)).values(dataset_id=dataset_id)
    ).rowcount
    if entity_set == "Things":
        changed += connection.execute(
            update(datastreams).where(datastreams.c.thing_id.in_(ids)).values(dataset_id=dataset_id)
        ).rowcount
        changed += connection.execute(
            update(locations)
            .where(
                locations.c.id.in_(
                    select(thing_locations.c.location_id).where(thing_locations.c.thing_id.in_(ids))
                )
            )
            .values(dataset_id=dataset_id)
        ).rowcount
    return changed
