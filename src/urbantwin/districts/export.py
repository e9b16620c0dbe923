"""The profiles of a district collection as CSV, GeoJSON and (Geo)Parquet.

One row per district with plain values (`service.flat`): CSV for spreadsheets (UTF-8, a header
row), GeoJSON with each district's polygon (WGS 84) and the row as properties, Parquet with the
polygon as WKB and the GeoParquet 1.0 `geo` metadata, so GDAL, QGIS and GeoPandas read it as a layer.
Parquet needs pyarrow, an optional dependency (`pip install urbantwin[parquet]`): without it the
request is answered 406 saying so.
"""

from __future__ import annotations

import csv
import importlib.util
import io
import json
from typing import Any

import orjson
import shapely

from urbantwin.districts.service import Profiles, flat
from urbantwin.errors import NotAcceptable

FORMATS = {
    "json": "application/json",
    "csv": "text/csv; charset=utf-8",
    "geojson": "application/geo+json",
    "parquet": "application/vnd.apache.parquet",
}


def parquet_available() -> bool:
    return importlib.util.find_spec("pyarrow") is not None


def rows(profiles: Profiles) -> list[dict[str, Any]]:
    """The flat rows, every row with every column (None where a district lacks one)."""
    flats = [flat(document) for document in profiles.documents]
    columns: dict[str, None] = {}
    for row in flats:
        columns.update(dict.fromkeys(row))
    return [{column: row.get(column) for column in columns} for row in flats]


def to_csv(profiles: Profiles) -> bytes:
    table = rows(profiles)
    out = io.StringIO()
    if table:
        writer = csv.DictWriter(out, fieldnames=list(table[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(table)
    return out.getvalue().encode("utf-8")


def to_geojson(profiles: Profiles) -> bytes:
    geometries = profiles.districts.geometries
    collection = {
        "type": "FeatureCollection",
        "name": profiles.districts.collection.id,
        "notes": profiles.notes,
        "features": [
            {
                "type": "Feature",
                "id": row["id"],
                "geometry": json.loads(shapely.to_geojson(geometry)),
                "properties": row,
            }
            for row, geometry in zip(rows(profiles), geometries, strict=True)
        ],
    }
    return orjson.dumps(collection, option=orjson.OPT_SERIALIZE_NUMPY)


def to_parquet(profiles: Profiles) -> bytes:
    if not parquet_available():
        raise NotAcceptable(
            "f=parquet: the Parquet export needs pyarrow, which this server does not have installed "
            "(pip install urbantwin[parquet]); CSV and GeoJSON are available"
        )
    import pyarrow as pa
    import pyarrow.parquet as pq

    table_rows = rows(profiles)
    geometries = profiles.districts.geometries
    columns: dict[str, list[Any]] = {
        key: [row[key] for row in table_rows] for key in (table_rows[0] if table_rows else {})
    }
    columns["geometry"] = [shapely.to_wkb(g) for g in geometries]
    table = pa.table(columns)
    types = sorted({g.geom_type for g in geometries})
    geo = {
        "version": "1.0.0",
        "primary_column": "geometry",
        "columns": {"geometry": {"encoding": "WKB", "geometry_types": types}},
    }
    table = table.replace_schema_metadata({**(table.schema.metadata or {}), b"geo": json.dumps(geo).encode()})
    out = io.BytesIO()
    pq.write_table(table, out)
    return out.getvalue()


def export(profiles: Profiles, format_: str) -> bytes:
    if format_ == "csv":
        return to_csv(profiles)
    if format_ == "geojson":
        return to_geojson(profiles)
    return to_parquet(profiles)
