"""Creating, updating and deleting entities, in one transaction per request.

Deep insert creates a whole graph (a Thing with its Locations and Datastreams, each with its Sensor
and ObservedProperty); a nested object carrying `@iot.id` links the existing entity instead (as
FROST-Server does: clients such as frost-sta-client send the whole entity they read). An update
(PATCH, PUT) only links by `@iot.id`: related entities given inline are refused, as the standard
says. Creating an Observation without a FeatureOfInterest derives one from the Thing's Location;
giving a Thing a Location records a HistoricalLocation. Deletes cascade as the standard says,
through the foreign keys of the schema.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, delete, exists, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from urbantwin.errors import BadRequest, NotFound
from urbantwin.sensorthings.guard import WriteGuard, dataset_column
from urbantwin.sensorthings.model import (
    DATASTREAM,
    ENTITY_TYPES,
    FEATURE_OF_INTEREST,
    HISTORICAL_LOCATION,
    LOCATION,
    OBSERVATION,
    THING,
    EntityType,
    Relation,
    inverse,
)
from urbantwin.sensorthings.paths import ResourcePath, steps_text
from urbantwin.sensorthings.read import path_condition
from urbantwin.sensorthings.record import CREATED, DELETED, UPDATED, current_record
from urbantwin.sensorthings.values import GEOJSON_ENCODINGS, entity_id, property_columns
from urbantwin.sensorthings.visibility import dataset_of
from urbantwin.store import rollups, schema
from urbantwin.store.spatial import covers, grow_area

#: Keys a client may send back from what it read; they are not properties to write.
_READ_ONLY_KEYS = {"@iot.id", "id", "@iot.selfLink"}


class DatastreamAreas:
    """New (Datastream, FeatureOfInterest) pairs of a request, to grow each Datastream's observedArea.

    The area only changes when a Datastream gets an Observation of a feature it has not seen, so the
    update runs once per new pair (and per server process, which remembers the pairs it has seen),
    not once per Observation.
    """

    def __init__(self) -> None:
        self.pairs: set[tuple[int, int]] = set()

    def add(self, datastream: int, feature: int) -> None:
        self.pairs.add((datastream, feature))

    def apply(self, connection: Connection, covered: set[tuple[int, int]]) -> None:
        ds, foi = schema.datastreams, schema.features_of_interest
        for datastream, feature in sorted(self.pairs - covered):
            geom = select(foi.c.geom).where(foi.c.id == feature).scalar_subquery()
            connection.execute(
                update(ds)
                .where(ds.c.id == datastream)
                .where((ds.c.observed_area.is_(None)) | ~covers(ds.c.observed_area, geom))
                .values(observed_area=grow_area(ds.c.observed_area, geom))
            )


#: Entities whose deletion deletes Observations (themselves, or by cascade).
_HOLDS_OBSERVATIONS = frozenset(
    {"Observation", "FeatureOfInterest", "Datastream", "Thing", "Sensor", "ObservedProperty"}
)


class _DefaultFeatures(dict[int, int]):
    """Default FeaturesOfInterest by Datastream; a missing one is found or made on first use."""

    def __init__(self, writer: Writer) -> None:
        super().__init__()
        self.writer = writer

    def __missing__(self, datastream: int) -> int:
        feature = self[datastream] = self.writer._feature_from_location(datastream)
        return feature


class Writer:
    """All writes of one request, on one connection inside one transaction."""

    def __init__(
        self, connection: Connection, guard: WriteGuard, covered: set[tuple[int, int]] | None = None
    ) -> None:
        self.connection = connection
        #: Who writes, what they may see and which datasets new entities join.
        self.guard = guard
        #: The dataset of the entity being created, innermost last: what is created in it joins it.
        self.context: list[str | None] = []
        self._datastream_datasets: dict[int, str | None] = {}
        self.now = datetime.now(UTC)
        self.summary = DatastreamAreas()
        #: (Datastream, FeatureOfInterest) pairs whose feature is known to lie in the observedArea.
        self.covered = covered if covered is not None else set()
        #: Rows of the Observations inserted, by id (for the response to a POST).
        self.inserted: dict[int, dict[str, Any]] = {}
        #: Entities referenced by id, to name the missing one when a foreign key fails.
        self.references: list[tuple[EntityType, int]] = []
        #: What this request created, updated and deleted, for the live updates to announce.
        self.record = current_record(connection)

    # --- entry points ---------------------------------------------------------------------------

    def create(self, path: ResourcePath, payload: Any) -> tuple[EntityType, int]:
        """POST to a collection: `Things`, or `Things(1)/Datastreams` (linked to its parent)."""
        if path.property_name is not None or path.ref:
            raise BadRequest("POST goes to a collection, e.g. /Things or /Things(1)/Datastreams")
        if not path.target.is_collection:
            raise BadRequest(f"POST goes to a collection, not to the single {path.target.entity.name}")
        entity = path.target.entity
        if not isinstance(payload, dict):
            raise BadRequest(f"the body must be a JSON object describing a {entity.name}")
        forced: dict[str, Any] = {}
        links: list[tuple[Relation, int]] = []
        if len(path.steps) > 1:
            parent_step = path.steps[-2]
            parent_id = self._resolve(path.steps[:-1])
            relation = path.target.via
            assert relation is not None
            back = inverse(parent_step.entity, relation)
            if back is None:  # pragma: no cover - every relation of the model has an inverse
                raise BadRequest(f"cannot create {entity.name} under {parent_step.entity.name}")
            if back.many:
                links.append((back, parent_id))
            else:
                forced[back.fk] = parent_id  # type: ignore[index]
                if back.name in payload:
                    raise BadRequest(
                        f"{entity.name}: {back.name} is given by the path; leave it out of the body"
                    )
        parent_dataset = None
        if len(path.steps) > 1:
            parent_dataset = dataset_of(self.connection, path.steps[-2].entity, parent_id)
            if not dataset_column(entity) and entity is not OBSERVATION:
                self.guard.authorize(self.connection, parent_dataset)
        self.context.append(parent_dataset)
        try:
            ident = self._guarded(lambda: self._create(entity, payload, forced, links))
        finally:
            self.context.pop()
        return entity, ident

    def update(self, path: ResourcePath, payload: Any, replace_all: bool) -> tuple[EntityType, int]:
        """PATCH (only what is given) or PUT (everything; what is left out is reset)."""
        if path.property_name is not None or path.ref or path.target.is_collection:
            raise BadRequest("PATCH and PUT address one entity, e.g. /Things(1)")
        entity = path.target.entity
        ident = self._resolve(path.steps)
        if not isinstance(payload, dict):
            raise BadRequest(f"the body must be a JSON object with properties of a {entity.name}")
        self.guard.authorize_entity(self.connection, entity, ident)
        before = self._datastream_of(ident) if entity is OBSERVATION else None
        # What the update deep-creates (a new Location of a Thing) joins the entity's dataset.
        self.context.append(dataset_of(self.connection, entity, ident))
        try:
            self._guarded(lambda: self._update(entity, ident, payload, replace_all))
        finally:
            self.context.pop()
        self.record.add(UPDATED, entity.name, (ident,))
        if before is not None:
            # Hourly rollups of the time-series extension hold the old value: rebuild them lazily.
            rollups.invalidate(self.connection, {before, self._datastream_of(ident)})
        return entity, ident

    def delete(self, path: ResourcePath) -> None:
        if path.ref:
            self._delete_ref(path)
            return
        if path.property_name is not None or path.target.is_collection:
            raise BadRequest("DELETE addresses one entity, e.g. /Things(1)")
        entity = path.target.entity
        ident = self._resolve(path.steps)
        self.guard.authorize_entity(self.connection, entity, ident)
        touched = self._datastreams_observed(entity, ident)
        self.connection.execute(delete(entity.table).where(entity.table.c.id == ident))
        self.record.add(DELETED, entity.name, (ident,))
        if entity.name in _HOLDS_OBSERVATIONS:
            # The rollups of Datastreams that lost Observations (also through a cascade) are rebuilt
            # lazily; a deleted Datastream's go with it, but on SQLite its Observations' ids may come
            # back, so every watermark is checked (see `rollups.invalidate`).
            rollups.invalidate(self.connection, touched)
        if entity is LOCATION:
            self._drop_orphan_historical_locations()

    def finish(self) -> None:
        """Work that is done once per request: the Datastreams' computed properties."""
        self.summary.apply(self.connection, self.covered)
        self.covered.update(self.summary.pairs)
        self.summary = DatastreamAreas()

    # --- creation -------------------------------------------------------------------------------

    def _create(
        self,
        entity: EntityType,
        payload: Any,
        forced: dict[str, Any],
        links: list[tuple[Relation, int]],
    ) -> int:
        if not isinstance(payload, dict):
            raise BadRequest(f"{entity.name}: expected a JSON object, got {type(payload).__name__}")
        self.context.append(self._new_dataset(entity, payload, forced))
        try:
            return self._create_in_context(entity, payload, forced, links)
        finally:
            self.context.pop()

    def _new_dataset(self, entity: EntityType, payload: dict[str, Any], forced: dict[str, Any]) -> str | None:
        """The dataset a new entity joins (see `guard.py`); for an Observation, its Datastream's."""
        if self.context and self.context[-1] is not None:
            return self.context[-1]
        if entity is DATASTREAM or entity is OBSERVATION:
            parent_entity, key, fk = (
                (THING, "Thing", "thing_id")
                if entity is DATASTREAM
                else (DATASTREAM, "Datastream", "datastream_id")
            )
            parent = forced.get(fk)
            given = payload.get(key)
            if parent is None and isinstance(given, dict) and "@iot.id" in given:
                # A bad id is reported where the reference is resolved (`_reference`), in context.
                parent = entity_id(given["@iot.id"], f"{entity.name} {key}")
            if parent is not None:
                found = dataset_of(self.connection, parent_entity, parent)
                if found is not None:
                    return found
        return self.guard.home_dataset

    def _create_in_context(
        self,
        entity: EntityType,
        payload: dict[str, Any],
        forced: dict[str, Any],
        links: list[tuple[Relation, int]],
    ) -> int:
        columns: dict[str, Any] = {}
        to_many: list[tuple[Relation, Any]] = []
        for key, value in payload.items():
            if key in _READ_ONLY_KEYS or key.endswith("@iot.navigationLink") or key.endswith("@iot.count"):
                continue
            prop = entity.properties.get(key)
            if prop is not None:
                if not prop.writable:
                    # Computed by the server; clients send back what they read (as FROST-Server,
                    # the value is ignored rather than refused).
                    continue
                columns.update(property_columns(entity, prop, value))
                continue
            relation = entity.relations.get(key)
            if relation is None:
                raise BadRequest(f"{entity.name}: unknown property {key!r}")
            if relation.many:
                to_many.append((relation, value))
            else:
                if relation.fk in forced:
                    raise BadRequest(f"{entity.name}: {key} is given twice")
                columns[relation.fk] = self._to_one(entity, relation, value)  # type: ignore[index]
        columns.update(forced)
        self._complete(entity, columns)
        ident = self._insert(entity, columns)
        # Locations first: Observations deep-inserted below may derive their feature from them.
        for relation, value in sorted(to_many, key=lambda pair: pair[0].target != LOCATION.name):
            self._to_many(entity, ident, relation, value)
        for relation, other in links:
            self._link(entity, ident, relation, other)
        if entity is OBSERVATION:
            self.summary.add(columns["datastream_id"], columns["feature_of_interest_id"])
        elif entity is HISTORICAL_LOCATION:
            self._follow_history(ident, columns["thing_id"], columns["time"])
        return ident

    def _complete(self, entity: EntityType, columns: dict[str, Any]) -> None:
        """Defaults of the standard, then a check that nothing required is missing."""
        if entity is OBSERVATION:
            if columns.get("phenomenon_time_start") is None:
                columns["phenomenon_time_start"] = self.now
                columns["phenomenon_time_end"] = None
            if columns.get("feature_of_interest_id") is None and columns.get("datastream_id") is not None:
                columns["feature_of_interest_id"] = self._feature_from_location(columns["datastream_id"])
        encoding = columns.get("encoding_type") if entity in (LOCATION, FEATURE_OF_INTEREST) else None
        if encoding is not None and encoding.lower() not in GEOJSON_ENCODINGS:
            raise BadRequest(
                f"{entity.name} encodingType: {encoding!r} is not supported; use application/geo+json"
            )
        for prop in entity.properties.values():
            if prop.required and not any(c in columns for c in prop.columns):
                raise BadRequest(f"{entity.name}: the property {prop.name!r} is required")
        for relation in entity.relations.values():
            if relation.required and columns.get(relation.fk) is None:  # type: ignore[arg-type]
                raise BadRequest(f"{entity.name}: the related {relation.name} is required")

    def _insert(self, entity: EntityType, columns: dict[str, Any]) -> int:
        table = entity.table
        if dataset_column(entity):
            if columns.get("dataset_id") is None:
                columns["dataset_id"] = (
                    self.context[-1] if self.context else None
                ) or self.guard.home_dataset
            self.guard.authorize(self.connection, columns["dataset_id"])
        elif entity is OBSERVATION:
            self.guard.authorize(self.connection, self.datastream_dataset(columns["datastream_id"]))
        if entity is OBSERVATION:
            # The whole row comes back, so the answer to the POST needs no second query.
            row = (
                self.connection.execute(insert(table).values(**columns).returning(*entity.columns(table)))
                .mappings()
                .one()
            )
            self.inserted[row["id"]] = dict(row)
            self.record.add(CREATED, entity.name, (row["id"],))
            return row["id"]
        ident = self.connection.execute(insert(table).values(**columns).returning(table.c.id)).scalar_one()
        self.record.add(CREATED, entity.name, (ident,))
        return ident

    def _to_one(self, entity: EntityType, relation: Relation, value: Any) -> int:
        target = ENTITY_TYPES[relation.target]
        if not isinstance(value, dict):
            raise BadRequest(f'{entity.name} {relation.name}: expected an object, e.g. {{"@iot.id": 1}}')
        if "@iot.id" in value:
            return self._reference(target, value["@iot.id"], f"{entity.name} {relation.name}")
        return self._create(target, value, {}, [])

    def _to_many(self, entity: EntityType, ident: int, relation: Relation, value: Any) -> None:
        target = ENTITY_TYPES[relation.target]
        if not isinstance(value, list):
            raise BadRequest(f"{entity.name} {relation.name}: expected an array of {target.set_name}")
        back = inverse(entity, relation)
        assert back is not None
        location_ids: list[int] = []
        for item in value:
            if not isinstance(item, dict):
                raise BadRequest(f"{entity.name} {relation.name}: expected objects, got {item!r:.40}")
            if "@iot.id" in item:
                other = self._reference(target, item["@iot.id"], f"{entity.name} {relation.name}")
                if relation.reverse_fk:
                    # The other entity changes (it moves to this one): its dataset must allow it.
                    self.guard.authorize_entity(self.connection, target, other)
                    self.connection.execute(
                        update(target.table)
                        .where(target.table.c.id == other)
                        .values({relation.reverse_fk: ident})
                    )
                elif entity is THING and target is LOCATION:
                    location_ids.append(other)
                elif entity is LOCATION and target is THING:
                    # The Thing moves here: its Location is replaced and a HistoricalLocation kept.
                    self._locate(other, [ident], replace=True)
                else:
                    self._insert_link(relation, ident, other)
            elif relation.reverse_fk:
                self._create(target, item, {relation.reverse_fk: ident}, [])
            elif entity is THING and target is LOCATION:
                location_ids.append(self._create(target, item, {}, []))
            else:
                self._create(target, item, {}, [(back, ident)])
        if location_ids:
            self._locate(ident, location_ids, replace=False)

    def _link(self, entity: EntityType, ident: int, relation: Relation, other: int) -> None:
        """Link the new entity to its parent in the path (many-to-many relations)."""
        if entity is LOCATION and relation.target == THING.name:
            self._locate(other, [ident], replace=True)
        elif entity is THING and relation.target == LOCATION.name:
            self._locate(ident, [other], replace=True)
        else:
            self._insert_link(relation, ident, other)

    def _insert_link(self, relation: Relation, ident: int, other: int) -> None:
        link = relation.link
        assert link is not None and relation.link_self and relation.link_target
        present = self.connection.execute(
            select(link.c[relation.link_self]).where(
                link.c[relation.link_self] == ident, link.c[relation.link_target] == other
            )
        ).first()
        if present is None:
            self.connection.execute(
                insert(link).values({relation.link_self: ident, relation.link_target: other})
            )

    def _locate(self, thing: int, locations: list[int], replace: bool) -> None:
        """Give a Thing its Location(s) and record a HistoricalLocation, as the standard asks."""
        links = schema.thing_locations
        if replace:
            self.connection.execute(delete(links).where(links.c.thing_id == thing))
        else:
            self.connection.execute(
                delete(links).where(links.c.thing_id == thing, links.c.location_id.in_(locations))
            )
        for location in dict.fromkeys(locations):
            self.connection.execute(insert(links).values(thing_id=thing, location_id=location))
        historical = self._insert(HISTORICAL_LOCATION, {"time": self.now, "thing_id": thing})
        for location in dict.fromkeys(locations):
            self.connection.execute(
                insert(schema.location_historical_locations).values(
                    location_id=location, historical_location_id=historical
                )
            )

    def _follow_history(self, historical: int, thing: int, time: Any) -> None:
        """A HistoricalLocation created by a client that is later than every other of its Thing
        moves the Thing to its Locations; an earlier one only fills in the past (the standard's
        historical-location-manual-creation). The server's own, made when a Thing is given a
        Location, never comes here."""
        hl, links = schema.historical_locations, schema.location_historical_locations
        not_newest = self.connection.execute(
            select(hl.c.id).where(hl.c.thing_id == thing, hl.c.id != historical, hl.c.time >= time).limit(1)
        ).first()
        if not_newest is not None:
            return
        locations = (
            self.connection.execute(
                select(links.c.location_id).where(links.c.historical_location_id == historical)
            )
            .scalars()
            .all()
        )
        if not locations:
            return  # no place to move to: the Thing stays where it is
        self.guard.authorize_entity(self.connection, THING, thing)  # the Thing changes
        things = schema.thing_locations
        self.connection.execute(delete(things).where(things.c.thing_id == thing))
        for location in locations:
            self.connection.execute(insert(things).values(thing_id=thing, location_id=location))

    def _reference(self, target: EntityType, raw: Any, where: str) -> int:
        ident = entity_id(raw, where)
        if self.guard.checks_references and not self.guard.visible(self.connection, target, ident):
            raise BadRequest(f"{where}: no {target.name} with @iot.id {ident}")
        self.references.append((target, ident))
        return ident

    def _datastreams_observed(self, entity: EntityType, ident: int) -> set[int]:
        """The Datastreams that keep Observations which deleting this entity deletes."""
        obs = schema.observations
        if entity is OBSERVATION:
            return {self._datastream_of(ident)}
        if entity is FEATURE_OF_INTEREST:
            query = select(obs.c.datastream_id).where(obs.c.feature_of_interest_id == ident).distinct()
            return set(self.connection.execute(query).scalars())
        return set()  # a Datastream (or what cascades to Datastreams) takes its rollups with it

    def _datastream_of(self, observation: int) -> int:
        obs = schema.observations
        query = select(obs.c.datastream_id).where(obs.c.id == observation)
        return self.connection.execute(query).scalar_one()

    def datastream_dataset(self, datastream: int) -> str | None:
        if datastream not in self._datastream_datasets:
            self._datastream_datasets[datastream] = dataset_of(self.connection, DATASTREAM, datastream)
        return self._datastream_datasets[datastream]

    def observations_targets(self, wheres: dict[int, str]) -> None:
        """Check that Observations may be added to each Datastream (the dataArray path), in one query;
        `wheres` names the place in the request that refers to each, for the error."""
        ds = schema.datastreams
        found = dict(
            self.connection.execute(
                select(ds.c.id, ds.c.dataset_id).where(
                    ds.c.id.in_(list(wheres)), *self.guard.visibility.conditions(DATASTREAM, ds)
                )
            ).all()
        )
        for datastream, where in wheres.items():
            if datastream not in found:
                raise BadRequest(f"{where}: no Datastream with @iot.id {datastream}")
        self._datastream_datasets.update(found)
        for dataset in set(found.values()):
            self.guard.authorize(self.connection, dataset)

    def default_features(self, datastreams: Iterable[int]) -> dict[int, int]:
        """The FeatureOfInterest of each Datastream's Thing's Location (see `_feature_from_location`),
        those that exist already read in one query, the others made when first asked for."""
        wanted = set(datastreams)
        known = _DefaultFeatures(self)
        if not wanted:
            return known
        ds, links, loc, foi = (
            schema.datastreams,
            schema.thing_locations,
            schema.locations,
            schema.features_of_interest,
        )
        latest = (
            select(ds.c.id.label("datastream"), func.max(loc.c.id).label("location"))
            .join(links, links.c.thing_id == ds.c.thing_id)
            .join(loc, loc.c.id == links.c.location_id)
            .where(ds.c.id.in_(wanted))
            .group_by(ds.c.id)
            .subquery()
        )
        rows = self.connection.execute(
            select(latest.c.datastream, func.min(foi.c.id))
            .join(foi, foi.c.source_location_id == latest.c.location)
            .group_by(latest.c.datastream)
        )
        known.update(dict(rows.all()))
        return known

    def _feature_from_location(self, datastream: int) -> int:
        """The FeatureOfInterest of the Datastream's Thing's Location, made on first use."""
        ds, links, loc, foi = (
            schema.datastreams,
            schema.thing_locations,
            schema.locations,
            schema.features_of_interest,
        )
        location = self.connection.execute(
            select(loc.c.id, loc.c.name, loc.c.description, loc.c.encoding_type, loc.c.location, loc.c.geom)
            .join(links, links.c.location_id == loc.c.id)
            .join(ds, ds.c.thing_id == links.c.thing_id)
            .where(ds.c.id == datastream)
            .order_by(loc.c.id.desc())
            .limit(1)
        ).first()
        if location is None:
            known = self.connection.execute(select(ds.c.id).where(ds.c.id == datastream)).first()
            if known is None:
                raise BadRequest(f"Observation Datastream: no Datastream with @iot.id {datastream}")
            raise BadRequest(
                "Observation: give a FeatureOfInterest; the Datastream's Thing has no Location "
                "to derive one from"
            )
        existing = self.connection.execute(
            select(foi.c.id).where(foi.c.source_location_id == location.id).order_by(foi.c.id).limit(1)
        ).scalar()
        if existing is not None:
            return existing
        self.context.append(self.datastream_dataset(datastream))
        try:
            return self._insert_feature_of(location)
        finally:
            self.context.pop()

    def _insert_feature_of(self, location: Any) -> int:
        return self._insert(
            FEATURE_OF_INTEREST,
            {
                "name": location.name,
                "description": location.description,
                "encoding_type": location.encoding_type,
                "feature": location.location,
                "geom": location.geom,
                "source_location_id": location.id,
            },
        )

    # --- update and delete ----------------------------------------------------------------------

    def _update(self, entity: EntityType, ident: int, payload: dict[str, Any], replace_all: bool) -> int:
        columns: dict[str, Any] = {}
        for key, value in payload.items():
            if key in _READ_ONLY_KEYS or key.endswith("@iot.navigationLink"):
                continue
            prop = entity.properties.get(key)
            if prop is not None:
                if not prop.writable:
                    continue  # computed by the server: ignored, as on create
                if value is None and prop.required:
                    raise BadRequest(f"{entity.name}: {key} must not be null")
                columns.update(property_columns(entity, prop, value))
                continue
            relation = entity.relations.get(key)
            if relation is None:
                raise BadRequest(f"{entity.name}: unknown property {key!r}")
            _links_only(entity, relation, value)
            if relation.many:
                if entity is THING and relation.target == LOCATION.name:
                    ids = [self._reference(LOCATION, v["@iot.id"], f"Thing {key}") for v in value]
                    self._locate(ident, ids, replace=True)
                else:
                    self._to_many(entity, ident, relation, value)
            else:
                columns[relation.fk] = self._to_one(entity, relation, value)  # type: ignore[index]
        if replace_all:
            for prop in entity.properties.values():
                if not prop.writable or prop.name in payload:
                    continue
                if prop.required:
                    raise BadRequest(
                        f"{entity.name}: PUT replaces the whole entity; {prop.name!r} is missing"
                    )
                for column in prop.columns:
                    columns.setdefault(column, None)
                if prop.kind == "result":
                    columns["result_type"] = schema.RESULT_NULL
        if entity in (LOCATION, FEATURE_OF_INTEREST) and "encoding_type" in columns:
            self._complete(entity, {**columns, "name": "", "description": "", "location": 0, "feature": 0})
        if columns:
            table = entity.table
            self.connection.execute(update(table).where(table.c.id == ident).values(**columns))
        if entity is OBSERVATION and "feature_of_interest_id" in columns:
            datastream = self.connection.execute(
                select(schema.observations.c.datastream_id).where(schema.observations.c.id == ident)
            ).scalar_one()
            self.summary.add(datastream, columns["feature_of_interest_id"])
        return ident

    def _delete_ref(self, path: ResourcePath) -> None:
        """DELETE `Things(1)/Locations(2)/$ref`: unlink, without deleting either entity."""
        step = path.target
        relation = step.via
        if relation is None or relation.link is None or step.id is None:
            raise BadRequest(
                "DELETE $ref removes one link of a many-to-many relation, e.g. Things(1)/Locations(2)/$ref"
            )
        parent = self._resolve(path.steps[:-1])
        self.guard.authorize_entity(self.connection, path.steps[-2].entity, parent)
        link = relation.link
        assert relation.link_self and relation.link_target
        result = self.connection.execute(
            delete(link).where(link.c[relation.link_self] == parent, link.c[relation.link_target] == step.id)
        )
        if result.rowcount == 0:
            raise NotFound(f"{relation.name}({step.id}) is not linked to this entity")

    def _drop_orphan_historical_locations(self) -> None:
        hl, links = schema.historical_locations, schema.location_historical_locations
        self.connection.execute(
            delete(hl).where(
                ~exists(select(links.c.location_id).where(links.c.historical_location_id == hl.c.id))
            )
        )

    # --- helpers --------------------------------------------------------------------------------

    def _resolve(self, steps: Iterable[Any]) -> int:
        steps = tuple(steps)
        entity = steps[-1].entity
        ident = self.connection.execute(
            select(entity.table.c.id)
            .where(path_condition(steps, entity.table, self.guard.visibility))
            .limit(1)
        ).scalar()
        if ident is None:
            raise NotFound(f"no {entity.name} at {steps_text(steps)}")
        return ident

    def _guarded(self, action: Any) -> Any:
        """Run `action`; a broken reference (foreign key) becomes `BrokenReference`, which the
        caller turns into a 400 naming the missing entity once the transaction is rolled back."""
        try:
            return action()
        except IntegrityError:
            raise BrokenReference(list(self.references)) from None


def plain_observation(
    payload: Any, datastream: int | None, now: datetime
) -> tuple[dict[str, Any], int, int] | None:
    """The columns, Datastream and FeatureOfInterest of an Observation to create, when `payload` is
    plain: valid properties, the Datastream and FeatureOfInterest linked by `@iot.id` (the
    Datastream given by the path instead, when `datastream` is). None for anything else — an inline
    entity, a derived FeatureOfInterest, a missing or invalid value —, which the writer makes (and
    words the error of) itself. The same reading of the body as `Writer.create`'s for these cases.
    """
    if not isinstance(payload, dict):
        return None
    columns: dict[str, Any] = {}
    feature: int | None = None
    try:
        for key, value in payload.items():
            if key in _READ_ONLY_KEYS or key.endswith("@iot.navigationLink") or key.endswith("@iot.count"):
                continue
            prop = OBSERVATION.properties.get(key)
            if prop is not None:
                if prop.writable:
                    columns.update(property_columns(OBSERVATION, prop, value))
                continue
            if not isinstance(value, dict) or "@iot.id" not in value:
                return None
            if key == "Datastream" and datastream is None and "datastream_id" not in columns:
                columns["datastream_id"] = entity_id(value["@iot.id"], "Observation Datastream")
            elif key == "FeatureOfInterest" and feature is None:
                feature = entity_id(value["@iot.id"], "Observation FeatureOfInterest")
            else:
                return None
    except BadRequest:
        return None
    if datastream is not None:
        columns["datastream_id"] = datastream
    if "datastream_id" not in columns or feature is None or "result_type" not in columns:
        return None
    columns["feature_of_interest_id"] = feature
    if columns.get("phenomenon_time_start") is None:
        columns["phenomenon_time_start"] = now
        columns["phenomenon_time_end"] = None
    return columns, columns["datastream_id"], feature


def _links_only(entity: EntityType, relation: Relation, value: Any) -> None:
    """Refuse related entities given inline in an update: an update links existing entities by
    `@iot.id` and creates none (the standard's "update an entity", after OData 4.0 part 1, 11.4.3:
    the entity must not contain related entities as inline content; it may bind navigation
    properties). Creating them inline is deep insert, which only POST does."""
    target = ENTITY_TYPES[relation.target]
    where = f"{entity.name} {relation.name}"
    if relation.many and not isinstance(value, list):
        raise BadRequest(f'{where}: expected an array of links to {target.set_name}, e.g. [{{"@iot.id": 1}}]')
    for item in value if relation.many else [value]:
        if not isinstance(item, dict):
            raise BadRequest(
                f'{where}: expected a link to a {target.name}, e.g. {{"@iot.id": 1}}, got {item!r:.40}'
            )
        if "@iot.id" not in item:
            raise BadRequest(
                f"{where}: an update links existing {target.set_name} by @iot.id and creates none inline;"
                f" create the {target.name} first (POST /{target.set_name}) and link it"
            )


class BrokenReference(Exception):
    """A write referred to an entity that does not exist (a foreign key failed)."""

    def __init__(self, references: list[tuple[EntityType, int]]) -> None:
        super().__init__("broken reference")
        self.references = references

    def diagnose(self, connection: Connection) -> BadRequest:
        """The 400 to answer, found by looking up each referenced entity."""
        for target, ident in self.references:
            found = connection.execute(select(target.table.c.id).where(target.table.c.id == ident)).first()
            if found is None:
                return BadRequest(f"no {target.name} with @iot.id {ident}")
        return BadRequest("the request refers to an entity that does not exist")


__all__ = ["BrokenReference", "Writer", "plain_observation"]
