"""Rays through a hand-made block: walls and length inside a building, heights against the ray,
cells rasterised from footprints, and a site's coverage with the building's shadow."""

from __future__ import annotations

import numpy as np
import pytest
import shapely

from urbantwin.infrastructure.radio import BANDS
from urbantwin.infrastructure.raster import Grid, Obstacles, Transmitter, coverage, polygon_index, trace

#: A 100 m × 100 m area at 1 m with one building 20 m wide (x 40..60, y 20..80), 10 m tall.
GRID = Grid(0.0, 0.0, 1.0, 100, 100)
BLOCK = shapely.box(40, 20, 60, 80)


def obstacles(height: float = 10.0) -> Obstacles:
    return Obstacles.of(GRID, [BLOCK], [height])


def test_footprints_are_rasterised_by_cell_centres() -> None:
    grid = Grid(0.0, 0.0, 10.0, 4, 3)
    # centres at x = 5, 15, 25, 35 and y = 5, 15, 25: the first box holds (15, 15) and (25, 15),
    # the second (25, 15), (35, 15), (25, 25), (35, 25); where both do, the first wins
    index = polygon_index(grid, [shapely.box(12, 12, 28, 18), shapely.box(22, 12, 38, 28)])
    assert index.tolist() == [[-1, -1, -1, -1], [-1, 0, 0, 1], [-1, -1, 1, 1]]


def test_a_low_ray_crosses_two_walls_and_the_building() -> None:
    rays = trace(obstacles(), (10.0, 50.0), 4.0, np.array([90.0]), np.array([50.0]), 1.5)
    assert rays.distance[0] == pytest.approx(80.0)
    assert rays.walls[0] == 2
    # 20 m of the 80 m lie inside, to within a sample (80 m in 80 pieces: 81 samples of 80/81 m)
    assert rays.inside_m[0] == pytest.approx(20.0, abs=1.5)


def test_a_ray_above_the_roof_is_free() -> None:
    # from 30 m down to 1.5 m over 80 m: at x = 60 (5/8 of the way) the ray is at 30 − 28.5 · 0.625
    # = 12.2 m, above the 10 m roof; at x = 40 it is at 19.3 m
    rays = trace(obstacles(), (10.0, 50.0), 30.0, np.array([90.0]), np.array([50.0]), 1.5)
    assert (rays.walls[0], rays.inside_m[0]) == (0, 0.0)
    # a 15 m building stops the same ray (12.2 m < 15 m at its far wall)
    rays = trace(obstacles(15.0), (10.0, 50.0), 30.0, np.array([90.0]), np.array([50.0]), 1.5)
    assert rays.walls[0] == 2


def test_a_receiver_inside_is_behind_one_wall() -> None:
    rays = trace(obstacles(), (10.0, 50.0), 4.0, np.array([50.0, 30.0]), np.array([50.0, 50.0]), 1.5)
    assert rays.walls.tolist() == [1, 0]
    assert rays.inside_m[0] == pytest.approx(10.0, abs=1.0)
    assert rays.inside_m[1] == 0.0


def test_coverage_of_one_site_with_the_buildings_shadow() -> None:
    # a band that reaches 30 m in the open, and loses more than its whole budget in one wall
    band = BANDS["wlan-2.4"].with_changes(eirp_dbm=0.0)
    band = band.with_changes(threshold_dbm=band.eirp_dbm - float(band.loss(30.0)))
    assert band.reach_m() == pytest.approx(30.0)
    assert band.wall_db > 0
    site = Transmitter("a", 35.0, 50.0, 4.0)
    open_field = coverage(GRID, Obstacles.of(GRID, [], []), band, [site])
    xs, ys = GRID.centres()
    within = np.hypot(xs - 35.0, ys - 50.0) <= 30.0
    assert np.array_equal(open_field.covered, within)
    assert open_field.servers.max() == 1

    shadowed = coverage(GRID, obstacles(), band, [site])
    # every cell in or behind the building is lost (a wall costs more than the 0..30 m margin left)
    lost = within & ~shadowed.covered
    assert lost[50, 55] and lost[50, 62] and lost[30, 45]
    # the cells on the site's side of the building stay covered
    assert shadowed.covered[50, 36] and shadowed.covered[50, 39] and shadowed.covered[75, 35]
    assert not (shadowed.covered & ~within).any()
    # two sites: the cells both cover count two servers
    both = coverage(GRID, Obstacles.of(GRID, [], []), band, [site, Transmitter("b", 45.0, 50.0, 4.0)])
    assert both.servers[50, 40] == 2 and both.servers[50, 10] == 1
