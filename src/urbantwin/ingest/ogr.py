"""Import a GeoPackage layer or a Shapefile (anything GDAL/OGR reads) through pyogrio.

pyogrio reads the whole layer in one call into numpy arrays (geometries as WKB, one array per
field), which is far faster than a feature loop and leaves format details to GDAL: the CRS from the
file (`.prj`, `gpkg_spatial_ref_sys`), the DBF encoding (`.cpg`, the DBF's language driver id, or
`encoding=` for a Shapefile that states none), curved geometries linearised. What this module adds:
the choice of a layer in a multi-layer GeoPackage, numpy values turned into JSON values (integers
with nulls come back as floats with NaN; dates as ISO strings), and the feature key: the value of
`id_field` if named, else the FID (the primary key of a GeoPackage, the record number of a
Shapefile; a Shapefile's record numbers change when a record is deleted, so name an id field there).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyogrio
import shapely
from pyogrio.errors import CRSError, DataLayerError, DataSourceError, FeatureError, FieldError, GeometryError
from pyogrio.raw import read as ogr_read
from pyproj import CRS
from sqlalchemy import Engine

from urbantwin.ingest.heights import HeightEstimate, estimate_heights
from urbantwin.ingest.pipeline import (
    CollectionInfo,
    ImportFailure,
    ImportReport,
    Prepare,
    Row,
    Source,
    build_rows,
    crs_name,
    feature_error,
    parse_crs,
    store_rows,
)

OGR_ERRORS = (DataSourceError, DataLayerError, FieldError, FeatureError, GeometryError, CRSError)


def list_layers(path: Path) -> list[str]:
    """The names of the layers in the file (a Shapefile has one)."""
    _exists(path)
    try:
        return [str(name) for name, _ in pyogrio.list_layers(path)]
    except OGR_ERRORS as exc:
        raise ImportFailure(f"{path}: not a file GDAL can read as vector data: {_first_line(exc)}") from None


def read_layer(
    path: Path,
    layer: str | None = None,
    *,
    id_field: str | None = None,
    crs: str | None = None,
    encoding: str | None = None,
    prepare: Prepare | None = None,
) -> tuple[CRS, list[Row]]:
    """The features of one layer as rows in WGS 84; `crs` overrides (or supplies) the file's CRS."""
    path = Path(path)
    layers = list_layers(path)
    if layer is None:
        if len(layers) != 1:
            raise ImportFailure(
                f"{path}: field 'layer': the file has {len(layers)} layers ({', '.join(layers)}); choose one"
            )
        layer = layers[0]
    elif layer not in layers:
        raise ImportFailure(f"{path}: field 'layer': no layer {layer!r}; the file has {', '.join(layers)}")
    try:
        meta, fids, geometries, columns = ogr_read(
            path, layer=layer, encoding=encoding, return_fids=True, datetime_as_string=True
        )
    except OGR_ERRORS as exc:
        raise ImportFailure(f"{path}: layer {layer!r}: GDAL cannot read it: {_first_line(exc)}") from None
    except LookupError as exc:  # an unknown encoding name
        raise ImportFailure(f"{path}: field 'encoding': {exc}") from None
    if crs is not None:
        source_crs = parse_crs(crs, path, "crs")
    elif meta.get("crs"):
        source_crs = parse_crs(meta["crs"], path, "crs")
    else:
        raise ImportFailure(f"{path}: field 'crs': the file states no CRS (no .prj?); name the source CRS")
    names = [str(name) for name in meta["fields"]]
    converters = [_converter(t, s) for t, s in zip(meta["ogr_types"], meta["ogr_subtypes"], strict=True)]
    values = [[convert(v) for v in column] for convert, column in zip(converters, columns, strict=True)]
    if id_field is not None and id_field not in names:
        raise ImportFailure(f"{path}: field '{id_field}': no such field; the fields are {', '.join(names)}")
    key_column = values[names.index(id_field)] if id_field is not None else None
    sources = []
    for index in range(len(fids)):
        properties = {name: column[index] for name, column in zip(names, values, strict=True)}
        key = key_column[index] if key_column is not None else int(fids[index])
        wkb = geometries[index] if geometries is not None else None
        geom = None
        if wkb is not None:
            try:
                geom = shapely.from_wkb(wkb)
            except shapely.errors.GEOSException as exc:
                raise feature_error(path, index, "geometry", f"not a valid geometry: {exc}", key) from None
        sources.append(Source(index, key, geom, properties, key_field=id_field or "fid"))
    return source_crs, build_rows(path, sources, source_crs, prepare)


def import_ogr(
    engine: Engine,
    path: Path,
    info: CollectionInfo,
    *,
    layer: str | None = None,
    id_field: str | None = None,
    crs: str | None = None,
    encoding: str | None = None,
    prepare: Prepare | None = None,
    progress: bool = True,
    delete_missing: bool = False,
    heights: HeightEstimate | None = None,
) -> ImportReport:
    """Import one layer of a GeoPackage, Shapefile (or other OGR source) into the collection `info.id`;
    with `heights`, the buildings without a height get an estimated one (`ingest/heights.py`)."""
    source_crs, rows = read_layer(
        Path(path), layer, id_field=id_field, crs=crs, encoding=encoding, prepare=prepare
    )
    estimated = estimate_heights(rows, heights) if heights is not None else None
    report = store_rows(
        engine,
        rows,
        info,
        crs_name(source_crs),
        progress=progress,
        label=Path(path).name,
        delete_missing=delete_missing,
    )
    if estimated is not None:
        report.notes.append(estimated.summary())
    return report


def _exists(path: Path) -> None:
    if not path.exists():
        raise ImportFailure(f"{path}: cannot read the file: no such file")


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def _converter(ogr_type: str, subtype: str) -> Callable[[Any], Any]:
    """How a value of the field's numpy array becomes a JSON value (None for null)."""
    if subtype == "OFSTBoolean":
        return lambda v: None if _missing(v) else bool(v)
    if ogr_type in ("OFTInteger", "OFTInteger64"):
        return lambda v: None if _missing(v) else int(v)
    if ogr_type == "OFTReal":
        if subtype == "OFSTFloat32":  # shortest decimal of the float32, not its float64 expansion
            return lambda v: None if _missing(v) else float(str(np.float32(v)))
        return lambda v: None if _missing(v) else float(v)
    if ogr_type == "OFTBinary":
        return lambda v: None if v is None else bytes(v).hex()
    if ogr_type.endswith("List"):
        return lambda v: None if v is None else [_plain(x) for x in v]
    return lambda v: None if _missing(v) else _plain(v)


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float | np.floating) and math.isnan(value))


def _plain(value: Any) -> Any:
    """A numpy scalar as the Python value orjson and the JSON columns take."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
