"""Access to public transport: where residents live, how far the nearest good stop is, and the Swiss
public-transport quality classes (ÖV-Güteklassen).

**Residents are placed** per district of the city's finest district collection: on the residential
floor area of its buildings (each building's share of the district's floor area, at its
point-on-surface) when the buildings there hold at least `MIN_FLOOR_M2_PER_RESIDENT` of floor area
per resident — else the buildings' data is taken as incomplete there, and the residents are spread
evenly over the district's area (a regular grid of at most `SPREAD_POINTS` points). Each district's
result names the method used (`buildings` or `area`).

**Distance** is the straight line between a resident's point and the stop, in the city's metric CRS;
the walking distance is that times a detour factor (`DETOUR_FACTOR`, a parameter), until the
platform has a street network to route on.

**ÖV-Güteklassen** (Bundesamt für Raumentwicklung ARE, *ÖV-Güteklassen. Berechnungsmethodik ARE*,
Grundlagenbericht, Bern 2022): a stop's category follows from the mode group serving it and its
interval between departures on a weekday 06:00–20:00 (the departures of both directions halved,
840 minutes divided by them), `CATEGORIES`; a place's class from the stop categories within
300, 500, 750 and 1,000 m (straight-line, as the method defines them), `CLASSES`; the best class
of any stop counts. Mode groups: A railways (rail, S-Bahn, metro), B trams (and funiculars), C
buses, trolleybuses, ferries and aerial lifts. The method classes stations, not platforms: a GTFS
station's platforms count together.

Everything is numpy and shapely's STRtree over arrays: 100,000 resident points against 10,000 stops
are a handful of nearest-neighbour queries (see bench/README.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import shapely

#: Walking distance ÷ straight-line distance assumed (a common planning assumption for an urban
#: street grid); a parameter of every request.
DETOUR_FACTOR = 1.2
#: Floor area per resident (m²) below which a district's buildings are taken as incomplete: Germans
#: live on some 47 m² of living space each (Destatis 2022), about 60 m² of gross floor area; a third
#: of that means most of the district's buildings are missing from the data.
MIN_FLOOR_M2_PER_RESIDENT = 20.0
#: Most points a district's residents are spread over when they are spread over its area.
SPREAD_POINTS = 400
#: Metres per storey when a building's storeys are derived from its height.
STOREY_M = 3.0
#: The radii of the shares (metres of walking distance).
RADII = (300, 500)

#: The mode groups of the ARE method by the platform's modes (`urbantwin.transit.feed.route_mode`).
MODE_GROUPS = {
    "rail": "A",
    "subway": "A",
    "monorail": "A",
    "light_rail": "A",
    "tram": "B",
    "cable_tram": "B",
    "funicular": "B",
    "bus": "C",
    "trolleybus": "C",
    "ferry": "C",
    "aerial_lift": "C",
}
#: Upper bounds of the interval bands (minutes) of the stop categories: under 5, 5–9, 10–19, 20–39,
#: 40–60 and 61–120 minutes (the bounds 60 and 120 included) ...
INTERVAL_BANDS = (5.0, 10.0, 20.0, 40.0, 60.0, 120.0)
_INCLUSIVE = {60.0: 4, 120.0: 5}
#: ... and the category (1 = I … 7 = VII) per band and mode group (ARE 2022, table 1).
CATEGORIES = {
    "A": (1, 1, 2, 3, 4, 5),
    "B": (1, 2, 3, 4, 5, 6),
    "C": (2, 3, 4, 5, 6, 7),
}
#: Upper bounds (metres, inclusive) of the distance bands of the classes ...
DISTANCE_BANDS = (300.0, 500.0, 750.0, 1000.0)
#: ... and the class (A–D; "" none) per stop category and band (ARE 2022, table 2).
CLASSES: dict[int, tuple[str, ...]] = {
    1: ("A", "A", "B", "C"),
    2: ("A", "B", "C", "D"),
    3: ("B", "C", "D", ""),
    4: ("C", "D", "", ""),
    5: ("D", "", "", ""),
    6: ("", "", "", ""),
    7: ("", "", "", ""),
}
CLASS_NAMES = ("A", "B", "C", "D")
ROMAN = ("", "I", "II", "III", "IV", "V", "VI", "VII")
#: The hours of the ARE method's day window (06:00–20:00).
WINDOW_HOURS = 14.0


def storeys(levels: np.ndarray, heights: np.ndarray) -> np.ndarray:
    """Storeys per building: its levels where known, else its height ÷ 3 m (at least 1), else NaN."""
    from_height = np.where(heights > 0, np.maximum(1.0, np.round(heights / STOREY_M)), np.nan)
    return np.where(levels > 0, levels, from_height)


@dataclass
class Residents:
    """Points where residents live (metric CRS), how many each stands for, and per district of the
    collection they were placed on the method (`buildings` or `area`)."""

    points: np.ndarray
    weights: np.ndarray
    district: np.ndarray
    methods: list[str]


def place_residents(
    districts: np.ndarray,
    population: np.ndarray,
    building_points: np.ndarray,
    floor_area: np.ndarray,
) -> Residents:
    """Residents of each district (`population`, NaN or 0: none) on the floor area of the buildings
    inside it, else spread over its area (module docstring)."""
    count = len(districts)
    home = np.full(len(building_points), -1)
    if count and len(building_points):
        tree = shapely.STRtree(districts)
        inside, where = tree.query(building_points, predicate="within")
        home[inside] = where
    valid = home >= 0
    floor = np.bincount(home[valid], weights=floor_area[valid], minlength=count) if count else np.zeros(0)
    points: list[np.ndarray] = []
    weights: list[np.ndarray] = []
    owner: list[np.ndarray] = []
    methods: list[str] = []
    for n in range(count):
        people = float(population[n]) if np.isfinite(population[n]) else 0.0
        if people <= 0:
            methods.append("none")
            continue
        if floor[n] >= MIN_FLOOR_M2_PER_RESIDENT * people:
            mine = np.flatnonzero(valid & (home == n))
            share = floor_area[mine] / floor[n]
            points.append(building_points[mine])
            weights.append(people * share)
            methods.append("buildings")
        else:
            spread = spread_points(districts[n])
            points.append(spread)
            weights.append(np.full(len(spread), people / len(spread)))
            methods.append("area")
        owner.append(np.full(len(points[-1]), n))
    if not points:
        return Residents(np.array([], dtype=object), np.zeros(0), np.zeros(0, dtype=int), methods)
    return Residents(np.concatenate(points), np.concatenate(weights), np.concatenate(owner), methods)


def spread_points(polygon: shapely.Geometry, most: int = SPREAD_POINTS) -> np.ndarray:
    """Points of a regular grid inside the polygon (at most about `most`), else its
    point-on-surface: residents spread evenly over a district's area."""
    area = shapely.area(polygon)
    if not area > 0:
        return np.array([shapely.point_on_surface(polygon)], dtype=object)
    step = max(10.0, float(np.sqrt(area / most)))
    west, south, east, north = shapely.bounds(polygon)
    xs = np.arange(west + step / 2, east, step)
    ys = np.arange(south + step / 2, north, step)
    gx, gy = (a.ravel() for a in np.meshgrid(xs, ys))
    inside = shapely.contains_xy(polygon, gx, gy)
    if not inside.any():
        return np.array([shapely.point_on_surface(polygon)], dtype=object)
    return shapely.points(gx[inside], gy[inside])


def nearest_distance(points: np.ndarray, stops: np.ndarray) -> np.ndarray:
    """Straight-line distance from each point to the nearest of `stops` (inf when there are none)."""
    out = np.full(len(points), np.inf)
    if len(points) and len(stops):
        tree = shapely.STRtree(stops)
        (point_index, _), distance = tree.query_nearest(points, return_distance=True, all_matches=False)
        out[point_index] = distance
    return out


def stop_categories(by_mode: np.ndarray, modes: Sequence[str]) -> np.ndarray:
    """The ARE stop category (1–7; 0: none) of each stop from its departures 06:00–20:00 per mode:
    per mode group, the interval 840 min ÷ (departures ÷ 2); the best category of its groups."""
    best = np.zeros(len(by_mode), dtype=int)
    for group, categories in CATEGORIES.items():
        columns = [i for i, mode in enumerate(modes) if MODE_GROUPS.get(mode) == group]
        if not columns:
            continue
        departures = by_mode[:, columns].sum(axis=1)
        with np.errstate(divide="ignore"):
            interval = np.where(departures > 0, WINDOW_HOURS * 60.0 / (departures / 2.0), np.inf)
        band = np.searchsorted(np.asarray(INTERVAL_BANDS), interval, side="right")
        for bound, index in _INCLUSIVE.items():
            band = np.where(interval == bound, index, band)
        table = np.asarray((*categories, 0))
        category = table[np.minimum(band, len(INTERVAL_BANDS))]
        better = (category > 0) & ((best == 0) | (category < best))
        best = np.where(better, category, best)
    return best


def quality_classes(points: np.ndarray, stops: np.ndarray, categories: np.ndarray) -> np.ndarray:
    """The class of each point, 1 = A … 4 = D and 0 for none: the best over the stop categories of
    the class its nearest stop of that category gives (straight-line distance, ARE table 2)."""
    best = np.zeros(len(points), dtype=int)
    bands = np.asarray(DISTANCE_BANDS)
    for category, classes in CLASSES.items():
        if not any(classes):
            continue
        distance = nearest_distance(points, stops[categories == category])
        band = np.searchsorted(bands, distance, side="left")
        table = np.asarray([CLASS_NAMES.index(c) + 1 if c else 0 for c in classes] + [0])
        found = table[np.minimum(band, len(classes))]
        better = (found > 0) & ((best == 0) | (found < best))
        best = np.where(better, found, best)
    return best


@dataclass
class AccessFigures:
    """Per district of a collection: residents counted, their shares within each radius of a stop
    with enough departures, and their shares per quality class."""

    residents: np.ndarray
    within: dict[int, np.ndarray]
    classes: dict[str, np.ndarray]


def access_figures(
    residents: Residents,
    target: np.ndarray,
    good_stops: np.ndarray,
    detour: float,
    stops: np.ndarray | None = None,
    categories: np.ndarray | None = None,
) -> AccessFigures:
    """Aggregate the resident points into the districts `target` (polygons, metric CRS): residents,
    shares within `RADII` of `good_stops` (walking distance: straight line × `detour`) and, when the
    stops' categories are given, shares per ARE class."""
    count = len(target)
    home = np.full(len(residents.points), -1)
    if count and len(residents.points):
        inside, where = shapely.STRtree(target).query(residents.points, predicate="within")
        # a point on the border of two districts counts once, for the first
        order = np.argsort(inside, kind="stable")[::-1]
        home[inside[order]] = where[order]
    valid = home >= 0
    weights = residents.weights[valid]
    owner = home[valid]

    def total(mask: np.ndarray) -> np.ndarray:
        return np.bincount(owner[mask], weights=weights[mask], minlength=count)

    people = total(np.ones(len(owner), dtype=bool))
    walk = nearest_distance(residents.points[valid], good_stops) * detour
    within = {radius: total(walk <= radius) for radius in RADII}
    classes: dict[str, np.ndarray] = {}
    if stops is not None and categories is not None:
        found = quality_classes(residents.points[valid], stops, categories)
        for n, name in enumerate(CLASS_NAMES, start=1):
            classes[name] = total(found == n)
        classes["none"] = total(found == 0)
    return AccessFigures(people, within, classes)
