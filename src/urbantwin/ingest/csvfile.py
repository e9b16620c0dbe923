"""Import a CSV file of points (coordinate columns) or of WKT geometries into a collection.

Municipal CSV exports differ in the details this module settles, on top of the standard library's
`csv` parser: the delimiter (`,`, `;`, tab or `|`; detected from the header line unless given), the
decimal separator (German exports write `51,3429` and `1.234,5`; by default both that and `51.3429`
are read), the encoding (UTF-8 with or without BOM unless given, e.g. `cp1252`), gzip (read directly,
recognised by its magic number), and the names of the coordinate columns: given, or detected among
x/y, lon/lat, lng/lat, longitude/latitude, Längengrad/Breitengrad (also spelt Laengengrad), Länge/
Breite, rechtswert/hochwert, easting/northing, xcoord/ycoord (also with a prefix, as GTFS's
`stop_lon`/`stop_lat`, and in any case), or a WKT column (`wkt`, `geometry`, `geom`).
Without a CRS, coordinates must be degrees (WGS 84, lon/lat); projected ones need the CRS named.

Values of the other columns are typed per column: a column whose every value is an integer becomes
integers, one of numbers becomes numbers, `true`/`false` become booleans; anything with a leading
zero (postcodes, district numbers such as "04229") stays text, as do the columns named as such.
Empty cells are null. The feature key is the value of `id_column`, else the row's number (1 for the
first data row), so re-importing an unchanged file changes nothing.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from pyproj import CRS
from sqlalchemy import Engine

from urbantwin.ingest.pipeline import (
    CRS84,
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
    read_bytes,
    store_rows,
)

#: Coordinate column pairs (x, y) in the order they are looked for.
COORDINATE_PAIRS: list[tuple[str, str]] = [
    ("lon", "lat"),
    ("lng", "lat"),
    ("long", "lat"),
    ("longitude", "latitude"),
    ("längengrad", "breitengrad"),
    ("laengengrad", "breitengrad"),
    ("länge", "breite"),
    ("laenge", "breite"),
    ("geogr. länge", "geogr. breite"),
    ("x", "y"),
    ("rechtswert", "hochwert"),
    ("easting", "northing"),
    ("east", "north"),
    ("xcoord", "ycoord"),
    ("x_coord", "y_coord"),
    ("rw", "hw"),
]
WKT_NAMES = ("wkt", "geometry", "geom", "the_geom", "wkt_geom")
DELIMITERS = (",", ";", "\t", "|")
_UNIT_AFTER_NAME = re.compile(r"\s*(\[[^\]]*\]|\([^)]*\))$")
_PLAIN = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")
_COMMA = re.compile(r"^[+-]?(\d{1,3}(\.\d{3})+|\d+)(,\d+)?$")
_INTEGER = re.compile(r"^[+-]?(0|[1-9]\d*)$")
_LEADING_ZERO = re.compile(r"^[+-]?0\d")


def parse_number(text: str, decimal: str | None = None) -> float | None:
    """A number from CSV text; `decimal` "," (German), "." or None (either); None if it is none."""
    value = text.strip()
    if decimal in (None, ".") and _PLAIN.match(value):
        return float(value)
    if decimal in (None, ",") and _COMMA.match(value) and (decimal == "," or "," in value):
        return float(value.replace(".", "").replace(",", "."))
    return None


def detect_columns(header: Sequence[str]) -> tuple[str, str] | str | None:
    """The coordinate columns (x, y) or the WKT column found in the header, or None. A unit after the
    name is ignored, as registers write it: `Längengrad [DG]`, `Rechtswert (m)`."""
    lowered = {_UNIT_AFTER_NAME.sub("", name.strip().lower()): name for name in header}
    for x_name, y_name in COORDINATE_PAIRS:
        if x_name in lowered and y_name in lowered:
            return lowered[x_name], lowered[y_name]
    for x_name, y_name in COORDINATE_PAIRS:  # with a prefix: stop_lon/stop_lat, geo_x/geo_y
        xs = [name for low, name in lowered.items() if low.endswith(("_" + x_name, " " + x_name))]
        ys = [name for low, name in lowered.items() if low.endswith(("_" + y_name, " " + y_name))]
        for x in xs:
            for y in ys:
                if x.lower()[: -len(x_name)] == y.lower()[: -len(y_name)]:
                    return x, y
    for name in WKT_NAMES:
        if name in lowered:
            return lowered[name]
    return None


def read_csv(
    path: Path,
    *,
    x_column: str | None = None,
    y_column: str | None = None,
    wkt_column: str | None = None,
    crs: str | None = None,
    delimiter: str | None = None,
    decimal: str | None = None,
    encoding: str = "utf-8-sig",
    id_column: str | None = None,
    text_columns: Sequence[str] = (),
    infer_types: bool = True,
    prepare: Prepare | None = None,
    header_line: int = 1,
) -> tuple[CRS, list[Row]]:
    """The rows of a CSV file as features in WGS 84; `ImportFailure` naming file, row, field.

    `header_line` is the line of the header (1: the first), for exports with lines of text above it.
    """
    path = Path(path)
    if decimal not in (None, ",", "."):
        raise ImportFailure(f"{path}: field 'decimal': expected ',' or '.', got {decimal!r}")
    try:
        text = read_bytes(path).decode(encoding)
    except UnicodeDecodeError as exc:
        raise ImportFailure(
            f"{path}: field 'encoding': the file is not {encoding} (byte {exc.start}); name its encoding"
        ) from None
    except LookupError as exc:
        raise ImportFailure(f"{path}: field 'encoding': {exc}") from None
    if header_line < 1:
        raise ImportFailure(f"{path}: field 'header_line': lines count from 1, not {header_line}")
    before = header_line - 1
    if before:
        parts = text.split("\n", before)
        if len(parts) <= before:
            raise ImportFailure(f"{path}: field 'header_line': the file has no line {header_line}")
        text = parts[before]
    first_line = text.split("\n", 1)[0]
    if delimiter is None:
        delimiter = max(DELIMITERS, key=first_line.count)
    if delimiter in ("\\t", "tab"):
        delimiter = "\t"
    if len(delimiter) != 1:
        raise ImportFailure(f"{path}: field 'delimiter': expected one character, got {delimiter!r}")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = [name.strip() for name in next(reader)]
    except StopIteration:
        raise ImportFailure(f"{path}: field 'header': the file is empty") from None
    except csv.Error as exc:
        raise ImportFailure(f"{path}: line 1: field 'header': {exc}") from None
    duplicates = sorted({name for name in header if header.count(name) > 1})
    if duplicates:
        raise ImportFailure(f"{path}: field 'header': column {duplicates[0]!r} appears more than once")
    for option, name in (("x", x_column), ("y", y_column), ("wkt", wkt_column), ("id", id_column)):
        if name is not None and name not in header:
            raise ImportFailure(
                f"{path}: field '{name}': no such column (the {option} column); "
                f"the columns are {', '.join(header)}"
            )
    if (x_column is None) != (y_column is None):
        raise ImportFailure(f"{path}: field 'x/y': name both coordinate columns or neither")
    if x_column is None and wkt_column is None:
        found = detect_columns(header)
        if found is None:
            raise ImportFailure(
                f"{path}: field 'header': no coordinate columns found (x/y, lon/lat, longitude/latitude, "
                f"rechtswert/hochwert, …) nor a WKT column; name them"
            )
        if isinstance(found, str):
            wkt_column = found
        else:
            x_column, y_column = found
    records: list[tuple[int, list[str]]] = []
    try:
        for cells in reader:
            if cells and any(cell.strip() for cell in cells):
                records.append((reader.line_num + before, cells))
    except csv.Error as exc:
        raise ImportFailure(f"{path}: line {reader.line_num}: field 'row': {exc}") from None
    for index, (line, cells) in enumerate(records):
        if len(cells) != len(header):
            raise feature_error(
                path,
                index,
                "row",
                f"{len(cells)} cells for {len(header)} columns (delimiter {delimiter!r})",
                where=f"line {line}",
            )
    geometry_columns = [c for c in (x_column, y_column, wkt_column) if c is not None]
    position = {name: i for i, name in enumerate(header)}
    other = [name for name in header if name not in geometry_columns]
    typed = {
        name: _column_type(name, [cells[position[name]] for _, cells in records], decimal) for name in other
    }
    for name in text_columns:
        typed[name] = "text"
    if id_column is not None:
        typed[id_column] = "text"
    if not infer_types:
        typed = dict.fromkeys(other, "text")
    source_crs = parse_crs(crs, path, "crs") if crs is not None else None
    sources: list[Source] = []
    located: list[int] = []  # the sources with x/y, made points at once below
    xy: list[tuple[float, float]] = []
    for index, (line, cells) in enumerate(records):
        where = f"line {line}"
        key = cells[position[id_column]].strip() if id_column is not None else index + 1
        named = str(key) if key not in ("", None) else None
        properties = {name: _value(cells[position[name]], typed[name], decimal) for name in other}
        geom = None
        if wkt_column is not None:
            geom = _wkt(path, index, cells[position[wkt_column]], wkt_column, named, where)
        else:
            coordinates = _coordinates(
                path, index, cells, position, x_column, y_column, decimal, named, where
            )
            if coordinates is not None:
                located.append(index)
                xy.append(coordinates)
        sources.append(Source(index, key, geom, properties, where, id_column or "row"))
    if xy:
        for index, point in zip(located, shapely.points(xy), strict=True):
            sources[index].geometry = point
    if source_crs is None:
        source_crs = _default_crs(path, sources, x_column, y_column)
    return source_crs, build_rows(path, sources, source_crs, prepare)


def _column_type(name: str, cells: list[str], decimal: str | None) -> str:
    """ "integer", "number", "boolean" or "text": what every non-empty cell of the column is."""
    values = [cell.strip() for cell in cells if cell.strip()]
    if not values:
        return "text"
    if all(v.lower() in ("true", "false") for v in values):
        return "boolean"
    if any(_LEADING_ZERO.match(v) for v in values):
        return "text"
    if all(_INTEGER.match(v) for v in values):
        return "integer"
    if all(parse_number(v, decimal) is not None for v in values):
        return "number"
    return "text"


def _value(cell: str, kind: str, decimal: str | None) -> Any:
    text = cell.strip()
    if text == "":
        return None
    if kind == "integer":
        return int(text)
    if kind == "number":
        return parse_number(text, decimal)
    if kind == "boolean":
        return text.lower() == "true"
    return cell


def _coordinates(
    path: Path,
    index: int,
    cells: list[str],
    position: dict[str, int],
    x_column: str | None,
    y_column: str | None,
    decimal: str | None,
    key: str | None,
    where: str,
) -> tuple[float, float] | None:
    """The row's (x, y), or None for a row without a location (a feature without geometry)."""
    assert x_column is not None and y_column is not None
    x_text, y_text = cells[position[x_column]].strip(), cells[position[y_column]].strip()
    if not x_text and not y_text:
        return None
    x, y = parse_number(x_text, decimal), parse_number(y_text, decimal)
    if x is None:
        raise feature_error(path, index, x_column, f"not a coordinate: {x_text!r}", key, where)
    if y is None:
        raise feature_error(path, index, y_column, f"not a coordinate: {y_text!r}", key, where)
    return x, y


def _wkt(
    path: Path, index: int, text: str, column: str, key: str | None, where: str
) -> shapely.Geometry | None:
    if not text.strip():
        return None
    try:
        return shapely.from_wkt(text)
    except shapely.errors.GEOSException as exc:
        raise feature_error(path, index, column, f"not WKT: {exc}", key, where) from None


def _default_crs(path: Path, sources: list[Source], x_column: str | None, y_column: str | None) -> CRS:
    """WGS 84 when the coordinates are degrees; else the user has to say which CRS they are in."""
    boxes = shapely.bounds(np.array([s.geometry for s in sources], dtype=object)).reshape(-1, 4)
    with np.errstate(invalid="ignore"):
        bad_x = (boxes[:, 0] < -180) | (boxes[:, 2] > 180)
        bad_y = (boxes[:, 1] < -90) | (boxes[:, 3] > 90)
    wrong = np.flatnonzero(bad_x | bad_y)
    if len(wrong):
        source = sources[int(wrong[0])]
        name = (x_column if bad_x[wrong[0]] else y_column) or "geometry"
        minx, miny = boxes[wrong[0], 0], boxes[wrong[0], 1]
        raise feature_error(
            path,
            source.index,
            name,
            f"coordinates ({minx:g}, {miny:g}) are not degrees; name the source CRS (e.g. EPSG:25833)",
            str(source.key),
            source.where,
        )
    return CRS84


def import_csv(
    engine: Engine,
    path: Path,
    info: CollectionInfo,
    *,
    progress: bool = True,
    delete_missing: bool = False,
    **options: Any,
) -> ImportReport:
    """Import a CSV file into the collection `info.id`; `options` are those of `read_csv`."""
    source_crs, rows = read_csv(Path(path), **options)
    return store_rows(
        engine,
        rows,
        info,
        crs_name(source_crs),
        progress=progress,
        label=Path(path).name,
        delete_missing=delete_missing,
    )
