"""Where people are on the coverage grid, and what the coverage means per district.

A district's residents (the city profile's population property) are placed on its residential
buildings in proportion to their floor area (footprint × storeys, storeys = height / 3 m) where the
city model knows them, else spread evenly over the district's area. "Knows them" is decided per
district: its residential floor area must reach `min_floor_m2_per_person` per resident (default
10 m², a quarter of the German average living space of about 47 m² per person, Destatis 2022), so a
district of which the city model holds a few edge buildings is spread rather than crammed into
them. A building's people are spread over the cells whose centres lie in its footprint (a footprint
without one gives them to the cell of its representative point).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely

from urbantwin.infrastructure.raster import Grid, polygon_index
from urbantwin.infrastructure.vocabulary import PLACEMENTS

#: Metres per storey when the floor area is taken from a building's height.
STOREY_M = 3.0
#: Floor area per resident below which a district's buildings are not taken to hold its people.
MIN_FLOOR_M2_PER_PERSON = 10.0


@dataclass(frozen=True)
class District:
    name: str
    polygon: shapely.Geometry
    population: float


@dataclass(frozen=True)
class Building:
    footprint: shapely.Geometry
    height_m: float
    residential: bool


@dataclass
class People:
    """People per cell, the district each cell's centre lies in (−1: none) and how each district's
    people were placed."""

    grid: Grid
    per_cell: np.ndarray
    district: np.ndarray
    placement: list[str]


def place_people(
    grid: Grid,
    districts: Sequence[District],
    buildings: Sequence[Building],
    *,
    min_floor_m2_per_person: float = MIN_FLOOR_M2_PER_PERSON,
) -> People:
    people = np.zeros((grid.ny, grid.nx))
    district_of_cell = polygon_index(grid, [d.polygon for d in districts])
    homes = [b for b in buildings if b.residential and b.footprint is not None and not b.footprint.is_empty]
    placement: list[str] = []
    home_district = np.full(len(homes), -1, dtype=np.int64)
    floor = np.zeros(len(homes))
    if homes and districts:
        points = shapely.point_on_surface(np.asarray([b.footprint for b in homes], dtype=object))
        tree = shapely.STRtree(np.asarray([d.polygon for d in districts], dtype=object))
        home, district = tree.query(points, predicate="intersects")
        home_district[home[::-1]] = district[::-1]
        floor = shapely.area(np.asarray([b.footprint for b in homes], dtype=object)) * np.maximum(
            1.0, np.round(np.asarray([b.height_m for b in homes]) / STOREY_M)
        )
    share = np.zeros(len(homes))
    for i, d in enumerate(districts):
        mine = home_district == i
        total_floor = float(floor[mine].sum())
        if d.population > 0 and total_floor >= min_floor_m2_per_person * d.population:
            share[mine] = d.population * floor[mine] / total_floor
            placement.append("buildings")
        else:
            # spread over the district's area: the cells whose centres are in it, by area
            area = float(d.polygon.area)
            if area > 0:
                people[district_of_cell == i] += d.population * grid.resolution**2 / area
            placement.append("spread")
    chosen = share > 0
    if chosen.any():
        footprints = [b.footprint for b, c in zip(homes, chosen, strict=True) if c]
        weights = share[chosen]
        cell_home = polygon_index(grid, footprints).ravel()
        counts = np.bincount(cell_home[cell_home >= 0], minlength=len(footprints))
        flat = people.ravel()
        inside = cell_home >= 0
        flat[inside] += weights[cell_home[inside]] / counts[cell_home[inside]]
        # footprints smaller than a cell that hold no centre: their cell by a representative point
        small = np.flatnonzero(counts == 0)
        if small.size:
            points = shapely.point_on_surface(np.asarray([footprints[k] for k in small], dtype=object))
            row, col, ok = grid.cell_of(shapely.get_x(points), shapely.get_y(points))
            np.add.at(people, (row[ok], col[ok]), weights[small][ok])
    return People(grid, people, district_of_cell, placement)


def district_table(
    districts: Sequence[District], people: People, covered: np.ndarray
) -> list[dict[str, Any]]:
    """Per district: its cells in the grid, the covered share of them (area), the people in the
    grid and those covered."""
    cell_area = people.grid.resolution**2
    out = []
    for i, d in enumerate(districts):
        mine = people.district == i
        cells = int(mine.sum())
        if not cells:
            continue
        here = float(people.per_cell[mine].sum())
        reached = float(people.per_cell[mine & covered].sum())
        covered_cells = int((mine & covered).sum())
        out.append(
            {
                "name": d.name,
                "population": d.population,
                "placement": people.placement[i],
                "placement_label": PLACEMENTS[people.placement[i]],
                "area_km2": round(cells * cell_area / 1e6, 4),
                "covered_area_km2": round(covered_cells * cell_area / 1e6, 4),
                "covered_area_share": round(covered_cells / cells, 4),
                "population_in_area": round(here, 1),
                "covered_population": round(reached, 1),
                "covered_population_share": round(reached / here, 4) if here > 0 else None,
            }
        )
    return out
