"""The coverage model on a metric grid: buildings rasterised as obstacles, rays traced from every
site to every cell in its reach, the best server's received power per cell.

Everything is in a metric CRS (metres). The buildings are rasterised once (a cell is a building's
where its centre lies in the footprint; STRtree of shapely); a ray from an antenna to a receiver is
sampled every `step` metres, and at each sample the building there obstructs when it is taller than
the ray at that point (heights vs antenna heights). Along the ray, the changes between free and
obstructed samples are the outer walls crossed, and the obstructed samples times their spacing the
length inside buildings — the obstruction term of `radio.Band.loss`. All of it is numpy over arrays
of (rays × samples), in chunks that bound the memory, which is what makes a district at 10 m with
hundreds of sites take seconds (bench/radio_coverage.py).

Why not shapely's intersections of each ray with each footprint: exact, but one GEOS call per ray
and building — tens of millions for a district — where the raster makes it one array lookup per
sample; the raster's error is half its resolution per wall, and its resolution is a parameter.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import shapely

from urbantwin.infrastructure.radio import Band

#: Rays × samples traced at once (bounds the memory of a trace to some hundred MB).
CHUNK = 2_000_000


@dataclass(frozen=True)
class Grid:
    """A regular grid of square cells: the lower-left corner (`x0`, `y0`), the cell size and the
    number of columns and rows. Cell (row, col) has its centre at (x0 + (col + ½)·r, y0 + (row + ½)·r)."""

    x0: float
    y0: float
    resolution: float
    nx: int
    ny: int

    @classmethod
    def covering(cls, bounds: Sequence[float], resolution: float) -> Grid:
        minx, miny, maxx, maxy = bounds
        nx = max(1, math.ceil((maxx - minx) / resolution))
        ny = max(1, math.ceil((maxy - miny) / resolution))
        return cls(float(minx), float(miny), float(resolution), nx, ny)

    @property
    def size(self) -> int:
        return self.nx * self.ny

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        r = self.resolution
        return self.x0, self.y0, self.x0 + self.nx * r, self.y0 + self.ny * r

    def centres(self) -> tuple[np.ndarray, np.ndarray]:
        """x and y of every cell's centre, each of shape (ny, nx)."""
        r = self.resolution
        xs = self.x0 + (np.arange(self.nx) + 0.5) * r
        ys = self.y0 + (np.arange(self.ny) + 0.5) * r
        return np.meshgrid(xs, ys)

    def cell_of(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(row, col, inside) of points: the cell they fall in, and whether that is in the grid."""
        col = np.floor((np.asarray(x) - self.x0) / self.resolution).astype(np.int64)
        row = np.floor((np.asarray(y) - self.y0) / self.resolution).astype(np.int64)
        inside = (col >= 0) & (col < self.nx) & (row >= 0) & (row < self.ny)
        return row, col, inside

    def boxes(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """The cells as shapely boxes."""
        r = self.resolution
        x = self.x0 + cols * r
        y = self.y0 + rows * r
        return shapely.box(x, y, x + r, y + r)


def polygon_index(grid: Grid, polygons: Sequence[shapely.Geometry]) -> np.ndarray:
    """For each cell, the index of the polygon its centre lies in (the first where they overlap),
    −1 for none. Each polygon is tested only against the cell centres within its bounds, all
    pairs in one vectorised `contains_xy` of shapely."""
    out = np.full((grid.ny, grid.nx), -1, dtype=np.int64)
    if not len(polygons):
        return out
    geoms = np.asarray(polygons, dtype=object)
    shapely.prepare(geoms)
    r = grid.resolution
    bounds = shapely.bounds(geoms)
    c0 = np.clip(np.ceil((bounds[:, 0] - grid.x0) / r - 0.5), 0, grid.nx).astype(np.int64)
    c1 = np.clip(np.floor((bounds[:, 2] - grid.x0) / r - 0.5) + 1, 0, grid.nx).astype(np.int64)
    r0 = np.clip(np.ceil((bounds[:, 1] - grid.y0) / r - 0.5), 0, grid.ny).astype(np.int64)
    r1 = np.clip(np.floor((bounds[:, 3] - grid.y0) / r - 0.5) + 1, 0, grid.ny).astype(np.int64)
    width = np.maximum(c1 - c0, 0)
    height = np.maximum(r1 - r0, 0)
    count = width * height
    # polygons in reverse order, so that where footprints overlap the first one is written last
    for block in np.array_split(np.arange(len(geoms))[::-1], max(1, int(count.sum()) // 5_000_000 + 1)):
        n = count[block]
        if not n.sum():
            continue
        poly = np.repeat(block, n)
        k = np.arange(int(n.sum())) - np.repeat(np.cumsum(n) - n, n)
        w = width[poly]
        col = c0[poly] + k % np.maximum(w, 1)
        row = r0[poly] + k // np.maximum(w, 1)
        inside = shapely.contains_xy(geoms[poly], grid.x0 + (col + 0.5) * r, grid.y0 + (row + 0.5) * r)
        out[row[inside], col[inside]] = poly[inside]
    return out


@dataclass(frozen=True)
class Obstacles:
    """The buildings as a height raster (0 where there is none)."""

    grid: Grid
    heights: np.ndarray

    @classmethod
    def of(cls, grid: Grid, footprints: Sequence[shapely.Geometry], heights: Sequence[float]) -> Obstacles:
        index = polygon_index(grid, footprints)
        values = np.concatenate([np.asarray(heights, dtype=np.float32), [np.float32(0.0)]])
        return cls(grid, values[index])

    def height_at(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        row, col, inside = self.grid.cell_of(x, y)
        out = np.zeros(np.shape(x), dtype=float)
        out[inside] = self.heights[row[inside], col[inside]]
        return out


@dataclass(frozen=True)
class Rays:
    """What lies on each ray: its length, the outer walls it crosses and its length inside buildings."""

    distance: np.ndarray
    walls: np.ndarray
    inside_m: np.ndarray


def trace(
    obstacles: Obstacles,
    tx: tuple[float, float],
    tx_height: float,
    rx_x: np.ndarray,
    rx_y: np.ndarray,
    rx_height: float,
    step: float | None = None,
) -> Rays:
    """Trace rays from one antenna at `tx` (`tx_height` above ground) to receivers at (`rx_x`,
    `rx_y`), `rx_height` above ground. Each ray is sampled at both ends and at the ends of the
    ⌈d / step⌉ equal pieces between (`step`: the obstacles' resolution unless given), so an antenna
    or a receiver inside a building taller than itself is behind that building's wall; each sample
    stands for d / (pieces + 1) metres of the length inside buildings."""
    step = step or obstacles.grid.resolution
    rx_x = np.asarray(rx_x, dtype=float).ravel()
    rx_y = np.asarray(rx_y, dtype=float).ravel()
    dx, dy = rx_x - tx[0], rx_y - tx[1]
    distance = np.hypot(dx, dy)
    pieces = np.maximum(1, np.ceil(distance / step)).astype(np.int64)
    walls = np.zeros(distance.shape, dtype=np.int64)
    inside = np.zeros(distance.shape, dtype=float)
    # rays × samples per block at most CHUNK; rays of similar length together (sorted), so that a
    # block's samples beyond its rays' ends are few
    order = np.argsort(pieces, kind="stable")
    count = max(1, CHUNK // max(1, int(pieces.max(initial=1))))
    grid = obstacles.grid
    flat_heights = obstacles.heights.ravel()
    # positions in cells of the obstacle raster (float32: a cell index to within 1/1000 of a cell)
    fx0 = np.float32((tx[0] - grid.x0) / grid.resolution)
    fy0 = np.float32((tx[1] - grid.y0) / grid.resolution)
    wide = grid.size >= 2**31
    for start in range(0, distance.size, count):
        chosen = order[start : start + count]
        n = pieces[chosen][:, None]
        j = np.arange(int(n.max()) + 1, dtype=np.float32)[None, :]
        valid = j <= n
        t = j / n.astype(np.float32)
        col = (fx0 + (dx[chosen] / grid.resolution).astype(np.float32)[:, None] * t).astype(np.int32)
        row = (fy0 + (dy[chosen] / grid.resolution).astype(np.float32)[:, None] * t).astype(np.int32)
        np.clip(col, 0, grid.nx - 1, out=col)
        np.clip(row, 0, grid.ny - 1, out=row)
        index = row.astype(np.int64) * grid.nx + col if wide else row * np.int32(grid.nx) + col
        ray_height = np.float32(tx_height) + np.float32(rx_height - tx_height) * t
        blocked = flat_heights[index] > ray_height
        blocked &= valid
        changes = blocked[:, 1:] != blocked[:, :-1]
        changes &= valid[:, 1:]
        walls[chosen] = changes.sum(axis=1)
        inside[chosen] = blocked.sum(axis=1) * (distance[chosen] / (pieces[chosen] + 1))
    return Rays(distance, walls, inside)


@dataclass(frozen=True)
class Transmitter:
    id: str
    x: float
    y: float
    height_m: float


@dataclass
class Coverage:
    """The model's answer on a grid: the best received power per cell (dBm, −inf where no site
    reaches), the number of sites that cover each cell, and the band."""

    grid: Grid
    band: Band
    best_dbm: np.ndarray
    servers: np.ndarray

    @property
    def covered(self) -> np.ndarray:
        return self.servers > 0


def site_cells(grid: Grid, site: Transmitter, reach: float) -> tuple[np.ndarray, np.ndarray]:
    """Rows and columns of the cells whose centres lie within `reach` of the site."""
    r = grid.resolution
    c0 = max(0, math.floor((site.x - reach - grid.x0) / r))
    c1 = min(grid.nx, math.ceil((site.x + reach - grid.x0) / r) + 1)
    r0 = max(0, math.floor((site.y - reach - grid.y0) / r))
    r1 = min(grid.ny, math.ceil((site.y + reach - grid.y0) / r) + 1)
    if c0 >= c1 or r0 >= r1:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    rows, cols = np.mgrid[r0:r1, c0:c1]
    xc = grid.x0 + (cols + 0.5) * r
    yc = grid.y0 + (rows + 0.5) * r
    near = np.hypot(xc - site.x, yc - site.y) <= reach
    return rows[near], cols[near]


def site_power(
    grid: Grid, obstacles: Obstacles, band: Band, site: Transmitter, only: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(rows, cols, received dBm) of the cells within the band's reach of one site (−inf where a
    cell is known to be below the threshold without tracing its ray). `only`: a mask of the grid,
    the cells that matter (siting asks only for the cells of people not covered today)."""
    rows, cols = site_cells(grid, site, band.reach_m())
    if only is not None:
        keep = only[rows, cols]
        rows, cols = rows[keep], cols[keep]
    if not rows.size:
        return rows, cols, np.empty(0)
    r = grid.resolution
    x = grid.x0 + (cols + 0.5) * r
    y = grid.y0 + (rows + 0.5) * r
    free = band.received(np.hypot(x - site.x, y - site.y))
    power = np.full(rows.size, -np.inf)
    # A receiver inside a building is behind at least one wall: where even one wall takes the
    # link below the threshold, the cell is not covered and its ray need not be traced.
    indoor = obstacles.height_at(x, y) > band.receiver_m
    traced = ~(indoor & (free - band.wall_db < band.threshold_dbm))
    rays = trace(obstacles, (site.x, site.y), site.height_m, x[traced], y[traced], band.receiver_m)
    power[traced] = band.received(rays.distance, rays.walls, rays.inside_m)
    return rows, cols, power


def coverage(grid: Grid, obstacles: Obstacles, band: Band, sites: Sequence[Transmitter]) -> Coverage:
    """Best server and number of covering sites per cell."""
    best = np.full((grid.ny, grid.nx), -np.inf)
    servers = np.zeros((grid.ny, grid.nx), dtype=np.int32)
    for site in sites:
        rows, cols, power = site_power(grid, obstacles, band, site)
        # a site's cells are distinct: plain fancy indexing is exact
        best[rows, cols] = np.maximum(best[rows, cols], power)
        servers[rows, cols] += power >= band.threshold_dbm
    return Coverage(grid, band, best, servers)
