"""Coverage, gaps, siting and sensor reach from the store: the service behind
`/api/infrastructure/coverage`, `/siting` and `/lorawan/reach`. Knows no HTTP.

It reads what the caller may read — the sites of the registries (`sites.registry_query`), the city
model's buildings (footprints and heights), the districts of the city profile with their
population, the candidate carriers (any point collection) and the sensors — and runs the models of
`radio`, `raster`, `population` and `siting` on them in a metric CRS (the city profile's first CRS,
else the UTM zone of the area). A siting result is stored as a scenario: a catalogue dataset of its
own (`siting-<id>`, a model result with the access rules of the candidates' dataset) whose
collection holds the chosen sites with their gain.
"""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import shapely
from pyproj import CRS, Transformer
from pyproj.aoi import AreaOfInterest
from pyproj.database import query_utm_crs_info
from shapely.geometry import mapping as geojson_of
from sqlalchemy import Connection, Engine, select

from urbantwin.access.datasets import create_dataset
from urbantwin.access.gate import Access, Caller
from urbantwin.errors import BadRequest, NotFound
from urbantwin.infrastructure import siting
from urbantwin.infrastructure.population import (
    Building,
    District,
    People,
    district_table,
    place_people,
)
from urbantwin.infrastructure.radio import BANDS, DEFAULT_BAND, Band, Calibration, calibrate
from urbantwin.infrastructure.raster import (
    Coverage,
    Grid,
    Obstacles,
    Transmitter,
    coverage,
    site_power,
    trace,
)
from urbantwin.infrastructure.service import parse_bbox
from urbantwin.infrastructure.sites import registry_query, site_of
from urbantwin.infrastructure.vocabulary import SITING_METHODS
from urbantwin.ingest.pipeline import CollectionInfo, Row, store_rows_in
from urbantwin.settings import Settings
from urbantwin.store.access_schema import datasets
from urbantwin.store.city import read_profile
from urbantwin.store.engine import for_writes
from urbantwin.store.features_schema import collections, features
from urbantwin.store.infrastructure_schema import (
    infrastructure_registries,
    lorawan_receptions,
    lorawan_streams,
)
from urbantwin.store.schema import datastreams, locations, thing_locations
from urbantwin.store.spatial import bbox_overlaps

API = "infrastructure"
#: Cells of a grid at most (a 20 km × 20 km area at 10 m).
MAX_CELLS = 4_000_000
#: Cells a map (gaps, covered area) may be drawn from at most.
MAX_MAP_CELLS = 500_000
#: The finest and coarsest grid, m.
MIN_RESOLUTION, MAX_RESOLUTION = 1.0, 1000.0
#: Sites, candidates or sensors in one request at most.
MAX_POINTS = 20_000
#: Ray samples a request may trace at most (a few tens of seconds on one core): the bound of its time.
MAX_SAMPLES = 2_000_000_000
#: New sites at most, and at most for the exact programme.
MAX_K, MAX_EXACT_K = 200, 50
#: OSM `building=*` values of homes (the OpenStreetMap wiki, Key:building, "Accommodation").
RESIDENTIAL = frozenset(
    {
        "residential",
        "apartments",
        "house",
        "detached",
        "semidetached_house",
        "terrace",
        "dormitory",
        "bungalow",
        "farm",
        "cabin",
        "static_caravan",
    }
)
#: The height of a building the city model gives none for, m (three storeys of 3 m).
DEFAULT_BUILDING_M = 9.0
NOTE = {
    "de": "Modellergebnis: logarithmische Streckendämpfung mit Gebäudedämpfung (docs/infrastructure.md)",
    "en": "Model result: log-distance path loss with building obstruction (docs/infrastructure.md)",
}


@dataclass(frozen=True)
class Options:
    """What a coverage, siting or reach request asks for."""

    band: str | None = None
    technology: str | None = None
    resolution: float = 10.0
    bbox: tuple[float, float, float, float] | None = None
    buildings: str = "buildings"
    districts: str | None = None
    registry: tuple[str, ...] = ()


@dataclass
class Scene:
    """The area in a metric CRS with what the models need."""

    band: Band
    grid: Grid
    obstacles: Obstacles
    people: People
    districts: list[District]
    sites: list[Transmitter]
    to_metric: Transformer
    to_lonlat: Transformer
    bbox: tuple[float, float, float, float]
    #: The area and the band's reach around it (at most 5 km), WGS 84: where sites can matter.
    reach_bbox: tuple[float, float, float, float]
    datasets: set[str | None]
    seconds: dict[str, float]


def bands() -> list[dict[str, Any]]:
    """The bands the model knows, with their parameters and sources."""
    return [band.document() for band in BANDS.values()]


def band_of(options: Options) -> Band:
    if options.band:
        if options.band not in BANDS:
            raise BadRequest(f"band {options.band!r} is not known; known: {', '.join(BANDS)}")
        return BANDS[options.band]
    if options.technology:
        if options.technology not in DEFAULT_BAND:
            raise BadRequest(
                f"technology {options.technology!r} is not known; known: {', '.join(DEFAULT_BAND)}"
            )
        return BANDS[DEFAULT_BAND[options.technology]]
    raise BadRequest(f"give a band ({', '.join(BANDS)}) or a technology")


def check_resolution(resolution: float) -> float:
    if not (MIN_RESOLUTION <= resolution <= MAX_RESOLUTION) or math.isnan(resolution):
        raise BadRequest(
            f"resolution must be between {MIN_RESOLUTION:g} and {MAX_RESOLUTION:g} m, not {resolution}"
        )
    return float(resolution)


def metric_crs(profile_crs: Sequence[str], bbox: tuple[float, float, float, float]) -> CRS:
    """The city's first CRS when it is metric, else the UTM zone of the area's middle."""
    for name in profile_crs[:1]:
        crs = CRS.from_user_input(name)
        if crs.is_projected and crs.axis_info and crs.axis_info[0].unit_name in ("metre", "meter"):
            return crs
    west, south, east, north = bbox
    found = query_utm_crs_info(
        datum_name="WGS 84",
        area_of_interest=AreaOfInterest(west, south, east, north),
    )
    return CRS.from_epsg(found[0].code)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


class CoveragePlanner:
    def __init__(self, engine: Engine, settings: Settings, access: Access) -> None:
        self.engine = engine
        self.settings = settings
        self.access = access

    # --- reading the store ----------------------------------------------------------------------------

    def _collection(self, caller: Caller, connection: Connection, collection: str, what: str) -> str | None:
        row = connection.execute(
            select(collections.c.dataset_id).where(collections.c.id == collection)
        ).first()
        if row is None:
            raise NotFound(f"no {what} collection {collection!r}")
        self.access.require_readable(
            caller, row.dataset_id, f"{what} collection {collection!r}", API, connection
        )
        return row.dataset_id

    def _rows(
        self, connection: Connection, collection: str, box: tuple[float, float, float, float] | None
    ) -> list[Any]:
        query = select(
            features.c.feature_key, features.c.properties, features.c.geom, features.c.height
        ).where(features.c.collection_id == collection, features.c.geom.is_not(None))
        if box is not None:
            query = query.where(bbox_overlaps("features", features.c.id, features.c.geom, box))
        return list(connection.execute(query.order_by(features.c.id).limit(MAX_CELLS + 1)).all())

    def scene(self, caller: Caller, options: Options, *, with_people: bool = True) -> Scene:
        """The area of `options` in a metric CRS with its obstacles, sites and (`with_people`)
        districts and people; without people (the sensors' reach needs only the obstacles), a grid
        too fine for the area is coarsened rather than refused."""
        band = band_of(options)
        resolution = check_resolution(options.resolution)
        clock = time.perf_counter()
        profile = read_profile(self.engine)
        with self.engine.connect() as connection:
            used: set[str | None] = {self._collection(caller, connection, options.buildings, "buildings")}
            box = options.bbox
            if box is None:
                extent = connection.execute(
                    select(collections.c.extent_bbox).where(collections.c.id == options.buildings)
                ).scalar()
                if not extent:
                    rows = self._rows(connection, options.buildings, None)
                    if not rows:
                        raise BadRequest(
                            f"the buildings collection {options.buildings!r} is empty: give a bbox"
                        )
                    extent = shapely.total_bounds(shapely.from_wkb([r.geom for r in rows])).tolist()
                box = (float(extent[0]), float(extent[1]), float(extent[2]), float(extent[3]))
            crs = metric_crs(profile.crs, box)
            to_metric = Transformer.from_crs("EPSG:4326", crs, always_xy=True)
            to_lonlat = Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
            xs, ys = to_metric.transform([box[0], box[2], box[0], box[2]], [box[1], box[1], box[3], box[3]])
            bounds = (min(xs), min(ys), max(xs), max(ys))
            cells = math.ceil((bounds[2] - bounds[0]) / resolution) * math.ceil(
                (bounds[3] - bounds[1]) / resolution
            )
            if cells > MAX_CELLS and not with_people:
                resolution = math.sqrt((bounds[2] - bounds[0]) * (bounds[3] - bounds[1]) / MAX_CELLS) + 1e-6
            elif cells > MAX_CELLS:
                raise BadRequest(
                    f"the area at {resolution:g} m has {cells:,} cells, more than {MAX_CELLS:,}: "
                    "choose a smaller bbox or a coarser resolution"
                )
            grid = Grid.covering(bounds, resolution)
            # obstacles: the buildings in the area and a margin of the band's reach around it
            margin = min(band.reach_m(), 5_000.0)
            wide = (bounds[0] - margin, bounds[1] - margin, bounds[2] + margin, bounds[3] + margin)
            lon, lat = to_lonlat.transform([wide[0], wide[2]], [wide[1], wide[3]])
            wide_box = (min(lon), min(lat), max(lon), max(lat))
            building_rows = self._rows(connection, options.buildings, wide_box)
            # the obstacles at the grid's resolution, 5 m at most, but never more than 4 × MAX_CELLS
            fits = math.sqrt((wide[2] - wide[0]) * (wide[3] - wide[1]) / (4 * MAX_CELLS))
            obstacle_grid = Grid.covering(wide, max(min(resolution, 5.0), fits))
            footprints = self._project(to_metric, [r.geom for r in building_rows])
            heights = [
                r.height if r.height is not None and r.height > 0 else DEFAULT_BUILDING_M
                for r in building_rows
            ]
            buildings = [
                Building(f, h, str((r.properties or {}).get("building", "")) in RESIDENTIAL)
                for f, h, r in zip(footprints, heights, building_rows, strict=True)
            ]
            timings = {"read": time.perf_counter() - clock}
            clock = time.perf_counter()
            obstacles = Obstacles.of(obstacle_grid, footprints, heights)
            timings["obstacles"] = time.perf_counter() - clock
            districts: list[District] = []
            people = People(grid, np.zeros((grid.ny, grid.nx)), np.full((grid.ny, grid.nx), -1), [])
            if with_people:
                districts, district_dataset = self._districts(
                    caller, connection, options, profile, box, to_metric
                )
                used.add(district_dataset)
                clock = time.perf_counter()
                people = place_people(grid, districts, buildings)
                timings["people"] = time.perf_counter() - clock
            sites, shown = self._sites(caller, connection, band, options, wide_box, wide, to_metric)
            used |= shown
        return Scene(
            band,
            grid,
            obstacles,
            people,
            districts,
            sites,
            to_metric,
            to_lonlat,
            box,
            wide_box,
            used,
            timings,
        )

    def _project(self, to_metric: Transformer, wkbs: Sequence[bytes]) -> list[shapely.Geometry]:
        if not wkbs:
            return []
        geoms = shapely.from_wkb(list(wkbs))
        projected = shapely.transform(
            geoms, lambda c: np.column_stack(to_metric.transform(c[:, 0], c[:, 1])), interleaved=True
        )
        return list(projected)

    def _districts(
        self,
        caller: Caller,
        connection: Connection,
        options: Options,
        profile: Any,
        box: tuple[float, float, float, float],
        to_metric: Transformer,
    ) -> tuple[list[District], str | None]:
        chosen = (
            profile.districts_of(options.districts)
            if options.districts
            else next((d for d in profile.districts if d.population_property), None)
        )
        if options.districts and chosen is None:
            raise BadRequest(
                f"districts {options.districts!r} is not a district collection of the city profile; known: "
                + ", ".join(d.collection for d in profile.districts)
            )
        if chosen is None:
            return [], None
        dataset = self._collection(caller, connection, chosen.collection, "districts")
        rows = self._rows(connection, chosen.collection, box)
        polygons = self._project(to_metric, [r.geom for r in rows])
        out = []
        for row, polygon in zip(rows, polygons, strict=True):
            props = row.properties or {}
            years = [
                (year, key)
                for key in props
                if (year := chosen.population_year(key)) is not None and _number(props[key]) is not None
            ]
            population = float(props[max(years)[1]]) if years else 0.0
            name = str(props.get(chosen.name_property, row.feature_key))
            out.append(District(name, polygon, population))
        return out, dataset

    def _sites(
        self,
        caller: Caller,
        connection: Connection,
        band: Band,
        options: Options,
        box: tuple[float, float, float, float],
        wide: tuple[float, float, float, float],
        to_metric: Transformer,
    ) -> tuple[list[Transmitter], set[str | None]]:
        scope = self.access.scope(caller, connection)
        query = registry_query(scope.allows_column(collections.c.dataset_id))
        if options.registry:
            query = query.where(infrastructure_registries.c.collection_id.in_(options.registry))
        out: list[Transmitter] = []
        shown: set[str | None] = set()
        west, south, east, north = box
        for row in connection.execute(query):
            site = site_of(row)
            props = site["properties"]
            geometry = site["geometry"]
            if props.get("technology") != band.technology or not geometry:
                continue
            point = shapely.geometry.shape(geometry).representative_point()
            if not (west <= point.x <= east and south <= point.y <= north):
                continue
            x, y = to_metric.transform(point.x, point.y)
            if not (wide[0] <= x <= wide[2] and wide[1] <= y <= wide[3]):
                continue
            height = _number(props.get("height_m")) or band.antenna_m
            out.append(Transmitter(str(site["id"]), float(x), float(y), height))
            shown.add(row.dataset_id)
            if len(out) > MAX_POINTS:
                raise BadRequest(f"more than {MAX_POINTS:,} sites in the area: choose a smaller bbox")
        return out, shown

    # --- coverage -----------------------------------------------------------------------------------

    def _check_work(self, scene: Scene, transmitters: int) -> None:
        """400 when tracing `transmitters` sites over the grid would take more than MAX_SAMPLES ray
        samples: each site's cells within its reach, each ray as long as the reach at most."""
        reach = scene.band.reach_m()
        grid = scene.grid
        cells = min(float(grid.size), math.pi * reach**2 / grid.resolution**2)
        samples = (
            transmitters
            * cells
            * (2 * min(reach, math.hypot(*np.subtract(grid.bounds[2:], grid.bounds[:2]))) / 3)
        )
        samples /= scene.obstacles.grid.resolution
        if samples > MAX_SAMPLES:
            raise BadRequest(
                f"{transmitters} sites of {scene.band.id} (reach {reach:,.0f} m) over {grid.size:,} cells at "
                f"{grid.resolution:g} m is too much work for one request: choose a coarser resolution or a "
                "smaller bbox"
            )

    def coverage(
        self, caller: Caller, options: Options, map_: str = "none", calibrated: bool = False
    ) -> dict[str, Any]:
        """Covered area and population per district, with the gap map (`map_ = "gaps"`: the cells
        with people and no coverage) or the covered area (`"covered"`) as GeoJSON in WGS 84.
        `calibrated`: the band fitted to the measured RSSI of stored uplinks first, where there are
        any (`calibration` in the answer says what was fitted and the error)."""
        if map_ not in ("none", "gaps", "covered"):
            raise BadRequest(f"map must be none, gaps or covered, not {map_!r}")
        scene = self.scene(caller, options)
        self._check_work(scene, len(scene.sites))
        fit = self._measured(caller, scene) if calibrated else None
        if fit is not None:
            scene.band = scene.band.with_changes(exponent=fit.exponent, offset_db=fit.offset_db)
        clock = time.perf_counter()
        result = coverage(scene.grid, scene.obstacles, scene.band, scene.sites)
        scene.seconds["coverage"] = time.perf_counter() - clock
        self.access.record_read(caller, API, sorted(scene.datasets, key=str))
        document = self._summary(scene, result)
        if calibrated:
            document["calibration"] = fit.document() if fit is not None else None
        if map_ != "none":
            mask = result.covered if map_ == "covered" else (~result.covered & (scene.people.per_cell > 0))
            document["map"] = {
                "type": "Feature",
                "properties": {"map": map_},
                "geometry": self._cells(scene, mask),
            }
        return document

    def _summary(self, scene: Scene, result: Coverage) -> dict[str, Any]:
        grid = scene.grid
        covered = result.covered
        cell_km2 = grid.resolution**2 / 1e6
        people = scene.people.per_cell
        return {
            "band": scene.band.document(),
            "label": scene.band.label,
            "note": NOTE,
            "grid": {
                "resolution_m": grid.resolution,
                "cells": grid.size,
                "bbox": list(scene.bbox),
                "crs": scene.to_metric.target_crs.to_string() if scene.to_metric.target_crs else None,
            },
            "sites": len(scene.sites),
            "total": {
                "area_km2": round(grid.size * cell_km2, 4),
                "covered_area_km2": round(int(covered.sum()) * cell_km2, 4),
                "population_in_area": round(float(people.sum()), 1),
                "covered_population": round(float(people[covered].sum()), 1),
                "cells_with_one_site": int((result.servers == 1).sum()),
            },
            "districts": district_table(scene.districts, scene.people, covered),
            "seconds": {k: round(v, 3) for k, v in scene.seconds.items()},
        }

    def _merged(self, scene: Scene, mask: np.ndarray) -> shapely.Geometry | None:
        """The cells of the mask as one (multi)polygon in the metric CRS."""
        rows, cols = np.nonzero(mask)
        if not rows.size:
            return None
        if rows.size > MAX_MAP_CELLS:
            raise BadRequest(
                f"the map would have {rows.size:,} cells, more than {MAX_MAP_CELLS:,}: choose a coarser "
                "resolution or a smaller bbox for it"
            )
        return shapely.coverage_union_all(scene.grid.boxes(rows, cols))

    def _cells(self, scene: Scene, mask: np.ndarray) -> dict[str, Any] | None:
        merged = self._merged(scene, mask)
        if merged is None:
            return None
        lonlat = shapely.transform(
            merged, lambda c: np.column_stack(scene.to_lonlat.transform(c[:, 0], c[:, 1])), interleaved=True
        )
        return dict(geojson_of(shapely.set_precision(lonlat, 1e-7)))

    def store_coverage(
        self, caller: Caller, options: Options, calibrated: bool = False, title: str | None = None
    ) -> dict[str, Any]:
        """The coverage computed and stored as a scenario dataset `coverage-<id>`: one feature per
        district (its part of the area, with its row of the table), the gaps and the covered area;
        the access rules of what it derives from (`derived_rules`)."""
        self.access.require_writer(caller, "storing a coverage scenario")
        scene = self.scene(caller, options)
        self._check_work(scene, len(scene.sites))
        fit = self._measured(caller, scene) if calibrated else None
        if fit is not None:
            scene.band = scene.band.with_changes(exponent=fit.exponent, offset_db=fit.offset_db)
        result = coverage(scene.grid, scene.obstacles, scene.band, scene.sites)
        self.access.record_read(caller, API, sorted(scene.datasets, key=str))
        document = self._summary(scene, result)
        if calibrated:
            document["calibration"] = fit.document() if fit is not None else None
        gaps = self._merged(scene, ~result.covered & (scene.people.per_cell > 0))
        covered = self._merged(scene, result.covered)
        run = uuid.uuid4().hex[:12]
        ident = f"coverage-{run}"
        band = scene.band
        title = title or f"Coverage: {band.id} at {scene.grid.resolution:g} m"
        total = document["total"]
        description = (
            f"Model result: the coverage of {len(scene.sites)} {band.id} sites on a "
            f"{scene.grid.resolution:g} m grid with building obstruction, "
            f"{total['covered_population']:.0f} of "
            f"{total['population_in_area']:.0f} people and {total['covered_area_km2']:.2f} of "
            f"{total['area_km2']:.2f} km² covered; per district its covered people and area, the gaps "
            f"(people without coverage) and the covered area as features. {NOTE['en']}."
        )
        area = shapely.box(*scene.grid.bounds)
        rows: list[Row] = []

        def add(key: str, geometry: shapely.Geometry | None, properties: dict[str, Any]) -> None:
            if geometry is None or geometry.is_empty:
                return
            lonlat = shapely.transform(
                geometry,
                lambda c: np.column_stack(scene.to_lonlat.transform(c[:, 0], c[:, 1])),
                interleaved=True,
            )
            bounds = tuple(float(v) for v in lonlat.bounds)
            props = {**properties, "band": band.id, "model": True}
            rows.append(Row(key, props, shapely.to_wkb(lonlat), bounds, None, None, None))  # type: ignore[arg-type]

        table = {row["name"]: row for row in document["districts"]}
        for district in scene.districts:
            if district.name in table:
                part = shapely.intersection(district.polygon, area)
                add(f"district:{district.name}", part, {"layer": "district", **table[district.name]})
        for layer, geometry in (("gaps", gaps), ("covered", covered)):
            add(layer, geometry, {"layer": layer})
        with for_writes(self.engine).begin() as connection:
            create_dataset(
                connection,
                ident,
                title=title,
                description=description,
                keywords=["digital infrastructure", "coverage", "scenario", "model result"],
                update_frequency="NEVER",
                extra={
                    "model": True,
                    "kind": "coverage",
                    "derived_from": sorted(d for d in scene.datasets if d),
                    "run": run,
                    "submitted_by": caller.principal.name,
                    "created": datetime.now(UTC).isoformat(),
                    "parameters": {"band": document["band"], "grid": document["grid"]},
                    "total": total,
                    "calibration": document.get("calibration"),
                },
                **derived_rules(connection, scene.datasets),
            )
            store_rows_in(
                connection,
                rows,
                CollectionInfo(
                    ident, title, description, attribution="urbantwin coverage model", keywords=["coverage"]
                ),
                "EPSG:4326",
                progress=False,
            )
        document["scenario"] = {
            "id": ident,
            "links": {
                "items": f"/ogcapi/collections/{ident}/items",
                "catalogue": f"/catalog/datasets/{ident}",
            },
        }
        return document

    # --- siting --------------------------------------------------------------------------------------

    def siting(
        self,
        caller: Caller,
        options: Options,
        *,
        candidates: str,
        k: int,
        budget: float | None = None,
        cost_property: str | None = None,
        method: str = "greedy",
        time_limit: float = 60.0,
        store: bool = True,
        title: str | None = None,
    ) -> dict[str, Any]:
        """Choose up to `k` new sites among the points of the collection `candidates` to cover the
        most people not covered today; greedy, exact (HiGHS) or both (compared). Stored as a
        scenario dataset when `store`."""
        if method not in ("greedy", "exact", "both"):
            raise BadRequest(f"method must be greedy, exact or both, not {method!r}")
        if not 1 <= k <= MAX_K:
            raise BadRequest(f"k must be between 1 and {MAX_K}, not {k}")
        if method != "greedy" and k > MAX_EXACT_K:
            raise BadRequest(f"the exact programme is for k up to {MAX_EXACT_K}, not {k}: use method=greedy")
        if budget is not None and not (budget > 0 and math.isfinite(budget)):
            raise BadRequest(f"budget must be a positive number, not {budget}")
        if not 0 < time_limit <= 600:
            raise BadRequest(f"time_limit must be between 0 and 600 s, not {time_limit}")
        if store:
            self.access.require_writer(caller, "storing a siting scenario")
        scene = self.scene(caller, options)
        with self.engine.connect() as connection:
            candidates_dataset = self._collection(caller, connection, candidates, "candidates")
            # candidates outside the area may cover it: those within the band's reach count
            rows = self._rows(connection, candidates, scene.reach_bbox)
        if len(rows) > MAX_POINTS:
            raise BadRequest(f"more than {MAX_POINTS:,} candidates in the area: choose a smaller bbox")
        if not rows:
            raise BadRequest(f"the candidates collection {candidates!r} has no features in the area")
        self._check_work(scene, len(scene.sites) + len(rows))
        clock = time.perf_counter()
        today = coverage(scene.grid, scene.obstacles, scene.band, scene.sites)
        scene.seconds["coverage"] = time.perf_counter() - clock
        points = shapely.point_on_surface(shapely.from_wkb([r.geom for r in rows]))
        xs, ys = scene.to_metric.transform(shapely.get_x(points), shapely.get_y(points))
        costs = None
        if cost_property:
            costs = []
            for row in rows:
                value = _number((row.properties or {}).get(cost_property))
                if value is None or value <= 0:
                    raise BadRequest(
                        f"candidate {row.feature_key!r}: {cost_property} must be a positive number, "
                        f"not {(row.properties or {}).get(cost_property)!r}"
                    )
                costs.append(value)
        weight = np.where(today.covered, 0.0, scene.people.per_cell)
        wanted = weight > 0
        clock = time.perf_counter()
        covers = []
        for row, x, y in zip(rows, xs, ys, strict=True):
            height = _number((row.properties or {}).get("height_m")) or scene.band.antenna_m
            site = Transmitter(row.feature_key, x, y, height)
            r, c, power = site_power(scene.grid, scene.obstacles, scene.band, site, wanted)
            ok = power >= scene.band.threshold_dbm
            covers.append(r[ok] * scene.grid.nx + c[ok])
        scene.seconds["candidates"] = time.perf_counter() - clock
        clock = time.perf_counter()
        try:
            problem = siting.Problem.of(covers, weight, costs)
        except ValueError as exc:
            raise BadRequest(str(exc)) from None
        scene.seconds["problem"] = time.perf_counter() - clock
        choices: dict[str, siting.Choice] = {}
        if method in ("greedy", "both"):
            choices["greedy"] = siting.greedy(problem, k, budget)
        if method in ("exact", "both"):
            # the exact programme starts from the greedy's choice where there is one
            start = choices["greedy"].chosen if "greedy" in choices else None
            choices["exact"] = siting.exact(problem, k, budget, time_limit=time_limit, start=start)
        best = choices.get("exact") if method == "exact" else choices["greedy"]
        assert best is not None
        uncovered = float(weight.sum())
        results = {
            name: {
                "method": name,
                "label": SITING_METHODS[name],
                "value": round(c.value, 1),
                "share_of_uncovered": round(c.value / uncovered, 4) if uncovered else None,
                "cost": c.cost,
                "seconds": round(c.seconds, 3),
                "optimal": c.optimal,
                "bound": None if c.bound is None else round(c.bound, 1),
                "sites": [
                    {
                        "rank": rank + 1,
                        "candidate": rows[i].feature_key,
                        "gain_people": round(gain, 1),
                        "geometry": geojson_of(points[i]),
                    }
                    for rank, (i, gain) in enumerate(zip(c.chosen, c.gains, strict=True))
                ],
                **({"notes": c.notes} if c.notes else {}),
            }
            for name, c in choices.items()
        }
        document: dict[str, Any] = {
            **self._summary(scene, today),
            "candidates": {
                "collection": candidates,
                "count": len(rows),
                "elements": int(problem.weights.size),
            },
            "k": k,
            "budget": budget,
            "uncovered_population": round(uncovered, 1),
            "results": results,
        }
        if "greedy" in choices and "exact" in choices and choices["exact"].value > 0:
            document["greedy_to_exact"] = round(choices["greedy"].value / choices["exact"].value, 4)
        document["guarantee"] = {
            "greedy": round(siting.GREEDY_GUARANTEE, 4)
            if budget is None
            else round(siting.GREEDY_GUARANTEE / 2, 4),
            "source": "Nemhauser, Wolsey, Fisher 1978" if budget is None else "Khuller, Moss, Naor 1999",
        }
        self.access.record_read(caller, API, sorted(scene.datasets | {candidates_dataset}, key=str))
        if store:
            sources = scene.datasets | {candidates_dataset}
            document["scenario"] = self._store(
                caller, document, results[best.method], candidates_dataset, sources, title
            )
        return document

    def _store(
        self,
        caller: Caller,
        document: dict[str, Any],
        result: dict[str, Any],
        candidates_dataset: str | None,
        sources: set[str | None],
        title: str | None,
    ) -> dict[str, Any]:
        run = uuid.uuid4().hex[:12]
        ident = f"siting-{run}"
        band = document["band"]
        title = title or f"Siting: {result['method']} k={document['k']} in {band['id']}"
        description = (
            f"Model result: {len(result['sites'])} new {band['id']} sites chosen among "
            f"{document['candidates']['count']} candidates of {document['candidates']['collection']} to "
            f"cover {result['value']:.0f} of {document['uncovered_population']:.0f} people not covered "
            f"(method {result['method']}, grid {document['grid']['resolution_m']:g} m). {NOTE['en']}."
        )
        with for_writes(self.engine).begin() as connection:
            if candidates_dataset is not None:
                self.access.authorize_write(caller, connection, candidates_dataset)
            rules = derived_rules(connection, sources)
            create_dataset(
                connection,
                ident,
                title=title,
                description=description,
                keywords=["digital infrastructure", "siting", "scenario", "model result"],
                update_frequency="NEVER",
                extra={
                    "model": True,
                    "kind": "siting",
                    "derived_from": candidates_dataset,
                    "run": run,
                    "submitted_by": caller.principal.name,
                    "created": datetime.now(UTC).isoformat(),
                    "parameters": {
                        "band": band,
                        "grid": document["grid"],
                        "k": document["k"],
                        "budget": document["budget"],
                        "candidates": document["candidates"],
                    },
                    "results": {
                        name: {key: value for key, value in r.items() if key != "sites"}
                        for name, r in document["results"].items()
                    },
                    "uncovered_population": document["uncovered_population"],
                },
                **rules,
            )
            rows = []
            for site in result["sites"]:
                geometry = shapely.geometry.shape(site["geometry"])
                properties = {
                    "rank": site["rank"],
                    "candidate": site["candidate"],
                    "gain_people": site["gain_people"],
                    "band": band["id"],
                    "method": result["method"],
                    "model": True,
                }
                rows.append(
                    Row(
                        site["candidate"],
                        properties,
                        shapely.to_wkb(geometry),
                        tuple(float(v) for v in geometry.bounds),  # type: ignore[arg-type]
                        None,
                        None,
                        None,
                    )
                )
            store_rows_in(
                connection,
                rows,
                CollectionInfo(
                    ident, title, description, attribution="urbantwin coverage model", keywords=["siting"]
                ),
                "EPSG:4326",
                progress=False,
            )
        return {
            "id": ident,
            "links": {
                "items": f"/ogcapi/collections/{ident}/items",
                "catalogue": f"/catalog/datasets/{ident}",
            },
        }

    # --- stored siting scenarios ------------------------------------------------------------------------

    def scenarios(self, caller: Caller) -> list[dict[str, Any]]:
        """The stored siting scenarios the caller may read, newest first, without their sites."""
        with self.engine.connect() as connection:
            scope = self.access.scope(caller, connection)
            query = select(datasets.c.id, datasets.c.title, datasets.c.extra, datasets.c.created).where(
                datasets.c.id.like("siting-%")
            )
            condition = scope.allows_column(datasets.c.id)
            if condition is not None:
                query = query.where(condition)
            rows = [r for r in connection.execute(query) if (r.extra or {}).get("kind") == "siting"]
        rows.sort(key=lambda r: (r.created, r.id), reverse=True)
        self.access.record_read(caller, API, [r.id for r in rows])
        return [self._scenario(r) for r in rows]

    def scenario(self, caller: Caller, ident: str) -> dict[str, Any]:
        """One stored siting scenario with its chosen sites; 404 for one unknown or not readable."""
        with self.engine.connect() as connection:
            row = connection.execute(
                select(datasets.c.id, datasets.c.title, datasets.c.extra, datasets.c.created).where(
                    datasets.c.id == ident
                )
            ).first()
            if row is None or (row.extra or {}).get("kind") != "siting":
                raise NotFound(f"no siting scenario {ident!r}")
            self.access.require_readable(caller, row.id, f"siting scenario {ident!r}", API, connection)
            sites = connection.execute(
                select(features.c.properties, features.c.geom)
                .where(features.c.collection_id == ident)
                .order_by(features.c.id)
            ).all()
        document = self._scenario(row)
        found = [{**(s.properties or {}), "geometry": geojson_of(shapely.from_wkb(s.geom))} for s in sites]
        document["sites"] = sorted(found, key=lambda site: int(site.get("rank", 0)))
        return document

    def _scenario(self, row: Any) -> dict[str, Any]:
        extra = dict(row.extra or {})
        return {
            "id": row.id,
            "title": row.title,
            "created": extra.get("created"),
            "submitted_by": extra.get("submitted_by"),
            "parameters": extra.get("parameters"),
            "results": extra.get("results"),
            "uncovered_population": extra.get("uncovered_population"),
            "note": NOTE,
            "links": {
                "items": f"/ogcapi/collections/{row.id}/items",
                "catalogue": f"/catalog/datasets/{row.id}",
            },
        }

    # --- which sensors reach which gateways (model) ------------------------------------------------------

    def reach(self, caller: Caller, options: Options, sensors: str) -> dict[str, Any]:
        """Per sensor (a point of the collection `sensors`), the gateway sites whose predicted received
        power reaches the band's threshold, with the margin; sensors with one gateway in reach are
        flagged, and where LoRaWAN uplinks were heard, the measured RSSI is set beside the prediction
        (with the calibration error)."""
        band = band_of(options if options.band or options.technology else Options(band="lora-868"))
        options = Options(
            band=band.id,
            resolution=options.resolution,
            bbox=options.bbox,
            buildings=options.buildings,
            districts=options.districts,
            registry=options.registry,
        )
        with self.engine.connect() as connection:
            dataset = self._collection(caller, connection, sensors, "sensors")
            rows = self._rows(connection, sensors, options.bbox)
        if len(rows) > MAX_POINTS:
            raise BadRequest(f"more than {MAX_POINTS:,} sensors: choose a bbox")
        if not rows:
            raise BadRequest(f"the sensors collection {sensors!r} has no features in the area")
        points = shapely.point_on_surface(shapely.from_wkb([r.geom for r in rows]))
        if options.bbox is None:
            west, south, east, north = shapely.total_bounds(points).tolist()
            pad = 0.001
            options = Options(
                band=band.id,
                resolution=options.resolution,
                bbox=(west - pad, south - pad, east + pad, north + pad),
                buildings=options.buildings,
                districts=options.districts,
                registry=options.registry,
            )
        scene = self.scene(caller, options, with_people=False)
        xs, ys = scene.to_metric.transform(shapely.get_x(points), shapely.get_y(points))
        xs, ys = np.asarray(xs), np.asarray(ys)
        power = np.full((len(rows), len(scene.sites)), -np.inf)
        distance = np.zeros((len(rows), len(scene.sites)))
        walls = np.zeros((len(rows), len(scene.sites)), dtype=np.int64)
        reach = band.reach_m()
        # only the sensors within a site's reach are traced from it, each ray as long as that at most
        near = [np.flatnonzero(np.hypot(xs - site.x, ys - site.y) <= reach) for site in scene.sites]
        samples = sum(len(n) for n in near) * reach / scene.obstacles.grid.resolution
        if samples > MAX_SAMPLES:
            raise BadRequest(
                f"{len(rows):,} sensors and {len(scene.sites):,} sites of {band.id} are too much work "
                "for one request: choose a bbox"
            )
        for j, site in enumerate(scene.sites):
            if not near[j].size:
                continue
            rays = trace(
                scene.obstacles, (site.x, site.y), site.height_m, xs[near[j]], ys[near[j]], band.receiver_m
            )
            power[near[j], j] = band.received(rays.distance, rays.walls, rays.inside_m)
            distance[near[j], j] = rays.distance
            walls[near[j], j] = rays.walls
        out = []
        for i, row in enumerate(rows):
            reached = [
                {
                    "site": scene.sites[j].id,
                    "predicted_dbm": round(float(power[i, j]), 1),
                    "margin_db": round(float(power[i, j] - band.threshold_dbm), 1),
                    "distance_m": round(float(distance[i, j]), 1),
                    "walls": int(walls[i, j]),
                }
                for j in np.argsort(-power[i])
                if power[i, j] >= band.threshold_dbm
            ]
            out.append(
                {
                    "sensor": row.feature_key,
                    "gateways": reached,
                    "redundant": len(reached) > 1,
                    "single_gateway": len(reached) == 1,
                    "no_gateway": not reached,
                }
            )
        self.access.record_read(caller, API, sorted(scene.datasets | {dataset}, key=str))
        fit = self._measured(caller, scene)
        return {
            "band": band.document(),
            "note": NOTE,
            "sensors": out,
            "single_gateway": [s["sensor"] for s in out if s["single_gateway"]],
            "no_gateway": [s["sensor"] for s in out if s["no_gateway"]],
            "calibration": fit.document() if fit is not None else None,
        }

    def _measured(self, caller: Caller, scene: Scene) -> Calibration | None:
        """The model against the RSSI of stored uplinks whose device has a Location (its Thing's) and
        whose gateway a site of the area: the pairs, the error before and the fit (`radio.calibrate`)."""
        sites = {s.id.rsplit("/", 1)[-1].upper(): s for s in scene.sites}
        with self.engine.connect() as connection:
            scope = self.access.scope(caller, connection)
            query = (
                select(lorawan_receptions.c.gateway_id, lorawan_receptions.c.rssi, locations.c.geom)
                .join(lorawan_streams, lorawan_streams.c.dev_eui == lorawan_receptions.c.dev_eui)
                .join(datastreams, datastreams.c.id == lorawan_streams.c.datastream_id)
                .join(thing_locations, thing_locations.c.thing_id == datastreams.c.thing_id)
                .join(locations, locations.c.id == thing_locations.c.location_id)
                .where(lorawan_receptions.c.rssi.is_not(None), locations.c.geom.is_not(None))
                .distinct()
                .limit(MAX_POINTS)
            )
            condition = scope.allows_column(datastreams.c.dataset_id)
            if condition is not None:
                query = query.where(condition)
            rows = [r for r in connection.execute(query) if r.gateway_id.upper() in sites]
        if not rows:
            return None
        points = shapely.point_on_surface(shapely.from_wkb([r.geom for r in rows]))
        xs, ys = scene.to_metric.transform(shapely.get_x(points), shapely.get_y(points))
        d, walls, inside = [], [], []
        for r, x, y in zip(rows, xs, ys, strict=True):
            site = sites[r.gateway_id.upper()]
            rays = trace(
                scene.obstacles,
                (site.x, site.y),
                site.height_m,
                np.array([x]),
                np.array([y]),
                scene.band.receiver_m,
            )
            d.append(rays.distance[0])
            walls.append(rays.walls[0])
            inside.append(rays.inside_m[0])
        return calibrate(scene.band, d, walls, inside, [r.rssi for r in rows])


def derived_rules(connection: Connection, sources: set[str | None]) -> dict[str, Any]:
    """The access rules of a result derived from the datasets `sources` (sites, buildings,
    districts, candidates): theirs where they all share one rule; else internal, readable by no
    group (the administrators, and the writers all of them share) — a result is never more open
    than what it derives from. The licence is theirs where they share one."""
    rows = connection.execute(select(datasets).where(datasets.c.id.in_([s for s in sources if s]))).all()
    if not rows:
        return {}
    rules = {
        (r.access_level, tuple(sorted(r.read_groups or [])), tuple(sorted(r.writers or []))) for r in rows
    }
    licences = {r.licence for r in rows}
    all_open = all(r.access_level == "open" for r in rows)
    licence = licences.pop() if len(licences) == 1 else ("other-open" if all_open else "other-closed")
    if len(rules) == 1:
        level, groups, writers = rules.pop()
        return {
            "access_level": level,
            "read_groups": list(groups),
            "writers": list(writers),
            "licence": licence,
        }
    shared = set.intersection(*(set(r.writers or []) for r in rows))
    return {"access_level": "internal", "read_groups": [], "writers": sorted(shared), "licence": licence}


def options_of(
    *,
    band: str | None = None,
    technology: str | None = None,
    resolution: float = 10.0,
    bbox: str | Sequence[float] | None = None,
    buildings: str | None = None,
    districts: str | None = None,
    registry: Sequence[str] | None = None,
) -> Options:
    """The options of a request, checked (400 naming what is wrong)."""
    for name, value in (
        ("buildings", buildings),
        ("districts", districts),
        ("band", band),
        ("technology", technology),
    ):
        if value is not None and not isinstance(value, str):
            raise BadRequest(f"{name} must be a text, not {value!r}")
    if registry is not None and not all(isinstance(r, str) for r in registry):
        raise BadRequest(f"registry must be a list of registry ids (texts), not {registry!r}")
    box: tuple[float, float, float, float] | None = None
    if isinstance(bbox, str):
        box = parse_bbox(bbox)
    elif bbox is not None:
        box = parse_bbox(",".join(str(v) for v in bbox))
    if box is not None and (box[0] == box[2] or box[1] == box[3]):
        raise BadRequest("bbox must have an area")
    options = Options(
        band=band,
        technology=technology,
        resolution=check_resolution(float(resolution)),
        bbox=box,
        buildings=buildings or "buildings",
        districts=districts,
        registry=tuple(registry or ()),
    )
    band_of(options)
    return options


#: The keys of a siting request's body and their types.
_SITING_KEYS: dict[str, tuple[type, ...]] = {
    "band": (str,),
    "technology": (str,),
    "resolution": (int, float),
    "bbox": (list, str),
    "buildings": (str,),
    "districts": (str,),
    "registry": (list,),
    "candidates": (str,),
    "k": (int,),
    "budget": (int, float),
    "cost_property": (str,),
    "method": (str,),
    "time_limit": (int, float),
    "store": (bool,),
    "title": (str,),
}


#: The keys of a stored coverage request's body.
_COVERAGE_KEYS = {
    key: _SITING_KEYS[key]
    for key in ("band", "technology", "resolution", "bbox", "buildings", "districts", "registry", "title")
} | {"calibrated": (bool,)}


def _check_keys(body: Any, known: dict[str, tuple[type, ...]], example: str) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise BadRequest(f"the body must be a JSON object, e.g. {example}")
    for key, value in body.items():
        if key not in known:
            raise BadRequest(f"unknown key {key!r}; known: {', '.join(known)}")
        types = known[key]
        if value is not None and (
            not isinstance(value, types) or (isinstance(value, bool) and bool not in types)
        ):
            raise BadRequest(f"{key} must be {' or '.join(t.__name__ for t in types)}, not {value!r}")
    return body


def coverage_request(body: Any) -> tuple[Options, dict[str, Any]]:
    """A stored coverage request's JSON body as options and the arguments of
    `CoveragePlanner.store_coverage`."""
    body = _check_keys(body, _COVERAGE_KEYS, '{"technology": "wlan", "resolution": 10}')
    options = options_of(
        band=body.get("band"),
        technology=body.get("technology"),
        resolution=body.get("resolution") or 10.0,
        bbox=body.get("bbox"),
        buildings=body.get("buildings"),
        districts=body.get("districts"),
        registry=body.get("registry"),
    )
    return options, {"calibrated": bool(body.get("calibrated")), "title": body.get("title")}


def siting_request(body: Any) -> tuple[Options, dict[str, Any]]:
    """A siting request's JSON body as options and the arguments of `CoveragePlanner.siting`."""
    body = _check_keys(body, _SITING_KEYS, '{"candidates": "stops", "k": 20, "technology": "wlan"}')
    if not body.get("candidates"):
        raise BadRequest("candidates: name the collection of candidate carriers (points)")
    if body.get("k") is None:
        raise BadRequest("k: the number of new sites to choose")
    options = options_of(
        band=body.get("band"),
        technology=body.get("technology"),
        resolution=body.get("resolution") or 10.0,
        bbox=body.get("bbox"),
        buildings=body.get("buildings"),
        districts=body.get("districts"),
        registry=body.get("registry"),
    )
    arguments = {
        "candidates": body["candidates"],
        "k": body["k"],
        "budget": body.get("budget"),
        "cost_property": body.get("cost_property"),
        "method": body.get("method") or "greedy",
        "time_limit": float(body.get("time_limit") or 60.0),
        "store": body.get("store", True) is not False,
        "title": body.get("title"),
    }
    return options, arguments
