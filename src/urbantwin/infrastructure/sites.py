"""The site registry: operators' lists of sites in, one OGC API collection (and catalogue dataset)
per registry, and every site read back in one shape.

A site is a feature whose properties say who operates it (`operator`), what it is (`technology`:
`wlan`, `5g_small_cell`, `lorawan_gateway`, `sensor_gateway`), what it is mounted on (`carrier`:
`roof`, `lamp_post`, `stop_shelter`, `building`, `other`), its height in metres, capacity, whether
power and fibre are there, and its co-use slots with their states (`free`, `occupied`, `reserved`,
`planned`). Each registry is a collection of the features store, so a registry is a catalogue
dataset with the access rules of the access layer: an operator's internal list is imported with
`access_level = "internal"` and only the callers that dataset's rules admit see its sites, in the
OGC API, the tiles, the catalogue and `/api/infrastructure/sites` alike.

Lists come as CSV, XLSX or GeoJSON and are read by the readers of `import things` (positions in any
of the spellings and CRSs they know), with a mapping TOML naming the columns:

    [table]                  # as for `urbantwin import things`: sheet, delimiter, crs, x, y, wkt …
    [registry]
    collection = "sites-netco"        # the collection (and dataset) id
    title = "NetCo sites"
    operator = "NetCo"                # every site's operator (or [site] operator = "<column>")
    access_level = "internal"         # open (default), registered, partner or internal
    [site]
    id = "Standort"                   # columns …
    name = "Bezeichnung"
    technology = "Technik"
    carrier = "Träger"
    height = "Höhe"
    capacity = "Kapazität"
    power = "Strom"
    fibre = "Glasfaser"
    slots = "Slots"                   # "A:frei; B:belegt": slot id and state
    properties = ["Bezirk"]           # kept as they are
    [defaults]                        # values of sites whose list has no column for them
    technology = "5g_small_cell"
    [values.carrier]                  # the list's words -> our codes, beside the known spellings
    "Mast" = "lamp_post"

The import replaces the registry's sites: a site no longer in the list is removed. Everything is
checked before anything is written; a bad value names the row, the column and what was expected.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import shapely
from shapely.geometry import mapping as geojson_of
from shapely.geometry import shape
from sqlalchemy import Connection, Engine, select

from urbantwin.access.datasets import update_dataset
from urbantwin.infrastructure.vocabulary import CARRIERS, SLOT_STATES, TECHNOLOGIES, code_of, flag, labels
from urbantwin.ingest.pipeline import CRS84, CollectionInfo, ImportReport, Row, crs_name, store_rows_in
from urbantwin.ingest.things import TableMapping, read_table
from urbantwin.store.access_schema import ACCESS_LEVELS
from urbantwin.store.engine import for_writes
from urbantwin.store.features_schema import collections, features
from urbantwin.store.infrastructure_schema import infrastructure_registries

__all__ = [
    "SiteMapping",
    "import_sites",
    "read_site_mapping",
    "register",
    "site_document",
]

#: The properties of a site in the one shape every registry is read in.
SITE_FIELDS = (
    "site_id",
    "name",
    "operator",
    "technology",
    "carrier",
    "height_m",
    "capacity",
    "power",
    "fibre",
)
_SITE_KEYS = {*SITE_FIELDS, "id", "height", "slots", "properties"} - {"site_id", "height_m"}
_TABLE_KEYS = {"sheet", "header_line", "delimiter", "decimal", "encoding", "crs", "x", "y", "wkt"}
_REGISTRY_KEYS = {"collection", "title", "description", "operator", "access_level", "licence", "attribution"}
_SLOT = re.compile(r"^\s*([^:=]+?)\s*[:=]\s*(.+?)\s*$")


@dataclass
class SiteMapping:
    """A site mapping file, checked."""

    path: Path
    table: dict[str, Any]
    collection: str
    title: str
    operator: str | None
    #: Site field -> column.
    columns: dict[str, str]
    #: Source properties kept as they are: property -> column.
    keep: dict[str, str]
    defaults: dict[str, Any] = field(default_factory=dict)
    #: Field -> (the list's word -> code).
    values: dict[str, dict[str, str]] = field(default_factory=dict)
    description: str = ""
    access_level: str | None = None
    licence: str | None = None
    attribution: str | None = None


def _problem(path: Path, where: str, message: str) -> ValueError:
    return ValueError(f"{path.name}: [{where}] {message}")


def _known(path: Path, where: str, given: dict[str, Any], known: set[str]) -> None:
    unknown = sorted(set(given) - known)
    if unknown:
        raise _problem(path, where, f"unknown key {unknown[0]!r}; known: {', '.join(sorted(known))}")


def read_site_mapping(path: Path) -> SiteMapping:
    """The site mapping at `path`, checked; a ValueError names the key at fault."""
    path = Path(path)
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{path.name}: not TOML: {exc}") from None
    _known(path, "mapping", document, {"table", "registry", "site", "defaults", "values"})
    table = document.get("table") or {}
    _known(path, "table", table, _TABLE_KEYS)
    registry = document.get("registry")
    if not isinstance(registry, dict):
        raise _problem(path, "registry", 'missing: [registry] names the collection (collection = "…")')
    _known(path, "registry", registry, _REGISTRY_KEYS)
    collection = registry.get("collection")
    if not isinstance(collection, str) or not re.match(r"^[a-z0-9][a-z0-9_.-]{0,99}$", collection):
        raise _problem(
            path, "registry.collection", "expected an id of lower-case letters, digits, '.', '_', '-'"
        )
    level = registry.get("access_level")
    if level is not None and level not in ACCESS_LEVELS:
        raise _problem(path, "registry.access_level", f"one of {', '.join(ACCESS_LEVELS)}, not {level!r}")
    site = document.get("site")
    if not isinstance(site, dict) or not isinstance(site.get("id"), str):
        raise _problem(path, "site", 'missing: [site] id = "<column>" names the column of the site\'s id')
    _known(path, "site", site, _SITE_KEYS)
    columns: dict[str, str] = {}
    for key, value in site.items():
        if key == "properties":
            continue
        if not isinstance(value, str) or not value:
            raise _problem(path, f"site.{key}", "expected the name of a column")
        columns[key] = value
    props = site.get("properties") or []
    if isinstance(props, list) and all(isinstance(p, str) for p in props):
        keep = {column: column for column in props}
    elif isinstance(props, dict) and all(isinstance(v, str) for v in props.values()):
        keep = dict(props)
    else:
        raise _problem(path, "site.properties", "expected a list of columns or a table property = column")
    defaults = document.get("defaults") or {}
    _known(path, "defaults", defaults, _SITE_KEYS - {"id", "properties", "slots"})
    values = document.get("values") or {}
    _known(path, "values", values, {"technology", "carrier", "slots"})
    vocabularies = {"technology": TECHNOLOGIES, "carrier": CARRIERS, "slots": SLOT_STATES}
    for name, words in values.items():
        if not isinstance(words, dict):
            raise _problem(path, f"values.{name}", "expected a table word = code")
        for word, code in words.items():
            if code not in vocabularies[name]:
                raise _problem(
                    path,
                    f"values.{name}",
                    f"{word!r} = {code!r}: known codes {', '.join(vocabularies[name])}",
                )
    operator = registry.get("operator")
    if operator is None and "operator" not in columns:
        raise _problem(path, "registry.operator", "name the operator here or its column in [site] operator")
    return SiteMapping(
        path=path,
        table=table,
        collection=collection,
        title=str(registry.get("title") or collection),
        operator=operator,
        columns=columns,
        keep=keep,
        defaults=dict(defaults),
        values={name: dict(words) for name, words in values.items()},
        description=str(registry.get("description") or ""),
        access_level=level,
        licence=registry.get("licence"),
        attribution=registry.get("attribution"),
    )


def _number(value: Any, where: str) -> float | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ValueError(f"{where}: expected a number, not {value!r}")
    if isinstance(value, int | float):
        return float(value)
    try:
        return float(str(value).strip().replace(",", ".").removesuffix("m").strip())
    except ValueError:
        raise ValueError(f"{where}: expected a number, not {value!r}") from None


def parse_slots(value: Any, where: str, words: dict[str, str] | None = None) -> list[dict[str, str]]:
    """Co-use slots from a cell (`A:frei; B:belegt`, or a list of {"id", "state"}), checked."""
    if value is None or value == "":
        return []
    items: list[tuple[str, Any]] = []
    if isinstance(value, list):
        for item in value:
            if not isinstance(item, dict) or "id" not in item:
                raise ValueError(f"{where}: a slot must be an object with id and state, not {item!r}")
            items.append((str(item["id"]), item.get("state")))
    else:
        for part in re.split(r"[;|\n]", str(value)):
            if not part.strip():
                continue
            match = _SLOT.match(part)
            if match is None:
                raise ValueError(f"{where}: slot {part.strip()!r} is not <id>:<state> (e.g. A:frei)")
            items.append((match.group(1), match.group(2)))
    slots = []
    for ident, state in items:
        code = code_of(state, SLOT_STATES, words)
        if code is None:
            raise ValueError(
                f"{where}: slot {ident!r} has the state {state!r}; known: {', '.join(SLOT_STATES)}"
            )
        slots.append({"id": ident, "state": code})
    return slots


def site_properties(values: dict[str, Any], mapping: SiteMapping, where: str) -> dict[str, Any]:
    """A row of an operator's list as a site's properties, checked; ValueError names the column."""

    def cell(name: str) -> Any:
        column = mapping.columns.get(name)
        value = values.get(column) if column else None
        return mapping.defaults.get(name) if value in (None, "") else value

    def column(name: str) -> str:
        return f"{where}, column {mapping.columns.get(name, name)!r}"

    technology = cell("technology")
    tech = code_of(technology, TECHNOLOGIES, mapping.values.get("technology"))
    if technology not in (None, "") and tech is None:
        raise ValueError(
            f"{column('technology')}: {technology!r} is no known technology ({', '.join(TECHNOLOGIES)})"
        )
    carrier_value = cell("carrier")
    carrier = code_of(carrier_value, CARRIERS, mapping.values.get("carrier"))
    if carrier_value not in (None, "") and carrier is None:
        raise ValueError(
            f"{column('carrier')}: {carrier_value!r} is no known carrier ({', '.join(CARRIERS)})"
        )
    properties: dict[str, Any] = {
        "site_id": str(cell("id")),
        "name": _text(cell("name")),
        "operator": _text(cell("operator")) or mapping.operator,
        "technology": tech,
        "carrier": carrier,
        "height_m": _number(cell("height"), column("height")),
        "capacity": _capacity(cell("capacity")),
        "power": _flag(cell("power"), column("power")),
        "fibre": _flag(cell("fibre"), column("fibre")),
        "slots": parse_slots(cell("slots"), column("slots"), mapping.values.get("slots")),
    }
    for prop, source in mapping.keep.items():
        value = values.get(source)
        properties[prop] = value.isoformat() if isinstance(value, datetime) else value
    return properties


def _text(value: Any) -> str | None:
    return None if value in (None, "") else str(value).strip()


def _capacity(value: Any) -> Any:
    # Capacity is what the operator counts (clients, Mbit/s, devices): a number stays a number.
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value
    return _text(value)


def _flag(value: Any, where: str) -> bool | None:
    answer = flag(value)
    if answer is None and value not in (None, ""):
        raise ValueError(f"{where}: expected yes or no (ja/nein, true/false, x, 1/0), not {value!r}")
    return answer


def register(
    connection: Connection, collection: str, operator: str, source_kind: str, defaults: dict[str, Any]
) -> None:
    """Make `collection` (a collection of the store) a site registry, or update what it says."""
    now = datetime.now(UTC)
    values = {"operator": operator, "source_kind": source_kind, "defaults": defaults, "updated": now}
    found = connection.execute(
        select(infrastructure_registries.c.collection_id).where(
            infrastructure_registries.c.collection_id == collection
        )
    ).first()
    if found is None:
        connection.execute(infrastructure_registries.insert().values(collection_id=collection, **values))
    else:
        connection.execute(
            infrastructure_registries.update()
            .where(infrastructure_registries.c.collection_id == collection)
            .values(**values)
        )


def import_sites(
    engine: Engine, path: Path, mapping: SiteMapping, publisher: str | None = None
) -> ImportReport:
    """Import an operator's list as the mapping says (see the module docstring)."""
    table = TableMapping(
        path=mapping.path,
        table=mapping.table,
        namespace=mapping.collection,
        id_columns=[mapping.columns["id"]],
        name="",
        description="",
        properties={},
        location_name=None,
        datastreams=[],
    )
    rows = read_table(Path(path), table)
    name = Path(path).name
    sites: list[Row] = []
    seen: dict[str, int] = {}
    for number, row in enumerate(rows, start=1):
        where = f"{name}: row {number}"
        ident = row.properties.get(mapping.columns["id"])
        if ident in (None, ""):
            raise ValueError(f"{where}: no site id (column {mapping.columns['id']!r} is empty)")
        if str(ident) in seen:
            raise ValueError(f"{where}: the site id {str(ident)!r} of row {seen[str(ident)]} again")
        seen[str(ident)] = number
        if row.wkb is None:
            raise ValueError(f"{where}: no position (see [table] x, y or wkt)")
        properties = site_properties(row.properties, mapping, where)
        sites.append(Row(str(ident), properties, row.wkb, row.bounds, properties["height_m"], None, None))
    info = CollectionInfo(
        mapping.collection,
        mapping.title,
        mapping.description,
        mapping.licence,
        mapping.attribution,
        ["digital infrastructure"],
        source=name,
        publisher=publisher,
    )
    with for_writes(engine).begin() as connection:
        report = store_rows_in(connection, sites, info, crs_name(CRS84), progress=False, delete_missing=True)
        register(
            connection, mapping.collection, mapping.operator or "", "table", {"keep": list(mapping.keep)}
        )
        if mapping.access_level is not None:
            update_dataset(connection, mapping.collection, access_level=mapping.access_level)
    return report


def site_document(
    key: str,
    stored: dict[str, Any] | None,
    geometry: bytes | None,
    height: float | None,
    collection: str,
    operator: str,
    defaults: dict[str, Any],
) -> dict[str, Any]:
    """A site as GeoJSON Feature, in the one shape of every registry: the registry's defaults
    filled in where the site says nothing (a community's node feed says no carrier)."""
    source = stored or {}
    id_property = defaults.get("id_property")
    properties: dict[str, Any] = {
        "site_id": str(source.get("site_id") or (source.get(id_property) if id_property else None) or key),
        "name": source.get("name") or defaults.get("name"),
        "operator": source.get("operator") or operator or None,
        "technology": source.get("technology") or defaults.get("technology"),
        "carrier": source.get("carrier") or defaults.get("carrier"),
        "height_m": source.get("height_m", height),
        "capacity": source.get("capacity", defaults.get("capacity")),
        "power": source.get("power", defaults.get("power")),
        "fibre": source.get("fibre", defaults.get("fibre")),
        "slots": source.get("slots") or [],
        "registry": collection,
    }
    if properties["name"] is None:
        properties["name"] = properties["site_id"]
    for name in defaults.get("keep", ()):
        if name in source:
            properties[name] = source[name]
    properties["free_slots"] = sum(1 for slot in properties["slots"] if slot.get("state") == "free")
    properties["labels"] = labels(properties["technology"], properties["carrier"])
    return {
        "type": "Feature",
        "id": f"{collection}/{properties['site_id']}",
        "geometry": geojson_of(shapely.from_wkb(geometry)) if geometry is not None else None,
        "properties": properties,
    }


def site_of(row: Any) -> dict[str, Any]:
    """The site document of a row of `registry_query`."""
    return site_document(
        row.feature_key,
        row.properties,
        row.geom,
        row.height,
        row.collection_id,
        row.operator,
        row.defaults,
    )


def registry_query(dataset_condition: Any) -> Any:
    """The sites of every registry (one row each), restricted by `dataset_condition` (the caller's
    scope on the collections' datasets; None: all)."""
    query = (
        select(
            features.c.feature_key,
            features.c.properties,
            features.c.geom,
            features.c.height,
            infrastructure_registries.c.collection_id,
            infrastructure_registries.c.operator,
            infrastructure_registries.c.defaults,
            collections.c.dataset_id,
        )
        .select_from(
            infrastructure_registries.join(
                collections, collections.c.id == infrastructure_registries.c.collection_id
            ).join(features, features.c.collection_id == collections.c.id)
        )
        .order_by(infrastructure_registries.c.collection_id, features.c.id)
    )
    if dataset_condition is not None:
        query = query.where(dataset_condition)
    return query


def matches(site: dict[str, Any], filters: dict[str, Any]) -> bool:
    """Whether a site document passes the filters of the sites API."""
    props = site["properties"]
    for name in ("operator", "technology", "carrier"):
        wanted: Iterable[str] | None = filters.get(name)
        if wanted and props.get(name) not in wanted:
            return False
    if filters.get("free_slot") and not props["free_slots"]:
        return False
    box = filters.get("bbox")
    if box is not None:
        geometry = site["geometry"]
        if geometry is None:
            return False
        if not shape(geometry).intersects(shapely.box(*box)):
            return False
    return True
