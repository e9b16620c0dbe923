"""Import a GeoJSON FeatureCollection into a collection of the city model.

The file's `crs` member (GeoJSON 2008, e.g. `urn:ogc:def:crs:EPSG::25833`) is honoured: coordinates
are transformed with pyproj to WGS 84 (lon/lat), the store's CRS. Features are matched by their id
(the Feature's `id`, or the property named by `id_property`, or else their position in the file),
so importing the same file twice changes nothing, and a changed file updates only what changed.
A feature that cannot be read stops the import with an `ImportFailure` naming the file, the
feature (index and id) and the field; nothing of that import is written.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import shapely
from pyproj import CRS, Transformer
from pyproj.exceptions import CRSError
from sqlalchemy import Engine, select
from tqdm import tqdm

from urbantwin.store.engine import for_writes
from urbantwin.store.features_schema import collections, features

#: A hook that turns a source feature's properties into (properties, height, valid_from, valid_to).
Prepare = Callable[[dict[str, Any]], tuple[dict[str, Any], float | None, datetime | None, datetime | None]]
CRS84 = CRS.from_user_input("OGC:CRS84")
BATCH = 1000


class ImportFailure(ValueError):
    """A file or one of its features cannot be imported; the message names file, feature and field."""


@dataclass
class CollectionInfo:
    id: str
    title: str
    description: str = ""
    licence: str | None = None
    attribution: str | None = None
    keywords: list[str] = field(default_factory=list)


@dataclass
class ImportReport:
    collection: str
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0

    @property
    def total(self) -> int:
        return self.inserted + self.updated + self.unchanged


@dataclass
class _Row:
    key: str
    properties: dict[str, Any]
    wkb: bytes | None
    bounds: tuple[float, float, float, float] | None
    height: float | None
    valid_from: datetime | None
    valid_to: datetime | None

    def digest(self) -> str:
        content = orjson.dumps(
            [
                self.properties,
                self.wkb.hex() if self.wkb else None,
                self.height,
                self.valid_from.isoformat() if self.valid_from else None,
                self.valid_to.isoformat() if self.valid_to else None,
            ],
            option=orjson.OPT_SORT_KEYS,
        )
        return hashlib.sha1(content).hexdigest()


def source_crs(document: dict[str, Any], path: Path) -> CRS:
    """The CRS named by the document's `crs` member, or CRS84 (the GeoJSON default)."""
    member = document.get("crs")
    if member is None:
        return CRS84
    try:
        if member.get("type") == "name":
            return CRS.from_user_input(member["properties"]["name"])
        if member.get("type") == "EPSG":
            return CRS.from_epsg(int(member["properties"]["code"]))
    except (CRSError, KeyError, TypeError, ValueError) as exc:
        raise ImportFailure(f"{path}: field 'crs': not a CRS pyproj knows: {exc}") from None
    raise ImportFailure(f"{path}: field 'crs': unsupported crs member {member!r}")


def _to_wgs84(crs: CRS) -> Callable[[shapely.Geometry], shapely.Geometry] | None:
    if crs.equals(CRS84) or crs.equals(CRS.from_epsg(4326), ignore_axis_order=True):
        return None  # GeoJSON coordinates are lon/lat whatever the axis order of the CRS's definition
    transformer = Transformer.from_crs(crs, CRS84, always_xy=True)

    def transform(coords: np.ndarray) -> np.ndarray:
        x, y = transformer.transform(coords[:, 0], coords[:, 1])
        return np.column_stack([x, y])

    return lambda geom: shapely.transform(geom, transform)


def read_features(
    path: Path,
    id_property: str | None = None,
    prepare: Prepare | None = None,
) -> tuple[CRS, list[_Row]]:
    """The features of a GeoJSON file as rows for the store, in WGS 84; `ImportFailure` on bad input."""
    try:
        document = orjson.loads(Path(path).read_bytes())
    except OSError as exc:
        raise ImportFailure(f"{path}: cannot read the file: {exc.strerror or exc}") from None
    except orjson.JSONDecodeError as exc:
        raise ImportFailure(f"{path}: not valid JSON: {exc}") from None
    return features_from_document(document, Path(path), id_property, prepare)


def features_from_document(
    document: Any,
    path: Path,
    id_property: str | None = None,
    prepare: Prepare | None = None,
) -> tuple[CRS, list[_Row]]:
    """The features of a parsed GeoJSON document (read from `path`, named in errors) as rows."""
    if not isinstance(document, dict) or document.get("type") != "FeatureCollection":
        raise ImportFailure(f"{path}: field 'type': expected a GeoJSON FeatureCollection")
    items = document.get("features")
    if not isinstance(items, list):
        raise ImportFailure(f"{path}: field 'features': expected a list of Features")
    crs = source_crs(document, path)
    transform = _to_wgs84(crs)
    rows: list[_Row] = []
    seen: dict[str, int] = {}
    for index, item in enumerate(items):
        rows.append(_read_feature(path, index, item, id_property, prepare, transform))
        key = rows[-1].key
        if key in seen:
            raise ImportFailure(
                f"{path}: feature {index} (id {key!r}): field 'id': the same id as feature {seen[key]}"
            )
        seen[key] = index
    return crs, rows


def _read_feature(
    path: Path,
    index: int,
    item: Any,
    id_property: str | None,
    prepare: Prepare | None,
    transform: Callable[[shapely.Geometry], shapely.Geometry] | None,
) -> _Row:
    def fail(field_name: str, problem: str, key: Any = None) -> ImportFailure:
        named = f" (id {key!r})" if key is not None else ""
        return ImportFailure(f"{path}: feature {index}{named}: field '{field_name}': {problem}")

    if not isinstance(item, dict) or item.get("type") != "Feature":
        raise fail("type", "expected a GeoJSON Feature")
    properties = item.get("properties") or {}
    if not isinstance(properties, dict):
        raise fail("properties", "expected an object or null")
    if id_property:
        raw_key = properties.get(id_property)
        key_field = f"properties.{id_property}"
    else:
        raw_key = item.get("id", index)
        key_field = "id"
    if raw_key is None or isinstance(raw_key, dict | list | bool):
        raise fail(key_field, f"expected a string or number as the feature's id, got {raw_key!r}")
    key = str(raw_key)
    geometry = item.get("geometry")
    wkb = bounds = None
    if geometry is not None:
        try:
            geom = shapely.from_geojson(orjson.dumps(geometry))
        except (shapely.errors.GEOSException, ValueError, TypeError) as exc:
            raise fail("geometry", f"not a valid GeoJSON geometry: {exc}", key) from None
        if transform is not None:
            geom = transform(geom)
        coords = shapely.get_coordinates(geom)
        if not np.isfinite(coords).all():
            raise fail("geometry", "coordinates are not finite numbers (or outside the source CRS)", key)
        wkb = shapely.to_wkb(geom, output_dimension=2)
        bounds = tuple(float(v) for v in shapely.bounds(geom)) if not geom.is_empty else None
    height = valid_from = valid_to = None
    if prepare is not None:
        try:
            properties, height, valid_from, valid_to = prepare(properties)
        except (ValueError, TypeError, KeyError) as exc:
            raise fail("properties", str(exc), key) from None
    if height is not None and not math.isfinite(height):
        raise fail("height", f"not a finite number: {height!r}", key)
    return _Row(key, properties, wkb, bounds, height, valid_from, valid_to)


def item_schema(rows: Iterable[_Row]) -> dict[str, Any]:
    """A JSON Schema of the properties: each property's JSON type as seen in the data."""
    kinds: dict[str, set[str]] = {}
    for row in rows:
        for name, value in row.properties.items():
            kinds.setdefault(name, set()).add(_json_type(value))
    properties = {}
    for name, seen in sorted(kinds.items()):
        seen.discard("null")
        if seen == {"integer", "number"}:
            seen = {"number"}
        kind = seen.pop() if len(seen) == 1 else "string" if not seen else None
        properties[name] = {"type": kind} if kind else {}
    return {"type": "object", "properties": properties}


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def import_geojson(
    engine: Engine,
    path: Path,
    info: CollectionInfo,
    *,
    id_property: str | None = None,
    prepare: Prepare | None = None,
    progress: bool = True,
) -> ImportReport:
    """Import the GeoJSON file at `path` into the collection `info.id` (created or updated)."""
    crs, rows = read_features(Path(path), id_property, prepare)
    return store_rows(engine, rows, info, crs.to_string(), progress=progress, label=Path(path).name)


def store_rows(
    engine: Engine,
    rows: list[_Row],
    info: CollectionInfo,
    crs_name: str,
    *,
    progress: bool = True,
    label: str = "",
) -> ImportReport:
    """Upsert `rows` by their key into the collection, in one transaction."""
    report = ImportReport(info.id)
    now = datetime.now(UTC)
    schema = item_schema(rows)
    boxes = [r.bounds for r in rows if r.bounds is not None]
    with for_writes(engine).begin() as connection:
        existing = connection.execute(select(collections.c.id).where(collections.c.id == info.id)).first()
        values = {
            "title": info.title,
            "description": info.description,
            "licence": info.licence,
            "attribution": info.attribution,
            "keywords": list(info.keywords),
            "source_crs": crs_name,
        }
        if existing is None:
            connection.execute(collections.insert().values(id=info.id, created=now, updated=now, **values))
        stored: dict[str, tuple[int, str]] = {}
        result = connection.execute(
            select(
                features.c.id,
                features.c.feature_key,
                features.c.properties,
                features.c.geom,
                features.c.height,
                features.c.valid_from,
                features.c.valid_to,
            ).where(features.c.collection_id == info.id)
        )
        for fid, key, properties, geom, height, valid_from, valid_to in result:
            old = _Row(key, properties or {}, geom, None, height, valid_from, valid_to)
            stored[key] = (fid, old.digest())
        # Boxes of features already stored but absent from this file stay in the extent.
        all_boxes = list(boxes)
        inserts: list[dict[str, Any]] = []
        with tqdm(total=len(rows), unit="feature", desc=label or info.id, disable=not progress) as bar:
            for row in rows:
                record = {
                    "properties": row.properties,
                    "geom": row.wkb,
                    "height": row.height,
                    "valid_from": row.valid_from,
                    "valid_to": row.valid_to,
                }
                known = stored.get(row.key)
                if known is None:
                    inserts.append({"collection_id": info.id, "feature_key": row.key, **record})
                    report.inserted += 1
                elif known[1] != row.digest():
                    connection.execute(features.update().where(features.c.id == known[0]).values(**record))
                    report.updated += 1
                else:
                    report.unchanged += 1
                if len(inserts) >= BATCH:
                    connection.execute(features.insert(), inserts)
                    inserts.clear()
                bar.update(1)
            if inserts:
                connection.execute(features.insert(), inserts)
        changed = report.inserted or report.updated or existing is None
        extent = _union_bounds(all_boxes)
        previous = connection.execute(
            select(collections.c.extent_bbox, collections.c.item_schema).where(collections.c.id == info.id)
        ).one()
        if previous.extent_bbox and stored:
            extent = _union_bounds([tuple(previous.extent_bbox), *([extent] if extent else [])])
        if previous.item_schema and stored:
            merged = dict(previous.item_schema.get("properties", {}))
            merged.update(schema["properties"])
            schema = {"type": "object", "properties": merged}
        update = {**values, "item_schema": schema, "extent_bbox": list(extent) if extent else None}
        current = connection.execute(select(collections).where(collections.c.id == info.id)).one()._mapping
        if changed or any(current[k] != v for k, v in update.items()):
            connection.execute(
                collections.update()
                .where(collections.c.id == info.id)
                .values(updated=now, version=collections.c.version + 1, **update)
            )
    return report


def _union_bounds(boxes: list[tuple[float, ...]]) -> tuple[float, float, float, float] | None:
    if not boxes:
        return None
    return (
        min(b[0] for b in boxes),
        min(b[1] for b in boxes),
        max(b[2] for b in boxes),
        max(b[3] for b in boxes),
    )
