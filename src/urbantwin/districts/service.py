"""District profiles and public-transport access per district, computed from the store (docs/districts.md).

For every district collection the city profile names: residents per year and their trend, density
(area in the city's metric CRS), buildings with their built-over and floor area, street trees,
EV charging points, WLAN sites and stops counted inside each district (the layers found by their
keywords, `Settings.district_layers`), departures per hour from the imported GTFS feeds, and the
sensor means of `timeseries/districts.py`. Each figure says which collections it counts, when their
data last changed (`updated`) and how much of the district they cover (the share of its area inside
the convex hull of the layer's features: a layer of street trees from five districts says so rather
than counting zero trees elsewhere).

Everything the caller may not read is left out and the answer says so (`notes`); the figures of the
rest are counted as usual. Knows no HTTP (routes.py binds it).

Floor area: each building's footprint (m², metric CRS) × its storeys — its `levels` (or OSM
`building:levels`) where given, else its height ÷ 3 m rounded (at least one); buildings with
neither count in the built-over area and in `floor_area_unknown`, not in the floor area. A height
that an import estimated (`height_estimated`) counts, and `floor_area_estimated` says for how many
buildings the floor area rests on such an estimate.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import shapely
from sqlalchemy import Engine, select

from urbantwin.access.gate import Access, Caller
from urbantwin.access.policy import DatasetScope
from urbantwin.access.principal import ANONYMOUS
from urbantwin.city_profile import NO_CITY, CityProfile
from urbantwin.districts import texts
from urbantwin.districts.access import (
    CLASS_NAMES,
    DETOUR_FACTOR,
    RADII,
    ROMAN,
    WINDOW_HOURS,
    Residents,
    access_figures,
    place_residents,
    stop_categories,
    storeys,
)
from urbantwin.districts.asof import AsOf, instant, parse_year, series_years
from urbantwin.districts.layers import (
    KINDS,
    Collection,
    DistrictSet,
    Feed,
    Layer,
    Stops,
    all_collections,
    feed_stop_collections,
    matching,
    parse_rules,
    read_districts,
    read_layer,
    read_stops,
    readable_feeds,
)
from urbantwin.errors import BadRequest, NotFound
from urbantwin.settings import Settings
from urbantwin.store.transit_schema import transit_feeds
from urbantwin.timeseries.districts import DistrictMeans, DistrictQuery

#: Most ObservedProperties one request may ask sensor means of.
MAX_OBSERVED_PROPERTIES = 10
#: Most departures per hour a request may ask a stop to have.
MAX_MIN_DEPARTURES = 120
MAX_DETOUR = 3.0
#: Counted district collections kept between requests (per collection, state of the data and reader).
KEPT_COUNTS = 8
#: Counts (and access answers) of single years kept between requests: a time slider over 25 years of
#: a few collections.
KEPT_YEARS = 128
#: A yearly change of the population below this share counts as stable.
STABLE_PERCENT = 0.1
API = "districts"


def _round(value: float | None, digits: int = 2) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return round(float(value), digits)


def _iso(stamp: Any) -> str | None:
    return None if stamp is None else stamp.isoformat().replace("+00:00", "Z")


@dataclass
class Counted:
    """A layer counted per district."""

    kind: str
    layer: Layer
    count: np.ndarray
    coverage: np.ndarray
    extra: dict[str, np.ndarray] = field(default_factory=dict)


@dataclass
class Read:
    """What the profiles of a collection read: its districts, every kind's readable layer (all its
    features, whatever their validity), the readable feeds and their stops."""

    set_: DistrictSet
    layers: dict[str, Layer]
    feeds: list[Feed]
    stops: Stops | None
    notes: list[dict[str, str]]
    shown: list[str | None]


def _keep(store: dict[Any, Any], key: Any, value: Any, most: int, lock: threading.Lock) -> None:
    """Keep `value` under `key`, the oldest entry dropped once `most` are kept."""
    with lock:
        if len(store) >= most:
            store.pop(next(iter(store)), None)
        store[key] = value


@dataclass
class Profiles:
    """Every district's profile of one collection, with what the exports need."""

    districts: DistrictSet
    documents: list[dict[str, Any]]
    notes: list[dict[str, str]]
    datasets: list[str | None]
    #: Which inputs are of the year asked (`asof.AsOf.document`); None: no year asked.
    as_of: dict[str, Any] | None = None

    def document(self) -> dict[str, Any]:
        spec = self.districts.spec
        return {
            "collection": self.districts.collection.id,
            "label": spec.label,
            "crs": self.districts.projector.crs.to_string(),
            "labels": texts.FIGURES,
            "as_of": self.as_of,
            "notes": self.notes,
            "districts": self.documents,
        }


def population_years(set_: DistrictSet, n: int) -> dict[int, float]:
    """The residents per year of district `n` from its population properties."""
    out: dict[int, float] = {}
    for key, value in set_.properties[n].items():
        year = set_.spec.population_year(key)
        if year is None or isinstance(value, bool):
            continue
        try:
            number = float(value)
        except (TypeError, ValueError):
            continue
        if math.isfinite(number):
            out[year] = int(number) if number.is_integer() else number
    return dict(sorted(out.items()))


def trend(years: dict[int, float]) -> dict[str, Any] | None:
    """First to latest year: the change in all, in percent, and per year over the last ten years."""
    if len(years) < 2:
        return None
    first, last = min(years), max(years)
    recent = [y for y in years if y >= last - 10]
    since = min(recent)
    annual = None
    if years[since] > 0 and last > since:
        annual = ((years[last] / years[since]) ** (1 / (last - since)) - 1) * 100
    direction = "stable"
    if annual is not None and annual >= STABLE_PERCENT:
        direction = "growing"
    elif annual is not None and annual <= -STABLE_PERCENT:
        direction = "shrinking"
    return {
        "first_year": first,
        "latest_year": last,
        "change": years[last] - years[first],
        "change_percent": _round((years[last] / years[first] - 1) * 100 if years[first] else None, 1),
        "annual_percent": _round(annual, 2),
        "annual_since": since,
        "direction": direction,
        "label": texts.TRENDS[direction],
    }


def population_of(years: dict[int, float], year: int | None) -> tuple[float, int | None]:
    """The residents of `year` (None: the latest year) from a district's residents per year: that
    year's figure where given, else the nearest earlier year's, else the earliest later year's; NaN
    and None where no year is given."""
    if not years:
        return math.nan, None
    if year is None or year in years:
        chosen = max(years) if year is None else year
    else:
        earlier = [y for y in years if y < year]
        chosen = max(earlier) if earlier else min(years)
    return float(years[chosen]), chosen


@dataclass
class Placement:
    """What residents are placed with (`access.place_residents`): the districts asked for
    (`target`), the finest readable districts with population (`finest`, whose residents are
    placed), the readable buildings' points and residential floor area (metric CRS), and the notes
    and datasets of what was read."""

    target: DistrictSet
    finest: DistrictSet
    building_points: np.ndarray
    floor: np.ndarray
    notes: list[dict[str, str]]
    datasets: list[str | None]
    #: The buildings read (with their validity in time); None: none.
    buildings: Layer | None = None

    def population(self, year: int | None = None) -> tuple[np.ndarray, list[int | None]]:
        """Residents per finest district in `year` (None: each district's latest year), and the year
        each figure is from (`population_of`)."""
        found = [population_of(population_years(self.finest, n), year) for n in range(len(self.finest.keys))]
        return np.array([value for value, _ in found], dtype=float), [chosen for _, chosen in found]

    def residents(self, year: int | None = None) -> Residents:
        """The finest districts' residents of `year` placed on the buildings or spread over the area:
        on the buildings standing at the end of that year (`asof.instant`) where the buildings' data
        has their validity in time, else on every building."""
        points, floor = self.building_points, self.floor
        if year is not None and self.buildings is not None and self.buildings.historic:
            assert self.buildings.valid_from is not None and self.buildings.valid_to is not None
            at = instant(year)
            standing = ~(self.buildings.valid_from >= at) & ~(self.buildings.valid_to <= at)
            points, floor = points[standing], floor[standing]
        return place_residents(self.finest.shapes, self.population(year)[0], points, floor)

    def methods(self, residents: Residents) -> list[str]:
        """Each target district's placement method (`buildings`, `area`, `mixed` or `none`)."""
        return DistrictProfiles._methods(self.finest, self.target, residents)


class DistrictProfiles:
    """The profiles and access figures of the city's district collections."""

    def __init__(
        self, engine: Engine, settings: Settings, access: Access, city: CityProfile = NO_CITY
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.access = access
        self.city = city
        self.rules = parse_rules(settings.district_layers)
        self.means = DistrictMeans(engine, access, city)
        #: The counted layers per `_stamp` (the sensor means are asked afresh every time).
        self._kept: dict[tuple[Any, ...], Any] = {}
        #: The counts per (`_stamp`, year), and the access answers per (`_stamp`, parameters).
        self._years: dict[tuple[Any, ...], Any] = {}
        self._answers: dict[tuple[Any, ...], Any] = {}
        self._lock = threading.Lock()

    # --- the district collections ---------------------------------------------------------------

    def collections(self, caller: Caller) -> list[dict[str, Any]]:
        """The district collections of the city profile the caller may read."""
        scope = self.access.scope(caller)
        with self.engine.connect() as connection:
            known = {c.id: c for c in all_collections(connection)}
        shown = [
            spec
            for spec in self.city.districts
            if spec.collection in known and scope.allows(known[spec.collection].dataset_id)
        ]
        self.access.record_read(caller, API, [known[s.collection].dataset_id for s in shown])
        return [
            {
                "collection": spec.collection,
                "label": spec.label,
                "title": known[spec.collection].title,
                "population": bool(spec.population_property),
            }
            for spec in shown
        ]

    # --- profiles -----------------------------------------------------------------------------------

    def profiles(
        self,
        caller: Caller,
        collection: str,
        observed_properties: Sequence[str] | None = None,
        year: str | None = None,
    ) -> Profiles:
        """Every district's profile (a read of every dataset counted); as of `year` when given
        (asof.py: the residents of that year, the features valid and the feeds in service then)."""
        names = self._observed(observed_properties)
        scope = self.access.scope(caller)
        result = self._compute(collection, scope, names, year)
        self.access.record_read(caller, API, result.datasets)
        return result

    def profile(
        self,
        caller: Caller,
        collection: str,
        key: str,
        observed_properties: Sequence[str] | None = None,
        year: str | None = None,
    ) -> dict[str, Any]:
        result = self.profiles(caller, collection, observed_properties, year)
        n = result.districts.index(key)
        return {
            "collection": collection,
            "labels": texts.FIGURES,
            "as_of": result.as_of,
            "notes": result.notes,
            **result.documents[n],
        }

    def compare(
        self,
        caller: Caller,
        collection: str,
        a: str | None,
        b: str | None,
        observed_properties: Sequence[str] | None = None,
        year: str | None = None,
    ) -> dict[str, Any]:
        """Two districts' profiles side by side, with the differences of their numbers (b − a)."""
        if not a or not b:
            raise BadRequest("a and b: required, the ids of the two districts to compare")
        result = self.profiles(caller, collection, observed_properties, year)
        first = result.documents[result.districts.index(a)]
        second = result.documents[result.districts.index(b)]
        flat_a, flat_b = flat(first), flat(second)
        difference = {
            key: _round(flat_b[key] - value, 4)
            for key, value in flat_a.items()
            if isinstance(value, int | float)
            and not isinstance(value, bool)
            and isinstance(flat_b.get(key), int | float)
            and key not in ("id",)
        }
        return {
            "collection": collection,
            "labels": texts.FIGURES,
            "as_of": result.as_of,
            "notes": result.notes,
            "a": first,
            "b": second,
            "difference": difference,
        }

    def _observed(self, names: Sequence[str] | None) -> list[str]:
        chosen = [n.strip() for n in (names or self.settings.district_observed_properties) if n.strip()]
        if len(chosen) > MAX_OBSERVED_PROPERTIES:
            raise BadRequest(
                f"observedProperty: at most {MAX_OBSERVED_PROPERTIES} at a time, got {len(chosen)}"
            )
        return list(dict.fromkeys(chosen))

    def _read_layers(self, connection: Any, set_: DistrictSet, scope: DatasetScope) -> Read:
        """Every kind's layer the caller may read, and the readable feeds' stops; notes of what was
        left out or is missing."""
        stored = all_collections(connection)
        districts = {spec.collection for spec in self.city.districts}
        feeds, hidden_feeds = readable_feeds(connection, stored, scope)
        feed_stops = feed_stop_collections(connection)
        layers: dict[str, Layer] = {}
        notes: list[dict[str, str]] = []
        shown: list[str | None] = []
        for kind in KINDS:
            sources = matching(stored, self.rules.get(kind), districts | feed_stops)
            readable = [c for c in sources if scope.allows(c.dataset_id)]
            hidden = len(sources) - len(readable) + (hidden_feeds if kind == "stops" else 0)
            if hidden:
                notes.append(texts.left_out(kind, hidden))
            if not readable and not (kind == "stops" and feeds):
                if not hidden:
                    notes.append(texts.no_data(kind))
                continue
            shown += [c.dataset_id for c in readable]
            if readable:
                layers[kind] = read_layer(connection, kind, readable, set_.projector)
        stops = read_stops(connection, feeds, set_.projector) if feeds else None
        shown += [feed.stops_collection.dataset_id for feed in feeds]
        return Read(set_, layers, feeds, stops, notes, shown)

    def _count_layers(self, read: Read, as_of: AsOf) -> dict[str, Counted]:
        """Every layer counted per district as of the year of `as_of` (each layer's features valid
        then, the feeds in service then; all of them without a year)."""
        set_ = read.set_
        tree = shapely.STRtree(set_.shapes)
        areas = shapely.area(set_.shapes)
        counted: dict[str, Counted] = {}
        for kind, whole in read.layers.items():
            layer = as_of.layer(whole)
            count, coverage = self._count(tree, areas, set_, layer.points)
            if layer is not whole:
                # the data covers the area it covers in every year: a district without a charging
                # point yet has none, not no data
                coverage = np.maximum(coverage, self._count(tree, areas, set_, whole.points)[1])
            item = Counted(kind, layer, count, coverage)
            if kind == "buildings" and layer.shapes is not None:
                self._floor_area(item, tree, len(set_.keys))
            counted[kind] = item
        if read.feeds and read.stops is not None:
            feeds = as_of.feeds(read.feeds)
            stops = read.stops.of(feeds)
            self._add_gtfs(counted, tree, areas, set_, stops, [feed.stops_collection for feed in feeds])
        # kept per year: the counts and the layers' collections, not a copy of their features
        for item in counted.values():
            item.layer = Layer(item.kind, item.layer.collections, np.array([], dtype=object))
        return counted

    @staticmethod
    def _inside(tree: shapely.STRtree, count: int, points: np.ndarray) -> np.ndarray:
        """The district of each point (-1: none; on a border: the first)."""
        home = np.full(len(points), -1)
        if len(points) and count:
            inside, where = tree.query(points, predicate="within")
            order = np.argsort(inside, kind="stable")[::-1]
            home[inside[order]] = where[order]
        return home

    def _count(
        self, tree: shapely.STRtree, areas: np.ndarray, set_: DistrictSet, points: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        count = len(set_.keys)
        home = self._inside(tree, count, points)
        per = np.bincount(home[home >= 0], minlength=count)
        if len(points) >= 3:
            hull = shapely.convex_hull(shapely.multipoints(points))
            covered = shapely.area(shapely.intersection(set_.shapes, hull))
        else:
            covered = np.zeros(count)
        with np.errstate(invalid="ignore", divide="ignore"):
            coverage = np.where(areas > 0, covered / areas, 0.0)
        # a district with features of the layer inside is covered, however few they are
        coverage = np.where(per > 0, np.maximum(coverage, 1e-9), coverage)
        return per, np.clip(coverage, 0.0, 1.0)

    def _floor_area(self, item: Counted, tree: shapely.STRtree, count: int) -> None:
        layer = item.layer
        assert layer.shapes is not None and layer.levels is not None and layer.heights is not None
        home = self._inside(tree, count, layer.points)
        footprint = shapely.area(layer.shapes)
        floors = storeys(layer.levels, layer.heights)
        known = np.isfinite(floors)
        floor_area = np.where(known, footprint * np.nan_to_num(floors), 0.0)
        valid = home >= 0
        item.extra = {
            "footprint": np.bincount(home[valid], weights=footprint[valid], minlength=count),
            "floor": np.bincount(home[valid], weights=floor_area[valid], minlength=count),
            "unknown": np.bincount(home[valid & ~known], minlength=count),
            # storeys from an estimated height (levels, where given, are the source's own)
            "estimated": np.bincount(
                home[
                    valid
                    & known
                    & ~(layer.levels > 0)
                    & (layer.estimated if layer.estimated is not None else False)
                ],
                minlength=count,
            ),
        }

    def _add_gtfs(
        self,
        counted: dict[str, Counted],
        tree: shapely.STRtree,
        areas: np.ndarray,
        set_: DistrictSet,
        stops: Stops,
        sources: list[Collection],
    ) -> None:
        """The feeds' boarding places join the stops of the keyword layers; their departures
        06:00–20:00 ÷ 14 are the district's departures per hour."""
        count = len(set_.keys)
        home = self._inside(tree, count, stops.points)
        valid = home >= 0
        per = np.bincount(home[valid], minlength=count)
        departures = np.bincount(home[valid], weights=stops.departures[valid], minlength=count)
        if "stops" in counted:
            existing = counted["stops"]
            existing.count = existing.count + per
            # a new layer: the counted one may be the one kept between requests
            existing.layer = replace(existing.layer, collections=existing.layer.collections + sources)
            points = np.concatenate([existing.layer.points, stops.points])
        else:
            existing = Counted("stops", Layer("stops", list(sources), stops.points), per, np.zeros(count))
            counted["stops"] = existing
            points = stops.points
        _, existing.coverage = self._count(tree, areas, set_, points)
        # a district without a stop of any feed has no timetable to count: None, not 0 departures
        existing.extra = {"departures_per_hour": np.where(per > 0, departures / WINDOW_HOURS, np.nan)}

    def _stamp(self, connection: Any, collection: str, scope: DatasetScope) -> tuple[Any, ...]:
        """What the counted layers depend on: every collection's version and dataset, the feeds'
        imports and what the caller may read. A write to any collection bumps its version, so a
        profile is counted afresh after any change and kept while nothing changes (a viewer asks
        once per click)."""
        stored = tuple((c.id, c.version, c.updated, c.dataset_id) for c in all_collections(connection))
        feeds = tuple(connection.execute(select(transit_feeds.c.id, transit_feeds.c.digest)).all())
        return (collection, stored, feeds, scope.ids)

    def _counted(
        self, collection: str, scope: DatasetScope, year: str | None = None
    ) -> tuple[DistrictSet, dict[str, Counted], AsOf, list[dict[str, str]], list[str | None]]:
        """The layers counted per district as of `year` (the `year` parameter; None: every feature).
        What is read is kept per state of the data and reader (`_stamp`), what is counted per year
        besides: a time slider asks every year once, each a count over the same read layers."""
        with self.engine.connect() as connection:
            stamp = self._stamp(connection, collection, scope)
            read = self._kept.get(stamp)
            if read is None:
                set_ = read_districts(connection, self.city, collection, scope)
                read = self._read_layers(connection, set_, scope)
                _keep(self._kept, stamp, read, KEPT_COUNTS, self._lock)
        chosen = parse_year(year, series_years([read.set_]))
        key = (stamp, chosen)
        found = self._years.get(key)
        if found is None:
            as_of = AsOf(chosen)
            found = (self._count_layers(read, as_of), as_of)
            _keep(self._years, key, found, KEPT_YEARS, self._lock)
        counted, as_of = found
        return read.set_, counted, as_of, list(read.notes), list(read.shown)

    def _compute(
        self, collection: str, scope: DatasetScope, names: list[str], year: str | None = None
    ) -> Profiles:
        set_, counted, as_of, notes, shown = self._counted(collection, scope, year)
        sensors: dict[str, dict[str, Any]] = {}
        for name in names:
            try:
                answer = self.means.means_in(DistrictQuery(collection, name), scope)
            except NotFound:
                notes.append(texts.unknown_property(name))
                continue
            sensors[name] = answer.body
            shown += list(answer.datasets)
        documents = [self._document(set_, n, counted, sensors, as_of.year) for n in range(len(set_.keys))]
        if as_of.year is not None:
            as_of = AsOf(as_of.year, dict(as_of.inputs), list(as_of.labels))
            as_of.residents([d["population"]["value_year"] for d in documents])
        shown.append(set_.collection.dataset_id)
        return Profiles(set_, documents, notes, sorted(set(shown), key=lambda d: d or ""), as_of.document())

    def _document(
        self,
        set_: DistrictSet,
        n: int,
        counted: dict[str, Counted],
        sensors: dict[str, dict[str, Any]],
        year: int | None = None,
    ) -> dict[str, Any]:
        area_km2 = float(shapely.area(set_.shapes[n])) / 1e6
        years = population_years(set_, n)
        latest_year = max(years) if years else None
        latest = years[latest_year] if latest_year is not None else None
        # the residents the density and the figures per resident are of: the year asked, else the latest
        value_year = latest_year if year is None else population_of(years, year)[1]
        people = years[value_year] if value_year is not None else None

        def per(value: float, scale: float = 1.0) -> float | None:
            return None if not people else value / people * scale

        figures: dict[str, Any] = {}
        for kind, item in counted.items():
            coverage = float(item.coverage[n])
            value = int(item.count[n])
            figure: dict[str, Any] = {
                "count": value if coverage > 0 else None,
                "coverage": _round(coverage, 3),
                "collections": [c.id for c in item.layer.collections],
                "updated": item.layer.updated,
            }
            if 0 < coverage < 0.995:
                figure["note"] = texts.partial(kind, int(coverage * 100))
            elif coverage == 0:
                figure["note"] = texts.partial(kind, 0)
            if kind == "buildings" and item.extra:
                figure["footprint_m2"] = _round(item.extra["footprint"][n], 0) if coverage > 0 else None
                figure["floor_area_m2"] = _round(item.extra["floor"][n], 0) if coverage > 0 else None
                figure["floor_area_unknown"] = int(item.extra["unknown"][n])
                figure["floor_area_estimated"] = int(item.extra["estimated"][n])
            elif kind == "trees" and coverage > 0:
                figure["per_inhabitant"] = _round(per(value), 4)
            elif kind == "charging" and coverage > 0:
                figure["per_1000_inhabitants"] = _round(per(value, 1000.0), 3)
            elif kind == "stops" and "departures_per_hour" in item.extra:
                figure["departures_per_hour"] = _round(item.extra["departures_per_hour"][n], 1)
            figures[kind] = figure
        means = []
        for name, document in sensors.items():
            row = next((r for r in document["districts"] if r["id"] == set_.keys[n]), None)
            means.append(
                {
                    "observedProperty": name,
                    "unitOfMeasurement": document.get("unitOfMeasurement"),
                    "statistic": texts.SENSOR_MEAN,
                    "sensors": row["sensors"] if row else 0,
                    "mean": _round(row["mean"], 3) if row else None,
                }
            )
        return {
            "id": set_.keys[n],
            "name": set_.names[n],
            "area_km2": _round(area_km2, 4),
            "population": {
                "years": {str(y): v for y, v in years.items()},
                "latest": latest,
                "year": latest_year,
                "value": people,
                "value_year": value_year,
                "trend": trend(years),
                "updated": _iso(set_.collection.updated),
            },
            "density_per_km2": _round(people / area_km2, 1) if people is not None and area_km2 else None,
            "figures": figures,
            "sensors": means,
        }

    # --- access to public transport ---------------------------------------------------------------

    def transit_access(
        self,
        caller: Caller,
        collection: str,
        min_departures: str | None,
        detour: str | None,
        year: str | None = None,
    ) -> dict[str, Any]:
        """Per district: the share of residents within 300 and 500 m (walking: straight line ×
        detour) of a stop with at least `min_departures` per hour, and the shares per ÖV-Güteklasse;
        as of `year` when given (asof.py). An answer is kept while the data and the reader's rights
        stay the same (`_stamp`)."""
        minimum = _number("min_departures", min_departures, 1.0, 0.0, MAX_MIN_DEPARTURES)
        factor = _number("detour", detour, DETOUR_FACTOR, 1.0, MAX_DETOUR)
        scope = self.access.scope(caller)
        with self.engine.connect() as connection:
            stamp = self._stamp(connection, collection, scope)
        key = (stamp, minimum, factor, year or None)
        kept = self._answers.get(key)
        if kept is None:
            kept = self._access(collection, scope, minimum, factor, year)
            _keep(self._answers, key, kept, KEPT_YEARS, self._lock)
        result = dict(kept)
        self.access.record_read(caller, API, result.pop("_datasets"))
        return result

    def _finest(self, connection: Any, scope: DatasetScope) -> DistrictSet | None:
        """The readable district collection with population and the most districts."""
        best: DistrictSet | None = None
        for spec in self.city.districts:
            if not spec.population_property:
                continue
            try:
                candidate = read_districts(connection, self.city, spec.collection, scope)
            except NotFound:
                continue
            if best is None or len(candidate.keys) > len(best.keys):
                best = candidate
        return best

    def placement(self, connection: Any, collection: str, scope: DatasetScope) -> Placement:
        """The districts of `collection`, the finest readable districts with population, and the
        residential floor area of the readable buildings, ready to place residents (access.py)."""
        notes: list[dict[str, str]] = []
        target = read_districts(connection, self.city, collection, scope)
        finest = self._finest(connection, scope) or target
        if finest.projector.crs != target.projector.crs:
            finest = read_districts(connection, self.city, target.collection.id, scope)
        stored = all_collections(connection)
        districts = {spec.collection for spec in self.city.districts}
        sources = matching(stored, self.rules.get("buildings"), districts)
        readable = [c for c in sources if scope.allows(c.dataset_id)]
        if len(sources) > len(readable):
            notes.append(texts.left_out("buildings", len(sources) - len(readable)))
        buildings = read_layer(connection, "buildings", readable, finest.projector)
        floor = np.zeros(len(buildings.points))
        if len(buildings.points) and buildings.shapes is not None:
            assert buildings.levels is not None and buildings.heights is not None
            assert buildings.residential is not None
            floors = storeys(buildings.levels, buildings.heights)
            known = floors[np.isfinite(floors)]
            typical = float(np.median(known)) if len(known) else 1.0
            floor = shapely.area(buildings.shapes) * np.where(np.isfinite(floors), floors, typical)
            floor = np.where(buildings.residential, floor, 0.0)
        datasets = [target.collection.dataset_id, finest.collection.dataset_id]
        datasets += [c.dataset_id for c in buildings.collections]
        return Placement(target, finest, buildings.points, floor, notes, datasets, buildings)

    def _access(
        self, collection: str, scope: DatasetScope, minimum: float, detour: float, year: str | None = None
    ) -> dict[str, Any]:
        with self.engine.connect() as connection:
            placed = self.placement(connection, collection, scope)
            target, finest, notes = placed.target, placed.finest, list(placed.notes)
            as_of = AsOf(parse_year(year, series_years([finest, target])))
            stored = all_collections(connection)
            districts = {spec.collection for spec in self.city.districts}
            feeds, hidden_feeds = readable_feeds(connection, stored, scope)
            feeds = as_of.feeds(feeds)
            stops = read_stops(connection, feeds, finest.projector)
            keyword_stops: Layer | None = None
            if minimum == 0:
                stop_sources = matching(
                    stored, self.rules.get("stops"), districts | feed_stop_collections(connection)
                )
                keyword_stops = as_of.layer(
                    read_layer(
                        connection,
                        "stops",
                        [c for c in stop_sources if scope.allows(c.dataset_id)],
                        finest.projector,
                    )
                )
        if hidden_feeds:
            notes.append(texts.left_out("stops", hidden_feeds))
        if placed.buildings is not None:
            as_of.layer(placed.buildings)
        residents = placed.residents(as_of.year)
        as_of.residents(placed.population(as_of.year)[1])
        per_hour = stops.departures / WINDOW_HOURS
        good = stops.points[per_hour >= minimum] if minimum > 0 else stops.points
        if keyword_stops is not None and len(keyword_stops.points):
            good = np.concatenate([good, keyword_stops.points])
        categories = stop_categories(stops.by_mode, stops.modes)
        figures = access_figures(
            residents, target.shapes, good, detour, stops.points, categories if len(stops.points) else None
        )
        method_of = self._methods(finest, target, residents)
        rows = []
        for n, key in enumerate(target.keys):
            people = float(figures.residents[n])

            def share(values: np.ndarray, n: int = n, people: float = people) -> float | None:
                return _round(values[n] / people, 4) if people > 0 else None

            rows.append(
                {
                    "id": key,
                    "name": target.names[n],
                    "residents": _round(people, 0),
                    "method": method_of[n],
                    "method_label": texts.PLACEMENT[method_of[n]],
                    "within": {str(radius): share(figures.within[radius]) for radius in RADII},
                    "classes": {name: share(values) for name, values in figures.classes.items()},
                }
            )
        categories_count = {
            ROMAN[c]: int((categories == c).sum()) for c in range(1, 8) if (categories == c).any()
        }
        datasets = list(placed.datasets)
        datasets += [feed.stops_collection.dataset_id for feed in feeds]
        if keyword_stops is not None:
            datasets += [c.dataset_id for c in keyword_stops.collections]
        return {
            "collection": collection,
            "placed_on": finest.collection.id,
            "min_departures_per_hour": minimum,
            "detour_factor": detour,
            "radii_m": list(RADII),
            "feeds": [
                {"id": f.id, "title": f.title, "weekday": f.typical_weekday and str(f.typical_weekday)}
                for f in feeds
            ],
            "stop_categories": categories_count,
            "classes": list(CLASS_NAMES),
            "method": texts.access_method(minimum == 0),
            "labels": {**texts.FIGURES, **{f"method:{k}": v for k, v in texts.PLACEMENT.items()}},
            "as_of": as_of.document(),
            "notes": notes,
            "districts": rows,
            "_datasets": sorted(set(datasets), key=lambda d: d or ""),
        }

    @staticmethod
    def _methods(finest: DistrictSet, target: DistrictSet, residents: Any) -> list[str]:
        """Each target district's placement method: that of the finest districts whose residents
        lie in it (`buildings`, `area`, or `mixed`)."""
        if finest is target or finest.collection.id == target.collection.id:
            return list(residents.methods)
        home = np.full(len(residents.points), -1)
        if len(residents.points):
            inside, where = shapely.STRtree(target.shapes).query(residents.points, predicate="within")
            home[inside] = where
        out = []
        for n in range(len(target.keys)):
            owners = np.unique(residents.district[home == n])
            found = {residents.methods[o] for o in owners.tolist()}
            out.append(found.pop() if len(found) == 1 else ("mixed" if found else "none"))
        return out


def _number(name: str, raw: str | None, default: float, low: float, high: float) -> float:
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or not low <= value <= high:
        raise BadRequest(f"{name}: expected a number from {low:g} to {high:g}, got {raw!r}")
    return value


def flat(document: dict[str, Any]) -> dict[str, Any]:
    """A profile as one row of plain values (the CSV and Parquet exports, the comparison)."""
    population = document["population"]
    row: dict[str, Any] = {
        "id": document["id"],
        "name": document["name"],
        "area_km2": document["area_km2"],
        "population": population.get("value", population["latest"]),
        "population_year": population.get("value_year", population["year"]),
        "density_per_km2": document["density_per_km2"],
    }
    trend_ = population.get("trend") or {}
    row["population_change_percent"] = trend_.get("change_percent")
    row["population_annual_percent"] = trend_.get("annual_percent")
    for kind, figure in document["figures"].items():
        row[kind] = figure["count"]
        row[f"{kind}_coverage"] = figure["coverage"]
        for extra in (
            "footprint_m2",
            "floor_area_m2",
            "per_inhabitant",
            "per_1000_inhabitants",
            "departures_per_hour",
        ):
            if extra in figure:
                row[f"{kind}_{extra}"] = figure[extra]
    for mean in document["sensors"]:
        row[f"mean {mean['observedProperty']}"] = mean["mean"]
    for year, value in population["years"].items():
        row[f"population_{year}"] = value
    return row


def publish(service: DistrictProfiles, collection: str, min_departures: str | None = None) -> Any:
    """The profiles and access figures of a district collection as a feature collection of their own,
    `<collection>-profiles` (the district polygons with the flat rows of the exports and the access
    shares), written as every importer writes (`ingest.pipeline.store_rows`): a catalogue dataset of
    its own, and writing again replaces the features. Computed from what anyone may read (the
    anonymous caller's datasets), since a new collection is published as open data: a figure of a
    restricted dataset is left out, as it is for an anonymous reader of the API."""
    from pathlib import Path

    from urbantwin.districts.export import rows
    from urbantwin.ingest.geojson import CRS84
    from urbantwin.ingest.pipeline import CollectionInfo, Source, build_rows, store_rows

    caller = Caller(ANONYMOUS, "urbantwin districts publish")
    profiles = service.profiles(caller, collection)
    access = service.transit_access(caller, collection, min_departures, None)
    shares = {row["id"]: row for row in access["districts"]}
    sources = []
    for n, (row, geometry) in enumerate(zip(rows(profiles), profiles.districts.geometries, strict=True)):
        served = shares.get(row["id"], {})
        properties = {
            **row,
            "access_method": served.get("method"),
            **{f"access_within_{radius}m": value for radius, value in served.get("within", {}).items()},
            **{f"access_class_{name}": value for name, value in served.get("classes", {}).items()},
        }
        sources.append(Source(n, row["id"], geometry, properties))
    target = f"{collection}-profiles"
    built = build_rows(Path(target), sources, CRS84)
    label = profiles.districts.spec.label.get("en") or collection
    info = CollectionInfo(
        target,
        f"Profiles of {label}",
        "Per district: residents and trend, density, buildings and floor area, street trees, EV charging "
        "points, WLAN sites, stops and departures per hour, sensor means, and the share of residents "
        f"near a stop (at least {access['min_departures_per_hour']:g} departures an hour) and per "
        "ÖV-Güteklasse; computed by the platform from its own datasets (docs/districts.md).",
        keywords=["district profiles", "statistics"],
    )
    return store_rows(service.engine, built, info, "OGC:CRS84", progress=False, delete_missing=True)
