"""What every importer shares: source CRS to WGS 84, rows keyed for idempotency, errors that say where.

An importer (GeoJSON, GeoPackage/Shapefile, CSV, CityJSON) only reads its format: it turns each source
feature into a key, a shapely geometry in the source CRS and a dict of JSON properties, and hands them
to `build_rows`, which transforms all geometries to WGS 84 (lon/lat, the store's CRS) in one pyproj
call, checks them and makes the rows. `store_rows` then upserts the rows by key in one transaction,
so importing the same file twice changes nothing and a changed file updates only what changed.

Errors a user can cause are `ImportFailure`s whose message names the file, the feature (its index in
the file, its id where known and, for text formats, its line) and the field. Everything is read and
checked before the first write, so a bad file leaves the store as it was.
"""

from __future__ import annotations

import gzip
import hashlib
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import shapely
from pyproj import CRS, Transformer
from pyproj.exceptions import CRSError
from sqlalchemy import Connection, Engine, delete, select
from tqdm import tqdm

from urbantwin.access.datasets import publish_collection, require_existing
from urbantwin.errors import BadRequest
from urbantwin.geometry import crs_of, invalid, outside_area, range_problem, validity_problem
from urbantwin.http import check_json_input, check_text
from urbantwin.settings import Settings
from urbantwin.store import feature_rows
from urbantwin.store.access_schema import datasets, organisations
from urbantwin.store.engine import for_writes
from urbantwin.store.feature_rows import height_of, parse_height, union_bounds
from urbantwin.store.features_schema import collections, features

#: A hook that turns a source feature's properties into (properties, height, valid_from, valid_to).
Prepare = Callable[[dict[str, Any]], tuple[dict[str, Any], float | None, datetime | None, datetime | None]]
#: The store's CRS: WGS 84 with longitude first, as GeoJSON and the features table hold coordinates.
CRS84 = CRS.from_user_input("OGC:CRS84")
BATCH = 1000
GZIP_MAGIC = b"\x1f\x8b"


class ImportFailure(ValueError):
    """A file or one of its features cannot be imported; the message names file, feature and field."""


@dataclass
class CollectionInfo:
    """The metadata a collection is published with (OGC API Features, the catalogue)."""

    id: str
    title: str
    description: str = ""
    licence: str | None = None
    attribution: str | None = None
    keywords: list[str] = field(default_factory=list)
    #: Where the data come from (kept in the collection's dataset record).
    source: str | None = None
    #: The organisation (id) publishing the collection's dataset when the import makes it.
    publisher: str | None = None


@dataclass
class ImportReport:
    """What one import did: features inserted, updated, unchanged, deleted (only when asked) or skipped."""

    collection: str
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    #: Source objects the importer does not take (e.g. CityJSON objects of another type).
    skipped: int = 0
    #: What else the import did, a line each (e.g. how many heights it estimated).
    notes: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        """The features of the file now in the store."""
        return self.inserted + self.updated + self.unchanged

    def summary(self) -> str:
        """One line for the command line."""
        text = f"{self.inserted} inserted, {self.updated} updated, {self.unchanged} unchanged"
        if self.deleted:
            text += f", {self.deleted} deleted"
        if self.skipped:
            text += f", {self.skipped} skipped"
        return "; ".join([text, *self.notes])


@dataclass
class Row:
    """One feature as the store keeps it: key, properties, WKB in WGS 84 with its box, height, validity."""

    key: str
    properties: dict[str, Any]
    wkb: bytes | None
    bounds: tuple[float, float, float, float] | None
    height: float | None
    valid_from: datetime | None
    valid_to: datetime | None

    def digest(self) -> str:
        """A fingerprint of what is stored, to tell an unchanged feature from a changed one."""
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


#: The old private name, kept for code written against the first GeoJSON importer.
_Row = Row


@dataclass
class Source:
    """One feature as a reader found it, before the pipeline checks and transforms it."""

    index: int
    key: Any
    geometry: shapely.Geometry | None
    properties: dict[str, Any]
    #: Where in the file, for messages: e.g. "line 12" (text formats) or "" (binary formats).
    where: str = ""
    #: The field the key came from, named when the key is bad.
    key_field: str = "id"
    #: Height in metres where the format gives one (CityJSON); a `Prepare` hook's height wins.
    height: float | None = None


def feature_error(
    path: Path | str, index: int, field_name: str, problem: str, key: Any = None, where: str = ""
) -> ImportFailure:
    """The one message format of every importer: `file: feature N (id 'x', line L): field 'f': problem`."""
    details = [f"id {key!r}"] if key is not None else []
    if where:
        details.append(where)
    named = f" ({', '.join(details)})" if details else ""
    return ImportFailure(f"{path}: feature {index}{named}: field '{field_name}': {problem}")


def read_bytes(path: Path) -> bytes:
    """The file's bytes, gunzipped when it is gzip (by its magic number, whatever its name says)."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise ImportFailure(f"{path}: cannot read the file: {exc.strerror or exc}") from None
    if data[:2] == GZIP_MAGIC:
        try:
            return gzip.decompress(data)
        except (OSError, EOFError) as exc:
            raise ImportFailure(f"{path}: not a readable gzip file: {exc}") from None
    return data


def parse_crs(value: Any, path: Path | str, field_name: str) -> CRS:
    """A CRS from an EPSG code, `EPSG:25833`, an OGC URI/URN or WKT; `ImportFailure` naming the field."""
    try:
        if isinstance(value, int) and not isinstance(value, bool):
            return crs_of(f"EPSG:{value}")
        if isinstance(value, str) and value.strip():
            return crs_of(value.strip())
    except CRSError as exc:
        raise ImportFailure(f"{path}: field '{field_name}': not a CRS pyproj knows: {exc}") from None
    raise ImportFailure(f"{path}: field '{field_name}': expected a CRS, got {value!r}")


def crs_name(crs: CRS) -> str:
    """A short name of the source CRS for the collection's provenance (`EPSG:25833` where it has one)."""
    authority = crs.to_authority(min_confidence=90)
    return f"{authority[0]}:{authority[1]}" if authority else crs.to_string()


def to_wgs84(crs: CRS) -> Callable[[Any], Any] | None:
    """A function moving shapely geometries (one or an array) from `crs` to lon/lat; None if already so.

    Axis order: coordinates in files are taken as x/y (easting/northing, lon/lat) whatever order the
    CRS's definition names, as GeoJSON, GeoPackage, Shapefile and CityJSON all store them.
    """
    horizontal = crs.to_2d() if crs.is_compound or len(crs.axis_info) > 2 else crs
    if horizontal.equals(CRS84) or horizontal.equals(CRS.from_epsg(4326), ignore_axis_order=True):
        return None
    transformer = Transformer.from_crs(horizontal, CRS84, always_xy=True)

    def transform(coords: np.ndarray) -> np.ndarray:
        x, y = transformer.transform(coords[:, 0], coords[:, 1])
        return np.column_stack([x, y])

    return lambda geoms: shapely.transform(geoms, transform)


def build_rows(
    path: Path,
    sources: Sequence[Source],
    crs: CRS,
    prepare: Prepare | None = None,
) -> list[Row]:
    """Check, transform and key the sources; `ImportFailure` naming the first bad one.

    The geometry work (transformation, finiteness, WKB, bounds) runs on the whole array at once:
    per-geometry calls into shapely and pyproj would dominate large imports.
    """
    geoms = np.array([s.geometry for s in sources], dtype=object)
    transform = to_wgs84(crs)
    if transform is not None and len(geoms):
        try:
            geoms = transform(geoms)
        except shapely.errors.GEOSException as exc:
            raise ImportFailure(f"{path}: field 'geometry': cannot be transformed to WGS 84: {exc}") from None
    coords, owner = shapely.get_coordinates(geoms, return_index=True)
    infinite = np.zeros(len(geoms), dtype=bool)
    infinite[owner[~np.isfinite(coords).all(axis=1)]] = True
    # The platform's one geometry validation, on the whole array: where the source CRS allows, and
    # valid (the APIs refuse the same geometries; an empty or missing geometry is not checked).
    outside = outside_area(geoms, crs) & ~infinite
    broken = invalid(geoms) & ~infinite
    wkbs = shapely.to_wkb(geoms, output_dimension=2) if len(geoms) else np.array([], dtype=object)
    boxes = shapely.bounds(geoms) if len(geoms) else np.empty((0, 4))
    rows: list[Row] = []
    seen: dict[str, int] = {}
    for number, source in enumerate(sources):
        box = boxes[number]
        bounds = None if np.isnan(box).any() else (float(box[0]), float(box[1]), float(box[2]), float(box[3]))
        problem = None
        if outside[number]:
            problem = range_problem(geoms[number], crs)
        elif broken[number]:
            problem = validity_problem(geoms[number])
        rows.append(_row(path, source, wkbs[number], bounds, bool(infinite[number]), prepare, problem))
        key = rows[-1].key
        if key in seen:
            raise feature_error(
                path, source.index, source.key_field, f"the same id as feature {seen[key]}", key, source.where
            )
        seen[key] = source.index
    return rows


def _row(
    path: Path,
    source: Source,
    wkb: bytes | None,
    bounds: tuple[float, float, float, float] | None,
    infinite: bool,
    prepare: Prepare | None,
    geometry_problem: str | None = None,
) -> Row:
    raw_key = source.key
    if raw_key is None or isinstance(raw_key, dict | list | bool) or raw_key == "":
        raise feature_error(
            path,
            source.index,
            source.key_field,
            f"expected a string or number as the feature's id, got {raw_key!r}",
            where=source.where,
        )
    key = str(raw_key)

    def fail(field_name: str, problem: str) -> ImportFailure:
        return feature_error(path, source.index, field_name, problem, key, source.where)

    if infinite:
        raise fail("geometry", "coordinates are not finite numbers (or outside the source CRS)")
    if geometry_problem is not None:
        raise fail("geometry", geometry_problem)
    try:
        check_text(key, "the id")
    except BadRequest as exc:
        raise fail(source.key_field, exc.message) from None
    properties, height, valid_from, valid_to = source.properties, source.height, None, None
    if prepare is not None:
        try:
            properties, prepared, valid_from, valid_to = prepare(properties)
        except (ValueError, TypeError, KeyError) as exc:
            raise fail("properties", str(exc)) from None
        height = prepared if prepared is not None else height
    if height is None:
        height = height_of(properties)  # the rule of OGC API writes, when no importer option names one
    try:
        # The one rule of JSON input (depth, NUL), on what is stored and later written back.
        check_json_input(properties, Settings.max_json_depth, "the properties object")
    except BadRequest as exc:
        raise fail("properties", exc.message) from None
    if height is not None and not (isinstance(height, int | float) and math.isfinite(height)):
        raise fail("height", f"not a finite number: {height!r}")
    return Row(key, properties, wkb, bounds, height, valid_from, valid_to)


def height_from(property_name: str, then: Prepare | None = None) -> Prepare:
    """A `Prepare` hook that takes the feature's height (metres) from one of its properties.

    The features table's `height` column is what vector tiles carry for extrusion, so a building
    layer from a GeoPackage, Shapefile or CSV names the property that holds it.
    """

    def prepare(properties: dict[str, Any]) -> tuple[dict[str, Any], float | None, Any, Any]:
        valid_from = valid_to = None
        if then is not None:
            properties, _, valid_from, valid_to = then(properties)
        return properties, parse_height(properties.get(property_name), property_name), valid_from, valid_to

    return prepare


def item_schema(rows: Iterable[Row]) -> dict[str, Any]:
    """A JSON Schema of the properties: each property's JSON type as seen in the data."""
    return feature_rows.item_schema(row.properties for row in rows)


def store_rows(
    engine: Engine,
    rows: list[Row],
    info: CollectionInfo,
    crs_name: str,
    *,
    progress: bool = True,
    label: str = "",
    delete_missing: bool = False,
) -> ImportReport:
    """Upsert `rows` by their key into the collection, in one transaction.

    Features of the collection that are not among `rows` stay (so several files can fill one
    collection) unless `delete_missing`, when the rows are the whole collection and the others go.
    """
    with for_writes(engine).begin() as connection:
        return store_rows_in(
            connection, rows, info, crs_name, progress=progress, label=label, delete_missing=delete_missing
        )


def store_rows_in(
    connection: Connection,
    rows: list[Row],
    info: CollectionInfo,
    crs_name: str,
    *,
    progress: bool = True,
    label: str = "",
    delete_missing: bool = False,
) -> ImportReport:
    """`store_rows` inside the caller's transaction: an importer that writes more than one
    collection (and tables of its own) commits all of it, or nothing, at once."""
    report = ImportReport(info.id)
    now = datetime.now(UTC)
    schema = item_schema(rows)
    boxes = [r.bounds for r in rows if r.bounds is not None]
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
        try:
            require_existing(connection, "publisher", organisations, info.publisher)
        except BadRequest as exc:
            raise ImportFailure(f"{info.id}: {exc.message} (add it first: urbantwin org add)") from None
        connection.execute(collections.insert().values(id=info.id, created=now, updated=now, **values))
        # A new collection is published at once, as an open dataset of its own in the catalogue.
        dataset = publish_collection(connection, info.id, info.publisher)
        if info.source:
            extra = connection.execute(select(datasets.c.extra).where(datasets.c.id == dataset)).scalar()
            connection.execute(
                datasets.update()
                .where(datasets.c.id == dataset)
                .values(extra={**(extra or {}), "source": info.source})
            )
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
        old = Row(key, properties or {}, geom, None, height, valid_from, valid_to)
        stored[key] = (fid, old.digest())
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
    if delete_missing:
        keep = {row.key for row in rows}
        gone = [fid for key, (fid, _) in stored.items() if key not in keep]
        for start in range(0, len(gone), BATCH):
            connection.execute(delete(features).where(features.c.id.in_(gone[start : start + BATCH])))
        report.deleted = len(gone)
    changed = report.inserted or report.updated or report.deleted or existing is None
    extent = union_bounds(boxes)
    previous = connection.execute(
        select(collections.c.extent_bbox, collections.c.item_schema).where(collections.c.id == info.id)
    ).one()
    # Features already stored but absent from this file stay, and so do their boxes and properties.
    keeps_others = bool(stored) and not delete_missing
    if previous.extent_bbox and keeps_others:
        extent = union_bounds([tuple(previous.extent_bbox), *([extent] if extent else [])])
    if previous.item_schema and keeps_others:
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
