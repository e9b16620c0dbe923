"""Import CityJSON buildings (LoD1/LoD2): footprint as the geometry, height, and the solid kept.

Formats: CityJSON 1.0, 1.1 and 2.0 (`vertices` as integers with `transform`, or as numbers without),
and CityJSON Text Sequences (CityJSONSeq, `.city.jsonl`: a CityJSON header line, then one
`CityJSONFeature` per line). The CRS is `metadata.referenceSystem` (an OGC URL such as
`https://www.opengis.net/def/crs/EPSG/0/25833`, or a URN in 1.0); a compound CRS (e.g. EPSG:7415)
contributes its horizontal part.

Why no library: CityJSON is plain JSON, and the readers there are (cjio, a command-line tool built
around whole-file manipulation; bindings of native libraries that are young and not packaged for every
platform) bring more than the geometry walk needed here. So this module reads the JSON with orjson and
computes with numpy and shapely.

One feature per first-level city object of the chosen types (default: Building), with its
descendants (BuildingParts, installations…) folded in, keyed by its CityObject id, so re-importing
is idempotent. Per feature:

- geometry: the footprint, the 2D projection of the object's and its BuildingParts' non-vertical
  surfaces of the lowest LoD >= 1 they have (LoD 0 surfaces when there is nothing else), unioned.
  For an extruded LoD1 solid that is exactly its ground polygon; for LoD2 it includes roof overhangs.
- height (the features table's column, which vector tiles carry for extrusion): the attribute
  `measuredHeight` if it is a number, else the z extent (max z - min z) of the object and its parts.
  How it was found is said in the property `height_m_from`; the value is also `height_m`.
- properties: the object's `attributes`, plus `cityjson_type`, `lod` (the highest LoD present),
  `height_m`, `height_m_from`, and `cityjson`: the object with its descendants as a `CityJSONFeature`
  whose vertices are renumbered from 0 and kept as in the file (integers of the file's `transform`,
  which the feature carries, with `referenceSystem`). `to_cityjson` turns stored features back into a
  CityJSON 2.0 document, so the solids round-trip exactly. Not kept: appearances (`texture`,
  `material` of geometries, which point into the file's `appearance`) and geometry templates
  (a `GeometryInstance` still names its template by its index in the source file).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import shapely
from pyproj import CRS
from sqlalchemy import Engine

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
    read_bytes,
    store_rows,
)

VERSIONS = ("1.0", "1.1", "2.0")
#: How deep surfaces lie in `boundaries`, per geometry type: surface = [ring, …], ring = [vertex, …].
SURFACE_DEPTH = {"MultiSurface": 1, "CompositeSurface": 1, "Solid": 2, "MultiSolid": 3, "CompositeSolid": 3}
#: Nesting of `boundaries` down to the vertex indices, per geometry type.
BOUNDARY_DEPTH = {"MultiPoint": 1, "MultiLineString": 2, **{k: v + 2 for k, v in SURFACE_DEPTH.items()}}
DROPPED_MEMBERS = ("texture", "material")
#: Makes the error of one feature from (field, problem).
Fail = Callable[[str, str], ImportFailure]


@dataclass
class CityJSONImport:
    """What a CityJSON file gives: the CRS, the rows, and how many first-level objects were not taken."""

    crs: CRS
    rows: list[Row]
    skipped: int


@dataclass
class _Block:
    """A document, or one CityJSONFeature of a sequence: objects, vertices and their transform."""

    city_objects: dict[str, Any]
    raw_vertices: list[Any]
    vertices: np.ndarray
    transform: dict[str, Any] | None
    where: str
    #: For a CityJSONFeature: the id of its first-level object (the others are its descendants).
    feature_id: str | None = None


def read_cityjson(
    path: Path,
    *,
    types: Sequence[str] = ("Building",),
    crs: str | None = None,
    prepare: Prepare | None = None,
) -> CityJSONImport:
    """The first-level city objects of `types` in the file as rows in WGS 84; `ImportFailure` if bad."""
    path = Path(path)
    data = read_bytes(path)
    try:
        header, lines = orjson.loads(data), list[Any]()
    except orjson.JSONDecodeError as exc:
        header, lines = _sequence(path, data, exc)
    if not isinstance(header, dict) or header.get("type") != "CityJSON":
        raise ImportFailure(f"{path}: field 'type': expected a CityJSON document")
    version = str(header.get("version"))
    if version not in VERSIONS:
        raise ImportFailure(
            f"{path}: field 'version': CityJSON {version} is not read; {', '.join(VERSIONS)} are"
        )
    transform = _transform(path, header.get("transform"))
    if version != "1.0" and transform is None:
        raise ImportFailure(f"{path}: field 'transform': CityJSON {version} requires it")
    reference = (header.get("metadata") or {}).get("referenceSystem")
    if crs is not None:
        source_crs = parse_crs(crs, path, "crs")
    elif reference is not None:
        source_crs = parse_crs(reference, path, "metadata.referenceSystem")
    else:
        raise ImportFailure(
            f"{path}: field 'metadata.referenceSystem': the file states no CRS; name the source CRS"
        )
    # The CRS the kept vertices are in, as the file said it (or as the user corrected it).
    stated = str(crs if crs is not None else reference)
    blocks = [_block(path, header, transform, "")]
    for number, line in lines:
        if not isinstance(line, dict) or line.get("type") != "CityJSONFeature":
            raise ImportFailure(f"{path}: line {number}: field 'type': expected a CityJSONFeature")
        block = _block(path, line, transform, f"line {number}")
        block.feature_id = str(line.get("id"))
        if block.feature_id not in block.city_objects:
            raise ImportFailure(
                f"{path}: line {number}: field 'id': no city object {block.feature_id!r} in it"
            )
        blocks.append(block)
    sources: list[Source] = []
    skipped = 0
    index = 0
    for block in blocks:
        for object_id, first_level in _first_level(path, block):
            city_object = block.city_objects[object_id]
            if first_level and city_object.get("type") in types:
                sources.append(_source(path, index, object_id, block, version, stated))
            elif first_level:
                skipped += 1
            index += 1
    return CityJSONImport(source_crs, build_rows(path, sources, source_crs, prepare), skipped)


def import_cityjson(
    engine: Engine,
    path: Path,
    info: CollectionInfo,
    *,
    types: Sequence[str] = ("Building",),
    crs: str | None = None,
    prepare: Prepare | None = None,
    progress: bool = True,
    delete_missing: bool = False,
) -> ImportReport:
    """Import the city objects of a CityJSON file into the collection `info.id` (created or updated)."""
    result = read_cityjson(Path(path), types=types, crs=crs, prepare=prepare)
    report = store_rows(
        engine,
        result.rows,
        info,
        crs_name(result.crs),
        progress=progress,
        label=Path(path).name,
        delete_missing=delete_missing,
    )
    report.skipped = result.skipped
    return report


def to_cityjson(stored: Iterable[dict[str, Any]], title: str | None = None) -> dict[str, Any]:
    """A CityJSON 2.0 document of stored features' `cityjson` properties (the way back out).

    Vertices are renumbered into one list; features quantised with another `transform` than the
    first's are brought to the first's (exact when the scales are the same, as from one file).
    """
    city_objects: dict[str, Any] = {}
    vertices: list[list[int | float]] = []
    transform: dict[str, Any] | None = None
    reference: str | None = None
    for properties in stored:
        feature = properties["cityjson"]
        reference = reference or feature.get("referenceSystem")
        own = feature.get("transform")
        if transform is None and own is not None:
            transform = own
        offset = len(vertices)
        vertices.extend(_requantised(feature["vertices"], own, transform))
        for object_id, city_object in feature["CityObjects"].items():
            moved = dict(city_object)
            if "geometry" in moved:
                moved["geometry"] = [_shifted(g, offset) for g in moved["geometry"]]
            city_objects[object_id] = moved
    document: dict[str, Any] = {"type": "CityJSON", "version": "2.0"}
    document["transform"] = transform or {"scale": [1.0, 1.0, 1.0], "translate": [0.0, 0.0, 0.0]}
    metadata: dict[str, Any] = {}
    if reference:
        metadata["referenceSystem"] = reference
    if title:
        metadata["title"] = title
    if metadata:
        document["metadata"] = metadata
    document["CityObjects"] = city_objects
    document["vertices"] = vertices
    return document


def _sequence(path: Path, data: bytes, error: orjson.JSONDecodeError) -> tuple[Any, list[tuple[int, Any]]]:
    """A CityJSONSeq: the header line and the feature lines with their line numbers."""
    numbered = [(n, line) for n, line in enumerate(data.splitlines(), start=1) if line.strip()]
    if len(numbered) < 2:
        raise ImportFailure(f"{path}: not valid JSON: {error}")
    parsed = []
    for number, line in numbered:
        try:
            parsed.append((number, orjson.loads(line)))
        except orjson.JSONDecodeError as exc:
            raise ImportFailure(f"{path}: line {number}: not valid JSON: {exc}") from None
    return parsed[0][1], parsed[1:]


def _transform(path: Path, transform: Any) -> dict[str, Any] | None:
    if transform is None:
        return None
    try:
        scale = [float(v) for v in transform["scale"]]
        translate = [float(v) for v in transform["translate"]]
    except (KeyError, TypeError, ValueError):
        raise ImportFailure(f"{path}: field 'transform': expected scale and translate of 3 numbers") from None
    if len(scale) != 3 or len(translate) != 3 or not all(map(math.isfinite, scale + translate)):
        raise ImportFailure(f"{path}: field 'transform': expected scale and translate of 3 numbers")
    return {"scale": scale, "translate": translate}


def _block(path: Path, document: dict[str, Any], transform: dict[str, Any] | None, where: str) -> _Block:
    prefix = f"{path}: {where}: " if where else f"{path}: "
    city_objects = document.get("CityObjects")
    if not isinstance(city_objects, dict):
        raise ImportFailure(f"{prefix}field 'CityObjects': expected an object of city objects")
    raw = document.get("vertices")
    if not isinstance(raw, list):
        raise ImportFailure(f"{prefix}field 'vertices': expected a list of [x, y, z]")
    try:
        vertices = np.asarray(raw, dtype=float).reshape(-1, 3) if raw else np.empty((0, 3))
    except (TypeError, ValueError):
        raise ImportFailure(f"{prefix}field 'vertices': expected a list of [x, y, z] numbers") from None
    if len(vertices) != len(raw) or not np.isfinite(vertices).all():
        raise ImportFailure(f"{prefix}field 'vertices': expected a list of [x, y, z] numbers")
    if transform is not None:
        vertices = vertices * np.asarray(transform["scale"]) + np.asarray(transform["translate"])
    return _Block(city_objects, raw, vertices, transform, where)


def _first_level(path: Path, block: _Block) -> list[tuple[str, bool]]:
    """Every object id of the block, and whether it is first-level (has no parent in the file)."""
    answer = []
    for object_id, city_object in block.city_objects.items():
        if not isinstance(city_object, dict) or not isinstance(city_object.get("type"), str):
            raise ImportFailure(
                f"{path}: {block.where + ': ' if block.where else ''}feature {object_id!r}: field "
                f"'CityObjects.{object_id}.type': expected a city object with a type"
            )
        parents = [p for p in city_object.get("parents") or [] if p in block.city_objects]
        first = not parents if block.feature_id is None else object_id == block.feature_id
        answer.append((object_id, first))
    return answer


def _descendants(block: _Block, object_id: str) -> list[str]:
    """The object and its children, grandchildren…, each once, in a stable order."""
    order, stack, seen = [], [object_id], set()
    while stack:
        current = stack.pop(0)
        if current in seen or current not in block.city_objects:
            continue
        seen.add(current)
        order.append(current)
        stack.extend(str(c) for c in block.city_objects[current].get("children") or [])
    return order


def _source(path: Path, index: int, object_id: str, block: _Block, version: str, reference: str) -> Source:
    """One first-level object with its descendants: footprint, height, properties and the kept solid."""

    def fail(field_name: str, problem: str) -> ImportFailure:
        return feature_error(path, index, field_name, problem, object_id, block.where)

    ids = _descendants(block, object_id)
    renumber: dict[int, int] = {}
    kept_objects: dict[str, Any] = {}
    # (object type, lod, type, boundaries) of every geometry, to find footprint and height
    geometries: list[tuple[str, str, str, Any]] = []
    for member_id in ids:
        member = block.city_objects[member_id]
        kept = {k: v for k, v in member.items() if k != "geometry"}
        raw_geometries = member.get("geometry") or []
        if not isinstance(raw_geometries, list):
            raise fail(f"CityObjects.{member_id}.geometry", "expected a list of geometries")
        new_geometries = []
        for g, geometry in enumerate(raw_geometries):
            name = f"CityObjects.{member_id}.geometry[{g}]"
            if not isinstance(geometry, dict):
                raise fail(name, "expected a geometry object")
            kind = geometry.get("type")
            copy = {k: v for k, v in geometry.items() if k not in DROPPED_MEMBERS}
            if kind == "GeometryInstance":
                copy["boundaries"] = _renumbered(geometry.get("boundaries"), 1, renumber, block, fail, name)
            elif kind in BOUNDARY_DEPTH:
                if "lod" not in geometry:
                    raise fail(f"{name}.lod", "missing")
                depth = BOUNDARY_DEPTH[kind]
                copy["boundaries"] = _renumbered(
                    geometry.get("boundaries"), depth, renumber, block, fail, name
                )
                geometries.append((member.get("type"), str(geometry["lod"]), kind, geometry["boundaries"]))
            else:
                raise fail(f"{name}.type", f"not a CityJSON geometry type: {kind!r}")
            new_geometries.append(copy)
        if "geometry" in member:
            kept["geometry"] = new_geometries
        kept_objects[member_id] = kept
    city_object = block.city_objects[object_id]
    footprint, lods = _footprint(block, city_object.get("type"), geometries)
    attributes = city_object.get("attributes") or {}
    if not isinstance(attributes, dict):
        raise fail(f"CityObjects.{object_id}.attributes", "expected an object")
    height, height_from = _height(attributes, block, renumber, fail, object_id)
    feature = {
        "type": "CityJSONFeature",
        "id": object_id,
        "version": version,
        "referenceSystem": reference,
        "transform": block.transform,
        "CityObjects": kept_objects,
        "vertices": [block.raw_vertices[i] for i in renumber],
    }
    properties = {
        **attributes,
        "cityjson_type": city_object.get("type"),
        "lod": max(lods, key=_lod_number) if lods else None,
        "height_m": height,
        "height_m_from": height_from,
        "cityjson": feature,
    }
    return Source(index, object_id, footprint, properties, block.where, "CityObjects id", height)


def _renumbered(
    boundaries: Any, depth: int, renumber: dict[int, int], block: _Block, fail: Fail, name: str
) -> Any:
    """The boundaries with vertex indices renumbered in order of first use; checked on the way."""
    count = len(block.vertices)
    if depth == 0:
        if not isinstance(boundaries, int) or isinstance(boundaries, bool):
            raise fail(f"{name}.boundaries", f"expected a vertex index, got {boundaries!r}")
        if not 0 <= boundaries < count:
            raise fail(f"{name}.boundaries", f"vertex {boundaries} does not exist ({count} vertices)")
        return renumber.setdefault(boundaries, len(renumber))
    if not isinstance(boundaries, list):
        raise fail(f"{name}.boundaries", f"expected nested lists of vertex indices, got {boundaries!r}")
    return [_renumbered(item, depth - 1, renumber, block, fail, name) for item in boundaries]


def _lod_number(lod: str) -> float:
    try:
        return float(lod)
    except ValueError:
        return 0.0


def _surfaces(kind: str, boundaries: Any) -> list[list[list[int]]]:
    """The surfaces ([ring, …] of vertex indices) of a geometry, whatever its nesting."""
    surfaces = boundaries
    for _ in range(SURFACE_DEPTH.get(kind, 0) - 1):
        surfaces = [surface for group in surfaces for surface in group]
    return surfaces if kind in SURFACE_DEPTH else []


def _footprint(
    block: _Block, object_type: str, geometries: list[tuple[str, str, str, Any]]
) -> tuple[shapely.Geometry | None, list[str]]:
    """The union of the 2D projections of the non-vertical surfaces of the chosen LoD; and all LoDs."""
    lods = sorted({lod for _, lod, _, _ in geometries}, key=_lod_number)
    own = [g for g in geometries if g[0] == object_type or g[0].endswith("Part")]
    candidates = sorted({lod for _, lod, kind, _ in own if kind in SURFACE_DEPTH}, key=_lod_number)
    if not candidates:
        return None, lods
    chosen = next((lod for lod in candidates if _lod_number(lod) >= 1), candidates[0])
    polygons: list[Any] = []
    for _, lod, kind, boundaries in own:
        if lod != chosen:
            continue
        for surface in _surfaces(kind, boundaries):
            rings = [block.vertices[np.asarray(ring, dtype=int)] for ring in surface if len(ring) >= 3]
            if not rings or not _horizontal_enough(rings[0]):
                continue
            polygon = shapely.Polygon(rings[0][:, :2], [ring[:, :2] for ring in rings[1:]])
            if not polygon.is_valid:
                polygon = shapely.make_valid(polygon)
            polygons.extend(p for p in shapely.get_parts(polygon) if p.geom_type == "Polygon" and p.area > 0)
    if not polygons:
        return None, lods
    merged = shapely.union_all(polygons)
    parts = [p for p in shapely.get_parts(merged) if p.geom_type == "Polygon"]
    return (parts[0] if len(parts) == 1 else shapely.MultiPolygon(parts)), lods


def _horizontal_enough(ring: np.ndarray) -> bool:
    """Whether a surface shows in plan view: its normal (Newell's method) is not horizontal."""
    a = ring - ring.mean(axis=0)  # centred, so large projected coordinates lose no precision
    b = np.concatenate((a[1:], a[:1]))
    normal = (
        float((a[:, 1] * b[:, 2] - a[:, 2] * b[:, 1]).sum()),
        float((a[:, 2] * b[:, 0] - a[:, 0] * b[:, 2]).sum()),
        float((a[:, 0] * b[:, 1] - a[:, 1] * b[:, 0]).sum()),
    )
    length = math.hypot(*normal)
    return length > 0 and abs(normal[2]) > 1e-9 * length


def _height(
    attributes: dict[str, Any],
    block: _Block,
    renumber: dict[int, int],
    fail: Fail,
    object_id: str,
) -> tuple[float | None, str | None]:
    measured = attributes.get("measuredHeight")
    if measured is not None:
        try:
            value = float(measured)
        except (TypeError, ValueError):
            raise fail(
                f"CityObjects.{object_id}.attributes.measuredHeight", f"not a number: {measured!r}"
            ) from None
        if not math.isfinite(value):
            raise fail(f"CityObjects.{object_id}.attributes.measuredHeight", f"not a number: {measured!r}")
        return value, "attributes.measuredHeight"
    if not renumber:
        return None, None
    z = block.vertices[np.fromiter(renumber, dtype=int), 2]
    return round(float(z.max() - z.min()), 6), "z extent of the geometry"


def _requantised(
    vertices: list[list[Any]], own: dict[str, Any] | None, target: dict[str, Any] | None
) -> list[list[Any]]:
    if own == target or target is None:
        return vertices
    real = np.asarray(vertices, dtype=float)
    if own is not None:
        real = real * np.asarray(own["scale"]) + np.asarray(own["translate"])
    ints = np.rint((real - np.asarray(target["translate"])) / np.asarray(target["scale"])).astype(np.int64)
    return ints.tolist()


def _shifted(geometry: dict[str, Any], offset: int) -> dict[str, Any]:
    def shift(item: Any) -> Any:
        return item + offset if isinstance(item, int) else [shift(i) for i in item]

    return {**geometry, "boundaries": shift(geometry["boundaries"])}
