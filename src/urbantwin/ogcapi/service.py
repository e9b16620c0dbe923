"""OGC API - Features, Part 1 (Core) and Part 2 (Coordinate Reference Systems by Reference).

The service takes a base URL and the query parameters and returns documents; it knows nothing of
HTTP (routes.py binds it). Errors a client can cause raise `BadRequest`/`NotFound`, which the app
maps to 4xx answers with their message.

A page of items is read and written as GeoJSON text by the database (store/feature_pages.py) and
passed through to the response unparsed (`FeaturePage`): for a page of 1,000 that halves the time,
and pages behind an offset, bounding boxes and `numberMatched` are each computed so that their cost
does not grow with what they skip (bench/README.md, "OGC API Features").

Items and single features carry what a cache needs (`Validators`): a weak ETag and a last
modification from the collection's `version` and `updated` (every write to its features bumps both
in its own transaction), and whether everyone may read the collection (the access point's answer).
A caller that holds an answer still current (`unchanged`) gets it confirmed before the page is read.

Conformance classes implemented here: see `CONFORMANCE`.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlencode

import orjson
import shapely
from sqlalchemy import Connection, Engine, and_, exists, func, literal, or_, select

from urbantwin.access.gate import Access, Caller
from urbantwin.access.policy import DatasetScope
from urbantwin.city_profile import NO_CITY, CityProfile
from urbantwin.errors import BadRequest, NotFound
from urbantwin.ogcapi.crs import CRS84, bbox_to_crs84, geometry_transform, parse_crs, served_crs
from urbantwin.ogcapi.filter import GEOMETRY, TEMPORAL, FilterCompiler, check_language, parse_filter
from urbantwin.settings import Settings
from urbantwin.store.extents import ExtentCache
from urbantwin.store.feature_pages import FeatureText, in_box, read_page
from urbantwin.store.feature_rows import Box
from urbantwin.store.features_schema import collections, features
from urbantwin.store.replicas import read_connection
from urbantwin.store.sqlfunctions import json_boolean, json_number, json_string
from urbantwin.times import parse_instant

CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/html",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables-query-parameters",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-cql2",
    "http://www.opengis.net/spec/cql2/1.0/conf/advanced-comparison-operators",
    "http://www.opengis.net/spec/cql2/1.0/conf/case-insensitive-comparison",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions-plus",
    "http://www.opengis.net/spec/cql2/1.0/conf/spatial-functions",
    "http://www.opengis.net/spec/cql2/1.0/conf/arithmetic",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-text",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-json",
    "http://www.opengis.net/spec/ogcapi-features-5/1.0/conf/sortables",
    "http://www.opengis.net/spec/ogcapi-records-1/1.0/conf/sorting",
    "http://www.opengis.net/spec/ogcapi-features-6/1.0/conf/property-selection",
    "http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/create-replace-delete",
    "http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/update",
    "http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/features",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/tileset",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/tilesets-list",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/geodata-tilesets",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/mvt",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/tms/2.0/conf/tilematrixset",
    "http://www.opengis.net/spec/tms/2.0/conf/json-tilematrixset",
]
GEOJSON = "application/geo+json"
JSON = "application/json"
HTML = "text/html"
DEFAULT_LIMIT, MAX_LIMIT = 10, 10_000
#: Query parameters of the items resource; any other must name a property of the collection.
ITEM_PARAMETERS = {
    "limit",
    "offset",
    "bbox",
    "bbox-crs",
    "datetime",
    "crs",
    "f",
    "filter",
    "filter-lang",
    "filter-crs",
    "sortby",
    "properties",
}


class FeaturePage(list):
    """The features of a page as the database wrote them: JSON text, one per feature.

    orjson writes a list subclass as a list of its elements (read in C, past `__len__` and
    `__iter__`), so the page is held as one element, the texts joined by commas in an
    `orjson.Fragment`, and the response is `[` that `]` without Python touching a feature. In Python
    (the HTML view) it is the list of the parsed features.
    """

    def __init__(self, texts: Sequence[str]) -> None:
        joined = ",".join(texts)
        super().__init__([orjson.Fragment(joined)] if joined else [])
        self.text = joined
        self.length = len(texts)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(orjson.loads(f"[{self.text}]"))

    def __len__(self) -> int:
        return self.length


#: Counts of whole collections kept, keyed by (collection, created, version): see `_matched`.
COUNT_CACHE_SIZE = 1024


@dataclass(frozen=True)
class Validators:
    """What a cache keys an answer about a collection's features on."""

    #: Weak: the answer is the same while the collection's features are (its `timeStamp` is not).
    etag: str
    #: When a write last changed the collection's features (or its metadata).
    modified: datetime
    #: Whether everyone may read the collection (a shared cache may keep it), as the access point says.
    public: bool


@dataclass
class Answer:
    """A document and the headers that belong to it (`Content-Crs`); for features, their
    validators, and `unchanged` where the caller's copy is still current (then no document)."""

    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)
    validators: Validators | None = None
    unchanged: bool = False


#: Whether the caller's copy, by these validators, is still current (the route's conditional request).
Unchanged = Callable[[Validators], bool]


def validators_of(row: Any, public: bool) -> Validators:
    """The validators of a collection's answers from its row (`created`, `version`, `updated`): a
    collection made again under the same id starts a new sequence of tags."""
    created = int(row["created"].timestamp() * 1_000_000)
    scope = "p" if public else "r"
    return Validators(f'W/"{created:x}-{row["version"]}-{scope}"', row["updated"], public)


class FeaturesService:
    def __init__(
        self,
        engine: Engine,
        settings: Settings,
        access: Access | None = None,
        conformance: list[str] | None = None,
        city: CityProfile = NO_CITY,
    ) -> None:
        self.engine = engine
        #: The CRSs offered: CRS84, the city's own (its profile's), EPSG:4326 and EPSG:3857.
        self.crs = served_crs(city.served_crs())
        self.settings = settings
        #: Who may read and write which collection, and the account of reads (`access/gate.py`).
        self.access = access or Access.of(engine, settings)
        #: The classes `/conformance` lists: those the app's modules declare (urbantwin.modules).
        self.conformance_classes = list(CONFORMANCE if conformance is None else conformance)
        self._counts: OrderedDict[tuple[str, Any, int], int] = OrderedDict()
        self._counts_lock = threading.Lock()
        #: Extents of collections whose stored one is not right (after an import), per version.
        self._extents = ExtentCache()

    # --- landing page, conformance, collections ------------------------------------------------

    def landing(self, base: str) -> Answer:
        root = f"{base}/ogcapi"
        return Answer(
            {
                "title": "urbantwin OGC API",
                "description": "The city model of the urban data platform: OGC API - Features and Tiles.",
                "links": [
                    _link(f"{root}/", "self", JSON, "this document"),
                    _link(f"{root}/?f=html", "alternate", HTML, "this document as HTML"),
                    _link(
                        f"{base}/openapi.json",
                        "service-desc",
                        "application/vnd.oai.openapi+json;version=3.0",
                        "the API definition",
                    ),
                    _link(f"{base}/docs", "service-doc", HTML, "the API documentation"),
                    _link(f"{root}/conformance", "conformance", JSON, "conformance classes"),
                    _link(f"{root}/collections", "data", JSON, "the collections"),
                    _link(
                        f"{root}/tileMatrixSets",
                        "http://www.opengis.net/def/rel/ogc/1.0/tiling-schemes",
                        JSON,
                        "the tile matrix sets",
                    ),
                ],
            }
        )

    def conformance(self) -> Answer:
        return Answer({"conformsTo": list(self.conformance_classes)})

    def collections(self, base: str, caller: Caller) -> Answer:
        """The collections whose dataset `caller` may read."""
        visible = self.access.scope(caller).allows_column(collections.c.dataset_id)
        query = select(collections).order_by(collections.c.id)
        with read_connection(self.engine) as connection:
            rows = [
                row._mapping for row in connection.execute(query if visible is None else query.where(visible))
            ]
            extents = self._extents.extents(connection, rows)
        root = f"{base}/ogcapi/collections"
        return Answer(
            {
                "links": [
                    _link(root, "self", JSON, "the collections"),
                    _link(f"{root}?f=html", "alternate", HTML, "the collections as HTML"),
                ],
                "collections": [self._collection(base, row, extents[row["id"]]) for row in rows],
                "crs": list(self.crs),
            }
        )

    def collection(self, base: str, collection_id: str, caller: Caller) -> Answer:
        self.readable(caller, collection_id)
        with read_connection(self.engine) as connection:
            row = self._row(collection_id, connection)
            extent = self._extents.extent(connection, row)
        return Answer(self._collection(base, row, extent))

    def readable(self, caller: Caller, collection_id: str, api: str = "features") -> DatasetScope:
        """404 unless `caller` may read the collection's dataset (its read counted): every answer
        about one collection, features and tiles alike, asks this first."""
        what = f"collection {collection_id!r}"
        with read_connection(self.engine) as connection:
            found = connection.execute(
                select(collections.c.dataset_id, self.access.policy_version().label("policy_version")).where(
                    collections.c.id == collection_id
                )
            ).first()
            if found is None:
                raise NotFound(f"no {what}")
            return self.access.require_readable(
                caller, found.dataset_id, what, api, connection, found.policy_version
            )

    def _row(self, collection_id: str, connection: Connection | None = None) -> Any:
        """The collection's row (404 when there is none), on `connection` when given."""
        if connection is None:
            with read_connection(self.engine) as own:
                return self._row(collection_id, own)
        row = connection.execute(select(collections).where(collections.c.id == collection_id)).first()
        if row is None:
            raise NotFound(f"no collection {collection_id!r}")
        return row._mapping

    def _collection(self, base: str, row: Any, extent: Box | None) -> dict[str, Any]:
        url = f"{base}/ogcapi/collections/{row['id']}"
        document: dict[str, Any] = {
            "id": row["id"],
            "title": row["title"],
            "description": row["description"],
            "keywords": row["keywords"] or [],
            "itemType": "feature",
            "crs": list(self.crs),
            "storageCrs": CRS84,
            "links": [
                _link(url, "self", JSON, "this collection"),
                _link(f"{url}?f=html", "alternate", HTML, "this collection as HTML"),
                _link(f"{url}/items", "items", GEOJSON, "the features as GeoJSON"),
                _link(f"{url}/items?f=html", "items", HTML, "the features as HTML"),
                _link(
                    f"{url}/queryables",
                    "http://www.opengis.net/def/rel/ogc/1.0/queryables",
                    "application/schema+json",
                    "the properties a filter may use",
                ),
            ],
        }
        # Tiles are offered only for what has a place: a collection without geometry (a table of
        # figures per day, say) would give nothing but empty tiles, and the viewer draws what is offered.
        if extent is not None:
            document["links"].append(
                _link(
                    f"{url}/tiles",
                    "http://www.opengis.net/def/rel/ogc/1.0/tilesets-vector",
                    JSON,
                    "the features as Mapbox Vector Tiles",
                )
            )
        if row["licence"]:
            document["license"] = row["licence"]
        if row["attribution"]:
            document["attribution"] = row["attribution"]
        if extent is not None:
            document["extent"] = {"spatial": {"bbox": [list(extent)], "crs": CRS84}}
        return document

    def _temporal(self, collection_id: str, connection: Connection | None = None) -> bool:
        """Whether any feature of the collection has a validity (so valid_from/valid_to are queryable)."""
        if connection is None:
            with read_connection(self.engine) as own:
                return self._temporal(collection_id, own)
        has = exists().where(
            features.c.collection_id == collection_id,
            or_(features.c.valid_from.isnot(None), features.c.valid_to.isnot(None)),
        )
        return bool(connection.execute(select(has)).scalar())

    def queryables(self, base: str, collection_id: str, caller: Caller) -> Answer:
        """The JSON Schema of what a filter may name: the item properties, the geometry, the validity."""
        self.readable(caller, collection_id)
        row = self._row(collection_id)
        properties: dict[str, Any] = {}
        for name, schema in ((row["item_schema"] or {}).get("properties", {})).items():
            properties[name] = {"title": name, **schema}
        properties[GEOMETRY] = {"title": "geometry", "format": "geometry-any"}
        if self._temporal(collection_id):
            for name in TEMPORAL:
                properties[name] = {"title": name, "type": "string", "format": "date-time"}
        url = f"{base}/ogcapi/collections/{collection_id}/queryables"
        return Answer(
            {
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "$id": url,
                "type": "object",
                "title": row["title"],
                "properties": properties,
                "additionalProperties": False,
            }
        )

    def properties_schema(self, collection_id: str) -> dict[str, Any]:
        return (self._row(collection_id)["item_schema"] or {}).get("properties", {})

    # --- items -----------------------------------------------------------------------------------

    def items(
        self,
        base: str,
        collection_id: str,
        params: Sequence[tuple[str, str]],
        caller: Caller,
        unchanged: Unchanged | None = None,
    ) -> Answer:
        what = f"collection {collection_id!r}"
        # One connection for the whole request: each checkout costs a round trip (the pool's ping).
        with read_connection(self.engine) as connection:
            # The collection's row with the version of the access rules: one statement answers
            # whether the caller may read it and what its answers' validators are.
            found = connection.execute(
                select(collections, self.access.policy_version().label("policy_version")).where(
                    collections.c.id == collection_id
                )
            ).first()
            if found is None:
                raise NotFound(f"no {what}")
            self.access.require_readable(
                caller, found.dataset_id, what, "features", connection, found.policy_version
            )
            row = found._mapping
            public = self.access.public(found.dataset_id, connection, found.policy_version)
            validators = validators_of(row, public)
            if unchanged is not None and unchanged(validators):
                return Answer({}, validators=validators, unchanged=True)
            answer = self._items(connection, base, collection_id, params, row)
            answer.validators = validators
            return answer

    def _items(
        self,
        connection: Connection,
        base: str,
        collection_id: str,
        params: Sequence[tuple[str, str]],
        row: Any = None,
    ) -> Answer:
        if row is None:
            row = self._row(collection_id, connection)
        schema = (row["item_schema"] or {}).get("properties", {})
        values = _single(params)
        limit = _integer(values.get("limit"), "limit", DEFAULT_LIMIT, 1)
        limit = min(limit, MAX_LIMIT)  # a larger limit is not an error: the page is cut to the maximum
        offset = _integer(values.get("offset"), "offset", 0, 0, self.settings.max_offset)
        target = parse_crs(values.get("crs"), "crs", self.crs)
        conditions = [features.c.collection_id == collection_id]
        if values.get("bbox"):
            box = bbox_to_crs84(
                _bbox(values["bbox"]), parse_crs(values.get("bbox-crs"), "bbox-crs", self.crs)
            )
            conditions.append(_in_bbox(box))
        elif values.get("bbox-crs"):
            raise BadRequest("bbox-crs: given without bbox")
        if values.get("datetime"):
            conditions.append(_in_time(values["datetime"]))
        if values.get("filter"):
            node = parse_filter(values["filter"], values.get("filter-lang"), self.settings)
            filter_crs = parse_crs(values.get("filter-crs"), "filter-crs", self.crs)
            compiler = FilterCompiler(schema, filter_crs, self._temporal(collection_id, connection))
            conditions.append(compiler.compile(node))
        elif values.get("filter-lang") or values.get("filter-crs"):
            check_language(values.get("filter-lang"))  # a bad filter-lang is still named
            parse_crs(values.get("filter-crs"), "filter-crs", self.crs)
        order = _sort_keys(values.get("sortby"), schema)
        selected = _selection(values.get("properties"), schema)
        for name, value in values.items():
            if name in ITEM_PARAMETERS:
                continue
            if name not in schema:
                known = ", ".join(sorted(ITEM_PARAMETERS | set(schema)))
                raise BadRequest(f"unknown query parameter {name!r}; known are: {known}")
            conditions.append(_property_equals(name, schema[name].get("type"), value))
        where = and_(*conditions)
        url = f"{base}/ogcapi/collections/{collection_id}/items"
        transform = geometry_transform(target)
        # In the stored CRS the database writes the Features' GeoJSON itself; other CRSs are
        # transformed here (with pyproj, which the 25833 round trip is held to).
        text = FeatureText(url, None if selected is None else tuple(selected)) if transform is None else None
        filtered = len(conditions) > 1
        page = read_page(connection, features, where, order, limit, offset, filtered, text)
        matched = page.matched
        if matched is None:
            matched = self._matched(connection, row, where, filtered, offset, len(page), limit)
        items: list[Any] = (
            FeaturePage(page.texts)
            if page.texts is not None
            else _features(page.rows, transform, url, selected)
        )
        kept = [(k, v) for k, v in params if k not in ("offset", "f")]
        links = [
            _link(_url(url, kept + [("offset", str(offset))]), "self", GEOJSON, "this page"),
            _link(_url(url, kept + [("offset", str(offset)), ("f", "html")]), "alternate", HTML, "as HTML"),
            _link(f"{base}/ogcapi/collections/{collection_id}", "collection", JSON, "the collection"),
        ]
        if offset + len(page) < matched:
            links.append(
                _link(_url(url, kept + [("offset", str(offset + limit))]), "next", GEOJSON, "next page")
            )
        if offset > 0:
            previous = max(offset - limit, 0)
            links.append(
                _link(_url(url, kept + [("offset", str(previous))]), "prev", GEOJSON, "previous page")
            )
        body = {
            "type": "FeatureCollection",
            "features": items,
            "numberMatched": matched,
            "numberReturned": len(page),
            "timeStamp": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
            "links": links,
        }
        return Answer(body, {"Content-Crs": f"<{target}>"})

    def _matched(
        self,
        connection: Connection,
        row: Any,
        where: Any,
        filtered: bool,
        offset: int,
        returned: int,
        limit: int,
    ) -> int:
        """`numberMatched` when the page query did not count: known from a page that is not full,
        else counted. The count of a whole collection (no filter) is kept per collection version:
        every write bumps the version in its own transaction, and the count is read in the same
        statement as the version it is kept under, so a kept count is never stale."""
        if returned < limit and (returned or not offset):
            return offset + returned  # the page reached the end of the matches
        if filtered:
            return connection.execute(select(func.count()).select_from(features).where(where)).scalar_one()
        key = (row["id"], row["created"], row["version"])
        with self._counts_lock:
            if key in self._counts:
                self._counts.move_to_end(key)
                return self._counts[key]
        version = select(collections.c.version).where(collections.c.id == row["id"]).scalar_subquery()
        count, current = connection.execute(
            select(func.count(), version).select_from(features).where(where)
        ).one()
        if current is not None:
            with self._counts_lock:
                self._counts[(row["id"], row["created"], current)] = count
                while len(self._counts) > COUNT_CACHE_SIZE:
                    self._counts.popitem(last=False)
        return count

    def item(
        self,
        base: str,
        collection_id: str,
        feature_id: str,
        params: Sequence[tuple[str, str]],
        caller: Caller,
        unchanged: Unchanged | None = None,
    ) -> Answer:
        what = f"collection {collection_id!r}"
        # One statement answers the collection's dataset, the version of the access rules and the
        # feature (a collection without it: NULLs), so that the common request, whose scope is
        # kept, costs one round trip; nothing of the feature is shown before the access check.
        wanted = and_(features.c.collection_id == collections.c.id, features.c.feature_key == feature_id)
        query = (
            select(
                collections.c.dataset_id,
                self.access.policy_version().label("policy_version"),
                collections.c.created,
                collections.c.version,
                collections.c.updated,
                features.c.feature_key,
                features.c.properties,
                features.c.geom,
            )
            .select_from(collections.outerjoin(features, wanted))
            .where(collections.c.id == collection_id)
        )
        with read_connection(self.engine) as connection:
            row = connection.execute(query).first()
            if row is None:
                raise NotFound(f"no {what}")
            self.access.require_readable(
                caller, row.dataset_id, what, "features", connection, row.policy_version
            )
            public = self.access.public(row.dataset_id, connection, row.policy_version)
        validators = validators_of(row._mapping, public)
        values = _single(params)
        unknown = set(values) - {"crs", "f"}
        if unknown:
            raise BadRequest(
                f"unknown query parameter {sorted(unknown)[0]!r} for a single feature; known: crs, f"
            )
        target = parse_crs(values.get("crs"), "crs", self.crs)
        if row.feature_key is None:
            raise NotFound(f"no feature {feature_id!r} in collection {collection_id!r}")
        if unchanged is not None and unchanged(validators):
            return Answer({}, validators=validators, unchanged=True)
        url = f"{base}/ogcapi/collections/{collection_id}/items"
        body = _features([row], geometry_transform(target), url)[0]
        body["links"].append(
            _link(f"{base}/ogcapi/collections/{collection_id}", "collection", JSON, "collection")
        )
        return Answer(body, {"Content-Crs": f"<{target}>"}, validators)


# --- helpers ---------------------------------------------------------------------------------------


def _link(href: str, rel: str, media_type: str, title: str) -> dict[str, str]:
    return {"href": href, "rel": rel, "type": media_type, "title": title}


def _url(url: str, params: list[tuple[str, str]]) -> str:
    return f"{url}?{urlencode(params)}" if params else url


def _single(params: Sequence[tuple[str, str]]) -> dict[str, str]:
    values: dict[str, str] = {}
    for name, value in params:
        if name in values:
            raise BadRequest(f"query parameter {name!r} is given more than once")
        values[name] = value
    return values


def _integer(raw: str | None, name: str, default: int, minimum: int, maximum: int | None = None) -> int:
    """A decimal integer parameter in `minimum..maximum`; `maximum` None: any larger value is capped
    by the caller. Only ASCII digits (Python's int() also takes `1_000` and other scripts' digits),
    and at most 19 of them (a 64-bit integer), so a value of thousands of digits costs nothing."""
    if raw is None or raw == "":
        return default
    digits = raw.removeprefix("-")
    if not (digits.isascii() and digits.isdigit()):
        raise BadRequest(f"{name}: expected an integer, got {raw[:40]!r}")
    # Beyond 19 digits only the sign matters: the value is out of every range.
    value = int(raw) if len(digits.lstrip("0")) <= 19 else (-1 if raw[0] == "-" else 1) * 10**20
    if value < minimum:
        raise BadRequest(f"{name}: must be at least {minimum}, got {raw[:40]}")
    if maximum is not None and value > maximum:
        raise BadRequest(f"{name}: must be at most {maximum}, got {raw[:40]}")
    if value > _LARGEST_INTEGER:  # the store's integers are 64-bit (SQLite's driver cannot bind more)
        raise BadRequest(f"{name}: must be at most {_LARGEST_INTEGER}, got {raw[:40]}")
    return value


_LARGEST_INTEGER = 2**63 - 1


def _bbox(raw: str) -> tuple[float, float, float, float]:
    try:
        numbers = [float(part) for part in raw.split(",")]
    except ValueError:
        raise BadRequest(f"bbox: expected 4 (or 6) comma-separated numbers, got {raw!r}") from None
    if len(numbers) == 6:  # minx, miny, minz, maxx, maxy, maxz: heights are not filtered on
        numbers = [numbers[0], numbers[1], numbers[3], numbers[4]]
    if len(numbers) != 4 or not all(math.isfinite(n) for n in numbers):
        raise BadRequest(f"bbox: expected 4 (or 6) comma-separated finite numbers, got {raw!r}")
    if numbers[0] > numbers[2] or numbers[1] > numbers[3]:
        raise BadRequest(f"bbox: the lower corner must come first and not exceed the upper one: {raw!r}")
    return (numbers[0], numbers[1], numbers[2], numbers[3])


def _in_bbox(box: tuple[float, float, float, float]) -> Any:
    return in_box(features.c.id, features.c.geom, box)


def _instant(raw: str, name: str) -> datetime | None:
    if raw in ("", ".."):
        return None
    return parse_instant(raw, f"datetime: {name}")


def _in_time(raw: str) -> Any:
    """Features whose validity [valid_from, valid_to] meets the instant or interval (open ends: NULL)."""
    if "/" in raw:
        first, _, second = raw.partition("/")
        start, end = _instant(first, "start"), _instant(second, "end")
        if start and end and start > end:
            raise BadRequest(f"datetime: the start of {raw!r} is after its end")
    else:
        if raw == "..":
            raise BadRequest("datetime: '..' is only allowed as an end of an interval")
        start = end = _instant(raw, "instant")
    conditions = []
    if end is not None:
        conditions.append(or_(features.c.valid_from.is_(None), features.c.valid_from <= end))
    if start is not None:
        conditions.append(or_(features.c.valid_to.is_(None), features.c.valid_to >= start))
    return and_(*conditions) if conditions else literal(True)


def _property_equals(name: str, kind: str | None, raw: str) -> Any:
    element = features.c.properties[name]
    try:
        if kind == "integer":
            return element.as_integer() == int(raw)
        if kind == "number":
            return element.as_float() == float(raw)
        if kind == "boolean":
            if raw not in ("true", "false"):
                raise ValueError
            return element.as_boolean() == (raw == "true")
    except ValueError:
        raise BadRequest(f"{name}: expected a {kind} value, got {raw!r}") from None
    return element.as_string() == raw


def _sort_keys(raw: str | None, schema: dict[str, Any]) -> list[tuple[Any, bool]]:
    """The sort keys of `sortby` (`+name,-rank`) as (expression, descending) pairs; the page query
    orders by them with NULLs last on both backends, then by id."""
    if not raw:
        return []
    keys = []
    for part in raw.split(","):
        term = part.strip()
        descending = term.startswith("-")
        name = term.lstrip("+-").strip()
        if name in TEMPORAL:
            column: Any = features.c[name]
        elif name in schema:
            kind = schema[name].get("type")
            accessor = {"number": json_number, "integer": json_number, "boolean": json_boolean}
            column = accessor.get(kind, json_string)(features.c.properties, (name,))
        else:
            known = ", ".join(sorted(schema) + list(TEMPORAL))
            raise BadRequest(f"sortby: unknown property {name!r}; sortable are: {known}")
        keys.append((column, descending))
    return keys


def _selection(raw: str | None, schema: dict[str, Any]) -> list[str] | None:
    """The properties named by `properties` (None: all of them)."""
    if raw is None:
        return None
    names = [name.strip() for name in raw.split(",") if name.strip()]
    unknown = [name for name in names if name not in schema]
    if unknown:
        raise BadRequest(
            f"properties: unknown property {unknown[0]!r}; known are: {', '.join(sorted(schema))}"
        )
    return names


def _features(
    rows: Sequence[Any], transform: Any, url: str, selected: list[str] | None = None
) -> list[dict[str, Any]]:
    """GeoJSON Features of rows (feature_key, properties, geom WKB), geometries converted at once.

    GEOS writes the geometries' GeoJSON (shortest round-tripping doubles), embedded as is.
    """
    geoms = shapely.from_wkb([row.geom for row in rows])
    if transform is not None and len(rows):
        geoms = transform(geoms)
    texts = shapely.to_geojson(geoms)
    return [
        {
            "type": "Feature",
            "id": row.feature_key,
            "geometry": orjson.Fragment(text) if text is not None else None,
            "properties": _select(row.properties if isinstance(row.properties, dict) else {}, selected),
            "links": [_link(f"{url}/{quote(row.feature_key, safe='')}", "self", GEOJSON, "this feature")],
        }
        for row, text in zip(rows, texts, strict=True)
    ]


def _select(properties: dict[str, Any], selected: list[str] | None) -> dict[str, Any]:
    if selected is None:
        return properties
    return {name: properties[name] for name in selected if name in properties}
