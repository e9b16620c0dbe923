"""Heights for the buildings of an import that have none: estimated, and labelled as estimates.

Open building footprints (OpenStreetMap, many cadastres' footprint layers) carry a height or a
number of levels for only part of the buildings; the rest would be drawn at one flat default and
their floor area guessed blindly. An import can instead estimate each missing height from what the
same import knows, in this order, and say in the feature which way was taken:

1. **By type**, for a building whose type is specific (a garage, a house, apartments — the value of
   `type_property`, OSM's `building` tag by default): the median height of the buildings of that
   type in the import that have one, when there are at least `min_type_sample` of them.
2. **By a typical height** of the type (`TYPICAL_HEIGHTS_M`), for a specific type too rare in the
   import to have a median: small ancillary buildings that are one storey by definition.
3. **By the neighbours**, for a building of a generic type ("yes") or of a type with neither: the
   median height of the buildings with a height whose footprint centroids lie within `radius_m`
   (at least `min_neighbours` of them). Buildings of a street block are mostly of one age and
   height (the perimeter blocks of German inner cities), which is what makes this the best guess.
4. **By the median of the import**, when nothing nearer is known.

A height a building already has (tagged, or derived by the importer from its levels) is never
changed. Each estimated feature gets `height_source` = "estimated: …" naming the method and its
sample, `height_estimated` = true and `height_estimate_m`; the store's height column (which vector
tiles extrude) takes the estimate. The importer's own height properties (`height_m`, say) are left
alone, so a reader can always tell a measured height from an estimate.

Written here rather than taken from a library: the estimate is three medians and one radius search
(shapely's STRtree), and no package keeps this labelling of how each height came about.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from statistics import median
from typing import Any

import numpy as np
import shapely
from pyproj import Transformer

from urbantwin.geometry import metric_crs
from urbantwin.ingest.pipeline import Row

#: Types that say only "a building": their height is taken from the neighbours, not from the type.
GENERIC_TYPES = frozenset({"", "yes", "building", "true", "1"})

#: Typical heights (m) of one-storey ancillary buildings, for a type too rare in an import to have a
#: median of its own: one storey of ~2.5–3 m with its roof (garages and sheds are single-storey by
#: definition of the OSM building types; an allotment garden's hut is limited to one storey by the
#: German Bundeskleingartengesetz, § 3 (2), 24 m² with a covered terrace).
TYPICAL_HEIGHTS_M: dict[str, float] = {
    "garage": 3.0,
    "garages": 3.0,
    "carport": 2.5,
    "shed": 2.5,
    "hut": 2.5,
    "cabin": 3.0,
    "allotment_house": 3.0,
    "kiosk": 3.0,
    "roof": 4.0,
    "toilets": 3.0,
    "transformer_tower": 6.0,
}


@dataclass(frozen=True)
class HeightEstimate:
    """How an import estimates the heights its buildings lack (see the module's text)."""

    #: The property that holds a building's type.
    type_property: str = "building"
    #: The radius (m) within which neighbours count, centroid to centroid.
    radius_m: float = 100.0
    #: Buildings of a type with a height needed for the type's median to be used.
    min_type_sample: int = 5
    #: Neighbours with a height needed for their median to be used.
    min_neighbours: int = 3
    typical_heights_m: dict[str, float] = field(default_factory=lambda: dict(TYPICAL_HEIGHTS_M))


@dataclass
class HeightReport:
    """How many heights were estimated, per method ("type", "typical", "neighbours", "import")."""

    known: int = 0
    estimated: Counter[str] = field(default_factory=Counter)
    #: Features that are not areas (points, lines) or have no geometry: not buildings to estimate.
    not_areas: int = 0

    def summary(self) -> str:
        if not self.estimated:
            return f"no height estimated ({self.known} known)"
        parts = ", ".join(f"{n} by {method}" for method, n in sorted(self.estimated.items()))
        return f"{sum(self.estimated.values())} heights estimated ({parts}; {self.known} known)"


def estimate_heights(rows: Sequence[Row], rule: HeightEstimate | None = None) -> HeightReport:
    """Give every polygonal row without a height an estimated one, labelled; see the module's text."""
    rule = rule or HeightEstimate()
    report = HeightReport()
    geometries = shapely.from_wkb(np.array([row.wkb for row in rows], dtype=object))
    polygonal = np.isin(shapely.get_type_id(geometries), (3, 6))  # Polygon, MultiPolygon (None: -1)
    report.not_areas = int((~polygonal).sum())
    known = np.array([row.height is not None and polygonal[i] for i, row in enumerate(rows)], dtype=bool)
    report.known = int(known.sum())
    missing = np.flatnonzero(polygonal & ~known)
    if not len(missing) or not report.known:
        return report
    heights = np.array([row.height if k else np.nan for row, k in zip(rows, known, strict=True)], dtype=float)
    types = [_type(row.properties.get(rule.type_property)) for row in rows]
    by_type: dict[str, list[float]] = {}
    for i in np.flatnonzero(known):
        by_type.setdefault(types[i], []).append(float(heights[i]))
    centroids = _metric_centroids(geometries, polygonal)
    known_index = np.flatnonzero(known)
    tree = shapely.STRtree(centroids[known_index])
    overall = float(np.median(heights[known_index]))
    near_pairs = tree.query(centroids[missing], predicate="dwithin", distance=rule.radius_m)
    neighbours: dict[int, list[int]] = {}
    for which, hit in zip(near_pairs[0], near_pairs[1], strict=True):
        neighbours.setdefault(int(missing[which]), []).append(int(known_index[hit]))
    type_medians = {kind: median(sample) for kind, sample in by_type.items()}
    for i in missing:
        kind = types[i]
        specific = kind not in GENERIC_TYPES
        sample = by_type.get(kind, []) if specific else []
        near = neighbours.get(int(i), [])
        if specific and len(sample) >= rule.min_type_sample:
            value, method = type_medians[kind], "type"
            label = f"estimated: median height of the {len(sample)} '{kind}' buildings with a height"
        elif specific and kind in rule.typical_heights_m:
            value, method = rule.typical_heights_m[kind], "typical"
            label = f"estimated: typical height of a one-storey '{kind}'"
        elif len(near) >= rule.min_neighbours:
            value, method = float(np.median(heights[near])), "neighbours"
            label = (
                f"estimated: median height of the {len(near)} buildings with a height "
                f"within {rule.radius_m:g} m"
            )
        else:
            value, method = overall, "import"
            label = f"estimated: median height of the {report.known} buildings of the import with a height"
        value = round(float(value), 1)
        row = rows[int(i)]
        row.height = value
        row.properties = {
            **row.properties,
            "height_estimate_m": value,
            "height_estimated": True,
            "height_source": label,
        }
        report.estimated[method] += 1
    return report


def _type(value: Any) -> str:
    return str(value).strip().lower() if value is not None else ""


def _metric_centroids(geometries: np.ndarray, polygonal: np.ndarray) -> np.ndarray:
    """The footprints' centroids in metres (the UTM zone of the data), so a radius is a distance."""
    centroids = np.array([shapely.Point(0, 0)] * len(geometries), dtype=object)
    centroids[polygonal] = shapely.centroid(geometries[polygonal])
    west, south, east, north = shapely.total_bounds(centroids[polygonal])
    transformer = Transformer.from_crs(
        "EPSG:4326", metric_crs((west + east) / 2.0, (south + north) / 2.0), always_xy=True
    )

    def project(coords: np.ndarray) -> np.ndarray:
        x, y = transformer.transform(coords[:, 0], coords[:, 1])
        return np.column_stack([x, y])

    return shapely.transform(centroids, project)


__all__ = ["GENERIC_TYPES", "TYPICAL_HEIGHTS_M", "HeightEstimate", "HeightReport", "estimate_heights"]
