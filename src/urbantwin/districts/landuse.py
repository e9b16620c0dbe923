"""Land use per block and district: built-up share, site coverage and floor-area ratios (GRZ, GFZ),
tree density, and candidate blocks for infill (docs/districts.md, "Land use").

**Blocks.** A block is what the city's data says it is: the features of a collection keyworded as
blocks (`Settings.land_use_blocks`; Baublöcke or statistical blocks). A city without one gets the
documented fallback: the cells of a square grid of `Settings.land_use_grid_m` metres (default 100 m,
the resolution of the German census grid) in the city's metric CRS, aligned to multiples of the side,
where the building data lies (the cells that hold a building's point-on-surface). Which of the two
each answer rests on is said in it (`blocks.source`).

**Ratios.** Gross figures over the whole block (or district) area, not the plot areas the
Baunutzungsverordnung relates GRZ and GFZ to (§ 19, § 20 BauNVO), which the platform does not know:
GRZ = built-over area ÷ area, GFZ = floor area ÷ area. A building straddling blocks counts in each with
the part of its footprint inside. Floor area = footprint × storeys, the storeys as in the district
profiles (`levels` where the source gives them, else height ÷ 3 m, at least one); where the storeys
rest on a height, the answer says how many buildings' height was measured and how many estimated
(ingest/heights.py), and how many buildings have neither (left out of the floor area).

**Infill candidates.** Blocks already built on (GRZ at least `min_grz`, default 0.05: a cell with
next to nothing built is open land, a park or railway land, not infill) with a low floor-area ratio (GFZ under
`max_gfz`, default 0.6: half the upper limit § 17 BauNVO sets for general residential areas, 1.2)
and good public transport (a stop with at least `min_departures` departures an hour within `radius`
walking, straight line × the detour factor), ranked by a score that adds the two gaps equally:
(1 − GFZ ÷ max_gfz) ÷ 2 + (1 − walking distance ÷ radius) ÷ 2; each with its reasons in German and
English. A ranking for a planner's first look, not a finding of what the plan allows.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely
from pyproj import Transformer
from sqlalchemy import Connection, select

from urbantwin.access.gate import Caller
from urbantwin.districts import texts
from urbantwin.districts.access import DETOUR_FACTOR, WINDOW_HOURS, nearest_distance, storeys
from urbantwin.districts.asof import AsOf, parse_year, series_years
from urbantwin.districts.layers import (
    Collection,
    DistrictSet,
    Layer,
    Rule,
    all_collections,
    feed_stop_collections,
    matching,
    read_districts,
    read_layer,
    read_stops,
    readable_feeds,
)
from urbantwin.errors import BadRequest
from urbantwin.store.features_schema import features

#: Most blocks one answer may hold.
MAX_BLOCKS = 200_000
MIN_GRID_M, MAX_GRID_M = 10, 1000
DEFAULT_MAX_GFZ = 0.6
DEFAULT_MIN_GRZ = 0.05
MAX_GFZ = 5.0
RADII = (300.0, 500.0)
MAX_CANDIDATES = 1000
#: District answers kept between requests (a time slider over 25 years of a few collections).
KEPT_ANSWERS = 128
API = "districts"


def blocks_rule(keywords: tuple[str, ...] | list[str]) -> Rule:
    positive = tuple(k for k in keywords if not k.startswith("!"))
    negative = tuple(k[1:] for k in keywords if k.startswith("!") and len(k) > 1)
    if not positive:
        raise BadRequest("land_use_blocks: names no keyword a block collection must have")
    return Rule("blocks", positive, negative)


@dataclass
class Blocks:
    """The blocks (metric CRS and WGS 84), where they come from, and their district."""

    source: str
    collections: list[Collection]
    keys: list[str]
    shapes: np.ndarray
    geometries: np.ndarray
    district: np.ndarray


@dataclass
class Ratios:
    """Per area (block or district): built-over and floor area, GRZ, GFZ and how the storeys are known."""

    area: np.ndarray
    footprint: np.ndarray
    floor: np.ndarray
    buildings: np.ndarray
    from_levels: np.ndarray
    measured: np.ndarray
    estimated: np.ndarray
    unknown: np.ndarray

    @property
    def grz(self) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(self.area > 0, self.footprint / self.area, np.nan)

    @property
    def gfz(self) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(self.area > 0, self.floor / self.area, np.nan)


def grid_cells(points: np.ndarray, size: float) -> tuple[list[str], np.ndarray]:
    """The square cells of side `size` (metric CRS, aligned to multiples of it) holding `points`,
    with ids `<size>m-E<west>-N<south>`."""
    if not len(points):
        return [], np.array([], dtype=object)
    xy = shapely.get_coordinates(points)
    corners = np.unique(np.floor(xy / size).astype(np.int64), axis=0)
    west, south = corners[:, 0] * size, corners[:, 1] * size
    shapes = shapely.box(west, south, west + size, south + size)
    keys = [f"{size:g}m-E{w:.0f}-N{s:.0f}" for w, s in zip(west, south, strict=True)]
    return keys, shapes


def ratios(areas: np.ndarray, buildings: Layer) -> Ratios:
    """Built-over and floor area of the buildings inside each of `areas` (metric polygons): each
    building with the part of its footprint inside; the buildings counted by their point-on-surface."""
    count = len(areas)
    zero = np.zeros(count)
    empty = Ratios(shapely.area(areas) if count else zero, zero, zero, *(zero.astype(int),) * 5)
    if not count or buildings.shapes is None or not len(buildings.shapes):
        return empty
    assert buildings.levels is not None and buildings.heights is not None and buildings.estimated is not None
    floors = storeys(buildings.levels, buildings.heights)
    tree = shapely.STRtree(buildings.shapes)
    area_index, building_index = tree.query(areas, predicate="intersects")
    parts = shapely.area(shapely.intersection(areas[area_index], buildings.shapes[building_index]))
    known = np.isfinite(floors[building_index])
    footprint = np.bincount(area_index, weights=parts, minlength=count)
    floor = np.bincount(
        area_index,
        weights=np.where(known, parts * np.nan_to_num(floors[building_index]), 0.0),
        minlength=count,
    )
    inside_area, inside_building = shapely.STRtree(areas).query(buildings.points, predicate="within")
    home = np.full(len(buildings.points), -1)
    home[inside_area] = inside_building
    valid = home >= 0
    levels = buildings.levels > 0
    height = ~levels & (buildings.heights > 0)

    def per(mask: np.ndarray) -> np.ndarray:
        return np.bincount(home[valid & mask], minlength=count)

    return Ratios(
        shapely.area(areas),
        footprint,
        floor,
        per(np.ones(len(home), dtype=bool)),
        per(levels),
        per(height & ~buildings.estimated),
        per(height & buildings.estimated),
        per(~levels & ~height),
    )


def _round(value: float, digits: int = 3) -> float | None:
    return round(float(value), digits) if math.isfinite(value) else None


def _heights(r: Ratios, n: int) -> dict[str, int]:
    return {
        "buildings": int(r.buildings[n]),
        "levels": int(r.from_levels[n]),
        "measured_height": int(r.measured[n]),
        "estimated_height": int(r.estimated[n]),
        "unknown": int(r.unknown[n]),
    }


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


METHOD = {
    "ratios": {
        "en": "gross ratios over the whole block or district area: GRZ = built-over area ÷ area, GFZ = floor "
        "area ÷ area; floor area = footprint × storeys (levels, else height ÷ 3 m)",
        "de": "Brutto-Werte über die ganze Block- bzw. Gebietsfläche: GRZ = überbaute Fläche ÷ Fläche, "
        "GFZ = Geschossfläche ÷ Fläche; Geschossfläche = Grundfläche × Geschosse (Geschosszahl, sonst "
        "Höhe ÷ 3 m)",
    },
    "collection": {
        "en": "blocks: the features of the city's block collection",
        "de": "Blöcke: die Objekte der Blocksammlung der Stadt",
    },
    "grid": {
        "en": "blocks: the city has no block collection; cells of a square grid stand in for them",
        "de": "Blöcke: die Stadt hat keine Blocksammlung; Zellen eines quadratischen Rasters stehen dafür",
    },
}


def _grid_note(size: float) -> dict[str, str]:
    return {
        "en": f"{METHOD['grid']['en']} ({size:g} m × {size:g} m, where buildings are)",
        "de": f"{METHOD['grid']['de']} ({size:g} m × {size:g} m, wo Gebäude sind)",
    }


def _reason(gfz: float, limit: float, walk: float, radius: float, per_hour: float | None) -> dict[str, str]:
    service_en = f", {per_hour:.0f} departures an hour" if per_hour is not None else ""
    service_de = f", {per_hour:.0f} Abfahrten je Stunde" if per_hour is not None else ""
    return {
        "en": f"GFZ {gfz:.2f}, under {limit:g}; a stop {walk:.0f} m away on foot (within {radius:g} m"
        f"{service_en})",
        "de": f"GFZ {gfz:.2f}, unter {limit:g}; eine Haltestelle {walk:.0f} m zu Fuß entfernt (innerhalb "
        f"{radius:g} m{service_de})",
    }


def _estimated_note(estimated: int, total: int) -> dict[str, str] | None:
    if not estimated:
        return None
    return {
        "en": f"floor area of {estimated} of {total} "
        + ("building rests" if estimated == 1 else "buildings rests")
        + " on an estimated height",
        "de": f"die Geschossfläche von {estimated} der {total} "
        + ("Gebäude beruht" if estimated == 1 else "Gebäude beruht")
        + " auf einer geschätzten Höhe",
    }


@dataclass
class Read:
    """What one land-use answer reads: the districts, buildings, trees, blocks and stops."""

    set_: DistrictSet
    buildings: Layer
    trees: Layer
    blocks: Blocks
    stops: np.ndarray
    per_hour: np.ndarray
    notes: list[dict[str, str]]
    shown: list[str | None]
    as_of: AsOf
    #: The buildings and trees of every time (what the data covers, whatever the year asked).
    all_buildings: Layer
    all_trees: Layer


def _block_features(
    connection: Connection, sources: list[Collection], set_: DistrictSet
) -> tuple[list[str], np.ndarray, np.ndarray]:
    rows = connection.execute(
        select(features.c.collection_id, features.c.feature_key, features.c.geom)
        .where(features.c.collection_id.in_([c.id for c in sources]), features.c.geom.isnot(None))
        .order_by(features.c.collection_id, features.c.feature_key)
        .limit(MAX_BLOCKS + 1)
    ).all()
    if len(rows) > MAX_BLOCKS:
        raise BadRequest(f"blocks: more than {MAX_BLOCKS}; the land-use figures cannot count them")
    keys = [r.feature_key if len(sources) == 1 else f"{r.collection_id}/{r.feature_key}" for r in rows]
    geometries = shapely.from_wkb([r.geom for r in rows]) if rows else np.array([], dtype=object)
    shapes = set_.projector(geometries) if len(geometries) else geometries
    return keys, shapes, geometries


class LandUse:
    """The land-use figures of the city's district collections (reads through the district
    profiles' readers and settings; the same access point decides what the caller may read)."""

    def __init__(self, profiles: Any) -> None:
        self.profiles = profiles
        self.rule = blocks_rule(profiles.settings.land_use_blocks)
        size = float(profiles.settings.land_use_grid_m)
        if not MIN_GRID_M <= size <= MAX_GRID_M:
            raise BadRequest(f"land_use_grid_m: expected {MIN_GRID_M} to {MAX_GRID_M}, got {size:g}")
        self.grid = size
        #: The district answers per state of the data, reader and year (`districts`).
        self._kept: dict[tuple[Any, ...], Any] = {}
        self._lock = threading.Lock()

    def _read(
        self,
        caller: Caller,
        collection: str,
        with_stops: bool,
        minimum: float = 1.0,
        year: str | None = None,
    ) -> Read:
        """What an answer reads, as of `year` when given (asof.py: the buildings and trees valid at
        the end of that year, the stops that existed and the feeds in service then)."""
        service = self.profiles
        scope = service.access.scope(caller)
        notes: list[dict[str, str]] = []
        shown: list[str | None] = []
        with service.engine.connect() as connection:
            set_ = read_districts(connection, service.city, collection, scope)
            years = series_years([set_])
            if not years and year:
                finest = service._finest(connection, scope)
                years = series_years([finest]) if finest is not None else []
            as_of = AsOf(parse_year(year, years))
            shown.append(set_.collection.dataset_id)
            stored = all_collections(connection)
            districts = {spec.collection for spec in service.city.districts}
            feed_stops = feed_stop_collections(connection)

            def readable(kind: str, rule: Rule | None, exclude: set[str]) -> list[Collection]:
                sources = matching(stored, rule, exclude)
                found = [c for c in sources if scope.allows(c.dataset_id)]
                if len(sources) > len(found):
                    notes.append(texts.left_out(kind, len(sources) - len(found)))
                shown.extend(c.dataset_id for c in found)
                return found

            all_buildings = read_layer(
                connection,
                "buildings",
                readable("buildings", service.rules.get("buildings"), districts),
                set_.projector,
            )
            all_trees = read_layer(
                connection, "trees", readable("trees", service.rules.get("trees"), districts), set_.projector
            )
            buildings, trees = as_of.layer(all_buildings), as_of.layer(all_trees)
            block_sources = [c for c in matching(stored, self.rule, districts) if scope.allows(c.dataset_id)]
            shown.extend(c.dataset_id for c in block_sources)
            if block_sources:
                keys, shapes, geometries = _block_features(connection, block_sources, set_)
                source = "collection"
            else:
                keys, shapes = grid_cells(buildings.points, self.grid)
                if len(keys) > MAX_BLOCKS:
                    raise BadRequest(f"blocks: more than {MAX_BLOCKS} grid cells; raise land_use_grid_m")
                back = _to_wgs84(set_)
                geometries = back(shapes) if len(shapes) else shapes
                source = "grid"
            stops = np.array([], dtype=object)
            per_hour = np.array([])
            if with_stops:
                feeds, hidden = readable_feeds(connection, stored, scope)
                feeds = as_of.feeds(feeds)
                if hidden:
                    notes.append(texts.left_out("stops", hidden))
                timetable = read_stops(connection, feeds, set_.projector)
                shown.extend(f.stops_collection.dataset_id for f in feeds)
                hourly = timetable.departures / WINDOW_HOURS
                keep = hourly >= minimum if minimum > 0 else np.ones(len(hourly), dtype=bool)
                stops, per_hour = timetable.points[keep], hourly[keep]
                if minimum == 0:  # every stop, also those of a stops collection without a timetable
                    plain = as_of.layer(
                        read_layer(
                            connection,
                            "stops",
                            readable("stops", service.rules.get("stops"), districts | feed_stops),
                            set_.projector,
                        )
                    )
                    stops = np.concatenate([stops, plain.points])
                    per_hour = np.concatenate([per_hour, np.full(len(plain.points), np.nan)])
        home = np.full(len(shapes), -1)
        if len(shapes):
            inside, where = shapely.STRtree(set_.shapes).query(
                shapely.point_on_surface(shapes), predicate="within"
            )
            home[inside] = where
        blocks = Blocks(source, block_sources, keys, shapes, geometries, home)
        return Read(
            set_, buildings, trees, blocks, stops, per_hour, notes, shown, as_of, all_buildings, all_trees
        )

    # --- per district ---------------------------------------------------------------------------

    def districts(self, caller: Caller, collection: str, year: str | None = None) -> dict[str, Any]:
        """Per district: GRZ, GFZ, built-up share (the share of its area in blocks with buildings),
        trees per hectare, and how the storeys are known; as of `year` when given. An answer is kept
        while the data and the reader's rights stay the same (the profiles' `_stamp`)."""
        service = self.profiles
        scope = service.access.scope(caller)
        with service.engine.connect() as connection:
            stamp = service._stamp(connection, collection, scope)
        key = ("landuse", stamp, year or None)
        kept = self._kept.get(key)
        if kept is None:
            kept = self._districts(caller, collection, year)
            with self._lock:
                if len(self._kept) >= KEPT_ANSWERS:
                    self._kept.pop(next(iter(self._kept)), None)
                self._kept[key] = kept
        document, shown = kept
        service.access.record_read(caller, API, shown)
        return dict(document)

    def _districts(
        self, caller: Caller, collection: str, year: str | None
    ) -> tuple[dict[str, Any], list[Any]]:
        read = self._read(caller, collection, with_stops=False, year=year)
        shown = sorted(set(read.shown), key=lambda d: d or "")
        set_, blocks = read.set_, read.blocks
        whole = ratios(set_.shapes, read.buildings)
        built = (
            ratios(blocks.shapes, read.buildings).footprint > 0 if len(blocks.shapes) else np.array([], bool)
        )
        covered = _covered(set_.shapes, read.all_buildings)
        built_area: np.ndarray = np.zeros(len(set_.keys))
        if built.any():
            tree = shapely.STRtree(blocks.shapes[built])
            d_index, b_index = tree.query(set_.shapes, predicate="intersects")
            parts = shapely.area(shapely.intersection(set_.shapes[d_index], blocks.shapes[built][b_index]))
            built_area = np.bincount(d_index, weights=parts, minlength=len(set_.keys))
        trees_in = _count_within(set_.shapes, read.trees.points)
        trees_covered = _covered(set_.shapes, read.all_trees)
        rows = []
        for n, key in enumerate(set_.keys):
            area = float(whole.area[n])
            has_buildings = covered[n] > 0
            note = _estimated_note(int(whole.estimated[n]), int(whole.buildings[n]))
            rows.append(
                {
                    "id": key,
                    "name": set_.names[n],
                    "area_m2": _round(area, 0),
                    "grz": _round(whole.grz[n]) if has_buildings else None,
                    "gfz": _round(whole.gfz[n]) if has_buildings else None,
                    "built_up_share": _round(built_area[n] / area) if has_buildings and area else None,
                    "footprint_m2": _round(whole.footprint[n], 0) if has_buildings else None,
                    "floor_area_m2": _round(whole.floor[n], 0) if has_buildings else None,
                    "buildings_coverage": _round(covered[n]),
                    "storeys_from": _heights(whole, n),
                    "trees": int(trees_in[n]) if trees_covered[n] > 0 else None,
                    "trees_per_ha": _round(trees_in[n] / (area / 1e4))
                    if trees_covered[n] > 0 and area
                    else None,
                    "trees_coverage": _round(trees_covered[n]),
                    "notes": [note] if note else [],
                }
            )
        notes = list(read.notes)
        notes.append(METHOD["collection"] if blocks.source == "collection" else _grid_note(self.grid))
        return {
            "collection": collection,
            "crs": set_.projector.crs.to_string(),
            "blocks": {
                "source": blocks.source,
                "collections": [c.id for c in blocks.collections],
                "grid_m": self.grid if blocks.source == "grid" else None,
                "count": len(blocks.keys),
            },
            "method": {"ratios": METHOD["ratios"]},
            "labels": LABELS,
            "as_of": read.as_of.document(),
            "notes": notes,
            "districts": rows,
        }, shown

    # --- per block ------------------------------------------------------------------------------

    def blocks(self, caller: Caller, collection: str, year: str | None = None) -> dict[str, Any]:
        """Every block inside a district of `collection` with its GRZ, GFZ and tree density, as a
        GeoJSON feature collection; as of `year` when given."""
        read = self._read(caller, collection, with_stops=False, year=year)
        self.profiles.access.record_read(caller, API, sorted(set(read.shown), key=lambda d: d or ""))
        blocks = read.blocks
        r = ratios(blocks.shapes, read.buildings)
        trees_in = _count_within(blocks.shapes, read.trees.points)
        trees_covered = _covered(blocks.shapes, read.all_trees)
        out = []
        for n, key in enumerate(blocks.keys):
            if blocks.district[n] < 0:
                continue
            area = float(r.area[n])
            out.append(
                _feature(
                    blocks.geometries[n],
                    key,
                    {
                        "district": read.set_.keys[blocks.district[n]],
                        "area_m2": _round(area, 0),
                        "grz": _round(r.grz[n]),
                        "gfz": _round(r.gfz[n]),
                        "footprint_m2": _round(r.footprint[n], 0),
                        "floor_area_m2": _round(r.floor[n], 0),
                        **{f"storeys_from_{k}": v for k, v in _heights(r, n).items()},
                        "trees_per_ha": _round(trees_in[n] / (area / 1e4))
                        if trees_covered[n] > 0 and area
                        else None,
                    },
                )
            )
        return _collection_document(collection, read, self.grid, out)

    def infill(
        self,
        caller: Caller,
        collection: str,
        max_gfz: str | None,
        radius: str | None,
        min_departures: str | None,
        limit: str | None,
        min_grz: str | None = None,
        year: str | None = None,
    ) -> dict[str, Any]:
        """Blocks built on with a low GFZ and a stop near, ranked, each with its reasons; as of
        `year` when given."""
        limit_gfz = _number("max_gfz", max_gfz, DEFAULT_MAX_GFZ, 0.01, MAX_GFZ)
        reach = _number("radius", radius, RADII[0], 50.0, 2000.0)
        minimum = _number("min_departures", min_departures, 1.0, 0.0, 120.0)
        most = int(_number("limit", limit, 100, 1, MAX_CANDIDATES))
        least_grz = _number("min_grz", min_grz, DEFAULT_MIN_GRZ, 0.0, 1.0)
        read = self._read(caller, collection, with_stops=True, minimum=minimum, year=year)
        self.profiles.access.record_read(caller, API, sorted(set(read.shown), key=lambda d: d or ""))
        blocks = read.blocks
        r = ratios(blocks.shapes, read.buildings)
        centres = shapely.point_on_surface(blocks.shapes) if len(blocks.shapes) else blocks.shapes
        walk = nearest_distance(centres, read.stops) * DETOUR_FACTOR
        nearest_per_hour = np.full(len(centres), np.nan)
        if len(centres) and len(read.stops):
            (i, j) = shapely.STRtree(read.stops).query_nearest(centres, all_matches=False)
            nearest_per_hour[i] = read.per_hour[j]
        gfz = r.gfz
        eligible = (
            (blocks.district >= 0)
            & (r.footprint > 0)
            & (r.grz >= least_grz)
            & (gfz < limit_gfz)
            & (walk <= reach)
        )
        score = (1 - gfz / limit_gfz) / 2 + (1 - walk / reach) / 2
        order = [
            int(n) for n in np.argsort(-np.where(eligible, score, -np.inf), kind="stable") if eligible[n]
        ]
        out = []
        for rank, n in enumerate(order[:most], start=1):
            per_hour = None if not math.isfinite(nearest_per_hour[n]) else float(nearest_per_hour[n])
            reasons = [_reason(float(gfz[n]), limit_gfz, float(walk[n]), reach, per_hour)]
            estimated = _estimated_note(int(r.estimated[n]), int(r.buildings[n]))
            if estimated:
                reasons.append(estimated)
            out.append(
                _feature(
                    blocks.geometries[n],
                    blocks.keys[n],
                    {
                        "rank": rank,
                        "score": _round(score[n]),
                        "district": read.set_.keys[blocks.district[n]],
                        "grz": _round(r.grz[n]),
                        "gfz": _round(gfz[n]),
                        "walk_to_stop_m": _round(walk[n], 0),
                        "departures_per_hour": None if per_hour is None else _round(per_hour, 1),
                        "reasons": reasons,
                    },
                )
            )
        document = _collection_document(collection, read, self.grid, out)
        document["parameters"] = {
            "max_gfz": limit_gfz,
            "min_grz": least_grz,
            "radius_m": reach,
            "min_departures_per_hour": minimum,
            "detour_factor": DETOUR_FACTOR,
        }
        document["candidates"] = int(eligible.sum())
        document["method"] = {"ratios": METHOD["ratios"], "score": SCORE}
        return document


SCORE = {
    "en": "blocks built on (GRZ at least min_grz) with GFZ under max_gfz and a stop within the radius "
    "on foot (straight line × detour factor), ranked by "
    "(1 − GFZ ÷ max_gfz) ÷ 2 + (1 − distance ÷ radius) ÷ 2",
    "de": "bebaute Blöcke (GRZ mindestens min_grz) mit einer GFZ unter max_gfz und einer Haltestelle im "
    "Radius zu Fuß (Luftlinie × Umwegfaktor), gereiht nach "
    "(1 − GFZ ÷ max_gfz) ÷ 2 + (1 − Entfernung ÷ Radius) ÷ 2",
}

LABELS = {
    "grz": {"en": "Site coverage ratio (GRZ)", "de": "Grundflächenzahl (GRZ)"},
    "gfz": {"en": "Floor-area ratio (GFZ)", "de": "Geschossflächenzahl (GFZ)"},
    "built_up_share": {"en": "Built-up share", "de": "Anteil bebauter Fläche"},
    "trees_per_ha": {"en": "Street trees per hectare", "de": "Straßenbäume je Hektar"},
    "infill": {"en": "Infill candidates", "de": "Potenziale der Nachverdichtung"},
}


def _to_wgs84(set_: DistrictSet) -> Any:
    transformer = Transformer.from_crs(set_.projector.crs, "EPSG:4326", always_xy=True)

    def back(shapes: np.ndarray) -> np.ndarray:
        def transform(coords: np.ndarray) -> np.ndarray:
            x, y = transformer.transform(coords[:, 0], coords[:, 1])
            return np.column_stack([x, y])

        return shapely.transform(shapes, transform)

    return back


def _count_within(areas: np.ndarray, points: np.ndarray) -> np.ndarray:
    if not len(areas) or not len(points):
        return np.zeros(len(areas), dtype=np.int64)
    _, where = shapely.STRtree(areas).query(points, predicate="within")
    return np.bincount(where, minlength=len(areas)).astype(np.int64)


def _covered(areas: np.ndarray, layer: Layer) -> np.ndarray:
    """The share of each area inside the convex hull of the layer's features (as the profiles)."""
    if len(layer.points) < 3 or not len(areas):
        return np.where(_count_within(areas, layer.points) > 0, 1.0, 0.0) if len(areas) else np.zeros(0)
    hull = shapely.convex_hull(shapely.multipoints(layer.points))
    with np.errstate(invalid="ignore", divide="ignore"):
        share = shapely.area(shapely.intersection(areas, hull)) / shapely.area(areas)
    return np.clip(np.nan_to_num(share), 0.0, 1.0)


def _feature(geometry: Any, key: str, properties: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "Feature",
        "id": key,
        "geometry": shapely.geometry.mapping(shapely.set_precision(geometry, 1e-7)),
        "properties": properties,
    }


def _collection_document(
    collection: str, read: Read, grid: float, out: list[dict[str, Any]]
) -> dict[str, Any]:
    notes = list(read.notes)
    notes.append(METHOD["collection"] if read.blocks.source == "collection" else _grid_note(grid))
    return {
        "type": "FeatureCollection",
        "collection": collection,
        "blocks": {
            "source": read.blocks.source,
            "collections": [c.id for c in read.blocks.collections],
            "grid_m": grid if read.blocks.source == "grid" else None,
        },
        "labels": LABELS,
        "as_of": read.as_of.document(),
        "notes": notes,
        "numberReturned": len(out),
        "features": out,
    }


def publish(land_use: LandUse, collection: str) -> list[Any]:
    """The blocks with their ratios and the infill candidates (default parameters) of a district
    collection as feature collections of their own, `<collection>-landuse-blocks` and
    `<collection>-infill`, written as every importer writes (a catalogue dataset each; writing again
    replaces the features). Computed from what anyone may read, as `districts.service.publish`."""
    from pathlib import Path

    from urbantwin.access.principal import ANONYMOUS
    from urbantwin.ingest.geojson import CRS84
    from urbantwin.ingest.pipeline import CollectionInfo, Source, build_rows, store_rows

    caller = Caller(ANONYMOUS, "urbantwin districts publish-landuse")
    reports = []
    documents = (
        (
            f"{collection}-landuse-blocks",
            land_use.blocks(caller, collection),
            f"Land use per block of {collection}",
            "Per block: site coverage and floor-area ratio (GRZ, GFZ, gross), built-over and floor "
            "area, how the storeys are known, street trees per hectare; computed by the platform "
            "(docs/districts.md, Land use).",
        ),
        (
            f"{collection}-infill",
            land_use.infill(caller, collection, None, None, None, None),
            f"Infill candidates in {collection}",
            "Blocks built on with a low floor-area ratio and a stop near, ranked, each with its reasons "
            "(German and English); a planner's first look, not a finding of what the plan allows "
            "(docs/districts.md, Land use).",
        ),
    )
    for target, document, title, description in documents:
        sources = []
        for n, feature in enumerate(document["features"]):
            properties = dict(feature["properties"])
            for k, reason in enumerate(properties.pop("reasons", [])):
                properties[f"reason_{k + 1}_en"] = reason["en"]
                properties[f"reason_{k + 1}_de"] = reason["de"]
            geometry = shapely.geometry.shape(feature["geometry"])
            sources.append(Source(n, str(feature["id"]), geometry, properties))
        built = build_rows(Path(target), sources, CRS84)
        info = CollectionInfo(target, title, description, keywords=["land use", "statistics"])
        reports.append(
            store_rows(
                land_use.profiles.engine, built, info, "OGC:CRS84", progress=False, delete_missing=True
            )
        )
    return reports
