"""Import a GeoJSON FeatureCollection into a collection of the city model.

The file's `crs` member (GeoJSON 2008, e.g. `urn:ogc:def:crs:EPSG::25833`) is honoured: coordinates
are transformed with pyproj to WGS 84 (lon/lat), the store's CRS. Features are matched by their id
(the Feature's `id`, or the property named by `id_property`, or else their position in the file),
so importing the same file twice changes nothing, and a changed file updates only what changed.
A feature that cannot be read stops the import with an `ImportFailure` naming the file, the
feature (index and id) and the field; nothing of that import is written. A gzipped file is read
as it is. The shared steps (CRS, keys, storing) live in `pipeline.py`; this module only reads JSON.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
from pyproj import CRS
from sqlalchemy import Engine

from urbantwin.geometry import GeometryError, from_geojson
from urbantwin.ingest.heights import HeightEstimate, estimate_heights
from urbantwin.ingest.pipeline import (
    CRS84,
    CollectionInfo,
    ImportFailure,
    ImportReport,
    Prepare,
    Row,
    Source,
    _Row,
    build_rows,
    crs_name,
    feature_error,
    item_schema,
    parse_crs,
    read_bytes,
    store_rows,
)

__all__ = [
    "CRS84",
    "CollectionInfo",
    "ImportFailure",
    "ImportReport",
    "Prepare",
    "Row",
    "_Row",
    "features_from_document",
    "import_geojson",
    "item_schema",
    "read_features",
    "source_crs",
    "store_rows",
]


def source_crs(document: dict[str, Any], path: Path) -> CRS:
    """The CRS named by the document's `crs` member, or CRS84 (the GeoJSON default)."""
    member = document.get("crs")
    if member is None:
        return CRS84
    if isinstance(member, dict) and member.get("type") == "name":
        name = (member.get("properties") or {}).get("name")
        return parse_crs(name, path, "crs")
    if isinstance(member, dict) and member.get("type") == "EPSG":
        code: Any = (member.get("properties") or {}).get("code")
        try:
            return parse_crs(int(code), path, "crs")
        except (TypeError, ValueError):
            raise ImportFailure(f"{path}: field 'crs': not an EPSG code: {code!r}") from None
    raise ImportFailure(f"{path}: field 'crs': unsupported crs member {member!r}")


def read_features(
    path: Path,
    id_property: str | None = None,
    prepare: Prepare | None = None,
) -> tuple[CRS, list[Row]]:
    """The features of a GeoJSON file as rows for the store, in WGS 84; `ImportFailure` on bad input."""
    data = read_bytes(Path(path))
    try:
        document = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise ImportFailure(f"{path}: not valid JSON: {exc}") from None
    return features_from_document(document, Path(path), id_property, prepare)


def features_from_document(
    document: Any,
    path: Path,
    id_property: str | None = None,
    prepare: Prepare | None = None,
) -> tuple[CRS, list[Row]]:
    """The features of a parsed GeoJSON document (read from `path`, named in errors) as rows."""
    if not isinstance(document, dict) or document.get("type") != "FeatureCollection":
        raise ImportFailure(f"{path}: field 'type': expected a GeoJSON FeatureCollection")
    items = document.get("features")
    if not isinstance(items, list):
        raise ImportFailure(f"{path}: field 'features': expected a list of Features")
    crs = source_crs(document, path)
    sources = [_source(path, index, item, id_property) for index, item in enumerate(items)]
    return crs, build_rows(path, sources, crs, prepare)


def _source(path: Path, index: int, item: Any, id_property: str | None) -> Source:
    if not isinstance(item, dict) or item.get("type") != "Feature":
        raise feature_error(path, index, "type", "expected a GeoJSON Feature")
    properties = item.get("properties") or {}
    if not isinstance(properties, dict):
        raise feature_error(path, index, "properties", "expected an object or null")
    if id_property:
        raw_key, key_field = properties.get(id_property), f"properties.{id_property}"
    else:
        raw_key, key_field = item.get("id", index), "id"
    geometry = item.get("geometry")
    geom = None
    if geometry is not None:
        try:
            geom = from_geojson(geometry, allow_empty=True)
        except GeometryError as exc:
            named = None if raw_key is None or isinstance(raw_key, dict | list | bool) else str(raw_key)
            raise feature_error(path, index, "geometry", str(exc), named) from None
    return Source(index, raw_key, geom, properties, key_field=key_field)


def import_geojson(
    engine: Engine,
    path: Path,
    info: CollectionInfo,
    *,
    id_property: str | None = None,
    prepare: Prepare | None = None,
    progress: bool = True,
    delete_missing: bool = False,
    heights: HeightEstimate | None = None,
) -> ImportReport:
    """Import the GeoJSON file at `path` into the collection `info.id` (created or updated);
    with `heights`, the buildings without a height get an estimated one (`ingest/heights.py`)."""
    crs, rows = read_features(Path(path), id_property, prepare)
    estimated = estimate_heights(rows, heights) if heights is not None else None
    report = store_rows(
        engine,
        rows,
        info,
        crs_name(crs),
        progress=progress,
        label=Path(path).name,
        delete_missing=delete_missing,
    )
    if estimated is not None:
        report.notes.append(estimated.summary())
    return report
