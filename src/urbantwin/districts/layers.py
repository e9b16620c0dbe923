"""What the district profiles read from the store: the districts, the layers counted in them (found by
keywords, `Settings.district_layers`), the stops of imported GTFS feeds with their departures.

Everything is read with SQLAlchemy Core on the store's tables (the same statements on SQLite and
PostgreSQL); the geometry arrives as WKB and is worked on with shapely in the city's metric CRS
(`metric_crs`): areas in m², distances in metres. What the caller may not read is never read: each
collection is checked against the caller's `DatasetScope` first, and one left out is named (by its
kind, not its id) in `left_out`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import numpy as np
import shapely
from pyproj import CRS, Transformer
from pyproj.aoi import AreaOfInterest
from pyproj.database import query_utm_crs_info
from sqlalchemy import Connection, func, select

from urbantwin.access.policy import DatasetScope
from urbantwin.city_profile import CityProfile, Districts
from urbantwin.errors import BadRequest, NotFound
from urbantwin.store.features_schema import collections, features
from urbantwin.store.transit_schema import (
    transit_feeds,
    transit_routes,
    transit_service_days,
    transit_stop_departures,
)

#: The kinds of layer a profile counts, in the order they are shown.
KINDS = ("buildings", "trees", "charging", "wlan", "stops")
#: Most features one layer may bring into a profile (a large city's buildings: some hundred thousand).
MAX_LAYER_FEATURES = 2_000_000
#: Most districts of one collection.
MAX_DISTRICTS = 5_000
#: The ARE method's day window: departures between 06:00 and 20:00 of a weekday.
DAY_START_HOUR, DAY_END_HOUR = 6, 20


@dataclass(frozen=True)
class Rule:
    """Which collections count as one kind: every keyword of `all_of`, none of `none_of`."""

    kind: str
    all_of: tuple[str, ...]
    none_of: tuple[str, ...] = ()

    def matches(self, keywords: Iterable[Any]) -> bool:
        have = {str(k).casefold() for k in keywords or ()}
        return all(k.casefold() in have for k in self.all_of) and not any(
            k.casefold() in have for k in self.none_of
        )


def parse_rules(entries: Sequence[str]) -> dict[str, Rule]:
    """The rules of `Settings.district_layers` (`kind=keyword keyword !keyword`); a `BadRequest` naming
    the entry for a kind unknown or an entry without keywords."""
    rules: dict[str, Rule] = {}
    for entry in entries:
        kind, sep, words = entry.partition("=")
        kind = kind.strip()
        if not sep or kind not in KINDS:
            raise BadRequest(
                f"district_layers: {entry!r}; expected kind=keyword … with a kind of {', '.join(KINDS)}"
            )
        terms = words.split()
        positive = tuple(t for t in terms if not t.startswith("!"))
        negative = tuple(t[1:] for t in terms if t.startswith("!") and len(t) > 1)
        if not positive:
            raise BadRequest(f"district_layers: {entry!r} names no keyword a collection must have")
        rules[kind] = Rule(kind, positive, negative)
    return rules


def metric_crs(profile: CityProfile, lon: float, lat: float) -> CRS:
    """The CRS areas and distances are computed in: the city's first CRS when it is projected in
    metres (its data officers' own), else the UTM zone of the point (WGS 84 datum), else (near the
    poles) EASE-Grid 2.0's equal-area projection."""
    for code in profile.crs:
        crs = CRS.from_user_input(code)
        if crs.is_projected and all(axis.unit_name in ("metre", "meter") for axis in crs.axis_info):
            return crs
    zones = query_utm_crs_info(datum_name="WGS 84", area_of_interest=AreaOfInterest(lon, lat, lon, lat))
    if not zones:  # beyond the UTM zones (near the poles): the world's equal-area grid
        return CRS.from_epsg(6933)
    return CRS.from_epsg(int(zones[0].code))


@dataclass
class Projector:
    """WGS 84 geometries to the metric CRS, as arrays (vectorised: pyproj over every coordinate)."""

    crs: CRS
    _transformer: Transformer = field(init=False)

    def __post_init__(self) -> None:
        self._transformer = Transformer.from_crs("EPSG:4326", self.crs, always_xy=True)

    def __call__(self, geometries: np.ndarray) -> np.ndarray:
        def transform(coords: np.ndarray) -> np.ndarray:
            x, y = self._transformer.transform(coords[:, 0], coords[:, 1])
            return np.column_stack([x, y])

        return shapely.transform(geometries, transform)


@dataclass(frozen=True)
class Collection:
    id: str
    title: str
    dataset_id: str | None
    keywords: tuple[str, ...]
    updated: datetime
    version: int


@dataclass
class Layer:
    """The features of one kind, from every collection of that kind the caller may read."""

    kind: str
    collections: list[Collection]
    #: Representative points (metric CRS), one per feature.
    points: np.ndarray
    #: The geometries (metric CRS): kept for buildings only (footprints), else None.
    shapes: np.ndarray | None = None
    #: Per feature: its height column (m) and its storeys (NaN: not known).
    heights: np.ndarray | None = None
    levels: np.ndarray | None = None
    #: Per feature: whether its height is an import's estimate (`height_estimated`, ingest/heights.py).
    estimated: np.ndarray | None = None
    #: Per feature: whether it may house residents (buildings only).
    residential: np.ndarray | None = None
    #: Per feature: the start and end of its validity (POSIX seconds; NaN: open), the store's
    #: `valid_from`/`valid_to` (a building's construction and demolition, a charging point's
    #: commissioning).
    valid_from: np.ndarray | None = None
    valid_to: np.ndarray | None = None

    @property
    def historic(self) -> bool:
        """Whether any of its features has a validity: the layer can say what existed at a time."""
        return any(a is not None and bool(np.isfinite(a).any()) for a in (self.valid_from, self.valid_to))

    def at(self, instant: float | None) -> Layer:
        """The features valid at `instant` (POSIX seconds; None: every feature): begun before it and
        not ended by it; a feature without a validity counts at every time."""
        if instant is None or not len(self.points) or not self.historic:
            return self
        assert self.valid_from is not None and self.valid_to is not None
        keep = ~(self.valid_from >= instant) & ~(self.valid_to <= instant)
        if keep.all():
            return self

        def cut(values: np.ndarray | None) -> np.ndarray | None:
            return None if values is None else values[keep]

        return Layer(
            self.kind,
            self.collections,
            self.points[keep],
            cut(self.shapes),
            cut(self.heights),
            cut(self.levels),
            cut(self.estimated),
            cut(self.residential),
            cut(self.valid_from),
            cut(self.valid_to),
        )

    @property
    def updated(self) -> str | None:
        if not self.collections:
            return None
        return max(c.updated for c in self.collections).isoformat().replace("+00:00", "Z")


@dataclass
class DistrictSet:
    """A district collection's districts in the metric CRS."""

    spec: Districts
    collection: Collection
    keys: list[str]
    names: list[Any]
    properties: list[dict[str, Any]]
    #: WGS 84 geometries (for the GeoJSON export) and metric ones (for areas and joins).
    geometries: np.ndarray
    shapes: np.ndarray
    projector: Projector

    def index(self, key: str) -> int:
        try:
            return self.keys.index(key)
        except ValueError:
            raise NotFound(f"no district {key!r} in {self.collection.id!r}") from None


def _collection(row: Any) -> Collection:
    return Collection(
        row.id, row.title, row.dataset_id, tuple(row.keywords or ()), row.updated, int(row.version or 0)
    )


def all_collections(connection: Connection) -> list[Collection]:
    rows = connection.execute(
        select(
            collections.c.id,
            collections.c.title,
            collections.c.dataset_id,
            collections.c.keywords,
            collections.c.updated,
            collections.c.version,
        ).order_by(collections.c.id)
    ).all()
    return [_collection(row) for row in rows]


def read_districts(
    connection: Connection, profile: CityProfile, collection_id: str, scope: DatasetScope
) -> DistrictSet:
    """The districts of a collection the city profile names; 404 for another or an unreadable one."""
    spec = profile.districts_of(collection_id)
    row = connection.execute(
        select(
            collections.c.id,
            collections.c.title,
            collections.c.dataset_id,
            collections.c.keywords,
            collections.c.updated,
            collections.c.version,
        ).where(collections.c.id == collection_id)
    ).first()
    if spec is None or row is None or not scope.allows(row.dataset_id):
        known = ", ".join(d.collection for d in profile.districts) or "none"
        raise NotFound(f"no district collection {collection_id!r} (the city profile names: {known})")
    rows = connection.execute(
        select(features.c.feature_key, features.c.properties, features.c.geom)
        .where(features.c.collection_id == collection_id, features.c.geom.isnot(None))
        .order_by(features.c.feature_key)
        .limit(MAX_DISTRICTS + 1)
    ).all()
    if len(rows) > MAX_DISTRICTS:
        raise BadRequest(f"{collection_id!r} has more than {MAX_DISTRICTS} districts")
    geometries = shapely.from_wkb([r.geom for r in rows]) if rows else np.array([], dtype=object)
    if len(geometries):
        west, south, east, north = shapely.total_bounds(geometries)
        crs = metric_crs(profile, (west + east) / 2, (south + north) / 2)
    else:
        crs = metric_crs(profile, *(profile.site_point() or (0.0, 0.0))[:2])
    projector = Projector(crs)
    shapes = projector(geometries) if len(geometries) else geometries
    if len(shapes):
        # a district drawn with a self-touching ring still has an area; the joins need it valid
        broken = ~shapely.is_valid(shapes)
        shapes[broken] = shapely.make_valid(shapes[broken])
    properties = [r.properties if isinstance(r.properties, dict) else {} for r in rows]
    return DistrictSet(
        spec,
        _collection(row),
        [r.feature_key for r in rows],
        [p.get(spec.name_property) for p in properties],
        properties,
        geometries,
        shapes,
        projector,
    )


def matching(collections_: Sequence[Collection], rule: Rule | None, exclude: set[str]) -> list[Collection]:
    if rule is None:
        return []
    return [c for c in collections_ if c.id not in exclude and rule.matches(c.keywords)]


def _number(value: Any) -> float:
    """A count from a property such as 4, "4", "4.5" or "3;4" (the first); NaN if there is none."""
    if isinstance(value, bool) or value is None:
        return np.nan
    if isinstance(value, int | float):
        return float(value)
    text = str(value).strip().split(";")[0].replace(",", ".")
    try:
        return float(text)
    except ValueError:
        return np.nan


#: Values of the `building` property (OpenStreetMap's vocabulary, which most cities' building data
#: follow or can be mapped to) of buildings where nobody lives. Every other building — `residential`,
#: `apartments`, `house`, and the unspecific `yes` — may house residents.
NOT_RESIDENTIAL = frozenset(
    {
        "garage",
        "garages",
        "carport",
        "shed",
        "hut",
        "roof",
        "service",
        "industrial",
        "commercial",
        "retail",
        "office",
        "warehouse",
        "supermarket",
        "kiosk",
        "church",
        "chapel",
        "cathedral",
        "mosque",
        "synagogue",
        "temple",
        "religious",
        "shrine",
        "school",
        "university",
        "college",
        "kindergarten",
        "hospital",
        "public",
        "civic",
        "government",
        "fire_station",
        "train_station",
        "transportation",
        "hangar",
        "barn",
        "stable",
        "farm_auxiliary",
        "greenhouse",
        "parking",
        "sports_hall",
        "sports_centre",
        "stadium",
        "grandstand",
        "pavilion",
        "toilets",
        "bunker",
        "construction",
        "ruins",
        "transformer_tower",
        "water_tower",
        "power",
        "substation",
        "silo",
        "storage_tank",
        "tank",
        "bridge",
        "tent",
        "container",
        "manufacture",
        "factory",
    }
)


def _seconds(stamp: datetime | None) -> float:
    return np.nan if stamp is None else stamp.timestamp()


def read_layer(connection: Connection, kind: str, sources: list[Collection], projector: Projector) -> Layer:
    """Every feature with a geometry of the collections, as points (and footprints, for buildings)."""
    buildings = kind == "buildings"
    columns = [features.c.geom, features.c.valid_from, features.c.valid_to]
    if buildings:
        columns += [features.c.height, features.c.properties]
    rows = (
        connection.execute(
            select(*columns)
            .where(
                features.c.collection_id.in_([c.id for c in sources]),
                features.c.geom.isnot(None),
            )
            .limit(MAX_LAYER_FEATURES + 1)
        ).all()
        if sources
        else []
    )
    if len(rows) > MAX_LAYER_FEATURES:
        raise BadRequest(f"{kind}: more than {MAX_LAYER_FEATURES} features; the profiles cannot count them")
    geometries = shapely.from_wkb([r.geom for r in rows]) if rows else np.array([], dtype=object)
    shapes = projector(geometries) if len(geometries) else geometries
    points = shapely.point_on_surface(shapes) if len(shapes) else shapes
    layer = Layer(kind, sources, points)
    layer.valid_from = np.array([_seconds(r.valid_from) for r in rows], dtype=float)
    layer.valid_to = np.array([_seconds(r.valid_to) for r in rows], dtype=float)
    if buildings:
        layer.shapes = shapes
        layer.heights = np.array([np.nan if r.height is None else r.height for r in rows], dtype=float)
        props = [r.properties if isinstance(r.properties, dict) else {} for r in rows]
        levels = np.array([_number(p.get("levels", p.get("building:levels"))) for p in props], dtype=float)
        levels[~(levels > 0)] = np.nan
        layer.levels = levels
        layer.estimated = np.array([p.get("height_estimated") is True for p in props], dtype=bool)
        layer.residential = np.array(
            [str(p.get("building", "yes")).casefold() not in NOT_RESIDENTIAL for p in props], dtype=bool
        )
    return layer


def is_stop_place(properties: Any) -> bool:
    """A GTFS stop that is a place to board: a station (location_type 1), or a stop (0) that belongs
    to no station — so a station with ten platforms counts once (entrances and nodes do not)."""
    if not isinstance(properties, dict):
        return True
    kind = properties.get("location_type") or 0
    return kind == 1 or (kind == 0 and not properties.get("parent_station"))


@dataclass(frozen=True)
class Feed:
    id: str
    title: str
    stops_collection: Collection
    typical_weekday: date | None
    imported: datetime
    #: The first and last day of service of its timetable (None: not known).
    first_day: date | None = None
    last_day: date | None = None


def feed_stop_collections(connection: Connection) -> set[str]:
    """The stops collections of every imported GTFS feed (counted as feeds, never by keyword)."""
    return {f"{feed_id}-stops" for feed_id in connection.execute(select(transit_feeds.c.id)).scalars()}


def readable_feeds(
    connection: Connection, collections_: Sequence[Collection], scope: DatasetScope
) -> tuple[list[Feed], int]:
    """The imported GTFS feeds whose stops the caller may read (and how many are left out)."""
    by_id = {c.id: c for c in collections_}
    feeds, hidden = [], 0
    for row in connection.execute(select(transit_feeds).order_by(transit_feeds.c.id)):
        stops = by_id.get(f"{row.id}-stops")
        if stops is None:
            continue
        if not scope.allows(stops.dataset_id):
            hidden += 1
            continue
        summary = row.summary or {}
        typical, first, last = (summary.get(k) for k in ("typical_weekday", "first_day", "last_day"))
        feeds.append(
            Feed(
                row.id,
                row.title or row.id,
                stops,
                date.fromisoformat(typical) if typical else None,
                row.imported,
                date.fromisoformat(first) if first else None,
                date.fromisoformat(last) if last else None,
            )
        )
    return feeds, hidden


@dataclass
class Stops:
    """The boarding places of the feeds (stations, and stops outside any station) with their
    departures on the feed's typical weekday between 06:00 and 20:00, per mode group."""

    #: Feed and stop id per place, its point (metric CRS).
    feed: list[str]
    stop_id: list[str]
    points: np.ndarray
    #: Departures 06:00–20:00 per place, in all and per mode (columns: `modes`).
    departures: np.ndarray
    by_mode: np.ndarray
    modes: list[str]

    def of(self, feeds: Sequence[Feed]) -> Stops:
        """The places of the given feeds only."""
        ids = {f.id for f in feeds}
        keep = np.array([f in ids for f in self.feed], dtype=bool)
        if keep.all():
            return self
        return Stops(
            [f for f, k in zip(self.feed, keep, strict=True) if k],
            [s for s, k in zip(self.stop_id, keep, strict=True) if k],
            self.points[keep],
            self.departures[keep],
            self.by_mode[keep],
            self.modes,
        )


def read_stops(connection: Connection, feeds: Sequence[Feed], projector: Projector) -> Stops:
    """The boarding places of every feed with their weekday departures 06:00–20:00."""
    place_feed: list[str] = []
    place_id: list[str] = []
    points: list[Any] = []
    counts: dict[tuple[str, str], dict[str, int]] = {}
    modes: set[str] = set()
    for feed in feeds:
        rows = connection.execute(
            select(features.c.feature_key, features.c.properties, features.c.geom).where(
                features.c.collection_id == feed.stops_collection.id, features.c.geom.isnot(None)
            )
        ).all()
        for row in rows:
            if not is_stop_place(row.properties):
                continue
            place_feed.append(feed.id)
            place_id.append(row.feature_key)
            points.append(row.geom)
        if feed.typical_weekday is None:
            continue
        # the lines' modes apart (a small table), so the sum over the departures needs no join,
        # which a planner without statistics of freshly imported tables may run row by row
        mode_of = dict(
            connection.execute(
                select(transit_routes.c.route_id, transit_routes.c.mode).where(
                    transit_routes.c.feed_id == feed.id
                )
            ).all()
        )
        d = transit_stop_departures
        # the services running that day apart too (a few dozen ids): as a subquery, PostgreSQL without
        # statistics of a fresh import probed the service days once per departure row (5 s of the
        # demo's 5.4 s under load; bench/README.md)
        running = list(
            connection.execute(
                select(transit_service_days.c.service_id).where(
                    transit_service_days.c.feed_id == feed.id,
                    transit_service_days.c.day == feed.typical_weekday,
                )
            ).scalars()
        )
        if not running:
            continue
        # 'NaN': how imports before the fix of gtfs_import stored "no station" on PostgreSQL
        place = func.coalesce(func.nullif(d.c.station_id, "NaN"), d.c.stop_id)
        for row in connection.execute(
            select(place.label("place"), d.c.route_id, func.sum(d.c.departures).label("n"))
            .where(
                d.c.feed_id == feed.id,
                d.c.service_id.in_(running),
                d.c.hour >= DAY_START_HOUR,
                d.c.hour < DAY_END_HOUR,
            )
            .group_by(place, d.c.route_id)
        ):
            mode = mode_of.get(row.route_id, "other")
            modes.add(mode)
            per = counts.setdefault((feed.id, row.place), {})
            per[mode] = per.get(mode, 0) + int(row.n or 0)
    mode_list = sorted(modes)
    by_mode = np.zeros((len(place_id), len(mode_list)), dtype=float)
    column = {m: i for i, m in enumerate(mode_list)}
    for n, key in enumerate(zip(place_feed, place_id, strict=True)):
        for mode, value in counts.get(key, {}).items():
            by_mode[n, column[mode]] = value
    geometries = shapely.from_wkb(points) if points else np.array([], dtype=object)
    projected = projector(geometries) if len(geometries) else geometries
    return Stops(
        place_feed,
        place_id,
        shapely.point_on_surface(projected) if len(projected) else projected,
        by_mode.sum(axis=1),
        by_mode,
        mode_list,
    )
