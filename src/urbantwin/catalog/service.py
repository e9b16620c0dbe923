"""The catalogue's records: which datasets a principal may see, search, facets, paging, and what each
dataset holds (its feature collections and SensorThings entities, their time and space).

The service takes a `DatasetScope` (decided by access/, never here) and returns plain records; it
knows nothing of HTTP or RDF (routes.py and dcat.py do). Errors a client can cause raise
`BadRequest`/`NotFound`.

Search and facets run in Python over the visible dataset rows, not in SQL: the datasets table holds
one row per dataset (the access policy reads it whole on every request for the same reason), a
facet count must apply every filter but its own (one pass here, one query per facet in SQL), and
themes and keywords are JSON lists whose matching differs per backend. What grows with the data —
observations, features, locations — is only read for the datasets of the page being shown, through
indexes.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

import shapely
from sqlalchemy import Connection, Engine, and_, case, func, select, union
from sqlalchemy.sql import ColumnElement

from urbantwin.access.gate import Access, Caller
from urbantwin.access.policy import DatasetScope
from urbantwin.catalog import vocabulary as vocab
from urbantwin.errors import BadRequest, NotFound
from urbantwin.settings import Settings
from urbantwin.store import schema
from urbantwin.store.access_schema import ACCESS_LEVELS, datasets, organisation_kind, organisations
from urbantwin.store.extents import ExtentCache
from urbantwin.store.features_schema import collections, features
from urbantwin.store.federation_schema import harvested_records as harvested_records_table
from urbantwin.store.federation_schema import remotes

DEFAULT_LIMIT, MAX_LIMIT = 50, 1000
#: Datastreams listed one by one as distributions of a dataset. Each gets a standard STA URL of its
#: own Observations, which is the only way to address a dataset's part of the SensorThings API
#: without a non-standard filter; beyond this many, a list of distributions stops helping a reader
#: or a harvester (GovData shows each as a resource), and one distribution points at the service.
MAX_LISTED_DATASTREAMS = 50
#: The facets, by query parameter.
FACETS = ("theme", "publisher", "licence", "format", "access_level", "source")
#: The `source` facet's value of the platform's own datasets (a harvested record's is its partner's name).
LOCAL_SOURCE = "local"
#: Query parameters of the catalogue.
PARAMETERS = ("q", "limit", "offset", "f", *FACETS)
#: Formats a dataset's members are offered in: feature collections as GeoJSON, HTML and vector
#: tiles, SensorThings entities as JSON.
COLLECTION_FORMATS = ("GEOJSON", "HTML", "MVT")
SENSORTHINGS_FORMATS = ("JSON",)
#: Languages of the catalogue's metadata (EU language codes): the platform is German, its
#: interface English.
CATALOG_LANGUAGES = ("DEU", "ENG")
#: SensorThings tables whose rows carry the dataset they belong to.
_STA_TABLES = (
    schema.things,
    schema.locations,
    schema.sensors,
    schema.observed_properties,
    schema.datastreams,
    schema.features_of_interest,
)

Bbox = tuple[float, float, float, float]


@dataclass(frozen=True)
class Organisation:
    id: str
    title: str
    kind: str
    homepage: str | None = None
    email: str | None = None


@dataclass(frozen=True)
class CollectionMember:
    """A feature collection of a dataset, with what its distributions need."""

    id: str
    title: str
    description: str
    attribution: str | None
    extent_bbox: Bbox | None
    updated: datetime
    version: int


@dataclass(frozen=True)
class DatastreamMember:
    id: int
    name: str


@dataclass(frozen=True)
class DatasetRecord:
    """One dataset as the catalogue shows it.

    The fields after `collections` describe the members: `has_sensorthings` and `datastream_count`
    are known for every visible dataset (the facets need them); `datastreams`, `start`, `end` and
    `bbox` only for a record that is shown (see `CatalogService.details`).
    """

    id: str
    title: str
    description: str
    publisher: Organisation | None
    contact_name: str | None
    contact_email: str | None
    themes: tuple[str, ...]
    keywords: tuple[str, ...]
    licence: str
    access_level: str
    update_frequency: str
    extra: dict[str, Any]
    created: datetime
    modified: datetime
    collections: tuple[CollectionMember, ...] = ()
    has_sensorthings: bool = False
    datastream_count: int = 0
    datastreams: tuple[DatastreamMember, ...] = ()
    start: datetime | None = None
    end: datetime | None = None
    bbox: Bbox | None = None
    #: Whose catalogue the record is from: LOCAL_SOURCE, or the name of the partner it was harvested
    #: from (`urbantwin.federation`); a harvested record's `origin` is its IRI at the partner.
    source: str = LOCAL_SOURCE
    origin: str | None = None

    @property
    def formats(self) -> tuple[str, ...]:
        """The format codes (vocabulary.FORMATS) the dataset's distributions are offered in."""
        return (COLLECTION_FORMATS if self.collections else ()) + (
            SENSORTHINGS_FORMATS if self.has_sensorthings else ()
        )

    def facet_values(self, facet: str) -> tuple[str, ...]:
        if facet == "theme":
            return self.themes
        if facet == "publisher":
            return (self.publisher.id,) if self.publisher else ()
        if facet == "licence":
            return (self.licence,)
        if facet == "format":
            return self.formats
        if facet == "access_level":
            return (self.access_level,)
        if facet == "source":
            return (self.source,)
        raise ValueError(facet)


@dataclass(frozen=True)
class CatalogInfo:
    """The catalogue itself: who runs it, and when what it shows was issued and last changed."""

    title: str
    description: str
    publisher: Organisation
    issued: datetime | None
    modified: datetime | None
    languages: tuple[str, ...] = CATALOG_LANGUAGES


@dataclass(frozen=True)
class CatalogQuery:
    """A search: free text, facet filters (values of one facet OR-ed, facets AND-ed), a page."""

    q: str = ""
    filters: tuple[tuple[str, frozenset[str]], ...] = ()
    limit: int = DEFAULT_LIMIT
    offset: int = 0

    @classmethod
    def parse(cls, params: Sequence[tuple[str, str]]) -> CatalogQuery:
        """A query from request parameters; a facet may be given several times."""
        unknown = sorted({name for name, _ in params if name not in PARAMETERS})
        if unknown:
            raise BadRequest(f"unknown parameter {unknown[0]!r}; the catalogue takes {', '.join(PARAMETERS)}")
        values: dict[str, list[str]] = {}
        for name, value in params:
            values.setdefault(name, []).append(value)
        for name in ("q", "limit", "offset", "f"):
            if len(values.get(name, ())) > 1:
                raise BadRequest(f"{name}: given more than once")
        filters = []
        for facet in FACETS:
            chosen = frozenset(v.strip() for v in values.get(facet, ()) if v.strip())
            allowed = _closed_facet_values(facet)
            bad = sorted(chosen - allowed) if allowed else []
            if bad:
                raise BadRequest(
                    f"{facet}: unknown value {bad[0]!r}; use one of {', '.join(sorted(allowed))}"
                )
            if chosen:
                filters.append((facet, chosen))
        return cls(
            q=values.get("q", [""])[0].strip(),
            filters=tuple(filters),
            limit=_integer(values.get("limit", [None])[0], "limit", DEFAULT_LIMIT, 1, MAX_LIMIT),
            offset=_integer(values.get("offset", [None])[0], "offset", 0, 0, None),
        )

    def chosen(self, facet: str) -> frozenset[str]:
        return next((values for name, values in self.filters if name == facet), frozenset())

    def matches(self, record: DatasetRecord, *, except_facet: str | None = None) -> bool:
        """Whether `record` matches the text and every filter (but that of `except_facet`)."""
        for facet, chosen in self.filters:
            if facet != except_facet and not chosen.intersection(record.facet_values(facet)):
                return False
        return _matches_text(record, self.q)

    def with_changes(self, **changes: Any) -> CatalogQuery:
        return replace(self, **changes)

    def toggled(self, facet: str, value: str) -> CatalogQuery:
        """This query with `value` of `facet` chosen, or unchosen if it was (for facet links)."""
        chosen = self.chosen(facet) ^ {value}
        filters = tuple((name, values) for name, values in self.filters if name != facet)
        if chosen:
            filters = tuple(sorted((*filters, (facet, frozenset(chosen))), key=lambda f: FACETS.index(f[0])))
        return replace(self, filters=filters, offset=0)

    def params(self) -> list[tuple[str, str]]:
        """The query as request parameters (for links); defaults are left out."""
        out: list[tuple[str, str]] = [("q", self.q)] if self.q else []
        for facet, values in self.filters:
            out.extend((facet, value) for value in sorted(values))
        if self.limit != DEFAULT_LIMIT:
            out.append(("limit", str(self.limit)))
        if self.offset:
            out.append(("offset", str(self.offset)))
        return out


@dataclass(frozen=True)
class FacetValue:
    value: str
    label: str
    count: int
    chosen: bool = False


@dataclass(frozen=True)
class CatalogPage:
    info: CatalogInfo
    query: CatalogQuery
    datasets: list[DatasetRecord]
    matched: int
    facets: dict[str, list[FacetValue]] = field(default_factory=dict)

    @property
    def next_offset(self) -> int | None:
        following = self.query.offset + self.query.limit
        return following if following < self.matched else None

    @property
    def previous_offset(self) -> int | None:
        if self.query.offset <= 0:
            return None
        return max(0, self.query.offset - self.query.limit)


class CatalogService:
    def __init__(self, engine: Engine, settings: Settings, access: Access | None = None) -> None:
        self.engine = engine
        self.settings = settings
        #: Who may read which dataset, and the account of reads (`access/gate.py`).
        self.access = access or Access.of(engine, settings)
        # Validity range of each collection's features, keyed by the collection's version (bumped by
        # every write to its features): a scan of a collection's features runs once per change.
        self._validity: dict[str, tuple[int, tuple[datetime | None, datetime | None, bool]]] = {}
        self._validity_lock = threading.Lock()
        #: Extents of collections whose stored one is not right (after an import), per version.
        self._extents = ExtentCache()

    # --- what a principal sees --------------------------------------------------------------------

    def visible(self, scope: DatasetScope) -> list[DatasetRecord]:
        """Every dataset `scope` may read, with its members summarised, ordered by title."""
        with self.engine.connect() as connection:
            return self._records(connection, scope.allows_column, self._organisations(connection))

    def search(self, caller: Caller, query: CatalogQuery) -> CatalogPage:
        """One page of the datasets `caller` may read matching `query`, with facet counts over them
        that match the text and every other facet's filter."""
        scope = self.access.scope(caller)
        with self.engine.connect() as connection:
            orgs = self._organisations(connection)
            own = self._records(connection, scope.allows_column, orgs)
            harvested, sources = harvested_records(connection, scope)
            records = own + harvested
            matched = [record for record in records if query.matches(record)]
            shown = matched[query.offset : query.offset + query.limit]
            details = iter(self._details(connection, [r for r in shown if r.origin is None]))
            page = [record if record.origin is not None else next(details) for record in shown]
        info = self._info(own, orgs)
        sources[LOCAL_SOURCE] = info.publisher.title
        facets = {facet: self._facet(facet, records, query, orgs, sources) for facet in FACETS}
        return CatalogPage(info, query, page, len(matched), facets)

    def dataset(self, caller: Caller, dataset_id: str) -> tuple[CatalogInfo, DatasetRecord]:
        """One dataset with its details; NotFound when it does not exist or `caller` may not read it
        (the same answer, so ids of restricted datasets do not leak). The read is counted."""
        self.access.require_readable(caller, dataset_id, f"dataset {dataset_id!r}", "catalog")
        with self.engine.connect() as connection:
            orgs = self._organisations(connection)
            records = self._records(connection, lambda column: column == dataset_id, orgs)
            if not records:
                raise NotFound(f"no dataset {dataset_id!r}")
            (record,) = self._details(connection, records)
        # The catalogue around one record: who runs it (its dates would need every record).
        return self._info([], orgs), record

    # --- reading the store --------------------------------------------------------------------

    def _organisations(self, connection: Connection) -> dict[str, Organisation]:
        rows = connection.execute(select(organisations)).all()
        return {
            row.id: Organisation(
                row.id, row.title, organisation_kind(row.kind), row.homepage or None, row.email or None
            )
            for row in rows
        }

    def _records(
        self,
        connection: Connection,
        restrict: Callable[[Any], ColumnElement[bool] | None],
        orgs: dict[str, Organisation],
    ) -> list[DatasetRecord]:
        """The datasets whose id passes `restrict` (a condition on a dataset_id column, or None for
        all), with their collections and whether they have SensorThings entities."""
        rows = connection.execute(_restricted(select(datasets), restrict, datasets.c.id)).all()
        members: dict[str, list[CollectionMember]] = {}
        query = select(
            collections.c.id,
            collections.c.title,
            collections.c.description,
            collections.c.attribution,
            collections.c.extent_bbox,
            collections.c.extent_version,
            collections.c.updated,
            collections.c.version,
            collections.c.dataset_id,
        ).order_by(collections.c.id)
        found = [
            row._mapping for row in connection.execute(_restricted(query, restrict, collections.c.dataset_id))
        ]
        extents = self._extents.extents(connection, found)
        for row in found:
            members.setdefault(row["dataset_id"], []).append(
                CollectionMember(
                    row["id"],
                    row["title"],
                    row["description"] or "",
                    row["attribution"] or None,
                    extents[row["id"]],
                    row["updated"],
                    row["version"],
                )
            )
        sta = union(
            *(
                _restricted(select(table.c.dataset_id).distinct(), restrict, table.c.dataset_id)
                for table in _STA_TABLES
            )
        )
        with_sta = {row[0] for row in connection.execute(sta)}
        ds = schema.datastreams
        counts = dict(
            connection.execute(
                _restricted(
                    select(ds.c.dataset_id, func.count()).group_by(ds.c.dataset_id), restrict, ds.c.dataset_id
                )
            ).all()
        )
        records = [
            DatasetRecord(
                id=row.id,
                title=row.title,
                description=row.description or "",
                publisher=orgs.get(row.publisher_id) if row.publisher_id else None,
                contact_name=row.contact_name or None,
                contact_email=row.contact_email or None,
                themes=tuple(str(theme) for theme in row.themes or ()),
                keywords=tuple(str(keyword) for keyword in row.keywords or ()),
                licence=row.licence,
                access_level=row.access_level,
                update_frequency=row.update_frequency or "UNKNOWN",
                extra=dict(row.extra) if isinstance(row.extra, dict) else {},
                created=row.created,
                modified=row.modified,
                collections=tuple(members.get(row.id, ())),
                has_sensorthings=row.id in with_sta,
                datastream_count=int(counts.get(row.id, 0)),
            )
            for row in rows
        ]
        records.sort(key=lambda record: (record.title.casefold(), record.id))
        return records

    def _details(self, connection: Connection, records: list[DatasetRecord]) -> list[DatasetRecord]:
        """The records with their listed Datastreams and their temporal and spatial coverage."""
        ids = [record.id for record in records]
        if not ids:
            return []
        listed = self._listed_datastreams(connection, ids)
        times = self._observation_times(connection, ids)
        validity = self._feature_validity(connection, [c for r in records for c in r.collections])
        boxes = self._sensorthings_bboxes(connection, ids)
        out = []
        for record in records:
            starts: list[datetime] = []
            ends: list[datetime] = []
            open_ended = False
            if record.id in times:
                start, end = times[record.id]
                starts += [start] if start else []
                ends += [end] if end else []
            for collection in record.collections:
                valid_from, valid_to, still_valid = validity.get(collection.id, (None, None, False))
                starts += [valid_from] if valid_from else []
                ends += [valid_to] if valid_to else []
                open_ended = open_ended or still_valid
            bbox = _union(
                [c.extent_bbox for c in record.collections if c.extent_bbox] + boxes.get(record.id, [])
            )
            out.append(
                replace(
                    record,
                    datastreams=tuple(listed.get(record.id, ())),
                    start=min(starts) if starts else None,
                    # A feature valid from some time on and still valid leaves the period open.
                    end=max(ends) if ends and not open_ended else None,
                    bbox=bbox,
                )
            )
        return out

    def _listed_datastreams(
        self, connection: Connection, ids: list[str]
    ) -> dict[str, list[DatastreamMember]]:
        ds = schema.datastreams
        rank = func.row_number().over(partition_by=ds.c.dataset_id, order_by=ds.c.id).label("rank")
        ranked = select(ds.c.id, ds.c.name, ds.c.dataset_id, rank).where(ds.c.dataset_id.in_(ids)).subquery()
        query = (
            select(ranked.c.id, ranked.c.name, ranked.c.dataset_id)
            .where(ranked.c.rank <= MAX_LISTED_DATASTREAMS)
            .order_by(ranked.c.dataset_id, ranked.c.id)
        )
        listed: dict[str, list[DatastreamMember]] = {}
        for row in connection.execute(query):
            listed.setdefault(row.dataset_id, []).append(DatastreamMember(int(row.id), row.name))
        return listed

    def _observation_times(
        self, connection: Connection, ids: list[str]
    ) -> dict[str, tuple[datetime | None, datetime | None]]:
        """First and last phenomenon time of the datasets' Observations.

        Per Datastream, the first start and the last end are each one probe of an index of the
        observations table (`(datastream_id, phenomenon_time_start)` and `(datastream_id,
        coalesce(phenomenon_time_end, phenomenon_time_start))`), so this never scans observations.
        """
        ds = schema.datastreams
        obs = schema.observations.alias()
        first = (
            select(func.min(obs.c.phenomenon_time_start))
            .where(obs.c.datastream_id == ds.c.id)
            .scalar_subquery()
        )
        last = (
            select(func.max(func.coalesce(obs.c.phenomenon_time_end, obs.c.phenomenon_time_start)))
            .where(obs.c.datastream_id == ds.c.id)
            .scalar_subquery()
        )
        per_stream = (
            select(ds.c.dataset_id, first.label("first"), last.label("last"))
            .where(ds.c.dataset_id.in_(ids))
            .subquery()
        )
        query = select(
            per_stream.c.dataset_id, func.min(per_stream.c.first), func.max(per_stream.c.last)
        ).group_by(per_stream.c.dataset_id)
        return {row[0]: (row[1], row[2]) for row in connection.execute(query)}

    def _feature_validity(
        self, connection: Connection, members: Iterable[CollectionMember]
    ) -> dict[str, tuple[datetime | None, datetime | None, bool]]:
        """Per collection: earliest valid_from, latest valid_to, and whether a feature valid from a
        time on has no end. Cached per collection version, so a scan runs once per change."""
        result: dict[str, tuple[datetime | None, datetime | None, bool]] = {}
        stale: dict[str, int] = {}
        with self._validity_lock:
            for member in members:
                cached = self._validity.get(member.id)
                if cached is not None and cached[0] == member.version:
                    result[member.id] = cached[1]
                else:
                    stale[member.id] = member.version
        if not stale:
            return result
        open_ended = func.sum(
            case((and_(features.c.valid_from.is_not(None), features.c.valid_to.is_(None)), 1), else_=0)
        )
        query = (
            select(
                features.c.collection_id,
                func.min(features.c.valid_from),
                func.max(features.c.valid_to),
                open_ended,
            )
            .where(features.c.collection_id.in_(sorted(stale)))
            .group_by(features.c.collection_id)
        )
        found = {row[0]: (row[1], row[2], bool(row[3])) for row in connection.execute(query)}
        with self._validity_lock:
            for collection_id, version in stale.items():
                value = found.get(collection_id, (None, None, False))
                self._validity[collection_id] = (version, value)
                result[collection_id] = value
        return result

    def _sensorthings_bboxes(self, connection: Connection, ids: list[str]) -> dict[str, list[Bbox]]:
        """The bounding box of each dataset's Locations and FeaturesOfInterest.

        The geometries are read and bounded here with shapely, since store/ offers no portable
        bounding-box aggregate yet (ST_Extent on PostGIS, the R-tree on SQLite); datasets hold few
        Locations next to their many Observations, so this stays small.
        """
        boxes: dict[str, list[Bbox]] = {}
        for table in (schema.locations, schema.features_of_interest):
            query = select(table.c.dataset_id, table.c.geom).where(
                table.c.dataset_id.in_(ids), table.c.geom.is_not(None)
            )
            by_dataset: dict[str, list[bytes]] = {}
            for dataset_id, wkb in connection.execute(query):
                by_dataset.setdefault(dataset_id, []).append(bytes(wkb))
            for dataset_id, wkbs in by_dataset.items():
                geometries = shapely.from_wkb(wkbs)
                minx, miny, maxx, maxy = (float(v) for v in shapely.total_bounds(geometries))
                if all(v == v for v in (minx, miny, maxx, maxy)):  # NaN for empty geometries
                    boxes.setdefault(dataset_id, []).append((minx, miny, maxx, maxy))
        return boxes

    # --- the catalogue and its facets -------------------------------------------------------------

    def _info(self, records: list[DatasetRecord], orgs: dict[str, Organisation]) -> CatalogInfo:
        settings = self.settings
        publisher = orgs.get(settings.default_publisher) or Organisation(
            settings.default_publisher, settings.default_publisher_title, "local-authority"
        )
        return CatalogInfo(
            title=f"Data catalogue of {publisher.title}",
            description=(
                "Every dataset of the urban data platform: sensor data (OGC SensorThings API 1.1) and "
                "city objects (OGC API - Features and Tiles), described in DCAT-AP.de."
            ),
            publisher=publisher,
            issued=min((record.created for record in records), default=None),
            modified=max((record.modified for record in records), default=None),
        )

    def _facet(
        self,
        facet: str,
        records: list[DatasetRecord],
        query: CatalogQuery,
        orgs: dict[str, Organisation],
        sources: dict[str, str] | None = None,
    ) -> list[FacetValue]:
        counts: Counter[str] = Counter()
        for record in records:
            if query.matches(record, except_facet=facet):
                counts.update(set(record.facet_values(facet)))
        chosen = query.chosen(facet)
        for value in chosen:
            counts.setdefault(value, 0)
        values = [
            FacetValue(value, facet_label(facet, value, orgs, sources), count, value in chosen)
            for value, count in counts.items()
        ]
        values.sort(key=lambda v: (-v.count, v.label.casefold(), v.value))
        return values


def facet_label(
    facet: str, value: str, orgs: dict[str, Organisation] | None = None, sources: dict[str, str] | None = None
) -> str:
    """What a facet value is called in the HTML view and the JSON facets."""
    if facet == "source":
        return (sources or {}).get(value, value)
    if facet == "theme":
        return vocab.THEMES.get(value, value)
    if facet == "publisher":
        org = (orgs or {}).get(value)
        return org.title if org else value
    if facet == "licence":
        return vocab.licence_label(value)
    if facet == "format":
        return vocab.FORMATS[value][2] if value in vocab.FORMATS else value
    if facet == "access_level":
        return vocab.ACCESS_LEVEL_LABELS.get(value, value)
    return value


def harvested_records(
    connection: Connection, scope: DatasetScope
) -> tuple[list[DatasetRecord], dict[str, str]]:
    """The records harvested from partners' catalogues (`urbantwin.federation`) that `scope` may
    read — those of partners whose local dataset it may read — as records pointing back to their
    IRI, ordered by title; and the partners' titles by name (the `source` facet's labels)."""
    query = (
        select(
            harvested_records_table,
            remotes.c.title.label("remote_title"),
            remotes.c.attribution,
            remotes.c.licence.label("remote_licence"),
            datasets.c.access_level,
        )
        .join(remotes, remotes.c.name == harvested_records_table.c.remote)
        .join(datasets, datasets.c.id == remotes.c.dataset_id)
    )
    rows = connection.execute(_restricted(query, scope.allows_column, remotes.c.dataset_id)).all()
    records = []
    sources: dict[str, str] = {}
    for row in rows:
        sources[row.remote] = row.remote_title
        details = row.details or {}
        publisher = details.get("publisher") or row.attribution
        records.append(
            DatasetRecord(
                id=f"{row.remote}:{row.id}",
                title=row.title,
                description=row.description,
                publisher=Organisation(f"remote-{row.remote}-{row.id}", publisher, "other"),
                contact_name=None,
                contact_email=None,
                themes=tuple(str(t).rsplit("/", 1)[-1] for t in details.get("themes") or ()),
                keywords=tuple(str(k) for k in details.get("keywords") or ()),
                licence=details.get("licence") or row.remote_licence,
                access_level=row.access_level,
                update_frequency="UNKNOWN",
                extra={"landing_page": details.get("landing_page") or row.iri},
                created=row.harvested,
                modified=row.harvested,
                source=row.remote,
                origin=row.iri,
            )
        )
    records.sort(key=lambda r: (r.title.casefold(), r.id))
    return records, sources


def _closed_facet_values(facet: str) -> frozenset[str]:
    """The values a facet can take when they form a closed set (else empty: anything goes)."""
    if facet == "access_level":
        return frozenset(ACCESS_LEVELS)
    if facet == "format":
        return frozenset(vocab.FORMATS)
    return frozenset()


def _restricted(query: Any, restrict: Callable[[Any], ColumnElement[bool] | None], column: Any) -> Any:
    condition = restrict(column)
    return query if condition is None else query.where(condition)


def _integer(raw: str | None, name: str, default: int, least: int, most: int | None) -> int:
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadRequest(f"{name}: {raw!r} is not an integer") from None
    if value < least or (most is not None and value > most):
        bounds = f"{least}..{most}" if most is not None else f"at least {least}"
        raise BadRequest(f"{name}: {value} is out of range ({bounds})")
    return value


def _matches_text(record: DatasetRecord, q: str) -> bool:
    """Whether every word of `q` occurs, case-insensitively, in the title, description or keywords."""
    if not q:
        return True
    haystack = "\n".join((record.title, record.description, *record.keywords)).casefold()
    return all(word in haystack for word in q.casefold().split())


def _union(boxes: list[Bbox]) -> Bbox | None:
    if not boxes:
        return None
    return (
        min(b[0] for b in boxes),
        min(b[1] for b in boxes),
        max(b[2] for b in boxes),
        max(b[3] for b in boxes),
    )
