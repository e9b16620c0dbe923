"""OGC API - Features Part 4: create, replace, update and delete features of a collection.

Each write asks the policy point whether the principal may write the collection's dataset, in the
write's own transaction, and is recorded in the audit log in that transaction too. A body is a
GeoJSON Feature whose geometry is in the CRS of `Content-Crs` (CRS84 without it); it is stored in
CRS84 like every geometry. PATCH
merges (RFC 7396): given properties replace, `null` removes, a given geometry replaces. Each write
keeps the collection's extent (grown, or shrunk when a feature at its edge goes or moves:
store/extents.py) and item schema up to date and stamps its `updated` time.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import shapely
from sqlalchemy import Connection, Engine, select

from urbantwin.access.audit import AuditLog
from urbantwin.access.policy import AccessPolicy
from urbantwin.access.principal import Principal
from urbantwin.errors import BadRequest, Conflict, NotFound
from urbantwin.geometry import GeometryError, check_geometry, crs_of, from_geojson
from urbantwin.ogcapi.crs import SUPPORTED, geometry_to_crs84, parse_crs
from urbantwin.store.extents import EXTENT_COLUMNS, extent_after_write, feature_bounds
from urbantwin.store.feature_rows import Box, grown_schema, height_of
from urbantwin.store.features_schema import collections, features


class FeatureWriter:
    def __init__(
        self, engine: Engine, policy: AccessPolicy, audit: AuditLog, crs: tuple[str, ...] = SUPPORTED
    ) -> None:
        self.engine = engine
        #: The CRSs a `Content-Crs` may name (those the API offers).
        self.crs = crs
        self.policy = policy
        self.audit = audit

    def create(self, principal: Principal, collection_id: str, body: Any, content_crs: str | None) -> str:
        """Store a new feature; its id is the body's `id` or a new UUID. Returns the id."""
        feature = _feature(body)
        key = feature.get("id")
        if key is None:
            key = uuid.uuid4().hex
        elif isinstance(key, dict | list | bool):
            raise BadRequest(f"id: expected a string or number, got {key!r}")
        key = str(key)
        record = _record(feature, _content_crs(content_crs, self.crs))
        with self.engine.begin() as connection:
            self._authorize(connection, principal, collection_id)
            if self._find(connection, collection_id, key) is not None:
                raise Conflict(
                    f"a feature {key!r} exists in collection {collection_id!r}; use PUT to replace it"
                )
            connection.execute(
                features.insert().values(collection_id=collection_id, feature_key=key, **_columns(record))
            )
            self._touch(connection, collection_id, record)
            self._audit(connection, principal, "create", collection_id, key)
        return key

    def replace(
        self, principal: Principal, collection_id: str, key: str, body: Any, content_crs: str | None
    ) -> None:
        feature = _feature(body)
        if feature.get("id") is not None and str(feature["id"]) != key:
            raise BadRequest(f"id: the body's id {feature['id']!r} is not the feature's id {key!r}")
        record = _record(feature, _content_crs(content_crs, self.crs))
        record.update(valid_from=None, valid_to=None)
        with self.engine.begin() as connection:
            self._authorize(connection, principal, collection_id)
            row = self._existing(connection, collection_id, key)
            before = feature_bounds(connection, row.id)
            connection.execute(features.update().where(features.c.id == row.id).values(**_columns(record)))
            self._touch(connection, collection_id, record, removed=before)
            self._audit(connection, principal, "update", collection_id, key)

    def update(
        self, principal: Principal, collection_id: str, key: str, body: Any, content_crs: str | None
    ) -> None:
        if not isinstance(body, dict):
            raise BadRequest("the body must be a JSON object (a partial GeoJSON Feature)")
        if body.get("id") is not None and str(body["id"]) != key:
            raise BadRequest(f"id: the body's id {body['id']!r} is not the feature's id {key!r}")
        changes = body.get("properties", {})
        if changes is not None and not isinstance(changes, dict):
            raise BadRequest("properties: expected an object")
        with self.engine.begin() as connection:
            self._authorize(connection, principal, collection_id)
            row = self._existing(connection, collection_id, key)
            properties = dict(row.properties or {})
            for name, value in (changes or {}).items():
                if value is None:
                    properties.pop(name, None)
                else:
                    properties[name] = value
            merged: dict[str, Any] = {"type": "Feature", "properties": properties}
            before = None
            if "geometry" in body:
                before = feature_bounds(connection, row.id)
                merged["geometry"] = body["geometry"]
                record = _record(merged, _content_crs(content_crs, self.crs))
            else:
                record = _record(merged, None)
                del record["geom"]
                record["bounds"] = None
            connection.execute(features.update().where(features.c.id == row.id).values(**_columns(record)))
            self._touch(connection, collection_id, record, removed=before)
            self._audit(connection, principal, "update", collection_id, key)

    def delete(self, principal: Principal, collection_id: str, key: str) -> None:
        with self.engine.begin() as connection:
            self._authorize(connection, principal, collection_id)
            row = self._existing(connection, collection_id, key)
            before = feature_bounds(connection, row.id)
            connection.execute(features.delete().where(features.c.id == row.id))
            self._touch(connection, collection_id, None, removed=before)
            self._audit(connection, principal, "delete", collection_id, key)

    # --- helpers -----------------------------------------------------------------------------------

    def _authorize(self, connection: Connection, principal: Principal, collection_id: str) -> None:
        """Raise unless the principal may write the collection (404 if they may not even see it)."""
        dataset = connection.execute(
            select(collections.c.dataset_id).where(collections.c.id == collection_id)
        ).first()
        if dataset is None:
            raise NotFound(f"no collection {collection_id!r}")
        rule = self.policy.rule(connection, dataset.dataset_id)
        if rule is not None and not self.policy.may_read(principal, rule):
            raise NotFound(f"no collection {collection_id!r}")
        self.policy.authorize_write(principal, connection, dataset.dataset_id)

    def _audit(
        self, connection: Connection, principal: Principal, action: str, collection_id: str, key: str
    ) -> None:
        dataset = connection.execute(
            select(collections.c.dataset_id).where(collections.c.id == collection_id)
        ).scalar()
        target = f"collections/{collection_id}/items/{key}"
        self.audit.write(connection, principal, action, "features", dataset_id=dataset, target=target)

    def _collection(self, connection: Connection, collection_id: str) -> Any:
        row = connection.execute(
            select(collections.c.item_schema, *EXTENT_COLUMNS).where(collections.c.id == collection_id)
        ).first()
        if row is None:
            raise NotFound(f"no collection {collection_id!r}")
        return row

    def _find(self, connection: Connection, collection_id: str, key: str) -> Any:
        return connection.execute(
            select(features.c.id, features.c.properties).where(
                features.c.collection_id == collection_id, features.c.feature_key == key
            )
        ).first()

    def _existing(self, connection: Connection, collection_id: str, key: str) -> Any:
        self._collection(connection, collection_id)
        row = self._find(connection, collection_id, key)
        if row is None:
            raise NotFound(f"no feature {key!r} in collection {collection_id!r}")
        return row

    def _touch(
        self,
        connection: Connection,
        collection_id: str,
        record: dict[str, Any] | None,
        removed: Box | None = None,
    ) -> None:
        """The collection's updated time, its item schema grown by `record`, and its extent after
        the feature's box `removed` went and `record`'s came (the feature is written already)."""
        current = self._collection(connection, collection_id)
        values: dict[str, Any] = {"updated": datetime.now(UTC), "version": collections.c.version + 1}
        added = record.get("bounds") if record is not None else None
        values.update(extent_after_write(connection, current._mapping, [removed], [added]))
        if record is not None:
            # The importers' rules (store/feature_rows.py): the same schema either way.
            schema = grown_schema(current.item_schema, record["properties"])
            if schema != current.item_schema:
                values["item_schema"] = schema
        connection.execute(collections.update().where(collections.c.id == collection_id).values(**values))


def _content_crs(header: str | None, supported: tuple[str, ...]) -> str:
    """The CRS of a `Content-Crs` header (`<uri>`, as the server sends it, or a bare URI or CURIE)."""
    text = (header or "").strip()
    if text.startswith("<") and text.endswith(">"):
        text = text[1:-1].strip()
    return parse_crs(text or None, "Content-Crs", supported)


def _feature(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict) or body.get("type") != "Feature":
        raise BadRequest("the body must be a GeoJSON Feature (type 'Feature')")
    return body


def _record(feature: dict[str, Any], crs: str | None) -> dict[str, Any]:
    """Columns of a feature (with `bounds`, its CRS84 box, for the collection's extent)."""
    properties = feature.get("properties") or {}
    if not isinstance(properties, dict):
        raise BadRequest("properties: expected an object or null")
    wkb = bounds = None
    geometry = feature.get("geometry")
    if geometry is not None and crs is not None:
        try:
            geom = from_geojson(geometry, allow_empty=True)
            geom = geometry_to_crs84(geom, crs)
            check_geometry(geom, crs_of(crs))
        except GeometryError as error:
            raise BadRequest(f"geometry: {error}") from None
        wkb = shapely.to_wkb(geom, output_dimension=2)
        bounds = [float(v) for v in shapely.bounds(geom)] if not geom.is_empty else None
    return {"properties": properties, "geom": wkb, "height": height_of(properties), "bounds": bounds}


def _columns(record: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if k != "bounds"}
