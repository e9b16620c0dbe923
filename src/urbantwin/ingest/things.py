"""Things from a table: each row of a CSV, XLSX or GeoJSON file becomes a Thing with its Location
and Datastreams (and, if asked, a feature of an OGC API collection), as a mapping file says.

Registers (charging points, sensors, sites, meters) come as tables. A mapping file (TOML, see
docs/imports.md) names which column identifies a row, which give the name, description,
properties and position, and which Datastreams each row has (observed property, unit, sensor).
Everything goes through the idempotent loader (`sta_loader.Catalogue`): a row's Thing is keyed
`table:<namespace>:<id>`, its Datastreams `<thing key>:<datastream id>`, so importing the table
again creates nothing, and a newer table adds only its new rows. The table is read whole and every
row checked (names, columns, coordinates) before anything is written.

The table is read by the readers of the feature importers, so positions are found the same way:
coordinate columns in German or English names (lon/lat, Längengrad/Breitengrad, Rechtswert/
Hochwert, x/y with a CRS, …) or WKT in CSV and XLSX, any geometry in GeoJSON; all transformed to
WGS 84 and checked by the one geometry validation (`pipeline.build_rows`).
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import shapely
from shapely.geometry import mapping as geojson_of

from urbantwin.ingest.csvfile import detect_columns, parse_number, read_csv
from urbantwin.ingest.geojson import read_features
from urbantwin.ingest.pipeline import (
    CRS84,
    CollectionInfo,
    ImportFailure,
    Row,
    Source,
    build_rows,
    crs_name,
    parse_crs,
    store_rows,
)
from urbantwin.ingest.pipeline import ImportReport as FeatureReport
from urbantwin.ingest.provenance import Provenance, check_dataset, dataset_slug, place_created
from urbantwin.ingest.sta_client import JSON, LocalClient, SensorThingsClient
from urbantwin.ingest.sta_loader import Catalogue, ImportReport
from urbantwin.ingest.vocabulary import GEOJSON, OBSERVED_PROPERTIES, OM_MEASUREMENT, UNITS, component_code

__all__ = ["TableMapping", "import_things", "read_mapping", "read_table"]

_FIELD = re.compile(r"\{([^{}]+)\}")
_TABLE_KEYS = {"sheet", "header_line", "delimiter", "decimal", "encoding", "crs", "x", "y", "wkt"}
_THING_KEYS = {"namespace", "id", "repeated", "name", "description", "properties", "location_name"}
_STREAM_KEYS = {
    "id",
    "name",
    "description",
    "observed_property",
    "unit",
    "sensor",
    "observation_type",
    "when",
}
_FEATURE_KEYS = {"collection", "title", "description"}


@dataclass
class TableMapping:
    """A mapping file, checked: how to read the table and what each row becomes."""

    path: Path
    table: dict[str, Any]
    namespace: str
    id_columns: list[str]
    name: str
    description: str
    #: Thing property -> column.
    properties: dict[str, str]
    location_name: str | None
    datastreams: list[dict[str, Any]]
    features: dict[str, Any] | None = None
    #: What a repeated id does: "refuse" (the default) or "number" (the n-th repeat is `<id> #n`).
    repeated: str = "refuse"


def _problem(path: Path, where: str, message: str) -> ValueError:
    return ValueError(f"{path.name}: [{where}] {message}")


def _known(path: Path, where: str, given: dict[str, Any], known: set[str]) -> None:
    unknown = sorted(set(given) - known)
    if unknown:
        raise _problem(path, where, f"unknown key {unknown[0]!r}; known: {', '.join(sorted(known))}")


def _text(path: Path, where: str, value: Any, required: bool = True) -> str | None:
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        raise _problem(path, where, "expected a non-empty text")
    return value


def read_mapping(path: Path) -> TableMapping:
    """The mapping file at `path`, checked; a ValueError names the key at fault."""
    try:
        document = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{path.name}: not TOML: {exc}") from None
    _known(path, "mapping", document, {"table", "thing", "datastreams", "features"})
    table = document.get("table") or {}
    _known(path, "table", table, _TABLE_KEYS)
    thing = document.get("thing")
    if not isinstance(thing, dict):
        raise _problem(path, "thing", "missing: the [thing] table says what a row becomes")
    _known(path, "thing", thing, _THING_KEYS)
    ids = thing.get("id")
    id_columns = [ids] if isinstance(ids, str) else ids
    if not isinstance(id_columns, list) or not id_columns or not all(isinstance(c, str) for c in id_columns):
        raise _problem(path, "thing.id", "expected the column (or list of columns) that identifies a row")
    props = thing.get("properties") or []
    if isinstance(props, list) and all(isinstance(p, str) for p in props):
        properties = {column: column for column in props}
    elif isinstance(props, dict) and all(isinstance(v, str) for v in props.values()):
        properties = dict(props)
    else:
        raise _problem(path, "thing.properties", "expected a list of columns or a table property = column")
    streams = document.get("datastreams") or []
    if not isinstance(streams, list):
        raise _problem(path, "datastreams", "expected [[datastreams]] tables")
    seen: set[str] = set()
    for number, stream in enumerate(streams, start=1):
        where = f"datastreams {number}"
        _known(path, where, stream, _STREAM_KEYS)
        ident = _text(path, f"{where}.id", stream.get("id"))
        if ident in seen:
            raise _problem(path, f"{where}.id", f"{ident!r} is given twice")
        seen.add(str(ident))
        _text(path, f"{where}.name", stream.get("name"))
        _observed_property(path, where, stream.get("observed_property"))
        _unit(path, where, stream.get("unit"))
        _sensor(path, where, stream.get("sensor"), "")
    features = document.get("features")
    if features is not None:
        _known(path, "features", features, _FEATURE_KEYS)
        _text(path, "features.collection", features.get("collection"))
    repeated = thing.get("repeated", "refuse")
    if repeated not in ("refuse", "number"):
        raise _problem(path, "thing.repeated", f"'refuse' or 'number', not {repeated!r}")
    namespace = thing.get("namespace") or dataset_slug(Path(path).stem)
    return TableMapping(
        path=Path(path),
        table=table,
        namespace=str(_text(path, "thing.namespace", namespace)),
        id_columns=id_columns,
        name=str(_text(path, "thing.name", thing.get("name"))),
        description=str(thing.get("description") or ""),
        properties=properties,
        location_name=_text(path, "thing.location_name", thing.get("location_name"), required=False),
        datastreams=streams,
        features=features,
        repeated=repeated,
    )


def _observed_property(path: Path, where: str, value: Any) -> JSON:
    if isinstance(value, str):
        code = component_code(value)
        if code is None:
            raise _problem(path, f"{where}.observed_property", f"unknown component {value!r}; give a table")
        return dict(OBSERVED_PROPERTIES[code].observed_property)
    if not isinstance(value, dict) or not all(isinstance(value.get(k), str) for k in ("name", "definition")):
        raise _problem(
            path, f"{where}.observed_property", "expected a component code or {name, definition, description}"
        )
    return {
        "name": value["name"],
        "definition": value["definition"],
        "description": value.get("description", ""),
    }


def _unit(path: Path, where: str, value: Any) -> JSON:
    if isinstance(value, str):
        if value not in UNITS:
            raise _problem(
                path,
                f"{where}.unit",
                f"unknown unit {value!r} ({', '.join(UNITS)}), or give {{name, symbol, definition}}",
            )
        return dict(UNITS[value])
    if not isinstance(value, dict) or not all(isinstance(value.get(k), str) for k in ("name", "symbol")):
        raise _problem(path, f"{where}.unit", "expected a UCUM code or {name, symbol, definition}")
    return {"name": value["name"], "symbol": value["symbol"], "definition": value.get("definition", "")}


def _sensor(path: Path, where: str, value: Any, namespace: str) -> tuple[str, JSON]:
    if not isinstance(value, dict) or not isinstance(value.get("name"), str):
        raise _problem(path, f"{where}.sensor", "expected {id, name, description, encodingType, metadata}")
    ident = str(value.get("id") or dataset_slug(value["name"]))
    payload = {
        "name": value["name"],
        "description": value.get("description", ""),
        "encodingType": value.get("encodingType", "text/plain"),
        "metadata": value.get("metadata", ""),
    }
    return f"table:{namespace}:sensor:{ident}", payload


def read_table(path: Path, mapping: TableMapping) -> list[Row]:
    """The rows of a CSV, XLSX or GeoJSON table with their positions in WGS 84 (row numbers as keys)."""
    options = mapping.table
    suffix = "".join(Path(path).suffixes[-2:]).lower()
    try:
        if suffix.endswith((".geojson", ".json", ".geojson.gz", ".json.gz")):
            return read_features(Path(path))[1]
        if suffix.endswith((".xlsx", ".xlsm")):
            return _read_xlsx(Path(path), options)
        crs = options.get("crs")
        x, y, wkt = options.get("x"), options.get("y"), options.get("wkt")
        return read_csv(
            Path(path),
            x_column=x,
            y_column=y,
            wkt_column=wkt,
            crs=crs,
            delimiter=options.get("delimiter"),
            decimal=options.get("decimal"),
            encoding=options.get("encoding", "utf-8-sig"),
            text_columns=mapping.id_columns,
            header_line=int(options.get("header_line", 1)),
        )[1]
    except ImportFailure as exc:
        raise ValueError(str(exc)) from None


def _read_xlsx(path: Path, options: dict[str, Any]) -> list[Row]:
    from openpyxl import load_workbook

    workbook = load_workbook(path, read_only=True, data_only=True)
    try:
        sheet_name = options.get("sheet")
        if sheet_name is not None and sheet_name not in workbook.sheetnames:
            raise ImportFailure(
                f"{path}: field 'sheet': no sheet {sheet_name!r}; the sheets are {workbook.sheetnames}"
            )
        sheet = workbook[sheet_name] if sheet_name is not None else workbook.worksheets[0]
        header_line = int(options.get("header_line", 1))
        lines = sheet.iter_rows(min_row=header_line, values_only=True)
        header = [str(cell).strip() if cell is not None else "" for cell in next(lines, ())]
        records = [(header_line + n, list(cells)) for n, cells in enumerate(lines, start=1)]
    finally:
        workbook.close()
    while header and not header[-1]:
        header.pop()
    x, y, wkt = options.get("x"), options.get("y"), options.get("wkt")
    if x is None and wkt is None:
        found = detect_columns(header)
        if found is None:
            raise ImportFailure(
                f"{path}: field 'header': no coordinate columns (lon/lat, Längengrad/Breitengrad, …)"
            )
        if isinstance(found, str):
            wkt = found
        else:
            x, y = found
    for name in (x, y, wkt):
        if name is not None and name not in header:
            raise ImportFailure(
                f"{path}: field '{name}': no such column; the columns are {', '.join(header)}"
            )
    decimal = options.get("decimal")
    sources: list[Source] = []
    for index, (line, cells) in enumerate(
        (line, cells) for line, cells in records if any(c not in (None, "") for c in cells)
    ):
        values = {name: _cell(cells[i] if i < len(cells) else None) for i, name in enumerate(header) if name}
        geometry = None
        where = f"row {line}"
        if wkt is not None:
            text = values.pop(wkt)
            if text:
                try:
                    geometry = shapely.from_wkt(str(text))
                except shapely.errors.GEOSException as exc:
                    raise ImportFailure(f"{path}: {where}: field {wkt!r}: not WKT: {exc}") from None
        else:
            assert x is not None and y is not None
            xv, yv = values.pop(x), values.pop(y)
            if xv is not None or yv is not None:
                xn = xv if isinstance(xv, int | float) else parse_number(str(xv or ""), decimal)
                yn = yv if isinstance(yv, int | float) else parse_number(str(yv or ""), decimal)
                if xn is None or yn is None:
                    raise ImportFailure(
                        f"{path}: {where}: fields {x!r}/{y!r}: not coordinates: {xv!r}, {yv!r}"
                    )
                geometry = shapely.Point(float(xn), float(yn))
        sources.append(Source(index, index + 1, geometry, values, where, "row"))
    crs = parse_crs(options["crs"], path, "crs") if options.get("crs") else CRS84
    return build_rows(path, sources, crs)


def _cell(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, str):
        return value.strip() or None
    return value


def _fill(template: str, values: dict[str, Any], where: str) -> str:
    """`{Column}` replaced by the row's value of that column (empty when it has none)."""

    def one(match: re.Match[str]) -> str:
        column = match.group(1)
        if column not in values:
            raise ValueError(f"{where}: no column {column!r}")
        value = values[column]
        return "" if value is None else str(value)

    return _FIELD.sub(one, template).strip()


def import_things(
    client: SensorThingsClient,
    path: Path,
    mapping: TableMapping,
    provenance: Provenance | None = None,
) -> ImportReport:
    """Import the table at `path` as the mapping says (see the module docstring)."""
    provenance = provenance or Provenance()
    report = ImportReport(files=1)
    rows = read_table(path, mapping)
    name = Path(path).name
    columns = set().union(*(row.properties.keys() for row in rows)) if rows else set()
    for column in [*mapping.id_columns, *mapping.properties.values()]:
        if rows and column not in columns:
            raise ValueError(
                f"{mapping.path.name}: no column {column!r} in {name}; it has {', '.join(sorted(columns))}"
            )
    plans: list[tuple[str, JSON, list[tuple[str, JSON, JSON, tuple[str, JSON]]], Row]] = []
    seen: dict[str, int] = {}
    repeats: dict[str, int] = {}
    for number, row in enumerate(rows, start=1):
        values = row.properties
        report.rows += 1
        where = f"{name}: row {number}"
        parts = [values.get(column) for column in mapping.id_columns]
        if any(part in (None, "") for part in parts):
            raise ValueError(f"{where}: no id (column {', '.join(mapping.id_columns)} is empty)")
        ident = " ".join(str(part) for part in parts)
        if ident in seen:
            if mapping.repeated != "number":
                raise ValueError(
                    f"{where}: the id {ident!r} of row {seen[ident]} again; ids must be unique (add a "
                    'column to [thing] id, or number repeats with repeated = "number")'
                )
            repeats[ident] = repeats.get(ident, 1) + 1
            ident = f"{ident} #{repeats[ident]}"
        seen[ident] = number
        key = f"table:{mapping.namespace}:{ident}"
        thing_name = _fill(mapping.name, values, f"{mapping.path.name}: [thing.name]") or ident
        payload: JSON = {
            "name": thing_name,
            "description": _fill(mapping.description, values, f"{mapping.path.name}: [thing.description]"),
            "properties": {
                **{prop: _json_value(values.get(column)) for prop, column in mapping.properties.items()},
                **provenance.properties(),
            },
        }
        if row.wkb is not None:
            geometry = shapely.from_wkb(row.wkb)
            location_name = mapping.location_name or mapping.name
            payload["Locations"] = [
                {
                    "name": _fill(location_name, values, f"{mapping.path.name}: [thing.location_name]")
                    or ident,
                    "description": f"Position of {thing_name}",
                    "encodingType": GEOJSON,
                    "location": geojson_of(geometry),
                }
            ]
        streams = []
        for stream in mapping.datastreams:
            when = stream.get("when")
            if when is not None and values.get(when) in (None, ""):
                continue
            label = f"{mapping.path.name}: [datastreams {stream['id']}]"
            stream_payload: JSON = {
                "name": _fill(stream["name"], values, f"{label} name"),
                "description": _fill(stream.get("description", ""), values, f"{label} description"),
                "observationType": stream.get("observation_type", OM_MEASUREMENT),
                "unitOfMeasurement": _unit(mapping.path, label, stream["unit"]),
                "properties": dict(provenance.properties()),
            }
            observed = _observed_property(mapping.path, label, stream["observed_property"])
            sensor = _sensor(mapping.path, label, stream["sensor"], mapping.namespace)
            streams.append((f"{key}:{stream['id']}", stream_payload, observed, sensor))
        plans.append((key, payload, streams, row))

    # Every row is checked: now the dataset, the entities.
    if mapping.features is not None and not isinstance(client, LocalClient):
        raise ValueError("[features]: features are written into the local store only (import without --url)")
    check_dataset(client, provenance)
    catalogue = Catalogue(client, report)
    catalogue.preload("Things")
    for key, payload, streams, _ in plans:
        thing = catalogue.ensure("Things", key, payload)
        for stream_key, stream_payload, observed, (sensor_key, sensor_payload) in streams:
            body = {
                **stream_payload,
                "Thing": {"@iot.id": thing},
                "Sensor": {"@iot.id": catalogue.ensure("Sensors", sensor_key, sensor_payload)},
                "ObservedProperty": {"@iot.id": catalogue.ensure_observed_property(observed)},
            }
            catalogue.ensure("Datastreams", stream_key, body, parent=f"Things({thing})")
    place_created(client, provenance, catalogue.created)
    if mapping.features is not None:
        stored = _store_features(client, mapping, provenance, [(key, row) for key, _, _, row in plans])
        report.notes.append(f"Collection {stored.collection!r}: {stored.summary()}.")
    return report


def _json_value(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime | date) else value


def _store_features(
    client: SensorThingsClient, mapping: TableMapping, provenance: Provenance, rows: list[tuple[str, Row]]
) -> FeatureReport:
    """The rows as features of an OGC API collection too (keyed by the Things' ids)."""
    assert isinstance(client, LocalClient)  # checked before anything was written
    spec = mapping.features or {}
    collection = str(spec["collection"])
    info = CollectionInfo(
        collection,
        str(spec.get("title") or collection),
        str(spec.get("description") or ""),
        provenance.licence,
        provenance.attribution,
        [],
    )
    keyed = [
        Row(
            key.removeprefix(f"table:{mapping.namespace}:"),
            row.properties,
            row.wkb,
            row.bounds,
            None,
            None,
            None,
        )
        for key, row in rows
    ]
    return store_rows(client.engine, keyed, info, crs_name(CRS84), progress=False, label=mapping.path.name)
