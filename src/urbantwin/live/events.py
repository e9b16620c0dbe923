"""From committed ids to events: the rows as they are now, with what subscribers filter and route by.

Every server process turns the `ChangeSet`s it is told of into `EntityEvent`s by reading the rows
(one query per entity type and batch of ids). An entity deleted before it was read is simply not
announced. An event knows its dataset (so subscribers are only sent what they may read), the
collections it belongs to through each related parent (`Datastreams(1)/Observations`), and for an
Observation its Datastream, Thing and FeatureOfInterest (the filters of the push endpoint).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import orjson
import shapely
from sqlalchemy import Connection, or_, select

from urbantwin.live.changes import CREATE, ChangeSet
from urbantwin.sensorthings import sqljson
from urbantwin.sensorthings.model import (
    ENTITY_TYPES,
    HISTORICAL_LOCATION,
    OBSERVATION,
    EntityType,
    inverse,
)
from urbantwin.sensorthings.serialize import RowWriter
from urbantwin.store import schema

#: Ids read per query (keeps the IN list and the statement small on both backends).
CHUNK = 1_000
#: Most runs of consecutive ids read as ranges rather than as an IN list.
RUNS = 8
#: Observations read at once from which the database renders their bodies (see `read_events`).
RENDER_FROM = 64

#: A bounding box: min x (longitude), min y (latitude), max x, max y, in WGS84.
BBox = tuple[float, float, float, float]

#: A body a sink will send: the API root links start with (…/v1.1) and the `$select`ed properties
#: (None: the whole entity).
Rendering = tuple[str, tuple[str, ...] | None]


@dataclass
class EntityEvent:
    """One entity created or updated, as committed."""

    entity: EntityType
    id: int
    kind: str
    #: The entity's columns; None where the hub read only the bodies its sinks send (`read_events`).
    row: Mapping[Any, Any] | None
    dataset_id: str | None
    #: The navigation collections the entity is in: (parent set name, parent id, relation name).
    parents: list[tuple[str, int, str]] = field(default_factory=list)
    datastream_id: int | None = None
    thing_id: int | None = None
    feature_id: int | None = None
    _bodies: dict[tuple[str, tuple[str, ...] | None], bytes] = field(default_factory=dict, repr=False)

    def json(self, base: str, select_: tuple[str, ...] | None = None) -> dict[str, Any]:
        """The entity as the SensorThings API writes it, links under `base` (…/v1.1)."""
        if self.row is None:
            raise RuntimeError(
                f"{self.entity.name} {self.id} was read without its columns: a sink that writes bodies "
                "itself must not say `reads_rows = False`"
            )
        return _writer(self.entity.name, base, select_)(self.row)

    def body(self, base: str, select_: tuple[str, ...] | None = None) -> bytes:
        """`json` serialised, once per base and selection (an event goes to many topics)."""
        key = (base, select_)
        cached = self._bodies.get(key)
        if cached is None:
            cached = self._bodies[key] = orjson.dumps(self.json(base, select_))
        return cached


@lru_cache(maxsize=256)
def _writer(entity: str, base: str, select_: tuple[str, ...] | None) -> RowWriter:
    names = None if select_ is None else tuple((name,) for name in select_)
    return RowWriter(ENTITY_TYPES[entity], base, names)


def renders_in_database(rendering: Rendering) -> bool:
    """Whether the database can write an Observation's body of `rendering` (see `read_events`)."""
    return sqljson.supports(OBSERVATION, _as_select(rendering[1]))


def read_events(
    connection: Connection,
    changes: ChangeSet,
    renderings: Sequence[Rendering] = (),
    rows: bool = True,
) -> list[EntityEvent]:
    """The events of `changes`, creates first, each entity type in id order.

    Observations come in thousands a second, so the bodies in `renderings` are written by the database
    in the same query (`sqljson`, formatted in C) instead of by `RowWriter` per event; `body()` then
    finds them ready. With `rows` False (no sink needs more than those bodies), a big batch of created
    Observations is read without their columns: ids and bodies only, a third of the time per row.
    """
    events: list[EntityEvent] = []
    for kind, groups in ((CREATE, changes.created), ("update", changes.updated)):
        for name, ids in groups.items():
            entity = ENTITY_TYPES[name]
            ordered = sorted(ids)
            for start in range(0, len(ordered), CHUNK):
                chunk = ordered[start : start + CHUNK]
                if entity is OBSERVATION:
                    # A few rows are written faster by RowWriter than the query with the rendering
                    # expressions is prepared (a few milliseconds): the database renders big batches.
                    rendered = renderings if len(chunk) >= RENDER_FROM else ()
                    slim = bool(rendered) and not rows and kind == CREATE
                    events.extend(_observations(connection, chunk, kind, rendered, slim))
                else:
                    events.extend(_entities(connection, entity, chunk, kind))
    return events


def _observations(
    connection: Connection, ids: list[int], kind: str, renderings: Sequence[Rendering], slim: bool = False
) -> Iterable[EntityEvent]:
    obs, ds = schema.observations, schema.datastreams
    rendered, columns, slim = _observation_columns(tuple(dict.fromkeys(renderings)), slim)
    query = (
        select(*columns)
        .join(ds, ds.c.id == obs.c.datastream_id)
        .where(_among(obs.c.id, ids))
        .order_by(obs.c.id)
    )
    for row in connection.execute(query).mappings().all():
        datastream, feature = row["datastream_id"], row["feature_of_interest_id"]
        event = EntityEvent(
            OBSERVATION,
            row["id"],
            kind,
            None if slim else row,
            row["_dataset_id"],
            [("Datastreams", datastream, "Observations"), ("FeaturesOfInterest", feature, "Observations")],
            datastream_id=datastream,
            thing_id=row["_thing_id"],
            feature_id=feature,
        )
        for key, label in rendered:
            event._bodies[key] = row[label].encode()
        yield event


@lru_cache(maxsize=64)
def _observation_columns(
    renderings: tuple[Rendering, ...], slim: bool = False
) -> tuple[list[tuple[Rendering, str]], tuple[Any, ...], bool]:
    """The columns an Observation event is read with, which of them hold rendered bodies, and whether
    they are slim: with `slim`, when the database writes every body asked for, only what sinks route by
    and the bodies, not the Observation's own columns (a third of the time per row).

    Built once per set of renderings: the expressions that render the JSON are large, and building
    them for every event cost more than the query (a single event waited ~8 ms for it)."""
    obs, ds = schema.observations, schema.datastreams
    rendered = [
        (key, f"_body{index}")
        for index, key in enumerate(renderings)
        if sqljson.supports(OBSERVATION, _as_select(key[1]))
    ]
    slim = slim and len(rendered) == len(renderings)
    own = (obs.c.id, obs.c.datastream_id, obs.c.feature_of_interest_id) if slim else OBSERVATION.columns(obs)
    columns = (
        *own,
        ds.c.thing_id.label("_thing_id"),
        ds.c.dataset_id.label("_dataset_id"),
        *(
            sqljson.row_json(OBSERVATION, obs, base, _as_select(names)).label(label)
            for (base, names), label in rendered
        ),
    )
    return rendered, columns, slim


def _among(column: Any, ids: list[int]) -> Any:
    """`column IN ids` for sorted `ids`; as a few ranges when they are runs of consecutive ids.

    A batch of Observations gets consecutive ids (`store/bulk.py`), and a thousand bound parameters
    cost more to send and plan than the rows cost to read.
    """
    runs: list[tuple[int, int]] = []
    for ident in ids:
        if runs and ident == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], ident)
        else:
            runs.append((ident, ident))
    if len(runs) > RUNS:
        return column.in_(ids)
    return or_(*(column.between(first, last) for first, last in runs))


def _as_select(names: tuple[str, ...] | None) -> tuple[tuple[str, ...], ...] | None:
    """A topic's `$select` names in the form of the query options (one path per name)."""
    return None if names is None else tuple((name,) for name in names)


def _entities(connection: Connection, entity: EntityType, ids: list[int], kind: str) -> list[EntityEvent]:
    table = entity.table
    rows = list(
        connection.execute(select(*entity.columns(table)).where(table.c.id.in_(ids)).order_by(table.c.id))
        .mappings()
        .all()
    )
    if not rows:
        return []
    datasets = _datasets(connection, entity, rows)
    parents: dict[int, list[tuple[str, int, str]]] = {row["id"]: [] for row in rows}
    for relation in entity.relations.values():
        back = inverse(entity, relation)
        if back is None or not back.many:
            continue  # the parent's side is a single entity (Datastreams(1)/Thing), not a collection
        parent = ENTITY_TYPES[relation.target]
        if relation.fk:
            for row in rows:
                if row[relation.fk] is not None:
                    parents[row["id"]].append((parent.set_name, row[relation.fk], back.name))
        elif relation.link is not None and relation.link_self and relation.link_target:
            link = relation.link
            found = connection.execute(
                select(link.c[relation.link_self], link.c[relation.link_target]).where(
                    link.c[relation.link_self].in_(list(parents))
                )
            )
            for own, other in found:
                parents[own].append((parent.set_name, other, back.name))
    return [
        EntityEvent(entity, row["id"], kind, row, datasets.get(row["id"]), parents[row["id"]]) for row in rows
    ]


def _datasets(
    connection: Connection, entity: EntityType, rows: Sequence[Mapping[Any, Any]]
) -> dict[int, Any]:
    """The dataset of each row: its own, or its Thing's for a HistoricalLocation."""
    if "dataset_id" in entity.table.c:
        return {row["id"]: row["dataset_id"] for row in rows}
    if entity is HISTORICAL_LOCATION:
        things = schema.things
        by_thing = dict(
            connection.execute(
                select(things.c.id, things.c.dataset_id).where(
                    things.c.id.in_({row["thing_id"] for row in rows})
                )
            ).all()
        )
        return {row["id"]: by_thing.get(row["thing_id"]) for row in rows}
    return {}


# --- geometry for the bbox filter -----------------------------------------------------------------


def feature_bbox(connection: Connection, feature_id: int) -> BBox | None:
    foi = schema.features_of_interest
    wkb = connection.execute(select(foi.c.geom).where(foi.c.id == feature_id)).scalar()
    return _bounds([wkb])


def thing_bbox(connection: Connection, thing_id: int) -> BBox | None:
    """The bounds of the Thing's current Location(s)."""
    links, loc = schema.thing_locations, schema.locations
    wkbs = connection.execute(
        select(loc.c.geom).join(links, links.c.location_id == loc.c.id).where(links.c.thing_id == thing_id)
    ).scalars()
    return _bounds(list(wkbs))


def _bounds(wkbs: list[bytes | None]) -> BBox | None:
    boxes = [shapely.from_wkb(w).bounds for w in wkbs if w]
    boxes = [b for b in boxes if b and all(v == v for v in b)]  # an empty geometry has NaN bounds
    if not boxes:
        return None
    return (
        min(b[0] for b in boxes),
        min(b[1] for b in boxes),
        max(b[2] for b in boxes),
        max(b[3] for b in boxes),
    )


def intersects(a: BBox | None, b: BBox) -> bool:
    return a is not None and a[0] <= b[2] and b[0] <= a[2] and a[1] <= b[3] and b[1] <= a[3]
